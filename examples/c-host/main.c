/* A native embedding of the Shoal core: two stacks, converted from wasm to C
 * by wasm2c, joined by a wire made of two frame queues, run on a virtual
 * clock. It pings, echoes a UDP datagram, completes a TCP handshake, echoes
 * a 1 MiB stream, closes, checks that nothing leaked once TIME-WAIT is over,
 * and sees a connect to a closed port refused. Everything it does with the
 * core follows docs/ABI.md and uses only include/shoal.h.
 *
 * Prints one line per step and "c-host: ok" at the end; exits non-zero on
 * any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

/* Moves every waiting frame across the wire; returns how many moved. */
static int relay(node_t *a, node_t *b) {
  int moved = 0;
  node_t *from[2] = { a, b }, *to[2] = { b, a };
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < from[k]->nout; i++) deliver(to[k], from[k]->out[i].data, from[k]->out[i].len);
    moved += from[k]->nout;
    from[k]->nout = 0;
  }
  return moved;
}

typedef int (*until_fn)(node_t *a, node_t *b, void *ctx);

/* Polls and relays until done() holds; when the wire is quiet, jumps the clock to the earliest deadline. */
static int run(node_t *a, node_t *b, until_fn done, void *ctx, double max_ms) {
  double end = now_ms + max_ms;
  for (int i = 0; i < 100000; i++) {
    poll_node(a);
    poll_node(b);
    int moved = relay(a, b);
    if (done(a, b, ctx)) return 1;
    if (moved || a->nout || b->nout) continue;   /* what done() made the cores send goes out before the clock moves */
    double next = -1;
    if (a->deadline >= 0) next = a->deadline;
    if (b->deadline >= 0 && (next < 0 || b->deadline < next)) next = b->deadline;
    if (next < 0 || next > end) return 0;
    if (next > now_ms) now_ms = next;
  }
  return 0;
}

static const shoal_event_t *find_event(node_t *n, uint32_t type) {
  for (int i = 0; i < n->nev; i++) if (n->ev[i].type == type) return &n->ev[i];
  return NULL;
}

/* ---- ping ---------------------------------------------------------------- */

static int got_echo(node_t *a, node_t *b, void *ctx) { (void)b; (void)ctx; return find_event(a, SHOAL_EV_ECHO_REPLY) != NULL; }

static int ping_step(node_t *a, node_t *b) {
  double t0 = now_ms;
  int32_t r = shoal_ping(a->s, SHOAL_IP4(10, 0, 0, 2), 0x4321, 1, 56);
  if (r < 0) die("ping", r);
  drain(a);
  if (!run(a, b, got_echo, NULL, 10000)) { fprintf(stderr, "c-host: no echo reply\n"); return 0; }
  const shoal_event_t *e = find_event(a, SHOAL_EV_ECHO_REPLY);
  if (e->a != ((0x4321u << 16) | 1) || e->b != SHOAL_IP4(10, 0, 0, 2) || e->c != 56) {
    fprintf(stderr, "c-host: wrong echo reply %08x %08x %u\n", e->a, e->b, e->c);
    return 0;
  }
  printf("ping 10.0.0.2: reply id 0x4321 seq 1, %u bytes, %.0f ms virtual\n", e->c, now_ms - t0);
  return 1;
}

/* ---- UDP echo ------------------------------------------------------------- */

typedef struct { int32_t sa, sb; char got[320]; } udp_ctx;

/* Reads every queued datagram on sd: records [src, sport, length, nseg, (ptr, len) × nseg] in the io area. */
static int udp_read(node_t *n, int32_t sd, uint32_t *src, uint32_t *sport, uint8_t *buf, uint32_t cap) {
  int32_t k = shoal_udp_recv(n->s, sd, 1);
  drain(n);
  if (k <= 0) return -1;
  uint32_t io = scb_get(n, SHOAL_SCB_IO);
  shoal_udp_rec_t rec;
  memcpy(&rec, n->mem + io, sizeof rec);
  uint32_t off = 0;
  for (uint32_t j = 0; j < rec.nseg; j++) {
    shoal_seg_t seg;
    memcpy(&seg, n->mem + io + sizeof rec + j * sizeof seg, sizeof seg);
    uint32_t c = seg.len < cap - off ? seg.len : cap - off;
    memcpy(buf + off, n->mem + seg.ptr, c);   /* the bytes stay valid until the next call into the core */
    off += c;
  }
  *src = rec.src;
  *sport = rec.sport;
  return (int)off;
}

