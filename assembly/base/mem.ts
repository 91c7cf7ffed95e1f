// Memory: everything the core will ever use is laid out once, in init(), and
// never grows afterwards. Modules reserve their tables from a bump arena; the
// packet-buffer pool goes last and ends exactly at the end of linear memory,
// so a frame placed flush against the end of its buffer traps on any read
// past its length (the fuzz harness relies on this).
import { SCB_FREE, SCB_FREE_COUNT, SCB_BUF_SIZE, SCB_BUF_DATA, SCB_POOL, SCB_NBUFS, SCB_MEM_END,
  SCB_LARGE_FREE, SCB_LARGE_FREE_COUNT, SCB_LARGE_SIZE, SCB_LARGE_POOL, SCB_LARGE_NBUFS, SCB_TX_DESC, FRAME_MORE, FRAME_CSUM_OK, FRAME_PACKED, SCB_TX_CAP, SCB_TX_COUNT, DESC_BYTES, scbGet, scbSet } from './scb';
import { count, countN, C_POOL_EMPTY, C_TX_ARENA_FULL, C_TX_FRAMES, C_TX_BYTES, C_TX_GATHERED } from './counters';

let arenaStart: usize = 0;
let arenaTop: usize = 0;

/** Starts the layout. Returns false if init already ran. */
export function arenaBegin(): bool {
  if (arenaStart != 0) return false;
  arenaStart = (heap.alloc(16) + 63) & ~<usize>63;
  arenaTop = arenaStart;
  return true;
}

/** Reserves bytes (zeroed once committed), 64-byte aligned. */
export function arenaReserve(bytes: usize): usize {
  let p = arenaTop;
  arenaTop = (arenaTop + bytes + 63) & ~<usize>63;
  return p;
}

/** In a table of n entries of size bytes at base, each keyed by a non-zero
 * u32 at its start (0: free): the entry holding key, else the first free
 * one, else 0 (full). */
export function tableSlot(base: usize, n: u32, size: u32, key: u32): usize {
  let free: usize = 0;
  for (let i: u32 = 0; i < n; i++) {
    let e = base + <usize>i * size;
    let k = load<u32>(e);
    if (k == key) return e;
    if (k == 0 && free == 0) free = e;
  }
  return free;
}

// Packet buffers: [meta 64 B][headroom][frame ...]. The host writes a
// received frame at BUF_DATA; the headroom lets the core prepend headers
// (IP-in-IP on a routing stack: ipEncap) without moving the frame.
export const PKT_NEXT: usize = 0;    // next buffer of the same packet (fragments)
export const PKT_QNEXT: usize = 4;   // next packet in a queue
export const PKT_DATA: usize = 8;    // address of this buffer's payload
export const PKT_LEN: usize = 12;    // payload bytes in this buffer
export const PKT_TOTAL: usize = 16;  // payload bytes of the whole packet (head buffer)
export const PKT_A: usize = 20;      // the owner's words: see the names below
export const PKT_B: usize = 24;
export const PKT_C: usize = 28;
export const PKT_D: usize = 32;
// What each owner keeps in those words. A received datagram keeps IP's two
// (PKT_IP, PKT_RX) all the way up; the words a layer below is done with are
// taken over above it, so B and C mean one thing per owner:
//   A  PKT_IP         IP input on: the address of the IPv4 header
//   B  PKT_FRAG_OFF   reassembly, each fragment it holds: its offset in the datagram
//   B  PKT_UDP_SRC    UDP, each datagram in a socket's queue: source address
//   C  PKT_UDP_SPORT  ... and source port
//   B  PKT_TCP_SEQ    TCP, each segment in the out-of-order queue: its first sequence number
//   C  PKT_TCP_FIN    ... and 1 if it carries a FIN
//   D  PKT_RX         IP input on: ifx | rx flags << 16 | bit 31 for a broadcast
//                     destination; in the loopback's queue, the ifx alone
export const PKT_IP: usize = PKT_A;
export const PKT_FRAG_OFF: usize = PKT_B;
export const PKT_UDP_SRC: usize = PKT_B;
export const PKT_UDP_SPORT: usize = PKT_C;
export const PKT_TCP_SEQ: usize = PKT_B;
export const PKT_TCP_FIN: usize = PKT_C;
export const PKT_RX: usize = PKT_D;
export const PKT_STATE: usize = 36;  // STATE_FREE or STATE_USED
export const BUF_DATA: u32 = 128;
/** Where a buffer's metadata ends and its headroom starts. */
export const BUF_META: u32 = 64;

