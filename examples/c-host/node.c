#include <stdio.h>
#include <stdlib.h>

#include "node.h"

double now_ms = 0;
const char *prog = "c-host";

void die(const char *what, int32_t r) {
  fprintf(stderr, "%s: %s failed: %d\n", prog, what, r);
  exit(1);
}

/* Copies out the frames and events, then hands both rings back. */
void drain(node_t *n) {
  uint32_t ntx = scb_get(n, SHOAL_SCB_TX_COUNT), txd = scb_get(n, SHOAL_SCB_TX_DESC);
  for (uint32_t i = 0; i < ntx; i++) {
    shoal_desc_t d;
    memcpy(&d, n->mem + txd + SHOAL_DESC_BYTES * i, sizeof d);
    /* No if_offload call here, so every frame is plain: flags 0, complete checksums, at most the MTU. */
    if (d.len > MAX_FRAME || n->nout >= QUEUE) continue;   /* a real link would count this drop */
    frame_t *f = &n->out[n->nout++];
    f->len = d.len;
    memcpy(f->data, n->mem + d.ptr, d.len);
  }
  scb_set(n, SHOAL_SCB_TX_COUNT, 0);
  uint32_t nev = scb_get(n, SHOAL_SCB_EV_COUNT), ev = scb_get(n, SHOAL_SCB_EV);
  for (uint32_t i = 0; i < nev && n->nev < MAX_EVENTS; i++) memcpy(&n->ev[n->nev++], n->mem + ev + 16 * i, 16);
  scb_set(n, SHOAL_SCB_EV_COUNT, 0);
  n->ev_lost += scb_get(n, SHOAL_SCB_EV_LOST);
  scb_set(n, SHOAL_SCB_EV_LOST, 0);
}

void poll_node(node_t *n) {
  n->deadline = shoal_poll(n->s, now_ms);
  drain(n);
}

/* Pops a buffer off the free stack, copies the frame in, posts an rx descriptor. */
int deliver(node_t *n, const uint8_t *data, uint32_t len) {
  if (scb_get(n, SHOAL_SCB_RX_COUNT) >= scb_get(n, SHOAL_SCB_RX_CAP) || scb_get(n, SHOAL_SCB_FREE_COUNT) == 0)
    poll_node(n);   /* ring or pool full: let the core take what it has */
  uint32_t nrx = scb_get(n, SHOAL_SCB_RX_COUNT), free = scb_get(n, SHOAL_SCB_FREE_COUNT);
  if (nrx >= scb_get(n, SHOAL_SCB_RX_CAP) || free == 0) return 0;
  if (len > scb_get(n, SHOAL_SCB_BUF_SIZE) - scb_get(n, SHOAL_SCB_BUF_DATA)) return 0;
  uint32_t buf = rd32(n, scb_get(n, SHOAL_SCB_FREE) + 4 * (free - 1));
  scb_set(n, SHOAL_SCB_FREE_COUNT, free - 1);
  uint32_t at = buf + scb_get(n, SHOAL_SCB_BUF_DATA);
  memcpy(n->mem + at, data, len);
  shoal_desc_t d = { at, len, SHOAL_DESC_WORD(0, 0), 0 };   /* interface 0; flags 0: the core checks checksums; gso 0 */
  memcpy(n->mem + scb_get(n, SHOAL_SCB_RX_DESC) + SHOAL_DESC_BYTES * nrx, &d, sizeof d);
  scb_set(n, SHOAL_SCB_RX_COUNT, nrx + 1);
  return 1;
}

void setup(node_t *n, const char *name, const uint8_t mac[6], uint32_t addr, uint32_t seed) {
  memset(n, 0, sizeof *n);
  n->name = name;
  n->out = calloc(QUEUE, sizeof(frame_t));
  n->s = shoal_w2c_new();
  if (!n->s || !n->out) die("instantiate", -SHOAL_ENOMEM);
  n->mem = shoal_memory(n->s);
  n->scb = shoal_scb(n->s);
  scb_set(n, SHOAL_CFG_POOL_BYTES, 1u << 20);        /* 1 MiB of packet buffers */
  scb_set(n, SHOAL_CFG_MAX_FRAME, MAX_FRAME);
  scb_set(n, SHOAL_CFG_SEED0, seed);
  scb_set(n, SHOAL_CFG_SEED1, seed * 2654435761u);
  scb_set(n, SHOAL_CFG_TCP_SOCKS, 64);                /* the defaults (4096 TCBs, 1024 16-KiB send */
  scb_set(n, SHOAL_CFG_TCP_CHUNKS, 256);              /* chunks) would take 18 MiB: 4 MiB is plenty here */
  int32_t r = shoal_init(n->s);
  if (r < 0) die("init", r);
  n->mem = shoal_memory(n->s);                         /* init() grew memory, once */
  if (scb_get(n, SHOAL_SCB_ABI_VERSION) != SHOAL_ABI_VERSION) die("ABI version", (int32_t)scb_get(n, SHOAL_SCB_ABI_VERSION));
  int32_t ifx = shoal_if_add(n->s, SHOAL_MAC_HI(mac), SHOAL_MAC_LO(mac), 1500);
  if (ifx < 0) die("if_add", ifx);
  r = shoal_addr_add(n->s, (uint32_t)ifx, addr, 24);
  if (r < 0) die("addr_add", r);
  n->deadline = -1;
}

uint32_t tcp_write(node_t *n, int32_t sd, const uint8_t *p, uint32_t len) {
  uint32_t done = 0;
  shoal_time(n->s, now_ms);   /* a send may start a retransmission timer: from now */
  while (done < len) {
    int32_t room = shoal_tcp_send_space(n->s, sd);
    if (room < 0) die("tcp_send_space", room);
    if (room == 0) break;
    uint32_t at = rd32(n, scb_get(n, SHOAL_SCB_IO));   /* io word 0: address; word 1: contiguous bytes */
    uint32_t take = len - done < (uint32_t)room ? len - done : (uint32_t)room;
    memcpy(n->mem + at, p + done, take);
    int32_t r = shoal_tcp_send_commit(n->s, sd, take, 0);
    drain(n);
    if (r != (int32_t)take) die("tcp_send_commit", r);
    done += take;
  }
  return done;
}

/* tcp_recv: (address, bytes) records in the io area, loans until the next call. */
uint32_t tcp_read(node_t *n, int32_t sd, uint8_t *buf, uint32_t cap) {
  uint32_t got = 0;
  while (got < cap) {
    int32_t k = shoal_tcp_recv(n->s, sd, cap - got);
    if (k < 0) die("tcp_recv", k);
    uint32_t io = scb_get(n, SHOAL_SCB_IO);
    for (int32_t i = 0; i < k; i++) {
      shoal_seg_t seg;
      memcpy(&seg, n->mem + io + (uint32_t)i * sizeof seg, sizeof seg);
      memcpy(buf + got, n->mem + seg.ptr, seg.len);   /* valid until the next call into the core */
      got += seg.len;
    }
    drain(n);   /* reading may open the window: an ACK goes out */
    if (k == 0) break;
  }
  return got;
}
