// TCP connection blocks (TCBs): one fixed table laid out at init, a free
// stack of slots, a hash of the 4-tuple for demultiplexing (never a scan), a
// small hash of listeners by port, a FIFO of TIME-WAIT blocks (the oldest is
// reclaimed when the table is full), the timer heap (each TCB is in it once,
// keyed by its earliest deadline), and the pool of send-buffer chunks.
import { arenaReserve, txGathered } from '../base/mem';
import { now, NEVER, wakeAt } from '../base/time';
import { rand32 } from '../base/random';
import { twReclaim, chunkWaiterReady } from './tcp';

// ---- TCB fields (byte offsets) ----
export const T_STATE: usize = 0;
export const T_FLAGS: usize = 4;
export const T_LADDR: usize = 8;
export const T_LPORT: usize = 12;
export const T_RADDR: usize = 16;
export const T_RPORT: usize = 20;
export const T_HNEXT: usize = 24;      // hash chain (index + 1): connections, or listeners by port
export const T_PARENT: usize = 28;     // listener (index + 1) of a child not yet accepted
export const T_ACCNEXT: usize = 32;    // accept-queue link (index + 1)
export const T_ISS: usize = 36;
export const T_IRS: usize = 40;
export const T_SND_UNA: usize = 44;
export const T_SND_NXT: usize = 48;
export const T_SND_MAX: usize = 52;    // highest sequence number sent + 1
export const T_SND_WND: usize = 56;    // bytes (scaled)
export const T_SND_WL1: usize = 60;
export const T_SND_WL2: usize = 64;
export const T_MAX_SNDWND: usize = 68;
export const T_RCV_NXT: usize = 72;
export const T_RCV_ADV: usize = 76;    // right edge of the window we advertised
export const T_WSCALE: usize = 80;     // byte 0: peer's shift (send), byte 1: ours (receive)
export const T_MSS: usize = 84;        // payload bytes per segment we send (options excluded)
export const T_RMSS: usize = 88;       // the MSS we advertised
export const T_TS_RECENT: usize = 92;
export const T_TS_OFF: usize = 96;     // our timestamp clock's offset (RFC 7323 5.4)
export const T_LAST_ACK_SENT: usize = 100;
export const T_SRTT: usize = 104;      // µs (0: no sample yet)
export const T_RTTVAR: usize = 108;    // µs
export const T_RTO: usize = 112;       // ms
export const T_BACKOFF: usize = 116;   // consecutive timeouts
export const T_RTT_SEQ: usize = 120;   // segment being timed (no timestamps)
export const T_RTT_TIME: usize = 124;  // ms when it was sent
export const T_CWND: usize = 128;
export const T_SSTHRESH: usize = 132;
export const T_RECOVER: usize = 136;
export const T_DUPACKS: usize = 140;
export const T_RXT_NXT: usize = 144;   // loss recovery: next hole byte to retransmit
export const T_SB_SEQ: usize = 148;    // sequence number of the first byte in the send buffer
export const T_SB_LEN: usize = 152;    // bytes in the send buffer
export const T_SB_OFF: usize = 156;    // offset of that first byte in the head chunk
export const T_SB_HEAD: usize = 160;   // head chunk (index + 1)
export const T_SB_TAIL: usize = 164;
export const T_SB_NCH: usize = 168;    // chunks held
export const T_SNDBUF: usize = 172;
export const T_RCVBUF: usize = 176;
export const T_RQ_HEAD: usize = 180;   // in-order received segments (buffers, PKT_QNEXT)
export const T_RQ_TAIL: usize = 184;
export const T_RQ_BYTES: usize = 188;
export const T_RQ_BUFS: usize = 192;
export const T_OOO_HEAD: usize = 196;  // out-of-order segments sorted by sequence (PKT_B: seq)
export const T_OOO_BYTES: usize = 200;
export const T_OOO_BUFS: usize = 204;
export const T_SEGS_UNACKED: usize = 208;
export const T_OUTNEXT: usize = 212;   // pending-output list link (index + 1)
export const T_HEAPIDX: usize = 216;   // position in the timer heap + 1 (0: not in it)
export const T_TWNEXT: usize = 220;    // TIME-WAIT FIFO / chunk-waiter list links (index + 1)
export const T_TWPREV: usize = 224;
export const T_ERR: usize = 228;       // soft error (positive errno) seen by ICMP
export const T_KA_IDLE: usize = 232;   // ms (0: keep-alive off)
export const T_KA_INTVL: usize = 236;  // ms
export const T_KA_CNT: usize = 240;
export const T_KA_PROBES: usize = 244;
export const T_CC: usize = 248;        // CC_CUBIC or CC_NEWRENO
export const T_SACKED: usize = 252;    // bytes the peer SACKed above snd_una
export const T_HIGH_SACK: usize = 256; // end of the highest SACKed range
export const T_NSACK: usize = 260;     // ranges in the scoreboard
export const T_SACKS: usize = 264;     // NSACKMAX × (start, end)
export const NSACKMAX: u32 = 6;
export const T_T_RTX: usize = 312;     // i64 µs: retransmission / persist / SYN timer
export const T_T_DACK: usize = 320;    // i64 µs: delayed ACK
export const T_T_KA: usize = 328;      // i64 µs: keep-alive, FIN-WAIT-2, TIME-WAIT
export const T_T_KEY: usize = 336;     // i64 µs: the key under which it sits in the heap
export const T_LAST_RX: usize = 344;   // i64 µs: last segment received
export const T_W_MAX: usize = 352;     // f64 bytes (CUBIC)
export const T_K: usize = 360;         // f64 seconds (CUBIC)
export const T_EPOCH: usize = 368;     // i64 µs, 0: no epoch (CUBIC)
export const T_W_EST: usize = 376;     // f64 bytes (CUBIC, Reno-friendly estimate)
export const T_TS_AGE: usize = 384;    // i64 µs when ts_recent was set
export const T_SYNQ: usize = 392;      // listener: children in SYN-RECEIVED
export const T_ACCQ_HEAD: usize = 396; // listener: established children not yet accepted
export const T_ACCQ_TAIL: usize = 400;
export const T_ACCQ_LEN: usize = 404;
export const T_BACKLOG: usize = 408;
export const T_LAST_OOO: usize = 412;  // sequence number of the latest out-of-order segment
export const T_PERSIST: usize = 416;   // persist backoff
export const T_RTXCNT: usize = 420;    // SYN / SYN-ACK transmissions
export const T_SBC_N: usize = 424;     // send-buffer cursor: chunk number from the head
export const T_SBC_CH: usize = 428;    //   and that chunk (index + 1; 0: none)
export const T_PMTU_MSS: usize = 432;  // MSS from the route / path MTU
export const T_ACKED_CA: usize = 436;  // bytes acked toward the next NewReno increase
export const T_OUTPREV: usize = 440;   // pending-output list back link
export const T_ACCPREV: usize = 444;   // SYN / accept queue back link
export const T_SND_SML: usize = 448;   // end of the last segment sent shorter than the MSS (Minshall)
export const T_RTX_TS: usize = 452;    // our timestamp on the last timeout retransmission (F_RTX_TS)
export const T_RXT_MARK: usize = 456;  // snd_max when the latest hole was retransmitted in SACK recovery (F_RXT_MARK)
export const T_TLP_HIGH: usize = 464;  // snd_max after the tail-loss probe (F_TLP_DONE)
export const TCB: usize = 472;
// A listener keeps the heads of its child lists in fields a connection uses otherwise.
export const L_SYNQ_HEAD: usize = T_RQ_HEAD;

