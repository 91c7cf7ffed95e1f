/*
 * shoal.h — the ABI of the Shoal core for embedders in C (and a map for any
 * other language). docs/ABI.md explains every item; this header matches it,
 * test/embed/header.test.ts checks it against the real wasm artifacts, and
 * test/embed/header-abi.test.ts checks every number in it against the
 * core's sources, so the three cannot drift apart.
 *
 * The core is a wasm32 module, one instance per stack:
 *   build/shoal.wasm       imports nothing; a start function runs on instantiation
 *   build/shoal.wasi.wasm  a WASI reactor: imports only wasi_snapshot_preview1
 *                          functions; call _initialize once, first
 *
 * Every function below is one export of the core, under the export's name
 * with a "shoal_" prefix. The first parameter is the embedder's handle to an
 * instance (with wasm2c: the instance struct; with a runtime such as
 * wasmtime: whatever that runtime calls an instance) — the embedder defines
 * struct shoal and the functions (examples/c-host/shoal_w2c.c does it for
 * wasm2c). The remaining parameters and the result are the wasm values:
 * int32_t and uint32_t are i32, double is f64.
 *
 * Addresses (uint32_t) are offsets into the instance's linear memory.
 * Memory is little-endian; structs below describe its layout (read them with
 * memcpy on a big-endian host and swap).
 */
#ifndef SHOAL_H
#define SHOAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHOAL_ABI_VERSION 4        /* the SCB's ABI_VERSION word after init() */

typedef struct shoal shoal_t;       /* one instance of the core; defined by the embedder */

/* ---- Exports: setup (docs/ABI.md §4) --------------------------------- */

/* WASI artifact only: the reactor's initialiser; call once, before anything else. */
void shoal__initialize(shoal_t *s);
/* Address of the shared control block (SCB). Valid from instantiation. */
uint32_t shoal_scb(shoal_t *s);
/* Lays out all memory from the CFG words; grows memory once. 0, -EALREADY, -EINVAL, -ENOMEM. */
int32_t shoal_init(shoal_t *s);
/* Adds an interface, returns its index. MAC: bytes 0-1 in mac_hi, bytes 2-5 in mac_lo (SHOAL_MAC_*). */
int32_t shoal_if_add(shoal_t *s, uint32_t mac_hi, uint32_t mac_lo, uint32_t mtu);
/* What the link under ifx takes (§6 "Offloads"): csum bit 0 lets TCP send SHOAL_FRAME_CSUM_PARTIAL
 * frames; bit 1 (with bit 0) frames over several tx descriptors, the payload left in the send buffer
 * (SHOAL_FRAME_MORE); bit 2 frames of up to 2048 bytes packed, a run per descriptor
 * (SHOAL_FRAME_PACKED); gso_max > 0 (<= 65535 bytes of IP packet, needs bit 0) SHOAL_FRAME_GSO ones too.
 * Without it (or with 0, 0): plain frames only. 0 or -SHOAL_EINVAL. */
int32_t shoal_if_offload(shoal_t *s, uint32_t ifx, uint32_t csum, uint32_t gso_max);
/* The link under ifx went down (up 0; interfaces start up) or came back (1). While it is down, routes
 * over it are skipped: sends and connects that need it fail with -SHOAL_ENETUNREACH. 0 or -SHOAL_EINVAL. */
int32_t shoal_if_up(shoal_t *s, uint32_t ifx, uint32_t up);
/* Adds addr/prefix_len to interface ifx (and its connected route). */
int32_t shoal_addr_add(shoal_t *s, uint32_t ifx, uint32_t addr, uint32_t prefix_len);
/* addr_add for a cluster's shared address (VIPA); flags 0 is shoal_addr_add. SHOAL_ADDR_NOARP: local,
 * never answered in ARP nor chosen as a source (a target holding it); SHOAL_ADDR_ANNOUNCE: answered,
 * and a gratuitous ARP announces it as it is added (the routing stack taking it). Not both. */