const STATE_FREE: u32 = 0;
const STATE_USED: u32 = 0x55534544;

export let poolBase: usize = 0;
export let bufSize: u32 = 0;
export let nbufs: u32 = 0;
let freeStack: usize = 0;

// Large buffers (optional, CFG_LARGE_BYTES): each holds the largest frame
// whole, so a 64 KiB segment a link merged (GSO) is one buffer instead of a
// chain of MTU-sized ones. Only the host takes them, for large received
// frames; they lie just below the small pool and have their own free stack.
export let largeBase: usize = 0;
export let largeSize: u32 = 0;
export let nlarge: u32 = 0;
/** What one large buffer counts as, in small buffers, where TCP weighs what it holds. */
export let largeUnits: u32 = 1;
let largeStack: usize = 0;

/** The largest frame a large buffer holds: an IPv4 packet of 65535 bytes with a tagged Ethernet header. */
const LARGE_FRAME: u32 = 65535 + 18;

/** Lays out the pools at the end of memory and grows memory once to hold them all. */
export function arenaCommit(poolBytes: u32, largeBytes: u32, maxFrame: u32, limit: u32): bool {
  bufSize = (BUF_DATA + maxFrame + 63) & ~63;
  nbufs = poolBytes / bufSize;
  if (nbufs < 16) nbufs = 16;
  let lsize = (BUF_DATA + LARGE_FRAME + 63) & ~63;
  // Where small buffers already hold any frame, large ones would add nothing.
  nlarge = bufSize < lsize ? largeBytes / lsize : 0;
  largeSize = nlarge ? lsize : 0;
  largeUnits = nlarge ? (lsize + bufSize - 1) / bufSize : 1;
  freeStack = arenaReserve(<usize>nbufs << 2);
  largeStack = arenaReserve(<usize>nlarge << 2);
  let bytes = <usize>nbufs * bufSize + <usize>nlarge * largeSize;
  let end = (arenaTop + bytes + 0xffff) & ~<usize>0xffff;
  if (limit != 0 && end > <usize>limit) return false;
  let pages = <i32>(end >>> 16) - memory.size();
  if (pages > 0 && memory.grow(pages) < 0) return false;
  // Move the runtime's bump pointer past our region, so nothing else lands in it.
  // (stub allocator: a block of n bytes at q ends at q + ((n + 19) & ~15) - 4)
  let p = heap.alloc(16);
  if (end > p + 64) heap.alloc(end - p - 44);
  poolBase = end - <usize>nbufs * bufSize;
  largeBase = poolBase - <usize>nlarge * largeSize;
  for (let i: u32 = 0; i < nbufs; i++) {
    store<u32>(freeStack + (<usize>i << 2), <u32>(poolBase + <usize>(nbufs - 1 - i) * bufSize));
  }
  for (let i: u32 = 0; i < nlarge; i++) {
    store<u32>(largeStack + (<usize>i << 2), <u32>(largeBase + <usize>(nlarge - 1 - i) * largeSize));
  }
  scbSet(SCB_FREE, <u32>freeStack);
  scbSet(SCB_FREE_COUNT, nbufs);
  scbSet(SCB_BUF_SIZE, bufSize);
  scbSet(SCB_BUF_DATA, BUF_DATA);
  scbSet(SCB_POOL, <u32>poolBase);
  scbSet(SCB_NBUFS, nbufs);
  scbSet(SCB_LARGE_FREE, <u32>largeStack);
  scbSet(SCB_LARGE_FREE_COUNT, nlarge);
  scbSet(SCB_LARGE_SIZE, largeSize);
  scbSet(SCB_LARGE_POOL, <u32>largeBase);
  scbSet(SCB_LARGE_NBUFS, nlarge);
  scbSet(SCB_MEM_END, <u32>end);
  return true;
}

/** A buffer for the core's own use, or 0 (counted) when the pool is empty. */
export function pktAlloc(): usize {
  let n = scbGet(SCB_FREE_COUNT);
  if (n == 0) { count(C_POOL_EMPTY); return 0; }
  n--;
  scbSet(SCB_FREE_COUNT, n);
  let b = <usize>load<u32>(freeStack + (<usize>n << 2));
  store<u32>(b, STATE_USED, PKT_STATE);
  store<u32>(b, 0, PKT_NEXT);
  store<u32>(b, 0, PKT_QNEXT);
  return b;
}

