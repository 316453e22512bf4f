/* A right TCP client in C: every line (any length) on a connection of its
 * own to localhost (IPv6 or IPv4), sent with a newline, the reply read to
 * its newline and printed.
 * Usage: tcp_lines PORT */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connectTo(const char *port) {
  struct addrinfo hints = {0}, *found, *a;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo("localhost", port, &hints, &found) != 0) return -1;
  int s = -1;
  for (a = found; a != NULL; a = a->ai_next) {
    s = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (s >= 0 && connect(s, a->ai_addr, a->ai_addrlen) == 0) break;
    if (s >= 0) close(s);
    s = -1;
  }
  freeaddrinfo(found);
  return s;
}

int main(int argc, char **argv) {
  char *line = NULL;
  size_t size = 0;
  ssize_t length;
  while ((length = getline(&line, &size, stdin)) > 0) {
    if (line[length - 1] != '\n') line[length++] = '\n';
    int s = connectTo(argv[1]);
    if (s < 0) {
      fprintf(stderr, "cannot connect to localhost port %s\n", argv[1]);
      return 1;
    }
    for (ssize_t sent = 0; sent < length;) {
      ssize_t n = send(s, line + sent, length - sent, 0);
      if (n <= 0) return 1;
      sent += n;
    }
    char c;
    while (recv(s, &c, 1, 0) == 1) {
      putchar(c);
      if (c == '\n') break;
    }
    fflush(stdout);
    close(s);
  }
  free(line);
  return 0;
}