// ---- states ----
export const S_FREE: u32 = 0;
export const S_CLOSED: u32 = 1;       // gone, but the host still holds the descriptor
export const S_LISTEN: u32 = 2;
export const S_SYN_SENT: u32 = 3;
export const S_SYN_RCVD: u32 = 4;
export const S_ESTABLISHED: u32 = 5;
export const S_FIN_WAIT_1: u32 = 6;
export const S_FIN_WAIT_2: u32 = 7;
export const S_CLOSE_WAIT: u32 = 8;
export const S_CLOSING: u32 = 9;
export const S_LAST_ACK: u32 = 10;
export const S_TIME_WAIT: u32 = 11;

// ---- flags ----
export const F_ATTACHED: u32 = 1 << 0;     // the host holds the descriptor
export const F_NODELAY: u32 = 1 << 1;
export const F_TS: u32 = 1 << 2;           // timestamps in use
export const F_SACK: u32 = 1 << 3;         // SACK permitted both ways
export const F_WS: u32 = 1 << 4;           // window scaling in use
export const F_FIN_QUEUED: u32 = 1 << 5;   // the host shut down sending: FIN after the data
export const F_FIN_RCVD: u32 = 1 << 6;
export const F_ACKNOW: u32 = 1 << 7;
export const F_DELACK: u32 = 1 << 8;
export const F_OUTQ: u32 = 1 << 9;
export const F_RD_EV: u32 = 1 << 10;       // readable reported, not yet read
export const F_WR_WANT: u32 = 1 << 11;     // the host met a full send buffer
export const F_RECOVERY: u32 = 1 << 12;    // fast recovery
export const F_TIMING: u32 = 1 << 13;
export const F_ACTIVE: u32 = 1 << 14;      // opened by connect
export const F_ACCQ: u32 = 1 << 15;        // in its listener's accept queue
export const F_CHUNKWAIT: u32 = 1 << 16;   // waiting for a free send chunk
export const F_PERSIST: u32 = 1 << 17;     // the rtx timer is the persist timer
export const F_CE: u32 = 1 << 18;          // reserved
export const F_RTO_LOSS: u32 = 1 << 19;    // after a timeout, until snd_max is acked
export const F_KA_PROBE: u32 = 1 << 20;
export const F_RTX_TS: u32 = 1 << 21;     // T_RTX_TS is set: older echoed timestamps give no RTT sample
export const F_RXT_MARK: u32 = 1 << 22;   // T_RXT_MARK is set
export const F_TLP: u32 = 1 << 23;        // the rtx timer is the tail-loss probe timeout (RFC 8985 7)
export const F_TLP_DONE: u32 = 1 << 24;   // a probe is out (until its episode ends): the next expiry is the RTO
export const F_TLP_RXT: u32 = 1 << 25;    // that probe resent the last segment

