// Segment output: what the windows, Nagle and loss recovery allow, built
// from the send buffer with the checksum fused into the one copy; ACKs, RSTs
// and SYNs; the pending-output list run at the end of each batch.
import { st16, st32, seqLt, seqLe } from '../wire/bytes';
import { sumBytes, copySum, fold, finish, swapSum, pseudoSum } from '../wire/checksum';
import { TCP_SPORT, TCP_DPORT, TCP_SEQ, TCP_ACK, TCP_OFF, TCP_FLAGS, TCP_WIN, TCP_CSUM, TCP_HLEN, TH_SYN, TH_FIN,
  TH_RST, TH_ACK, TH_PSH, TCPOPT_NOP, TCPOPT_MSS, TCPOPT_WSCALE, TCPOPT_SACK_PERMITTED, TCPOPT_SACK,
  TCPOPT_TIMESTAMP } from '../wire/tcp';
import { PROTO_TCP, IP_HLEN, IP_BROADCAST } from '../wire/ipv4';
import { txDescRoom, txGatherAdd, txGatherClear } from '../base/mem';
import { FRAME_CSUM_PARTIAL, FRAME_GSO } from '../base/scb';
import { count, countN, C_TCP_RST_TX, C_TCP_TX, C_TCP_RETRANS, C_TCP_FAST_RETRANS, C_TCP_CHALLENGE_ACK,
  C_TCP_CHALLENGE_LIMITED, C_TCP_TX_BYTES } from '../base/counters';
import { now, NEVER, wakeAt } from '../base/time';
import { ifGsoMax, ifCsumOffload, ifScatterGather, isSubnetBroadcast, routeLookup, Route,
  ROUTE_SLOT } from '../iface/iface';
import { ipBegin, ipRoute, ipSend, L4, DEFAULT_TTL } from '../iface/ip';
import { Tcb, CHUNK_SHIFT, F_ACKNOW, F_DELACK, F_FIN_QUEUED, F_NODELAY, F_RECOVERY, F_RXT_MARK, F_SACK, F_TIMING,
  F_TLP_DONE, F_TS, F_WS, RTX_PERSIST, S_CLOSE_WAIT, S_CLOSING, S_ESTABLISHED, S_FIN_WAIT_1, S_LAST_ACK, S_SYN_RCVD,
  S_SYN_SENT, clrF, hasF, outHead, outRemove, rcvWs, seqGe, seqGt, setF, tcb, timerUpdate, timerWake, tsNow,
  wantOutput } from './tcb';
import { sbAddr, sbContig } from './sndbuf';
import { delack } from './config';
import { armPersist, armPto, armRtx } from './timers';
import { ccOnLoss } from './cc';
import { SBLK, nextSacked, sackBlocks, sackedBelow, skipSacked } from './sack';
import { rcvSpace, rcvWindow } from './rcvbuf';

/** The route of the segment being sent (ipRoute, routeLookup), read until ipSend. */
export const rt = changetype<Route>(memory.data(ROUTE_SLOT));

let txBlocked = false;

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

/** Builds and sends one segment: data [seq, seq+len) from the send buffer,
 * flags, and the options they call for. The payload shrinks to make room
 * for SACK blocks (a FIN then waits for the next segment). Returns the
 * payload bytes sent, or -1 if nothing could go out. */
