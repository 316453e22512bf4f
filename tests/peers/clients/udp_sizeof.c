/* UDPClient in C that sends its whole buffer, sizeof(sentence) bytes,
 * not the line typed: the sentence, its newline, then NULs.
 * Usage: udp_sizeof PORT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char sentence[1024] = {0};
  char reply[2048];
  struct sockaddr_in server = {0};
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  server.sin_family = AF_INET;
  server.sin_port = htons(atoi(argv[1]));
  inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
  printf("Input lowercase sentence:");
  if (fgets(sentence, sizeof sentence, stdin) == NULL) return 1;
  sendto(s, sentence, sizeof sentence, 0, (struct sockaddr *)&server,
         sizeof server);
  ssize_t n = recvfrom(s, reply, sizeof reply - 1, 0, NULL, NULL);
  if (n < 0) return 1;
  reply[n] = '\0';
  printf("%s\n", reply);
  close(s);
  return 0;
}
