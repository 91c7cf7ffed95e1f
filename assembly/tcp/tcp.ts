// TCP (RFC 9293) with MSS, window scaling, timestamps and PAWS (RFC 7323),
// SACK both ways (RFC 2018) with SACK-based loss recovery (RFC 6675),
// NewReno (RFC 5681, 6582) and CUBIC (RFC 9438), RFC 6298 RTO, RFC 5961
// challenge ACKs, RFC 6528 ISNs, RFC 6056 ports, SYN cookies.
//
// Data path: the host writes straight into a socket's send buffer (chunks
// from a shared pool); segments are built from it with the checksum fused
// into the one copy; retransmissions are rebuilt from it. Received in-order
// payload stays in the packet buffer it arrived in until the host copies it
// out; out-of-order segments wait, sorted, in a bounded queue.
import { ld16, ld32, st16, st32, seqLt, seqLe } from '../wire/bytes';
import { sumBytes, copySum, fold, finish, swapSum, pseudoSum } from '../wire/checksum';
import { TCP_SPORT, TCP_DPORT, TCP_SEQ, TCP_ACK, TCP_OFF, TCP_FLAGS, TCP_WIN, TCP_CSUM, TCP_URP, TCP_HLEN,
  TH_SYN, TH_FIN, TH_RST, TH_ACK, TH_PSH, TCPOPT_EOL, TCPOPT_NOP, TCPOPT_MSS, TCPOPT_WSCALE,
  TCPOPT_SACK_PERMITTED, TCPOPT_SACK, TCPOPT_TIMESTAMP, tcpHlen } from '../wire/tcp';
import { PROTO_TCP, ipSrc, ipDst, IP_HLEN, IP_BROADCAST, isMulticast } from '../wire/ipv4';
import { ICMP_UNREACH, UNREACH_PORT, UNREACH_PROTO, UNREACH_NEEDFRAG } from '../wire/icmp';
import { pktFree, pktFreeChain, pktUnits, txDescRoom, txGatherAdd, txGatherClear, bufSize, nbufs, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT, PKT_QNEXT, PKT_A, PKT_B, PKT_C } from '../base/mem';
import { SCB_IO, SCB_IO_CAP, SCB_FREE_COUNT, FRAME_CSUM_PARTIAL, FRAME_GSO, scbGet } from '../base/scb';
import { count, countN, C_TCP_RX, C_TCP_BAD, C_TCP_RST_TX, C_TCP_TX, C_TCP_RETRANS, C_TCP_RTO, C_TCP_FAST_RETRANS,
  C_TCP_OOO, C_TCP_OOO_DROP, C_TCP_DUP, C_TCP_PAWS, C_TCP_CHALLENGE_ACK, C_TCP_CHALLENGE_LIMITED, C_TCP_NO_PORT,
  C_TCP_COOKIE_TX, C_TCP_COOKIE_OK, C_TCP_COOKIE_BAD, C_TCP_LISTEN_DROP, C_TCP_TABLE_FULL, C_TCP_TW_RECLAIM,
  C_TCP_ZWP, C_TCP_KA, C_TCP_TIMEOUT, C_TCP_RST_RX, C_TCP_BAD_CSUM, C_TCP_ACK_UNSENT, C_TCP_WND_DROP,
  C_TCP_ACCEPT, C_TCP_CONNECT, C_TCP_DELACK, C_TCP_RX_BYTES, C_TCP_TX_BYTES, C_TCP_TLP } from '../base/counters';
import { emit, EV_TCP } from '../base/events';
import { now, NEVER, wakeAt, ms } from '../base/time';
import { keyedHash, rand32 } from '../base/random';
import { localIface, ifMtu, ifGsoMax, ifCsumOffload, ifScatterGather, isSubnetBroadcast, routeLookup, Route, ROUTE_SLOT } from '../iface/iface';
import { ipBegin, ipRoute, ipSend, pktBroadcast, pktCsumOk, pktSum, pktTrim, L4, DEFAULT_TTL } from '../iface/ip';
import { T_STATE, T_FLAGS, T_LADDR, T_LPORT, T_RADDR, T_RPORT, T_PARENT, T_ACCNEXT, T_ACCPREV, T_ISS, T_IRS,
  T_SND_UNA, T_SND_NXT, T_SND_MAX, T_SND_WND, T_SND_WL1, T_SND_WL2, T_MAX_SNDWND, T_RCV_NXT, T_RCV_ADV,
  T_WSCALE, T_MSS, T_RMSS, T_TS_RECENT, T_TS_OFF, T_LAST_ACK_SENT, T_SRTT, T_RTTVAR, T_RTO, T_BACKOFF,
  T_RTT_SEQ, T_RTT_TIME, T_CWND, T_SSTHRESH, T_RECOVER, T_DUPACKS, T_RXT_NXT, T_SB_SEQ, T_SB_LEN, T_SB_OFF,
  T_SB_HEAD, T_SB_TAIL, T_SB_NCH, T_SNDBUF, T_RCVBUF, T_RQ_HEAD, T_RQ_TAIL, T_RQ_BYTES, T_RQ_BUFS, T_OOO_HEAD,
  T_OOO_BYTES, T_OOO_BUFS, T_SEGS_UNACKED, T_OUTNEXT, T_OUTPREV, T_ERR, T_KA_IDLE, T_KA_INTVL, T_KA_CNT,
  T_KA_PROBES, T_CC, T_SACKED, T_HIGH_SACK, T_NSACK, T_SACKS, NSACKMAX, T_T_RTX, T_T_DACK, T_T_KA, T_LAST_RX,
  T_W_MAX, T_K, T_EPOCH, T_W_EST, T_TS_AGE, T_SYNQ, T_ACCQ_HEAD, T_ACCQ_TAIL, T_ACCQ_LEN, T_BACKLOG,
  T_LAST_OOO, T_PERSIST, T_RTXCNT, T_SBC_N, T_SBC_CH, T_PMTU_MSS, T_ACKED_CA, L_SYNQ_HEAD, T_SND_SML, T_RTX_TS, T_RXT_MARK, T_TLP_HIGH, TCB,
  S_FREE, S_CLOSED, S_LISTEN, S_SYN_SENT, S_SYN_RCVD, S_ESTABLISHED, S_FIN_WAIT_1, S_FIN_WAIT_2, S_CLOSE_WAIT,
  S_CLOSING, S_LAST_ACK, S_TIME_WAIT,
  F_ATTACHED, F_NODELAY, F_TS, F_SACK, F_WS, F_FIN_QUEUED, F_FIN_RCVD, F_ACKNOW, F_DELACK, F_OUTQ, F_RD_EV,
  F_WR_WANT, F_RECOVERY, F_TIMING, F_ACTIVE, F_ACCQ, F_PERSIST, F_RTO_LOSS, F_RTX_TS, F_RXT_MARK, F_TLP, F_TLP_DONE, F_TLP_RXT,
  CC_CUBIC, CC_NEWRENO, CHUNK, CHUNK_SHIFT,
  tcb, idx, g, s, hasF, setF, clrF, state, validSd, tcbAlloc, tcbFree, connLookup, connHashIn, connHashOut,
  listenLookup, listenConflict, listenHashIn, listenHashOut, twAppend, twRemove, timerUpdate, timerRemove,
  timerPop, chunkAddr, chunkNextOf, chunkAlloc, chunkSetNext, chunkRelease, waitAppend, waitRemove,
  tcbLayout, tcbInit, ntcbs, nUsed, nTimeWait, nChunks, nChunksFree, tcbDeadline, timerCount, timerWake, nChunksDeferred } from './tcb';
import { E_ADDRINUSE, E_ADDRNOTAVAIL, E_AGAIN, E_ALREADY, E_BADF, E_INVAL, E_ISCONN, E_MFILE, E_NETUNREACH, E_NOTCONN, E_PIPE } from '../base/errno';

/** The route of the segment being sent (ipRoute, routeLookup), read until ipSend. */
const rt = changetype<Route>(memory.data(ROUTE_SLOT));

// Errors carried in EV_TCP_ERROR (positive errno).
const ECONNREFUSED: u32 = 111;
const ECONNRESET: u32 = 104;
const ETIMEDOUT: u32 = 110;
const EHOSTUNREACH: u32 = 113;
const ECONNABORTED: u32 = 103;

// ---- events (EV_TCP + n); a: descriptor ----
export const EV_TCP_CONNECTED: u32 = EV_TCP + 0;  // active open completed
export const EV_TCP_ACCEPT: u32 = EV_TCP + 1;     // a: listener with a connection to accept
export const EV_TCP_READABLE: u32 = EV_TCP + 2;
export const EV_TCP_WRITABLE: u32 = EV_TCP + 3;
export const EV_TCP_FIN: u32 = EV_TCP + 4;        // the peer ended its stream
export const EV_TCP_CLOSED: u32 = EV_TCP + 5;     // both directions finished
export const EV_TCP_ERROR: u32 = EV_TCP + 6;      // b: errno (positive)

// ---- socket options (tcp_setopt) ----
export const OPT_NODELAY: u32 = 1;
export const OPT_KEEPALIVE: u32 = 2;   // idle ms, 0: off
export const OPT_KEEPINTVL: u32 = 3;
export const OPT_KEEPCNT: u32 = 4;
export const OPT_CC: u32 = 5;          // CC_CUBIC or CC_NEWRENO
export const OPT_SNDBUF: u32 = 6;
export const OPT_RCVBUF: u32 = 7;

const EPH_LO: u32 = 49152;
const EPH_N: u32 = 16384;
const MAX_RTO_MS: u32 = 120_000;
const RETRIES2: u32 = 15;
const SYNACK_RETRIES: u32 = 5;
const TS_24DAYS: i64 = 24 * 86400 * 1000_000;
const TLP_MIN: i64 = 2000;       // µs added to the probe timeout: ACK processing and an RTT measured in whole ms
const WC_DELACK: i64 = 200_000;  // µs: a peer's worst-case delayed ACK (RFC 8985 7.2 WCDelAckT)

// ---- configuration ----
let msl2: i64 = 0;           // µs in TIME-WAIT
let finTimeout: i64 = 0;     // µs an orphaned FIN-WAIT-2 waits
let minRto: u32 = 200;
let initRto: u32 = 1000;
let delack: i64 = 0;
let defCc: u32 = CC_CUBIC;
let defSndbuf: u32 = 0;
let defRcvbuf: u32 = 0;
let oooMax: u32 = 64;
let synRetries: u32 = 6;
let initCwndSegs: u32 = 10;
let chalRate: u32 = 1000;
let chalTokens: i64 = 0;
let chalLast: i64 = 0;
let ephCounter: u32 = 0;

export function tcpLayout(socks: u32, chunks: u32): void { tcbLayout(socks, chunks); }

export function tcpConfig(mslMs: u32, finMs: u32, minRtoMs: u32, delackMs: u32, cc: u32, sndbuf: u32, rcvbuf: u32,
    ooo: u32, syn: u32, icw: u32, chal: u32, initRtoMs: u32): void {
  tcbInit();
  msl2 = ms(<i64>mslMs) * 2;
  finTimeout = ms(<i64>finMs);
  minRto = minRtoMs;
  initRto = max<u32>(initRtoMs, minRtoMs);
  delack = ms(<i64>delackMs);
  defCc = cc > 1 ? CC_CUBIC : cc;
  defSndbuf = max<u32>(sndbuf, 4096);
  defRcvbuf = max<u32>(rcvbuf, 4096);
  // 0: bounded only by the receive buffer (the window) and the pool.
  oooMax = ooo ? ooo : 0xffffffff;
  synRetries = syn;
  initCwndSegs = icw;
  chalRate = chal;
  chalTokens = <i64>chal * 1000_000;
  chalLast = now;
  ephCounter = rand32();
}

// @ts-ignore: decorator
@inline function nowMs(): u32 { return <u32>(now / 1000); }
// @ts-ignore: decorator
@inline function tsNow(k: usize): u32 { return nowMs() + g(k, T_TS_OFF); }
// @ts-ignore: decorator
@inline function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
// @ts-ignore: decorator
@inline function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }
// @ts-ignore: decorator
@inline function sndWs(k: usize): u32 { return g(k, T_WSCALE) & 0xff; }
// @ts-ignore: decorator
@inline function rcvWs(k: usize): u32 { return (g(k, T_WSCALE) >> 8) & 0xff; }
// @ts-ignore: decorator
@inline function setTimer(k: usize, off: usize, t: i64): void { store<i64>(k + off, t); }
// @ts-ignore: decorator
@inline function getTimer(k: usize, off: usize): i64 { return load<i64>(k + off); }

function notify(k: usize, ev: u32, b: u32): void {
  if (hasF(k, F_ATTACHED)) emit(ev, idx(k), b, 0);
}

// ---- the pending-output list: TCBs to run tcpOutput for at the end of a batch ----
let outHead: u32 = 0;
let outTail: u32 = 0;
let txBlocked = false;

function wantOutput(k: usize): void {
  if (hasF(k, F_OUTQ)) return;
  setF(k, F_OUTQ);
  let me = idx(k) + 1;
  s(k, T_OUTNEXT, 0);
  s(k, T_OUTPREV, outTail);
  if (outTail) s(tcb(outTail - 1), T_OUTNEXT, me); else outHead = me;
  outTail = me;
}

function outRemove(k: usize): void {
  if (!hasF(k, F_OUTQ)) return;
  clrF(k, F_OUTQ);
  let n = g(k, T_OUTNEXT), p = g(k, T_OUTPREV);
  if (p) s(tcb(p - 1), T_OUTNEXT, n); else outHead = n;
  if (n) s(tcb(n - 1), T_OUTPREV, p); else outTail = p;
}

/** Runs output for every TCB that asked; stops (and asks to be called again) when the tx arena is full. */
export function tcpFlush(): void {
  txBlocked = false;
  while (outHead) {
    let k = tcb(outHead - 1);
    outRemove(k);
    tcpOutput(k);
    if (txBlocked) {
      wantOutput(k);
      wakeAt(now);
      break;
    }
  }
  // Output arms retransmission timers after tcpTimers reported the earliest
  // deadline: report it again, or a timer armed here waits for the next frame.
  timerWake();
}

/** Runs every timer that is due; O(expired). */
export function tcpTimers(): void {
  for (;;) {
    let k = timerPop();
    if (!k) break;
    let st = state(k);
    if (st == S_FREE) continue;
    if (getTimer(k, T_T_DACK) <= now) {
      setTimer(k, T_T_DACK, NEVER);
      if (hasF(k, F_DELACK)) { count(C_TCP_DELACK); setF(k, F_ACKNOW); wantOutput(k); }
    }
    if (getTimer(k, T_T_RTX) <= now) {
      setTimer(k, T_T_RTX, NEVER);
      rtxTimeout(k);
      if (state(k) == S_FREE) continue;
    }
    if (getTimer(k, T_T_KA) <= now) {
      setTimer(k, T_T_KA, NEVER);
      kaTimeout(k);
      if (state(k) == S_FREE) continue;
    }
    if (state(k) != S_FREE && state(k) != S_CLOSED) timerUpdate(k);
  }
}

// ---- loaned receive buffers (freed on the next call) ----
let loaned: usize = 0;

export function tcpReleaseLoans(): void {
  let b = loaned;
  loaned = 0;
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    pktFreeChain(b);
    b = next;
  }
}

// ---- send buffer ----
let sbContig: u32 = 0;

