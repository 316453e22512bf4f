/* A correct UDP Pinger client in C: ten pings "Ping SEQ TIME" (TIME in
 * seconds since 1970, to the microsecond), a 1 s timeout for each
 * (SO_RCVTIMEO, what is left of it after a stray reply), RTTs in ms, then
 * the statistics as ping prints them.
 *
 * Usage: gcc -o pinger_ok pinger_ok.c && ./pinger_ok PORT
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static double now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in server = {0};
    server.sin_family = AF_INET;
    server.sin_port = htons(atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    double min = 1e9, max = 0, sum = 0;
    int received = 0;
    for (int seq = 1; seq <= 10; seq++) {
        char message[64], reply[1025], expected[32];
        double sent = now();
        snprintf(message, sizeof message, "Ping %d %.6f", seq, sent);
        snprintf(expected, sizeof expected, "PING %d ", seq);
        sendto(fd, message, strlen(message), 0, (struct sockaddr *)&server, sizeof server);
        int answered = 0;
        for (;;) {
            double left = 1.0 - (now() - sent);
            if (left <= 0) break;
            struct timeval tv = {(long)left, (long)((left - (long)left) * 1e6) + 1};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ssize_t n = recv(fd, reply, sizeof reply - 1, 0);
            if (n < 0) break;
            reply[n] = '\0';
            if (strncmp(reply, expected, strlen(expected)) == 0) {
                answered = 1;
                break;
            }
        }
        if (answered) {
            double rtt = (now() - sent) * 1000;
            received++;
            sum += rtt;
            if (rtt < min) min = rtt;
            if (rtt > max) max = rtt;
            printf("%s rtt=%.3f ms\n", reply, rtt);
        } else {
            printf("Request timed out\n");
        }
    }
    close(fd);
    printf("10 packets transmitted, %d received, %d%% packet loss\n", received, (10 - received) * 10);
    if (received > 0) printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", min, sum / received, max);
    return 0;
}