static int udp_send(node_t *n, int32_t sd, uint32_t dst, uint32_t port, const void *data, uint32_t len) {
  memcpy(n->mem + scb_get(n, SHOAL_SCB_IO), data, len);   /* the payload goes into the io area first */
  int32_t r = shoal_udp_send(n->s, sd, dst, port, len);
  drain(n);
  return r;
}

static int udp_echoed(node_t *a, node_t *b, void *ctx) {
  udp_ctx *u = ctx;
  uint8_t buf[256];
  uint32_t src, sport;
  int len;
  while ((len = udp_read(b, u->sb, &src, &sport, buf, sizeof buf)) >= 0) udp_send(b, u->sb, src, sport, buf, (uint32_t)len);
  if ((len = udp_read(a, u->sa, &src, &sport, buf, sizeof buf - 1)) >= 0) {
    buf[len] = 0;
    snprintf(u->got, sizeof u->got, "%u.%u.%u.%u:%u %s", src >> 24, (src >> 16) & 255, (src >> 8) & 255, src & 255, sport, (char *)buf);
    return 1;
  }
  return 0;
}

static int udp_step(node_t *a, node_t *b) {
  udp_ctx u = { 0 };
  u.sb = shoal_udp_open(b->s);
  if (u.sb < 0 || shoal_udp_bind(b->s, u.sb, 0, 7) < 0) die("udp bind on b", u.sb);
  u.sa = shoal_udp_open(a->s);
  if (u.sa < 0) die("udp_open on a", u.sa);
  const char *msg = "hello from C";
  int32_t r = udp_send(a, u.sa, SHOAL_IP4(10, 0, 0, 2), 7, msg, (uint32_t)strlen(msg));
  if (r != (int32_t)strlen(msg)) die("udp_send", r);
  if (!run(a, b, udp_echoed, &u, 10000)) { fprintf(stderr, "c-host: no UDP echo\n"); return 0; }
  if (strcmp(u.got, "10.0.0.2:7 hello from C") != 0) { fprintf(stderr, "c-host: wrong UDP echo: %s\n", u.got); return 0; }
  printf("udp echo: %s\n", u.got);
  shoal_udp_close(a->s, u.sa);
  shoal_udp_close(b->s, u.sb);
  return 1;
}

/* ---- TCP handshake and echo ------------------------------------------------
 * b listens on 10.0.0.2:7, a connects, run() until established; a writes a
 * stream into its send buffer (tcp_send_space gives a place in the core's
 * memory, tcp_send_commit publishes what was written there) and half-closes;
 * b echoes what it reads (tcp_recv: (address, bytes) records in the io area,
 * loans until the next call) and half-closes after the peer's FIN; a reads it
 * all back until b's FIN. The Makefile defines SHOAL_HAVE_TCP when wasm2c's
 * output has tcp_connect. */
#ifdef SHOAL_HAVE_TCP
#define TCP_BYTES (1024u * 1024u)

typedef struct {
  int32_t lsd, csd, ssd;            /* listener and server side on b, client on a */
  int connected, shut_a, shut_b, fin_a, fin_b, error;
  uint32_t sent, at_b, echoed, back;
  uint8_t *data, *pend, *got;       /* the stream, what b holds to echo, what came back to a */
  shoal_tcp_info_t up;              /* a's tcp_info as the connection came up */
} tcp_ctx;

static const char *const tcp_state[] = { "FREE", "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
  "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT" };

