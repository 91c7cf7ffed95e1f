// TCP connection blocks (TCBs): one fixed table laid out at init, a free
// stack of slots, a hash of the 4-tuple for demultiplexing (never a scan), a
// small hash of listeners by port, a FIFO of TIME-WAIT blocks (the oldest is
// reclaimed when the table is full), the timer heap (each TCB is in it once,
// keyed by its earliest deadline), the list of TCBs with output pending, and
// the events the host hears about them.
import { arenaReserve } from '../base/mem';
import { now, NEVER, wakeAt } from '../base/time';
import { rand32 } from '../base/random';
import { emit, EV_TCP } from '../base/events';

// ---- the TCB ----
/** One connection (or listener). Fields the host never sees; tcp_info copies
 * what it needs into TcpInfo. Links to other TCBs are (index + 1), 0: none. */
@unmanaged
export class Tcb {
  state: u32;
  flags: u32;
  laddr: u32;
  lport: u32;
  raddr: u32;
  rport: u32;
  hashNext: u32;     // hash chain: connections, or listeners by port
  parent: u32;       // listener of a child not yet accepted
  accNext: u32;      // SYN / accept queue link
  iss: u32;
  irs: u32;
  sndUna: u32;
  sndNxt: u32;
  sndMax: u32;       // highest sequence number sent + 1
  sndWnd: u32;       // bytes (scaled)
  sndWl1: u32;
  sndWl2: u32;
  maxSndWnd: u32;
  rcvNxt: u32;
  rcvAdv: u32;       // right edge of the window we advertised
  wscale: u32;       // byte 0: peer's shift (send), byte 1: ours (receive)
  mss: u32;          // payload bytes per segment we send (options excluded)
  rmss: u32;         // the MSS we advertised
  tsRecent: u32;
  tsOff: u32;        // our timestamp clock's offset (RFC 7323 5.4)
  lastAckSent: u32;
  srtt: u32;         // µs (0: no sample yet)
  rttvar: u32;       // µs
  rto: u32;          // ms
  backoff: u32;      // consecutive timeouts
  rttSeq: u32;       // segment being timed (Karn), for the RTO without timestamps and minRtt always
  rttTime: u32;      // µs (low 32 bits) when it was sent
  cwnd: u32;
  ssthresh: u32;
  recover: u32;
  dupAcks: u32;
  rxtNxt: u32;       // loss recovery: next hole byte to retransmit
  sbSeq: u32;        // sequence number of the first byte in the send buffer
  sbLen: u32;        // bytes in the send buffer
  sbOff: u32;        // offset of that first byte in the head chunk
  sbHead: u32;       // head chunk (index + 1)
  sbTail: u32;
  sbChunks: u32;     // chunks held
  sndbuf: u32;
  rcvbuf: u32;
  rqHead: u32;       // in-order received segments (buffers, PKT_QNEXT)
  rqTail: u32;
  rqBytes: u32;
  rqBufs: u32;
  oooHead: u32;      // out-of-order segments sorted by sequence (PKT_TCP_SEQ: seq)
  oooBytes: u32;
  oooBufs: u32;
  segsUnacked: u32;
  outNext: u32;      // pending-output list links
  heapIdx: u32;      // position in the timer heap + 1 (0: not in it)
  twNext: u32;       // TIME-WAIT FIFO links (waitNext / waitPrev: the chunk-waiter list)
  twPrev: u32;
  softErr: u32;      // soft error (positive errno) seen by ICMP
  kaIdle: u32;       // ms (0: keep-alive off)
  kaIntvl: u32;      // ms
  kaCnt: u32;
  kaProbes: u32;
  cc: u32;           // CC_CUBIC, CC_NEWRENO or CC_BBR
  sacked: u32;       // bytes the peer SACKed above snd_una
  highSack: u32;     // end of the highest SACKed range
  nsack: u32;        // ranges in the scoreboard
  rtxAt: i64;        // µs: the retransmission timer, timing rtxKind
  dackAt: i64;       // µs: delayed ACK
  kaAt: i64;         // µs: keep-alive; in an orphaned FIN-WAIT-2 and in TIME-WAIT, the end of the state
  timerKey: i64;     // µs: the key under which it sits in the heap
  lastRx: i64;       // µs: last segment received
  chalAt: i64;       // µs: when this connection's challenge-ACK bucket is next full (challengeAck)
  cubicWMax: f64;    // bytes (CUBIC)
  cubicK: f64;       // seconds (CUBIC)
  cubicEpoch: i64;   // µs, 0: no epoch (CUBIC)
  cubicWEst: f64;    // bytes (CUBIC, Reno-friendly estimate)
  tsAge: i64;        // µs when ts_recent was set
  synq: u32;         // listener: children in SYN-RECEIVED
  accqHead: u32;     // listener: established children not yet accepted
  accqTail: u32;
  accqLen: u32;
  backlog: u32;
  lastOoo: u32;      // end of the latest out-of-order segment (its sequence number + length)
  oooLast: u32;      // the buffer it went into, while it is in the queue (0: none)
  persistShift: u32; // persist backoff
  synTx: u32;        // SYN / SYN-ACK transmissions
  sbcN: u32;         // send-buffer cursor: chunk number from the head
  sbcCh: u32;        //   and that chunk (index + 1; 0: none)
  pmtuMss: u32;      // MSS from the route / path MTU
  ackedCa: u32;      // bytes acked toward the next NewReno increase
  outPrev: u32;
  accPrev: u32;
  sndSml: u32;       // end of the last segment sent shorter than the MSS (Minshall)
  rtxTs: u32;        // our timestamp on the last timeout retransmission (F_RTX_TS)
  rxtMark: u32;      // snd_max when the latest hole was retransmitted in SACK recovery (F_RXT_MARK)
  tlpHigh: u32;      // snd_max after the tail-loss probe (F_TLP_DONE)
  rtxKind: u32;      // RTX_RTO, RTX_PERSIST, RTX_TLP or RTX_REO
  minRtt: u32;       // µs: the least RTT of the last 10 s (0: none yet)
  minRttAt: u32;     // ms when it was taken
  bbrBw: u32;        // bytes/ms: the bottleneck bandwidth, the highest delivery rate of the last 10 rounds (BBR)
  bbrBwRound: u32;   // the round that rate was measured in (BBR)
  bbrFullBw: u32;    // bytes/ms: the rate Startup last grew past by a quarter (BBR)
  bbrFullCnt: u32;   // rounds since, without such growth; 3 ends Startup (BBR)
  bbrRounds: u32;    // round trips counted (BBR)
  bbrRoundEnd: u32;  // snd.max when this round began: it ends once that is acknowledged (BBR)
  bbrRoundAt: u32;   // µs (low 32 bits) when it began (BBR)
  bbrDel: u32;       // snd.una + SACKed bytes then: the data delivered, in sequence space (BBR)
  bbrLastDel: u32;   // the same at the latest ACK (BBR)
  bbrAggAt: u32;     // µs (low 32 bits): when the current ACK aggregation interval began (BBR)
  bbrAggDel: u32;    // data delivered then (BBR)
  bbrExtra: u32;     // bytes: the most acknowledged beyond the bandwidth in one interval, last 10 rounds (BBR)
  bbrExtraRound: u32;
  sacks: u64;        // the scoreboard: NSACKMAX (start, end) pairs from here, the last field