/** Address of the byte at offset off from T_SB_SEQ; sbContig: bytes that follow it in the same chunk. */
function sbAddr(k: usize, off: u32): usize {
  let pos = g(k, T_SB_OFF) + off;
  let n = pos >> CHUNK_SHIFT;
  let within = pos & (CHUNK - 1);
  let cn = g(k, T_SBC_N), cc = g(k, T_SBC_CH);
  if (cc == 0 || n < cn) { cc = g(k, T_SB_HEAD); cn = 0; }
  while (cn < n) { cc = chunkNextOf(cc); cn++; }
  s(k, T_SBC_N, cn);
  s(k, T_SBC_CH, cc);
  sbContig = CHUNK - within;
  return chunkAddr(cc) + within;
}

/** Drops n acknowledged bytes from the front of the send buffer. */
function sbDrop(k: usize, n: u32): void {
  if (n == 0) return;
  s(k, T_SB_SEQ, g(k, T_SB_SEQ) + n);
  let len = g(k, T_SB_LEN) - n;
  s(k, T_SB_LEN, len);
  let off = g(k, T_SB_OFF) + n;
  while (off >= CHUNK || (len == 0 && g(k, T_SB_NCH) != 0)) {
    let c = g(k, T_SB_HEAD);
    let next = chunkNextOf(c);
    s(k, T_SB_HEAD, next);
    if (!next) s(k, T_SB_TAIL, 0);
    s(k, T_SB_NCH, g(k, T_SB_NCH) - 1);
    let cc = g(k, T_SBC_CH);
    if (cc) { if (g(k, T_SBC_N) == 0) s(k, T_SBC_CH, 0); else s(k, T_SBC_N, g(k, T_SBC_N) - 1); }
    chunkRelease(c);
    if (off >= CHUNK) off -= CHUNK; else off = 0;
    if (g(k, T_SB_NCH) == 0) { off = 0; break; }
  }
  s(k, T_SB_OFF, off);
}

function sbFreeAll(k: usize): void {
  while (g(k, T_SB_NCH)) {
    let c = g(k, T_SB_HEAD);
    s(k, T_SB_HEAD, chunkNextOf(c));
    s(k, T_SB_NCH, g(k, T_SB_NCH) - 1);
    chunkRelease(c);
  }
  s(k, T_SB_TAIL, 0);
  s(k, T_SB_LEN, 0);
  s(k, T_SB_OFF, 0);
  s(k, T_SBC_CH, 0);
  waitRemove(k);
}

/** A socket waiting for a send chunk may try again. */
export function chunkWaiterReady(k: usize): void {
  if (hasF(k, F_WR_WANT)) { clrF(k, F_WR_WANT); notify(k, EV_TCP_WRITABLE, 0); }
}

// ---- receive queues ----
function queueFree(b: usize): u32 {
  let n: u32 = 0;
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    n++;
    pktFreeChain(b);
    b = next;
  }
  return n;
}

function rxFreeAll(k: usize): void {
  queueFree(<usize>g(k, T_RQ_HEAD));
  queueFree(<usize>g(k, T_OOO_HEAD));
  s(k, T_RQ_HEAD, 0); s(k, T_RQ_TAIL, 0); s(k, T_RQ_BYTES, 0); s(k, T_RQ_BUFS, 0);
  s(k, T_OOO_HEAD, 0); s(k, T_OOO_BYTES, 0); s(k, T_OOO_BUFS, 0);
}

/** A segment's buffers, a large one weighing as the small ones it spans. */
// @ts-ignore: decorator
@inline function chainBufs(b: usize): u32 {
  let n: u32 = 0;
  for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) n += pktUnits(c);
  return n;
}

/** Removes n bytes from the front of a segment's chain; returns the new head (0 if nothing is left). */
function trimFront(b: usize, n: u32): usize {
  let total = load<u32>(b, PKT_TOTAL);
  if (n >= total) { pktFreeChain(b); return 0; }
  let left = n;
  while (left) {
    let l = load<u32>(b, PKT_LEN);
    if (l <= left) {
      left -= l;
      let next = <usize>load<u32>(b, PKT_NEXT);
      store<u32>(b, 0, PKT_NEXT);
      pktFree(b);
      b = next;
    } else {
      store<u32>(b, load<u32>(b, PKT_DATA) + left, PKT_DATA);
      store<u32>(b, l - left, PKT_LEN);
      left = 0;
    }
  }
  store<u32>(b, total - n, PKT_TOTAL);
  return b;
}

/** Bytes of receive window we could offer now. Buffers count at their
 * true size, so tiny segments cannot pin the shared pool. */
function rcvSpace(k: usize): u32 {
  let bytes = g(k, T_RQ_BYTES) + g(k, T_OOO_BYTES);
  let tru = (g(k, T_RQ_BUFS) + g(k, T_OOO_BUFS)) * bufSize;
  let held = max<u32>(bytes, tru);
  let buf = g(k, T_RCVBUF);
  return held >= buf ? 0 : buf - held;
}

/** The window to advertise (bytes, before scaling): never shrinks the right
 * edge already offered, and grows only in useful steps (SWS avoidance). */
function rcvWindow(k: usize): u32 {
  let nxt = g(k, T_RCV_NXT);
  let adv = g(k, T_RCV_ADV);
  let cur: u32 = seqGt(adv, nxt) ? adv - nxt : 0;
  let space = rcvSpace(k);
  let maxw = <u32>65535 << rcvWs(k);
  if (space > maxw) space = maxw;
  if (space <= cur) return cur;
  // The pool is low: hold the edge where it is.
  if (scbGet(SCB_FREE_COUNT) < (nbufs >> 3)) return cur;
  let step = min<u32>(g(k, T_RCVBUF) >> 1, g(k, T_RMSS));
  if (space - cur < step && space < g(k, T_RCVBUF) >> 1 && cur != 0) return cur;
  return space;
}

// ---- options ----
let oMss: u32 = 0;
let oWs: i32 = -1;
let oSackOk = false;
let oTs = false;
let oTsVal: u32 = 0;
let oTsEcr: u32 = 0;
let oNSack: u32 = 0;
const O_SACK: usize = memory.data(32, 8);

function parseOptions(p: usize, end: usize, syn: bool): void {
  oMss = 0; oWs = -1; oSackOk = false; oTs = false; oNSack = 0;
  while (p < end) {
    let kind = <u32>load<u8>(p);
    if (kind == TCPOPT_EOL) break;
    if (kind == TCPOPT_NOP) { p++; continue; }
    if (p + 1 >= end) break;
    let len = <u32>load<u8>(p, 1);
    if (len < 2 || p + len > end) break;
    if (kind == TCPOPT_MSS && len == 4 && syn) oMss = ld16(p + 2);
    else if (kind == TCPOPT_WSCALE && len == 3 && syn) oWs = <i32>min<u32>(<u32>load<u8>(p, 2), 14);
    else if (kind == TCPOPT_SACK_PERMITTED && len == 2 && syn) oSackOk = true;
    else if (kind == TCPOPT_TIMESTAMP && len == 10) { oTs = true; oTsVal = ld32(p + 2); oTsEcr = ld32(p + 6); }
    else if (kind == TCPOPT_SACK && len >= 10 && ((len - 2) & 7) == 0 && !syn) {
      let n = (len - 2) >> 3;
      for (let i: u32 = 0; i < n && oNSack < 4; i++) {
        store<u32>(O_SACK + (<usize>oNSack << 3), ld32(p + 2 + (<usize>i << 3)));
        store<u32>(O_SACK + (<usize>oNSack << 3), ld32(p + 6 + (<usize>i << 3)), 4);
        oNSack++;
      }
    }
    p += len;
  }
}

// ---- ISN, ports, timestamps offsets, cookies ----
function tupleA(laddr: u32, raddr: u32): u64 { return (<u64>laddr << 32) | <u64>raddr; }
function tupleB(lport: u32, rport: u32): u64 { return (<u64>lport << 16) | <u64>rport; }

/** RFC 6528: a keyed hash of the 4-tuple plus a 4 µs clock. */
function isnFor(laddr: u32, lport: u32, raddr: u32, rport: u32): u32 {
  return <u32>keyedHash(tupleA(laddr, raddr), tupleB(lport, rport), 0x6528) + <u32>(now >> 2);
}

function tsOffFor(laddr: u32, lport: u32, raddr: u32, rport: u32): u32 {
  return <u32>keyedHash(tupleA(laddr, raddr), tupleB(lport, rport), 0x7323);
}

/** RFC 6056 algorithm 3: a per-destination offset, a global counter, then a search. */
function ephemeralPort(laddr: u32, raddr: u32, rport: u32): u32 {
  let off = <u32>keyedHash(tupleA(laddr, raddr), <u64>rport, 0x6056);
  for (let i: u32 = 0; i < EPH_N; i++) {
    let port = EPH_LO + (off + ephCounter + i) % EPH_N;
    if (!connLookup(laddr, port, raddr, rport) && !listenConflict(laddr, port)) {
      ephCounter += i + 1;
      return port;
    }
  }
  return 0;
}

const COOKIE_MSS: StaticArray<u32> = [536, 1220, 1440, 1460, 4312, 8960, 16344, 65495];

function cookieHash(laddr: u32, lport: u32, raddr: u32, rport: u32, peerIsn: u32, t: u32): u32 {
  return <u32>keyedHash(tupleA(laddr, raddr), tupleB(lport, rport) | (<u64>peerIsn << 32), 0xc00c1e00 | <u64>t);
}

function cookieMake(laddr: u32, lport: u32, raddr: u32, rport: u32, peerIsn: u32, mssIdx: u32): u32 {
  let t = <u32>(now / 64_000_000);
  return (cookieHash(laddr, lport, raddr, rport, peerIsn, t) & 0xffffff00) | ((t & 31) << 3) | mssIdx;
}

/** The MSS index a cookie carries, or -1 if it is not one of ours from the last two minutes. */
function cookieCheck(c: u32, laddr: u32, lport: u32, raddr: u32, rport: u32, peerIsn: u32): i32 {
  let cur = <u32>(now / 64_000_000);
  let tl = (c >> 3) & 31;
  for (let d: u32 = 0; d < 2; d++) {
    let t = cur - d;
    if ((t & 31) != tl) continue;
    if ((cookieHash(laddr, lport, raddr, rport, peerIsn, t) & 0xffffff00) == (c & 0xffffff00)) return <i32>(c & 7);
  }
  return -1;
}

// ---- RTT and RTO (RFC 6298) ----
function rttSample(k: usize, rttMs: u32): void {
  let r = rttMs * 1000;
  let srtt = g(k, T_SRTT);
  if (srtt == 0) {
    srtt = max<u32>(r, 1);
    s(k, T_RTTVAR, r >> 1);
  } else {
    let v = g(k, T_RTTVAR);
    let d = srtt > r ? srtt - r : r - srtt;
    s(k, T_RTTVAR, v - (v >> 2) + (d >> 2));
    srtt = max<u32>(srtt - (srtt >> 3) + (r >> 3), 1);
  }
  s(k, T_SRTT, srtt);
  let rto = (srtt + max<u32>(1000, 4 * g(k, T_RTTVAR))) / 1000;
  s(k, T_RTO, min<u32>(max<u32>(rto, minRto), MAX_RTO_MS));
}

function rtoNow(k: usize): i64 {
  let r = <u64>g(k, T_RTO) << min<u32>(g(k, T_BACKOFF), 12);
  if (r > <u64>MAX_RTO_MS) r = MAX_RTO_MS;
  return now + ms(<i64>r);
}

function armRtx(k: usize): void {
  clrF(k, F_PERSIST | F_TLP);
  setTimer(k, T_T_RTX, rtoNow(k));
  timerUpdate(k);
  armPto(k);
}

/** (Re)starts the tail-loss probe timeout (RFC 8985 7.2) ahead of the RTO
 * while no recovery is under way: a lost tail brings no duplicate ACKs to
 * start one. Two round trips, as Linux: plus the peer's delayed ACK when one
 * segment is out, else TLP_MIN. A probe no sooner than the RTO would be none. */
function armPto(k: usize): void {
  let srtt = <i64>g(k, T_SRTT);
  let f = flight(k);
  if (srtt == 0 || f == 0 || !hasF(k, F_SACK) || hasF(k, F_RECOVERY | F_RTO_LOSS | F_TLP_DONE | F_PERSIST) ||
      g(k, T_BACKOFF) != 0 || state(k) < S_ESTABLISHED) return;
  let t = now + 2 * srtt + (f <= g(k, T_MSS) ? WC_DELACK : TLP_MIN);
  let rto = hasF(k, F_TLP) ? rtoNow(k) : getTimer(k, T_T_RTX);
  if (t < rto) setF(k, F_TLP);
  else { t = rto; clrF(k, F_TLP); }
  setTimer(k, T_T_RTX, t);
  timerUpdate(k);
}

// ---- congestion control ----
function ccInit(k: usize): void {
  let mss = g(k, T_MSS);
  s(k, T_CWND, min<u32>(initCwndSegs * mss, max<u32>(2 * mss, 14600)));
  s(k, T_SSTHRESH, 0x7fffffff);
  store<f64>(k + T_W_MAX, 0);
  store<i64>(k + T_EPOCH, 0);
}

function flight(k: usize): u32 { return g(k, T_SND_MAX) - g(k, T_SND_UNA); }

/** On a loss: sets ssthresh (and CUBIC's state). */
function ccOnLoss(k: usize): void {
  let mss = g(k, T_MSS);
  let cwnd = g(k, T_CWND);
  if (g(k, T_CC) == CC_NEWRENO) {
    s(k, T_SSTHRESH, max<u32>(flight(k) >> 1, 2 * mss));
  } else {
    let w = <f64>cwnd;
    let wmax = load<f64>(k + T_W_MAX);
    // Fast convergence (RFC 9438 4.7).
    store<f64>(k + T_W_MAX, w < wmax ? w * (1.0 + 0.7) / 2.0 : w);
    let ss = max<u32>(<u32>(w * 0.7), 2 * mss);
    s(k, T_SSTHRESH, ss);
    store<i64>(k + T_EPOCH, 0);
  }
  s(k, T_ACKED_CA, 0);
}

function ccOnAck(k: usize, acked: u32, wasLimited: bool): void {
  if (!wasLimited) return;   // RFC 7661: grow only while the window is in use
  let mss = g(k, T_MSS);
  let cwnd = g(k, T_CWND);
  let ss = g(k, T_SSTHRESH);
  if (cwnd < ss) {
    cwnd += min<u32>(acked, 16 * mss);
    s(k, T_CWND, min<u32>(cwnd, 0x3fffffff));
    return;
  }
  if (g(k, T_CC) == CC_NEWRENO) {
    let a = g(k, T_ACKED_CA) + acked;
    if (a >= cwnd) { a -= cwnd; cwnd += mss; }
    s(k, T_ACKED_CA, a);
    s(k, T_CWND, min<u32>(cwnd, 0x3fffffff));
    return;
  }
  // CUBIC (RFC 9438 4.2-4.4), in bytes; C = 0.4 segments/s^3, beta = 0.7.
  let fm = <f64>mss;
  let wc = <f64>cwnd;
  if (load<i64>(k + T_EPOCH) == 0) {
    store<i64>(k + T_EPOCH, now);
    let wmax = load<f64>(k + T_W_MAX);
    if (wmax <= wc) { store<f64>(k + T_W_MAX, wc); store<f64>(k + T_K, 0); }
    else store<f64>(k + T_K, Math.cbrt((wmax - wc) / fm / 0.4));
    store<f64>(k + T_W_EST, wc);
  }
  let t = <f64>(now - load<i64>(k + T_EPOCH)) / 1e6 + <f64>g(k, T_SRTT) / 1e6;
  let d = t - load<f64>(k + T_K);
  let target = 0.4 * d * d * d * fm + load<f64>(k + T_W_MAX);
  if (target > 1.5 * wc) target = 1.5 * wc;
  let west = load<f64>(k + T_W_EST) + fm * (3.0 * 0.3 / 1.7) * <f64>acked / wc;
  store<f64>(k + T_W_EST, west);
  let nw: f64;
  if (target < west) nw = west;
  else if (target > wc) nw = wc + (target - wc) * <f64>acked / wc;
  else nw = wc + fm * <f64>acked / (100.0 * wc);
  let n = <u32>min<f64>(nw, 1073741823.0);
  s(k, T_CWND, max<u32>(n, cwnd));
}