/** Returns one buffer to its pool. */
export function pktFree(b: usize): void {
  assert(load<u32>(b, PKT_STATE) == STATE_USED, 'double free');
  store<u32>(b, STATE_FREE, PKT_STATE);
  if (b < poolBase) {
    let n = scbGet(SCB_LARGE_FREE_COUNT);
    store<u32>(largeStack + (<usize>n << 2), <u32>b);
    scbSet(SCB_LARGE_FREE_COUNT, n + 1);
    return;
  }
  let n = scbGet(SCB_FREE_COUNT);
  store<u32>(freeStack + (<usize>n << 2), <u32>b);
  scbSet(SCB_FREE_COUNT, n + 1);
}

/** A buffer's weight in small buffers: 1, or largeUnits for a large one. */
// @ts-ignore: decorator
@inline export function pktUnits(b: usize): u32 { return b < poolBase ? largeUnits : 1; }

/** Returns a packet and every buffer chained to it. */
export function pktFreeChain(b: usize): void {
  while (b) {
    let next = <usize>load<u32>(b, PKT_NEXT);
    pktFree(b);
    b = next;
  }
}

/** Returns a queue (PKT_QNEXT) of packets, each a chain of buffers (PKT_NEXT). */
export function pktFreeQueueChains(b: usize): void {
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    pktFreeChain(b);
    b = next;
  }
}

/** Returns a queue of packets chained by PKT_QNEXT (each a single buffer). */
export function pktFreeQueue(b: usize): void {
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    pktFree(b);
    b = next;
  }
}

/** Claims the buffer holding [p, p+len) for a received frame; 0 if the host
 * handed us something that is not a buffer it took from the free stack. */
export function pktClaim(p: usize, len: u32): usize {
  if (p < largeBase) return 0;
  // p names the buffer it lies in: an address at a buffer's end is the next buffer's start.
  let b: usize, size: usize;
  if (p < poolBase) {
    size = largeSize;
    b = largeBase + (p - largeBase) / size * size;
  } else {
    size = bufSize;
    let i = (p - poolBase) / size;
    if (i >= nbufs) return 0;
    b = poolBase + i * size;
  }
  if (p < b + BUF_DATA || p + len > b + size || p + len < p) return 0;
  if (load<u32>(b, PKT_STATE) == STATE_USED) return 0;
  store<u32>(b, STATE_USED, PKT_STATE);
  store<u32>(b, 0, PKT_NEXT);
  store<u32>(b, 0, PKT_QNEXT);
  return b;
}

// Transmit: frames are built in an arena that is reused once the host has
// sent them (it sets SCB_TX_COUNT back to 0). Buffers posted for transmit
// (queued packets, forwarded frames) are freed at that point too.
let txArena: usize = 0;
let txArenaSize: u32 = 0;
let txOff: u32 = 0;
let txDesc: usize = 0;
let txCap: u32 = 0;
let txHeld: usize = 0;     // chain (PKT_QNEXT) of buffers to free once sent
let txSent: usize = 0;     // the same, sent: freed by txFreeSent
/** Set by poll() while it takes the rx ring. */
export let inPoll = false;
export function setInPoll(on: bool): void { inPoll = on; }

export function txLayout(arenaBytes: u32, ring: u32): void {
  txArenaSize = arenaBytes;
  txArena = arenaReserve(arenaBytes);
  txCap = ring;
  txDesc = arenaReserve(<usize>ring * DESC_BYTES);
}

export function txInit(): void {
  scbSet(SCB_TX_DESC, <u32>txDesc);
  scbSet(SCB_TX_CAP, txCap);
  scbSet(SCB_TX_COUNT, 0);
}

function txDescPut(n: u32, p: usize, len: u32, word: u32, gso: u32): void {
  let d = txDesc + <usize>n * DESC_BYTES;
  store<u32>(d, <u32>p);
  store<u32>(d, len, 4);
  store<u32>(d, word, 8);
  store<u32>(d, gso, 12);
}

function txPost(p: usize, len: u32, word: u32, gso: u32, n: u32): void {
  txDescPut(n, p, len, word, gso);
  scbSet(SCB_TX_COUNT, n + 1);
  count(C_TX_FRAMES);
  countN(C_TX_BYTES, len);
}

/** Called on entry to every export that may transmit: if the host has sent
 * what was posted (count back at 0), reuse the arena and free the posted
 * buffers. Never within a call, so a frame built but not yet posted (a
 * datagram being fragmented, a frame waiting for ARP) is not overwritten.
 * True when descriptors the host has now sent pointed outside the arena
 * (txGatherAdd): their owners may reuse that memory. */
