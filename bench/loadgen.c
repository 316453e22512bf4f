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
 *   loadgen fairness HOST PORT PAYLOAD SECONDS  one connection streams PAYLOAD
 *                                               at full speed while a probe
 *                                               connection opens every 20 ms
 *   loadgen uppercase HOST PORT PAYLOAD RULE SECONDS
 *                                               PAYLOAD through one connection
 *   loadgen udpcase  HOST PORT PAYLOAD RULE SIZE OUTSTANDING SECONDS
 *                                               SIZE-byte datagrams of PAYLOAD
 *
 * PAYLOAD is ascii ("plain ascii text\n" repeated), greek ("\u0390 \u03b1\u03b2\u03b3
 * \u03b4\u03b5\u03b6\n" repeated, UTF-8) or invalid (bytes ff 61 repeated). RULE is
 * the upper-casing the replies are checked against: design (Unicode, bytes
 * that are not UTF-8 kept, as DESIGN.md asks), ascii (a-z only) or replace
 * (Unicode, each invalid byte replaced by U+FFFD, as Node's
 * Buffer#toString + String#toUpperCase does).
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

/* Each new TCP connection of the once and pingpong modes comes from the
   next of 250 loopback source addresses (127.0.0.2-251) when the server is on
   127.0.0.1: the client closes first, so each connection leaves its port
   in TIME-WAIT, and from one address a few seconds at 14,000 connections a
   second fill the 28,000 ephemeral ports; connect() then spends most of
   the load generator's CPU searching for a free one, and every server
   seems to top out at the same rate. */
static void bind_next_source(int fd) {
  static unsigned next;
  if (ntohl(server.sin_addr.s_addr) != 0x7f000001) return;
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in source = {.sin_family = AF_INET};
  source.sin_addr.s_addr = htonl(0x7f000002 + next++ % 250);
  bind(fd, (struct sockaddr *)&source, sizeof source);
}

static void client_start(int epfd, struct client *c, int connect_again) {
  if (connect_again) {
    c->fd = tcp_socket();
    c->connected = 0;
    bind_next_source(c->fd);
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
  char out[65536], in[65536];
  /* The reply expected from any offset in the pattern: checked with memcmp,
     so that checking costs the load generator less than the server's work. */
  static char expected[sizeof in + sizeof pattern];
  for (size_t i = 0; i < sizeof out; i++) out[i] = pattern[i % plen];
  for (size_t i = 0; i < sizeof expected; i++) expected[i] = pattern[i % plen];
  upper(expected, expected, sizeof expected);
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
      if (memcmp(in, expected + received % plen, r) != 0) errors++;
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

/* ---- payloads for the fairness, uppercase and udpcase modes ---- */

enum rule { RULE_DESIGN, RULE_ASCII, RULE_REPLACE, RULES };
static const char *rule_names[RULES] = {"design", "ascii", "replace"};

/*
 * A payload is one unit repeated. Its reply under each rule is one reply
 * unit per request unit, so a reply stream can be checked unit by unit;
 * every reply unit ends in the payload's terminator byte, where checking
 * picks up again after a unit that did not match.
 */
struct payload {
  const char *name;
  const char *unit;
  const char *reply[RULES];
  unsigned char terminator;
};

static const struct payload payloads[] = {
    {"ascii", "plain ascii text\n",
     {"PLAIN ASCII TEXT\n", "PLAIN ASCII TEXT\n", "PLAIN ASCII TEXT\n"}, '\n'},
    /* U+0390 upper-cases to three code points, U+0399 U+0308 U+0301. */
    {"greek", "\xce\x90 \xce\xb1\xce\xb2\xce\xb3 \xce\xb4\xce\xb5\xce\xb6\n",
     {"\xce\x99\xcc\x88\xcc\x81 \xce\x91\xce\x92\xce\x93 \xce\x94\xce\x95\xce\x96\n",
      "\xce\x90 \xce\xb1\xce\xb2\xce\xb3 \xce\xb4\xce\xb5\xce\xb6\n",
      "\xce\x99\xcc\x88\xcc\x81 \xce\x91\xce\x92\xce\x93 \xce\x94\xce\x95\xce\x96\n"},
     '\n'},
    {"invalid", "\xff\x61", {"\xff\x41", "\xff\x41", "\xef\xbf\xbd\x41"}, 'A'},
};

static const struct payload *find_payload(const char *name) {
  for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
    if (strcmp(payloads[i].name, name) == 0) return &payloads[i];
  }
  fprintf(stderr, "loadgen: PAYLOAD is ascii, greek or invalid, not %s\n", name);
  exit(2);
}

static enum rule find_rule(const char *name) {
  for (int i = 0; i < RULES; i++) {
    if (strcmp(rule_names[i], name) == 0) return i;
  }
  fprintf(stderr, "loadgen: RULE is design, ascii or replace, not %s\n", name);
  exit(2);
}

#define CHUNK 65536

/* unit repeated to length CHUNK + strlen(unit), so that any CHUNK bytes of
   the endless repetition start at some offset below strlen(unit). */
static unsigned char *repeated(const char *unit) {
  size_t len = strlen(unit);
  unsigned char *buf = malloc(CHUNK + len);
  for (size_t i = 0; i < CHUNK + len; i++) buf[i] = unit[i % len];
  return buf;
}

/* Checks a reply stream unit by unit against the expected reply unit. */
struct checker {
  unsigned char *expected;
  size_t len, phase;
  unsigned char terminator, request_terminator;
  int resyncing;
  long long units, bad_units;
};

static void checker_init(struct checker *k, const struct payload *p, enum rule r) {
  k->expected = repeated(p->reply[r]);
  k->len = strlen(p->reply[r]);
  k->terminator = p->terminator;
  k->request_terminator = p->unit[strlen(p->unit) - 1];
  k->phase = 0;
  k->resyncing = 0;
  k->units = k->bad_units = 0;
}

static void check(struct checker *k, const unsigned char *data, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (k->resyncing) {
      /* Skip to the end of the unit that did not match. */
      while (i < n && data[i] != k->terminator && data[i] != k->request_terminator) i++;
      if (i == n) return;
      i++;
      k->units++;
      k->resyncing = 0;
      k->phase = 0;
      continue;
    }
    size_t m = n - i;
    if (memcmp(data + i, k->expected + k->phase, m) == 0) {
      k->units += (k->phase + m) / k->len;
      k->phase = (k->phase + m) % k->len;
      return;
    }
    size_t j = 0;
    while (data[i + j] == k->expected[k->phase + j]) j++;
    k->units += (k->phase + j) / k->len;
    k->phase = (k->phase + j) % k->len;
    i += j;
    k->bad_units++;
    k->resyncing = 1;
  }
}

static void hex(char *out, const unsigned char *data, size_t n) {
  out[0] = 0;
  for (size_t i = 0; i < n; i++) sprintf(out + 3 * i, "%02x ", data[i]);
  if (n) out[3 * n - 1] = 0;
}

static int connect_blocking_then_nonblock(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0) {
    perror("connect");
    exit(1);
  }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

/* The streaming client of the fairness and uppercase modes: writes the
   payload as fast as the server takes it and reads every reply. */
struct bulk {
  int fd;
  const unsigned char *out;
  size_t unit_len;
  long long sent, received;
  unsigned char first[8];
  size_t first_len;
  struct checker *checker;
  int closed;
};

static void bulk_write(struct bulk *b) {
  ssize_t w = write(b->fd, b->out + b->sent % b->unit_len, CHUNK);
  if (w > 0) b->sent += w;
  else if (w < 0 && errno != EAGAIN) b->closed = 1;
}

static void bulk_read(struct bulk *b) {
  static unsigned char in[CHUNK];
  for (int reads = 0; reads < 16; reads++) {
    ssize_t r = read(b->fd, in, sizeof in);
    if (r <= 0) {
      if (r == 0 || errno != EAGAIN) b->closed = 1;
      return;
    }
    while (b->first_len < sizeof b->first && b->first_len < (size_t)b->received + r) {
      b->first[b->first_len] = in[b->first_len - b->received];
      b->first_len++;
    }
    if (b->checker) check(b->checker, in, r);
    b->received += r;
  }
}

static int run_uppercase(const struct payload *p, enum rule rule, double seconds) {
  struct checker checker;
  checker_init(&checker, p, rule);
  struct bulk b = {.out = repeated(p->unit), .unit_len = strlen(p->unit),
                   .checker = &checker};
  b.fd = connect_blocking_then_nonblock();
  int epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = b.fd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, b.fd, &ev);
  double start = now_s(), cpu0 = cpu_s(), end = start + seconds;
  while (!b.closed && now_s() < end) {
    struct epoll_event events[1];
    int n = epoll_wait(epfd, events, 1, 100);
    if (n <= 0) continue;
    if (events[0].events & EPOLLOUT) bulk_write(&b);
    if (events[0].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) bulk_read(&b);
  }
  double elapsed = now_s() - start;
  if (b.closed) {
    fprintf(stderr, "uppercase: the server closed the connection after %lld bytes\n",
            b.received);
    errors++;
  }
  close(b.fd);
  char first[3 * sizeof b.first + 1];
  hex(first, b.first, b.first_len);
  double in_bytes = (double)checker.units * b.unit_len;
  printf("{\"mode\":\"uppercase\",\"payload\":\"%s\",\"rule\":\"%s\",\"seconds\":%.3f,"
         "\"sent_bytes\":%lld,\"reply_bytes\":%lld,\"units\":%lld,\"bad_units\":%lld,"
         "\"in_mib_s\":%.2f,\"out_mib_s\":%.2f,\"first_bytes\":\"%s\",\"errors\":%ld,"
         "\"cpu_s\":%.3f}\n",
         p->name, rule_names[rule], elapsed, b.sent, b.received, checker.units,
         checker.bad_units, in_bytes / 1048576.0 / elapsed,
         b.received / 1048576.0 / elapsed, first, errors + (checker.bad_units > 0),
         cpu_s() - cpu0);
  return 0;
}

/* A probe: a new connection, "probe\n" out, "PROBE\n" back, close. */
#define PROBE_SLOTS 1024
#define PROBE_EVERY 0.020
#define PROBE_LIMIT 2.0

struct probe {
  int fd;
  int active;
  int connected;
  double started;
  size_t got;
  char reply[6];
};

static long probes_started, probes_unanswered, probes_failed;

static void probe_end(int epfd, struct probe *p, int answered) {
  if (answered) {
    record(now_s() - p->started);
  } else {
    record(PROBE_LIMIT);
    probes_unanswered++;
  }
  epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
  close(p->fd);
  p->active = 0;
}

static void probe_start(int epfd, struct probe *slots) {
  probes_started++;
  struct probe *p = NULL;
  for (int i = 0; i < PROBE_SLOTS && !p; i++) {
    if (!slots[i].active) p = &slots[i];
  }
  if (!p) {
    record(PROBE_LIMIT);
    probes_unanswered++;
    return;
  }
  memset(p, 0, sizeof *p);
  p->active = 1;
  p->started = now_s();
  p->fd = tcp_socket();
  if (connect(p->fd, (struct sockaddr *)&server, sizeof server) < 0 &&
      errno != EINPROGRESS) {
    probes_failed++;
    record(PROBE_LIMIT);
    probes_unanswered++;
    close(p->fd);
    p->active = 0;
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = p};
  epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd, &ev);
}

