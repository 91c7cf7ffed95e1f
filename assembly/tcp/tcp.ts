// TCP (RFC 9293) with MSS, window scaling, timestamps and PAWS (RFC 7323),
// SACK both ways (RFC 2018) with SACK-based loss recovery (RFC 6675),
// NewReno (RFC 5681, 6582) and CUBIC (RFC 9438), RFC 6298 RTO, RFC 5961
// challenge ACKs, RFC 6528 ISNs, RFC 6056 ports, SYN cookies.
//
// This module is the host's calls (abi.ts); the rest, bottom up: tcb (the
// TCB and its tables), sndbuf, rcvbuf, options, config, timers, cc (cubic,
// newreno), sack, output, conn, data, listen, input, timeouts.
import { IP_BROADCAST, isMulticast } from '../wire/ipv4';
import { PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT, PKT_QNEXT } from '../base/mem';
import { SCB_IO, SCB_IO_CAP, scbGet } from '../base/scb';
import { count, C_TCP_TABLE_FULL, C_TCP_ACCEPT } from '../base/counters';
import { emit } from '../base/events';
import { now, NEVER } from '../base/time';
import { rand32 } from '../base/random';
import { localIface, isSubnetBroadcast } from '../iface/iface';
import { ipRoute } from '../iface/ip';
import { E_ADDRINUSE, E_ADDRNOTAVAIL, E_AGAIN, E_ALREADY, E_BADF, E_INVAL, E_ISCONN, E_MFILE, E_NETUNREACH,
  E_NOTCONN, E_PIPE } from '../base/errno';
import { Tcb, CC_BBR, CHUNK, CHUNK_SHIFT, EV_TCP_FIN, EV_TCP_READABLE, F_ACKNOW, F_ACTIVE, F_ATTACHED, F_FIN_QUEUED, F_FIN_RCVD,
  F_NODELAY, F_RD_EV, F_WR_WANT, S_CLOSED, S_CLOSE_WAIT, S_ESTABLISHED, S_FIN_WAIT_1, S_FIN_WAIT_2, S_FREE,
  S_LAST_ACK, S_LISTEN, S_SYN_RCVD, S_SYN_SENT, S_TIME_WAIT, clrF, connHashIn, connLookup, hasF, idx, listenConflict,
  listenHashIn, nTimeWait, nUsed, ntcbs, outRemove, rcvWs, seqGt, setF, tcb, tcbFree, tcbInit, tcbLayout,
  timerCount, timerUpdate, validSd, wantOutput } from './tcb';
import { chunkAddr, chunkAlloc, chunkInit, chunkLayout, chunkSetNext, nChunks, nChunksDeferred, nChunksFree,
  waitAppend, waitRemove } from './sndbuf';
import { TcpInfo } from './info';
import { configure, defCc, defRcvbuf, defSndbuf, finTimeout } from './config';
import { armKeepalive } from './timers';
import { chainBufs, loan, rcvSpace, rxFreeAll, tcpReleaseLoans } from './rcvbuf';
import { challengeInit, rt, sendRstFor, sendSyn, tcpOutput } from './output';
import { EPH_LO, EPH_N, acceptQueue, childUnlink, connAlloc, connDrop, ephemeralInit, ephemeralPort,
  initConn } from './conn';

// ---- socket options (tcp_setopt) ----
export const OPT_NODELAY: u32 = 1;
export const OPT_KEEPALIVE: u32 = 2;   // idle ms, 0: off
export const OPT_KEEPINTVL: u32 = 3;
export const OPT_KEEPCNT: u32 = 4;
export const OPT_CC: u32 = 5;          // CC_CUBIC, CC_NEWRENO or CC_BBR
export const OPT_SNDBUF: u32 = 6;
export const OPT_RCVBUF: u32 = 7;

export function tcpLayout(socks: u32, chunks: u32): void {
  tcbLayout(socks);
  chunkLayout(chunks);
}

