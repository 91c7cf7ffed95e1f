// Test-only entry (build/shoal.cluster-testing.wasm): the cluster's building
// blocks (CRT, SHA-256 and HMAC, control messages, DPT and target choice)
// exported as they are, so tests and bench/crt.bench.ts drive them directly.
import { arenaBegin, arenaCommit } from '../base/mem';
import { randomInit, keyedHash } from '../base/random';
import { crtLayout, crtInit, crtLookup, crtHome, crtInsert, crtSeen, crtRemove, crtExpire, crtAt, crtSlots,
  crtEntries, crtFull, crtInserted, crtExpired, crtRemoved, ENT_TARGET } from '../cluster/crt';
import { sha256, hmacKey, hmacSha256 } from '../cluster/hmac';
import { annBegin, annSetRange, annSetBackup, annSetTarget, heartbeatBegin, heartbeatSet, statusBegin, statusSetPort, connBegin, connSet,
  reportBegin, reportSetPort, reportSetConn, reportSetAff, ctlLayout, ctlSeal, ctlParse, ctlDrops, ctlAccepted, ctlType, ctlEpoch, ctlSeq, ctlSender, ctlBody, ctlBodyLen } from '../cluster/control';
import { dptLayout, dptRow, dptFind, dptTarget, dptStatus, dptConnNew, dptEstablished, dptConnEnd, dptSlot, dptSlotOf,
  dptRowsFull, dptSlotsFull, dptMaglevFull } from '../cluster/dpt';
import { selectTarget, sourceHash } from '../cluster/select';

/** Scratch memory for a test: n bytes, never freed (stub runtime). */
export function t_alloc(n: usize): usize { return heap.alloc(n); }

/** Lays out every table once, as the core's init() does; false if it ran already or memory ran out. */
export function t_init(crtMax: u32, synMs: u32, idleMs: u32, senders: u32, rows: u32, perRow: u32, maglev: u32, seed: u32): bool {
  if (!arenaBegin()) return false;
  randomInit(seed, 1, 2, 3);
  crtLayout(crtMax);
  ctlLayout(senders);
  dptLayout(rows, perRow, maglev);
  if (!arenaCommit(0, 0, 1514, 0)) return false;
  crtInit(synMs, idleMs);
  return true;
}

export function t_crt_lookup(c: u32, cp: u32, v: u32, vp: u32): usize { return crtLookup(c, cp, v, vp); }
export function t_crt_insert(c: u32, cp: u32, v: u32, vp: u32, target: u32, now: u32): usize { return crtInsert(c, cp, v, vp, target, 1, now); }
export function t_crt_seen(e: usize, flags: u32, now: u32): bool { return crtSeen(e, flags, now); }
export function t_crt_remove(c: u32, cp: u32, v: u32, vp: u32): i32 { return crtRemove(c, cp, v, vp); }
export function t_crt_expire(now: u32, budget: u32, out: usize, cap: u32): u32 { return crtExpire(now, budget, out, cap); }
export function t_crt_at(i: u32): usize { return crtAt(i); }
export function t_crt_slots(): u32 { return crtSlots(); }
/** entries, full, inserted, expired, removed */
export function t_crt_stat(k: u32): u32 {
  return k == 0 ? crtEntries : k == 1 ? crtFull : k == 2 ? crtInserted : k == 3 ? crtExpired : crtRemoved;
}

/** The bench's hot loop: n lookups of the 4-tuples at keys (16 bytes each: client, VIPA, client port, VIPA port),
 * cycling through count of them; returns the sum of the targets found, so nothing is optimized away. */
export function t_crt_lookups(keys: usize, count: u32, n: u32): u32 {
  let sum: u32 = 0;
  let k: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let p = keys + (<usize>k << 4);
    let e = crtLookup(load<u32>(p), load<u32>(p, 8), load<u32>(p, 4), load<u32>(p, 12));
    if (e) sum += load<u16>(e, ENT_TARGET);
    if (++k == count) k = 0;
  }
  return sum;
}

const HOMES: usize = memory.data(16 * 4, 4);

/** The same in batches of 16, each batch's home slots gathered (crtHome) and then read, as the routing stack does with a received batch. */
export function t_crt_lookups_batched(keys: usize, count: u32, n: u32): u32 {
  let sum: u32 = 0;
  let k: u32 = 0;
  for (let i: u32 = 0; i < n; i += 16) {
    let k0 = k;
    for (let j = 0; j < 16; j++) {
      let p = keys + (<usize>k << 4);
      store<u32>(HOMES + (<usize>j << 2), <u32>crtHome(load<u32>(p), load<u32>(p, 8), load<u32>(p, 4), load<u32>(p, 12)));
      if (++k == count) k = 0;
    }
    for (let j = 0; j < 16; j++) sum += load<u32>(<usize>load<u32>(HOMES + (<usize>j << 2))) & 1;
    k = k0;
    for (let j = 0; j < 16; j++) {
      let p = keys + (<usize>k << 4);
      let e = crtLookup(load<u32>(p), load<u32>(p, 8), load<u32>(p, 4), load<u32>(p, 12));
      if (e) sum += load<u16>(e, ENT_TARGET);
      if (++k == count) k = 0;
    }
  }
  return sum;
}

