/* A UDP client in C as a student writes it: one reply buffer for every
 * sentence, never cleared, printed as a C string. A reply shorter than the
 * one before prints with the earlier reply's tail ("A SECOND ONEHE GRADER");
 * no timeout; fgets cuts a line at 2,047 bytes.
 *
 * Usage: udp_reply_not_cleared PORT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in server;
    memset(&server, 0, sizeof(server));
    server.sin_family = AF_INET;
    server.sin_port = htons(atoi(argv[1]));
    server.sin_addr.s_addr = inet_addr("127.0.0.1");
    char sentence[2048];
    char reply[2048];
    memset(reply, 0, sizeof(reply));
    printf("Input lowercase sentence: ");
    while (fgets(sentence, sizeof(sentence), stdin) != NULL) {
        sentence[strcspn(sentence, "\n")] = '\0';
        sendto(sock, sentence, strlen(sentence), 0,
               (struct sockaddr *)&server, sizeof(server));
        recvfrom(sock, reply, sizeof(reply) - 1, 0, NULL, NULL);
        printf("From Server: %s\n", reply);
        printf("Input lowercase sentence: ");
    }
    close(sock);
    return 0;
}