int32_t shoal_addr_add_flags(shoal_t *s, uint32_t ifx, uint32_t addr, uint32_t prefix_len, uint32_t flags);
#define SHOAL_ADDR_NOARP    1u
#define SHOAL_ADDR_ANNOUNCE 2u
/* An ARP probe for addr, one of ifx's (RFC 5227): a holder elsewhere answers, and the core reports SHOAL_EV_ADDR_CONFLICT. */
int32_t shoal_arp_probe(shoal_t *s, uint32_t ifx, uint32_t addr);
int32_t shoal_addr_del(shoal_t *s, uint32_t addr);
/* gw 0: a directly connected route on ifx. */
int32_t shoal_route_add(shoal_t *s, uint32_t dst, uint32_t prefix_len, uint32_t gw, uint32_t ifx);
int32_t shoal_route_del(shoal_t *s, uint32_t dst, uint32_t prefix_len, uint32_t gw);

/* ---- Exports: time and frames (§5, §6) ------------------------------- */

/* Takes every rx descriptor, runs timers at now_ms, returns the next deadline in ms (-1: none). */
double shoal_poll(shoal_t *s, double now_ms);
/* Tells the core the time before a call other than poll that may start timers (ping, sends, connects). */
void shoal_time(shoal_t *s, double now_ms);

/* ---- Exports: ICMP (§8) ----------------------------------------------- */

/* Echo request to dst with len payload bytes (0x10, 0x11, …); the reply is SHOAL_EV_ECHO_REPLY. */
int32_t shoal_ping(shoal_t *s, uint32_t dst, uint32_t id, uint32_t seq, uint32_t len);

/* ---- Exports: UDP sockets (§8) ---------------------------------------- */

int32_t shoal_udp_open(shoal_t *s);
/* port 0: an ephemeral port; addr 0: every local address. */
int32_t shoal_udp_bind(shoal_t *s, int32_t sd, uint32_t addr, uint32_t port);
int32_t shoal_udp_connect(shoal_t *s, int32_t sd, uint32_t addr, uint32_t port);
int32_t shoal_udp_broadcast(shoal_t *s, int32_t sd, uint32_t on);
/* Sends len bytes the caller wrote at the io area; dst 0 and port 0 on a connected socket. Returns len. */
int32_t shoal_udp_send(shoal_t *s, int32_t sd, uint32_t dst, uint32_t port, uint32_t len);
/* Writes up to max shoal_udp_rec_t records into the io area; returns how many. */
int32_t shoal_udp_recv(shoal_t *s, int32_t sd, uint32_t max);
/* Local address and port into io words 0 and 1. */
int32_t shoal_udp_local(shoal_t *s, int32_t sd);
int32_t shoal_udp_close(shoal_t *s, int32_t sd);

/* ---- Exports: TCP (§9). sd is a TCB index; errors are -errno. ---------- */
/* Every sd from tcp_open or tcp_accept is released exactly once, by tcp_close
 * or tcp_abort, even after SHOAL_EV_TCP_CLOSED or SHOAL_EV_TCP_ERROR. */

int32_t shoal_tcp_open(shoal_t *s);
/* Listens on addr:port (addr 0: any; port 0: an ephemeral one, read it with tcp_info). */
int32_t shoal_tcp_listen(shoal_t *s, int32_t sd, uint32_t addr, uint32_t port, uint32_t backlog);
/* Active open from laddr:lport (0: chosen) to raddr:rport; completes with SHOAL_EV_TCP_CONNECTED or SHOAL_EV_TCP_ERROR. */
int32_t shoal_tcp_connect(shoal_t *s, int32_t sd, uint32_t raddr, uint32_t rport, uint32_t laddr, uint32_t lport);
/* A connection from the listener's accept queue, or -SHOAL_EAGAIN. */
int32_t shoal_tcp_accept(shoal_t *s, int32_t lsd);
/* Free send space: io words 0, 1 = (address, contiguous bytes, at most SHOAL_TCP_CHUNK); returns
 * the bytes (0: full, SHOAL_EV_TCP_WRITABLE follows). Allowed from tcp_connect on. */
int32_t shoal_tcp_send_space(shoal_t *s, int32_t sd);
/* Publishes n bytes written at the address tcp_send_space gave (n <= what it returned).
 * more 1: more bytes follow at once (MSG_MORE): output waits for a commit with more 0, or the
 * next poll, and goes out in whole segments; more 0: the core may transmit now. */
