/* A cluster target in C: one Shoal stack (the core converted by wasm2c)
 * with its own address, joined to a cluster whose routing stack runs
 * anywhere else, serving the VIPA's port. Its wire is its standard input and
 * output: Ethernet frames, each prefixed with its length as 4 bytes
 * big-endian (host/link/pipe.ts is the other end). Driven by poll(2) with
 * the monotonic clock given to the core explicitly.
 *
 *   c-target NAME ADDRESS PORT KEYHEX
 *
 * NAME: what it answers; ADDRESS: its own address (/24); PORT: the port it
 * listens on, any address, so the VIPA's too; KEYHEX: the cluster key in hex
 * (at least 16 bytes). Each connection gets "hello from NAME\n" once the
 * client has said something, and is closed after the client closes. Runs
 * until its standard input ends; reports on standard error. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

#define CONTROL_PORT 7310
#define MAX_CONNS 32
#define HEADER 4
#define WIRE_BYTES (256 * 1024)

typedef struct { int32_t sd; int answered; } conn_t;

static uint8_t rbuf[WIRE_BYTES], wbuf[WIRE_BYTES];
static uint32_t rlen, wlen, wire_drops;
static conn_t conns[MAX_CONNS];
static uint32_t served;

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* Frames the core sent go into the output buffer, framed; a full buffer drops them, as a full ring would. */
static void pack(node_t *n) {
  for (int i = 0; i < n->nout; i++) {
    frame_t *f = &n->out[i];
    if (wlen + HEADER + f->len > sizeof wbuf) { wire_drops++; continue; }
    uint8_t *p = wbuf + wlen;
    p[0] = (uint8_t)(f->len >> 24); p[1] = (uint8_t)(f->len >> 16); p[2] = (uint8_t)(f->len >> 8); p[3] = (uint8_t)f->len;
    memcpy(p + HEADER, f->data, f->len);
    wlen += HEADER + f->len;
  }
  n->nout = 0;
}

/* Writes what the pipe takes now; the rest waits for POLLOUT. */
static void flush_out(void) {
  uint32_t done = 0;
  while (done < wlen) {
    ssize_t k = write(STDOUT_FILENO, wbuf + done, wlen - done);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EAGAIN) break;
    if (k < 0) die("write", -errno);
    done += (uint32_t)k;
  }
  memmove(wbuf, wbuf + done, wlen - done);
  wlen -= done;
}

/* Reads what the pipe has and hands each whole frame to the core; returns 0 at end of input. */
static int read_in(node_t *n) {
  ssize_t k = read(STDIN_FILENO, rbuf + rlen, sizeof rbuf - rlen);
  if (k == 0) return 0;
  if (k < 0) {
    if (errno == EINTR || errno == EAGAIN) return 1;
    die("read", -errno);
  }
  rlen += (uint32_t)k;
  uint32_t at = 0;
  while (rlen - at >= HEADER) {
    uint32_t len = (uint32_t)rbuf[at] << 24 | (uint32_t)rbuf[at + 1] << 16 | (uint32_t)rbuf[at + 2] << 8 | rbuf[at + 3];
    if (len < 14 || len > MAX_FRAME) die("framing (frame length out of range)", (int32_t)len);
    if (rlen - at < HEADER + len) break;
    if (!deliver(n, rbuf + at + HEADER, len)) wire_drops++;
    at += HEADER + len;
  }
  memmove(rbuf, rbuf + at, rlen - at);
  rlen -= at;
  return 1;
}

static conn_t *conn_of(int32_t sd) {
  for (int i = 0; i < MAX_CONNS; i++) if (conns[i].sd == sd) return &conns[i];
  return NULL;
}

static void answer(node_t *n, conn_t *c, const char *hello) {
  tcp_write(n, c->sd, (const uint8_t *)hello, (uint32_t)strlen(hello));
  c->answered = 1;
  served++;
}

/* Accepts, answers and closes: after each call into the core, from the events it raised. */
static void serve(node_t *n, int32_t lsd, const char *hello) {
  int32_t sd;
  while ((sd = shoal_tcp_accept(n->s, lsd)) >= 0) {
    drain(n);
    conn_t *c = conn_of(-1);
    if (!c) { shoal_tcp_abort(n->s, sd); drain(n); continue; }   /* more than MAX_CONNS at once */
    c->sd = sd;
    c->answered = 0;
  }
  if (sd != -SHOAL_EAGAIN) die("tcp_accept", sd);
  drain(n);
  uint8_t buf[2048];
  /* Events first: a connection that failed is let go of before anything reads from it. */
  shoal_event_t ev[MAX_EVENTS];
  int nev = n->nev;
  memcpy(ev, n->ev, sizeof ev[0] * (size_t)nev);   /* reading below may raise more */
  n->nev = 0;
  for (int i = 0; i < nev; i++) {
    const shoal_event_t *e = &ev[i];
    conn_t *c = conn_of((int32_t)e->a);
    if (!c || (e->type != SHOAL_EV_TCP_FIN && e->type != SHOAL_EV_TCP_ERROR)) continue;
    /* The client closed: our FIN follows, and the core finishes the close on its own. */
    if (e->type == SHOAL_EV_TCP_FIN) {
      if (tcp_read(n, c->sd, buf, sizeof buf) > 0 && !c->answered) answer(n, c, hello);
      shoal_tcp_shutdown(n->s, c->sd);
    }
    shoal_tcp_close(n->s, c->sd);
    c->sd = -1;
  }
  for (int i = 0; i < MAX_CONNS; i++) {
    conn_t *c = &conns[i];
    if (c->sd >= 0 && tcp_read(n, c->sd, buf, sizeof buf) > 0 && !c->answered) answer(n, c, hello);
  }
  drain(n);
}