/* tcp_info writes a shoal_tcp_info_t at the io area. */
static shoal_tcp_info_t tcp_info(node_t *n, int32_t sd) {
  shoal_tcp_info_t ti;
  int32_t r = shoal_tcp_info(n->s, sd);
  if (r < 0) die("tcp_info", r);
  memcpy(&ti, n->mem + scb_get(n, SHOAL_SCB_IO), sizeof ti);
  return ti;
}

static int never(node_t *a, node_t *b, void *ctx) { (void)a; (void)b; (void)ctx; return 0; }

static shoal_tcp_tables_t tcp_tables(node_t *n) {
  shoal_tcp_tables_t tt;
  shoal_tcp_tables(n->s);
  memcpy(&tt, n->mem + scb_get(n, SHOAL_SCB_IO), sizeof tt);
  return tt;
}

/* Consumes the TCP events both nodes raised (other steps' events are done with). */
static void tcp_events(node_t *n, tcp_ctx *t, int is_a) {
  for (int i = 0; i < n->nev; i++) {
    const shoal_event_t *e = &n->ev[i];
    if (e->type == SHOAL_EV_TCP_ERROR) { fprintf(stderr, "c-host: %s: TCP error on %u: errno %u\n", n->name, e->a, e->b); t->error = 1; }
    if (is_a && e->type == SHOAL_EV_TCP_CONNECTED && (int32_t)e->a == t->csd) { t->connected = 1; t->up = tcp_info(n, t->csd); }
    if (is_a && e->type == SHOAL_EV_TCP_FIN && (int32_t)e->a == t->csd) t->fin_a = 1;
    if (!is_a && e->type == SHOAL_EV_TCP_FIN && (int32_t)e->a == t->ssd) t->fin_b = 1;
  }
  n->nev = 0;
}

static int tcp_progress(node_t *a, node_t *b, void *ctx) {
  tcp_ctx *t = ctx;
  if (t->ssd < 0) {
    int32_t r = shoal_tcp_accept(b->s, t->lsd);
    drain(b);
    if (r >= 0) t->ssd = r;
    else if (r != -SHOAL_EAGAIN) die("tcp_accept", r);
  }
  tcp_events(a, t, 1);
  tcp_events(b, t, 0);
  if (t->error) return 1;
  if (t->connected && t->sent < TCP_BYTES) t->sent += tcp_write(a, t->csd, t->data + t->sent, TCP_BYTES - t->sent);
  if (t->connected && t->sent == TCP_BYTES && !t->shut_a) {
    shoal_tcp_shutdown(a->s, t->csd);
    drain(a);
    t->shut_a = 1;
  }
  if (t->ssd >= 0) {
    t->at_b += tcp_read(b, t->ssd, t->pend + t->at_b, TCP_BYTES - t->at_b);
    if (t->echoed < t->at_b) t->echoed += tcp_write(b, t->ssd, t->pend + t->echoed, t->at_b - t->echoed);
    tcp_events(b, t, 0);
    if (t->fin_b && t->echoed == t->at_b && !t->shut_b) {
      shoal_tcp_shutdown(b->s, t->ssd);
      drain(b);
      t->shut_b = 1;
    }
  }
  t->back += tcp_read(a, t->csd, t->got + t->back, TCP_BYTES - t->back);
  tcp_events(a, t, 1);
  return t->fin_a && t->back == TCP_BYTES;
}