int32_t shoal_tcp_send_commit(shoal_t *s, int32_t sd, uint32_t n, uint32_t more);
/* Up to max received bytes as shoal_seg_t records in the io area, in stream order (loans:
 * valid until the next call, which frees them); returns the record count (0: nothing queued). */
int32_t shoal_tcp_recv(shoal_t *s, int32_t sd, uint32_t max);
/* Half-close: a FIN follows the queued data. */
int32_t shoal_tcp_shutdown(shoal_t *s, int32_t sd);
/* Lets go of the descriptor; the connection finishes on its own (a RST instead if received
 * data is left unread; a listener resets connections not yet accepted). */
int32_t shoal_tcp_close(shoal_t *s, int32_t sd);
/* Sends a RST (from SYN-RECEIVED on) and lets go of the descriptor. */
int32_t shoal_tcp_abort(shoal_t *s, int32_t sd);
/* SHOAL_TCP_OPT_* */
int32_t shoal_tcp_setopt(shoal_t *s, int32_t sd, uint32_t opt, uint32_t val);
/* State, addresses and numbers into the io area as a shoal_tcp_info_t. */
int32_t shoal_tcp_info(shoal_t *s, int32_t sd);
/* The same for TCB number i whether or not the host holds it (orphans, children
 * not yet accepted, TIME-WAIT), for diagnostics; -EBADF for a free one. */
int32_t shoal_tcp_tcb_info(shoal_t *s, uint32_t i);
/* TCP table occupancy into the io area as a shoal_tcp_tables_t (§11). */
int32_t shoal_tcp_tables(shoal_t *s);

/* The cluster (§13). Joins as own address me, control port port, the key's keyLen bytes in the io
 * area; epoch and seq0 grow from one start of the instance to the next; heartbeats every intervalMs
 * (0: 20); a returning routing stack waits holdMs before it takes a VIPA back. */
int32_t shoal_cluster_join(shoal_t *s, uint32_t me, uint32_t port, uint32_t keyLen, uint32_t epoch, uint32_t seq0,
                           uint32_t intervalMs, uint32_t holdMs);
/* Routes the VIPA an announcement body (len bytes in the io area) describes; again: reconfigures it.
 * wait 1: a restarting routing stack listens first for a backup that holds the VIPA. */
int32_t shoal_vipa_route(shoal_t *s, uint32_t len, uint32_t idleMs, uint32_t crtMax, uint32_t wait);
int32_t shoal_vipa_unroute(shoal_t *s, uint32_t vipa);
/* As a target: quiesces (on 1) or resumes (on 0) the listeners on port (0: every port). */
int32_t shoal_cluster_quiesce(shoal_t *s, uint32_t port, uint32_t on);
/* The i-th VIPA known, into the io area: role, body length, announcement body; bytes (0: free; -1: past the last). */
int32_t shoal_cluster_view(shoal_t *s, uint32_t i);
/* A VIPA's DPT into the io area as shoal_dpt_rec_t records; how many. */
int32_t shoal_dpt_rows(shoal_t *s, uint32_t vipa);
/* CRT entries of a VIPA (0: all) from slot start: io word 0 the slot to go on from, shoal_crt_rec_t from byte 16; how many. */
int32_t shoal_crt_rows(shoal_t *s, uint32_t vipa, uint32_t start);

/* ---- Exports: introspection ------------------------------------------- */

/* Neighbour entries in use and buffers held by reassembly, into io words 0 and 1. */
int32_t shoal_tables(shoal_t *s);

/* The export "memory": base of the instance's linear memory. Stable after
 * init() (the only call that grows memory); re-read it after init(). */
uint8_t *shoal_memory(shoal_t *s);

/* ---- The shared control block: byte offsets from shoal_scb() (§3) ----- */