export function sendSegment(k: Tcb, seq: u32, len: u32, flags: u32): i32 {
  let raddr = k.raddr;
  if (!ipRoute(raddr, rt)) return -1;
  let laddr = k.laddr;
  let syn = (flags & TH_SYN) != 0;
  let f0 = k.flags;
  // Options: SYN: MSS, SACK-permitted + timestamps, window scale (Linux's order).
  let olen: u32 = 0;
  let nsack: u32 = 0;
  if (syn) {
    // A SYN offers every option; a SYN-ACK only those the SYN offered.
    if (k.state == S_SYN_SENT) f0 |= F_SACK | F_TS | F_WS;
    olen = 4 + ((f0 & F_TS) ? 12 : (f0 & F_SACK) ? 4 : 0) + ((f0 & F_WS) ? 4 : 0);
  } else {
    if (f0 & F_TS) olen = 12;
    if ((f0 & F_SACK) && k.oooHead && (flags & TH_ACK)) {
      nsack = sackBlocks(k, (f0 & F_TS) ? 3 : 4);
      if (nsack) olen += 4 + (nsack << 3);
    }
  }
  let hl = TCP_HLEN + olen;
  let gso: u32 = 0;
  if (!syn && len > 0) {
    let room = k.mss + ((f0 & F_TS) ? 12 : 0);
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
  st16(t + TCP_SPORT, k.lport);
  st16(t + TCP_DPORT, k.rport);
  st32(t + TCP_SEQ, seq);
  let rnxt = k.rcvNxt;
  st32(t + TCP_ACK, (flags & TH_ACK) ? rnxt : 0);
  store<u8>(t, <u8>((hl >> 2) << 4), TCP_OFF);
  store<u8>(t, <u8>flags, TCP_FLAGS);
  let wnd: u32;
  if (syn) wnd = min<u32>(rcvSpace(k), 65535);
  else {
    wnd = rcvWindow(k);
    k.rcvAdv = rnxt + wnd;
    wnd >>= rcvWs(k);
    if (wnd > 65535) wnd = 65535;
  }
  if (syn) k.rcvAdv = rnxt + wnd;
  st16(t + TCP_WIN, wnd);
  store<u32>(t + TCP_CSUM, 0);    // checksum and urgent pointer
  let o = t + TCP_HLEN;
  if (syn) {
    store<u8>(o, <u8>TCPOPT_MSS); store<u8>(o, 4, 1); st16(o + 2, k.rmss);
    o += 4;
    // Linux's layout: SACK-permitted shares a word with the timestamps, or
    // has one of its own after two NOPs.
    if (f0 & F_TS) {
      if (f0 & F_SACK) { store<u8>(o, <u8>TCPOPT_SACK_PERMITTED); store<u8>(o, 2, 1); }
      else { store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_NOP, 1); }
      store<u8>(o, <u8>TCPOPT_TIMESTAMP, 2); store<u8>(o, 10, 3);
      st32(o + 4, tsNow(k)); st32(o + 8, k.state == S_SYN_SENT ? 0 : k.tsRecent);
      o += 12;
    } else if (f0 & F_SACK) {
      store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_NOP, 1);
      store<u8>(o, <u8>TCPOPT_SACK_PERMITTED, 2); store<u8>(o, 2, 3);
      o += 4;
    }
    if (f0 & F_WS) {
      store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_WSCALE, 1); store<u8>(o, 3, 2); store<u8>(o, <u8>rcvWs(k), 3);
      o += 4;
    }
  } else {
    if (f0 & F_TS) {
      store<u8>(o, <u8>TCPOPT_NOP); store<u8>(o, <u8>TCPOPT_NOP, 1);
      store<u8>(o, <u8>TCPOPT_TIMESTAMP, 2); store<u8>(o, 10, 3);
      st32(o + 4, tsNow(k)); st32(o + 8, k.tsRecent);
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
    let off = seq - k.sbSeq;
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
    k.lastAckSent = rnxt;
    clrF(k, F_ACKNOW | F_DELACK);
    k.segsUnacked = 0;
    k.dackAt = NEVER;
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

export function sendAck(k: Tcb): void {
  sendSegment(k, k.sndNxt, 0, TH_ACK);
}

let chalGap: i64 = 500_000;
let chalBurst: i64 = 500_000;

/** Challenge ACKs a second on each connection, a second's worth at once. */
export function challengeInit(rate: u32): void {
  chalGap = 1000_000 / <i64>max<u32>(rate, 1);
  chalBurst = 1000_000 - chalGap;
}

/** A challenge ACK (RFC 5961 7), limited per connection as Linux does since
 * CVE-2016-5696: a budget the whole stack shares is a side channel through
 * which an off-path attacker learns whether its guess hit a connection. The
 * bucket is kept as the time it is next full (k.chalAt, GCRA). */
export function challengeAck(k: Tcb): void {
  let at = max<i64>(k.chalAt, now);
  if (at - now > chalBurst) { count(C_TCP_CHALLENGE_LIMITED); return; }
  k.chalAt = at + chalGap;
  count(C_TCP_CHALLENGE_ACK);
  sendAck(k);
}

/** A RST with no connection behind it (RFC 9293 3.10.7.1). */
export function sendReset(src: u32, dst: u32, sport: u32, dport: u32, seq: u32, ack: u32, flags: u32): void {
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

export function sendRstFor(k: Tcb): void {
  sendReset(k.laddr, k.raddr, k.lport, k.rport, k.sndNxt, k.rcvNxt, TH_RST | TH_ACK);
}

export function sendSyn(k: Tcb): void {
  let fl = k.state == S_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK;
  if (sendSegment(k, k.iss, 0, fl) >= 0) {
    k.synTx++;
    if (k.synTx > 1) count(C_TCP_RETRANS);
  }
  k.sndNxt = k.iss + 1;
  k.sndMax = k.iss + 1;
  armRtx(k);
}

/** Sends what the windows, Nagle and loss recovery allow, and the ACK owed. */
/** The most new data one frame may carry towards the peer: one segment, or as
 * many whole ones as the route's link cuts up itself (GSO). */
function segMost(k: Tcb, mss: u32): u32 {
  if (!routeLookup(k.raddr, rt)) return mss;
  let gmax = ifGsoMax(rt.ifx);
  let hl = TCP_HLEN + (hasF(k, F_TS) ? 12 : 0);
  return gmax > IP_HLEN + hl + mss ? (gmax - IP_HLEN - hl) / mss * mss : mss;
}

export function tcpOutput(k: Tcb): void {
  let st = k.state;
  if (st < S_ESTABLISHED) {
    if (st == S_SYN_RCVD && hasF(k, F_ACKNOW)) { clrF(k, F_ACKNOW); sendSyn(k); }
    return;
  }
  let canData = st == S_ESTABLISHED || st == S_CLOSE_WAIT || st == S_FIN_WAIT_1 || st == S_CLOSING || st == S_LAST_ACK;
  if (canData) {
    let mss = k.mss;
    let most = segMost(k, mss);
    let sbSeq = k.sbSeq;
    let end = sbSeq + k.sbLen;
    let fin = hasF(k, F_FIN_QUEUED);
    let sent = 0;
    for (;;) {
      if (sent++ > 100000) break;
      let una = k.sndUna;
      let nxt = k.sndNxt;
      let smax = k.sndMax;
      let cwnd = k.cwnd;
      let swnd = k.sndWnd;
      // 1. Loss recovery: retransmit holes first.
      if (hasF(k, F_RECOVERY)) {
        let sack = hasF(k, F_SACK);
        let hiLost: u32 = seqGt(k.highSack, una) ? k.highSack : una + min<u32>(mss, smax - una);
        let rx = k.rxtNxt;
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
          if (len == 0 && !(fl & TH_FIN)) { k.rxtNxt = hiLost; continue; }
          let sent = sendSegment(k, rx, len, fl);
          if (sent < 0) break;
          if (<u32>sent < len) { len = <u32>sent; fl &= ~TH_FIN; }
          count(C_TCP_RETRANS);
          k.rxtNxt = rx + len + ((fl & TH_FIN) ? 1 : 0);
          k.rxtMark = k.sndMax;
          setF(k, F_RXT_MARK);
          if (seqLt(nxt, rx + len)) k.sndNxt = rx + len;
          continue;
        }
        if (sack && pipe >= cwnd) break;
        if (sack) cwnd = pipe < cwnd ? cwnd - pipe + (nxt - una) : 0;
      }
      // 2. New data (or go-back-N after a timeout).
      if (seqLt(nxt, smax)) {
        let sk = skipSacked(k, nxt);
        if (sk != nxt) { k.sndNxt = sk; continue; }
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
        // Zero window with nothing in flight: probe it.
        if (avail > 0 && swnd == 0 && smax == una && k.rtxKind != RTX_PERSIST) armPersist(k);
        break;
      }
      if (len > 0 && len < mss && !wantFin && seqGe(nxt, smax)) {
        // Nagle (RFC 9293 3.7.4) in Minshall's form, as Linux does: a short
        // segment waits only while another short one is unacknowledged.
        // And sender SWS avoidance: never a short segment the window cut.
        let all = len == avail;
        let smallOut = seqGt(k.sndSml, una);
        let ok = (all && (!smallOut || hasF(k, F_NODELAY))) || len >= (k.maxSndWnd >> 1);
        if (!ok) {
          // SWS override (RFC 9293 3.8.6.2.1): with nothing in flight no ACK comes to retry; a timer sends it.
          if (smax == una && k.rtxKind != RTX_PERSIST) armPersist(k);
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
      k.sndNxt = nn;
      if (len < mss && len > 0 && !rexmit) k.sndSml = nxt + len;
      if (seqGt(nn, smax)) {
        k.sndMax = nn;
        if (!hasF(k, F_TIMING)) { setF(k, F_TIMING); k.rttSeq = nxt; k.rttTime = <u32>now; }
      }
      if (k.rtxAt == NEVER || k.rtxKind == RTX_PERSIST) armRtx(k);
      else if (!rexmit) armPto(k);   // the probe timeout restarts with each new segment, the RTO does not
      if (fl & TH_FIN) break;
    }
  }
  if (hasF(k, F_ACKNOW)) sendAck(k);
  else if (hasF(k, F_DELACK) && k.dackAt == NEVER) {
    k.dackAt = now + delack;
    timerUpdate(k);
  }
}

/** Fast retransmit, then loss recovery (RFC 5681 3.2, RFC 6582, RFC 6675 5). */
export function enterRecovery(k: Tcb): void {
  count(C_TCP_FAST_RETRANS);
  k.recover = k.sndMax;
  ccOnLoss(k);
  let ss = k.ssthresh;
  k.cwnd = hasF(k, F_SACK) ? ss : ss + 3 * k.mss;
  k.rxtNxt = k.sndUna;
  clrF(k, F_RXT_MARK | F_TIMING | F_TLP_DONE);
  setF(k, F_RECOVERY);
  // The timer becomes the RTO (no probes in recovery).
  armRtx(k);
  wantOutput(k);
}