export function tcpConfig(mslMs: u32, finMs: u32, minRtoMs: u32, delackMs: u32, cc: u32, sndbuf: u32, rcvbuf: u32,
    ooo: u32, syn: u32, icw: u32, chal: u32, initRtoMs: u32): void {
  tcbInit();
  chunkInit();
  configure(mslMs, finMs, minRtoMs, delackMs, cc, sndbuf, rcvbuf, ooo, syn, icw, initRtoMs);
  challengeInit(chal);
  ephemeralInit();
}

export function tcpOpen(): i32 {
  let k = connAlloc();
  if (!k) { count(C_TCP_TABLE_FULL); return E_MFILE; }
  k.flags = F_ATTACHED;
  k.cc = defCc;
  k.sndbuf = defSndbuf;
  k.rcvbuf = defRcvbuf;
  k.kaIntvl = 75_000;
  k.kaCnt = 9;
  k.rtxAt = NEVER; k.dackAt = NEVER; k.kaAt = NEVER;
  return <i32>idx(k);
}

export function tcpListen(sd: i32, addr: u32, port: u32, backlog: u32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  if (k.state != S_CLOSED || k.lport) return E_INVAL;
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
  k.laddr = addr;
  k.lport = port;
  k.backlog = max<u32>(1, min<u32>(backlog, 65535));
  k.state = S_LISTEN;
  listenHashIn(k);
  return 0;
}

export function tcpConnect(sd: i32, raddr: u32, rport: u32, laddr: u32, lport: u32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  let st = k.state;
  if (st == S_SYN_SENT || st == S_SYN_RCVD) return E_ALREADY;
  if (st != S_CLOSED || k.lport) return E_ISCONN;
  if (raddr == 0 || rport == 0 || rport > 65535 || lport > 65535) return E_INVAL;
  if (!ipRoute(raddr, rt)) return E_NETUNREACH;
  // TCP is point to point (RFC 1122 4.2.3.10); Linux refuses these the same way.
  if (raddr == IP_BROADCAST || isMulticast(raddr) || isSubnetBroadcast(rt.ifx, raddr)) return E_NETUNREACH;
  if (laddr == 0) laddr = rt.src;
  else if (localIface(laddr) < 0) return E_ADDRNOTAVAIL;
  if (lport == 0) { lport = ephemeralPort(laddr, raddr, rport); if (!lport) return E_ADDRNOTAVAIL; }
  else if (connLookup(laddr, lport, raddr, rport)) return E_ADDRINUSE;
  initConn(k, laddr, lport, raddr, rport);
  k.state = S_SYN_SENT;
  setF(k, F_ACTIVE);
  connHashIn(k);
  k.rttTime = <u32>now;
  sendSyn(k);
  return 0;
}

export function tcpAccept(lsd: i32): i32 {
  let l = validSd(lsd);
  if (!l) return E_BADF;
  if (l.state != S_LISTEN) return E_INVAL;
  let h = l.accqHead;
  if (!h) return E_AGAIN;
  let k = tcb(h - 1);
  childUnlink(k);
  setF(k, F_ATTACHED);
  // Tell the host what arrived before it looked.
  if (k.rqBytes) { setF(k, F_RD_EV); emit(EV_TCP_READABLE, idx(k), 0, 0); }
  if (hasF(k, F_FIN_RCVD)) emit(EV_TCP_FIN, idx(k), 0, 0);
  count(C_TCP_ACCEPT);
  return <i32>idx(k);
}

/** Free space at the end of the send buffer: io words 0 and 1 get (address,
 * contiguous bytes). Returns the byte count (0: full; a writable event follows). */
