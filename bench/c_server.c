/*
 * c_server.c: the reference the benchmark compares against, an epoll
 * upper-case server in C (ASCII only, no limits, no timeouts).
 *
 *   c_server tcp   serves TCP on 127.0.0.1, a free port
 *   c_server udp   serves UDP on 127.0.0.1, a free port
 *
 * Prints "The server is ready to receive on 127.0.0.1:PORT" like ours.
 *
 * Build: cc -O2 -o c_server c_server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void upper(char *p, ssize_t n) {
  for (ssize_t i = 0; i < n; i++) {
    if (p[i] >= 'a' && p[i] <= 'z') p[i] -= 32;
  }
}

static int bind_any(int type, struct sockaddr_in *addr) {
  int fd = socket(AF_INET, type, 0);
  addr->sin_family = AF_INET;
  addr->sin_port = 0;
  inet_pton(AF_INET, "127.0.0.1", &addr->sin_addr);
  if (bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0) {
    perror("bind");
    exit(1);
  }
  socklen_t len = sizeof *addr;
  getsockname(fd, (struct sockaddr *)addr, &len);
  return fd;
}

static void serve_udp(void) {
  struct sockaddr_in addr;
  int fd = bind_any(SOCK_DGRAM, &addr);
  printf("The server is ready to receive on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  static char buf[65536];
  for (;;) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    if (n < 0) continue;
    upper(buf, n);
    sendto(fd, buf, n, 0, (struct sockaddr *)&from, len);
  }
}

static void serve_tcp(void) {
  struct sockaddr_in addr;
  int listener = bind_any(SOCK_STREAM, &addr);
  listen(listener, 4096);
  printf("The server is ready to receive on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
  static char buf[65536];
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int conn = accept4(listener, NULL, NULL, 0);
        if (conn < 0) continue;
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = conn};
        epoll_ctl(epfd, EPOLL_CTL_ADD, conn, &cev);
        continue;
      }
      /* Blocking sockets: a write waits for the client, as backpressure. */
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        close(fd);
        continue;
      }
      upper(buf, r);
      for (ssize_t sent = 0; sent < r;) {
        ssize_t w = write(fd, buf + sent, r - sent);
        if (w <= 0) break;
        sent += w;
      }
    }
  }
}

int main(int argc, char **argv) {
  /* A client that closes with replies unread must not end the server. */
  signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && strcmp(argv[1], "tcp") == 0) serve_tcp();
  if (argc == 2 && strcmp(argv[1], "udp") == 0) serve_udp();
  fprintf(stderr, "usage: c_server tcp|udp\n");
  return 2;
}
