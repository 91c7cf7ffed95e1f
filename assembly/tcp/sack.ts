// SACK (RFC 2018): the scoreboard of the peer's blocks that loss recovery
// (RFC 6675) reads, and the blocks we report from our out-of-order queue.
import { seqLt, seqLe } from '../wire/bytes';
import { PKT_TOTAL, PKT_QNEXT, PKT_TCP_SEQ } from '../base/mem';
import { Tcb, NSACKMAX, seqGe, seqGt } from './tcb';
import { opt } from './options';

const SCRATCH: usize = memory.data(8 * (NSACKMAX + 4), 8);

export function sackUpdate(k: Tcb): void {
  let una = k.sndUna;
  let smax = k.sndMax;
  let n: u32 = 0;
  let have = k.nsack;
  for (let i: u32 = 0; i < have; i++) {
    let a = k.sackStart(i), b = k.sackEnd(i);
    store<u32>(SCRATCH + (<usize>n << 3), a);
    store<u32>(SCRATCH + (<usize>n << 3), b, 4);
    n++;
  }
  for (let i: u32 = 0; i < opt.nsack; i++) {
    let a = opt.sackStart(i), b = opt.sackEnd(i);
    if (!seqLt(a, b) || seqGt(b, smax) || seqLe(b, una)) continue;   // invalid, or a D-SACK below snd_una
    if (seqLt(a, una)) a = una;
    store<u32>(SCRATCH + (<usize>n << 3), a);
    store<u32>(SCRATCH + (<usize>n << 3), b, 4);
    n++;
  }
  // Insertion sort by start, then merge.
  for (let i: u32 = 1; i < n; i++) {
    let a = load<u32>(SCRATCH + (<usize>i << 3)), b = load<u32>(SCRATCH + (<usize>i << 3), 4);
    let j = <i32>i - 1;
    while (j >= 0 && seqGt(load<u32>(SCRATCH + (<usize>j << 3)), a)) {
      store<u64>(SCRATCH + (<usize>(j + 1) << 3), load<u64>(SCRATCH + (<usize>j << 3)));
      j--;
    }
    store<u32>(SCRATCH + (<usize>(j + 1) << 3), a);
    store<u32>(SCRATCH + (<usize>(j + 1) << 3), b, 4);
  }
  let out: u32 = 0;
  let sacked: u32 = 0;
  let high = una;
  for (let i: u32 = 0; i < n; i++) {
    let a = load<u32>(SCRATCH + (<usize>i << 3)), b = load<u32>(SCRATCH + (<usize>i << 3), 4);
    if (seqLe(b, una)) continue;
    if (seqLt(a, una)) a = una;
    if (out > 0) {
      let pb = k.sackEnd(out - 1);
      if (seqLe(a, pb)) {
        if (seqGt(b, pb)) { k.setSackEnd(out - 1, b); sacked += b - pb; }
        if (seqGt(b, high)) high = b;
        continue;
      }
    }
    if (out >= NSACKMAX) break;
    k.setSackStart(out, a);
    k.setSackEnd(out, b);
    sacked += b - a;
    if (seqGt(b, high)) high = b;
    out++;
  }
  k.nsack = out;
  k.sacked = sacked;
  k.highSack = high;
}

/** If seq lies in a SACKed range, the end of that range; else seq. */
export function skipSacked(k: Tcb, seq: u32): u32 {
  let n = k.nsack;
  for (let i: u32 = 0; i < n; i++) {
    let a = k.sackStart(i), b = k.sackEnd(i);
    if (seqLe(a, seq) && seqLt(seq, b)) seq = b;
  }
  return seq;
}

/** The start of the next SACKed range above seq, or lim. */
export function nextSacked(k: Tcb, seq: u32, lim: u32): u32 {
  let n = k.nsack;
  let best = lim;
  for (let i: u32 = 0; i < n; i++) {
    let a = k.sackStart(i);
    if (seqGt(a, seq) && seqLt(a, best)) best = a;
  }
  return best;
}

export function sackedBelow(k: Tcb, x: u32): u32 {
  let n = k.nsack;
  let t: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let a = k.sackStart(i), b = k.sackEnd(i);
    if (seqGe(a, x)) continue;
    t += (seqLt(b, x) ? b : x) - a;
  }
  return t;
}

export const SBLK: usize = memory.data(8 * 4, 8);
const RECENT: u32 = 4;

/** Our SACK blocks from the out-of-order queue: the block holding the latest
 * arrival first (RFC 2018 4), then the blocks just below it, nearest first:
 * data arrives in sequence order, so those are the ones the peer learnt of
 * last. The whole queue is walked: under loss it holds many more blocks than
 * an option carries, and the latest arrival is in its highest ones; the peer,
 * told only of the lowest, sees no new SACK for its newest data and stalls.
 * With no block holding the latest arrival (it went in order), the lowest
 * blocks, next to rcv.nxt. maxn is at most 4. */
export function sackBlocks(k: Tcb, maxn: u32): u32 {
  let b = <usize>k.oooHead;
  let last = k.lastOoo;
  let seen: u32 = 0;
  while (b) {
    let a = load<u32>(b, PKT_TCP_SEQ);
    let e = a + load<u32>(b, PKT_TOTAL);
    b = <usize>load<u32>(b, PKT_QNEXT);
    while (b && load<u32>(b, PKT_TCP_SEQ) == e) { e += load<u32>(b, PKT_TOTAL); b = <usize>load<u32>(b, PKT_QNEXT); }
    if (a == e) continue;
    if (seqLt(a, last) && seqLe(last, e)) {
      store<u32>(SBLK, a);
      store<u32>(SBLK, e, 4);
      let out: u32 = 1;
      for (let i = seen; i > 0 && out < maxn && seen - i < RECENT; i--) {
        store<u64>(SBLK + (<usize>out << 3), load<u64>(SCRATCH + (<usize>((i - 1) % RECENT) << 3)));
        out++;
      }
      return out;
    }
    // The lowest blocks stay in SBLK; the latest RECENT in a ring in SCRATCH.
    if (seen < maxn) { store<u32>(SBLK + (<usize>seen << 3), a); store<u32>(SBLK + (<usize>seen << 3), e, 4); }
    store<u32>(SCRATCH + (<usize>(seen % RECENT) << 3), a);
    store<u32>(SCRATCH + (<usize>(seen % RECENT) << 3), e, 4);
    seen++;
  }
  return min<u32>(seen, maxn);
}