static void probe_event(int epfd, struct probe *p, uint32_t events) {
  if (!p->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err || write(p->fd, "probe\n", 6) != 6) {
      probes_failed++;
      probe_end(epfd, p, 0);
      return;
    }
    p->connected = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    epoll_ctl(epfd, EPOLL_CTL_MOD, p->fd, &ev);
    return;
  }
  if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  ssize_t r = read(p->fd, p->reply + p->got, sizeof p->reply - p->got);
  if (r < 0 && errno == EAGAIN) return;
  if (r <= 0) {
    probes_failed++;
    probe_end(epfd, p, 0);
    return;
  }
  p->got += r;
  if (p->got == sizeof p->reply) {
    int right = memcmp(p->reply, "PROBE\n", 6) == 0;
    if (!right) probes_failed++;
    probe_end(epfd, p, right);
  }
}

/* Random bytes for the fairness mode's "random" payload: a prime-length unit
   repeated, so the streams never line up with the server's buffers. */
#define RANDOM_UNIT 4093

static unsigned char *random_bytes(void) {
  unsigned char *buf = malloc(CHUNK + RANDOM_UNIT);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < RANDOM_UNIT; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    buf[i] = (unsigned char)x;
  }
  for (size_t i = RANDOM_UNIT; i < CHUNK + RANDOM_UNIT; i++) {
    buf[i] = buf[i % RANDOM_UNIT];
  }
  return buf;
}