#define SHOAL_SCB_RX_COUNT      0   /* host -> core: rx descriptors filled */
#define SHOAL_SCB_TX_COUNT      4   /* core -> host: tx descriptors ready; host sets 0 once sent */
#define SHOAL_SCB_EV_COUNT      8   /* core -> host: events ready; host sets 0 once read */
#define SHOAL_SCB_FREE_COUNT   12   /* depth of the free-buffer stack (both sides pop and push) */
#define SHOAL_SCB_RX_DESC      16   /* address of the rx descriptors (shoal_desc_t) */
#define SHOAL_SCB_RX_CAP       20
#define SHOAL_SCB_TX_DESC      24   /* address of the tx descriptors (shoal_desc_t) */
#define SHOAL_SCB_TX_CAP       28
#define SHOAL_SCB_EV           32   /* address of the event ring (shoal_event_t) */
#define SHOAL_SCB_EV_CAP       36
#define SHOAL_SCB_FREE         40   /* address of the free-buffer stack (uint32_t buffer addresses) */
#define SHOAL_SCB_BUF_SIZE     44   /* bytes per packet buffer */
#define SHOAL_SCB_BUF_DATA     48   /* offset in a buffer where a received frame may start */
#define SHOAL_SCB_IO           52   /* address of the io area */
#define SHOAL_SCB_IO_CAP       56
#define SHOAL_SCB_COUNTERS     60   /* address of the uint32_t counters */
#define SHOAL_SCB_NCOUNTERS    64
#define SHOAL_SCB_NAMES        68   /* counter names: ASCII, comma separated */
#define SHOAL_SCB_NAMES_BYTES  72
#define SHOAL_SCB_EV_LOST      76   /* events dropped on a full ring since the host last cleared it */
#define SHOAL_SCB_POOL         80   /* address of the first packet buffer */
#define SHOAL_SCB_NBUFS        84
#define SHOAL_SCB_MEM_END      88   /* end of the core's memory after init() */
#define SHOAL_SCB_ABI_VERSION  92
/* Large buffers (all zero without SHOAL_CFG_LARGE_BYTES): a frame up to 65553 bytes whole (§6). */
#define SHOAL_SCB_LARGE_FREE   96   /* address of the large-buffer free stack */
#define SHOAL_SCB_LARGE_FREE_COUNT 100 /* its depth (both sides pop and push) */
#define SHOAL_SCB_LARGE_SIZE  104   /* bytes per large buffer (a frame goes at SHOAL_SCB_BUF_DATA, as in small ones) */
#define SHOAL_SCB_LARGE_POOL  108   /* address of the first large buffer */
#define SHOAL_SCB_LARGE_NBUFS 112

