// Connection setup and teardown: ISNs (RFC 6528), ephemeral ports (RFC 6056),
// option negotiation, the listener's queues, TIME-WAIT, and releasing a TCB.
import { TCP_HLEN } from '../wire/tcp';
import { IP_HLEN } from '../wire/ipv4';
import { count, C_TCP_TW_RECLAIM } from '../base/counters';
import { emit } from '../base/events';
import { now, NEVER } from '../base/time';
import { keyedHash, rand32 } from '../base/random';
import { ifMtu, addrFlags, ADDR_NOARP } from '../iface/iface';
import { ipRoute } from '../iface/ip';
import { Tcb, EV_TCP_ACCEPT, EV_TCP_CLOSED, EV_TCP_ERROR, F_ACCQ, F_ATTACHED, F_DELACK, F_SACK, F_TS, F_WS, RTX_RTO,
  S_CLOSED, S_FREE, S_LISTEN, S_SYN_SENT, S_TIME_WAIT, clrF, connHashOut, connLookup, hasF, idx, listenConflict,
  listenHashOut, notify, outRemove, setF, tcb, tcbAlloc, tcbFree, tcbFull, timerRemove, timerUpdate, twAppend,
  twReclaimable, twRemove } from './tcb';
import { sbFreeAll } from './sndbuf';
import { opt } from './options';
import { defRcvbuf, defSndbuf, initRto, msl2 } from './config';
import { ccInit } from './cc';
import { rxFreeAll, rxFreeAllKeepRead } from './rcvbuf';
import { rt } from './output';
import { vipaEnds, endPush } from './ends';

export const EPH_LO: u32 = 49152;
export const EPH_N: u32 = 16384;

export function tupleA(laddr: u32, raddr: u32): u64 { return (<u64>laddr << 32) | <u64>raddr; }
export function tupleB(lport: u32, rport: u32): u64 { return (<u64>lport << 16) | <u64>rport; }

/** RFC 6528: a keyed hash of the 4-tuple plus a 4 µs clock. */
function isnFor(laddr: u32, lport: u32, raddr: u32, rport: u32): u32 {
  return <u32>keyedHash(tupleA(laddr, raddr), tupleB(lport, rport), 0x6528) + <u32>(now >> 2);
}

export function tsOffFor(laddr: u32, lport: u32, raddr: u32, rport: u32): u32 {
  return <u32>keyedHash(tupleA(laddr, raddr), tupleB(lport, rport), 0x7323);
}

let ephCounter: u32 = 0;

export function ephemeralInit(): void { ephCounter = rand32(); }