/** n rounds of SipHash-2-4 over a 4-tuple's words, for the bench's comparison with the CRT's keyed mix. */
export function t_siphash_loop(n: u32): u64 {
  let s: u64 = 0;
  for (let i: u32 = 0; i < n; i++) s += keyedHash(<u64>i << 32 | 0x0a000064, <u64>(i * 7) << 16 | 80, 0);
  return s;
}

export function t_sha256(p: usize, len: u32, out: usize): void { sha256(p, len, out); }
export function t_hmac_key(p: usize, len: u32): void { hmacKey(p, len); }
export function t_hmac(p: usize, len: u32, out: usize): void { hmacSha256(p, len, out); }

export function t_ctl_seal(p: usize, type: u8, epoch: u32, seq: u32, sender: u32, bodyLen: u32): u32 { return ctlSeal(p, type, epoch, seq, sender, bodyLen); }
/** The bodies of the control test's fixed examples, built by the core's writers at b; their sizes. */
export function t_ctl_example(type: u8, b: usize): u32 {
  if (type == 1) {
    let n = annBegin(b, 0x0a000064, 0x0a000001, 4, 2, 1, 2, 30, 900, 65536, 1);
    annSetRange(b, 0, 80, 80); annSetRange(b, 1, 8000, 8010);
    annSetBackup(b, 0, 0x0a000002);
    annSetTarget(b, 0, 0x0a00000b, 1, 3, 20000, 29999);
    annSetTarget(b, 1, 0x0a00000c, 2, 1, 30000, 39999);
    return n;
  }
  if (type == 2) {
    heartbeatSet(b, 0, 0x0a000064, 0, 3); heartbeatSet(b, 1, 0x0a000065, 1, 4);
    return heartbeatBegin(b, 20, 2);
  }
  if (type == 3) {
    let n = statusBegin(b, 0x0a000064, 17, 2, 2);
    statusSetPort(b, 0, 80, 1); statusSetPort(b, 1, 443, 0);
    return n;
  }
  if (type == 4) {
    let n = connBegin(b, 2);
    connSet(b, 0, 0xc0a80001, 0x0a000064, 40000, 80); connSet(b, 1, 0xc0a80002, 0x0a000064, 40001, 80);
    return n;
  }
  let n = reportBegin(b, 0x0a000064, 1, 1, 0, 1, 2, 1);
  reportSetPort(b, 0, 80, 3);
  reportSetConn(b, 0, 0xc0a80001, 40000, 80); reportSetConn(b, 1, 0xc0a80002, 5, 80);
  reportSetAff(b, 0, 0xc0a80003, 25000);
  return n;
}
export function t_ctl_parse(p: usize, len: u32): i32 { return ctlParse(p, len); }
export function t_ctl_drops(reason: i32): u32 { return ctlDrops(reason); }
export function t_ctl_accepted(): u32 { return ctlAccepted; }
/** type, epoch, seq, sender, body, bodyLen of the last accepted message */
export function t_ctl_field(k: u32): u32 {
  return k == 0 ? ctlType : k == 1 ? ctlEpoch : k == 2 ? ctlSeq : k == 3 ? ctlSender : k == 4 ? <u32>ctlBody : ctlBodyLen;
}

export function t_dpt_row(vipa: u32, port: u32, method: u8): usize { return dptRow(vipa, port, method); }
export function t_dpt_find(vipa: u32, port: u32): usize { return dptFind(vipa, port); }
export function t_dpt_target(r: usize, addr: u32, id: u32, weight: u32, rank: u32): i32 { return dptTarget(r, addr, id, weight, rank); }
export function t_dpt_status(r: usize, i: u32, listeners: u32, overflows: u32): void { dptStatus(r, i, listeners, overflows); }
export function t_dpt_conn_new(r: usize, i: u32): void { dptConnNew(r, i); }
export function t_dpt_established(r: usize, i: u32): void { dptEstablished(r, i); }
export function t_dpt_conn_end(r: usize, i: u32): void { dptConnEnd(r, i); }
export function t_dpt_slot(r: usize, i: u32): usize { return dptSlot(r, i); }
export function t_dpt_slot_of(r: usize, id: u32): i32 { return dptSlotOf(r, id); }
/** rows full, slots full, maglev full */
export function t_dpt_stat(k: u32): u32 { return k == 0 ? dptRowsFull : k == 1 ? dptSlotsFull : dptMaglevFull; }
export function t_select(r: usize, client: u32, now: u32): i32 { return selectTarget(r, client, now); }
export function t_source_hash(client: u32): u32 { return sourceHash(client); }