/* Configuration words, written by the host before init(); 0 means the default. */
#define SHOAL_CFG_POOL_BYTES   128  /* packet-buffer pool bytes (8 MiB) */
#define SHOAL_CFG_MAX_FRAME    132  /* largest frame, MTU + 14 (1514; 590..65549) */
#define SHOAL_CFG_RX_RING      136  /* rx descriptors (1024) */
#define SHOAL_CFG_TX_ARENA     140  /* bytes for frames built between two host flushes (max(1 MiB, 8 frames)) */
#define SHOAL_CFG_TX_RING      144  /* tx descriptors (2048) */
#define SHOAL_CFG_EVENTS       148  /* event ring entries (1024) */
#define SHOAL_CFG_IO_BYTES     152  /* io area bytes (128 KiB; at least 65600) */
#define SHOAL_CFG_NEIGH        156  /* neighbour cache entries, rounded up to a power of two (256) */
#define SHOAL_CFG_ARP_QLEN     160  /* packets held per unresolved neighbour (64) */
#define SHOAL_CFG_REASM        164  /* datagrams in reassembly at once (16) */
#define SHOAL_CFG_REASM_BUFS   168  /* buffers reassembly may hold in all (half the pool) */
#define SHOAL_CFG_UDP_SOCKS    172  /* UDP sockets (64) */
#define SHOAL_CFG_UDP_QLEN     176  /* datagrams queued per UDP socket (256) */
#define SHOAL_CFG_SEED0        180  /* four words of secret (RFC 6528, RFC 6056) */
#define SHOAL_CFG_SEED1        184
#define SHOAL_CFG_SEED2        188
#define SHOAL_CFG_SEED3        192
#define SHOAL_CFG_ICMP_RATE    196  /* ICMP errors per second (100) */
#define SHOAL_CFG_NEIGH_TTL    200  /* ms a resolved neighbour stays reachable (60000) */
#define SHOAL_CFG_REASM_MS     204  /* reassembly timeout, ms (30000) */
#define SHOAL_CFG_TCP_SOCKS    208  /* TCBs: connections, listeners and TIME-WAIT together (4096) */
#define SHOAL_CFG_TCP_SNDBUF   212  /* default send buffer per socket, bytes (1 MiB; at least 4096) */
#define SHOAL_CFG_TCP_RCVBUF   216  /* default receive buffer per socket, bytes (1 MiB; at least 4096) */
#define SHOAL_CFG_MEM_LIMIT    220  /* init() fails with -ENOMEM if the layout needs more bytes (0: no limit) */
#define SHOAL_CFG_TCP_MSL      224  /* ms; TIME-WAIT lasts twice this (30000) */
#define SHOAL_CFG_TCP_CHUNKS   228  /* SHOAL_TCP_CHUNK-byte send-buffer chunks shared by all sockets (1024) */
#define SHOAL_CFG_TCP_OOO      232  /* out-of-order segments per socket (0: as many as the window holds) */
#define SHOAL_CFG_TCP_FIN_TIMEOUT 236 /* ms an orphaned FIN-WAIT-2 waits (60000) */
#define SHOAL_CFG_TCP_CC       240  /* default congestion control, as SHOAL_TCP_OPT_CC: SHOAL_TCP_CC_* (0: CUBIC) */
#define SHOAL_CFG_TCP_MIN_RTO  244  /* ms (200) */
#define SHOAL_CFG_TCP_DELACK   248  /* ms (40) */
#define SHOAL_CFG_TCP_CHALLENGE 252 /* challenge ACKs per second on each connection (2) */
#define SHOAL_CFG_TCP_SYN_RETRIES 256 /* (6) */
#define SHOAL_CFG_TCP_INIT_CWND 260 /* segments (10) */
#define SHOAL_CFG_TCP_INIT_RTO 264  /* ms (1000) */
#define SHOAL_CFG_LARGE_BYTES  268  /* bytes of large buffers (0: none; none either when MAX_FRAME is 65549) */
#define SHOAL_CFG_CRT_ENTRIES  272  /* CRT entries, all routed VIPAs together (4096; 36.6 bytes each) (§13) */
#define SHOAL_CFG_DPT_ROWS     276  /* DPT rows: VIPA:port pairs with a listening target (64) */
#define SHOAL_CFG_DPT_TARGETS  280  /* targets per DPT row (16; at most 255) */
#define SHOAL_CFG_MAGLEV       284  /* Maglev tables, 64 KiB each, for rows of the hash method (2) */
#define SHOAL_CFG_CLUSTER_STACKS 288 /* stacks the control messages' replay guard follows (64) */

/* ---- Rings and records in linear memory (§6, §7) ---------------------- */

/* An rx or tx descriptor: 16 bytes. */
typedef struct shoal_desc {
  uint32_t ptr;    /* address of the frame's first byte (Ethernet header, no FCS) */
  uint32_t len;    /* frame bytes (in this buffer, for a frame over several: SHOAL_FRAME_MORE) */
  uint32_t word;   /* interface index | flags << 16 */
  uint32_t gso;    /* tx: payload bytes per segment of a SHOAL_FRAME_GSO frame, else 0; rx: reserved, write 0 */
} shoal_desc_t;
#define SHOAL_DESC_BYTES 16
#define SHOAL_DESC_WORD(ifx, flags) ((uint32_t)(ifx) | ((uint32_t)(flags) << 16))
#define SHOAL_DESC_IFX(word)        ((word) & 0xffffu)
#define SHOAL_DESC_FLAGS(word)      ((word) >> 16)
/* Frame flags (docs/ABI.md §6); other bits are reserved (0). The tx ones appear only after if_offload. */
#define SHOAL_FRAME_CSUM_OK      1  /* rx: the transport checksum is known good (the link cannot corrupt) */
#define SHOAL_FRAME_MORE         2  /* rx, tx: the next descriptor continues this frame (rx: IPv4 TCP/UDP only; headers in the first) */
#define SHOAL_FRAME_CSUM_PARTIAL 4  /* tx: the TCP/UDP checksum field holds the folded pseudo-header sum, not complemented */
#define SHOAL_FRAME_GSO          8  /* tx: one IPv4 TCP segment over the MTU (bare or IP-in-IP), to be cut at gso payload bytes (with CSUM_PARTIAL) */
#define SHOAL_FRAME_PACKED      16  /* tx: a run of records (u32 len; u32 flags | gso << 16; the frame, padded to 8), not one frame */