/** RFC 6056 algorithm 3: a per-destination offset, a global counter, then a search. */
export function ephemeralPort(laddr: u32, raddr: u32, rport: u32): u32 {
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

export function childUnlink(k: Tcb): void {
  let p = k.parent;
  if (!p) return;
  let l = tcb(p - 1);
  let n = k.accNext, pv = k.accPrev;
  if (hasF(k, F_ACCQ)) {
    if (pv) tcb(pv - 1).accNext = n; else l.accqHead = n;
    if (n) tcb(n - 1).accPrev = pv; else l.accqTail = pv;
    l.accqLen--;
    clrF(k, F_ACCQ);
  } else {
    if (pv) tcb(pv - 1).accNext = n; else l.synqHead = n;
    if (n) tcb(n - 1).accPrev = pv;
    l.synq--;
  }
  k.parent = 0;
  k.accNext = 0;
  k.accPrev = 0;
}

/** Releases everything a connection holds; it leaves the tables. The TCB is
 * freed unless the host holds the descriptor (then it stays CLOSED until tcp_close). */
export function connDrop(k: Tcb, err: u32, ended: bool = true): void {
  let st = k.state;
  if (st == S_FREE) return;
  if (st == S_TIME_WAIT) twRemove(k);
  if (st >= S_SYN_SENT) { connHashOut(k); if (ended && vipaEnds && addrFlags(k.laddr)) endPush(k.laddr, k.lport, k.raddr, k.rport); }
  if (st == S_LISTEN) listenHashOut(k);
  childUnlink(k);
  outRemove(k);
  timerRemove(k);
  k.rtxAt = NEVER; k.dackAt = NEVER; k.kaAt = NEVER;
  sbFreeAll(k);
  // A clean end keeps what the host has yet to read (it may have shut down
  // its side before reading to the end); an error discards it, as Linux does.
  if (hasF(k, F_ATTACHED) && !err) rxFreeAllKeepRead(k); else rxFreeAll(k);
  k.state = S_CLOSED;
  if (hasF(k, F_ATTACHED)) {
    if (err) emit(EV_TCP_ERROR, idx(k), err, 0);
    else emit(EV_TCP_CLOSED, idx(k), 0, 0);
  } else {
    tcbFree(k);
  }
}

/** A zeroed TCB, or null when the table is full even after reclaiming the
 * oldest TIME-WAIT block the host has let go of. */
export function connAlloc(): Tcb | null {
  if (tcbFull()) {
    let k = twReclaimable();
    if (!k) return null;
    count(C_TCP_TW_RECLAIM);
    connDrop(k, 0);
  }
  return tcbAlloc();
}

export function enterTimeWait(k: Tcb): void {
  k.state = S_TIME_WAIT;
  sbFreeAll(k);
  rxFreeAllKeepRead(k);
  k.rtxAt = NEVER;
  k.dackAt = NEVER;
  clrF(k, F_DELACK);
  k.rtxKind = RTX_RTO;
  k.kaAt = now + msl2;
  twAppend(k);
  timerUpdate(k);
  notify(k, EV_TCP_CLOSED, 0);
}

export function negotiate(k: Tcb, synWnd: u32): void {
  let f: u32 = 0;
  if (opt.ws >= 0) f |= F_WS;
  if (opt.sackOk) f |= F_SACK;
  if (opt.ts) f |= F_TS;
  setF(k, f);
  let ws = k.wscale;
  if (opt.ws >= 0) ws = (ws & 0xff00) | <u32>opt.ws;
  else ws = 0;
  k.wscale = ws;
  if (opt.ts) { k.tsRecent = opt.tsVal; k.tsAge = now; }
  let peerMss = opt.mss ? opt.mss : 536;
  let mss = min<u32>(peerMss, k.pmtuMss);
  if (opt.ts) mss -= 12;
  if (mss < 64) mss = 64;
  k.mss = mss;
  k.sndWnd = synWnd;
  k.maxSndWnd = synWnd;
  ccInit(k);
}

/** Our receive window shift for a buffer of n bytes. */
export function wsFor(n: u32): u32 {
  let sh: u32 = 0;
  while (sh < 14 && (<u64>65535 << sh) < <u64>n) sh++;
  return sh;
}

/** Route-based MSS for a new connection: clamp to the interface MTU. A
 * connection to a VIPA this stack serves as a target (ADDR_NOARP) comes in
 * through its routing stack inside an outer IPv4 header (RFC 2003): the MSS
 * leaves room for it, so forwarded segments never need fragmenting. */
export function routeMss(laddr: u32, raddr: u32): u32 {
  if (!ipRoute(raddr, rt)) return 536;
  return ifMtu(rt.ifx) - IP_HLEN - TCP_HLEN - (addrFlags(laddr) & ADDR_NOARP ? IP_HLEN : 0);
}

export function initConn(k: Tcb, laddr: u32, lport: u32, raddr: u32, rport: u32): void {
  k.laddr = laddr; k.lport = lport; k.raddr = raddr; k.rport = rport;
  let iss = isnFor(laddr, lport, raddr, rport);
  k.iss = iss;
  k.sndUna = iss; k.sndNxt = iss; k.sndMax = iss;
  k.sndSml = iss;
  // Marks in sequence space start at the ISS, not 0 (RFC 6582 3.2 (1)): 0
  // lies ahead of an ISS at or above 2^31, and recovery then waits for the
  // RTO (recover) or resends the whole flight (highSack, without SACK).
  k.recover = iss;
  k.highSack = iss;
  k.sbSeq = iss + 1;
  k.tsOff = tsOffFor(laddr, lport, raddr, rport);
  k.rto = initRto;
  let pm = routeMss(laddr, raddr);
  k.pmtuMss = pm;
  k.rmss = pm;
  k.mss = min<u32>(536, pm);
  if (!k.sndbuf) k.sndbuf = defSndbuf;
  if (!k.rcvbuf) k.rcvbuf = defRcvbuf;
  k.wscale = wsFor(k.rcvbuf) << 8;
  k.rtxAt = NEVER; k.dackAt = NEVER; k.kaAt = NEVER;
  k.lastRx = now;
}

export function acceptQueue(l: Tcb, k: Tcb): void {
  setF(k, F_ACCQ);
  let me = idx(k) + 1;
  let t = l.accqTail;
  k.accNext = 0;
  k.accPrev = t;
  if (t) tcb(t - 1).accNext = me; else l.accqHead = me;
  l.accqTail = me;
  let n = l.accqLen;
  l.accqLen = n + 1;
  if (n == 0) notify(l, EV_TCP_ACCEPT, 0);
}
