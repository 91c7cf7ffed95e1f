// Receive buffers: in-order payload stays in the packet buffers it arrived
// in until the host copies it out; out-of-order segments wait, sorted, in a
// bounded queue. The window we offer is computed from what they hold.
import { seqLe } from '../wire/bytes';
import { pktFree, pktFreeChain, pktUnits, bufSize, nbufs, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT, PKT_QNEXT, PKT_TCP_SEQ,
  PKT_TCP_FIN, pktFreeQueueChains } from '../base/mem';
import { SCB_FREE_COUNT, scbGet } from '../base/scb';
import { count, C_TCP_OOO } from '../base/counters';
import { pktTrim } from '../iface/ip';
import { Tcb, rcvWs, seqGe, seqGt } from './tcb';

// Segments whose data the host was handed (tcp_recv): freed on its next call.
let loaned: usize = 0;

/** Keeps segment b (its data handed to the host) until the next call. */
export function loan(b: usize): void {
  store<u32>(b, <u32>loaned, PKT_QNEXT);
  loaned = b;
}

export function tcpReleaseLoans(): void {
  let b = loaned;
  loaned = 0;
  pktFreeQueueChains(b);
}

export function queueFree(b: usize): u32 {
  let n: u32 = 0;
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    n++;
    pktFreeChain(b);
    b = next;
  }
  return n;
}

export function rxFreeAll(k: Tcb): void {
  queueFree(<usize>k.rqHead);
  queueFree(<usize>k.oooHead);
  k.rqHead = 0; k.rqTail = 0; k.rqBytes = 0; k.rqBufs = 0;
  k.oooHead = 0; k.oooLast = 0; k.oooBytes = 0; k.oooBufs = 0;
}

/** A segment's buffers, a large one weighing as the small ones it spans. A
 * loop, at five call sites: not inlined. */
export function chainBufs(b: usize): u32 {
  let n: u32 = 0;
  for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) n += pktUnits(c);
  return n;
}

/** Removes n bytes from the front of a segment's chain; returns the new head (0 if nothing is left). */
export function trimFront(b: usize, n: u32): usize {
  let total = load<u32>(b, PKT_TOTAL);
  if (n >= total) { pktFreeChain(b); return 0; }
  let left = n;
  while (left) {
    let l = load<u32>(b, PKT_LEN);
    if (l <= left) {
      left -= l;
      let next = <usize>load<u32>(b, PKT_NEXT);
      store<u32>(b, 0, PKT_NEXT);
      pktFree(b);
      b = next;
    } else {
      store<u32>(b, load<u32>(b, PKT_DATA) + left, PKT_DATA);
      store<u32>(b, l - left, PKT_LEN);
      left = 0;
    }
  }
  store<u32>(b, total - n, PKT_TOTAL);
  return b;
}

/** Bytes of receive window we could offer now. Buffers count at their
 * true size, so tiny segments cannot pin the shared pool. */
export function rcvSpace(k: Tcb): u32 {
  let bytes = k.rqBytes + k.oooBytes;
  let tru = (k.rqBufs + k.oooBufs) * bufSize;
  let held = max<u32>(bytes, tru);
  let buf = k.rcvbuf;
  return held >= buf ? 0 : buf - held;
}

/** The window to advertise (bytes, before scaling): never shrinks the right
 * edge already offered, and grows only in useful steps (SWS avoidance). */
export function rcvWindow(k: Tcb): u32 {
  let nxt = k.rcvNxt;
  let adv = k.rcvAdv;
  let cur: u32 = seqGt(adv, nxt) ? adv - nxt : 0;
  let space = rcvSpace(k);
  let maxw = <u32>65535 << rcvWs(k);
  if (space > maxw) space = maxw;
  if (space <= cur) return cur;
  // The pool is low: hold the edge where it is.
  if (scbGet(SCB_FREE_COUNT) < (nbufs >> 3)) return cur;
  let step = min<u32>(k.rcvbuf >> 1, k.rmss);
  if (space - cur < step && space < k.rcvbuf >> 1 && cur != 0) return cur;
  return space;
}

/** After the peer's FIN (TIME-WAIT, or CLOSED while the host holds the socket)
 * its in-order data stays for the host to read; out-of-order data is useless. */
export function rxFreeAllKeepRead(k: Tcb): void {
  queueFree(<usize>k.oooHead);
  k.oooHead = 0; k.oooLast = 0; k.oooBytes = 0; k.oooBufs = 0;
}

export function rqAppend(k: Tcb, b: usize, len: u32): void {
  store<u32>(b, 0, PKT_QNEXT);
  let t = <usize>k.rqTail;
  if (t) store<u32>(t, <u32>b, PKT_QNEXT); else k.rqHead = <u32>b;
  k.rqTail = <u32>b;
  k.rqBytes += len;
  k.rqBufs += chainBufs(b);
}

export function oooInsert(k: Tcb, b: usize, seq: u32, len: u32, fin: bool): void {
  count(C_TCP_OOO);
  k.lastOoo = seq + len;
  let prev: usize = 0;
  let c = <usize>k.oooHead;
  // Under loss the queue holds hundreds of segments, and most arrivals
  // continue the latest one: the walk starts there when it can.
  let last = <usize>k.oooLast;
  if (last && seqLe(load<u32>(last, PKT_TCP_SEQ), seq)) { prev = last; c = <usize>load<u32>(last, PKT_QNEXT); }
  while (c && seqLe(load<u32>(c, PKT_TCP_SEQ), seq)) { prev = c; c = <usize>load<u32>(c, PKT_QNEXT); }
  if (prev) {
    let pe = load<u32>(prev, PKT_TCP_SEQ) + load<u32>(prev, PKT_TOTAL);
    if (seqGe(pe, seq + len)) {
      // Already have all of it.
      if (fin) store<u32>(prev, 1, PKT_TCP_FIN);
      pktFreeChain(b);
      return;
    }
    if (seqGt(pe, seq)) { let d = pe - seq; b = trimFront(b, d); seq += d; len -= d; }
  }
  // Swallow the segments the new one covers; trim it against the next.
  while (c) {
    let cs = load<u32>(c, PKT_TCP_SEQ);
    if (seqGe(cs, seq + len)) break;
    let ce = cs + load<u32>(c, PKT_TOTAL);
    if (seqLe(ce, seq + len)) {
      let next = <usize>load<u32>(c, PKT_QNEXT);
      if (load<u32>(c, PKT_TCP_FIN)) fin = true;
      k.oooBytes -= load<u32>(c, PKT_TOTAL);
      k.oooBufs -= chainBufs(c);
      pktFreeChain(c);
      c = next;
      continue;
    }
    pktTrim(b, cs - seq);
    len = cs - seq;
    fin = false;
    break;
  }
  store<u32>(b, seq, PKT_TCP_SEQ);
  store<u32>(b, fin ? 1 : 0, PKT_TCP_FIN);
  store<u32>(b, <u32>c, PKT_QNEXT);
  if (prev) store<u32>(prev, <u32>b, PKT_QNEXT); else k.oooHead = <u32>b;
  k.oooLast = <u32>b;
  k.oooBytes += len;
  k.oooBufs += chainBufs(b);
}