export const CC_CUBIC: u32 = 0;
export const CC_NEWRENO: u32 = 1;

export const CHUNK: u32 = 16384;
export const CHUNK_SHIFT: u32 = 14;

// ---- the table ----
export let tcbs: usize = 0;
export let ntcbs: u32 = 0;
let freeStack: usize = 0;
let nfree: u32 = 0;
let hash: usize = 0;
let hashMask: u32 = 0;
let hashKey: u32 = 0;
const LHASH: u32 = 64;
let lhash: usize = 0;
export let nUsed: u32 = 0;
export let nTimeWait: u32 = 0;
let twHead: u32 = 0;     // index + 1: oldest
let twTail: u32 = 0;

// ---- timer heap ----
let heap: usize = 0;     // u32 TCB indices
let heapN: u32 = 0;

// ---- send chunks ----
let chunkBase: usize = 0;
let chunkNext: usize = 0;   // u32 per chunk: next chunk (index + 1)
let chunkFree: usize = 0;   // stack of free chunk indices
export let nChunks: u32 = 0;
export let nChunksFree: u32 = 0;
let waitHead: u32 = 0;      // sockets waiting for a chunk (index + 1), FIFO through T_TWNEXT
let waitTail: u32 = 0;

export function tcbLayout(n: u32, chunks: u32): void {
  ntcbs = n;
  tcbs = arenaReserve(<usize>n * TCB);
  freeStack = arenaReserve(<usize>n << 2);
  let h: u32 = 16;
  while (h < n * 2) h <<= 1;
  hashMask = h - 1;
  hash = arenaReserve(<usize>h << 2);
  lhash = arenaReserve(<usize>LHASH << 2);
  heap = arenaReserve(<usize>n << 2);
  nChunks = chunks;
  chunkBase = arenaReserve(<usize>chunks << CHUNK_SHIFT);
  chunkNext = arenaReserve(<usize>chunks << 2);
  chunkFree = arenaReserve(<usize>chunks << 2);
}

export function tcbInit(): void {
  for (let i: u32 = 0; i < ntcbs; i++) store<u32>(freeStack + (<usize>i << 2), ntcbs - 1 - i);
  nfree = ntcbs;
  for (let i: u32 = 0; i < nChunks; i++) store<u32>(chunkFree + (<usize>i << 2), nChunks - 1 - i);
  nChunksFree = nChunks;
  hashKey = rand32() | 1;
}

