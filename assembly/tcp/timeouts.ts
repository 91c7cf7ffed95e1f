// What each timer does when it fires: retransmission (and SYN
// retransmission), persist, tail-loss probe, delayed ACK, keep-alive,
// FIN-WAIT-2 and TIME-WAIT.
import { TH_FIN, TH_ACK } from '../wire/tcp';
import { count, C_TCP_RETRANS, C_TCP_RTO, C_TCP_ZWP, C_TCP_KA, C_TCP_TIMEOUT, C_TCP_DELACK,
  C_TCP_TLP } from '../base/counters';
import { now, NEVER, ms } from '../base/time';
import { Tcb, ETIMEDOUT, F_ACKNOW, F_ATTACHED, F_DELACK, F_FIN_QUEUED, F_RECOVERY, F_RTO_LOSS, F_RTX_TS, F_TIMING,
  F_TLP_DONE, F_TLP_RXT, RTX_PERSIST, RTX_REO, RTX_RTO, RTX_TLP, S_CLOSED, S_CLOSE_WAIT, S_ESTABLISHED, S_FIN_WAIT_2, S_FREE,
  S_SYN_RCVD, S_SYN_SENT, S_TIME_WAIT, clrF, finSeq, hasF, seqGt, setF, timerPop, timerUpdate, tsNow,
  wantOutput } from './tcb';
import { synRetries } from './config';
import { MAX_RTO_MS, armRtx } from './timers';
import { ccOnLoss } from './cc';
import { enterRecovery, sendRstFor, sendSegment, sendSyn, tcpOutput } from './output';
import { connDrop } from './conn';

const RETRIES2: u32 = 15;
const SYNACK_RETRIES: u32 = 5;

/** Runs every timer that is due; O(expired). */
export function tcpTimers(): void {
  for (;;) {
    let k = timerPop();
    if (!k) break;
    let st = k.state;
    if (st == S_FREE) continue;
    if (k.dackAt <= now) {
      k.dackAt = NEVER;
      if (hasF(k, F_DELACK)) { count(C_TCP_DELACK); setF(k, F_ACKNOW); wantOutput(k); }
    }
    if (k.rtxAt <= now) {
      k.rtxAt = NEVER;
      rtxTimeout(k);
      if (k.state == S_FREE) continue;
    }
    if (k.kaAt <= now) {
      k.kaAt = NEVER;
      kaTimeout(k);
      if (k.state == S_FREE) continue;
    }
    if (k.state != S_FREE && k.state != S_CLOSED) timerUpdate(k);
  }
}

/** The retransmission timer (rtxAt) fired: what it was timing (rtxKind) says what to do. */
function rtxTimeout(k: Tcb): void {
  let st = k.state;
  if (st == S_SYN_SENT || st == S_SYN_RCVD) { synTimeout(k); return; }
  if (st < S_ESTABLISHED || st == S_TIME_WAIT) return;
  let kind = k.rtxKind;
  k.rtxKind = RTX_RTO;
  let una = k.sndUna;
  // A zero window makes any expiry with at most the probe byte out a persist probe.
  if (k.sndWnd == 0 && (kind == RTX_PERSIST || k.sndMax - una <= 1) && seqGt(k.sbSeq + k.sbLen, una)) {
    persistTimeout(k);
    return;
  }
  if (kind == RTX_PERSIST) { swsTimeout(k); return; }
  if (k.sndMax == una) return;
  if (kind == RTX_TLP) { tlpTimeout(k); return; }
  if (kind == RTX_REO) { reoTimeout(k); return; }
  rtoTimeout(k);
}

/** The SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) again, or give up. */
function synTimeout(k: Tcb): void {
  let st = k.state;
  let limit = st == S_SYN_SENT ? synRetries : SYNACK_RETRIES;
  if (k.synTx > limit) {
    count(C_TCP_TIMEOUT);
    let e = k.softErr;
    connDrop(k, e ? e : ETIMEDOUT);
    return;
  }
  k.backoff++;
  count(C_TCP_RTO);
  sendSyn(k);
}

/** Persist (RFC 9293 3.8.6.1): probe the zero window with one byte, backing
 * off but never giving up while the peer answers. The byte goes beyond the
 * window once and is repeated until the window opens. */
function persistTimeout(k: Tcb): void {
  let una = k.sndUna;
  // A peer silent for a whole maximum probe interval after RETRIES2 probes is gone
  // (as Linux's tcp_probe_timer): without this an orphan probed forever.
  if (k.persistShift >= RETRIES2 && now - k.lastRx > ms(<i64>MAX_RTO_MS)) {
    count(C_TCP_TIMEOUT);
    sendRstFor(k);
    connDrop(k, ETIMEDOUT);
    return;
  }
  count(C_TCP_ZWP);
  if (k.sndMax == una) {
    let nxt = k.sndNxt;
    if (sendSegment(k, nxt, 1, TH_ACK) > 0) { k.sndNxt = nxt + 1; k.sndMax = nxt + 1; }
  } else {
    sendSegment(k, una, 1, TH_ACK);
  }
  k.persistShift++;
  let r = <u64>k.rto << min<u32>(k.persistShift, 12);
  if (r > <u64>MAX_RTO_MS) r = MAX_RTO_MS;
  k.rtxKind = RTX_PERSIST;
  k.rtxAt = now + ms(<i64>r);
}

