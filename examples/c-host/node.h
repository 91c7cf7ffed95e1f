/* One Shoal stack as the C examples drive it: an instance of the core
 * converted by wasm2c, the frames it sent waiting for a wire, the events it
 * raised, and the helpers every program here shares. Everything it does
 * with the core follows docs/ABI.md and uses only include/shoal.h. */
#ifndef NODE_H
#define NODE_H

#include <stdint.h>
#include <string.h>

#include "shoal.h"
#include "shoal_w2c.h"

#define MAX_FRAME 1514
#define QUEUE 512
#define MAX_EVENTS 256

typedef struct {
  uint32_t len;
  uint8_t data[MAX_FRAME];
} frame_t;

typedef struct node {
  const char *name;
  shoal_t *s;
  uint8_t *mem;           /* linear memory: stable after init() */
  uint32_t scb;
  double deadline;        /* ms; < 0: none */
  frame_t *out;           /* frames sent, waiting for the wire */
  int nout;
  shoal_event_t ev[MAX_EVENTS];
  int nev;
  uint32_t ev_lost;
} node_t;

extern double now_ms;     /* the clock every call into the core is given, ms */
extern const char *prog;  /* the program's name, for messages */

/* Memory is little-endian, as is every host these examples target; memcpy keeps it alignment-safe. */
static inline uint32_t rd32(node_t *n, uint32_t addr) { uint32_t v; memcpy(&v, n->mem + addr, 4); return v; }
static inline void wr32(node_t *n, uint32_t addr, uint32_t v) { memcpy(n->mem + addr, &v, 4); }
static inline uint32_t scb_get(node_t *n, uint32_t off) { return rd32(n, n->scb + off); }
static inline void scb_set(node_t *n, uint32_t off, uint32_t v) { wr32(n, n->scb + off, v); }

void die(const char *what, int32_t r);
/* A stack with one interface (MTU 1500) holding addr/24. */
void setup(node_t *n, const char *name, const uint8_t mac[6], uint32_t addr, uint32_t seed);
/* After every call into the core: takes the frames it sent and the events it raised. */
void drain(node_t *n);
void poll_node(node_t *n);
/* Hands the core a frame from the wire; 0 when it has no room (the frame is dropped). */
int deliver(node_t *n, const uint8_t *data, uint32_t len);
/* Writes up to len bytes through the send buffer; returns how many went in (0: full). */
uint32_t tcp_write(node_t *n, int32_t sd, const uint8_t *p, uint32_t len);
/* Copies every received byte on sd into buf (room: cap); returns how many. */
uint32_t tcp_read(node_t *n, int32_t sd, uint8_t *buf, uint32_t cap);

#endif