// ---- SACK scoreboard (the peer's blocks) ----
const SCRATCH: usize = memory.data(8 * 16, 8);

function sackUpdate(k: usize): void {
  let una = g(k, T_SND_UNA);
  let smax = g(k, T_SND_MAX);
  let n: u32 = 0;
  let have = g(k, T_NSACK);
  for (let i: u32 = 0; i < have; i++) {
    let a = g(k, T_SACKS + (<usize>i << 3)), b = g(k, T_SACKS + (<usize>i << 3) + 4);
    store<u32>(SCRATCH + (<usize>n << 3), a);
    store<u32>(SCRATCH + (<usize>n << 3), b, 4);
    n++;
  }
  for (let i: u32 = 0; i < oNSack; i++) {
    let a = load<u32>(O_SACK + (<usize>i << 3)), b = load<u32>(O_SACK + (<usize>i << 3), 4);
    if (!seqLt(a, b) || seqGt(b, smax) || seqLe(b, una)) continue;   // invalid, or a D-SACK below snd_una
    if (seqLt(a, una)) a = una;
    store<u32>(SCRATCH + (<usize>n << 3), a);
    store<u32>(SCRATCH + (<usize>n << 3), b, 4);
    n++;
  }
  // Insertion sort by start, then merge.
  for (let i: u32 = 1; i < n; i++) {
    let a = load<u32>(SCRATCH + (<usize>i << 3)), b = load<u32>(SCRATCH + (<usize>i << 3), 4);
    let j = <i32>i - 1;
    while (j >= 0 && seqGt(load<u32>(SCRATCH + (<usize>j << 3)), a)) {
      store<u64>(SCRATCH + (<usize>(j + 1) << 3), load<u64>(SCRATCH + (<usize>j << 3)));
      j--;
    }
    store<u32>(SCRATCH + (<usize>(j + 1) << 3), a);
    store<u32>(SCRATCH + (<usize>(j + 1) << 3), b, 4);
  }
  let out: u32 = 0;
  let sacked: u32 = 0;
  let high = una;
  for (let i: u32 = 0; i < n; i++) {
    let a = load<u32>(SCRATCH + (<usize>i << 3)), b = load<u32>(SCRATCH + (<usize>i << 3), 4);
    if (seqLe(b, una)) continue;
    if (seqLt(a, una)) a = una;
    if (out > 0) {
      let pb = g(k, T_SACKS + (<usize>(out - 1) << 3) + 4);
      if (seqLe(a, pb)) {
        if (seqGt(b, pb)) { s(k, T_SACKS + (<usize>(out - 1) << 3) + 4, b); sacked += b - pb; }
        if (seqGt(b, high)) high = b;
        continue;
      }
    }
    if (out >= NSACKMAX) break;
    s(k, T_SACKS + (<usize>out << 3), a);
    s(k, T_SACKS + (<usize>out << 3) + 4, b);
    sacked += b - a;
    if (seqGt(b, high)) high = b;
    out++;
  }
  s(k, T_NSACK, out);
  s(k, T_SACKED, sacked);
  s(k, T_HIGH_SACK, high);
}

/** If seq lies in a SACKed range, the end of that range; else seq. */
function skipSacked(k: usize, seq: u32): u32 {
  let n = g(k, T_NSACK);
  for (let i: u32 = 0; i < n; i++) {
    let a = g(k, T_SACKS + (<usize>i << 3)), b = g(k, T_SACKS + (<usize>i << 3) + 4);
    if (seqLe(a, seq) && seqLt(seq, b)) seq = b;
  }
  return seq;
}

/** The start of the next SACKed range above seq, or lim. */
function nextSacked(k: usize, seq: u32, lim: u32): u32 {
  let n = g(k, T_NSACK);
  let best = lim;
  for (let i: u32 = 0; i < n; i++) {
    let a = g(k, T_SACKS + (<usize>i << 3));
    if (seqGt(a, seq) && seqLt(a, best)) best = a;
  }
  return best;
}

function sackedBelow(k: usize, x: u32): u32 {
  let n = g(k, T_NSACK);
  let t: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let a = g(k, T_SACKS + (<usize>i << 3)), b = g(k, T_SACKS + (<usize>i << 3) + 4);
    if (seqGe(a, x)) continue;
    t += (seqLt(b, x) ? b : x) - a;
  }
  return t;
}

// ---- segment output ----
/** Builds and sends one segment: data [seq, seq+len) from the send buffer,
 * flags, and the options they call for. The payload shrinks to make room
 * for SACK blocks (a FIN then waits for the next segment). Returns the
 * payload bytes sent, or -1 if nothing could go out. */
function sendSegment(k: usize, seq: u32, len: u32, flags: u32): i32 {
  let raddr = g(k, T_RADDR);
  if (!ipRoute(raddr, rt)) return -1;
  let laddr = g(k, T_LADDR);
  let syn = (flags & TH_SYN) != 0;
  let f0 = g(k, T_FLAGS);
  // Options: SYN: MSS, SACK-permitted + timestamps, window scale (Linux's order).
  let olen: u32 = 0;
  let nsack: u32 = 0;
  if (syn) {
    olen = 4;
    let act = state(k) == S_SYN_SENT;
    if (act || (f0 & (F_SACK | F_TS))) olen += 12;
    if (act || (f0 & F_WS)) olen += 4;
  } else {
    if (f0 & F_TS) olen = 12;
    if ((f0 & F_SACK) && g(k, T_OOO_HEAD) && (flags & TH_ACK)) {
      nsack = sackBlocks(k, (f0 & F_TS) ? 3 : 4);
      if (nsack) olen += 4 + (nsack << 3);
    }
  }
  let hl = TCP_HLEN + olen;
  let gso: u32 = 0;
  if (!syn && len > 0) {
    let room = g(k, T_MSS) + ((f0 & F_TS) ? 12 : 0);
    room = room > olen ? room - olen : 1;
    if (len > room) {
      // A link that cuts segments itself (GSO) takes as many whole ones as fit its limit;
      // the loopback takes an IP packet of any size, as Linux's lo.
      let gmax: u32 = rt.local ? 65535 : ifGsoMax(rt.ifx);
      let most = gmax > IP_HLEN + hl ? (gmax - IP_HLEN - hl) / room * room : 0;
      if (most > room) gso = room; else most = room;
      if (len > most) { len = most; flags &= ~TH_FIN; }
      if (len <= room) gso = 0;
    }
  }
  let partial = rt.local || ifCsumOffload(rt.ifx);
  let gather = gatherable(len);
  let f = ipBegin(hl + (gather ? 0 : len));
  if (!f) { txBlocked = true; return -1; }
  let t = f + L4;
  st16(t + TCP_SPORT, g(k, T_LPORT));
  st16(t + TCP_DPORT, g(k, T_RPORT));
  st32(t + TCP_SEQ, seq);
  let rnxt = g(k, T_RCV_NXT);
  st32(t + TCP_ACK, (flags & TH_ACK) ? rnxt : 0);
  store<u8>(t, <u8>((hl >> 2) << 4), TCP_OFF);
  store<u8>(t, <u8>flags, TCP_FLAGS);
  let wnd: u32;
  if (syn) wnd = min<u32>(rcvSpace(k), 65535);
  else {
    wnd = rcvWindow(k);
    s(k, T_RCV_ADV, rnxt + wnd);
    wnd >>= rcvWs(k);
    if (wnd > 65535) wnd = 65535;
  }
  if (syn) s(k, T_RCV_ADV, rnxt + wnd);
  st16(t + TCP_WIN, wnd);
  store<u32>(t + TCP_CSUM, 0);    // checksum and urgent pointer
  let o = t + TCP_HLEN;
  if (syn) {
    store<u8>(o, <u8>TCPOPT_MSS); store<u8>(o, 4, 1); st16(o + 2, g(k, T_RMSS));
    o += 4;
    let act = state(k) == S_SYN_SENT;
    if (act || (f0 & (F_SACK | F_TS))) {
      if (act || (f0 & F_SACK)) { store<u8>(o, <u8>TCPOPT_SACK_PERMITTED); store<u8>(o, 2, 1); }
      else { store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_NOP, 1); }
      if (act || (f0 & F_TS)) {
        store<u8>(o, <u8>TCPOPT_TIMESTAMP, 2); store<u8>(o, 10, 3);
        st32(o + 4, tsNow(k)); st32(o + 8, (f0 & F_TS) ? g(k, T_TS_RECENT) : 0);
      } else {
        store<u32>(o, 0x01010101, 2); store<u32>(o + 6, 0x01010101);
      }
      o += 12;
    }
    if (act || (f0 & F_WS)) {
      store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_WSCALE, 1); store<u8>(o, 3, 2); store<u8>(o, <u8>rcvWs(k), 3);
      o += 4;
    }
  } else {
    if (f0 & F_TS) {
      store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_NOP, 1);
      store<u8>(o, <u8>TCPOPT_TIMESTAMP, 2); store<u8>(o, 10, 3);
      st32(o + 4, tsNow(k)); st32(o + 8, g(k, T_TS_RECENT));
      o += 12;
    }
    if (nsack) {
      store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_NOP, 1);
      store<u8>(o, <u8>TCPOPT_SACK, 2); store<u8>(o, <u8>(2 + (nsack << 3)), 3);
      o += 4;
      for (let i: u32 = 0; i < nsack; i++) {
        st32(o, load<u32>(SBLK + (<usize>i << 3)));
        st32(o + 4, load<u32>(SBLK + (<usize>i << 3), 4));
        o += 8;
      }
    }
  }
  let sum = pseudoSum(laddr, raddr, PROTO_TCP, hl + len);
  if (len) {
    // The payload's one copy, from the send ring into the frame, carries the
    // checksum, unless the link completes it (then it is a plain copy, or none).
    let dst = t + hl;
    let off = seq - g(k, T_SB_SEQ);
    let done: u32 = 0;
    while (done < len) {
      let src = sbAddr(k, off + done);
      let n = min<u32>(sbContig, len - done);
      if (gather) txGatherAdd(src, n);
      else if (partial) memory.copy(dst + done, src, n);
      else {
        let ps = copySum(dst + done, src, n, 0);
        sum += (done & 1) ? <u64>swapSum(ps) : ps;
      }
      done += n;
    }
  }
  if (partial) st16(t + TCP_CSUM, fold(sum));
  else st16(t + TCP_CSUM, finish(sumBytes(t, hl, sum)));
  let txFlags = partial ? FRAME_CSUM_PARTIAL | (gso ? FRAME_GSO : 0) : 0;
  let r = ipSend(rt, f, hl + len, PROTO_TCP, laddr, raddr, true, DEFAULT_TTL, txFlags, gso);
  txGatherClear();
  if (r != 0) return -1;
  count(C_TCP_TX);
  countN(C_TCP_TX_BYTES, len);
  if (flags & TH_ACK) {
    s(k, T_LAST_ACK_SENT, rnxt);
    clrF(k, F_ACKNOW | F_DELACK);
    s(k, T_SEGS_UNACKED, 0);
    setTimer(k, T_T_DACK, NEVER);
  }
  return <i32>len;
}

/** Payloads smaller than this are copied: a descriptor per piece costs the host more. */
const GATHER_MIN: u32 = 2048;

/** Whether a payload of len bytes (routed by ipRoute) leaves from the send
 * buffer itself instead of being copied behind the headers (scatter-gather):
 * through the loopback, which copies it straight into packet buffers, or as a
 * descriptor per chunk it spans to a link that takes that, unless to a
 * broadcast next hop (looped back too). A segment of at most 64 KiB spans at
 * most 5 chunks. */
function gatherable(len: u32): bool {
  if (len < GATHER_MIN) return false;
  if (rt.local) return true;
  return ifScatterGather(rt.ifx) && rt.nexthop != IP_BROADCAST && !isSubnetBroadcast(rt.ifx, rt.nexthop) &&
    txDescRoom() >= (len >> CHUNK_SHIFT) + 3;
}

const SBLK: usize = memory.data(8 * 8, 8);

/** Our SACK blocks from the out-of-order queue: the block holding the latest
 * arrival first (RFC 2018 4), then the rest from the lowest. */
function sackBlocks(k: usize, maxn: u32): u32 {
  let n: u32 = 0;
  let b = <usize>g(k, T_OOO_HEAD);
  let first: i32 = -1;
  let last = g(k, T_LAST_OOO);
  while (b && n < 8) {
    let a = load<u32>(b, PKT_B);
    let e = a + load<u32>(b, PKT_TOTAL);
    b = <usize>load<u32>(b, PKT_QNEXT);
    while (b && load<u32>(b, PKT_B) == e) { e += load<u32>(b, PKT_TOTAL); b = <usize>load<u32>(b, PKT_QNEXT); }
    if (a == e) continue;
    store<u32>(SCRATCH + (<usize>n << 3), a);
    store<u32>(SCRATCH + (<usize>n << 3), e, 4);
    if (first < 0 && seqLe(a, last) && seqLt(last, e)) first = <i32>n;
    n++;
  }
  let out: u32 = 0;
  if (first >= 0) { store<u64>(SBLK, load<u64>(SCRATCH + (<usize>first << 3))); out = 1; }
  for (let i: u32 = 0; i < n && out < maxn; i++) {
    if (<i32>i == first) continue;
    store<u64>(SBLK + (<usize>out << 3), load<u64>(SCRATCH + (<usize>i << 3)));
    out++;
  }
  return out;
}

function sendAck(k: usize): void {
  sendSegment(k, g(k, T_SND_NXT), 0, TH_ACK);
}

/** A challenge ACK (RFC 5961 7), under a stack-wide rate limit. */
function challengeAck(k: usize): void {
  let cap = <i64>chalRate * 1000_000;
  chalTokens = min<i64>(cap, chalTokens + (now - chalLast) * <i64>chalRate);
  chalLast = now;
  if (chalTokens < 1000_000) { count(C_TCP_CHALLENGE_LIMITED); return; }
  chalTokens -= 1000_000;
  count(C_TCP_CHALLENGE_ACK);
  sendAck(k);
}

/** A RST with no connection behind it (RFC 9293 3.10.7.1). */
function sendReset(src: u32, dst: u32, sport: u32, dport: u32, seq: u32, ack: u32, flags: u32): void {
  if (!ipRoute(dst, rt)) return;
  let f = ipBegin(TCP_HLEN);
  if (!f) return;
  let t = f + L4;
  st16(t + TCP_SPORT, sport);
  st16(t + TCP_DPORT, dport);
  st32(t + TCP_SEQ, seq);
  st32(t + TCP_ACK, ack);
  store<u8>(t, 5 << 4, TCP_OFF);
  store<u8>(t, <u8>flags, TCP_FLAGS);
  st16(t + TCP_WIN, 0);
  store<u32>(t + TCP_CSUM, 0);
  st16(t + TCP_CSUM, finish(sumBytes(t, TCP_HLEN, pseudoSum(src, dst, PROTO_TCP, TCP_HLEN))));
  if (ipSend(rt, f, TCP_HLEN, PROTO_TCP, src, dst, true, DEFAULT_TTL) == 0) count(C_TCP_RST_TX);
}