static int tcp_step(node_t *a, node_t *b) {
  tcp_ctx t = { .lsd = -1, .csd = -1, .ssd = -1 };
  t.data = malloc(TCP_BYTES);
  t.pend = malloc(TCP_BYTES);
  t.got = malloc(TCP_BYTES);
  if (!t.data || !t.pend || !t.got) die("malloc", -SHOAL_ENOMEM);
  static const char line[] = "hello over TCP from C\n";
  for (uint32_t i = 0; i < TCP_BYTES; i++) t.data[i] = (uint8_t)line[i % (sizeof line - 1)];
  a->nev = b->nev = 0;

  t.lsd = shoal_tcp_open(b->s);
  if (t.lsd < 0) die("tcp_open on b", t.lsd);
  int32_t r = shoal_tcp_listen(b->s, t.lsd, 0, 7, 8);
  drain(b);
  if (r < 0) die("tcp_listen", r);
  t.csd = shoal_tcp_open(a->s);
  if (t.csd < 0) die("tcp_open on a", t.csd);
  double t0 = now_ms;
  shoal_time(a->s, now_ms);   /* the SYN's retransmission timer starts now */
  r = shoal_tcp_connect(a->s, t.csd, SHOAL_IP4(10, 0, 0, 2), 7, 0, 0);
  drain(a);
  if (r < 0) die("tcp_connect", r);

  int ok = run(a, b, tcp_progress, &t, 60000) && !t.error;
  if (!ok) fprintf(stderr, "c-host: TCP echo incomplete: connected %d accepted %d sent %u at b %u echoed %u back %u fin %d/%d\n",
                   t.connected, t.ssd >= 0, t.sent, t.at_b, t.echoed, t.back, t.fin_a, t.fin_b);
  if (ok && (t.at_b != TCP_BYTES || memcmp(t.pend, t.data, TCP_BYTES) != 0 || memcmp(t.got, t.data, TCP_BYTES) != 0)) {
    fprintf(stderr, "c-host: the TCP echo differs from what was sent\n");
    ok = 0;
  }
  if (ok) {
    const shoal_tcp_info_t *u = &t.up;
    printf("tcp: connected %u.%u.%u.%u:%u -> %u.%u.%u.%u:%u, %s, mss %u, window scale %u/%u\n",
           u->laddr >> 24, (u->laddr >> 16) & 255, (u->laddr >> 8) & 255, u->laddr & 255, u->lport,
           u->raddr >> 24, (u->raddr >> 16) & 255, (u->raddr >> 8) & 255, u->raddr & 255, u->rport,
           u->state <= SHOAL_TCP_TIME_WAIT ? tcp_state[u->state] : "?", u->mss, u->wscale & 255, u->wscale >> 8);
    printf("tcp echo: %u bytes there and back, identical, both sides closed with FIN, %.0f ms virtual\n", TCP_BYTES, now_ms - t0);
    /* a sent the first FIN: TIME-WAIT. The core keeps every socket the host holds until tcp_close. */
    shoal_tcp_info_t ia = tcp_info(a, t.csd);
    if (ia.state != SHOAL_TCP_TIME_WAIT) { fprintf(stderr, "c-host: a is in %s, not TIME-WAIT\n", tcp_state[ia.state]); ok = 0; }
  }
  if (t.csd >= 0) shoal_tcp_close(a->s, t.csd);
  if (t.ssd >= 0) shoal_tcp_close(b->s, t.ssd);
  shoal_tcp_close(b->s, t.lsd);
  drain(a);
  drain(b);
  free(t.data);
  free(t.pend);
  free(t.got);
  if (!ok) return 0;

  /* TIME-WAIT is 2 x MSL (30 s by default); then both stacks hold nothing. */
  run(a, b, never, NULL, 61000);
  node_t *both[2] = { a, b };
  for (int i = 0; i < 2; i++) {
    shoal_tcp_tables_t tt = tcp_tables(both[i]);
    poll_node(both[i]);   /* frees the last loans */
    uint32_t nfree = scb_get(both[i], SHOAL_SCB_FREE_COUNT), nbufs = scb_get(both[i], SHOAL_SCB_NBUFS);
    if (tt.tcbs_used || tt.time_wait || tt.chunks_used || tt.timers || nfree != nbufs) {
      fprintf(stderr, "c-host: %s holds %u TCBs (%u TIME-WAIT), %u chunks, %u timers, %u of %u buffers free\n",
              both[i]->name, tt.tcbs_used, tt.time_wait, tt.chunks_used, tt.timers, nfree, nbufs);
      return 0;
    }
  }
  printf("tcp: after close and TIME-WAIT both stacks hold 0 TCBs, 0 send chunks, 0 timers, every packet buffer free\n");
  return 1;
}

