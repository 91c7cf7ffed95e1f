// Segment text and FIN (RFC 9293 3.10.7.4, seventh and eighth): in-order
// data into the receive queue, the rest into the out-of-order queue.
import { seqLt } from '../wire/bytes';
import { pktFreeChain, nbufs, PKT_TOTAL, PKT_QNEXT, PKT_TCP_SEQ, PKT_TCP_FIN } from '../base/mem';
import { SCB_FREE_COUNT, scbGet } from '../base/scb';
import { count, C_TCP_OOO_DROP, C_TCP_DUP, C_TCP_WND_DROP } from '../base/counters';
import { pktTrim } from '../iface/ip';
import { Tcb, EV_TCP_FIN, EV_TCP_READABLE, F_ACKNOW, F_DELACK, F_FIN_RCVD, F_RD_EV, F_SACK, S_CLOSE_WAIT, S_CLOSING,
  S_ESTABLISHED, S_FIN_WAIT_1, S_FIN_WAIT_2, S_SYN_RCVD, finAcked, hasF, notify, seqGt, setF } from './tcb';
import { oooMax } from './config';
import { chainBufs, oooInsert, queueFree, rqAppend, trimFront } from './rcvbuf';
import { sendAck } from './output';
import { enterTimeWait } from './conn';

/** Queues the segment's text (b, already past the header) and handles FIN. */
export function dataInput(k: Tcb, b: usize, seq: u32, dlen: u32, fin: bool): void {
  let rnxt = k.rcvNxt;
  // Trim what we already have.
  if (seqLt(seq, rnxt)) {
    let d = rnxt - seq;
    if (d >= dlen) {
      if (d > dlen) fin = false;
      if (dlen) { pktFreeChain(b); b = 0; }
      dlen = 0;
    } else {
      b = trimFront(b, d);
      dlen -= d;
    }
    seq = rnxt;
    setF(k, F_ACKNOW);
    count(C_TCP_DUP);
  }
  // And what lies beyond the window.
  let adv = k.rcvAdv;
  let rightEdge = seqGt(adv, rnxt) ? adv : rnxt;
  if (dlen > 0 && seqGt(seq + dlen, rightEdge)) {
    let keep: u32 = seqGt(rightEdge, seq) ? rightEdge - seq : 0;
    count(C_TCP_WND_DROP);
    if (keep == 0) { pktFreeChain(b); b = 0; dlen = 0; }
    else { pktTrim(b, keep); dlen = keep; }
    fin = false;
    setF(k, F_ACKNOW);
  }
  if (dlen == 0 && b) { pktFreeChain(b); b = 0; }
  if (hasF(k, F_FIN_RCVD)) { if (b) pktFreeChain(b); return; }
  if (seq == rnxt) {
    let hadOoo = k.oooHead != 0;
    if (dlen > 0) rqAppend(k, b, dlen);
    rnxt += dlen;
    // Pull in whatever the out-of-order queue now continues.
    for (;;) {
      let o = <usize>k.oooHead;
      if (!o) break;
      let os = load<u32>(o, PKT_TCP_SEQ);
      if (seqGt(os, rnxt)) break;
      k.oooHead = load<u32>(o, PKT_QNEXT);
      if (o == <usize>k.oooLast) k.oooLast = 0;
      let olen = load<u32>(o, PKT_TOTAL);
      let nb = chainBufs(o);
      k.oooBytes -= olen;
      k.oooBufs -= nb;
      let ofin = load<u32>(o, PKT_TCP_FIN) != 0;
      let d = rnxt - os;
      if (d >= olen) {
        pktFreeChain(o);
        if (d == olen && ofin) fin = true;
        continue;
      }
      if (d) o = trimFront(o, d);
      olen -= d;
      rqAppend(k, o, olen);
      rnxt += olen;
      if (ofin) fin = true;
    }
    k.rcvNxt = rnxt;
    if (dlen > 0 || hadOoo) {
      if (hadOoo) setF(k, F_ACKNOW);
      // A segment the link merged (GRO) counts as the full segments it holds.
      let n = k.segsUnacked + (dlen > k.rmss ? 2 : 1);
      k.segsUnacked = n;
      if (n >= 2 || (dlen < k.rmss >> 1 && hasF(k, F_ACKNOW))) setF(k, F_ACKNOW);
      else setF(k, F_DELACK);
      if (!hasF(k, F_RD_EV) && k.rqBytes) { setF(k, F_RD_EV); notify(k, EV_TCP_READABLE, 0); }
    }
    if (fin) finInput(k);
  } else {
    // Out of order: keep it (bounded), and tell the peer at once (RFC 5681 4.2).
    // A run of such segments in one batch shares an ACK (as Linux compresses
    // SACKs), but the ACK pending goes out first when this segment starts a
    // new block (an option carries 3 or 4: the peer hears of every block, or
    // it would resend what arrived) or the first hole (what came in order gets
    // an ACK of its own, so a single lost ACK does not leave the whole flight
    // unacknowledged). Without SACK every such segment is a duplicate ACK of
    // its own: their count is the peer's only sign of a loss.
    if (hasF(k, F_ACKNOW | F_DELACK) && (!k.oooHead || !hasF(k, F_SACK) || seq != k.lastOoo)) sendAck(k);
    setF(k, F_ACKNOW);
    if (dlen > 0 || fin) {
      if (!b || k.oooBufs >= oooMax || scbGet(SCB_FREE_COUNT) < (nbufs >> 4)) {
        count(C_TCP_OOO_DROP);
        if (b) pktFreeChain(b);
        return;
      }
      oooInsert(k, b, seq, dlen, fin);
    }
  }
}

function finInput(k: Tcb): void {
  setF(k, F_FIN_RCVD);
  k.rcvNxt++;
  setF(k, F_ACKNOW);
  queueFree(<usize>k.oooHead);
  k.oooHead = 0; k.oooLast = 0; k.oooBytes = 0; k.oooBufs = 0;
  notify(k, EV_TCP_FIN, 0);
  let st = k.state;
  if (st == S_ESTABLISHED || st == S_SYN_RCVD) k.state = S_CLOSE_WAIT;
  else if (st == S_FIN_WAIT_1) {
    if (finAcked(k)) { sendAck(k); enterTimeWait(k); }
    else k.state = S_CLOSING;
  } else if (st == S_FIN_WAIT_2) { sendAck(k); enterTimeWait(k); }
}