function sendRstFor(k: usize): void {
  sendReset(g(k, T_LADDR), g(k, T_RADDR), g(k, T_LPORT), g(k, T_RPORT), g(k, T_SND_NXT), g(k, T_RCV_NXT), TH_RST | TH_ACK);
}

function sendSyn(k: usize): void {
  let fl = state(k) == S_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK;
  if (sendSegment(k, g(k, T_ISS), 0, fl) >= 0) {
    s(k, T_RTXCNT, g(k, T_RTXCNT) + 1);
    if (g(k, T_RTXCNT) > 1) count(C_TCP_RETRANS);
  }
  s(k, T_SND_NXT, g(k, T_ISS) + 1);
  s(k, T_SND_MAX, g(k, T_ISS) + 1);
  armRtx(k);
}

/** FIN's sequence number, if the host has shut down sending. */
// @ts-ignore: decorator
@inline function finSeq(k: usize): u32 { return g(k, T_SB_SEQ) + g(k, T_SB_LEN); }

function finAcked(k: usize): bool {
  return hasF(k, F_FIN_QUEUED) && g(k, T_SND_UNA) == finSeq(k) + 1;
}

/** Sends what the windows, Nagle and loss recovery allow, and the ACK owed. */
/** The most new data one frame may carry towards the peer: one segment, or as
 * many whole ones as the route's link cuts up itself (GSO). */
function segMost(k: usize, mss: u32): u32 {
  if (!routeLookup(g(k, T_RADDR), rt)) return mss;
  let gmax = ifGsoMax(rt.ifx);
  let hl = TCP_HLEN + (hasF(k, F_TS) ? 12 : 0);
  return gmax > IP_HLEN + hl + mss ? (gmax - IP_HLEN - hl) / mss * mss : mss;
}

export function tcpOutput(k: usize): void {
  let st = state(k);
  if (st < S_ESTABLISHED) {
    if (st == S_SYN_RCVD && hasF(k, F_ACKNOW)) { clrF(k, F_ACKNOW); sendSyn(k); }
    return;
  }
  let canData = st == S_ESTABLISHED || st == S_CLOSE_WAIT || st == S_FIN_WAIT_1 || st == S_CLOSING || st == S_LAST_ACK;
  if (canData) {
    let mss = g(k, T_MSS);
    let most = segMost(k, mss);
    let sbSeq = g(k, T_SB_SEQ);
    let end = sbSeq + g(k, T_SB_LEN);
    let fin = hasF(k, F_FIN_QUEUED);
    let sent = 0;
    for (;;) {
      if (sent++ > 100000) break;
      let una = g(k, T_SND_UNA);
      let nxt = g(k, T_SND_NXT);
      let smax = g(k, T_SND_MAX);
      let cwnd = g(k, T_CWND);
      let swnd = g(k, T_SND_WND);
      // 1. Loss recovery: retransmit holes first.
      if (hasF(k, F_RECOVERY)) {
        let sack = hasF(k, F_SACK);
        let hiLost: u32 = seqGt(g(k, T_HIGH_SACK), una) ? g(k, T_HIGH_SACK) : una + min<u32>(mss, smax - una);
        let rx = g(k, T_RXT_NXT);
        if (seqLt(rx, una)) rx = una;
        rx = skipSacked(k, rx);
        let pipe: u32;
        if (sack) {
          let above = seqGt(smax, hiLost) ? smax - hiLost : 0;
          let rexd = seqGt(rx, una) ? (rx - una) - sackedBelow(k, rx) : 0;
          pipe = above + rexd;
        } else {
          pipe = nxt - una;
        }
        if (seqLt(rx, hiLost) && seqLt(rx, smax) && (pipe < cwnd || rx == una)) {
          let he = nextSacked(k, rx, hiLost);
          let len = min<u32>(mss, he - rx);
          if (seqGt(rx + len, end)) len = seqGt(end, rx) ? end - rx : 0;
          let fl = TH_ACK;
          if (fin && rx + len == end && seqGt(smax, end)) fl |= TH_FIN;
          if (len == 0 && !(fl & TH_FIN)) { s(k, T_RXT_NXT, hiLost); continue; }
          let sent = sendSegment(k, rx, len, fl);
          if (sent < 0) break;
          if (<u32>sent < len) { len = <u32>sent; fl &= ~TH_FIN; }
          count(C_TCP_RETRANS);
          s(k, T_RXT_NXT, rx + len + ((fl & TH_FIN) ? 1 : 0));
          s(k, T_RXT_MARK, g(k, T_SND_MAX));
          setF(k, F_RXT_MARK);
          if (seqLt(nxt, rx + len)) s(k, T_SND_NXT, rx + len);
          continue;
        }
        if (sack && pipe >= cwnd) break;
        if (sack) cwnd = pipe < cwnd ? cwnd - pipe + (nxt - una) : 0;
      }
      // 2. New data (or go-back-N after a timeout).
      if (seqLt(nxt, smax)) {
        let sk = skipSacked(k, nxt);
        if (sk != nxt) { s(k, T_SND_NXT, sk); continue; }
      }
      let win = min<u32>(swnd, cwnd);
      let usable: u32 = seqGt(una + win, nxt) ? una + win - nxt : 0;
      let avail: u32 = seqGt(end, nxt) ? end - nxt : 0;
      let len = min<u32>(min<u32>(avail, most), usable);
      // Several segments at once (GSO) are whole ones, but for the last of the data.
      if (len > mss && len < avail) len -= len % mss;
      if (seqLt(nxt, smax)) {
        // Resending after a timeout: stop at the next SACKed range.
        let lim = nextSacked(k, nxt, smax);
        if (lim != smax && seqGt(nxt + len, lim) && seqGt(lim, nxt)) len = lim - nxt;
      }
      let wantFin = fin && nxt + len == end && (st == S_FIN_WAIT_1 || st == S_CLOSING || st == S_LAST_ACK) &&
        (seqLe(smax, end) || seqLt(nxt, smax));
      if (len == 0 && !wantFin) {
        if (avail > 0 && swnd == 0 && smax == una && !hasF(k, F_PERSIST)) {
          // Zero window with nothing in flight: probe it.
          setF(k, F_PERSIST);
          s(k, T_PERSIST, 0);
          setTimer(k, T_T_RTX, rtoNow(k));
          timerUpdate(k);
        }
        break;
      }
      if (len > 0 && len < mss && !wantFin && seqGe(nxt, smax)) {
        // Nagle (RFC 9293 3.7.4) in Minshall's form, as Linux does: a short
        // segment waits only while another short one is unacknowledged.
        // And sender SWS avoidance: never a short segment the window cut.
        let all = len == avail;
        let smallOut = seqGt(g(k, T_SND_SML), una);
        let ok = (all && (!smallOut || hasF(k, F_NODELAY))) || len >= (g(k, T_MAX_SNDWND) >> 1);
        if (!ok) {
          // SWS override (RFC 9293 3.8.6.2.1): with nothing in flight no ACK comes to retry; a timer sends it.
          if (smax == una && !hasF(k, F_PERSIST)) {
            setF(k, F_PERSIST); s(k, T_PERSIST, 0); setTimer(k, T_T_RTX, rtoNow(k)); timerUpdate(k);
          }
          break;
        }
      }
      let fl = TH_ACK;
      if (wantFin) fl |= TH_FIN;
      if (len > 0 && len == avail) fl |= TH_PSH;
      let rexmit = seqLt(nxt, smax);
      let sent = sendSegment(k, nxt, len, fl);
      if (sent < 0) break;
      if (<u32>sent < len) { len = <u32>sent; fl &= ~TH_FIN; }
      if (rexmit) count(C_TCP_RETRANS);
      let nn = nxt + len + ((fl & TH_FIN) ? 1 : 0);
      s(k, T_SND_NXT, nn);
      if (len < mss && len > 0 && !rexmit) s(k, T_SND_SML, nxt + len);
      if (seqGt(nn, smax)) {
        s(k, T_SND_MAX, nn);
        if (!hasF(k, F_TIMING) && !hasF(k, F_TS)) { setF(k, F_TIMING); s(k, T_RTT_SEQ, nxt); s(k, T_RTT_TIME, nowMs()); }
      }
      if (getTimer(k, T_T_RTX) == NEVER || hasF(k, F_PERSIST)) armRtx(k);
      else if (!rexmit) armPto(k);   // the probe timeout restarts with each new segment, the RTO does not
      if (fl & TH_FIN) break;
    }
  }
  if (hasF(k, F_ACKNOW)) sendAck(k);
  else if (hasF(k, F_DELACK) && getTimer(k, T_T_DACK) == NEVER) {
    setTimer(k, T_T_DACK, now + delack);
    timerUpdate(k);
  }
}

// ---- connection teardown ----
function childUnlink(k: usize): void {
  let p = g(k, T_PARENT);
  if (!p) return;
  let l = tcb(p - 1);
  let n = g(k, T_ACCNEXT), pv = g(k, T_ACCPREV);
  if (hasF(k, F_ACCQ)) {
    if (pv) s(tcb(pv - 1), T_ACCNEXT, n); else s(l, T_ACCQ_HEAD, n);
    if (n) s(tcb(n - 1), T_ACCPREV, pv); else s(l, T_ACCQ_TAIL, pv);
    s(l, T_ACCQ_LEN, g(l, T_ACCQ_LEN) - 1);
    clrF(k, F_ACCQ);
  } else {
    if (pv) s(tcb(pv - 1), T_ACCNEXT, n); else s(l, L_SYNQ_HEAD, n);
    if (n) s(tcb(n - 1), T_ACCPREV, pv);
    s(l, T_SYNQ, g(l, T_SYNQ) - 1);
  }
  s(k, T_PARENT, 0);
  s(k, T_ACCNEXT, 0);
  s(k, T_ACCPREV, 0);
}

/** Releases everything a connection holds; it leaves the tables. The TCB is
 * freed unless the host holds the descriptor (then it stays CLOSED until tcp_close). */
function connDrop(k: usize, err: u32): void {
  let st = state(k);
  if (st == S_FREE) return;
  if (st == S_TIME_WAIT) twRemove(k);
  if (st >= S_SYN_SENT) connHashOut(k);
  if (st == S_LISTEN) listenHashOut(k);
  childUnlink(k);
  outRemove(k);
  timerRemove(k);
  setTimer(k, T_T_RTX, NEVER); setTimer(k, T_T_DACK, NEVER); setTimer(k, T_T_KA, NEVER);
  sbFreeAll(k);
  // A clean end keeps what the host has yet to read (it may have shut down
  // its side before reading to the end); an error discards it, as Linux does.
  if (hasF(k, F_ATTACHED) && !err) rxFreeAllKeepRead(k); else rxFreeAll(k);
  s(k, T_STATE, S_CLOSED);
  if (hasF(k, F_ATTACHED)) {
    if (err) emit(EV_TCP_ERROR, idx(k), err, 0);
    else emit(EV_TCP_CLOSED, idx(k), 0, 0);
  } else {
    tcbFree(k);
  }
}

/** Called by the table when it needs the oldest TIME-WAIT slot. */
export function twReclaim(k: usize): void {
  count(C_TCP_TW_RECLAIM);
  connDrop(k, 0);
}

function enterTimeWait(k: usize): void {
  s(k, T_STATE, S_TIME_WAIT);
  sbFreeAll(k);
  rxFreeAllKeepRead(k);
  setTimer(k, T_T_RTX, NEVER);
  setTimer(k, T_T_DACK, NEVER);
  clrF(k, F_DELACK | F_PERSIST);
  setTimer(k, T_T_KA, now + msl2);
  twAppend(k);
  timerUpdate(k);
  notify(k, EV_TCP_CLOSED, 0);
}

/** After the peer's FIN (TIME-WAIT, or CLOSED while the host holds the socket)
 * its in-order data stays for the host to read; out-of-order data is useless. */
function rxFreeAllKeepRead(k: usize): void {
  queueFree(<usize>g(k, T_OOO_HEAD));
  s(k, T_OOO_HEAD, 0); s(k, T_OOO_BYTES, 0); s(k, T_OOO_BUFS, 0);
}

// ---- timers ----
function rtxTimeout(k: usize): void {
  let st = state(k);
  if (st == S_SYN_SENT || st == S_SYN_RCVD) {
    let limit = st == S_SYN_SENT ? synRetries : SYNACK_RETRIES;
    if (g(k, T_RTXCNT) > limit) {
      count(C_TCP_TIMEOUT);
      let e = g(k, T_ERR);
      connDrop(k, e ? e : ETIMEDOUT);
      return;
    }
    s(k, T_BACKOFF, g(k, T_BACKOFF) + 1);
    count(C_TCP_RTO);
    sendSyn(k);
    return;
  }
  if (st < S_ESTABLISHED || st == S_TIME_WAIT) return;
  let probe = hasF(k, F_TLP);
  clrF(k, F_TLP);
  let una = g(k, T_SND_UNA);
  let smax0 = g(k, T_SND_MAX);
  let end = g(k, T_SB_SEQ) + g(k, T_SB_LEN);
  if (g(k, T_SND_WND) == 0 && (hasF(k, F_PERSIST) || smax0 - una <= 1) && seqGt(end, una)) {
    // Persist (RFC 9293 3.8.6.1): probe the zero window with one byte, backing
    // off but never giving up while the peer answers. The byte goes beyond
    // the window once and is repeated until the window opens.
    clrF(k, F_PERSIST);
    // A peer silent for a whole maximum probe interval after RETRIES2 probes is gone
    // (as Linux's tcp_probe_timer): without this an orphan probed forever.
    if (g(k, T_PERSIST) >= RETRIES2 && now - load<i64>(k + T_LAST_RX) > ms(<i64>MAX_RTO_MS)) {
      count(C_TCP_TIMEOUT);
      sendRstFor(k);
      connDrop(k, ETIMEDOUT);
      return;
    }
    count(C_TCP_ZWP);
    if (smax0 == una) {
      let nxt = g(k, T_SND_NXT);
      if (sendSegment(k, nxt, 1, TH_ACK) > 0) { s(k, T_SND_NXT, nxt + 1); s(k, T_SND_MAX, nxt + 1); }
    } else {
      sendSegment(k, una, 1, TH_ACK);
    }
    s(k, T_PERSIST, g(k, T_PERSIST) + 1);
    let r = <u64>g(k, T_RTO) << min<u32>(g(k, T_PERSIST), 12);
    if (r > <u64>MAX_RTO_MS) r = MAX_RTO_MS;
    setF(k, F_PERSIST);
    setTimer(k, T_T_RTX, now + ms(<i64>r));
    return;
  }
  if (hasF(k, F_PERSIST)) {
    clrF(k, F_PERSIST);
    // SWS override: send what the small window takes.
    let nxt = g(k, T_SND_NXT);
    let wend = una + g(k, T_SND_WND);
    let n: u32 = seqGt(wend, nxt) && seqGt(end, nxt) ? min<u32>(min<u32>(wend - nxt, end - nxt), g(k, T_MSS)) : 0;
    if (n > 0) {
      let sent = sendSegment(k, nxt, n, TH_ACK);
      if (sent > 0) { s(k, T_SND_NXT, nxt + <u32>sent); if (seqGt(nxt + <u32>sent, g(k, T_SND_MAX))) s(k, T_SND_MAX, nxt + <u32>sent); armRtx(k); }
    }
    wantOutput(k);
    return;
  }
  if (g(k, T_SND_MAX) == una) return;
  if (probe) { tlpFire(k); return; }
  count(C_TCP_RTO);
  let bo = g(k, T_BACKOFF) + 1;
  if (bo > RETRIES2) {
    count(C_TCP_TIMEOUT);
    sendRstFor(k);
    let e = g(k, T_ERR);
    connDrop(k, e ? e : ETIMEDOUT);
    return;
  }
  s(k, T_BACKOFF, bo);
  s(k, T_RTX_TS, tsNow(k));
  setF(k, F_RTX_TS);
  // RFC 5681 3.1 / RFC 9438 4.8: one segment, and go back to snd_una.
  if (!hasF(k, F_RTO_LOSS)) ccOnLoss(k);
  s(k, T_CWND, g(k, T_MSS));
  clrF(k, F_RECOVERY | F_TIMING | F_TLP_DONE);
  setF(k, F_RTO_LOSS);
  s(k, T_RECOVER, g(k, T_SND_MAX));
  s(k, T_DUPACKS, 0);
  s(k, T_SND_NXT, una);
  // The RFC 6298 5.7 estimate stays; backing off is enough.
  armRtx(k);
  wantOutput(k);
}

