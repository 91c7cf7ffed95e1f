// Passive open: SYNs to a listener, its SYN queue, and SYN cookies when the
// queue or the table is full.
import { TH_SYN, TH_FIN, TH_RST, TH_ACK } from '../wire/tcp';
import { pktFreeChain } from '../base/mem';
import { count, C_TCP_NO_PORT, C_TCP_COOKIE_TX, C_TCP_COOKIE_OK, C_TCP_COOKIE_BAD, C_TCP_LISTEN_DROP,
  C_TCP_TABLE_FULL } from '../base/counters';
import { now } from '../base/time';
import { keyedHash } from '../base/random';
import { Tcb, F_NODELAY, F_SACK, F_TS, F_WS, S_ESTABLISHED, S_SYN_RCVD, TCB, connHashIn, hasF, idx, nowMs, sndWs,
  tcb, wantOutput } from './tcb';
import { opt } from './options';
import { armKeepalive } from './timers';
import { rcvSpace } from './rcvbuf';
import { sendReset, sendSegment, sendSyn } from './output';
import { acceptQueue, connAlloc, initConn, negotiate, routeMss, tsOffFor, tupleA, tupleB, wsFor } from './conn';
import { dataInput } from './data';

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

/** A child of listener l for laddr:lport - raddr:rport: the listener's socket options, then a new connection. */
function childInit(l: Tcb, k: Tcb, laddr: u32, lport: u32, raddr: u32, rport: u32): void {
  k.sndbuf = l.sndbuf;
  k.rcvbuf = l.rcvbuf;
  k.cc = l.cc;
  k.flags = l.flags & F_NODELAY;
  k.kaIdle = l.kaIdle; k.kaIntvl = l.kaIntvl; k.kaCnt = l.kaCnt;
  initConn(k, laddr, lport, raddr, rport);
}

export function listenInput(l: Tcb, b: usize, src: u32, sport: u32, dst: u32, dport: u32, seq: u32, ack: u32, flags: u32,
    wnd: u32, dlen: u32): void {
  if (flags & TH_RST) { pktFreeChain(b); return; }
  if (flags & TH_ACK) {
    if (!(flags & TH_SYN)) {
      // Maybe the ACK that completes a SYN-cookie handshake.
      let mi = cookieCheck(ack - 1, dst, dport, src, sport, seq - 1);
      if (mi >= 0 && l.accqLen < l.backlog) {
        let k = connAlloc();
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
  if (l.accqLen >= l.backlog) { count(C_TCP_LISTEN_DROP); return; }
  let k: Tcb | null = null;
  if (l.synq < l.backlog) {
    k = connAlloc();
    if (!k) count(C_TCP_TABLE_FULL);
  }
  if (!k) { synCookieReply(l, src, sport, dst, dport, seq, wnd); return; }
  childInit(l, k, dst, dport, src, sport);
  k.state = S_SYN_RCVD;
  k.irs = seq;
  k.rcvNxt = seq + 1;
  k.sndWl1 = seq;
  k.sndWl2 = k.iss;
  negotiate(k, wnd);    // the window in a SYN is never scaled
  if (!hasF(k, F_WS)) k.wscale = 0;
  connHashIn(k);
  // Into the listener's SYN queue.
  let li = idx(l) + 1;
  k.parent = li;
  let h = l.synqHead;
  k.accNext = h;
  k.accPrev = 0;
  if (h) tcb(h - 1).accPrev = idx(k) + 1;
  l.synqHead = idx(k) + 1;
  l.synq++;
  sendSyn(k);
}

function synCookieReply(l: Tcb, src: u32, sport: u32, dst: u32, dport: u32, seq: u32, wnd: u32): void {
  let pm = routeMss(dst, src);
  let peer = opt.mss ? opt.mss : 536;
  let want = min<u32>(peer, pm);
  let mi: u32 = 0;
  for (let i: u32 = 7; i > 0; i--) if (unchecked(COOKIE_MSS[i]) <= want) { mi = i; break; }
  let c = cookieMake(dst, dport, src, sport, seq, mi);
  count(C_TCP_COOKIE_TX);
  // A stateless SYN-ACK from a scratch TCB that is never linked anywhere.
  let k = changetype<Tcb>(SCRATCH_TCB);
  memory.fill(SCRATCH_TCB, 0, TCB);
  k.laddr = dst; k.lport = dport; k.raddr = src; k.rport = sport;
  k.rcvNxt = seq + 1;
  k.state = S_SYN_RCVD;
  k.rmss = pm;
  k.rcvbuf = l.rcvbuf;
  let ws = wsFor(l.rcvbuf);
  let f: u32 = 0;
  if (opt.ts) {
    // Window scale and SACK live in our timestamp: without one the cookie
    // cannot keep them, so they are not offered (as Linux).
    if (opt.ws >= 0) { f |= F_WS; k.wscale = ws << 8; }
    if (opt.sackOk) f |= F_SACK;
    f |= F_TS;
    k.tsRecent = opt.tsVal;
    // Options the cookie cannot hold ride in the low bits of our timestamp.
    let off = tsOffFor(dst, dport, src, sport);
    let tv = ((nowMs() + off) & ~<u32>63) | (opt.ws >= 0 ? <u32>opt.ws : 15) | (opt.sackOk ? 16 : 0);
    k.tsOff = tv - nowMs();
  }
  k.flags = f;
  sendSegment(k, c, 0, TH_SYN | TH_ACK);
}

const SCRATCH_TCB: usize = memory.data(<i32>TCB, 16);

function cookieChild(l: Tcb, k: Tcb, b: usize, src: u32, sport: u32, dst: u32, dport: u32, seq: u32, ack: u32,
    flags: u32, wnd: u32, dlen: u32, mi: u32): void {
  childInit(l, k, dst, dport, src, sport);
  let iss = ack - 1;
  k.iss = iss;
  k.sndUna = ack; k.sndNxt = ack; k.sndMax = ack;
  k.sndSml = ack;
  k.recover = iss;
  k.highSack = iss;
  k.sbSeq = ack;
  k.irs = seq - 1;
  k.rcvNxt = seq;
  k.rcvAdv = seq;
  k.sndWl1 = seq;
  k.sndWl2 = ack;
  // Recover the options from our echoed timestamp.
  let ws: u32 = 15, sack = false;
  opt.mss = unchecked(COOKIE_MSS[mi]);
  if (opt.ts) { ws = opt.tsEcr & 15; sack = (opt.tsEcr & 16) != 0; }
  opt.ws = ws == 15 ? -1 : <i32>ws;
  opt.sackOk = sack;
  let tsv = opt.tsVal;
  negotiate(k, wnd);
  if (!hasF(k, F_WS)) k.wscale = 0;
  // The cookie SYN-ACK offered an unscaled window, as every SYN-ACK does: data
  // the peer sends with its ACK fits in it.
  k.rcvAdv = seq + min<u32>(rcvSpace(k), 65535);
  if (opt.ts) {
    k.tsRecent = tsv;
    k.tsOff = (opt.tsEcr - (opt.tsEcr & 63)) - nowMs() + 64;
  }
  k.sndWnd = wnd << sndWs(k);
  k.maxSndWnd = k.sndWnd;
  k.state = S_ESTABLISHED;
  connHashIn(k);
  k.parent = idx(l) + 1;
  acceptQueue(l, k);
  armKeepalive(k);
  if (dlen > 0 || (flags & TH_FIN)) dataInput(k, b, seq, dlen, (flags & TH_FIN) != 0);
  else pktFreeChain(b);
  wantOutput(k);
}