/* An event: 16 bytes. */
typedef struct shoal_event {
  uint32_t type, a, b, c;
} shoal_event_t;
#define SHOAL_EV_UDP_READABLE  1    /* a: socket (raised when its queue becomes non-empty) */
#define SHOAL_EV_ECHO_REPLY    2    /* a: id << 16 | seq, b: source address, c: payload bytes */
#define SHOAL_EV_UNREACHABLE   3    /* a: address, b: ICMP type << 8 | code (0: ARP failed), c: id << 16 | seq of the echo (0 for ARP) */
#define SHOAL_EV_UDP_ERROR     4    /* a: UDP socket, b: ICMP type << 8 | code, c: the address it was about */
#define SHOAL_EV_ADDR_CONFLICT 5    /* a: our address another MAC claims, b: ifx << 16 | its MAC's first 2 bytes, c: its last 4 */
#define SHOAL_EV_CLUSTER       6    /* a: VIPA, b: an address, c: SHOAL_CE_* | SHOAL_CR_* << 8 | a number << 16 (§13) */
#define SHOAL_CE_CLAIM         1    /* this instance claimed the VIPA; b: the owner it took it from (0: none) */
#define SHOAL_CE_READY         2    /* its takeover is complete; b: CRT entries, c >> 16: ms it took */
#define SHOAL_CE_YIELD         3    /* it gave the VIPA up; b: to whom (0: not known yet) */
#define SHOAL_CE_OWNER         4    /* another instance routes the VIPA now; b: its address */
#define SHOAL_CE_TARGET_LOST   5    /* a target went silent; b: its address, c >> 16: CRT entries dropped */
#define SHOAL_CR_CONFIG        0    /* why: vipa_route */
#define SHOAL_CR_START         1    /* it started and heard no owner */
#define SHOAL_CR_DEAD          2    /* the owner went silent */
#define SHOAL_CR_TAKEBACK      3    /* a better rank took it back */
#define SHOAL_CR_SPLIT         4    /* two owners met: the better rank keeps it */
#define SHOAL_CR_IDLE          5    /* takeback when idle: the owner had no connections left */
#define SHOAL_EV_TCP          16    /* TCP event numbers start here; a: socket */
#define SHOAL_EV_TCP_CONNECTED 16  /* active open completed */
#define SHOAL_EV_TCP_ACCEPT    17  /* a: listener with a connection to accept */
#define SHOAL_EV_TCP_READABLE  18  /* data to tcp_recv (raised on the transition) */
#define SHOAL_EV_TCP_WRITABLE  19  /* send space opened after tcp_send_space returned 0 */
#define SHOAL_EV_TCP_FIN       20  /* the peer ended its stream */
#define SHOAL_EV_TCP_CLOSED    21  /* both directions finished */
#define SHOAL_EV_TCP_ERROR     22  /* b: errno (positive) */

/* TCP_ERROR's errno (b) is one of SHOAL_ECONNREFUSED, SHOAL_ECONNRESET, SHOAL_ETIMEDOUT, or
 * SHOAL_EHOSTUNREACH (an ICMP error seen before the connection timed out). */

