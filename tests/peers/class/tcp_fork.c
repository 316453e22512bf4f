/*
 * A student's TCP server in C: fork() per client, one read() into a
 * 1,024-byte buffer, toupper() on each byte (ASCII only), write(), close.
 * Bound to 127.0.0.1 on a free port; the ready line on stdout, flushed.
 *
 * Build: gcc -o tcp_fork tests/peers/class/tcp_fork.c
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    signal(SIGCHLD, SIG_IGN); /* no zombies */
    int serverSocket = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    bind(serverSocket, (struct sockaddr *)&address, sizeof address);
    listen(serverSocket, 5);
    socklen_t length = sizeof address;
    getsockname(serverSocket, (struct sockaddr *)&address, &length);
    printf("The server is ready to receive on 127.0.0.1:%d\n",
           ntohs(address.sin_port));
    fflush(stdout);
    for (;;) {
        int connectionSocket = accept(serverSocket, NULL, NULL);
        if (connectionSocket < 0) continue;
        if (fork() == 0) {
            char buffer[1024];
            ssize_t count = read(connectionSocket, buffer, sizeof buffer);
            for (ssize_t i = 0; i < count; i++) {
                buffer[i] = (char)toupper((unsigned char)buffer[i]);
            }
            if (count > 0) write(connectionSocket, buffer, (size_t)count);
            close(connectionSocket);
            _exit(0);
        }
        close(connectionSocket);
    }
}