  // A listener keeps the head of its SYN queue where a connection keeps its receive queue.
  @inline get synqHead(): u32 { return this.rqHead; }
  @inline set synqHead(v: u32) { this.rqHead = v; }
  // A socket waiting for a send chunk is never in TIME-WAIT: the two lists share links.
  @inline get waitNext(): u32 { return this.twNext; }
  @inline set waitNext(v: u32) { this.twNext = v; }
  @inline get waitPrev(): u32 { return this.twPrev; }
  @inline set waitPrev(v: u32) { this.twPrev = v; }

  @inline sackStart(i: u32): u32 { return load<u32>(changetype<usize>(this) + offsetof<Tcb>('sacks') + (<usize>i << 3)); }
  @inline sackEnd(i: u32): u32 { return load<u32>(changetype<usize>(this) + offsetof<Tcb>('sacks') + (<usize>i << 3), 4); }
  @inline setSackStart(i: u32, v: u32): void { store<u32>(changetype<usize>(this) + offsetof<Tcb>('sacks') + (<usize>i << 3), v); }
  @inline setSackEnd(i: u32, v: u32): void { store<u32>(changetype<usize>(this) + offsetof<Tcb>('sacks') + (<usize>i << 3), v, 4); }
}
/** Ranges the SACK scoreboard keeps, the lowest first: under 5 % loss a window of hundreds of segments holds dozens of holes, and a range the peer reported once and the scoreboard dropped is resent for nothing. */
export const NSACKMAX: u32 = 24;
export const TCB: usize = offsetof<Tcb>() + (<usize>NSACKMAX - 1) * 8;

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
export const F_RTO_LOSS: u32 = 1 << 19;    // after a timeout, until what was out then is acked (recover)
export const F_RTX_TS: u32 = 1 << 21;     // rtxTs is set: older echoed timestamps give no RTT sample
export const F_RXT_MARK: u32 = 1 << 22;   // rxtMark is set
export const F_TLP_DONE: u32 = 1 << 24;   // a probe is out (until its episode ends): the next expiry is the RTO
export const F_TLP_RXT: u32 = 1 << 25;    // that probe resent the last segment