/* tcp_setopt options. */
#define SHOAL_TCP_OPT_NODELAY   1   /* 1: no Nagle */
#define SHOAL_TCP_OPT_KEEPALIVE 2   /* idle ms before the first probe, 0: off */
#define SHOAL_TCP_OPT_KEEPINTVL 3   /* ms between probes (75000) */
#define SHOAL_TCP_OPT_KEEPCNT   4   /* probes before the connection is dropped (9) */
#define SHOAL_TCP_OPT_CC        5   /* SHOAL_TCP_CC_* */
#define SHOAL_TCP_OPT_SNDBUF    6   /* bytes, at least 2048 */
#define SHOAL_TCP_OPT_RCVBUF    7   /* bytes, at least 2048; once connected it only grows */
#define SHOAL_TCP_CC_CUBIC      0
#define SHOAL_TCP_CC_NEWRENO    1
#define SHOAL_TCP_CC_BBR        2   /* BBR's path model without pacing (docs/ABI.md §9); ABI 4, added compatibly */

#define SHOAL_TCP_CHUNK     16384   /* send-buffer chunk: the most tcp_send_space offers at once */

/* Connection states (shoal_tcp_info_t.state). */
#define SHOAL_TCP_CLOSED        1   /* gone (after SHOAL_EV_TCP_ERROR, a reset, …); the host still holds sd */
#define SHOAL_TCP_LISTEN        2
#define SHOAL_TCP_SYN_SENT      3
#define SHOAL_TCP_SYN_RCVD      4
#define SHOAL_TCP_ESTABLISHED   5
#define SHOAL_TCP_FIN_WAIT_1    6
#define SHOAL_TCP_FIN_WAIT_2    7
#define SHOAL_TCP_CLOSE_WAIT    8
#define SHOAL_TCP_CLOSING       9
#define SHOAL_TCP_LAST_ACK     10
#define SHOAL_TCP_TIME_WAIT    11

/* tcp_info(sd) writes this at the io area: 26 words. Sequence numbers are raw (not relative). */
typedef struct shoal_tcp_info {
  uint32_t state;       /*  0 SHOAL_TCP_* */
  uint32_t laddr;       /*  1 local address */
  uint32_t lport;       /*  2 local port (a listener's ephemeral port shows here) */
  uint32_t raddr;       /*  3 remote address */
  uint32_t rport;       /*  4 remote port */
  uint32_t flags;       /*  5 internal flags, for debugging only (bit 0: the host holds sd) */
  uint32_t snd_una;     /*  6 oldest unacknowledged sequence number */
  uint32_t snd_nxt;     /*  7 next sequence number to send */
  uint32_t rcv_nxt;     /*  8 next sequence number expected */
  uint32_t snd_wnd;     /*  9 peer's window, bytes (scaled) */
  uint32_t cwnd;        /* 10 congestion window, bytes */
  uint32_t ssthresh;    /* 11 bytes */
  uint32_t srtt_us;     /* 12 smoothed RTT, µs (0: no sample yet) */
  uint32_t rto_ms;      /* 13 retransmission timeout, ms */
  uint32_t mss;         /* 14 payload bytes per segment sent (options excluded) */
  uint32_t snd_queued;  /* 15 bytes in the send buffer (unacknowledged and unsent) */
  uint32_t rcv_queued;  /* 16 bytes received in order, not yet read */
  uint32_t ooo_queued;  /* 17 bytes held out of order */
  uint32_t wscale;      /* 18 window scale shifts: bits 0-7 the peer's (send), bits 8-15 ours (receive) */
  uint32_t snd_max;     /* 19 highest sequence number sent + 1 */
  uint32_t rcv_wnd;     /* 20 receive window last advertised, bytes from rcv_nxt */
  uint32_t accept_q;    /* 21 listener: connections waiting for tcp_accept */
  uint32_t syn_q;       /* 22 listener: connections in SYN-RECEIVED */
  uint32_t soft_error;  /* 23 errno of an ICMP error seen on the connection (0: none) */
  uint32_t chunks;      /* 24 send-buffer chunks held */
  uint32_t cc;          /* 25 SHOAL_TCP_CC_* */
} shoal_tcp_info_t;
#define SHOAL_TCP_INFO_WORDS 26

/* tcp_tables() writes this at the io area: 6 words. */
typedef struct shoal_tcp_tables {
  uint32_t tcbs_used;   /* connections, listeners and TIME-WAIT entries */
  uint32_t time_wait;   /* of which in TIME-WAIT */
  uint32_t chunks_used; /* send-buffer chunks held */
  uint32_t chunks;      /* SHOAL_CFG_TCP_CHUNKS */
  uint32_t tcbs;        /* SHOAL_CFG_TCP_SOCKS */
  uint32_t timers;      /* TCBs with a timer armed */
} shoal_tcp_tables_t;
#define SHOAL_TCP_TABLES_WORDS 6

