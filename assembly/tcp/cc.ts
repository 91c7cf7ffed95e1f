// Congestion control: the initial window and slow start, common to all, and
// the algorithm a connection uses (k.cc) behind one small interface:
//   xxxInit(k)                  its state at the start of a connection
//   xxxOnLoss(k)                a loss: set ssthresh (RFC 5681 3.1 / 3.2)
//   xxxCongAvoid(k, acked)      an ACK above ssthresh: grow cwnd
// CUBIC (RFC 9438) in cubic.ts, NewReno (RFC 5681, 6582) in newreno.ts.
// BBR (bbr.ts) keeps no ssthresh: its window comes from its model of the
// path, which input.ts feeds each ACK (bbrOnAck), and no loss reduces it.
import { Tcb, CC_BBR, CC_NEWRENO, CWND_MAX } from './tcb';
import { initCwndSegs } from './config';
import { cubicCongAvoid, cubicInit, cubicOnLoss } from './cubic';
import { renoCongAvoid, renoInit, renoOnLoss } from './newreno';
import { bbrInit, bbrOnAckCwnd } from './bbr';

export function ccInit(k: Tcb): void {
  let mss = k.mss;
  k.cwnd = min<u32>(initCwndSegs * mss, max<u32>(2 * mss, 14600));
  k.ssthresh = 0x7fffffff;
  // All start clear: the host may switch algorithms (OPT_CC) at any time.
  cubicInit(k);
  renoInit(k);
  bbrInit(k);
}

/** On a loss: sets ssthresh (and the algorithm's state). */
export function ccOnLoss(k: Tcb): void {
  // BBR: recovery goes on at the window it had (recovery sets cwnd to ssthresh).
  if (k.cc == CC_BBR) k.ssthresh = k.cwnd;
  else if (k.cc == CC_NEWRENO) renoOnLoss(k);
  else cubicOnLoss(k);
}

export function ccOnAck(k: Tcb, acked: u32, wasLimited: bool): void {
  if (k.cc == CC_BBR) { bbrOnAckCwnd(k, acked, wasLimited); return; }
  if (!wasLimited) return;   // RFC 7661: grow only while the window is in use
  let cwnd = k.cwnd;
  if (cwnd < k.ssthresh) {
    cwnd += min<u32>(acked, 16 * k.mss);
    k.cwnd = min<u32>(cwnd, CWND_MAX);
    return;
  }
  if (k.cc == CC_NEWRENO) renoCongAvoid(k, acked);
  else cubicCongAvoid(k, acked);
}