/* STREAMS clients stream the payload (NULL: random bytes) while probes come
   every PROBE_EVERY; reports the probes' latency and the streams' rate. */
static int run_fairness(const struct payload *pl, double seconds, int streams) {
  struct bulk *bs = calloc(streams, sizeof *bs);
  const unsigned char *out = pl ? repeated(pl->unit) : random_bytes();
  size_t unit_len = pl ? strlen(pl->unit) : RANDOM_UNIT;
  int epfd = epoll_create1(0);
  for (int s = 0; s < streams; s++) {
    bs[s].out = out;
    bs[s].unit_len = unit_len;
    bs[s].fd = connect_blocking_then_nonblock();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &bs[s]};
    epoll_ctl(epfd, EPOLL_CTL_ADD, bs[s].fd, &ev);
  }
  struct probe *slots = calloc(PROBE_SLOTS, sizeof *slots);
  double start = now_s(), cpu0 = cpu_s(), end = start + seconds;
  double next_probe = start + PROBE_EVERY;
  long long bulk_in_window = -1, sent = 0, received = 0;
  int active, closed = 0;
  /* Probes start during SECONDS; the streams go on until the last has its
     answer or its 2 s are up. */
  do {
    double t = now_s();
    if (t < end) {
      while (next_probe <= t) {
        probe_start(epfd, slots);
        next_probe += PROBE_EVERY;
      }
    } else if (bulk_in_window < 0) {
      bulk_in_window = received;
    }
    active = 0;
    for (int i = 0; i < PROBE_SLOTS; i++) {
      if (!slots[i].active) continue;
      if (t - slots[i].started >= PROBE_LIMIT) probe_end(epfd, &slots[i], 0);
      else active++;
    }
    int wait_ms = t < end ? (int)((next_probe - t) * 1000) : 10;
    if (wait_ms > 10) wait_ms = 10;
    struct epoll_event events[64];
    int n = epoll_wait(epfd, events, 64, wait_ms);
    for (int i = 0; i < n; i++) {
      struct bulk *b = events[i].data.ptr;
      if (b >= bs && b < bs + streams) {
        long long before_in = b->received, before_out = b->sent;
        if (events[i].events & EPOLLOUT) bulk_write(b);
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) bulk_read(b);
        received += b->received - before_in;
        sent += b->sent - before_out;
        if (b->closed) {
          epoll_ctl(epfd, EPOLL_CTL_DEL, b->fd, NULL);
          closed++;
        }
      } else {
        probe_event(epfd, events[i].data.ptr, events[i].events);
      }
    }
  } while (now_s() < end || active > 0);
  if (bulk_in_window < 0) bulk_in_window = received;
  if (closed > 0) {
    fprintf(stderr, "fairness: the server closed %d streaming connections\n",
            closed);
    errors += closed;
  }
  for (int s = 0; s < streams; s++) close(bs[s].fd);
  qsort(samples, sample_count, sizeof *samples, compare_u32);
  printf("{\"mode\":\"fairness\",\"payload\":\"%s\",\"streams\":%d,"
         "\"seconds\":%.3f,"
         "\"bulk_sent\":%lld,\"bulk_received\":%lld,\"bulk_mib_s\":%.2f,"
         "\"probes\":%ld,\"unanswered\":%ld,\"failed\":%ld,\"p50_us\":%u,"
         "\"p99_us\":%u,\"max_us\":%u,\"errors\":%ld,\"cpu_s\":%.3f}\n",
         pl ? pl->name : "random", streams, seconds, sent, bulk_in_window,
         bulk_in_window / 1048576.0 / seconds, probes_started, probes_unanswered,
         probes_failed, percentile(0.5), percentile(0.99),
         sample_count ? samples[sample_count - 1] : 0, errors, cpu_s() - cpu0);
  return 0;
}