/* A dpt_rows record (§13): one target of one VIPA:port. */
typedef struct shoal_dpt_rec {
  uint32_t port, target, ready, listeners, weight, total, active, synsForwarded, established, acceptOverflows, healthy, quiesced;
} shoal_dpt_rec_t;
/* A crt_rows record (§13): one connection and its target. */
typedef struct shoal_crt_rec {
  uint32_t client, clientPort, vipa, port, target, state, idleMs, frames, origin, ageMs;
} shoal_crt_rec_t;

/* A tcp_recv record is one shoal_seg_t (below): address and length of received bytes. */

/* A udp_recv record in the io area: this header, then nseg shoal_seg_t. */
typedef struct shoal_udp_rec {
  uint32_t src;     /* source address */
  uint32_t sport;   /* source port */
  uint32_t length;  /* payload bytes in all */
  uint32_t nseg;    /* segments that follow (more than 1 only for a reassembled datagram) */
} shoal_udp_rec_t;
typedef struct shoal_seg {
  uint32_t ptr;     /* address of the bytes, in a packet buffer: valid until the next call into the core */
  uint32_t len;
} shoal_seg_t;

#define SHOAL_NCOUNTERS 127         /* counters in this build (read SHOAL_SCB_NCOUNTERS at run time) */
/* New ones are appended; ABI 2 added rxChainBad (87), ipChainBad (88), txGsoDrop (89), neighProbeFailed (90), tcpTlp (91), loopback (92) and txGathered (93); ABI 3 added ipBadOption (94), ipSourceRoute (95), arpConflict (96) and the cluster's clusterForwarded (97) to clusterEnded (119) and clusterDptFull (120); ABI 4 added clusterTakeovers (121), clusterYields (122), clusterHeld (123), clusterHeldDropped (124), clusterMisdirected (125) and clusterTargetsLost (126). Names: SHOAL_SCB_NAMES (ASCII). */
#define SHOAL_IO_MIN 65600          /* the io area is never smaller */

/* ---- Values ------------------------------------------------------------ */

/* IPv4 addresses are host-order numbers: 10.0.0.1 is 0x0a000001. */
#define SHOAL_IP4(a, b, c, d) \
  (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
/* A MAC 02:00:00:00:00:01 is mac_hi 0x0200, mac_lo 0x00000001. */
#define SHOAL_MAC_HI(m) (((uint32_t)(m)[0] << 8) | (uint32_t)(m)[1])
#define SHOAL_MAC_LO(m) \
  (((uint32_t)(m)[2] << 24) | ((uint32_t)(m)[3] << 16) | ((uint32_t)(m)[4] << 8) | (uint32_t)(m)[5])

/* Errors: calls return a negative Linux errno, -SHOAL_Exxx. */
#define SHOAL_ENOENT         2
#define SHOAL_EBADF          9
#define SHOAL_EAGAIN        11
#define SHOAL_ENOMEM        12
#define SHOAL_EACCES        13
#define SHOAL_EEXIST        17
#define SHOAL_EINVAL        22
#define SHOAL_EMFILE        24
#define SHOAL_ENOSPC        28
#define SHOAL_EMSGSIZE      90
#define SHOAL_EADDRINUSE    98
#define SHOAL_EADDRNOTAVAIL 99
#define SHOAL_ENETUNREACH  101
#define SHOAL_ENOBUFS      105
#define SHOAL_EPIPE         32
#define SHOAL_ECONNABORTED 103
#define SHOAL_ECONNRESET   104
#define SHOAL_EISCONN      106
#define SHOAL_ENOTCONN     107
#define SHOAL_ETIMEDOUT    110
#define SHOAL_ECONNREFUSED 111
#define SHOAL_EHOSTUNREACH 113
#define SHOAL_EALREADY     114

#ifdef __cplusplus
}
#endif

#endif /* SHOAL_H */