// @ts-ignore: decorator
@inline export function tcb(i: u32): usize { return tcbs + <usize>i * TCB; }
// @ts-ignore: decorator
@inline export function idx(k: usize): u32 { return <u32>((k - tcbs) / TCB); }
// @ts-ignore: decorator
@inline export function g(k: usize, off: usize): u32 { return load<u32>(k + off); }
// @ts-ignore: decorator
@inline export function s(k: usize, off: usize, v: u32): void { store<u32>(k + off, v); }
// @ts-ignore: decorator
@inline export function hasF(k: usize, f: u32): bool { return (load<u32>(k + T_FLAGS) & f) != 0; }
// @ts-ignore: decorator
@inline export function setF(k: usize, f: u32): void { store<u32>(k + T_FLAGS, load<u32>(k + T_FLAGS) | f); }
// @ts-ignore: decorator
@inline export function clrF(k: usize, f: u32): void { store<u32>(k + T_FLAGS, load<u32>(k + T_FLAGS) & ~f); }
// @ts-ignore: decorator
@inline export function state(k: usize): u32 { return load<u32>(k + T_STATE); }

/** A descriptor the host may use: in range and not free. */
export function validSd(sd: i32): usize {
  if (sd < 0 || <u32>sd >= ntcbs) return 0;
  let k = tcb(<u32>sd);
  if (g(k, T_STATE) == S_FREE || !hasF(k, F_ATTACHED)) return 0;
  return k;
}

/** A zeroed TCB, or 0 when the table is full even after reclaiming the oldest TIME-WAIT. */
export function tcbAlloc(): usize {
  if (nfree == 0) {
    // The oldest TIME-WAIT entry the host has let go of makes room; one the host
    // still holds would not free its slot.
    let i = twHead;
    while (i && hasF(tcb(i - 1), F_ATTACHED)) i = g(tcb(i - 1), T_TWNEXT);
    if (!i) return 0;
    twReclaim(tcb(i - 1));
    if (nfree == 0) return 0;
  }
  nfree--;
  let i = load<u32>(freeStack + (<usize>nfree << 2));
  let k = tcb(i);
  memory.fill(k, 0, TCB);
  s(k, T_STATE, S_CLOSED);
  nUsed++;
  return k;
}

/** Returns a TCB to the free stack (all its resources already released). */
export function tcbFree(k: usize): void {
  if (g(k, T_STATE) == S_FREE) return;
  s(k, T_STATE, S_FREE);
  store<u32>(freeStack + (<usize>nfree << 2), idx(k));
  nfree++;
  nUsed--;
}

// ---- connection hash ----
// @ts-ignore: decorator
@inline function bucket(laddr: u32, lport: u32, raddr: u32, rport: u32): usize {
  let h = (raddr ^ (laddr * 0x9e3779b1)) * hashKey + ((rport << 16) | lport);
  h ^= h >> 15;
  h *= 0x2c1b3c6d;
  h ^= h >> 12;
  return hash + (<usize>(h & hashMask) << 2);
}

export function connLookup(laddr: u32, lport: u32, raddr: u32, rport: u32): usize {
  let i = load<u32>(bucket(laddr, lport, raddr, rport));
  while (i) {
    let k = tcb(i - 1);
    if (g(k, T_RPORT) == rport && g(k, T_RADDR) == raddr && g(k, T_LPORT) == lport && g(k, T_LADDR) == laddr) return k;
    i = g(k, T_HNEXT);
  }
  return 0;
}

export function connHashIn(k: usize): void {
  let h = bucket(g(k, T_LADDR), g(k, T_LPORT), g(k, T_RADDR), g(k, T_RPORT));
  s(k, T_HNEXT, load<u32>(h));
  store<u32>(h, idx(k) + 1);
}

export function connHashOut(k: usize): void {
  let h = bucket(g(k, T_LADDR), g(k, T_LPORT), g(k, T_RADDR), g(k, T_RPORT));
  let me = idx(k) + 1;
  let i = load<u32>(h);
  let prev: usize = 0;
  while (i) {
    let c = tcb(i - 1);
    if (i == me) {
      if (prev) s(prev, T_HNEXT, g(c, T_HNEXT)); else store<u32>(h, g(c, T_HNEXT));
      s(k, T_HNEXT, 0);
      return;
    }
    prev = c;
    i = g(c, T_HNEXT);
  }
}

// ---- listeners ----
// @ts-ignore: decorator
@inline function lbucket(port: u32): usize { return lhash + (<usize>((port ^ (port >> 6)) & (LHASH - 1)) << 2); }

