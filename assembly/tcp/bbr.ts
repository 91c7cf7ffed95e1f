// BBR's model of the path (draft-ietf-ccwg-bbr 4.1): the bottleneck
// bandwidth, the highest delivery rate of the last 10 round trips, and the
// round-trip propagation time, the least RTT of the last 10 s (minRtt,
// timers.ts); the window is twice their product whatever is lost, so random
// loss costs retransmissions, not rate. Startup grows the window by what
// each ACK acknowledges until the rate has not grown by a quarter for three
// rounds. The core paces nothing, so BBR's pacing gains, ProbeBW's cycle
// and ProbeRTT are left out: the window alone bounds the flight, at its
// cwnd gain of 2. Rates are in bytes/ms, measured once a round trip; the
// filters keep their maximum until it is 10 rounds old, then take the
// latest sample.
import { now } from '../base/time';
import { seqLt } from '../wire/bytes';
import { Tcb, CWND_MAX } from './tcb';

const BW_ROUNDS: u32 = 10;
const FULL_ROUNDS: u32 = 3;

export function bbrInit(k: Tcb): void {
  k.bbrBw = 0;
  k.bbrFullBw = 0;
  k.bbrFullCnt = 0;
  k.bbrRoundEnd = k.sndMax;
  k.bbrRoundAt = <u32>now;
  k.bbrDel = k.sndUna;
  k.bbrLastDel = k.sndUna;
  k.bbrAggAt = <u32>now;
  k.bbrAggDel = k.sndUna;
  k.bbrExtra = 0;
}

/** Each ACK: the ACK aggregation it shows, and at the end of a round trip,
 * the round's delivery rate into the bandwidth filter. */
export function bbrOnAck(k: Tcb): void {
  let una = k.sndUna;
  let del = una + k.sacked;
  let t = <u32>now;
  // ACK aggregation (draft-ietf-ccwg-bbr 4.5.5): data acknowledged beyond what
  // the bandwidth explains since the interval began is data the window must
  // hold on top of the BDP, or ACKs that arrive in bursts (a batch read from a
  // link, a receiver's stretch ACKs) would leave the pipe idle in between.
  let expected = <u32>min<u64>(<u64>k.bbrBw * (t - k.bbrAggAt) / 1000, 0xffffffff);
  if (k.bbrLastDel - k.bbrAggDel <= expected) { k.bbrAggAt = t; k.bbrAggDel = k.bbrLastDel; expected = 0; }
  k.bbrLastDel = del;
  let extra = del - k.bbrAggDel;
  extra = extra > expected ? min<u32>(extra - expected, k.cwnd) : 0;
  if (extra >= k.bbrExtra || k.bbrRounds - k.bbrExtraRound > BW_ROUNDS) { k.bbrExtra = extra; k.bbrExtraRound = k.bbrRounds; }
  if (seqLt(una, k.bbrRoundEnd)) return;
  let dt = t - k.bbrRoundAt;
  if (dt) {
    let rate = <u32>(<u64>(del - k.bbrDel) * 1000 / dt);
    let r = ++k.bbrRounds;
    if (rate >= k.bbrBw || r - k.bbrBwRound > BW_ROUNDS) { k.bbrBw = rate; k.bbrBwRound = r; }
    if (k.bbrFullCnt < FULL_ROUNDS) {
      let bw = k.bbrBw;
      if (bw >= k.bbrFullBw + (k.bbrFullBw >> 2)) { k.bbrFullBw = bw; k.bbrFullCnt = 0; }
      else k.bbrFullCnt++;
    }
  }
  k.bbrRoundEnd = k.sndMax;
  k.bbrRoundAt = t;
  k.bbrDel = del;
}

/** The window on an ACK: in Startup it grows by what was acknowledged while
 * in use (RFC 7661); then it is twice the bandwidth-delay product plus the
 * ACK aggregation, at least four segments, reached at that pace from below
 * and at once from above. */
export function bbrOnAckCwnd(k: Tcb, acked: u32, wasLimited: bool): void {
  let c = min<u32>(k.cwnd + acked, CWND_MAX);
  if (k.bbrFullCnt >= FULL_ROUNDS) c = min<u32>(c, max<u32>(<u32>min<u64>((<u64>k.bbrBw * k.minRtt) / 500 + k.bbrExtra, CWND_MAX), 4 * k.mss));
  else if (!wasLimited) return;
  k.cwnd = c;
}
