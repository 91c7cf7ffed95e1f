// CUBIC (RFC 9438), in bytes: C = 0.4 segments/s^3, beta = 0.7. Its state is
// the TCB's cubic* fields; cc.ts calls it.
import { now } from '../base/time';
import { Tcb } from './tcb';

const C: f64 = 0.4;
const BETA: f64 = 0.7;

export function cubicInit(k: Tcb): void {
  k.cubicWMax = 0;
  k.cubicEpoch = 0;
}

export function cubicOnLoss(k: Tcb): void {
  let w = <f64>k.cwnd;
  let wmax = k.cubicWMax;
  // Fast convergence (RFC 9438 4.7).
  k.cubicWMax = w < wmax ? w * (1.0 + BETA) / 2.0 : w;
  k.ssthresh = max<u32>(<u32>(w * BETA), 2 * k.mss);
  k.cubicEpoch = 0;
  k.ackedCa = 0;
}

/** Congestion avoidance (RFC 9438 4.2-4.4). */
export function cubicCongAvoid(k: Tcb, acked: u32): void {
  let cwnd = k.cwnd;
  let fm = <f64>k.mss;
  let wc = <f64>cwnd;
  if (k.cubicEpoch == 0) {
    k.cubicEpoch = now;
    let wmax = k.cubicWMax;
    if (wmax <= wc) { k.cubicWMax = wc; k.cubicK = 0; }
    else k.cubicK = cbrt((wmax - wc) / fm / C);
    k.cubicWEst = wc;
  }
  let t = <f64>(now - k.cubicEpoch) / 1e6 + <f64>k.srtt / 1e6;
  let d = t - k.cubicK;
  let target = C * d * d * d * fm + k.cubicWMax;
  if (target > 1.5 * wc) target = 1.5 * wc;
  // The Reno-friendly estimate (RFC 9438 4.3): alpha = 3 (1 - beta) / (1 + beta),
  // written out (1.0 - BETA is not exactly 0.3 in binary).
  let west = k.cubicWEst + fm * (3.0 * 0.3 / 1.7) * <f64>acked / wc;
  k.cubicWEst = west;
  let nw: f64;
  if (target < west) nw = west;
  else if (target > wc) nw = wc + (target - wc) * <f64>acked / wc;
  else nw = wc + fm * <f64>acked / (100.0 * wc);
  let n = <u32>min<f64>(nw, 1073741823.0);
  k.cwnd = max<u32>(n, cwnd);
}

/** The cube root of x > 0, to about 1e-10: a first guess from the exponent's
 * bits divided by three, then Newton's steps (each squares the error). K
 * needs nothing finer, and Math.cbrt costs 266 bytes of the core. */
function cbrt(x: f64): f64 {
  let y = reinterpret<f64>(reinterpret<u64>(x) / 3 + 0x2a9f7893782da1ce);
  for (let i = 0; i < 4; i++) y -= (y * y * y - x) / (3 * y * y);
  return y;
}