static uint32_t parse_ip4(const char *s) {
  unsigned a, b, c, d;
  char end;
  if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) != 4 || a > 255 || b > 255 || c > 255 || d > 255) return 0;
  return SHOAL_IP4(a, b, c, d);
}

static int parse_key(const char *hex, uint8_t *key, uint32_t cap) {
  size_t len = strlen(hex);
  if (len % 2 || len / 2 > cap) return -1;
  for (size_t i = 0; i < len / 2; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
    key[i] = (uint8_t)v;
  }
  return (int)(len / 2);
}

struct target { node_t *n; const char *name; uint32_t addr; uint32_t port; const uint8_t *key; int keylen; };

static int run_target(void *arg) {
  struct target *t = arg;
  node_t *n = t->n;
  /* The key into the io area, then join: the epoch (seconds) and first sequence number grow from one start to the next. */
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  memcpy(n->mem + scb_get(n, SHOAL_SCB_IO), t->key, (size_t)t->keylen);
  now_ms = mono_ms();
  shoal_time(n->s, now_ms);
  int32_t r = shoal_cluster_join(n->s, t->addr, CONTROL_PORT, (uint32_t)t->keylen, (uint32_t)wall.tv_sec,
                                 (uint32_t)(wall.tv_nsec / 1000000) << 20, 0, 1000);
  drain(n);
  if (r < 0) die("cluster_join", r);
  /* Listening on any address at the port: once an announcement names us a target of a VIPA with this port, the
   * core holds the VIPA (never answering ARP for it) and tells the routing stack we are ready. */
  int32_t lsd = shoal_tcp_open(n->s);
  if (lsd < 0) die("tcp_open", lsd);
  r = shoal_tcp_listen(n->s, lsd, 0, t->port, 16);
  drain(n);
  if (r < 0) die("tcp_listen", r);
  char hello[128];
  snprintf(hello, sizeof hello, "hello from %s\n", t->name);
  fprintf(stderr, "%s: %s joined as %u.%u.%u.%u, listening on port %u\n", prog, t->name,
          t->addr >> 24, (t->addr >> 16) & 255, (t->addr >> 8) & 255, t->addr & 255, t->port);
  for (;;) {
    now_ms = mono_ms();
    poll_node(n);
    serve(n, lsd, hello);
    pack(n);
    flush_out();
    int timeout = -1;
    if (n->deadline >= 0) {
      double wait = n->deadline - mono_ms();
      timeout = wait <= 0 ? 0 : (int)wait + 1;
    }
    struct pollfd fds[2] = { { STDIN_FILENO, POLLIN, 0 }, { STDOUT_FILENO, wlen ? POLLOUT : 0, 0 } };
    if (poll(fds, 2, timeout) < 0 && errno != EINTR) die("poll", -errno);
    if (fds[1].revents & (POLLERR | POLLHUP)) break;
    if ((fds[0].revents & (POLLIN | POLLHUP)) && !read_in(n)) break;
  }
  shoal_tcp_close(n->s, lsd);
  fprintf(stderr, "%s: %s served %u connections, %u frames dropped at the pipe, %u events lost\n", prog, t->name,
          served, wire_drops, n->ev_lost);
  return 1;
}

int main(int argc, char **argv) {
  prog = "c-target";
  uint8_t key[64];
  struct target t = { 0 };
  if (argc != 5) { fprintf(stderr, "usage: c-target NAME ADDRESS PORT KEYHEX\n"); return 2; }
  t.name = argv[1];
  t.addr = parse_ip4(argv[2]);
  t.port = (uint32_t)strtoul(argv[3], NULL, 10);
  t.keylen = parse_key(argv[4], key, sizeof key);
  t.key = key;
  if (!t.addr || t.port < 1 || t.port > 65535 || t.keylen < 16) {
    fprintf(stderr, "c-target: bad address, port or key (hex, 16 to 64 bytes)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);   /* a closed pipe is an error from write(), not a signal */
  fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
  fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK);
  for (int i = 0; i < MAX_CONNS; i++) conns[i].sd = -1;
  /* A locally administered MAC made of the address: unique on the cluster's network as the address is. */
  const uint8_t mac[6] = { 0x02, 0x5c, (uint8_t)(t.addr >> 24), (uint8_t)(t.addr >> 16), (uint8_t)(t.addr >> 8), (uint8_t)t.addr };
  node_t n;
  setup(&n, t.name, mac, t.addr, (uint32_t)getpid() ^ (uint32_t)time(NULL));
  t.n = &n;
  int ok = shoal_w2c_guard(run_target, &t);
  shoal_w2c_delete(n.s);
  free(n.out);
  return ok == 1 ? 0 : 1;
}
