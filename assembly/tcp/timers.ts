// Timers of a connection and the RTO they run on (RFC 6298): arming the
// retransmission, tail-loss probe (RFC 8985 7.2), RACK reordering window
// (RFC 8985 6.3) and keep-alive deadlines.
// Each TCB sits in the timer heap (tcb.ts) once, under its earliest deadline.
import { now, ms } from '../base/time';
import { Tcb, F_RECOVERY, F_RTO_LOSS, F_SACK, F_TLP_DONE, RTX_PERSIST, RTX_REO, RTX_RTO, RTX_TLP, S_ESTABLISHED, flight,
  hasF, nowMs, seqGt, timerUpdate } from './tcb';
import { minRto } from './config';

export const MAX_RTO_MS: u32 = 120_000;
const TLP_MIN: i64 = 2000;       // µs added to the probe timeout: ACK processing and an RTT measured in whole ms
const WC_DELACK: i64 = 200_000;  // µs: a peer's worst-case delayed ACK (RFC 8985 7.2 WCDelAckT)
const REO_MIN: i64 = 100;        // µs: the least reordering window

export function rttSample(k: Tcb, rttMs: u32): void {
  let r = rttMs * 1000;
  let srtt = k.srtt;
  if (srtt == 0) {
    srtt = max<u32>(r, 1);
    k.rttvar = r >> 1;
  } else {
    let v = k.rttvar;
    let d = srtt > r ? srtt - r : r - srtt;
    k.rttvar = v - (v >> 2) + (d >> 2);
    srtt = max<u32>(srtt - (srtt >> 3) + (r >> 3), 1);
  }
  k.srtt = srtt;
  let rto = (srtt + max<u32>(1000, 4 * k.rttvar)) / 1000;
  k.rto = min<u32>(max<u32>(rto, minRto), MAX_RTO_MS);
}

/** The least RTT of the last 10 s, in µs: BBR's round-trip propagation time. */
export function minRttSample(k: Tcb, us: u32): void {
  let t = nowMs();
  if (k.minRtt == 0 || us < k.minRtt || t - k.minRttAt > 10_000) {
    k.minRtt = max<u32>(us, 1);
    k.minRttAt = t;
  }
}

export function rtoNow(k: Tcb): i64 {
  let r = <u64>k.rto << min<u32>(k.backoff, 12);
  if (r > <u64>MAX_RTO_MS) r = MAX_RTO_MS;
  return now + ms(<i64>r);
}

/** Arms the retransmission timeout, and the probe timeout ahead of it. */
export function armRtx(k: Tcb): void {
  k.rtxKind = RTX_RTO;
  k.rtxAt = rtoNow(k);
  timerUpdate(k);
  armPto(k);
}

/** (Re)starts the tail-loss probe timeout (RFC 8985 7.2) ahead of the RTO
 * while no recovery is under way: a lost tail brings no duplicate ACKs to
 * start one. Two round trips, as Linux: plus the peer's delayed ACK when one
 * segment is out, else TLP_MIN. A probe no sooner than the RTO would be none. */
export function armPto(k: Tcb): void {
  let srtt = <i64>k.srtt;
  let f = flight(k);
  if (srtt == 0 || f == 0 || !hasF(k, F_SACK) || hasF(k, F_RECOVERY | F_RTO_LOSS | F_TLP_DONE) || k.rtxKind == RTX_PERSIST ||
      k.rtxKind == RTX_REO || k.backoff != 0 || k.state < S_ESTABLISHED) return;
  let t = now + 2 * srtt + (f <= k.mss ? WC_DELACK : TLP_MIN);
  let rto = k.rtxKind == RTX_TLP ? rtoNow(k) : k.rtxAt;
  if (t < rto) k.rtxKind = RTX_TLP;
  else { t = rto; k.rtxKind = RTX_RTO; }
  k.rtxAt = t;
  timerUpdate(k);
}

/** RACK (RFC 8985 6.2, 6.3) with no per-segment record: data SACKed above
 * snd_una was sent after the hole there and has arrived, so the hole's
 * round trip is over; it is lost unless it arrives within the reordering
 * window, a quarter of the SRTT (Linux: min_rtt / 4). Without this a hole
 * waited for DupThresh SACKed segments, which a small window never has,
 * or for the probe timeout. */
export function armReo(k: Tcb): void {
  if (k.rtxKind == RTX_PERSIST || !seqGt(k.highSack, k.sndUna)) return;
  let t = now + max<i64>(<i64>(k.srtt >> 2), REO_MIN);
  if (t >= k.rtxAt) return;
  k.rtxKind = RTX_REO;
  k.rtxAt = t;
  timerUpdate(k);
}

/** With nothing in flight and data the window or the SWS rule holds back,
 * no ACK comes to send it: the persist timer probes or sends it. */
export function armPersist(k: Tcb): void {
  k.rtxKind = RTX_PERSIST;
  k.persistShift = 0;
  k.rtxAt = rtoNow(k);
  timerUpdate(k);
}

export function armKeepalive(k: Tcb): void {
  if (!k.kaIdle) return;
  k.kaAt = k.lastRx + ms(<i64>k.kaIdle);
  timerUpdate(k);
}
