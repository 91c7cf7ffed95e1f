// Congestion control: slow start and the algorithm a connection uses
// (CUBIC, RFC 9438, or NewReno, RFC 5681 / 6582) behind one interface.
import { now } from '../base/time';
import { Tcb, CC_NEWRENO, flight } from './tcb';
import { initCwndSegs } from './config';

export function ccInit(k: Tcb): void {
  let mss = k.mss;
  k.cwnd = min<u32>(initCwndSegs * mss, max<u32>(2 * mss, 14600));
  k.ssthresh = 0x7fffffff;
  k.cubicWMax = 0;
  k.cubicEpoch = 0;
}

/** On a loss: sets ssthresh (and CUBIC's state). */
export function ccOnLoss(k: Tcb): void {
  let mss = k.mss;
  let cwnd = k.cwnd;
  if (k.cc == CC_NEWRENO) {
    k.ssthresh = max<u32>(flight(k) >> 1, 2 * mss);
  } else {
    let w = <f64>cwnd;
    let wmax = k.cubicWMax;
    // Fast convergence (RFC 9438 4.7).
    k.cubicWMax = w < wmax ? w * (1.0 + 0.7) / 2.0 : w;
    let ss = max<u32>(<u32>(w * 0.7), 2 * mss);
    k.ssthresh = ss;
    k.cubicEpoch = 0;
  }
  k.ackedCa = 0;
}

export function ccOnAck(k: Tcb, acked: u32, wasLimited: bool): void {
  if (!wasLimited) return;   // RFC 7661: grow only while the window is in use
  let mss = k.mss;
  let cwnd = k.cwnd;
  let ss = k.ssthresh;
  if (cwnd < ss) {
    cwnd += min<u32>(acked, 16 * mss);
    k.cwnd = min<u32>(cwnd, 0x3fffffff);
    return;
  }
  if (k.cc == CC_NEWRENO) {
    let a = k.ackedCa + acked;
    if (a >= cwnd) { a -= cwnd; cwnd += mss; }
    k.ackedCa = a;
    k.cwnd = min<u32>(cwnd, 0x3fffffff);
    return;
  }
  // CUBIC (RFC 9438 4.2-4.4), in bytes; C = 0.4 segments/s^3, beta = 0.7.
  let fm = <f64>mss;
  let wc = <f64>cwnd;
  if (k.cubicEpoch == 0) {
    k.cubicEpoch = now;
    let wmax = k.cubicWMax;
    if (wmax <= wc) { k.cubicWMax = wc; k.cubicK = 0; }
    else k.cubicK = Math.cbrt((wmax - wc) / fm / 0.4);
    k.cubicWEst = wc;
  }
  let t = <f64>(now - k.cubicEpoch) / 1e6 + <f64>k.srtt / 1e6;
  let d = t - k.cubicK;
  let target = 0.4 * d * d * d * fm + k.cubicWMax;
  if (target > 1.5 * wc) target = 1.5 * wc;
  let west = k.cubicWEst + fm * (3.0 * 0.3 / 1.7) * <f64>acked / wc;
  k.cubicWEst = west;
  let nw: f64;
  if (target < west) nw = west;
  else if (target > wc) nw = wc + (target - wc) * <f64>acked / wc;
  else nw = wc + fm * <f64>acked / (100.0 * wc);
  let n = <u32>min<f64>(nw, 1073741823.0);
  k.cwnd = max<u32>(n, cwnd);
}
