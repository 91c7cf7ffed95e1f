// The destination port table (DPT): on a routing stack, per VIPA:port, the
// candidate targets with what the choice of a target needs (listeners,
// weight, rank, connections) and their health as the data path sees it.
// Rows and their target slots are reserved at init (dptLayout); a row is
// found by a linear scan, which runs once per SYN, never per packet.
//
// Health (as z/OS's target server responsiveness, without a probe daemon):
// every forwarded SYN counts against its target until a client's ACK of a
// handshake to it goes through. After HEALTH_SYNS SYNs in a row without one,
// the first of them HEALTH_MS ago or more (a burst of SYNs forwarded at once
// is no sign of a silent target: their handshakes are still on their way),
// or when its status reports new accept-queue overflows, the target is
// unhealthy: it gets new connections only when no healthy target is ready,
// and one probe connection every PROBE_MS, so it can show it recovered.
import { arenaReserve } from '../base/mem';
import { count, C_CLU_DPT_FULL } from '../base/counters';

export const HEALTH_SYNS: u32 = 8;
export const HEALTH_MS: u32 = 200;
export const PROBE_MS: u32 = 1000;

// Row (64 bytes).
export const R_VIPA: usize = 0;       // u32; 0: a free row
export const R_PORT: usize = 4;       // u16
export const R_METHOD: usize = 6;     // u8 METHOD_* (control.ts)
export const R_NSLOTS: usize = 7;     // u8 target slots in use
export const R_CURSOR: usize = 8;     // u32 where roundrobin and ties start
export const R_MAGLEV: usize = 12;    // u32 Maglev table address, or 0
export const R_DIRTY: usize = 16;     // u8 1: the Maglev table must be built again
export const R_NO_TARGET: usize = 20; // u32 SYNs that found no ready target
const ROW: u32 = 64;

// Target slot (48 bytes).
export const D_ADDR: usize = 0;       // u32 the target's own address
export const D_ID: usize = 4;         // u16 target id (the CRT's)
export const D_WEIGHT: usize = 6;     // u16 at least 1
export const D_LISTENERS: usize = 8;  // u16 listeners on VIPA:port (0: not ready)
export const D_RANK: usize = 10;      // u8 hotstandby rank: 0 preferred
export const D_QUIESCED: usize = 11;  // u8 1: its listeners are quiesced (it takes no new connections)
export const D_TOTAL: usize = 12;     // u32 connections given to it
export const D_ACTIVE: usize = 16;    // u32 connections with a CRT entry
export const D_SYNS: usize = 20;      // u32 SYNs forwarded
export const D_ESTABLISHED: usize = 24; // u32 handshakes seen to complete
export const D_OVERFLOWS: usize = 28; // u32 accept-queue overflows, as its last status said
export const D_UNANSWERED: usize = 32; // u32 SYNs since the last handshake completed
export const D_PROBE: usize = 36;     // u32 when it was last given a probe connection, ms
export const D_SINCE: usize = 40;     // u32 when the first of the SYNs since the last handshake went, ms
export const SLOT: u32 = 48;

/** Bytes of a Maglev lookup table: one u8 slot index per entry. */
export const MAGLEV_M: u32 = 65537;
const MAGLEV_BYTES: u32 = (MAGLEV_M + 63) & ~63;

let rows: usize = 0;
let nrows: u32 = 0;
export let slotsPerRow: u32 = 0;
let slots: usize = 0;
let maglevPool: usize = 0;
let nmaglev: u32 = 0;
let maglevUsed: u32 = 0;
/** New rows refused: every row in use. */
export let dptRowsFull: u32 = 0;
/** Targets refused: the row's slots in use. */
export let dptSlotsFull: u32 = 0;
/** Hash rows left without a Maglev table (they go round instead). */
export let dptMaglevFull: u32 = 0;

/** Reserves n rows of up to perRow targets (at most 255), and maglev tables for rows of the hash method. */
export function dptLayout(n: u32, perRow: u32, maglev: u32): void {
  nrows = n;
  slotsPerRow = min<u32>(perRow, 255);
  rows = arenaReserve(<usize>n * ROW);
  slots = arenaReserve(<usize>n * slotsPerRow * SLOT);
  nmaglev = maglev;
  maglevPool = arenaReserve(<usize>maglev * MAGLEV_BYTES);
}

/** Slot i of row r. */
// @ts-ignore: decorator
@inline export function dptSlot(r: usize, i: u32): usize {
  return slots + (<usize>((r - rows) / ROW) * slotsPerRow + i) * SLOT;
}

/** Row i (in use or not: its R_VIPA says), or 0 past the last. */
export function dptRowAt(i: u32): usize { return i < nrows ? rows + <usize>i * ROW : 0; }

/** The row of VIPA:port, or 0. */
export function dptFind(vipa: u32, port: u32): usize {
  for (let i: u32 = 0; i < nrows; i++) {
    let r = rows + <usize>i * ROW;
    if (load<u32>(r, R_VIPA) == vipa && <u32>load<u16>(r, R_PORT) == port) return r;
  }
  return 0;
}

/** The row of VIPA:port, made with method if there is none; 0 (counted) when every row is taken. */
export function dptRow(vipa: u32, port: u32, method: u8): usize {
  if (vipa == 0) return 0;
  let r = dptFind(vipa, port);
  if (r) return r;
  for (let i: u32 = 0; i < nrows; i++) {
    r = rows + <usize>i * ROW;
    if (load<u32>(r, R_VIPA) != 0) continue;
    // A freed row keeps its Maglev table: the pool is only ever handed out.
    let t = load<u32>(r, R_MAGLEV);
    memory.fill(r, 0, ROW);
    store<u32>(r, t, R_MAGLEV);
    store<u8>(r, 1, R_DIRTY);
    store<u32>(r, vipa, R_VIPA);
    store<u16>(r, <u16>port, R_PORT);
    store<u8>(r, method, R_METHOD);
    return r;
  }
  dptRowsFull++;
  count(C_CLU_DPT_FULL);
  return 0;
}