// ---- events (EV_TCP + n); a: descriptor ----
export const EV_TCP_CONNECTED: u32 = EV_TCP + 0;  // active open completed
export const EV_TCP_ACCEPT: u32 = EV_TCP + 1;     // a: listener with a connection to accept
export const EV_TCP_READABLE: u32 = EV_TCP + 2;
export const EV_TCP_WRITABLE: u32 = EV_TCP + 3;
export const EV_TCP_FIN: u32 = EV_TCP + 4;        // the peer ended its stream
export const EV_TCP_CLOSED: u32 = EV_TCP + 5;     // both directions finished
export const EV_TCP_ERROR: u32 = EV_TCP + 6;      // b: errno (positive)

// Errors carried in EV_TCP_ERROR (positive errno).
export const ECONNREFUSED: u32 = 111;
export const ECONNRESET: u32 = 104;
export const ETIMEDOUT: u32 = 110;
export const EHOSTUNREACH: u32 = 113;

// ---- what the retransmission timer (rtxAt) times ----
export const RTX_RTO: u32 = 0;      // retransmission timeout (RFC 6298); in SYN-SENT / SYN-RECEIVED, of the SYN
export const RTX_PERSIST: u32 = 1;  // zero-window probe, or the SWS override (RFC 9293 3.8.6)
export const RTX_TLP: u32 = 2;      // tail-loss probe timeout (RFC 8985 7.2), ahead of the RTO
export const RTX_REO: u32 = 3;      // RACK's reordering window (RFC 8985 6.3) over a hole below SACKed data, ahead of the RTO

export const CC_CUBIC: u32 = 0;
export const CC_NEWRENO: u32 = 1;
export const CC_BBR: u32 = 2;
/** The largest cwnd (bytes): inside u32 with room to add. */
export const CWND_MAX: u32 = 0x3fffffff;

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

export function tcbLayout(n: u32): void {
  ntcbs = n;
  tcbs = arenaReserve(<usize>n * TCB);
  freeStack = arenaReserve(<usize>n << 2);
  let h: u32 = 16;
  while (h < n * 2) h <<= 1;
  hashMask = h - 1;
  hash = arenaReserve(<usize>h << 2);
  lhash = arenaReserve(<usize>LHASH << 2);
  heap = arenaReserve(<usize>n << 2);
}

export function tcbInit(): void {
  for (let i: u32 = 0; i < ntcbs; i++) store<u32>(freeStack + (<usize>i << 2), ntcbs - 1 - i);
  nfree = ntcbs;
  hashKey = rand32() | 1;
}

// @ts-ignore: decorator
@inline export function tcb(i: u32): Tcb { return changetype<Tcb>(tcbs + <usize>i * TCB); }
// @ts-ignore: decorator
@inline export function idx(k: Tcb): u32 { return <u32>((changetype<usize>(k) - tcbs) / TCB); }
// @ts-ignore: decorator
@inline export function hasF(k: Tcb, f: u32): bool { return (k.flags & f) != 0; }
// @ts-ignore: decorator
@inline export function setF(k: Tcb, f: u32): void { k.flags |= f; }
// @ts-ignore: decorator
@inline export function clrF(k: Tcb, f: u32): void { k.flags &= ~f; }

/** A descriptor the host may use: in range and not free. */
export function validSd(sd: i32): Tcb | null {
  if (sd < 0 || <u32>sd >= ntcbs) return null;
  let k = tcb(<u32>sd);
  if (k.state == S_FREE || !hasF(k, F_ATTACHED)) return null;
  return k;
}

export function tcbFull(): bool { return nfree == 0; }

/** A zeroed TCB, or null when the table is full. */
export function tcbAlloc(): Tcb | null {
  if (nfree == 0) return null;
  nfree--;
  let i = load<u32>(freeStack + (<usize>nfree << 2));
  let k = tcb(i);
  memory.fill(changetype<usize>(k), 0, TCB);
  k.state = S_CLOSED;
  nUsed++;
  return k;
}

