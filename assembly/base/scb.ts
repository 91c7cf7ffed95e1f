// The shared control block: the one fixed place where host and core meet.
// Word offsets here are part of the ABI (docs/ABI.md); never reorder them.
// The host writes config words before init(); init() fills in where every
// ring lives. Counts are read and written by both sides between calls (the
// core and the host never run at the same time).

export const SCB: usize = memory.data(512, 16);

// Rings and their state.
export const SCB_RX_COUNT: usize = 0;     // host → core: rx descriptors filled
export const SCB_TX_COUNT: usize = 4;     // core → host: tx descriptors ready; host sets 0 once sent
export const SCB_EV_COUNT: usize = 8;     // core → host: events ready; host sets 0 once read
export const SCB_FREE_COUNT: usize = 12;  // depth of the free-buffer stack (both sides pop/push)
export const SCB_RX_DESC: usize = 16;     // address of rx descriptors (4 × u32: ptr, len, ifindex | flags << 16, gso)
export const SCB_RX_CAP: usize = 20;
export const SCB_TX_DESC: usize = 24;     // address of tx descriptors (same layout)
export const SCB_TX_CAP: usize = 28;
export const SCB_EV: usize = 32;          // address of events (4 × u32: type, a, b, c)
export const SCB_EV_CAP: usize = 36;
export const SCB_FREE: usize = 40;        // address of the free-buffer stack (u32 buffer addresses)
export const SCB_BUF_SIZE: usize = 44;    // bytes per packet buffer
export const SCB_BUF_DATA: usize = 48;    // where in a buffer the host writes a received frame
export const SCB_IO: usize = 52;          // address of the io area (payloads and call results)
export const SCB_IO_CAP: usize = 56;
export const SCB_COUNTERS: usize = 60;    // address of the u32 counters
export const SCB_NCOUNTERS: usize = 64;
export const SCB_NAMES: usize = 68;       // counter names: ASCII, comma separated
export const SCB_NAMES_BYTES: usize = 72;
export const SCB_EV_LOST: usize = 76;     // events dropped because the ring was full (host rescans)
export const SCB_POOL: usize = 80;        // address of the first packet buffer
export const SCB_NBUFS: usize = 84;
export const SCB_MEM_END: usize = 88;     // end of the core's memory after init
export const SCB_ABI_VERSION: usize = 92;
// Large buffers (zero when CFG_LARGE_BYTES is): each holds a frame of up to
// 65553 bytes whole; the host may post one instead of a chain (§6).
export const SCB_LARGE_FREE: usize = 96;        // address of the large-buffer free stack
export const SCB_LARGE_FREE_COUNT: usize = 100; // its depth (both sides pop/push)
export const SCB_LARGE_SIZE: usize = 104;       // bytes per large buffer (frame at BUF_DATA, as in small ones)
export const SCB_LARGE_POOL: usize = 108;       // address of the first large buffer
export const SCB_LARGE_NBUFS: usize = 112;

