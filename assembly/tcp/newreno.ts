// NewReno's window (RFC 5681 3.1, RFC 6582): half the flight on a loss, one
// segment a round trip above ssthresh. Recovery itself is in input/output.
import { Tcb, CWND_MAX, flight } from './tcb';

export function renoInit(k: Tcb): void {
  k.ackedCa = 0;
}

export function renoOnLoss(k: Tcb): void {
  k.ssthresh = max<u32>(flight(k) >> 1, 2 * k.mss);
  k.ackedCa = 0;
}

/** Congestion avoidance: cwnd grows by one MSS for each cwnd of bytes acknowledged. */
export function renoCongAvoid(k: Tcb, acked: u32): void {
  let cwnd = k.cwnd;
  let a = k.ackedCa + acked;
  if (a >= cwnd) { a -= cwnd; cwnd += k.mss; }
  k.ackedCa = a;
  k.cwnd = min<u32>(cwnd, CWND_MAX);
}