/** The listener for a segment to addr:port: an exact address before the wildcard. */
export function listenLookup(addr: u32, port: u32): usize {
  let wild: usize = 0;
  let i = load<u32>(lbucket(port));
  while (i) {
    let k = tcb(i - 1);
    if (g(k, T_LPORT) == port) {
      let la = g(k, T_LADDR);
      if (la == addr) return k;
      if (la == 0) wild = k;
    }
    i = g(k, T_HNEXT);
  }
  return wild;
}

/** True if a listener holds port on addr (a wildcard on either side conflicts). */
export function listenConflict(addr: u32, port: u32): bool {
  let i = load<u32>(lbucket(port));
  while (i) {
    let k = tcb(i - 1);
    if (g(k, T_LPORT) == port) {
      let la = g(k, T_LADDR);
      if (la == 0 || addr == 0 || la == addr) return true;
    }
    i = g(k, T_HNEXT);
  }
  return false;
}

export function listenHashIn(k: usize): void {
  let h = lbucket(g(k, T_LPORT));
  s(k, T_HNEXT, load<u32>(h));
  store<u32>(h, idx(k) + 1);
}

export function listenHashOut(k: usize): void {
  let h = lbucket(g(k, T_LPORT));
  let me = idx(k) + 1;
  let i = load<u32>(h);
  let prev: usize = 0;
  while (i) {
    let c = tcb(i - 1);
    if (i == me) {
      if (prev) s(prev, T_HNEXT, g(c, T_HNEXT)); else store<u32>(h, g(c, T_HNEXT));
      s(k, T_HNEXT, 0);
      return;
    }
    prev = c;
    i = g(c, T_HNEXT);
  }
}

// ---- TIME-WAIT FIFO (T_TWNEXT / T_TWPREV) ----
export function twAppend(k: usize): void {
  let me = idx(k) + 1;
  s(k, T_TWNEXT, 0);
  s(k, T_TWPREV, twTail);
  if (twTail) s(tcb(twTail - 1), T_TWNEXT, me); else twHead = me;
  twTail = me;
  nTimeWait++;
}

export function twRemove(k: usize): void {
  let n = g(k, T_TWNEXT), p = g(k, T_TWPREV);
  if (p) s(tcb(p - 1), T_TWNEXT, n); else twHead = n;
  if (n) s(tcb(n - 1), T_TWPREV, p); else twTail = p;
  s(k, T_TWNEXT, 0);
  s(k, T_TWPREV, 0);
  nTimeWait--;
}

// ---- timer heap: each TCB at most once, keyed by T_T_KEY ----
// @ts-ignore: decorator
@inline function hk(i: u32): i64 { return load<i64>(tcb(load<u32>(heap + (<usize>i << 2))) + T_T_KEY); }
// @ts-ignore: decorator
@inline function hput(i: u32, t: u32): void {
  store<u32>(heap + (<usize>i << 2), t);
  s(tcb(t), T_HEAPIDX, i + 1);
}

function siftUp(i: u32): void {
  let t = load<u32>(heap + (<usize>i << 2));
  let key = load<i64>(tcb(t) + T_T_KEY);
  while (i > 0) {
    let p = (i - 1) >> 1;
    if (hk(p) <= key) break;
    hput(i, load<u32>(heap + (<usize>p << 2)));
    i = p;
  }
  hput(i, t);
}

function siftDown(i: u32): void {
  let t = load<u32>(heap + (<usize>i << 2));
  let key = load<i64>(tcb(t) + T_T_KEY);
  for (;;) {
    let c: u32 = 2 * i + 1;
    if (c >= heapN) break;
    if (c + 1 < heapN && hk(c + 1) < hk(c)) c++;
    if (hk(c) >= key) break;
    hput(i, load<u32>(heap + (<usize>c << 2)));
    i = c;
  }
  hput(i, t);
}

/** The earliest of a TCB's deadlines. */
export function tcbDeadline(k: usize): i64 {
  let t = load<i64>(k + T_T_RTX);
  let d = load<i64>(k + T_T_DACK);
  if (d < t) t = d;
  d = load<i64>(k + T_T_KA);
  if (d < t) t = d;
  return t;
}

/** Call after lowering (or setting) any of a TCB's deadlines. A later
 * deadline than the heap key is left lazy: the TCB pops early, finds
 * nothing due and goes back in. */