export function txSync(): bool {
  if (scbGet(SCB_TX_COUNT) != 0) return false;
  txOff = 0;
  txSent = txHeld;
  txHeld = 0;
  if (!inPoll) txFreeSent();
  let gathered = txGathered;
  txGathered = false;
  return gathered;
}

/** Frees the posted buffers the host has sent. poll() calls it after taking
 * the rx ring, so a descriptor naming one of them (host misuse) is refused
 * like any buffer the core holds, not claimed because it was just freed. */
export function txFreeSent(): void {
  let b = txSent;
  txSent = 0;
  pktFreeQueue(b);
}

// Packed transmit (if_offload's packed bit): on the interfaces in txPackedIfs
// (a bit each; there are at most 16), a frame of up to PACK_MAX bytes is
// copied into the arena as a record (len; flags | gso << 16, FRAME_CSUM_OK
// set; the frame, padded to 8) right after the one before it, and a run of
// records shares one descriptor (FRAME_PACKED): a host that moves frames to
// another thread copies a batch at once instead of one frame at a time.
let txPackedIfs: u32 = 0;
export function setTxPacked(ifx: u32, on: bool): void { txPackedIfs = on ? txPackedIfs | (1 << ifx) : txPackedIfs & ~(1 << ifx); }
const PACK_MAX: u32 = 2048;

/** Whether the interface of a descriptor's word packs: tested inline, so a
 * frame for any other costs no call. */
// @ts-ignore: decorator
@inline function packs(word: u32): bool { return (txPackedIfs & (1 << (word & 0xffff))) != 0; }

/** Posts the len-byte frame at p (word, gso as for a descriptor; its
 * interface packs) as a packed record, n descriptors being taken; false,
 * nothing done, where it is larger than PACK_MAX or the arena is full. p may
 * be where the record goes (a frame built at the arena's end): it moves up. */
function txPack(p: usize, len: u32, word: u32, gso: u32, n: u32): bool {
  let ifx = word & 0xffff;
  let need = (len + 15) & ~7;
  if (len > PACK_MAX || txOff + need > txArenaSize) return false;
  let r = txArena + txOff;
  memory.copy(r + 8, p, len);
  store<u32>(r, len);
  store<u32>(r, (word >>> 16) | FRAME_CSUM_OK | (gso << 16), 4);
  txOff += need;
  count(C_TX_FRAMES);
  countN(C_TX_BYTES, len);
  let w = ifx | (FRAME_PACKED << 16);
  let d = txDesc + <usize>(n - 1) * DESC_BYTES;
  if (n && load<u32>(d, 8) == w && <usize>(load<u32>(d) + load<u32>(d, 4)) == r) store<u32>(d, load<u32>(d, 4) + need, 4);
  else {
    txDescPut(n, r, need, w, 0);
    scbSet(SCB_TX_COUNT, n + 1);
  }
  return true;
}

/** Space for a frame of up to len bytes, or 0 (counted) when the arena or ring is full. */
export function txBegin(len: u32): usize {
  let n = scbGet(SCB_TX_COUNT);
  if (n >= txCap || txOff + len > txArenaSize) { count(C_TX_ARENA_FULL); return 0; }
  return txArena + txOff;
}

/** Posts the frame started by txBegin; word is ifindex | flags << 16, gso the
 * segment size of a FRAME_GSO frame (else 0). With a payload armed by
 * txGatherAdd, only the headers are at p: the payload pieces follow in
 * descriptors of their own (FRAME_MORE on all but the last). */
export function txCommit(p: usize, len: u32, word: u32, gso: u32): void {
  let n = scbGet(SCB_TX_COUNT);
  if (gatherN == 0) {
    if (packs(word) && txPack(p, len, word, gso, n)) return;
    txPost(p, len, word, gso, n);
    txOff = (<u32>(p - txArena) + len + 7) & ~7;
    return;
  }
  let hdr = len - gatherBytes;
  if (n + 1 + gatherN > txCap) { count(C_TX_ARENA_FULL); txGatherClear(); return; }
  txDescPut(n, p, hdr, word | (FRAME_MORE << 16), gso);
  let ifx = word & 0xffff;
  for (let i: u32 = 0; i < gatherN; i++) {
    let g = GATHER + (<usize>i << 3);
    txDescPut(n + 1 + i, <usize>load<u32>(g), load<u32>(g, 4), i + 1 < gatherN ? ifx | (FRAME_MORE << 16) : ifx, 0);
  }
  scbSet(SCB_TX_COUNT, n + 1 + gatherN);
  count(C_TX_FRAMES);
  count(C_TX_GATHERED);
  countN(C_TX_BYTES, len);
  txOff = (<u32>(p - txArena) + hdr + 7) & ~7;
  gatherN = 0;
  txGathered = true;
}

