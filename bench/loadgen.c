/*
 * loadgen.c: a closed-loop load generator for upper-case servers, in C so
 * that it costs the machine less than the server it measures.
 *
 *   loadgen once     HOST PORT CLIENTS SECONDS  one sentence per TCP connection
 *   loadgen pingpong HOST PORT CLIENTS SECONDS  a line at a time on kept connections
 *   loadgen stream   HOST PORT MIB              MIB of text through one connection
 *   loadgen udp      HOST PORT OUTSTANDING SECONDS
 *   loadgen idle     HOST PORT COUNT            holds COUNT silent connections
 *                                               until standard input closes
 *
 * Every reply is checked against the upper-cased request. Prints one JSON
 * line: operations, rate, errors, latency percentiles, clients served and
 * this process's own CPU seconds. IPv4 only; meant for loopback.
 *
 * Build: cc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 4000000
#define MSG_MAX 64

static struct sockaddr_in server;
static uint32_t *samples;
static size_t sample_count;
static long errors;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void record(double seconds) {
  if (sample_count < MAX_SAMPLES) samples[sample_count++] = (uint32_t)(seconds * 1e6);
}

static int compare_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t percentile(double p) {
  if (sample_count == 0) return 0;
  size_t i = (size_t)(p * (sample_count - 1));
  return samples[i];
}

static void upper(char *dst, const char *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = src[i];
    dst[i] = c >= 'a' && c <= 'z' ? c - 32 : c;
  }
}

static void report(const char *mode, long ops, double seconds, double rate,
                   long served, long clients, double cpu) {
  qsort(samples, sample_count, sizeof *samples, compare_u32);
  printf("{\"mode\":\"%s\",\"ops\":%ld,\"seconds\":%.3f,\"rate\":%.1f,"
         "\"errors\":%ld,\"p50_us\":%u,\"p99_us\":%u,\"served\":%ld,"
         "\"clients\":%ld,\"cpu_s\":%.3f}\n",
         mode, ops, seconds, rate, errors, percentile(0.5), percentile(0.99),
         served, clients, cpu);
}

static int tcp_socket(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* One TCP client of the once and pingpong modes. */
struct client {
  int fd;
  int index;
  int connected;
  char request[MSG_MAX], expected[MSG_MAX], reply[MSG_MAX];
  size_t length, sent, received;
  double started;
  long served;
};

static void client_start(int epfd, struct client *c, int connect_again) {
  if (connect_again) {
    c->fd = tcp_socket();
    c->connected = 0;
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 &&
        errno != EINPROGRESS) {
      errors++;
    }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  }
  c->sent = 0;
  c->received = 0;
  c->started = now_s();
}

static void client_send(struct client *c) {
  while (c->sent < c->length) {
    ssize_t n = write(c->fd, c->request + c->sent, c->length - c->sent);
    if (n < 0) {
      if (errno != EAGAIN) errors++;
      return;
    }
    c->sent += n;
  }
}

/* Handles readiness; returns 1 when a reply is complete and correct. */
static int client_event(struct client *c, uint32_t events) {
  if (!c->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return -1;
    c->connected = 1;
  }
  if (c->connected && c->sent < c->length) client_send(c);
  if (events & EPOLLIN) {
    for (;;) {
      ssize_t n = read(c->fd, c->reply + c->received, MSG_MAX - c->received);
      if (n < 0) return errno == EAGAIN ? 0 : -1;
      if (n == 0) return -1;
      c->received += n;
      if (c->received >= c->length) {
        return memcmp(c->reply, c->expected, c->length) == 0 ? 1 : -1;
      }
    }
  }
  return 0;
}