/** Returns a TCB to the free stack (all its resources already released). */
export function tcbFree(k: Tcb): void {
  if (k.state == S_FREE) return;
  k.state = S_FREE;
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

export function connLookup(laddr: u32, lport: u32, raddr: u32, rport: u32): Tcb | null {
  let i = load<u32>(bucket(laddr, lport, raddr, rport));
  while (i) {
    let k = tcb(i - 1);
    if (k.rport == rport && k.raddr == raddr && k.lport == lport && k.laddr == laddr) return k;
    i = k.hashNext;
  }
  return null;
}

export function connHashIn(k: Tcb): void {
  let h = bucket(k.laddr, k.lport, k.raddr, k.rport);
  k.hashNext = load<u32>(h);
  store<u32>(h, idx(k) + 1);
}

export function connHashOut(k: Tcb): void {
  let h = bucket(k.laddr, k.lport, k.raddr, k.rport);
  let me = idx(k) + 1;
  let i = load<u32>(h);
  let prev: Tcb | null = null;
  while (i) {
    let c = tcb(i - 1);
    if (i == me) {
      if (prev) prev.hashNext = c.hashNext; else store<u32>(h, c.hashNext);
      k.hashNext = 0;
      return;
    }
    prev = c;
    i = c.hashNext;
  }
}

// ---- listeners ----
// @ts-ignore: decorator
@inline function lbucket(port: u32): usize { return lhash + (<usize>((port ^ (port >> 6)) & (LHASH - 1)) << 2); }

/** The listener for a segment to addr:port: an exact address before the wildcard. */
export function listenLookup(addr: u32, port: u32): Tcb | null {
  let wild: Tcb | null = null;
  let i = load<u32>(lbucket(port));
  while (i) {
    let k = tcb(i - 1);
    if (k.lport == port) {
      let la = k.laddr;
      if (la == addr) return k;
      if (la == 0) wild = k;
    }
    i = k.hashNext;
  }
  return wild;
}

/** True if a listener holds port on addr (a wildcard on either side conflicts). */
export function listenConflict(addr: u32, port: u32): bool {
  let i = load<u32>(lbucket(port));
  while (i) {
    let k = tcb(i - 1);
    if (k.lport == port) {
      let la = k.laddr;
      if (la == 0 || addr == 0 || la == addr) return true;
    }
    i = k.hashNext;
  }
  return false;
}

/** Moves on whenever a listener comes or goes: the cluster layer's cue to report its listeners again. */
export let listenGen: u32 = 0;

export function listenHashIn(k: Tcb): void {
  listenGen++;
  let h = lbucket(k.lport);
  k.hashNext = load<u32>(h);
  store<u32>(h, idx(k) + 1);
}

export function listenHashOut(k: Tcb): void {
  listenGen++;
  let h = lbucket(k.lport);
  let me = idx(k) + 1;
  let i = load<u32>(h);
  let prev: Tcb | null = null;
  while (i) {
    let c = tcb(i - 1);
    if (i == me) {
      if (prev) prev.hashNext = c.hashNext; else store<u32>(h, c.hashNext);
      k.hashNext = 0;
      return;
    }
    prev = c;
    i = c.hashNext;
  }
}

// ---- TIME-WAIT FIFO (twNext / twPrev) ----
export function twAppend(k: Tcb): void {
  let me = idx(k) + 1;
  k.twNext = 0;
  k.twPrev = twTail;
  if (twTail) tcb(twTail - 1).twNext = me; else twHead = me;
  twTail = me;
  nTimeWait++;
}

/** The oldest TIME-WAIT block the host has let go of: freeing it makes room
 * (one the host still holds would not free its slot). */
export function twReclaimable(): Tcb | null {
  let i = twHead;
  while (i && hasF(tcb(i - 1), F_ATTACHED)) i = tcb(i - 1).twNext;
  return i ? tcb(i - 1) : null;
}

export function twRemove(k: Tcb): void {
  let n = k.twNext, p = k.twPrev;
  if (p) tcb(p - 1).twNext = n; else twHead = n;
  if (n) tcb(n - 1).twPrev = p; else twTail = p;
  k.twNext = 0;
  k.twPrev = 0;
  nTimeWait--;
}

// ---- timer heap: each TCB at most once, keyed by timerKey ----
// @ts-ignore: decorator
@inline function hk(i: u32): i64 { return tcb(load<u32>(heap + (<usize>i << 2))).timerKey; }
// @ts-ignore: decorator
@inline function hput(i: u32, t: u32): void {
  store<u32>(heap + (<usize>i << 2), t);
  tcb(t).heapIdx = i + 1;
}

function siftUp(i: u32): void {
  let t = load<u32>(heap + (<usize>i << 2));
  let key = tcb(t).timerKey;
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
  let key = tcb(t).timerKey;
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
export function tcbDeadline(k: Tcb): i64 {
  let t = k.rtxAt;
  let d = k.dackAt;
  if (d < t) t = d;
  d = k.kaAt;
  if (d < t) t = d;
  return t;
}

/** Call after lowering (or setting) any of a TCB's deadlines. A later
 * deadline than the heap key is left lazy: the TCB pops early, finds
 * nothing due and goes back in. */
export function timerUpdate(k: Tcb): void {
  let t = tcbDeadline(k);
  let hi = k.heapIdx;
  if (t == NEVER) return;
  if (hi) {
    if (t < k.timerKey) { k.timerKey = t; siftUp(hi - 1); }
  } else {
    k.timerKey = t;
    hput(heapN, idx(k));
    heapN++;
    siftUp(heapN - 1);
  }
}

/** Takes a TCB out of the heap (when it is freed). */
export function timerRemove(k: Tcb): void {
  let hi = k.heapIdx;
  if (!hi) return;
  let i = hi - 1;
  k.heapIdx = 0;
  heapN--;
  if (i == heapN) return;
  let last = load<u32>(heap + (<usize>heapN << 2));
  hput(i, last);
  siftDown(i);
  siftUp(tcb(last).heapIdx - 1);
}

/** The TCB whose key is due by now (removed from the heap), or null. */
export function timerPop(): Tcb | null {
  if (heapN == 0) return null;
  let t = load<u32>(heap);
  let k = tcb(t);
  if (k.timerKey > now) { wakeAt(k.timerKey); return null; }
  timerRemove(k);
  return k;
}

export function timerCount(): u32 { return heapN; }

/** Reports the earliest TCP deadline (wakeAt), for timers armed after tcpTimers looked. */
export function timerWake(): void {
  if (heapN) wakeAt(tcb(load<u32>(heap)).timerKey);
}

/** An event about k, if the host holds its descriptor. */
export function notify(k: Tcb, ev: u32, b: u32): void {
  if (hasF(k, F_ATTACHED)) emit(ev, idx(k), b, 0);
}

// ---- small helpers ----
// @ts-ignore: decorator
@inline export function nowMs(): u32 { return <u32>(now / 1000); }
// @ts-ignore: decorator
@inline export function tsNow(k: Tcb): u32 { return nowMs() + k.tsOff; }
// @ts-ignore: decorator
@inline export function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
// @ts-ignore: decorator
@inline export function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }
// @ts-ignore: decorator
@inline export function sndWs(k: Tcb): u32 { return k.wscale & 0xff; }
// @ts-ignore: decorator
@inline export function rcvWs(k: Tcb): u32 { return (k.wscale >> 8) & 0xff; }

// ---- the pending-output list: TCBs to run tcpOutput for at the end of a batch ----
export let outHead: u32 = 0;
let outTail: u32 = 0;

export function wantOutput(k: Tcb): void {
  if (hasF(k, F_OUTQ)) return;
  setF(k, F_OUTQ);
  let me = idx(k) + 1;
  k.outNext = 0;
  k.outPrev = outTail;
  if (outTail) tcb(outTail - 1).outNext = me; else outHead = me;
  outTail = me;
}

export function outRemove(k: Tcb): void {
  if (!hasF(k, F_OUTQ)) return;
  clrF(k, F_OUTQ);
  let n = k.outNext, p = k.outPrev;
  if (p) tcb(p - 1).outNext = n; else outHead = n;
  if (n) tcb(n - 1).outPrev = p; else outTail = p;
}

/** Bytes sent and not yet acknowledged. */
export function flight(k: Tcb): u32 { return k.sndMax - k.sndUna; }

/** FIN's sequence number, if the host has shut down sending. */
// @ts-ignore: decorator
@inline export function finSeq(k: Tcb): u32 { return k.sbSeq + k.sbLen; }

export function finAcked(k: Tcb): bool {
  return hasF(k, F_FIN_QUEUED) && k.sndUna == finSeq(k) + 1;
}
