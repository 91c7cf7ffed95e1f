// The choice of a target for a new connection, by the VIPA's method, among
// the DPT row's ready targets (listening on the port); healthy ones first
// (dpt.ts), unhealthy ones only when no healthy one is ready or for their
// probe connection.
//   roundrobin  the next ready target after the last one chosen
//   weighted    the one with the fewest active connections per unit of
//               weight, so active connections stay in proportion to the
//               weights (z/OS WEIGHTEDACTIVE); ties go round
//   leastconn   the fewest active connections; ties go round
//   hotstandby  the ready target of the lowest rank: the preferred one
//               whenever it is ready, else the standbys in rank order
//   hash        Maglev (Eisenbud et al., NSDI 2016): a lookup table of
//               65 537 entries filled from each target's own permutation,
//               indexed by a hash of the client's address; when one of N
//               targets leaves, about 1/N of the addresses move
import { METHOD_WEIGHTED, METHOD_LEASTCONN, METHOD_HOTSTANDBY, METHOD_HASH } from './control';
import { dptSlot, dptMaglev, dptReady, dptHealthy, R_NSLOTS, R_CURSOR, R_METHOD, R_DIRTY, R_NO_TARGET,
  D_ADDR, D_ACTIVE, D_WEIGHT, D_RANK, D_PROBE, MAGLEV_M, PROBE_MS } from './dpt';

const NONE: u8 = 0xff;
/** The time of the choice being made (health depends on it). */
let selNow: u32 = 0;
const POS: usize = memory.data(255 * 4, 4);    // Maglev: each target's place in its permutation
const SKIP: usize = memory.data(255 * 4, 4);
/** Places a hash row tries past an unhealthy target before it takes the next ready one round. */
const HASH_TRIES: u32 = 64;

/** murmur3's finalizer: a fixed mix, so every routing stack computes the same. */
// @ts-ignore: decorator
@inline function fmix(h: u32): u32 {
  h ^= h >>> 16; h *= 0x85ebca6b;
  h ^= h >>> 13; h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}

/** The hash method's key: the same on every routing stack, so a backup that takes over chooses alike. */
export function sourceHash(client: u32): u32 { return fmix(client ^ 0x5bd1e995); }

/** Fills the Maglev table t from the ready targets of row r (NONE everywhere when none is). */
export function maglevBuild(r: usize, t: usize): void {
  let n = <u32>load<u8>(r, R_NSLOTS);
  memory.fill(t, NONE, MAGLEV_M);
  let ready: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let s = dptSlot(r, i);
    if (!dptReady(s)) continue;
    // By the target's own address, so the table depends on the set of targets, not on slot order.
    let a = load<u32>(s, D_ADDR);
    store<u32>(POS + (<usize>i << 2), fmix(a ^ 0x9747b28c) % MAGLEV_M);
    store<u32>(SKIP + (<usize>i << 2), fmix(a ^ 0x2545f491) % (MAGLEV_M - 1) + 1);
    ready++;
  }
  store<u8>(r, 0, R_DIRTY);
  if (ready == 0) return;
  let filled: u32 = 0;
  for (;;) {
    for (let i: u32 = 0; i < n; i++) {
      if (!dptReady(dptSlot(r, i))) continue;
      let pa = POS + (<usize>i << 2);
      let skip = load<u32>(SKIP + (<usize>i << 2));
      let c = load<u32>(pa);
      while (load<u8>(t + c) != NONE) { c += skip; if (c >= MAGLEV_M) c -= MAGLEV_M; }
      store<u8>(t + c, <u8>i);
      c += skip; if (c >= MAGLEV_M) c -= MAGLEV_M;
      store<u32>(pa, c);
      if (++filled == MAGLEV_M) return;
    }
  }
}

// Not inlined: a choice runs once a connection, and its four copies cost more than the calls.
function eligible(s: usize, healthyOnly: bool): bool { return dptReady(s) && (!healthyOnly || dptHealthy(s, selNow)); }

/** The first eligible slot from the row's cursor on, which then moves past it. */
function nextRound(r: usize, n: u32, healthyOnly: bool): i32 {
  let c = load<u32>(r, R_CURSOR);
  for (let k: u32 = 0; k < n; k++) {
    let i = (c + k) % n;
    if (eligible(dptSlot(r, i), healthyOnly)) { store<u32>(r, i + 1, R_CURSOR); return <i32>i; }
  }
  return -1;
}

/** The eligible slot with the least active/weight (weighted) or the least active (leastconn); ties from the cursor on. */
function leastLoaded(r: usize, n: u32, healthyOnly: bool, weighted: bool): i32 {
  let c = load<u32>(r, R_CURSOR);
  let best: i32 = -1;
  let ba: u64 = 0, bw: u64 = 1;
  for (let k: u32 = 0; k < n; k++) {
    let i = (c + k) % n;
    let s = dptSlot(r, i);
    if (!eligible(s, healthyOnly)) continue;
    let a = <u64>load<u32>(s, D_ACTIVE);
    let w: u64 = weighted ? <u64>load<u16>(s, D_WEIGHT) : 1;
    if (best < 0 || a * bw < ba * w) { best = <i32>i; ba = a; bw = w; }
  }
  if (best >= 0) store<u32>(r, <u32>best + 1, R_CURSOR);
  return best;
}

/** The slot index of the target for a new connection from client, or -1
 * (counted in the row) when no target is ready. */
export function selectTarget(r: usize, client: u32, nowMs: u32): i32 {
  selNow = nowMs;
  let n = <u32>load<u8>(r, R_NSLOTS);
  let healthy = false, probe: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    let s = dptSlot(r, i);
    if (!dptReady(s)) continue;
    if (dptHealthy(s, nowMs)) healthy = true;
    else if (probe < 0 && nowMs - load<u32>(s, D_PROBE) >= PROBE_MS) probe = <i32>i;
  }
  if (healthy && probe >= 0) {
    store<u32>(dptSlot(r, <u32>probe), nowMs, D_PROBE);
    return probe;
  }
  let m = load<u8>(r, R_METHOD);
  let i: i32;
  if (m == METHOD_WEIGHTED || m == METHOD_LEASTCONN) i = leastLoaded(r, n, healthy, m == METHOD_WEIGHTED);
  else if (m == METHOD_HOTSTANDBY) {
    i = -1;
    let rank: u32 = 256;
    for (let k: u32 = 0; k < n; k++) {
      let s = dptSlot(r, k);
      if (eligible(s, healthy) && <u32>load<u8>(s, D_RANK) < rank) { rank = load<u8>(s, D_RANK); i = <i32>k; }
    }
  } else if (m == METHOD_HASH) i = maglevPick(r, n, client, healthy);
  else i = nextRound(r, n, healthy);
  if (i < 0) store<u32>(r, load<u32>(r, R_NO_TARGET) + 1, R_NO_TARGET);
  return i;
}

function maglevPick(r: usize, n: u32, client: u32, healthyOnly: bool): i32 {
  let t = dptMaglev(r);
  if (t == 0) return nextRound(r, n, healthyOnly);
  if (load<u8>(r, R_DIRTY)) maglevBuild(r, t);
  let c = sourceHash(client) % MAGLEV_M;
  for (let k: u32 = 0; k < HASH_TRIES; k++) {
    let i = <u32>load<u8>(t + c);
    if (i == NONE) return -1;
    if (i < n && eligible(dptSlot(r, i), healthyOnly)) return <i32>i;
    if (++c == MAGLEV_M) c = 0;
  }
  return nextRound(r, n, healthyOnly);
}