export function timerUpdate(k: usize): void {
  let t = tcbDeadline(k);
  let hi = g(k, T_HEAPIDX);
  if (t == NEVER) return;
  if (hi) {
    if (t < load<i64>(k + T_T_KEY)) { store<i64>(k + T_T_KEY, t); siftUp(hi - 1); }
  } else {
    store<i64>(k + T_T_KEY, t);
    hput(heapN, idx(k));
    heapN++;
    siftUp(heapN - 1);
  }
}

/** Takes a TCB out of the heap (when it is freed). */
export function timerRemove(k: usize): void {
  let hi = g(k, T_HEAPIDX);
  if (!hi) return;
  let i = hi - 1;
  s(k, T_HEAPIDX, 0);
  heapN--;
  if (i == heapN) return;
  let last = load<u32>(heap + (<usize>heapN << 2));
  hput(i, last);
  siftDown(i);
  siftUp(g(tcb(last), T_HEAPIDX) - 1);
}

/** The TCB whose key is due by now (removed from the heap), or 0. */
export function timerPop(): usize {
  if (heapN == 0) return 0;
  let t = load<u32>(heap);
  let k = tcb(t);
  if (load<i64>(k + T_T_KEY) > now) { wakeAt(load<i64>(k + T_T_KEY)); return 0; }
  timerRemove(k);
  return k;
}

export function timerCount(): u32 { return heapN; }

/** Reports the earliest TCP deadline (wakeAt), for timers armed after tcpTimers looked. */
export function timerWake(): void {
  if (heapN) wakeAt(load<i64>(tcb(load<u32>(heap)) + T_T_KEY));
}

// ---- send chunks ----
// @ts-ignore: decorator
@inline export function chunkAddr(c: u32): usize { return chunkBase + (<usize>(c - 1) << CHUNK_SHIFT); }
// @ts-ignore: decorator
@inline export function chunkNextOf(c: u32): u32 { return load<u32>(chunkNext + (<usize>(c - 1) << 2)); }

/** A free chunk (index + 1), or 0. */
export function chunkAlloc(): u32 {
  if (nChunksFree == 0) return 0;
  nChunksFree--;
  let c = load<u32>(chunkFree + (<usize>nChunksFree << 2)) + 1;
  store<u32>(chunkNext + (<usize>(c - 1) << 2), 0);
  return c;
}

export function chunkSetNext(c: u32, n: u32): void { store<u32>(chunkNext + (<usize>(c - 1) << 2), n); }

// Chunks released while the host still holds descriptors that may point into
// them (scatter-gather transmit) wait here, linked by chunkNext, until it has
// sent them: were one handed out again and written first, a frame would go
// out with the new bytes.
let chunkDeferred: u32 = 0;
export let nChunksDeferred: u32 = 0;

export function chunkRelease(c: u32): void {
  if (txGathered) {
    store<u32>(chunkNext + (<usize>(c - 1) << 2), chunkDeferred);
    chunkDeferred = c;
    nChunksDeferred++;
    return;
  }
  store<u32>(chunkFree + (<usize>nChunksFree << 2), c - 1);
  nChunksFree++;
  if (waitHead) {
    let k = tcb(waitHead - 1);
    waitRemove(k);
    chunkWaiterReady(k);
  }
}

/** The host has sent every descriptor: the chunks they may have pointed into are free. */
export function chunksSent(): void {
  nChunksDeferred = 0;
  while (chunkDeferred) {
    let c = chunkDeferred;
    chunkDeferred = load<u32>(chunkNext + (<usize>(c - 1) << 2));
    chunkRelease(c);
  }
}

export function waitAppend(k: usize): void {
  if (hasF(k, F_CHUNKWAIT)) return;
  setF(k, F_CHUNKWAIT);
  let me = idx(k) + 1;
  s(k, T_TWNEXT, 0);
  s(k, T_TWPREV, waitTail);
  if (waitTail) s(tcb(waitTail - 1), T_TWNEXT, me); else waitHead = me;
  waitTail = me;
}

export function waitRemove(k: usize): void {
  if (!hasF(k, F_CHUNKWAIT)) return;
  clrF(k, F_CHUNKWAIT);
  let n = g(k, T_TWNEXT), p = g(k, T_TWPREV);
  if (p) s(tcb(p - 1), T_TWNEXT, n); else waitHead = n;
  if (n) s(tcb(n - 1), T_TWPREV, p); else waitTail = p;
  s(k, T_TWNEXT, 0);
  s(k, T_TWPREV, 0);
}

export function twOldest(): u32 { return twHead; }