/** The probe timeout (RFC 8985 7.3). */
function tlpFire(k: usize): void {
  let una = g(k, T_SND_UNA);
  let smax = g(k, T_SND_MAX);
  // RACK (RFC 8985 6.2): holes below SACKed data, out for two round trips, are lost.
  if (seqGt(g(k, T_HIGH_SACK), una)) { enterRecovery(k); return; }
  count(C_TCP_TLP);
  setF(k, F_TLP_DONE);
  clrF(k, F_TLP_RXT);
  // New data if the peer's window and the send buffer have it: one segment beyond cwnd.
  let cwnd = g(k, T_CWND);
  s(k, T_CWND, max<u32>(cwnd, smax - una + g(k, T_MSS)));
  tcpOutput(k);
  s(k, T_CWND, cwnd);
  if (g(k, T_SND_MAX) == smax) {
    // Else the last segment again.
    let fin = hasF(k, F_FIN_QUEUED) && seqGt(smax, finSeq(k));
    let dEnd = fin ? smax - 1 : smax;
    let len = seqGt(dEnd, una) ? min<u32>(g(k, T_MSS), dEnd - una) : 0;
    if (sendSegment(k, dEnd - len, len, fin ? TH_ACK | TH_FIN : TH_ACK) >= 0) { count(C_TCP_RETRANS); setF(k, F_TLP_RXT); }
  }
  s(k, T_TLP_HIGH, g(k, T_SND_MAX));
  armRtx(k);
}

function kaTimeout(k: usize): void {
  let st = state(k);
  if (st == S_TIME_WAIT || (st == S_FIN_WAIT_2 && !hasF(k, F_ATTACHED))) { connDrop(k, 0); return; }
  if ((st == S_ESTABLISHED || st == S_CLOSE_WAIT) && g(k, T_KA_IDLE)) {
    let idle = ms(<i64>g(k, T_KA_IDLE));
    let last = load<i64>(k + T_LAST_RX);
    if (now - last < idle) { setTimer(k, T_T_KA, last + idle); return; }
    if (g(k, T_KA_PROBES) >= g(k, T_KA_CNT)) {
      count(C_TCP_TIMEOUT);
      sendRstFor(k);
      connDrop(k, ETIMEDOUT);
      return;
    }
    count(C_TCP_KA);
    // An old sequence number makes the peer answer with an ACK (RFC 9293 3.8.4).
    sendSegment(k, g(k, T_SND_UNA) - 1, 0, TH_ACK);
    s(k, T_KA_PROBES, g(k, T_KA_PROBES) + 1);
    setTimer(k, T_T_KA, now + ms(<i64>g(k, T_KA_INTVL)));
  }
}

function armKeepalive(k: usize): void {
  if (!g(k, T_KA_IDLE)) return;
  setTimer(k, T_T_KA, load<i64>(k + T_LAST_RX) + ms(<i64>g(k, T_KA_IDLE)));
  timerUpdate(k);
}

