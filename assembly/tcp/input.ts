// TCP input (RFC 9293 3.10.7): demultiplexing, the synchronized states'
// checks (PAWS, RFC 7323; RFC 5961), ACK processing with loss detection
// (RFC 5681, 6582, 6675, RACK-TLP RFC 8985), and ICMP errors.
import { ld16, ld32, seqLt, seqLe } from '../wire/bytes';
import { fold, pseudoSum } from '../wire/checksum';
import { TCP_SPORT, TCP_DPORT, TCP_SEQ, TCP_ACK, TCP_FLAGS, TCP_WIN, TCP_HLEN, TH_SYN, TH_FIN, TH_RST, TH_ACK,
  tcpHlen } from '../wire/tcp';
import { PROTO_TCP, ipSrc, ipDst, IP_HLEN } from '../wire/ipv4';
import { ICMP_UNREACH, UNREACH_PORT, UNREACH_PROTO, UNREACH_NEEDFRAG } from '../wire/icmp';
import { pktFreeChain, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_IP } from '../base/mem';
import { count, countN, C_TCP_RX, C_TCP_BAD, C_TCP_DUP, C_TCP_PAWS, C_TCP_NO_PORT, C_TCP_RST_RX, C_TCP_BAD_CSUM,
  C_TCP_ACK_UNSENT, C_TCP_CONNECT, C_TCP_RX_BYTES } from '../base/counters';
import { now, NEVER } from '../base/time';
import { pktBroadcast, pktCsumOk, pktSum } from '../iface/ip';
import { routeLookup } from '../iface/iface';
import { neighConfirm, neighDelaying } from '../iface/neigh';
import { Tcb, CC_BBR, ECONNREFUSED, ECONNRESET, EHOSTUNREACH, EV_TCP_CONNECTED, EV_TCP_WRITABLE, F_ACKNOW, F_ACTIVE,
  F_ATTACHED, F_FIN_QUEUED, F_RECOVERY, F_RTO_LOSS, F_RTX_TS, F_RXT_MARK, F_SACK, F_TIMING, F_TLP_DONE, F_TLP_RXT,
  F_TS, F_WR_WANT, F_WS, RTX_PERSIST, RTX_RTO, S_CLOSED, S_CLOSING, S_ESTABLISHED, S_FIN_WAIT_1, S_FIN_WAIT_2,
  S_FREE, S_LAST_ACK, S_SYN_RCVD, S_SYN_SENT, S_TIME_WAIT, clrF, connLookup, finAcked, hasF, listenLookup, notify,
  seqGe, seqGt, setF, sndWs, tcb, timerUpdate, tsNow, wantOutput } from './tcb';
import { sbDrop } from './sndbuf';
import { opt, parseOptions } from './options';
import { finTimeout, msl2 } from './config';
import { armKeepalive, armReo, armRtx, minRttSample, rttSample } from './timers';
import { bbrOnAck } from './bbr';
import { ccOnAck, ccOnLoss } from './cc';
import { sackUpdate, sackedBelow, skipSacked } from './sack';
import { rcvSpace } from './rcvbuf';
import { challengeAck, enterRecovery, rt, sendAck, sendReset, sendRstFor, sendSyn } from './output';
import { acceptQueue, childUnlink, connDrop, enterTimeWait, negotiate } from './conn';
import { dataInput } from './data';
import { listenInput } from './listen';

const TS_24DAYS: i64 = 24 * 86400 * 1000_000;