static int run_tcp_clients(int keep, int clients, double seconds) {
  int epfd = epoll_create1(0);
  struct client *all = calloc(clients, sizeof *all);
  for (int i = 0; i < clients; i++) {
    struct client *c = &all[i];
    c->index = i;
    c->length = snprintf(c->request, MSG_MAX, "hello from client %d\n", i);
    upper(c->expected, c->request, c->length);
    client_start(epfd, c, 1);
  }
  long ops = 0;
  double start = now_s(), cpu0 = cpu_s(), end = start + seconds;
  struct epoll_event events[256];
  while (now_s() < end) {
    int n = epoll_wait(epfd, events, 256, 100);
    for (int i = 0; i < n; i++) {
      struct client *c = events[i].data.ptr;
      int done = client_event(c, events[i].events);
      if (done == 0) continue;
      if (done == 1) {
        ops++;
        c->served++;
        record(now_s() - c->started);
      } else {
        errors++;
      }
      if (keep && done == 1) {
        /* Same connection, next line; stop asking for EPOLLOUT. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        client_start(epfd, c, 0);
        client_send(c);
      } else {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        client_start(epfd, c, 1);
      }
    }
  }
  double elapsed = now_s() - start;
  long served = 0;
  for (int i = 0; i < clients; i++) served += all[i].served > 0;
  report(keep ? "pingpong" : "once", ops, elapsed, ops / elapsed, served, clients,
         cpu_s() - cpu0);
  return 0;
}

static int run_stream(double mib) {
  size_t total = (size_t)(mib * 1024 * 1024);
  static const char pattern[] = "the quick brown fox jumps over the lazy dog 0123456789\n";
  const size_t plen = sizeof pattern - 1;
  char expected[sizeof pattern];
  upper(expected, pattern, plen);
  char out[65536], in[65536];
  for (size_t i = 0; i < sizeof out; i++) out[i] = pattern[i % plen];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0) {
    perror("connect");
    return 1;
  }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  int epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  size_t sent = 0, received = 0;
  int half_closed = 0;
  double start = now_s(), cpu0 = cpu_s();
  while (received < total) {
    struct epoll_event events[4];
    int n = epoll_wait(epfd, events, 4, 10000);
    if (n == 0) {
      fprintf(stderr, "stream stalled at %zu of %zu bytes\n", received, total);
      errors++;
      break;
    }
    if (sent < total) {
      size_t offset = sent % plen;
      size_t want = total - sent < sizeof out - plen ? total - sent : sizeof out - plen;
      ssize_t w = write(fd, out + offset, want);
      if (w > 0) sent += w;
    } else if (!half_closed) {
      shutdown(fd, SHUT_WR);
      half_closed = 1;
      ev.events = EPOLLIN;
      epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    for (;;) {
      ssize_t r = read(fd, in, sizeof in);
      if (r <= 0) {
        if (r == 0 && received < total) {
          fprintf(stderr, "stream closed at %zu of %zu bytes\n", received, total);
          errors++;
          received = total;
        }
        break;
      }
      for (ssize_t i = 0; i < r; i++) {
        if (in[i] != expected[(received + i) % plen]) {
          errors++;
          break;
        }
      }
      received += r;
    }
  }
  double elapsed = now_s() - start;
  close(fd);
  report("stream", (long)(received / (1024 * 1024)), elapsed,
         received / 1048576.0 / elapsed, 1, 1, cpu_s() - cpu0);
  return 0;
}

static int run_udp(int outstanding, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  connect(fd, (struct sockaddr *)&server, sizeof server);
  double *sent_at = calloc(outstanding, sizeof *sent_at);
  uint32_t *seq_of = calloc(outstanding, sizeof *seq_of);
  uint32_t next_seq = 0;
  long ops = 0, lost = 0;
  char msg[MSG_MAX], reply[MSG_MAX], expected[MSG_MAX];
  for (int slot = 0; slot < outstanding; slot++) {
    seq_of[slot] = next_seq++;
    int len = snprintf(msg, MSG_MAX, "ping %d %u", slot, seq_of[slot]);
    send(fd, msg, len, 0);
    sent_at[slot] = now_s();
  }
  int epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  double start = now_s(), cpu0 = cpu_s(), end = start + seconds, last_sweep = start;
  while (now_s() < end) {
    struct epoll_event events[1];
    epoll_wait(epfd, events, 1, 20);
    for (;;) {
      ssize_t r = recv(fd, reply, sizeof reply, 0);
      if (r < 0) break;
      int slot;
      unsigned seq;
      if (sscanf(reply, "PING %d %u", &slot, &seq) != 2 || slot < 0 ||
          slot >= outstanding || seq != seq_of[slot]) {
        continue; /* a late reply to a datagram already given up on */
      }
      int len = snprintf(msg, MSG_MAX, "ping %d %u", slot, seq);
      upper(expected, msg, len);
      if (r != len || memcmp(reply, expected, len) != 0) {
        errors++;
      } else {
        ops++;
        record(now_s() - sent_at[slot]);
      }
      seq_of[slot] = next_seq++;
      len = snprintf(msg, MSG_MAX, "ping %d %u", slot, seq_of[slot]);
      send(fd, msg, len, 0);
      sent_at[slot] = now_s();
    }
    double t = now_s();
    if (t - last_sweep > 0.05) {
      /* Datagrams lost (the server's socket buffer overflowed): send anew. */
      for (int slot = 0; slot < outstanding; slot++) {
        if (t - sent_at[slot] > 0.2) {
          lost++;
          seq_of[slot] = next_seq++;
          int len = snprintf(msg, MSG_MAX, "ping %d %u", slot, seq_of[slot]);
          send(fd, msg, len, 0);
          sent_at[slot] = t;
        }
      }
      last_sweep = t;
    }
  }
  double elapsed = now_s() - start;
  fprintf(stderr, "udp: %ld datagrams given up as lost\n", lost);
  report("udp", ops, elapsed, ops / elapsed, 1, 1, cpu_s() - cpu0);
  return 0;
}

static int run_idle(int count) {
  int *fds = calloc(count, sizeof *fds);
  int open_count = 0;
  for (int i = 0; i < count; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fds[i], (struct sockaddr *)&server, sizeof server) == 0) open_count++;
    else errors++;
  }
  printf("{\"mode\":\"idle\",\"open\":%d,\"errors\":%ld}\n", open_count, errors);
  fflush(stdout);
  char line[16];
  while (read(0, line, sizeof line) > 0) {
  }
  for (int i = 0; i < count; i++) close(fds[i]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: loadgen once|pingpong|stream|udp|idle HOST PORT ARGS...\n");
    return 2;
  }
  const char *mode = argv[1];
  server.sin_family = AF_INET;
  server.sin_port = htons(atoi(argv[3]));
  if (inet_pton(AF_INET, argv[2], &server.sin_addr) != 1) {
    fprintf(stderr, "loadgen: HOST must be an IPv4 address\n");
    return 2;
  }
  samples = malloc(sizeof *samples * MAX_SAMPLES);
  if (strcmp(mode, "once") == 0 && argc == 6) {
    return run_tcp_clients(0, atoi(argv[4]), atof(argv[5]));
  }
  if (strcmp(mode, "pingpong") == 0 && argc == 6) {
    return run_tcp_clients(1, atoi(argv[4]), atof(argv[5]));
  }
  if (strcmp(mode, "stream") == 0) return run_stream(atof(argv[4]));
  if (strcmp(mode, "udp") == 0 && argc == 6) return run_udp(atoi(argv[4]), atof(argv[5]));
  if (strcmp(mode, "idle") == 0) return run_idle(atoi(argv[4]));
  fprintf(stderr, "loadgen: unknown mode or wrong arguments\n");
  return 2;
}