/** A Maglev table for a row of the hash method, or 0 when none is left. */
export function dptMaglev(r: usize): usize {
  let t = <usize>load<u32>(r, R_MAGLEV);
  if (t == 0 && maglevUsed < nmaglev) {
    t = maglevPool + <usize>maglevUsed * MAGLEV_BYTES;
    maglevUsed++;
    store<u32>(r, <u32>t, R_MAGLEV);
    store<u8>(r, 1, R_DIRTY);
  } else if (t == 0) { dptMaglevFull++; count(C_CLU_DPT_FULL); }
  return t;
}

/** The slot index of target id in row r, or -1. */
export function dptSlotOf(r: usize, id: u32): i32 {
  let n = <u32>load<u8>(r, R_NSLOTS);
  for (let i: u32 = 0; i < n; i++) if (<u32>load<u16>(dptSlot(r, i), D_ID) == id) return <i32>i;
  return -1;
}

/** Adds a candidate target to row r (or updates its weight and rank); its slot index, or -1 (counted) when the row is full. */
export function dptTarget(r: usize, addr: u32, id: u32, weight: u32, rank: u32): i32 {
  let i = dptSlotOf(r, id);
  if (i < 0) {
    let n = <u32>load<u8>(r, R_NSLOTS);
    if (n >= slotsPerRow) { dptSlotsFull++; count(C_CLU_DPT_FULL); return -1; }
    memory.fill(dptSlot(r, n), 0, SLOT);
    store<u8>(r, <u8>(n + 1), R_NSLOTS);
    i = <i32>n;
  }
  let s = dptSlot(r, <u32>i);
  store<u32>(s, addr, D_ADDR);
  store<u16>(s, <u16>id, D_ID);
  store<u16>(s, <u16>max<u32>(weight, 1), D_WEIGHT);
  store<u8>(s, <u8>rank, D_RANK);
  store<u8>(r, 1, R_DIRTY);
  return i;
}

/** A status's listener word: the count, and this bit when the target quiesced the port. */
export const QUIESCED: u32 = 0x8000;

/** A target's status for the row's port: how many listeners it has (0: it
 * withdrew), whether it quiesced them (QUIESCED in listeners) and its
 * accept-queue overflows so far. New overflows mark it unhealthy until a
 * handshake to it completes. */
export function dptStatus(r: usize, i: u32, listeners: u32, overflows: u32): void {
  let s = dptSlot(r, i);
  let was = dptReady(s);
  store<u16>(s, <u16>min<u32>(listeners & ~QUIESCED, 0x7fff), D_LISTENERS);
  store<u8>(s, <u8>(listeners >> 15 & 1), D_QUIESCED);
  if (was != dptReady(s)) store<u8>(r, 1, R_DIRTY);
  if (overflows != load<u32>(s, D_OVERFLOWS)) {
    if (overflows > load<u32>(s, D_OVERFLOWS)) store<u32>(s, max<u32>(load<u32>(s, D_UNANSWERED), HEALTH_SYNS), D_UNANSWERED);
    store<u32>(s, overflows, D_OVERFLOWS);
  }
}

/** Target i of row r was given a new connection (its SYN forwarded at nowMs). */
export function dptConnNew(r: usize, i: u32, nowMs: u32 = 0): void {
  let s = dptSlot(r, i);
  if (load<u32>(s, D_UNANSWERED) == 0) store<u32>(s, nowMs, D_SINCE);
  store<u32>(s, load<u32>(s, D_TOTAL) + 1, D_TOTAL);
  store<u32>(s, load<u32>(s, D_ACTIVE) + 1, D_ACTIVE);
  store<u32>(s, load<u32>(s, D_SYNS) + 1, D_SYNS);
  store<u32>(s, load<u32>(s, D_UNANSWERED) + 1, D_UNANSWERED);
}

/** Target i of row r has a connection the routing stack learnt of from it (a report, an outbound connection). */
export function dptAdopt(r: usize, i: u32): void {
  let s = dptSlot(r, i);
  store<u32>(s, load<u32>(s, D_TOTAL) + 1, D_TOTAL);
  store<u32>(s, load<u32>(s, D_ACTIVE) + 1, D_ACTIVE);
}

/** The client's ACK of a handshake with target i went through: it is healthy. */
export function dptEstablished(r: usize, i: u32): void {
  let s = dptSlot(r, i);
  store<u32>(s, load<u32>(s, D_ESTABLISHED) + 1, D_ESTABLISHED);
  store<u32>(s, 0, D_UNANSWERED);
}

/** A connection of target i ended (its CRT entry went). */
export function dptConnEnd(r: usize, i: u32): void {
  let s = dptSlot(r, i);
  let a = load<u32>(s, D_ACTIVE);
  if (a) store<u32>(s, a - 1, D_ACTIVE);
}

// @ts-ignore: decorator
@inline export function dptReady(s: usize): bool { return load<u16>(s, D_LISTENERS) != 0 && load<u8>(s, D_QUIESCED) == 0; }
// @ts-ignore: decorator
@inline export function dptHealthy(s: usize, nowMs: u32): bool {
  return load<u32>(s, D_UNANSWERED) < HEALTH_SYNS || nowMs - load<u32>(s, D_SINCE) < HEALTH_MS;
}