/** TCP input; owns b. */
export function tcpInput(b: usize): void {
  count(C_TCP_RX);
  let ip = <usize>load<u32>(b, PKT_IP);
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
  if (k && k.state == S_TIME_WAIT && (flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
    // A new incarnation may reuse a TIME-WAIT tuple if it is clearly newer (RFC 6191).
    // The tuple lives on, so no end goes to the cluster: on a VIPA, the
    // routing stack's CRT entry now serves the new incarnation.
    if (seqGt(seq, k.rcvNxt) || (hasF(k, F_TS) && opt.ts && seqGt(opt.tsVal, k.tsRecent))) {
      connDrop(k, 0, false);
      k = null;
    }
  }
  // SYN with FIN or RST makes no sense before a connection is synchronized:
  // neither a listener nor SYN-SENT answers it (as Linux).
  let badSyn = (flags & TH_SYN) != 0 && (flags & (TH_FIN | TH_RST)) != 0;
  if (!k) {
    let l = listenLookup(dst, dport);
    if (l) {
      if (badSyn) { count(C_TCP_BAD); pktFreeChain(b); return; }
      listenInput(l, b, src, sport, dst, dport, seq, ack, flags, wnd, dlen);
      return;
    }
    count(C_TCP_NO_PORT);
    if (!(flags & TH_RST)) {
      if (flags & TH_ACK) sendReset(dst, src, dport, sport, ack, 0, TH_RST);
      else sendReset(dst, src, dport, sport, 0, seq + dlen + ((flags & TH_SYN) ? 1 : 0) + ((flags & TH_FIN) ? 1 : 0), TH_RST | TH_ACK);
    }
    pktFreeChain(b);
    return;
  }
  k.lastRx = now;
  k.kaProbes = 0;
  if (k.state == S_SYN_SENT) {
    if (badSyn) { count(C_TCP_BAD); pktFreeChain(b); return; }
    synSentInput(k, b, seq, ack, flags, wnd, dlen);
    return;
  }
  segInput(k, b, seq, ack, flags, wnd, dlen);
}

function synSentInput(k: Tcb, b: usize, seq: u32, ack: u32, flags: u32, wnd: u32, dlen: u32): void {
  let iss = k.iss;
  if (flags & TH_ACK) {
    if (seqLe(ack, iss) || seqGt(ack, k.sndMax)) {
      if (!(flags & TH_RST)) sendReset(k.laddr, k.raddr, k.lport, k.rport, ack, 0, TH_RST);
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
  k.irs = seq;
  k.rcvNxt = seq + 1;
  // The right edge our SYN offered, now that it has a base (it was sent before rcv.nxt was known).
  k.rcvAdv = seq + 1 + min<u32>(rcvSpace(k), 65535);
  k.sndWl1 = seq;
  k.sndWl2 = ack;
  negotiate(k, wnd);
  if (!hasF(k, F_WS)) k.wscale = 0;
  if (flags & TH_ACK) {
    k.sndUna = ack;
    k.state = S_ESTABLISHED;
    count(C_TCP_CONNECT);
    // Karn: only a SYN sent once gives an RTT sample.
    if (k.synTx == 1) {
      let us = <u32>now - k.rttTime;
      minRttSample(k, us);
      rttSample(k, opt.ts && opt.tsEcr ? tsNow(k) - opt.tsEcr : us / 1000);
    }
    k.backoff = 0;
    k.rtxAt = NEVER;
    notify(k, EV_TCP_CONNECTED, 0);
    armKeepalive(k);
    if (hasF(k, F_FIN_QUEUED)) k.state = S_FIN_WAIT_1;
    setF(k, F_ACKNOW);
    if (dlen > 0 || (flags & TH_FIN)) dataInput(k, b, seq + 1, dlen, (flags & TH_FIN) != 0);
    else pktFreeChain(b);
    wantOutput(k);
    return;
  }
  // Simultaneous open (RFC 9293 3.5, figure 8).
  pktFreeChain(b);
  k.state = S_SYN_RCVD;
  k.synTx = 0;
  sendSyn(k);
}

/** Segment arrival in a synchronized state or SYN-RECEIVED (RFC 9293 3.10.7.4). */
function segInput(k: Tcb, b: usize, seq: u32, ack: u32, flags: u32, wnd: u32, dlen: u32): void {
  let st = k.state;
  let rnxt = k.rcvNxt;
  // SYN-RECEIVED: the peer repeating its SYN lost our SYN-ACK; say it again.
  if (st == S_SYN_RCVD && (flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN && seq == k.irs) {
    pktFreeChain(b);
    sendSyn(k);
    return;
  }
  // PAWS (RFC 7323 5.3).
  if (opt.ts && hasF(k, F_TS) && !(flags & TH_RST) && seqLt(opt.tsVal, k.tsRecent) &&
      now - k.tsAge < TS_24DAYS) {
    count(C_TCP_PAWS);
    pktFreeChain(b);
    sendAck(k);
    return;
  }
  // Acceptability (RFC 9293 3.10.7.4, first).
  let adv = k.rcvAdv;
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
    seqLe(seq + slen, rnxt) && seqGe(seq, rnxt - k.rcvbuf);
  if (!ok) {
    count(C_TCP_DUP);
    if (!old) {
      pktFreeChain(b);
      if (!(flags & TH_RST)) {
        if (st == S_TIME_WAIT && (flags & TH_FIN)) { k.kaAt = now + msl2; timerUpdate(k); }
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
  if (opt.ts && hasF(k, F_TS) && seqGe(opt.tsVal, k.tsRecent) && seqLe(seq, k.lastAckSent)) {
    k.tsRecent = opt.tsVal;
    k.tsAge = now;
  }
  // ACK.
  let una = k.sndUna;
  let smax = k.sndMax;
  if (st == S_SYN_RCVD) {
    if (seqLe(ack, una) || seqGt(ack, smax)) {
      pktFreeChain(b);
      sendReset(k.laddr, k.raddr, k.lport, k.rport, ack, 0, TH_RST);
      return;
    }
    establish(k, wnd, seq, ack);
    st = k.state;
  }
  if (seqGt(ack, smax)) {
    count(C_TCP_ACK_UNSENT);
    pktFreeChain(b);
    sendAck(k);
    return;
  }
  if (seqLt(ack, una - k.maxSndWnd)) {
    pktFreeChain(b);
    challengeAck(k);
    return;
  }
  ackInput(k, seq, ack, wnd, dlen, flags);
  st = k.state;
  if (st == S_FREE || st == S_CLOSED) { pktFreeChain(b); return; }
  if (st == S_FIN_WAIT_1 && finAcked(k)) {
    k.state = S_FIN_WAIT_2;
    st = S_FIN_WAIT_2;
    if (!hasF(k, F_ATTACHED)) { k.kaAt = now + finTimeout; timerUpdate(k); }
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
    if (flags & TH_FIN) { k.kaAt = now + msl2; timerUpdate(k); sendAck(k); }
    return;
  }
  // Text and FIN.
  if (old) pktFreeChain(b);
  else if (st == S_ESTABLISHED || st == S_FIN_WAIT_1 || st == S_FIN_WAIT_2) {
    if (dlen > 0 && !hasF(k, F_ATTACHED) && !k.parent) {
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

function establish(k: Tcb, wnd: u32, seq: u32, ack: u32): void {
  k.state = S_ESTABLISHED;
  k.sndWnd = wnd << sndWs(k);
  k.maxSndWnd = k.sndWnd;
  k.sndWl1 = seq;
  k.sndWl2 = ack;
  if (k.synTx == 1) {
    if (opt.ts && hasF(k, F_TS) && opt.tsEcr) rttSample(k, tsNow(k) - opt.tsEcr);
  }
  k.backoff = 0;
  armKeepalive(k);
  let p = k.parent;
  if (p) {
    let l = tcb(p - 1);
    childUnlink(k);
    k.parent = p;
    acceptQueue(l, k);
  } else {
    if (hasF(k, F_ACTIVE)) { count(C_TCP_CONNECT); notify(k, EV_TCP_CONNECTED, 0); }
    if (hasF(k, F_FIN_QUEUED)) k.state = S_FIN_WAIT_1;
  }
}

function ackInput(k: Tcb, seq: u32, ack: u32, wnd: u32, dlen: u32, flags: u32): void {
  let una = k.sndUna;
  let smax = k.sndMax;
  let swin = wnd << sndWs(k);
  let mss = k.mss;
  // SACKed bytes below the retransmission cursor, to see retransmissions arrive.
  let rxtSacked = sackedBelow(k, k.rxtNxt);
  if (opt.nsack && hasF(k, F_SACK)) sackUpdate(k);
  // Window update (RFC 9293 3.10.7.4, fifth check).
  let wndChanged = false;
  if (seqLt(k.sndWl1, seq) || (k.sndWl1 == seq && seqLe(k.sndWl2, ack))) {
    wndChanged = swin != k.sndWnd;
    let opened = k.sndWnd == 0 && swin > 0;
    k.sndWnd = swin;
    k.sndWl1 = seq;
    k.sndWl2 = ack;
    if (swin > k.maxSndWnd) k.maxSndWnd = swin;
    if (opened && k.rtxKind == RTX_PERSIST) {
      k.rtxKind = RTX_RTO;
      k.persistShift = 0;
      if (k.sndMax == k.sndUna) k.rtxAt = NEVER;
      else {
        // The probe byte was refused: it goes again, with what follows.
        if (k.sndMax - k.sndUna == 1) k.sndNxt = k.sndUna;
        armRtx(k);
      }
      wantOutput(k);
    }
  }
  if (seqGt(ack, una)) {
    // New data acknowledged: the next hop is reachable (Linux's dst_confirm),
    // which spares it the probe of a neighbour in DELAY.
    if (neighDelaying && routeLookup(k.raddr, rt) && !rt.local) neighConfirm(rt.nexthop);
    let acked = ack - una;
    let wasLimited = (smax - una) + mss >= k.cwnd || hasF(k, F_RECOVERY);
    // RTT (RFC 7323 4.1 with timestamps; else Karn's timed segment). An echo
    // older than our last timeout retransmission is no sample: the peer echoes
    // TS.Recent on a duplicate, so when its ACKs were lost, the first that gets
    // through after the timeout carries the time of a segment sent long before
    // and would inflate the RTO by the whole backoff (seed 996532317: 116 s).
    // The timed segment also gives the µs sample minRtt needs (timestamps tick in ms).
    let ts = opt.ts && hasF(k, F_TS) && opt.tsEcr;
    if (ts && (!hasF(k, F_RTX_TS) || seqGe(opt.tsEcr, k.rtxTs))) rttSample(k, tsNow(k) - opt.tsEcr);
    if (hasF(k, F_TIMING) && seqGt(ack, k.rttSeq)) {
      clrF(k, F_TIMING);
      let us = <u32>now - k.rttTime;
      minRttSample(k, us);
      if (!ts) rttSample(k, us / 1000);
    }
    k.backoff = 0;
    // Free what the peer now holds.
    let sbSeq = k.sbSeq;
    let dataEnd = sbSeq + k.sbLen;
    let upto = seqGt(ack, dataEnd) ? dataEnd : ack;
    if (seqGt(upto, sbSeq)) sbDrop(k, upto - sbSeq);
    k.sndUna = ack;
    if (seqLt(k.sndNxt, ack)) k.sndNxt = ack;
    // The timeout's episode ends with what was out when it fired (RFC 6582 recover);
    // losses among data sent since are recovered from as any other.
    if (seqGe(ack, k.recover)) clrF(k, F_RTO_LOSS);
    if (hasF(k, F_SACK)) sackUpdate(k);
    if (k.cc == CC_BBR) bbrOnAck(k);
    lostRetransmit(k, false);
    // Loss recovery (RFC 6582 / RFC 6675).
    if (hasF(k, F_RECOVERY)) {
      if (seqGe(ack, k.recover)) {
        clrF(k, F_RECOVERY);
        let ss = k.ssthresh;
        k.cwnd = hasF(k, F_SACK) ? ss : min<u32>(ss, max<u32>(smax - ack, 0) + mss);
        k.dupAcks = 0;
      } else if (!hasF(k, F_SACK)) {
        // Partial ACK: retransmit the next hole; deflate by what was acked.
        k.rxtNxt = ack;
        let c = k.cwnd;
        c = c > acked ? c - acked : mss;
        if (acked >= mss) c += mss;
        k.cwnd = c;
      }
    } else {
      k.dupAcks = 0;
      ccOnAck(k, acked, wasLimited);
    }
    // The timer (RFC 6298 5.2, 5.3).
    if (ack == smax) { if (k.rtxKind != RTX_PERSIST) { k.rtxAt = NEVER; k.rtxKind = RTX_RTO; } }
    else armRtx(k);
    // Space for the host.
    if (hasF(k, F_WR_WANT) && k.sndbuf - k.sbLen >= (k.sndbuf >> 2)) {
      clrF(k, F_WR_WANT);
      notify(k, EV_TCP_WRITABLE, 0);
    }
    wantOutput(k);
  } else if (ack == una && smax != una) {
    // What the peer SACKs tells of lost retransmissions whatever else the ACK
    // carries: a receiver whose window grows changes it in every ACK.
    lostRetransmit(k, sackedBelow(k, k.rxtNxt) > rxtSacked);
    if (dlen == 0 && !(flags & TH_FIN) && !wndChanged && swin != 0) {
      // A duplicate ACK (RFC 5681 2).
      k.dupAcks++;
      if (hasF(k, F_RECOVERY)) {
        if (!hasF(k, F_SACK)) k.cwnd += mss;
        wantOutput(k);
      }
    }
  }
  let lost = false;
  if (hasF(k, F_TLP_DONE)) {
    // RACK (RFC 8985 6.2): the probe, sent two round trips after the tail, got there first.
    if (seqGe(k.highSack, k.tlpHigh) && seqLt(ack, k.tlpHigh)) lost = true;
    else if (seqGe(ack, k.tlpHigh)) tlpEnd(k, ack == una && !opt.nsack && dlen == 0 && !wndChanged);
  }
  // After a timeout, data sent beyond its recover point left after every hole
  // below it was sent again: SACKed, it says those holes were lost again (RACK,
  // RFC 8985 6.2, in the timeout's recovery), which would otherwise wait for
  // another, backed-off, timeout.
  if (hasF(k, F_RTO_LOSS) && hasF(k, F_SACK) && seqGt(k.highSack, k.recover) && seqGt(k.sndNxt, k.sndUna) &&
      skipSacked(k, k.sndUna) == k.sndUna) {
    clrF(k, F_RTO_LOSS);
    enterRecovery(k);
  }
  if (!hasF(k, F_RECOVERY) && !hasF(k, F_RTO_LOSS) && k.sndMax != k.sndUna) {
    if (k.dupAcks >= 3 || (hasF(k, F_SACK) && k.sacked > 2 * mss)) lost = true;
    if (seqGt(k.sndUna, k.recover - 1)) {
      if (lost) enterRecovery(k);
      else if (hasF(k, F_SACK)) armReo(k);
    }
  }
}

/** The ACK for everything sent up to the probe ends its episode (RFC 8985
 * 7.4, as Linux's tcp_process_tlp_ack): a probe that resent the last segment
 * repaired a loss, which calls for a congestion response, unless the peer
 * reports a duplicate (a D-SACK, or a pure duplicate ACK for exactly that
 * much). With neither, wait for an ACK beyond it. */
function tlpEnd(k: Tcb, pureDup: bool): void {
  let ack = k.sndUna;
  let dsack = opt.nsack != 0 && seqLe(opt.sackEnd(0), ack);
  if (hasF(k, F_TLP_RXT) && !dsack && !pureDup) {
    if (ack == k.tlpHigh) return;
    ccOnLoss(k);
    k.cwnd = min<u32>(k.cwnd, k.ssthresh);
  }
  clrF(k, F_TLP_DONE);
}

/** Lost retransmissions (RACK, RFC 8985 6.2, with no per-segment record; no
 * reordering window in recovery): in SACK recovery the holes below the
 * cursor rxtNxt were resent in sequence order, the latest when snd_max
 * was rxtMark. Once the peer SACKs data sent after that, or a duplicate
 * ACK SACKs a hole resent after the one at snd_una (rxtSacked), the holes
 * still open below were lost again. Walk them once more instead of waiting
 * for the timeout. */
function lostRetransmit(k: Tcb, rxtSacked: bool): void {
  if (!hasF(k, F_RECOVERY) || !hasF(k, F_SACK) || !hasF(k, F_RXT_MARK)) return;
  let una = k.sndUna;
  if (!seqGt(k.rxtNxt, una) || skipSacked(k, una) != una) return;
  if (!rxtSacked && !seqGt(k.highSack, k.rxtMark)) return;
  clrF(k, F_RXT_MARK);
  k.rxtNxt = una;
  wantOutput(k);
}

/** An ICMP error about a segment we sent (RFC 5927, RFC 1122 4.2.3.9); what
 * 0: the neighbour layer gave up resolving its next hop. */
export function tcpIcmpError(ip: usize, th: usize, what: u32): void {
  let k = connLookup(ipSrc(ip), ld16(th), ipDst(ip), ld16(th + 2));
  if (!k) return;
  let seq = ld32(th + 4);
  let st = k.state;
  if (st == S_SYN_SENT) { if (seq != k.iss) return; }
  else if (seqLt(seq, k.sndUna) || seqGe(seq, k.sndMax)) return;
  // ARP failure is our own finding, not a router's report that may pass:
  // a connect fails at once, as on Linux; later it is a soft error as below.
  if (what == 0 && st == S_SYN_SENT) { connDrop(k, EHOSTUNREACH); return; }
  let type = what >> 8, code = what & 255;
  if (type == ICMP_UNREACH && code == UNREACH_NEEDFRAG) {
    // Path MTU (RFC 1191): the next-hop MTU is in the ICMP header just before the quote.
    let mtu = ld16(ip - 2);
    if (mtu >= 576 && mtu - IP_HLEN - TCP_HLEN < k.pmtuMss) {
      k.pmtuMss = mtu - IP_HLEN - TCP_HLEN;
      let m = mtu - IP_HLEN - TCP_HLEN - (hasF(k, F_TS) ? 12 : 0);
      if (m < k.mss) { k.mss = m; k.sndNxt = k.sndUna; wantOutput(k); }
    }
    return;
  }
  if (st == S_SYN_SENT && type == ICMP_UNREACH && (code == UNREACH_PORT || code == UNREACH_PROTO)) {
    connDrop(k, ECONNREFUSED);
    return;
  }
  k.softErr = EHOSTUNREACH;   // soft: reported if the connection times out
}