static int got_tcp_end(node_t *a, node_t *b, void *ctx) {
  (void)b; (void)ctx;
  return find_event(a, SHOAL_EV_TCP_ERROR) != NULL || find_event(a, SHOAL_EV_TCP_CONNECTED) != NULL;
}

/* A connect to a port nobody listens on: b answers with a RST, a reports ECONNREFUSED, and the
 * socket stays (CLOSED) until the host lets go of it. */
static int tcp_refused_step(node_t *a, node_t *b) {
  a->nev = b->nev = 0;
  int32_t sd = shoal_tcp_open(a->s);
  if (sd < 0) die("tcp_open", sd);
  shoal_time(a->s, now_ms);
  int32_t r = shoal_tcp_connect(a->s, sd, SHOAL_IP4(10, 0, 0, 2), 9, 0, 0);
  drain(a);
  if (r < 0) die("tcp_connect", r);
  if (!run(a, b, got_tcp_end, NULL, 10000)) { fprintf(stderr, "c-host: no answer to a connect to port 9\n"); return 0; }
  const shoal_event_t *e = find_event(a, SHOAL_EV_TCP_ERROR);
  if (!e || (int32_t)e->a != sd || e->b != SHOAL_ECONNREFUSED) { fprintf(stderr, "c-host: connect to port 9 was not refused\n"); return 0; }
  uint32_t err = e->b;
  shoal_tcp_info_t ti = tcp_info(a, sd);
  if (ti.state != SHOAL_TCP_CLOSED || tcp_tables(a).tcbs_used != 1) { fprintf(stderr, "c-host: refused socket not held CLOSED\n"); return 0; }
  r = shoal_tcp_close(a->s, sd);
  drain(a);
  if (r != 0 || tcp_tables(a).tcbs_used != 0 || shoal_tcp_close(a->s, sd) != -SHOAL_EBADF) {
    fprintf(stderr, "c-host: tcp_close of a refused socket\n");
    return 0;
  }
  a->nev = 0;
  printf("tcp: connect to 10.0.0.2:9 refused (errno %u), socket %s until tcp_close\n", err, tcp_state[ti.state]);
  return 1;
}
#else
static int tcp_step(node_t *a, node_t *b) {
  (void)a; (void)b;
  printf("tcp: skipped (the core does not export tcp_connect yet)\n");
  return 1;
}
static int tcp_refused_step(node_t *a, node_t *b) { (void)a; (void)b; return 1; }
#endif

struct steps { node_t *a, *b; };

static int all_steps(void *arg) {
  struct steps *st = arg;
  return ping_step(st->a, st->b) && udp_step(st->a, st->b) && tcp_step(st->a, st->b) && tcp_refused_step(st->a, st->b);
}

int main(void) {
  static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 1 }, mac_b[6] = { 0x02, 0, 0, 0, 0, 2 };
  node_t a, b;
  setup(&a, "a", mac_a, SHOAL_IP4(10, 0, 0, 1), 1);
  setup(&b, "b", mac_b, SHOAL_IP4(10, 0, 0, 2), 2);
  printf("two stacks: 10.0.0.1 and 10.0.0.2, %u packet buffers each, %u bytes of memory\n",
         scb_get(&a, SHOAL_SCB_NBUFS), scb_get(&a, SHOAL_SCB_MEM_END));
  struct steps st = { &a, &b };
  int ok = shoal_w2c_guard(all_steps, &st);
  uint32_t cnt = scb_get(&b, SHOAL_SCB_COUNTERS);
  printf("b: rxFrames %u, txFrames %u, events lost %u\n", rd32(&b, cnt + 0), rd32(&b, cnt + 8), a.ev_lost + b.ev_lost);
  shoal_w2c_delete(a.s);
  shoal_w2c_delete(b.s);
  free(a.out);
  free(b.out);
  if (ok != 1) return 1;
  printf("c-host: ok\n");
  return 0;
}