/* SIZE-byte datagrams: a "SLOT SEQ\n" header of digits (the same upper-cased)
   then as many whole payload units as fit. */
#define HEADER_LEN 17

static void send_numbered(int fd, unsigned char *msg, size_t len, int slot,
                          uint32_t seq) {
  char header[32];
  snprintf(header, sizeof header, "%05d %010u\n", slot, seq);
  memcpy(msg, header, HEADER_LEN);
  send(fd, msg, len, 0);
}

static int run_udpcase(const struct payload *pl, enum rule rule, int size,
                       int outstanding, double seconds) {
  size_t unit_len = strlen(pl->unit), reply_unit = strlen(pl->reply[rule]);
  if (outstanding < 1 || outstanding > 99999) {
    fprintf(stderr, "loadgen: OUTSTANDING must be 1 to 99999\n");
    return 2;
  }
  if (size < HEADER_LEN + (int)unit_len || size > 65507) {
    fprintf(stderr, "loadgen: SIZE must be %zu to 65507\n", HEADER_LEN + unit_len);
    return 2;
  }
  size_t units = (size - HEADER_LEN) / unit_len;
  size_t request_len = HEADER_LEN + units * unit_len;
  size_t expected_len = HEADER_LEN + units * reply_unit;
  if (expected_len > 65507) {
    fprintf(stderr, "loadgen: the reply (%zu bytes) would not fit a datagram\n",
            expected_len);
    return 2;
  }
  unsigned char *msg = malloc(request_len), *expected = malloc(expected_len);
  static unsigned char reply[65536];
  for (size_t i = 0; i < units; i++) {
    memcpy(msg + HEADER_LEN + i * unit_len, pl->unit, unit_len);
    memcpy(expected + HEADER_LEN + i * reply_unit, pl->reply[rule], reply_unit);
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int bufsize = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  connect(fd, (struct sockaddr *)&server, sizeof server);
  double *sent_at = calloc(outstanding, sizeof *sent_at);
  uint32_t *seq_of = calloc(outstanding, sizeof *seq_of);
  uint32_t next_seq = 0;
  long ops = 0, lost = 0;
  for (int slot = 0; slot < outstanding; slot++) {
    seq_of[slot] = next_seq++;
    send_numbered(fd, msg, request_len, slot, seq_of[slot]);
    sent_at[slot] = now_s();
  }
  int epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  double start = now_s(), cpu0 = cpu_s(), end = start + seconds, last_sweep = start;
  char first[3 * 8 + 1] = "";
  while (now_s() < end) {
    struct epoll_event events[1];
    epoll_wait(epfd, events, 1, 20);
    for (;;) {
      ssize_t r = recv(fd, reply, sizeof reply, 0);
      if (r < 0) break;
      int slot;
      unsigned seq;
      if (r < HEADER_LEN || sscanf((char *)reply, "%5d %10u", &slot, &seq) != 2 ||
          slot < 0 || slot >= outstanding || seq != seq_of[slot]) {
        continue; /* a late reply to a datagram already given up on */
      }
      if (!first[0]) hex(first, reply + HEADER_LEN, r - HEADER_LEN < 8 ? r - HEADER_LEN : 8);
      if ((size_t)r != expected_len ||
          memcmp(reply + HEADER_LEN, expected + HEADER_LEN, r - HEADER_LEN) != 0) {
        errors++;
      } else {
        ops++;
        record(now_s() - sent_at[slot]);
      }
      seq_of[slot] = next_seq++;
      send_numbered(fd, msg, request_len, slot, seq_of[slot]);
      sent_at[slot] = now_s();
    }
    double t = now_s();
    if (t - last_sweep > 0.05) {
      /* Given up after a second (lost, or the server is that slow): anew. */
      for (int slot = 0; slot < outstanding; slot++) {
        if (t - sent_at[slot] > 1.0) {
          lost++;
          seq_of[slot] = next_seq++;
          send_numbered(fd, msg, request_len, slot, seq_of[slot]);
          sent_at[slot] = t;
        }
      }
      last_sweep = t;
    }
  }
  double elapsed = now_s() - start;
  qsort(samples, sample_count, sizeof *samples, compare_u32);
  printf("{\"mode\":\"udpcase\",\"payload\":\"%s\",\"rule\":\"%s\",\"size\":%zu,"
         "\"reply_size\":%zu,\"outstanding\":%d,\"ops\":%ld,\"seconds\":%.3f,"
         "\"rate\":%.1f,\"in_mib_s\":%.2f,\"errors\":%ld,\"lost\":%ld,"
         "\"first_bytes\":\"%s\",\"p50_us\":%u,\"p99_us\":%u,\"cpu_s\":%.3f}\n",
         pl->name, rule_names[rule], request_len, expected_len, outstanding, ops,
         elapsed, ops / elapsed, ops * (double)request_len / 1048576.0 / elapsed,
         errors, lost, first, percentile(0.5), percentile(0.99), cpu_s() - cpu0);
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
    fprintf(stderr, "usage: loadgen once|pingpong|stream|udp|idle|fairness|uppercase|"
                    "udpcase HOST PORT ARGS...\n");
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
  if (strcmp(mode, "fairness") == 0 && (argc == 6 || argc == 7)) {
    /* fairness HOST PORT PAYLOAD SECONDS [STREAMS]; PAYLOAD random too */
    const struct payload *pl =
        strcmp(argv[4], "random") == 0 ? NULL : find_payload(argv[4]);
    return run_fairness(pl, atof(argv[5]), argc == 7 ? atoi(argv[6]) : 1);
  }
  if (strcmp(mode, "uppercase") == 0 && argc == 7) {
    return run_uppercase(find_payload(argv[4]), find_rule(argv[5]), atof(argv[6]));
  }
  if (strcmp(mode, "udpcase") == 0 && argc == 9) {
    return run_udpcase(find_payload(argv[4]), find_rule(argv[5]), atoi(argv[6]),
                       atoi(argv[7]), atof(argv[8]));
  }
  fprintf(stderr, "loadgen: unknown mode or wrong arguments\n");
  return 2;
}