// Configuration, written by the host before init(). Zero means "default".
export const CFG_POOL_BYTES: usize = 128;   // packet-buffer pool
export const CFG_MAX_FRAME: usize = 132;    // largest frame any interface will carry (MTU + 14)
export const CFG_RX_RING: usize = 136;      // rx descriptors
export const CFG_TX_ARENA: usize = 140;     // bytes for frames built between two host flushes
export const CFG_TX_RING: usize = 144;
export const CFG_EVENTS: usize = 148;
export const CFG_IO_BYTES: usize = 152;
export const CFG_NEIGH: usize = 156;        // neighbour cache entries (power of two)
export const CFG_ARP_QLEN: usize = 160;     // packets held per unresolved neighbour
export const CFG_REASM: usize = 164;        // datagrams in reassembly at once
export const CFG_REASM_BUFS: usize = 168;   // buffers reassembly may hold in all
export const CFG_UDP_SOCKS: usize = 172;
export const CFG_UDP_QLEN: usize = 176;     // datagrams queued per UDP socket
export const CFG_SEED0: usize = 180;        // four words of secret from the host (RFC 6528, RFC 6056)
export const CFG_SEED1: usize = 184;
export const CFG_SEED2: usize = 188;
export const CFG_SEED3: usize = 192;
export const CFG_ICMP_RATE: usize = 196;    // ICMP errors per second (token bucket)
export const CFG_NEIGH_TTL: usize = 200;    // ms a resolved neighbour stays reachable
export const CFG_REASM_MS: usize = 204;     // reassembly timeout
export const CFG_TCP_SOCKS: usize = 208;
export const CFG_TCP_SNDBUF: usize = 212;
export const CFG_TCP_RCVBUF: usize = 216;
export const CFG_MEM_LIMIT: usize = 220;    // init fails if the layout needs more
export const CFG_TCP_MSL: usize = 224;      // ms; TIME-WAIT lasts twice this (default 30000)
export const CFG_TCP_CHUNKS: usize = 228;   // 16 KiB send-buffer chunks shared by all sockets
export const CFG_TCP_OOO: usize = 232;      // out-of-order segments held per socket (default: as many as the receive window holds)
export const CFG_TCP_FIN_TIMEOUT: usize = 236; // ms an orphaned FIN-WAIT-2 waits (default 60000)
export const CFG_TCP_CC: usize = 240;       // default congestion control, as OPT_CC: 0 CUBIC (the default), 1 NewReno
export const CFG_TCP_MIN_RTO: usize = 244;  // ms (default 200)
export const CFG_TCP_DELACK: usize = 248;   // ms (default 40)
export const CFG_TCP_CHALLENGE: usize = 252; // challenge ACKs per second on each connection (default 2)
export const CFG_TCP_SYN_RETRIES: usize = 256; // default 6
export const CFG_TCP_INIT_CWND: usize = 260; // segments (default 10)
export const CFG_TCP_INIT_RTO: usize = 264; // ms (default 1000)
export const CFG_LARGE_BYTES: usize = 268;  // bytes of large buffers (default 0: none)
export const CFG_CRT_ENTRIES: usize = 272;  // CRT entries, all routed VIPAs together (default 4096)
export const CFG_DPT_ROWS: usize = 276;     // DPT rows: VIPA:port pairs with a listening target (default 64)
export const CFG_DPT_TARGETS: usize = 280;  // targets per DPT row (default 16, at most 255)
export const CFG_MAGLEV: usize = 284;       // Maglev tables (64 KiB each) for DPT rows of the hash method (default 2)
export const CFG_CLUSTER_STACKS: usize = 288; // stacks whose control messages the replay guard follows (default 64)

export const ABI_VERSION: u32 = 4;

// Descriptors: ptr, len, ifindex | flags << 16, gso (the segment size of a FRAME_GSO frame, else 0).
export const DESC_BYTES: usize = 16;
// Frame flags in a descriptor (docs/ABI.md §6), the virtio-net offloads in miniature.
export const FRAME_CSUM_OK: u32 = 1;      // rx: the transport checksum is known good
export const FRAME_MORE: u32 = 2;         // rx: the next descriptor continues this frame
export const FRAME_CSUM_PARTIAL: u32 = 4; // tx: the L4 checksum field holds the folded pseudo-header sum only
export const FRAME_GSO: u32 = 8;          // tx: one TCP segment larger than the MTU, to be cut at gso bytes
export const FRAME_PACKED: u32 = 16;      // tx: a run of packed frames (if_offload's packed bit), records back to back

// @ts-ignore: decorator
@inline export function scbGet(off: usize): u32 { return load<u32>(SCB + off); }
// @ts-ignore: decorator
@inline export function scbSet(off: usize, v: u32): void { store<u32>(SCB + off, v); }
/** A config word, or its default when the host left it zero (only init reads them: not inlined). */
export function cfg(off: usize, dflt: u32): u32 {
  let v = load<u32>(SCB + off);
  return v ? v : dflt;
}