// Scatter-gather transmit: a frame's payload may stay where it is (a TCP
// send buffer) and go out as descriptors pointing at it. The owner keeps that
// memory unchanged until the host has sent the ring (txSync returns true).
const GATHER_MAX: u32 = 8;
const GATHER: usize = memory.data(<i32>GATHER_MAX * 8, 8);
let gatherN: u32 = 0;
let gatherBytes: u32 = 0;
/** Descriptors point into an owner's memory and the host has not sent them yet. */
export let txGathered = false;

/** Descriptors free for a frame of 1 + pieces. */
export function txDescRoom(): u32 {
  let n = scbGet(SCB_TX_COUNT);
  return n >= txCap ? 0 : txCap - n;
}

/** Arms the next txCommit with payload pieces (at most GATHER_MAX), in order. */
export function txGatherAdd(p: usize, len: u32): void {
  let g = GATHER + (<usize>gatherN << 3);
  store<u32>(g, <u32>p);
  store<u32>(g, len, 4);
  gatherN++;
  gatherBytes += len;
}

/** Disarms what the frame did not use (a drop on the way). */
export function txGatherClear(): void { gatherN = 0; gatherBytes = 0; }

/** Payload bytes armed for the next txCommit (0: none). */
export function txGatherBytes(): u32 { return gatherN ? gatherBytes : 0; }

/** Copies bytes [off, off + n) of the frame of len bytes at f to dst: with a
 * payload armed (txGatherAdd), only its headers are at f, and the rest comes
 * from the pieces (a frame that waits for ARP, or goes through the loopback). */
export function txFrameCopy(dst: usize, f: usize, len: u32, off: u32, n: u32): void {
  let hdr = len - txGatherBytes();
  if (off < hdr) {
    let k = min<u32>(n, hdr - off);
    memory.copy(dst, f + off, k);
    dst += k; off += k; n -= k;
  }
  off -= hdr;
  for (let i: u32 = 0; i < gatherN && n > 0; i++) {
    let g = GATHER + (<usize>i << 3);
    let pl = load<u32>(g, 4);
    if (off >= pl) { off -= pl; continue; }
    let k = min<u32>(n, pl - off);
    memory.copy(dst, <usize>load<u32>(g) + off, k);
    dst += k; n -= k; off = 0;
  }
}

/** Posts a frame that lives in packet buffer b, len bytes at p, and in the
 * buffers chained to it (a large segment that came in over several: each a
 * further piece, FRAME_MORE); word: ifx | tx flags << 16, and its GSO size.
 * The buffers are freed once sent. Returns false (caller keeps them) when
 * the ring is full. */
export function txPostBuf(b: usize, p: usize, len: u32, word: u32, gso: u32 = 0): bool {
  let n = scbGet(SCB_TX_COUNT);
  let end = n;
  for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) end++;
  if (end > txCap) { count(C_TX_ARENA_FULL); return false; }
  let c = <usize>load<u32>(b, PKT_NEXT);
  // Copied into a record: the buffer is free at once.
  if (!c && packs(word) && txPack(p, len, word, gso, n)) { pktFree(b); return true; }
  txPost(p, len, c ? word | (FRAME_MORE << 16) : word, gso, n);
  for (c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) {
    if (c != b) {
      let l = load<u32>(c, PKT_LEN);
      txDescPut(++n, <usize>load<u32>(c, PKT_DATA), l, (word & 0xffff) | (load<u32>(c, PKT_NEXT) ? FRAME_MORE << 16 : 0), 0);
      countN(C_TX_BYTES, l);
    }
    store<u32>(c, <u32>txHeld, PKT_QNEXT);
    txHeld = c;
  }
  scbSet(SCB_TX_COUNT, n + 1);
  return true;
}

/** Room left for frames before the host must flush. */
export function txRoom(): u32 {
  let n = scbGet(SCB_TX_COUNT);
  return n >= txCap ? 0 : txArenaSize - txOff;
}

/** Keeps a frame built at p (not posted) from being reused by the next txBegin. */
export function txReserve(p: usize, len: u32): void {
  txOff = (<u32>(p - txArena) + len + 7) & ~7;
}