export function tcpSendSpace(sd: i32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  let st = k.state;
  if (hasF(k, F_FIN_QUEUED)) return E_PIPE;
  if (st != S_ESTABLISHED && st != S_CLOSE_WAIT && st != S_SYN_SENT && st != S_SYN_RCVD) {
    return st == S_CLOSED ? E_PIPE : E_NOTCONN;
  }
  let len = k.sbLen;
  let room = k.sndbuf > len ? k.sndbuf - len : 0;
  if (room == 0) { setF(k, F_WR_WANT); return 0; }
  let pos = k.sbOff + len;
  let nch = k.sbChunks;
  if (pos == nch << CHUNK_SHIFT) {
    let c = chunkAlloc();
    if (!c) { setF(k, F_WR_WANT); waitAppend(k); return 0; }
    let t = k.sbTail;
    if (t) chunkSetNext(t, c); else k.sbHead = c;
    k.sbTail = c;
    k.sbChunks = nch + 1;
  }
  let within = pos & (CHUNK - 1);
  let n = min<u32>(CHUNK - within, room);
  let io = <usize>scbGet(SCB_IO);
  store<u32>(io, <u32>(chunkAddr(k.sbTail) + within));
  store<u32>(io, n, 4);
  return <i32>n;
}

/** Publishes n bytes the host wrote at the address tcp_send_space gave; with
 * more, output waits for the rest (the next commit without it, or the poll). */