// ---- input ----
/** TCP input; owns b. */
export function tcpInput(b: usize): void {
  count(C_TCP_RX);
  let ip = <usize>load<u32>(b, PKT_A);
  let th = <usize>load<u32>(b, PKT_DATA);
  let total = load<u32>(b, PKT_TOTAL);
  let hl0 = load<u32>(b, PKT_LEN);
  if (total < TCP_HLEN || hl0 < TCP_HLEN || pktBroadcast(b)) { count(C_TCP_BAD); pktFreeChain(b); return; }
  let hlen = tcpHlen(th);
  if (hlen < TCP_HLEN || hlen > hl0) { count(C_TCP_BAD); pktFreeChain(b); return; }
  let src = ipSrc(ip), dst = ipDst(ip);
  if (!pktCsumOk(b)) {
    if (fold(pktSum(b, pseudoSum(src, dst, PROTO_TCP, total))) != 0xffff) { count(C_TCP_BAD_CSUM); pktFreeChain(b); return; }
  }
  let sport = ld16(th + TCP_SPORT), dport = ld16(th + TCP_DPORT);
  if (sport == 0 || dport == 0) { count(C_TCP_BAD); pktFreeChain(b); return; }
  let flags = <u32>load<u8>(th, TCP_FLAGS);
  let seq = ld32(th + TCP_SEQ);
  let ack = ld32(th + TCP_ACK);
  let wnd = ld16(th + TCP_WIN);
  parseOptions(th + TCP_HLEN, th + hlen, (flags & TH_SYN) != 0);
  let dlen = total - hlen;
  store<u32>(b, <u32>(th + hlen), PKT_DATA);
  store<u32>(b, hl0 - hlen, PKT_LEN);
  store<u32>(b, dlen, PKT_TOTAL);
  countN(C_TCP_RX_BYTES, dlen);

  let k = connLookup(dst, dport, src, sport);
  if (k && state(k) == S_TIME_WAIT && (flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
    // A new incarnation may reuse a TIME-WAIT tuple if it is clearly newer (RFC 6191).
    if (seqGt(seq, g(k, T_RCV_NXT)) || (hasF(k, F_TS) && oTs && seqGt(oTsVal, g(k, T_TS_RECENT)))) {
      connDrop(k, 0);
      k = 0;
    }
  }
  if (!k) {
    let l = listenLookup(dst, dport);
    if (l) { listenInput(l, b, src, sport, dst, dport, seq, ack, flags, wnd, dlen); return; }
    count(C_TCP_NO_PORT);
    if (!(flags & TH_RST)) {
      if (flags & TH_ACK) sendReset(dst, src, dport, sport, ack, 0, TH_RST);
      else sendReset(dst, src, dport, sport, 0, seq + dlen + ((flags & TH_SYN) ? 1 : 0) + ((flags & TH_FIN) ? 1 : 0), TH_RST | TH_ACK);
    }
    pktFreeChain(b);
    return;
  }
  store<i64>(k + T_LAST_RX, now);
  s(k, T_KA_PROBES, 0);
  if (state(k) == S_SYN_SENT) { synSentInput(k, b, seq, ack, flags, wnd, dlen); return; }
  segInput(k, b, seq, ack, flags, wnd, dlen);
}

function negotiate(k: usize, synWnd: u32): void {
  let f: u32 = 0;
  if (oWs >= 0) f |= F_WS;
  if (oSackOk) f |= F_SACK;
  if (oTs) f |= F_TS;
  setF(k, f);
  let ws = g(k, T_WSCALE);
  if (oWs >= 0) ws = (ws & 0xff00) | <u32>oWs;
  else ws = 0;
  s(k, T_WSCALE, ws);
  if (oTs) { s(k, T_TS_RECENT, oTsVal); store<i64>(k + T_TS_AGE, now); }
  let peerMss = oMss ? oMss : 536;
  let mss = min<u32>(peerMss, g(k, T_PMTU_MSS));
  if (oTs) mss -= 12;
  if (mss < 64) mss = 64;
  s(k, T_MSS, mss);
  s(k, T_SND_WND, synWnd);
  s(k, T_MAX_SNDWND, synWnd);
  ccInit(k);
}

/** Our receive window shift for a buffer of n bytes. */
function wsFor(n: u32): u32 {
  let sh: u32 = 0;
  while (sh < 14 && (<u64>65535 << sh) < <u64>n) sh++;
  return sh;
}

/** Route-based MSS for a new connection: clamp to the interface MTU. */
function routeMss(raddr: u32): u32 {
  if (!ipRoute(raddr, rt)) return 536;
  return ifMtu(rt.ifx) - IP_HLEN - TCP_HLEN;
}

function initConn(k: usize, laddr: u32, lport: u32, raddr: u32, rport: u32): void {
  s(k, T_LADDR, laddr); s(k, T_LPORT, lport); s(k, T_RADDR, raddr); s(k, T_RPORT, rport);
  let iss = isnFor(laddr, lport, raddr, rport);
  s(k, T_ISS, iss);
  s(k, T_SND_UNA, iss); s(k, T_SND_NXT, iss); s(k, T_SND_MAX, iss);
  s(k, T_SND_SML, iss);
  s(k, T_SB_SEQ, iss + 1);
  s(k, T_TS_OFF, tsOffFor(laddr, lport, raddr, rport));
  s(k, T_RTO, initRto);
  let pm = routeMss(raddr);
  s(k, T_PMTU_MSS, pm);
  s(k, T_RMSS, pm);
  s(k, T_MSS, min<u32>(536, pm));
  if (!g(k, T_SNDBUF)) s(k, T_SNDBUF, defSndbuf);
  if (!g(k, T_RCVBUF)) s(k, T_RCVBUF, defRcvbuf);
  s(k, T_WSCALE, wsFor(g(k, T_RCVBUF)) << 8);
  setTimer(k, T_T_RTX, NEVER); setTimer(k, T_T_DACK, NEVER); setTimer(k, T_T_KA, NEVER);
  store<i64>(k + T_LAST_RX, now);
}

function listenInput(l: usize, b: usize, src: u32, sport: u32, dst: u32, dport: u32, seq: u32, ack: u32, flags: u32,
    wnd: u32, dlen: u32): void {
  if (flags & TH_RST) { pktFreeChain(b); return; }
  if (flags & TH_ACK) {
    if (!(flags & TH_SYN)) {
      // Maybe the ACK that completes a SYN-cookie handshake.
      let mi = cookieCheck(ack - 1, dst, dport, src, sport, seq - 1);
      if (mi >= 0 && g(l, T_ACCQ_LEN) < g(l, T_BACKLOG)) {
        let k = tcbAlloc();
        if (k) {
          count(C_TCP_COOKIE_OK);
          cookieChild(l, k, b, src, sport, dst, dport, seq, ack, flags, wnd, dlen, <u32>mi);
          return;
        }
        count(C_TCP_TABLE_FULL);
      } else if (mi < 0) count(C_TCP_COOKIE_BAD);
      else {
        // A good cookie but no room to accept: drop it quietly, as Linux
        // does; the peer's next segment carries the same cookie.
        count(C_TCP_LISTEN_DROP);
        pktFreeChain(b);
        return;
      }
    }
    count(C_TCP_NO_PORT);
    sendReset(dst, src, dport, sport, ack, 0, TH_RST);
    pktFreeChain(b);
    return;
  }
  if (!(flags & TH_SYN)) { pktFreeChain(b); return; }
  pktFreeChain(b);
  if (g(l, T_ACCQ_LEN) >= g(l, T_BACKLOG)) { count(C_TCP_LISTEN_DROP); return; }
  let k: usize = 0;
  if (g(l, T_SYNQ) < g(l, T_BACKLOG)) {
    k = tcbAlloc();
    if (!k) count(C_TCP_TABLE_FULL);
  }
  if (!k) { synCookieReply(l, src, sport, dst, dport, seq, wnd); return; }
  s(k, T_SNDBUF, g(l, T_SNDBUF));
  s(k, T_RCVBUF, g(l, T_RCVBUF));
  s(k, T_CC, g(l, T_CC));
  s(k, T_FLAGS, g(l, T_FLAGS) & F_NODELAY);
  s(k, T_KA_IDLE, g(l, T_KA_IDLE)); s(k, T_KA_INTVL, g(l, T_KA_INTVL)); s(k, T_KA_CNT, g(l, T_KA_CNT));
  initConn(k, dst, dport, src, sport);
  s(k, T_STATE, S_SYN_RCVD);
  s(k, T_IRS, seq);
  s(k, T_RCV_NXT, seq + 1);
  s(k, T_SND_WL1, seq);
  s(k, T_SND_WL2, g(k, T_ISS));
  negotiate(k, wnd);    // the window in a SYN is never scaled
  if (!hasF(k, F_WS)) s(k, T_WSCALE, 0);
  connHashIn(k);
  // Into the listener's SYN queue.
  let li = idx(l) + 1;
  s(k, T_PARENT, li);
  let h = g(l, L_SYNQ_HEAD);
  s(k, T_ACCNEXT, h);
  s(k, T_ACCPREV, 0);
  if (h) s(tcb(h - 1), T_ACCPREV, idx(k) + 1);
  s(l, L_SYNQ_HEAD, idx(k) + 1);
  s(l, T_SYNQ, g(l, T_SYNQ) + 1);
  sendSyn(k);
}

function synCookieReply(l: usize, src: u32, sport: u32, dst: u32, dport: u32, seq: u32, wnd: u32): void {
  let pm = routeMss(src);
  let peer = oMss ? oMss : 536;
  let want = min<u32>(peer, pm);
  let mi: u32 = 0;
  for (let i: u32 = 7; i > 0; i--) if (COOKIE_MSS[i] <= want) { mi = i; break; }
  let c = cookieMake(dst, dport, src, sport, seq, mi);
  count(C_TCP_COOKIE_TX);
  // A stateless SYN-ACK from a scratch TCB that is never linked anywhere.
  let k = SCRATCH_TCB;
  memory.fill(k, 0, TCB);
  s(k, T_LADDR, dst); s(k, T_LPORT, dport); s(k, T_RADDR, src); s(k, T_RPORT, sport);
  s(k, T_RCV_NXT, seq + 1);
  s(k, T_STATE, S_SYN_RCVD);
  s(k, T_RMSS, pm);
  s(k, T_RCVBUF, g(l, T_RCVBUF));
  let ws = wsFor(g(l, T_RCVBUF));
  let f: u32 = 0;
  if (oWs >= 0) { f |= F_WS; s(k, T_WSCALE, ws << 8); }
  if (oSackOk) f |= F_SACK;
  if (oTs) {
    f |= F_TS;
    s(k, T_TS_RECENT, oTsVal);
    // Options the cookie cannot hold ride in the low bits of our timestamp.
    let off = tsOffFor(dst, dport, src, sport);
    let tv = ((nowMs() + off) & ~<u32>63) | (oWs >= 0 ? <u32>oWs : 15) | (oSackOk ? 16 : 0);
    s(k, T_TS_OFF, tv - nowMs());
  }
  s(k, T_FLAGS, f);
  sendSegment(k, c, 0, TH_SYN | TH_ACK);
}

const SCRATCH_TCB: usize = memory.data(<i32>TCB, 16);

function cookieChild(l: usize, k: usize, b: usize, src: u32, sport: u32, dst: u32, dport: u32, seq: u32, ack: u32,
    flags: u32, wnd: u32, dlen: u32, mi: u32): void {
  s(k, T_SNDBUF, g(l, T_SNDBUF));
  s(k, T_RCVBUF, g(l, T_RCVBUF));
  s(k, T_CC, g(l, T_CC));
  s(k, T_FLAGS, g(l, T_FLAGS) & F_NODELAY);
  s(k, T_KA_IDLE, g(l, T_KA_IDLE)); s(k, T_KA_INTVL, g(l, T_KA_INTVL)); s(k, T_KA_CNT, g(l, T_KA_CNT));
  initConn(k, dst, dport, src, sport);
  let iss = ack - 1;
  s(k, T_ISS, iss);
  s(k, T_SND_UNA, ack); s(k, T_SND_NXT, ack); s(k, T_SND_MAX, ack);
  s(k, T_SND_SML, ack);
  s(k, T_SB_SEQ, ack);
  s(k, T_IRS, seq - 1);
  s(k, T_RCV_NXT, seq);
  s(k, T_RCV_ADV, seq);
  s(k, T_SND_WL1, seq);
  s(k, T_SND_WL2, ack);
  // Recover the options from our echoed timestamp.
  let ws: u32 = 15, sack = false;
  oMss = COOKIE_MSS[mi];
  if (oTs) { ws = oTsEcr & 15; sack = (oTsEcr & 16) != 0; }
  oWs = ws == 15 ? -1 : <i32>ws;
  oSackOk = sack;
  let tsv = oTsVal;
  negotiate(k, wnd);
  if (!hasF(k, F_WS)) s(k, T_WSCALE, 0);
  // The cookie SYN-ACK offered an unscaled window, as every SYN-ACK does: data
  // the peer sends with its ACK fits in it.
  s(k, T_RCV_ADV, seq + min<u32>(rcvSpace(k), 65535));
  if (oTs) {
    s(k, T_TS_RECENT, tsv);
    s(k, T_TS_OFF, (oTsEcr - (oTsEcr & 63)) - nowMs() + 64);
  }
  s(k, T_SND_WND, wnd << sndWs(k));
  s(k, T_MAX_SNDWND, g(k, T_SND_WND));
  s(k, T_STATE, S_ESTABLISHED);
  connHashIn(k);
  s(k, T_PARENT, idx(l) + 1);
  acceptQueue(l, k);
  armKeepalive(k);
  if (dlen > 0 || (flags & TH_FIN)) dataInput(k, b, seq, dlen, (flags & TH_FIN) != 0);
  else pktFreeChain(b);
  wantOutput(k);
}

function acceptQueue(l: usize, k: usize): void {
  setF(k, F_ACCQ);
  let me = idx(k) + 1;
  let t = g(l, T_ACCQ_TAIL);
  s(k, T_ACCNEXT, 0);
  s(k, T_ACCPREV, t);
  if (t) s(tcb(t - 1), T_ACCNEXT, me); else s(l, T_ACCQ_HEAD, me);
  s(l, T_ACCQ_TAIL, me);
  let n = g(l, T_ACCQ_LEN);
  s(l, T_ACCQ_LEN, n + 1);
  if (n == 0) notify(l, EV_TCP_ACCEPT, 0);
}

function synSentInput(k: usize, b: usize, seq: u32, ack: u32, flags: u32, wnd: u32, dlen: u32): void {
  let iss = g(k, T_ISS);
  if (flags & TH_ACK) {
    if (seqLe(ack, iss) || seqGt(ack, g(k, T_SND_MAX))) {
      if (!(flags & TH_RST)) sendReset(g(k, T_LADDR), g(k, T_RADDR), g(k, T_LPORT), g(k, T_RPORT), ack, 0, TH_RST);
      pktFreeChain(b);
      return;
    }
  }
  if (flags & TH_RST) {
    pktFreeChain(b);
    if (flags & TH_ACK) { count(C_TCP_RST_RX); connDrop(k, ECONNREFUSED); }
    return;
  }
  if (!(flags & TH_SYN)) { pktFreeChain(b); return; }
  s(k, T_IRS, seq);
  s(k, T_RCV_NXT, seq + 1);
  // The right edge our SYN offered, now that it has a base (it was sent before rcv.nxt was known).
  s(k, T_RCV_ADV, seq + 1 + min<u32>(rcvSpace(k), 65535));
  s(k, T_SND_WL1, seq);
  s(k, T_SND_WL2, ack);
  negotiate(k, wnd);
  if (!hasF(k, F_WS)) s(k, T_WSCALE, 0);
  if (flags & TH_ACK) {
    s(k, T_SND_UNA, ack);
    s(k, T_STATE, S_ESTABLISHED);
    count(C_TCP_CONNECT);
    // Karn: only a SYN sent once gives an RTT sample.
    if (g(k, T_RTXCNT) == 1) {
      if (oTs && oTsEcr) rttSample(k, tsNow(k) - oTsEcr);
      else rttSample(k, nowMs() - g(k, T_RTT_TIME));
    }
    s(k, T_BACKOFF, 0);
    setTimer(k, T_T_RTX, NEVER);
    notify(k, EV_TCP_CONNECTED, 0);
    armKeepalive(k);
    if (hasF(k, F_FIN_QUEUED)) s(k, T_STATE, S_FIN_WAIT_1);
    setF(k, F_ACKNOW);
    if (dlen > 0 || (flags & TH_FIN)) dataInput(k, b, seq + 1, dlen, (flags & TH_FIN) != 0);
    else pktFreeChain(b);
    wantOutput(k);
    return;
  }
  // Simultaneous open (RFC 9293 3.5, figure 8).
  pktFreeChain(b);
  s(k, T_STATE, S_SYN_RCVD);
  s(k, T_RTXCNT, 0);
  sendSyn(k);
}

/** Segment arrival in a synchronized state or SYN-RECEIVED (RFC 9293 3.10.7.4). */
function segInput(k: usize, b: usize, seq: u32, ack: u32, flags: u32, wnd: u32, dlen: u32): void {
  let st = state(k);
  let rnxt = g(k, T_RCV_NXT);
  // SYN-RECEIVED: the peer repeating its SYN lost our SYN-ACK; say it again.
  if (st == S_SYN_RCVD && (flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN && seq == g(k, T_IRS)) {
    pktFreeChain(b);
    sendSyn(k);
    return;
  }
  // PAWS (RFC 7323 5.3).
  if (oTs && hasF(k, F_TS) && !(flags & TH_RST) && seqLt(oTsVal, g(k, T_TS_RECENT)) &&
      now - load<i64>(k + T_TS_AGE) < TS_24DAYS) {
    count(C_TCP_PAWS);
    pktFreeChain(b);
    sendAck(k);
    return;
  }
  // Acceptability (RFC 9293 3.10.7.4, first).
  let adv = g(k, T_RCV_ADV);
  let rwnd: u32 = seqGt(adv, rnxt) ? adv - rnxt : 0;
  let slen = dlen + ((flags & TH_SYN) ? 1 : 0) + ((flags & TH_FIN) ? 1 : 0);
  let ok: bool;
  if (slen == 0) ok = rwnd == 0 ? seq == rnxt : (seqLe(rnxt, seq) && seqLt(seq, rnxt + rwnd));
  else if (rwnd == 0) ok = seq == rnxt;    // a probe into a closed window: take its ACK, drop its data
  else ok = (seqLe(rnxt, seq) && seqLt(seq, rnxt + rwnd)) ||
    (seqLe(rnxt, seq + slen - 1) && seqLt(seq + slen - 1, rnxt + rwnd));
  // An old duplicate is acknowledged and its data dropped, but its ACK still
  // counts (as in BSD): two ends that both went back to snd.una after a timeout
  // send each other only old sequence numbers, and would otherwise drop each
  // other's acknowledgments until the connection timed out. Only from within a
  // receive buffer below rcv.nxt, where the peer's retransmissions can start.
  let old = !ok && (flags & (TH_ACK | TH_RST | TH_SYN)) == TH_ACK && st != S_TIME_WAIT && st != S_SYN_RCVD &&
    seqLe(seq + slen, rnxt) && seqGe(seq, rnxt - g(k, T_RCVBUF));
  if (!ok) {
    count(C_TCP_DUP);
    if (!old) {
      pktFreeChain(b);
      if (!(flags & TH_RST)) {
        if (st == S_TIME_WAIT && (flags & TH_FIN)) { setTimer(k, T_T_KA, now + msl2); timerUpdate(k); }
        sendAck(k);
      }
      return;
    }
    setF(k, F_ACKNOW);
  }
  // RST (RFC 5961 3).
  if (flags & TH_RST) {
    pktFreeChain(b);
    if (st == S_TIME_WAIT) return;    // RFC 1337
    if (seq != rnxt) { challengeAck(k); return; }
    count(C_TCP_RST_RX);
    if (st == S_SYN_RCVD) connDrop(k, hasF(k, F_ACTIVE) ? ECONNREFUSED : 0);
    else if (st == S_CLOSING || st == S_LAST_ACK) connDrop(k, 0);
    else connDrop(k, ECONNRESET);
    return;
  }
  // SYN in a synchronized state (RFC 5961 4).
  if (flags & TH_SYN) {
    pktFreeChain(b);
    challengeAck(k);
    return;
  }
  if (!(flags & TH_ACK)) { pktFreeChain(b); return; }
  // Timestamps: remember the newest from the left edge (RFC 7323 4.3).
  if (oTs && hasF(k, F_TS) && seqGe(oTsVal, g(k, T_TS_RECENT)) && seqLe(seq, g(k, T_LAST_ACK_SENT))) {
    s(k, T_TS_RECENT, oTsVal);
    store<i64>(k + T_TS_AGE, now);
  }
  // ACK.
  let una = g(k, T_SND_UNA);
  let smax = g(k, T_SND_MAX);
  if (st == S_SYN_RCVD) {
    if (seqLe(ack, una) || seqGt(ack, smax)) {
      pktFreeChain(b);
      sendReset(g(k, T_LADDR), g(k, T_RADDR), g(k, T_LPORT), g(k, T_RPORT), ack, 0, TH_RST);
      return;
    }
    establish(k, wnd, seq, ack);
    st = state(k);
  }
  if (seqGt(ack, smax)) {
    count(C_TCP_ACK_UNSENT);
    pktFreeChain(b);
    sendAck(k);
    return;
  }
  if (seqLt(ack, una - g(k, T_MAX_SNDWND))) {
    pktFreeChain(b);
    challengeAck(k);
    return;
  }
  ackInput(k, seq, ack, wnd, dlen, flags);
  st = state(k);
  if (st == S_FREE || st == S_CLOSED) { pktFreeChain(b); return; }
  if (st == S_FIN_WAIT_1 && finAcked(k)) {
    s(k, T_STATE, S_FIN_WAIT_2);
    st = S_FIN_WAIT_2;
    if (!hasF(k, F_ATTACHED)) { setTimer(k, T_T_KA, now + finTimeout); timerUpdate(k); }
  } else if (st == S_CLOSING && finAcked(k)) {
    pktFreeChain(b);
    enterTimeWait(k);
    return;
  } else if (st == S_LAST_ACK && finAcked(k)) {
    pktFreeChain(b);
    connDrop(k, 0);
    return;
  } else if (st == S_TIME_WAIT) {
    pktFreeChain(b);
    if (flags & TH_FIN) { setTimer(k, T_T_KA, now + msl2); timerUpdate(k); sendAck(k); }
    return;
  }
  // Text and FIN.
  if (old) pktFreeChain(b);
  else if (st == S_ESTABLISHED || st == S_FIN_WAIT_1 || st == S_FIN_WAIT_2) {
    if (dlen > 0 && !hasF(k, F_ATTACHED) && !g(k, T_PARENT)) {
      // Nobody will ever read it (RFC 9293 3.10.4 / RFC 2525): reset.
      pktFreeChain(b);
      sendRstFor(k);
      connDrop(k, 0);
      return;
    }
    if (dlen > 0 || (flags & TH_FIN)) { dataInput(k, b, seq, dlen, (flags & TH_FIN) != 0); }
    else pktFreeChain(b);
  } else {
    pktFreeChain(b);
  }
  wantOutput(k);
}

function establish(k: usize, wnd: u32, seq: u32, ack: u32): void {
  s(k, T_STATE, S_ESTABLISHED);
  s(k, T_SND_WND, wnd << sndWs(k));
  s(k, T_MAX_SNDWND, g(k, T_SND_WND));
  s(k, T_SND_WL1, seq);
  s(k, T_SND_WL2, ack);
  if (g(k, T_RTXCNT) == 1) {
    if (oTs && hasF(k, F_TS) && oTsEcr) rttSample(k, tsNow(k) - oTsEcr);
  }
  s(k, T_BACKOFF, 0);
  armKeepalive(k);
  let p = g(k, T_PARENT);
  if (p) {
    let l = tcb(p - 1);
    childUnlink(k);
    s(k, T_PARENT, p);
    acceptQueue(l, k);
  } else {
    if (hasF(k, F_ACTIVE)) { count(C_TCP_CONNECT); notify(k, EV_TCP_CONNECTED, 0); }
    if (hasF(k, F_FIN_QUEUED)) s(k, T_STATE, S_FIN_WAIT_1);
  }
}

function ackInput(k: usize, seq: u32, ack: u32, wnd: u32, dlen: u32, flags: u32): void {
  let una = g(k, T_SND_UNA);
  let smax = g(k, T_SND_MAX);
  let swin = wnd << sndWs(k);
  let mss = g(k, T_MSS);
  // SACKed bytes below the retransmission cursor, to see retransmissions arrive.
  let rxtSacked = sackedBelow(k, g(k, T_RXT_NXT));
  if (oNSack && hasF(k, F_SACK)) sackUpdate(k);
  // Window update (RFC 9293 3.10.7.4, fifth check).
  let wndChanged = false;
  if (seqLt(g(k, T_SND_WL1), seq) || (g(k, T_SND_WL1) == seq && seqLe(g(k, T_SND_WL2), ack))) {
    wndChanged = swin != g(k, T_SND_WND);
    let opened = g(k, T_SND_WND) == 0 && swin > 0;
    s(k, T_SND_WND, swin);
    s(k, T_SND_WL1, seq);
    s(k, T_SND_WL2, ack);
    if (swin > g(k, T_MAX_SNDWND)) s(k, T_MAX_SNDWND, swin);
    if (opened && hasF(k, F_PERSIST)) {
      clrF(k, F_PERSIST);
      s(k, T_PERSIST, 0);
      if (g(k, T_SND_MAX) == g(k, T_SND_UNA)) setTimer(k, T_T_RTX, NEVER);
      else {
        // The probe byte was refused: it goes again, with what follows.
        if (g(k, T_SND_MAX) - g(k, T_SND_UNA) == 1) s(k, T_SND_NXT, g(k, T_SND_UNA));
        armRtx(k);
      }
      wantOutput(k);
    }
  }
  if (seqGt(ack, una)) {
    let acked = ack - una;
    let wasLimited = (smax - una) + mss >= g(k, T_CWND) || hasF(k, F_RECOVERY);
    // RTT (RFC 7323 4.1 with timestamps; else Karn's timed segment). An echo
    // older than our last timeout retransmission is no sample: the peer echoes
    // TS.Recent on a duplicate, so when its ACKs were lost, the first that gets
    // through after the timeout carries the time of a segment sent long before
    // and would inflate the RTO by the whole backoff (seed 996532317: 116 s).
    if (oTs && hasF(k, F_TS) && oTsEcr) {
      if (!hasF(k, F_RTX_TS) || seqGe(oTsEcr, g(k, T_RTX_TS))) rttSample(k, tsNow(k) - oTsEcr);
    }
    else if (hasF(k, F_TIMING) && seqGt(ack, g(k, T_RTT_SEQ))) {
      clrF(k, F_TIMING);
      rttSample(k, nowMs() - g(k, T_RTT_TIME));
    }
    s(k, T_BACKOFF, 0);
    // Free what the peer now holds.
    let sbSeq = g(k, T_SB_SEQ);
    let dataEnd = sbSeq + g(k, T_SB_LEN);
    let upto = seqGt(ack, dataEnd) ? dataEnd : ack;
    if (seqGt(upto, sbSeq)) sbDrop(k, upto - sbSeq);
    s(k, T_SND_UNA, ack);
    if (seqLt(g(k, T_SND_NXT), ack)) s(k, T_SND_NXT, ack);
    if (seqGe(ack, smax)) clrF(k, F_RTO_LOSS);
    if (hasF(k, F_SACK)) sackUpdate(k);
    lostRetransmit(k, false);
    // Loss recovery (RFC 6582 / RFC 6675).
    if (hasF(k, F_RECOVERY)) {
      if (seqGe(ack, g(k, T_RECOVER))) {
        clrF(k, F_RECOVERY);
        let ss = g(k, T_SSTHRESH);
        s(k, T_CWND, hasF(k, F_SACK) ? ss : min<u32>(ss, max<u32>(smax - ack, 0) + mss));
        s(k, T_DUPACKS, 0);
      } else if (!hasF(k, F_SACK)) {
        // Partial ACK: retransmit the next hole; deflate by what was acked.
        s(k, T_RXT_NXT, ack);
        let c = g(k, T_CWND);
        c = c > acked ? c - acked : mss;
        if (acked >= mss) c += mss;
        s(k, T_CWND, c);
      }
    } else {
      s(k, T_DUPACKS, 0);
      ccOnAck(k, acked, wasLimited);
    }
    // The timer (RFC 6298 5.2, 5.3).
    if (ack == smax) { if (!hasF(k, F_PERSIST)) { setTimer(k, T_T_RTX, NEVER); clrF(k, F_TLP); } }
    else armRtx(k);
    // Space for the host.
    if (hasF(k, F_WR_WANT) && g(k, T_SNDBUF) - g(k, T_SB_LEN) >= (g(k, T_SNDBUF) >> 2)) {
      clrF(k, F_WR_WANT);
      notify(k, EV_TCP_WRITABLE, 0);
    }
    wantOutput(k);
  } else if (ack == una && dlen == 0 && !(flags & TH_FIN) && !wndChanged && smax != una && swin != 0) {
    // A duplicate ACK (RFC 5681 2).
    lostRetransmit(k, sackedBelow(k, g(k, T_RXT_NXT)) > rxtSacked);
    let d = g(k, T_DUPACKS) + 1;
    s(k, T_DUPACKS, d);
    if (hasF(k, F_RECOVERY)) {
      if (!hasF(k, F_SACK)) s(k, T_CWND, g(k, T_CWND) + mss);
      wantOutput(k);
    }
  }
  let lost = false;
  if (hasF(k, F_TLP_DONE)) {
    // RACK (RFC 8985 6.2): the probe, sent two round trips after the tail, got there first.
    if (seqGe(g(k, T_HIGH_SACK), g(k, T_TLP_HIGH)) && seqLt(ack, g(k, T_TLP_HIGH))) lost = true;
    else if (seqGe(ack, g(k, T_TLP_HIGH))) tlpEnd(k, ack == una && !oNSack && dlen == 0 && !wndChanged);
  }
  if (!hasF(k, F_RECOVERY) && !hasF(k, F_RTO_LOSS) && g(k, T_SND_MAX) != g(k, T_SND_UNA)) {
    if (g(k, T_DUPACKS) >= 3 || (hasF(k, F_SACK) && g(k, T_SACKED) > 2 * mss)) lost = true;
    if (lost && seqGt(g(k, T_SND_UNA), g(k, T_RECOVER) - 1)) enterRecovery(k);
  }
}

/** The ACK for everything sent up to the probe ends its episode (RFC 8985
 * 7.4, as Linux's tcp_process_tlp_ack): a probe that resent the last segment
 * repaired a loss, which calls for a congestion response, unless the peer
 * reports a duplicate (a D-SACK, or a pure duplicate ACK for exactly that
 * much). With neither, wait for an ACK beyond it. */
function tlpEnd(k: usize, pureDup: bool): void {
  let ack = g(k, T_SND_UNA);
  let dsack = oNSack != 0 && seqLe(load<u32>(O_SACK, 4), ack);
  if (hasF(k, F_TLP_RXT) && !dsack && !pureDup) {
    if (ack == g(k, T_TLP_HIGH)) return;
    ccOnLoss(k);
    s(k, T_CWND, min<u32>(g(k, T_CWND), g(k, T_SSTHRESH)));
  }
  clrF(k, F_TLP_DONE);
}

/** Fast retransmit, then loss recovery (RFC 5681 3.2, RFC 6582, RFC 6675 5). */
function enterRecovery(k: usize): void {
  count(C_TCP_FAST_RETRANS);
  s(k, T_RECOVER, g(k, T_SND_MAX));
  ccOnLoss(k);
  let ss = g(k, T_SSTHRESH);
  s(k, T_CWND, hasF(k, F_SACK) ? ss : ss + 3 * g(k, T_MSS));
  s(k, T_RXT_NXT, g(k, T_SND_UNA));
  clrF(k, F_RXT_MARK | F_TIMING | F_TLP_DONE);
  setF(k, F_RECOVERY);
  // The timer becomes the RTO (no probes in recovery).
  armRtx(k);
  wantOutput(k);
}

/** Lost retransmissions (RACK, RFC 8985 6.2, with no per-segment record; no
 * reordering window in recovery): in SACK recovery the holes below the
 * cursor T_RXT_NXT were resent in sequence order, the latest when snd_max
 * was T_RXT_MARK. Once the peer SACKs data sent after that, or a duplicate
 * ACK SACKs a hole resent after the one at snd_una (rxtSacked), the holes
 * still open below were lost again. Walk them once more instead of waiting
 * for the timeout. */
function lostRetransmit(k: usize, rxtSacked: bool): void {
  if (!hasF(k, F_RECOVERY) || !hasF(k, F_SACK) || !hasF(k, F_RXT_MARK)) return;
  let una = g(k, T_SND_UNA);
  if (!seqGt(g(k, T_RXT_NXT), una) || skipSacked(k, una) != una) return;
  if (!rxtSacked && !seqGt(g(k, T_HIGH_SACK), g(k, T_RXT_MARK))) return;
  clrF(k, F_RXT_MARK);
  s(k, T_RXT_NXT, una);
  wantOutput(k);
}

/** Queues the segment's text (b, already past the header) and handles FIN. */
function dataInput(k: usize, b: usize, seq: u32, dlen: u32, fin: bool): void {
  let rnxt = g(k, T_RCV_NXT);
  // Trim what we already have.
  if (seqLt(seq, rnxt)) {
    let d = rnxt - seq;
    if (d >= dlen) {
      if (d > dlen) fin = false;
      if (dlen) { pktFreeChain(b); b = 0; }
      dlen = 0;
    } else {
      b = trimFront(b, d);
      dlen -= d;
    }
    seq = rnxt;
    setF(k, F_ACKNOW);
    count(C_TCP_DUP);
  }
  // And what lies beyond the window.
  let adv = g(k, T_RCV_ADV);
  let rightEdge = seqGt(adv, rnxt) ? adv : rnxt;
  if (dlen > 0 && seqGt(seq + dlen, rightEdge)) {
    let keep: u32 = seqGt(rightEdge, seq) ? rightEdge - seq : 0;
    count(C_TCP_WND_DROP);
    if (keep == 0) { pktFreeChain(b); b = 0; dlen = 0; }
    else { pktTrim(b, keep); dlen = keep; }
    fin = false;
    setF(k, F_ACKNOW);
  }
  if (dlen == 0 && b) { pktFreeChain(b); b = 0; }
  if (hasF(k, F_FIN_RCVD)) { if (b) pktFreeChain(b); return; }
  if (seq == rnxt) {
    let hadOoo = g(k, T_OOO_HEAD) != 0;
    if (dlen > 0) rqAppend(k, b, dlen);
    rnxt += dlen;
    // Pull in whatever the out-of-order queue now continues.
    for (;;) {
      let o = <usize>g(k, T_OOO_HEAD);
      if (!o) break;
      let os = load<u32>(o, PKT_B);
      if (seqGt(os, rnxt)) break;
      s(k, T_OOO_HEAD, load<u32>(o, PKT_QNEXT));
      let olen = load<u32>(o, PKT_TOTAL);
      let nb = chainBufs(o);
      s(k, T_OOO_BYTES, g(k, T_OOO_BYTES) - olen);
      s(k, T_OOO_BUFS, g(k, T_OOO_BUFS) - nb);
      let ofin = load<u32>(o, PKT_C) != 0;
      let d = rnxt - os;
      if (d >= olen) {
        pktFreeChain(o);
        if (d == olen && ofin) fin = true;
        continue;
      }
      if (d) o = trimFront(o, d);
      olen -= d;
      rqAppend(k, o, olen);
      rnxt += olen;
      if (ofin) fin = true;
    }
    s(k, T_RCV_NXT, rnxt);
    if (dlen > 0 || hadOoo) {
      if (hadOoo) setF(k, F_ACKNOW);
      // A segment the link merged (GRO) counts as the full segments it holds.
      let n = g(k, T_SEGS_UNACKED) + (dlen > g(k, T_RMSS) ? 2 : 1);
      s(k, T_SEGS_UNACKED, n);
      if (n >= 2 || (dlen < g(k, T_RMSS) >> 1 && hasF(k, F_ACKNOW))) setF(k, F_ACKNOW);
      else setF(k, F_DELACK);
      if (!hasF(k, F_RD_EV) && g(k, T_RQ_BYTES)) { setF(k, F_RD_EV); notify(k, EV_TCP_READABLE, 0); }
    }
    if (fin) finInput(k);
  } else {
    // Out of order: keep it (bounded), and tell the peer at once (RFC 5681 4.2).
    setF(k, F_ACKNOW);
    if (dlen > 0 || fin) {
      if (!b || g(k, T_OOO_BUFS) >= oooMax || scbGet(SCB_FREE_COUNT) < (nbufs >> 4)) {
        count(C_TCP_OOO_DROP);
        if (b) pktFreeChain(b);
        return;
      }
      oooInsert(k, b, seq, dlen, fin);
    }
  }
}

function rqAppend(k: usize, b: usize, len: u32): void {
  store<u32>(b, 0, PKT_QNEXT);
  let t = <usize>g(k, T_RQ_TAIL);
  if (t) store<u32>(t, <u32>b, PKT_QNEXT); else s(k, T_RQ_HEAD, <u32>b);
  s(k, T_RQ_TAIL, <u32>b);
  s(k, T_RQ_BYTES, g(k, T_RQ_BYTES) + len);
  s(k, T_RQ_BUFS, g(k, T_RQ_BUFS) + chainBufs(b));
}

function oooInsert(k: usize, b: usize, seq: u32, len: u32, fin: bool): void {
  count(C_TCP_OOO);
  s(k, T_LAST_OOO, seq);
  let prev: usize = 0;
  let c = <usize>g(k, T_OOO_HEAD);
  while (c && seqLe(load<u32>(c, PKT_B), seq)) { prev = c; c = <usize>load<u32>(c, PKT_QNEXT); }
  if (prev) {
    let pe = load<u32>(prev, PKT_B) + load<u32>(prev, PKT_TOTAL);
    if (seqGe(pe, seq + len)) {
      // Already have all of it.
      if (fin) store<u32>(prev, 1, PKT_C);
      pktFreeChain(b);
      return;
    }
    if (seqGt(pe, seq)) { let d = pe - seq; b = trimFront(b, d); seq += d; len -= d; }
  }
  // Swallow the segments the new one covers; trim it against the next.
  while (c) {
    let cs = load<u32>(c, PKT_B);
    if (seqGe(cs, seq + len)) break;
    let ce = cs + load<u32>(c, PKT_TOTAL);
    if (seqLe(ce, seq + len)) {
      let next = <usize>load<u32>(c, PKT_QNEXT);
      if (load<u32>(c, PKT_C)) fin = true;
      s(k, T_OOO_BYTES, g(k, T_OOO_BYTES) - load<u32>(c, PKT_TOTAL));
      s(k, T_OOO_BUFS, g(k, T_OOO_BUFS) - chainBufs(c));
      pktFreeChain(c);
      c = next;
      continue;
    }
    pktTrim(b, cs - seq);
    len = cs - seq;
    fin = false;
    break;
  }
  store<u32>(b, seq, PKT_B);
  store<u32>(b, fin ? 1 : 0, PKT_C);
  store<u32>(b, <u32>c, PKT_QNEXT);
  if (prev) store<u32>(prev, <u32>b, PKT_QNEXT); else s(k, T_OOO_HEAD, <u32>b);
  s(k, T_OOO_BYTES, g(k, T_OOO_BYTES) + len);
  s(k, T_OOO_BUFS, g(k, T_OOO_BUFS) + chainBufs(b));
}

function finInput(k: usize): void {
  setF(k, F_FIN_RCVD);
  s(k, T_RCV_NXT, g(k, T_RCV_NXT) + 1);
  setF(k, F_ACKNOW);
  queueFree(<usize>g(k, T_OOO_HEAD));
  s(k, T_OOO_HEAD, 0); s(k, T_OOO_BYTES, 0); s(k, T_OOO_BUFS, 0);
  notify(k, EV_TCP_FIN, 0);
  let st = state(k);
  if (st == S_ESTABLISHED || st == S_SYN_RCVD) s(k, T_STATE, S_CLOSE_WAIT);
  else if (st == S_FIN_WAIT_1) {
    if (finAcked(k)) { sendAck(k); enterTimeWait(k); }
    else s(k, T_STATE, S_CLOSING);
  } else if (st == S_FIN_WAIT_2) { sendAck(k); enterTimeWait(k); }
}

/** An ICMP error about a segment we sent (RFC 5927, RFC 1122 4.2.3.9); what
 * 0: the neighbour layer gave up resolving its next hop. */
export function tcpIcmpError(ip: usize, th: usize, what: u32): void {
  let k = connLookup(ipSrc(ip), ld16(th), ipDst(ip), ld16(th + 2));
  if (!k) return;
  let seq = ld32(th + 4);
  let st = state(k);
  if (st == S_SYN_SENT) { if (seq != g(k, T_ISS)) return; }
  else if (seqLt(seq, g(k, T_SND_UNA)) || seqGe(seq, g(k, T_SND_MAX))) return;
  // ARP failure is our own finding, not a router's report that may pass:
  // a connect fails at once, as on Linux; later it is a soft error as below.
  if (what == 0 && st == S_SYN_SENT) { connDrop(k, EHOSTUNREACH); return; }
  let type = what >> 8, code = what & 255;
  if (type == ICMP_UNREACH && code == UNREACH_NEEDFRAG) {
    // Path MTU (RFC 1191): the next-hop MTU is in the ICMP header just before the quote.
    let mtu = ld16(ip - 2);
    if (mtu >= 576 && mtu - IP_HLEN - TCP_HLEN < g(k, T_PMTU_MSS)) {
      s(k, T_PMTU_MSS, mtu - IP_HLEN - TCP_HLEN);
      let m = mtu - IP_HLEN - TCP_HLEN - (hasF(k, F_TS) ? 12 : 0);
      if (m < g(k, T_MSS)) { s(k, T_MSS, m); s(k, T_SND_NXT, g(k, T_SND_UNA)); wantOutput(k); }
    }
    return;
  }
  if (st == S_SYN_SENT && type == ICMP_UNREACH && (code == UNREACH_PORT || code == UNREACH_PROTO)) {
    connDrop(k, ECONNREFUSED);
    return;
  }
  s(k, T_ERR, EHOSTUNREACH);   // soft: reported if the connection times out
}

// ---- the host's calls ----
export function tcpOpen(): i32 {
  let k = tcbAlloc();
  if (!k) { count(C_TCP_TABLE_FULL); return E_MFILE; }
  s(k, T_FLAGS, F_ATTACHED);
  s(k, T_CC, defCc);
  s(k, T_SNDBUF, defSndbuf);
  s(k, T_RCVBUF, defRcvbuf);
  s(k, T_KA_INTVL, 75_000);
  s(k, T_KA_CNT, 9);
  setTimer(k, T_T_RTX, NEVER); setTimer(k, T_T_DACK, NEVER); setTimer(k, T_T_KA, NEVER);
  return <i32>idx(k);
}

export function tcpListen(sd: i32, addr: u32, port: u32, backlog: u32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  if (state(k) != S_CLOSED || g(k, T_LPORT)) return E_INVAL;
  if (port > 65535) return E_INVAL;
  if (addr != 0 && localIface(addr) < 0) return E_ADDRNOTAVAIL;
  if (port == 0) {
    let start = rand32() % EPH_N;
    for (let i: u32 = 0; i < EPH_N; i++) {
      let p = EPH_LO + (start + i) % EPH_N;
      if (!listenConflict(addr, p)) { port = p; break; }
    }
    if (port == 0) return E_ADDRINUSE;
  } else if (listenConflict(addr, port)) return E_ADDRINUSE;
  s(k, T_LADDR, addr);
  s(k, T_LPORT, port);
  s(k, T_BACKLOG, max<u32>(1, min<u32>(backlog, 65535)));
  s(k, T_STATE, S_LISTEN);
  listenHashIn(k);
  return 0;
}

export function tcpConnect(sd: i32, raddr: u32, rport: u32, laddr: u32, lport: u32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  let st = state(k);
  if (st == S_SYN_SENT || st == S_SYN_RCVD) return E_ALREADY;
  if (st != S_CLOSED || g(k, T_LPORT)) return E_ISCONN;
  if (raddr == 0 || rport == 0 || rport > 65535 || lport > 65535) return E_INVAL;
  if (!ipRoute(raddr, rt)) return E_NETUNREACH;
  // TCP is point to point (RFC 1122 4.2.3.10); Linux refuses these the same way.
  if (raddr == IP_BROADCAST || isMulticast(raddr) || isSubnetBroadcast(rt.ifx, raddr)) return E_NETUNREACH;
  if (laddr == 0) laddr = rt.src;
  else if (localIface(laddr) < 0) return E_ADDRNOTAVAIL;
  if (lport == 0) { lport = ephemeralPort(laddr, raddr, rport); if (!lport) return E_ADDRNOTAVAIL; }
  else if (connLookup(laddr, lport, raddr, rport)) return E_ADDRINUSE;
  initConn(k, laddr, lport, raddr, rport);
  s(k, T_STATE, S_SYN_SENT);
  setF(k, F_ACTIVE);
  connHashIn(k);
  s(k, T_RTT_TIME, nowMs());
  sendSyn(k);
  return 0;
}

export function tcpAccept(lsd: i32): i32 {
  let l = validSd(lsd);
  if (!l) return E_BADF;
  if (state(l) != S_LISTEN) return E_INVAL;
  let h = g(l, T_ACCQ_HEAD);
  if (!h) return E_AGAIN;
  let k = tcb(h - 1);
  childUnlink(k);
  setF(k, F_ATTACHED);
  // Tell the host what arrived before it looked.
  if (g(k, T_RQ_BYTES)) { setF(k, F_RD_EV); emit(EV_TCP_READABLE, idx(k), 0, 0); }
  if (hasF(k, F_FIN_RCVD)) emit(EV_TCP_FIN, idx(k), 0, 0);
  count(C_TCP_ACCEPT);
  return <i32>idx(k);
}

/** Free space at the end of the send buffer: io words 0 and 1 get (address,
 * contiguous bytes). Returns the byte count (0: full; a writable event follows). */
export function tcpSendSpace(sd: i32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  let st = state(k);
  if (hasF(k, F_FIN_QUEUED)) return E_PIPE;
  if (st != S_ESTABLISHED && st != S_CLOSE_WAIT && st != S_SYN_SENT && st != S_SYN_RCVD) {
    return st == S_CLOSED ? E_PIPE : E_NOTCONN;
  }
  let len = g(k, T_SB_LEN);
  let room = g(k, T_SNDBUF) > len ? g(k, T_SNDBUF) - len : 0;
  if (room == 0) { setF(k, F_WR_WANT); return 0; }
  let pos = g(k, T_SB_OFF) + len;
  let nch = g(k, T_SB_NCH);
  if (pos == nch << CHUNK_SHIFT) {
    let c = chunkAlloc();
    if (!c) { setF(k, F_WR_WANT); waitAppend(k); return 0; }
    let t = g(k, T_SB_TAIL);
    if (t) chunkSetNext(t, c); else s(k, T_SB_HEAD, c);
    s(k, T_SB_TAIL, c);
    s(k, T_SB_NCH, nch + 1);
  }
  let within = pos & (CHUNK - 1);
  let n = min<u32>(CHUNK - within, room);
  let io = <usize>scbGet(SCB_IO);
  store<u32>(io, <u32>(chunkAddr(g(k, T_SB_TAIL)) + within));
  store<u32>(io, n, 4);
  return <i32>n;
}

/** Publishes n bytes the host wrote at the address tcp_send_space gave; with
 * more, output waits for the rest (the next commit without it, or the poll). */
export function tcpSendCommit(sd: i32, n: u32, more: bool): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  if (hasF(k, F_FIN_QUEUED)) return E_PIPE;
  let len = g(k, T_SB_LEN);
  let pos = g(k, T_SB_OFF) + len;
  let nch = g(k, T_SB_NCH);
  let within = pos & (CHUNK - 1);
  if (n == 0) return 0;
  if (nch == 0 || pos >= nch << CHUNK_SHIFT || n > CHUNK - within || len + n > g(k, T_SNDBUF)) return E_INVAL;
  s(k, T_SB_LEN, len + n);
  let st = state(k);
  if (st == S_ESTABLISHED || st == S_CLOSE_WAIT) {
    if (more) wantOutput(k);
    else { outRemove(k); tcpOutput(k); }
  }
  return <i32>n;
}

/** Hands up to max received bytes to the host: (address, bytes) records in
 * the io area, valid until the next call into the core. Returns the record count. */
export function tcpRecv(sd: i32, max: u32): i32 {
  tcpReleaseLoans();
  let k = validSd(sd);
  if (!k) return E_BADF;
  let io = <usize>scbGet(SCB_IO);
  let cap = scbGet(SCB_IO_CAP) >> 3;
  let n: u32 = 0;
  let total: u32 = 0;
  let before = rcvSpace(k);
  let b = <usize>g(k, T_RQ_HEAD);
  while (b && total < max && n < cap) {
    let segLeft = load<u32>(b, PKT_TOTAL);
    let partial = false;
    for (let c = b; c && n < cap; c = <usize>load<u32>(c, PKT_NEXT)) {
      let l = load<u32>(c, PKT_LEN);
      if (l == 0) continue;
      let want = max - total;
      let take = min<u32>(l, want);
      store<u32>(io + (<usize>n << 3), load<u32>(c, PKT_DATA));
      store<u32>(io + (<usize>n << 3), take, 4);
      n++;
      total += take;
      segLeft -= take;
      if (take < l) {
        store<u32>(c, load<u32>(c, PKT_DATA) + take, PKT_DATA);
        store<u32>(c, l - take, PKT_LEN);
        partial = true;
        break;
      }
      if (segLeft > 0) store<u32>(c, 0, PKT_LEN);   // consumed; freed with its segment
      if (total >= max) { partial = segLeft > 0; break; }
    }
    if (segLeft > 0 || partial) {
      s(k, T_RQ_BYTES, g(k, T_RQ_BYTES) - (load<u32>(b, PKT_TOTAL) - segLeft));
      store<u32>(b, segLeft, PKT_TOTAL);
      break;
    }
    let next = <usize>load<u32>(b, PKT_QNEXT);
    s(k, T_RQ_BYTES, g(k, T_RQ_BYTES) - load<u32>(b, PKT_TOTAL));
    s(k, T_RQ_BUFS, g(k, T_RQ_BUFS) - chainBufs(b));
    store<u32>(b, <u32>loaned, PKT_QNEXT);
    loaned = b;
    b = next;
  }
  s(k, T_RQ_HEAD, <u32>b);
  if (!b) { s(k, T_RQ_TAIL, 0); clrF(k, F_RD_EV); }
  // Reading opened the window: say so if it grew enough to matter.
  if (n > 0) {
    let st = state(k);
    if (st == S_ESTABLISHED || st == S_FIN_WAIT_1 || st == S_FIN_WAIT_2) {
      let rn = g(k, T_RCV_NXT), adv = g(k, T_RCV_ADV);
      let cur: u32 = seqGt(adv, rn) ? adv - rn : 0;
      let after = rcvSpace(k);
      let rm = g(k, T_RMSS);
      if (after > before && after >= cur + min<u32>(2 * rm, g(k, T_RCVBUF) >> 1) || (cur < rm && after >= rm)) {
        setF(k, F_ACKNOW);
        tcpOutput(k);
      }
    }
  }
  return <i32>n;
}

/** Ends our direction: a FIN follows the queued data. */
export function tcpShutdown(sd: i32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  let st = state(k);
  if (hasF(k, F_FIN_QUEUED)) return 0;
  if (st == S_CLOSED || st == S_LISTEN) return E_NOTCONN;
  setF(k, F_FIN_QUEUED);
  if (st == S_ESTABLISHED) s(k, T_STATE, S_FIN_WAIT_1);
  else if (st == S_CLOSE_WAIT) s(k, T_STATE, S_LAST_ACK);
  else return 0;   // SYN-SENT / SYN-RECEIVED: sent once established
  tcpOutput(k);
  return 0;
}

/** The host lets go of the descriptor. Unread data aborts the connection
 * with a RST (RFC 2525 2.17); otherwise it closes gracefully on its own. */
export function tcpClose(sd: i32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  clrF(k, F_ATTACHED | F_RD_EV | F_WR_WANT);
  waitRemove(k);
  let st = state(k);
  if (st == S_CLOSED) { rxFreeAll(k); tcbFree(k); return 0; }
  if (st == S_LISTEN) {
    // Children not yet accepted are reset.
    for (;;) {
      let h = g(k, T_ACCQ_HEAD);
      if (!h) h = g(k, L_SYNQ_HEAD);
      if (!h) break;
      let c = tcb(h - 1);
      sendRstFor(c);
      connDrop(c, 0);
    }
    connDrop(k, 0);
    return 0;
  }
  if (st == S_SYN_SENT || st == S_SYN_RCVD) { connDrop(k, 0); return 0; }
  if (g(k, T_RQ_BYTES) && !hasF(k, F_FIN_RCVD) || (st == S_ESTABLISHED || st == S_CLOSE_WAIT) && g(k, T_RQ_BYTES)) {
    sendRstFor(k);
    connDrop(k, 0);
    return 0;
  }
  rxFreeAll(k);
  if (st == S_ESTABLISHED || st == S_CLOSE_WAIT) {
    setF(k, F_FIN_QUEUED);
    s(k, T_STATE, st == S_ESTABLISHED ? S_FIN_WAIT_1 : S_LAST_ACK);
    tcpOutput(k);
  } else if (st == S_FIN_WAIT_2) {
    setTimer(k, T_T_KA, now + finTimeout);
    timerUpdate(k);
  }
  return 0;
}

/** Aborts with a RST (resetAndDestroy) and lets go of the descriptor. */
export function tcpAbort(sd: i32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  let st = state(k);
  if (st >= S_SYN_RCVD && st != S_TIME_WAIT) sendRstFor(k);
  clrF(k, F_ATTACHED);
  waitRemove(k);
  if (st == S_CLOSED) { rxFreeAll(k); tcbFree(k); return 0; }
  if (st == S_LISTEN) { setF(k, F_ATTACHED); return tcpClose(sd); }
  connDrop(k, 0);
  return 0;
}

export function tcpSetopt(sd: i32, opt: u32, val: u32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  if (opt == OPT_NODELAY) {
    if (val) { setF(k, F_NODELAY); if (state(k) >= S_ESTABLISHED) tcpOutput(k); }
    else clrF(k, F_NODELAY);
  } else if (opt == OPT_KEEPALIVE) {
    s(k, T_KA_IDLE, val);
    if (val && (state(k) == S_ESTABLISHED || state(k) == S_CLOSE_WAIT)) armKeepalive(k);
  } else if (opt == OPT_KEEPINTVL) s(k, T_KA_INTVL, max<u32>(val, 1));
  else if (opt == OPT_KEEPCNT) s(k, T_KA_CNT, max<u32>(val, 1));
  else if (opt == OPT_CC) { if (val > 1) return E_INVAL; s(k, T_CC, val); }
  else if (opt == OPT_SNDBUF) { if (val < 2048) return E_INVAL; s(k, T_SNDBUF, val); }
  else if (opt == OPT_RCVBUF) {
    if (val < 2048) return E_INVAL;
    if (state(k) > S_LISTEN) { if (val > g(k, T_RCVBUF)) s(k, T_RCVBUF, min<u32>(val, <u32>65535 << rcvWs(k))); }
    else s(k, T_RCVBUF, val);
  } else return E_INVAL;
  return 0;
}

/** State and numbers of a socket into io words (see ABI notes in abi.ts). */
export function tcpInfo(sd: i32): i32 {
  if (sd < 0 || <u32>sd >= ntcbs) return E_BADF;
  let k = tcb(<u32>sd);
  if (state(k) == S_FREE) return E_BADF;
  let io = <usize>scbGet(SCB_IO);
  store<u32>(io, state(k));
  store<u32>(io, g(k, T_LADDR), 4);
  store<u32>(io, g(k, T_LPORT), 8);
  store<u32>(io, g(k, T_RADDR), 12);
  store<u32>(io, g(k, T_RPORT), 16);
  store<u32>(io, g(k, T_FLAGS), 20);
  store<u32>(io, g(k, T_SND_UNA), 24);
  store<u32>(io, g(k, T_SND_NXT), 28);
  store<u32>(io, g(k, T_RCV_NXT), 32);
  store<u32>(io, g(k, T_SND_WND), 36);
  store<u32>(io, g(k, T_CWND), 40);
  store<u32>(io, g(k, T_SSTHRESH), 44);
  store<u32>(io, g(k, T_SRTT), 48);
  store<u32>(io, g(k, T_RTO), 52);
  store<u32>(io, g(k, T_MSS), 56);
  store<u32>(io, g(k, T_SB_LEN), 60);
  store<u32>(io, g(k, T_RQ_BYTES), 64);
  store<u32>(io, g(k, T_OOO_BYTES), 68);
  store<u32>(io, g(k, T_WSCALE), 72);
  store<u32>(io, g(k, T_SND_MAX), 76);
  store<u32>(io, g(k, T_RCV_ADV) - g(k, T_RCV_NXT), 80);
  store<u32>(io, g(k, T_ACCQ_LEN), 84);
  store<u32>(io, g(k, T_SYNQ), 88);
  store<u32>(io, g(k, T_ERR), 92);
  store<u32>(io, g(k, T_SB_NCH), 96);
  store<u32>(io, g(k, T_CC), 100);
  return 0;
}

/** TCP table occupancy into io words 0..5. */
export function tcpTables(): i32 {
  let io = <usize>scbGet(SCB_IO);
  store<u32>(io, nUsed);
  store<u32>(io, nTimeWait, 4);
  store<u32>(io, nChunks - nChunksFree - nChunksDeferred, 8);
  store<u32>(io, nChunks, 12);
  store<u32>(io, ntcbs, 16);
  store<u32>(io, timerCount(), 20);
  return 0;
}