/** The SWS override (RFC 9293 3.8.6.2.1): send what the small window takes. */
function swsTimeout(k: Tcb): void {
  let una = k.sndUna;
  let end = k.sbSeq + k.sbLen;
  let nxt = k.sndNxt;
  let wend = una + k.sndWnd;
  let n: u32 = seqGt(wend, nxt) && seqGt(end, nxt) ? min<u32>(min<u32>(wend - nxt, end - nxt), k.mss) : 0;
  if (n > 0) {
    let sent = sendSegment(k, nxt, n, TH_ACK);
    if (sent > 0) { k.sndNxt = nxt + <u32>sent; if (seqGt(nxt + <u32>sent, k.sndMax)) k.sndMax = nxt + <u32>sent; armRtx(k); }
  }
  wantOutput(k);
}

/** The retransmission timeout (RFC 6298 5.4-5.6). */
function rtoTimeout(k: Tcb): void {
  let una = k.sndUna;
  count(C_TCP_RTO);
  let bo = k.backoff + 1;
  if (bo > RETRIES2) {
    count(C_TCP_TIMEOUT);
    sendRstFor(k);
    let e = k.softErr;
    connDrop(k, e ? e : ETIMEDOUT);
    return;
  }
  k.backoff = bo;
  k.rtxTs = tsNow(k);
  setF(k, F_RTX_TS);
  // RFC 5681 3.1 / RFC 9438 4.8: one segment, and go back to snd_una. A
  // timeout within a recovery episode (a lost retransmission) is the same
  // congestion event: ssthresh was set for it already (as Linux's tcp_enter_loss).
  if (!hasF(k, F_RTO_LOSS | F_RECOVERY)) ccOnLoss(k);
  k.cwnd = k.mss;
  clrF(k, F_RECOVERY | F_TIMING | F_TLP_DONE);
  setF(k, F_RTO_LOSS);
  k.recover = k.sndMax;
  k.dupAcks = 0;
  k.sndNxt = una;
  // The RFC 6298 5.7 estimate stays; backing off is enough.
  armRtx(k);
  wantOutput(k);
}

/** The reordering window ran out (RFC 8985 6.3): the hole below SACKed data
 * is lost; recover, once per window of data (RFC 6582). */
function reoTimeout(k: Tcb): void {
  if (seqGt(k.highSack, k.sndUna) && !hasF(k, F_RECOVERY) && seqGt(k.sndUna, k.recover - 1)) enterRecovery(k);
  else armRtx(k);
}

/** The probe timeout (RFC 8985 7.3). */
/** The path to the peer changed under the connection (a cluster's new routing stack took its VIPA over): the
 * peer's ACKs of late may have been lost on the old one, so the tail-loss probe (RFC 8985 7.3) goes now, not at
 * the timer, and the peer's answer takes the new path at once. */
export function tcpProbe(k: Tcb): void {
  if (k.state >= S_ESTABLISHED && k.state != S_TIME_WAIT && k.sndMax != k.sndUna) tlpTimeout(k);
}

function tlpTimeout(k: Tcb): void {
  let una = k.sndUna;
  let smax = k.sndMax;
  // RACK (RFC 8985 6.2): holes below SACKed data, out for two round trips, are lost.
  if (seqGt(k.highSack, una)) { enterRecovery(k); return; }
  count(C_TCP_TLP);
  setF(k, F_TLP_DONE);
  clrF(k, F_TLP_RXT);
  // New data if the peer's window and the send buffer have it: one segment beyond cwnd.
  let cwnd = k.cwnd;
  k.cwnd = max<u32>(cwnd, smax - una + k.mss);
  tcpOutput(k);
  k.cwnd = cwnd;
  if (k.sndMax == smax) {
    // Else the last segment again.
    let fin = hasF(k, F_FIN_QUEUED) && seqGt(smax, finSeq(k));
    let dEnd = fin ? smax - 1 : smax;
    let len = seqGt(dEnd, una) ? min<u32>(k.mss, dEnd - una) : 0;
    if (sendSegment(k, dEnd - len, len, fin ? TH_ACK | TH_FIN : TH_ACK) >= 0) { count(C_TCP_RETRANS); setF(k, F_TLP_RXT); }
  }
  k.tlpHigh = k.sndMax;
  armRtx(k);
}

function kaTimeout(k: Tcb): void {
  let st = k.state;
  if (st == S_TIME_WAIT || (st == S_FIN_WAIT_2 && !hasF(k, F_ATTACHED))) { connDrop(k, 0); return; }
  if ((st == S_ESTABLISHED || st == S_CLOSE_WAIT) && k.kaIdle) {
    let idle = ms(<i64>k.kaIdle);
    let last = k.lastRx;
    if (now - last < idle) { k.kaAt = last + idle; return; }
    if (k.kaProbes >= k.kaCnt) {
      count(C_TCP_TIMEOUT);
      sendRstFor(k);
      connDrop(k, ETIMEDOUT);
      return;
    }
    count(C_TCP_KA);
    // An old sequence number makes the peer answer with an ACK (RFC 9293 3.8.4).
    sendSegment(k, k.sndUna - 1, 0, TH_ACK);
    k.kaProbes++;
    k.kaAt = now + ms(<i64>k.kaIntvl);
  }
}