export function tcpSendCommit(sd: i32, n: u32, more: bool): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  if (hasF(k, F_FIN_QUEUED)) return E_PIPE;
  let len = k.sbLen;
  let pos = k.sbOff + len;
  let nch = k.sbChunks;
  let within = pos & (CHUNK - 1);
  if (n == 0) return 0;
  if (nch == 0 || pos >= nch << CHUNK_SHIFT || n > CHUNK - within || len + n > k.sndbuf) return E_INVAL;
  k.sbLen = len + n;
  let st = k.state;
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
  let b = <usize>k.rqHead;
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
      k.rqBytes -= load<u32>(b, PKT_TOTAL) - segLeft;
      store<u32>(b, segLeft, PKT_TOTAL);
      break;
    }
    let next = <usize>load<u32>(b, PKT_QNEXT);
    k.rqBytes -= load<u32>(b, PKT_TOTAL);
    k.rqBufs -= chainBufs(b);
    loan(b);
    b = next;
  }
  k.rqHead = <u32>b;
  if (!b) { k.rqTail = 0; clrF(k, F_RD_EV); }
  // Reading opened the window: say so if it grew enough to matter. Not
  // beyond what the window field can say: an update that cannot show more
  // than the last ACK would be its duplicate (RFC 5681 4.2).
  if (n > 0) {
    let st = k.state;
    if (st == S_ESTABLISHED || st == S_FIN_WAIT_1 || st == S_FIN_WAIT_2) {
      let rn = k.rcvNxt, adv = k.rcvAdv;
      let cur: u32 = seqGt(adv, rn) ? adv - rn : 0;
      let after = min<u32>(rcvSpace(k), <u32>65535 << rcvWs(k));
      let rm = k.rmss;
      if (after > before && after >= cur + min<u32>(2 * rm, k.rcvbuf >> 1) || (cur < rm && after >= rm)) {
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
  let st = k.state;
  if (hasF(k, F_FIN_QUEUED)) return 0;
  if (st == S_CLOSED || st == S_LISTEN) return E_NOTCONN;
  setF(k, F_FIN_QUEUED);
  if (st == S_ESTABLISHED) k.state = S_FIN_WAIT_1;
  else if (st == S_CLOSE_WAIT) k.state = S_LAST_ACK;
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
  let st = k.state;
  if (st == S_CLOSED) { rxFreeAll(k); tcbFree(k); return 0; }
  if (st == S_LISTEN) {
    // Children not yet accepted are reset.
    for (;;) {
      let h = k.accqHead;
      if (!h) h = k.synqHead;
      if (!h) break;
      let c = tcb(h - 1);
      sendRstFor(c);
      connDrop(c, 0);
    }
    connDrop(k, 0);
    return 0;
  }
  if (st == S_SYN_SENT || st == S_SYN_RCVD) { connDrop(k, 0); return 0; }
  if (k.rqBytes && !hasF(k, F_FIN_RCVD) || (st == S_ESTABLISHED || st == S_CLOSE_WAIT) && k.rqBytes) {
    sendRstFor(k);
    connDrop(k, 0);
    return 0;
  }
  rxFreeAll(k);
  if (st == S_ESTABLISHED || st == S_CLOSE_WAIT) {
    setF(k, F_FIN_QUEUED);
    k.state = st == S_ESTABLISHED ? S_FIN_WAIT_1 : S_LAST_ACK;
    tcpOutput(k);
  } else if (st == S_FIN_WAIT_2) {
    k.kaAt = now + finTimeout;
    timerUpdate(k);
  }
  return 0;
}

/** Aborts with a RST (resetAndDestroy) and lets go of the descriptor. */
export function tcpAbort(sd: i32): i32 {
  let k = validSd(sd);
  if (!k) return E_BADF;
  let st = k.state;
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
    if (val) { setF(k, F_NODELAY); if (k.state >= S_ESTABLISHED) tcpOutput(k); }
    else clrF(k, F_NODELAY);
  } else if (opt == OPT_KEEPALIVE) {
    k.kaIdle = val;
    if (val && (k.state == S_ESTABLISHED || k.state == S_CLOSE_WAIT)) armKeepalive(k);
  } else if (opt == OPT_KEEPINTVL) k.kaIntvl = max<u32>(val, 1);
  else if (opt == OPT_KEEPCNT) k.kaCnt = max<u32>(val, 1);
  else if (opt == OPT_CC) { if (val > CC_BBR) return E_INVAL; k.cc = val; }
  else if (opt == OPT_SNDBUF) { if (val < 2048) return E_INVAL; k.sndbuf = val; }
  else if (opt == OPT_RCVBUF) {
    if (val < 2048) return E_INVAL;
    if (k.state > S_LISTEN) { if (val > k.rcvbuf) k.rcvbuf = min<u32>(val, <u32>65535 << rcvWs(k)); }
    else k.rcvbuf = val;
  } else return E_INVAL;
  return 0;
}

/** State and numbers of a socket the host holds into the io area, as a TcpInfo record. */
export function tcpInfo(sd: i32): i32 {
  let k = validSd(sd);
  return k ? info(k) : E_BADF;
}

/** tcpInfo for TCB i, held by the host or not (orphans, children not yet
 * accepted, TIME-WAIT): diagnostics, as ss lists what no process holds. */
export function tcpTcbInfo(i: u32): i32 {
  if (i >= ntcbs) return E_BADF;
  let k = tcb(i);
  return k.state == S_FREE ? E_BADF : info(k);
}

function info(k: Tcb): i32 {
  let io = changetype<TcpInfo>(<usize>scbGet(SCB_IO));
  io.state = k.state;
  io.laddr = k.laddr;
  io.lport = k.lport;
  io.raddr = k.raddr;
  io.rport = k.rport;
  io.flags = k.flags;
  io.sndUna = k.sndUna;
  io.sndNxt = k.sndNxt;
  io.rcvNxt = k.rcvNxt;
  io.sndWnd = k.sndWnd;
  io.cwnd = k.cwnd;
  io.ssthresh = k.ssthresh;
  io.srttUs = k.srtt;
  io.rtoMs = k.rto;
  io.mss = k.mss;
  io.sendQueued = k.sbLen;
  io.recvQueued = k.rqBytes;
  io.oooQueued = k.oooBytes;
  io.wscale = k.wscale;
  io.sndMax = k.sndMax;
  io.rcvWnd = k.rcvAdv - k.rcvNxt;
  io.acceptQueue = k.accqLen;
  io.synQueue = k.synq;
  io.softError = k.softErr;
  io.chunks = k.sbChunks;
  io.congestion = k.cc;
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
