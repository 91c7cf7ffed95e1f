// The connection routing table (CRT): on a routing stack, which target owns
// each connection to a VIPA. Open addressing with linear probing in one
// array of 32-byte entries, two to a cache line, keyed by the 4-tuple under
// a keyed hash; deletion shifts the following entries back (no tombstones),
// so a lookup never walks past the first empty slot and the table never
// needs rebuilding.
//
// Sizes: crtLayout(max) reserves max * 8/7 slots (any count: a key's home
// slot is its hash scaled to the count, Lemire's multiply-shift), so the
// load factor stays at or below 7/8 even when full and an entry costs
// 32 * 8/7 = 36.6 bytes of memory.
// Full table: a new entry is refused and counted (crtFull); an existing entry
// is never evicted to make room, so a SYN flood cannot take established
// connections away. Idle entries go by crtExpire, a bounded step per call.
//
// Entry pointers stay valid only until the next insert or delete.
import { arenaReserve } from '../base/mem';
import { rand32 } from '../base/random';

export const CRT_ENTRY: u32 = 32;
const ENTRY_SHIFT: u32 = 5;

// Entry layout (little-endian words, host-order addresses and ports).
export const ENT_CLIENT: usize = 0;    // u32 client address; 0 marks an empty slot
export const ENT_VIPA: usize = 4;      // u32 VIPA
export const ENT_PORTS: usize = 8;     // u32: VIPA port | client port << 16
export const ENT_HASH: usize = 12;     // u32 the key's hash: its home slot, without hashing again
export const ENT_LAST: usize = 16;     // u32 last activity, ms (wrapping)
export const ENT_TARGET: usize = 20;   // u16 target id
export const ENT_STATE: usize = 22;    // u8 CRT_SYN, CRT_ESTABLISHED or CRT_CLOSING
export const ENT_ORIGIN: usize = 23;   // u8 how it came: ORIGIN_SYN, ORIGIN_OUTBOUND, ORIGIN_REPORT
export const ENT_FRAMES: usize = 24;   // u32 frames forwarded (wrapping)
export const ENT_CREATED: usize = 28;  // u32 creation time, ms (wrapping)

/** The routing stack forwarded the client's SYN. */
export const CRT_SYN: u8 = 1;
/** The client's ACK of the handshake went through. */
export const CRT_ESTABLISHED: u8 = 2;
/** The client sent FIN or RST: the entry lives only as long as a SYN's. */
export const CRT_CLOSING: u8 = 3;

export const ORIGIN_SYN: u8 = 1;
export const ORIGIN_OUTBOUND: u8 = 2;   // a target's new-connection message
export const ORIGIN_REPORT: u8 = 3;     // a reconciliation or takeover report

// TCP flag bits, as in the header's byte 13.
const FIN: u32 = 0x01;
const SYN: u32 = 0x02;
const RST: u32 = 0x04;
const ACK: u32 = 0x10;

let base: usize = 0;
let nslots: u32 = 0;
let maxEntries: u32 = 0;
let k0: u64 = 0;
let k1: u64 = 0;
let synTimeout: u32 = 0;
let idleTimeout: u32 = 0;
let cursor: u32 = 0;

export let crtEntries: u32 = 0;
/** New entries refused because the table held its maximum. */
export let crtFull: u32 = 0;
export let crtInserted: u32 = 0;
export let crtExpired: u32 = 0;
export let crtRemoved: u32 = 0;

/** Reserves the table for at most max entries (at least 1). */
export function crtLayout(max: u32): void {
  if (max == 0) max = 1;
  nslots = <u32>(<u64>max * 8 / 7 + 1);
  maxEntries = max;
  base = arenaReserve(<usize>nslots << ENTRY_SHIFT);
}

/** After the arena is committed (zeroed): the hash key and the idle timeouts, ms. */
export function crtInit(synMs: u32, idleMs: u32): void {
  k0 = (<u64>rand32() << 32) | rand32();
  k1 = (<u64>rand32() << 32) | rand32();
  synTimeout = synMs;
  idleTimeout = idleMs;
}

export function crtSlots(): u32 { return nslots; }
/** The idle timeout of established entries, ms (the routed VIPAs' config). */
export function crtSetIdle(ms: u32): void { idleTimeout = ms; }

/** The keyed hash of a 4-tuple: two multiply-xorshift rounds over the key words,
 * each word xored with a secret first (SipHash costs ~4x as much; see bench/crt.bench.ts). */
// @ts-ignore: decorator
@inline function mix(addrs: u64, ports: u32): u32 {
  let h = (addrs ^ k0) * 0x9e3779b97f4a7c15;
  h = (h ^ (h >> 32) ^ <u64>ports ^ k1) * 0xd6e8feb86659fd93;
  return <u32>(h ^ (h >> 32));
}

// @ts-ignore: decorator
@inline function slot(i: u32): usize { return base + (<usize>i << ENTRY_SHIFT); }
// @ts-ignore: decorator
@inline function home(h: u32): u32 { return <u32>((<u64>h * nslots) >> 32); }
// @ts-ignore: decorator
@inline function next(i: u32): u32 { return i + 1 == nslots ? 0 : i + 1; }
/** How far slot b lies after slot a, going round. */
// @ts-ignore: decorator
@inline function dist(a: u32, b: u32): u32 { return b >= a ? b - a : b + nslots - a; }

// @ts-ignore: decorator
@inline function keyAddrs(client: u32, vipa: u32): u64 { return <u64>client | (<u64>vipa << 32); }
// @ts-ignore: decorator
@inline function keyPorts(cport: u32, vport: u32): u32 { return (vport & 0xffff) | (cport << 16); }

/** The slot holding the key, or the empty slot that ends its run (the table
 * is never full, so there is one). */
// @ts-ignore: decorator
@inline function probe(addrs: u64, ports: u32, h: u32): usize {
  let i = home(h);
  for (;;) {
    let e = slot(i);
    let a = load<u64>(e);
    if ((a == addrs && load<u32>(e, ENT_PORTS) == ports) || <u32>a == 0) return e;
    i = next(i);
  }
  return 0;   // not reached
}

/** The entry of a connection, or 0. */
export function crtLookup(client: u32, cport: u32, vipa: u32, vport: u32): usize {
  if (client == 0) return 0;
  let addrs = keyAddrs(client, vipa), ports = keyPorts(cport, vport);
  let e = probe(addrs, ports, mix(addrs, ports));
  return load<u32>(e) != 0 ? e : 0;
}

/** The address of a connection's home slot: gathered for a received batch
 * before its lookups and then read in a tight loop, it starts the cache
 * misses of a large table together instead of one after another. */
export function crtHome(client: u32, cport: u32, vipa: u32, vport: u32): usize {
  return slot(home(mix(keyAddrs(client, vipa), keyPorts(cport, vport))));
}

/** The entry of a connection: the one there is, or a new one for target
 * (state CRT_SYN). 0, counted in crtFull, when the table holds its maximum. */
export function crtInsert(client: u32, cport: u32, vipa: u32, vport: u32, target: u32, origin: u8, nowMs: u32): usize {
  if (client == 0) return 0;
  let addrs = keyAddrs(client, vipa), ports = keyPorts(cport, vport);
  let h = mix(addrs, ports);
  let e = probe(addrs, ports, h);
  if (load<u32>(e) != 0) return e;
  if (crtEntries >= maxEntries) { crtFull++; return 0; }
  store<u64>(e, addrs);
  store<u32>(e, ports, ENT_PORTS);
  store<u32>(e, h, ENT_HASH);
  store<u32>(e, nowMs, ENT_LAST);
  store<u16>(e, <u16>target, ENT_TARGET);
  store<u8>(e, CRT_SYN, ENT_STATE);
  store<u8>(e, origin, ENT_ORIGIN);
  store<u32>(e, 0, ENT_FRAMES);
  store<u32>(e, nowMs, ENT_CREATED);
  crtEntries++;
  crtInserted++;
  return e;
}

/** A packet from the client went through entry e: its time, its count, and
 * the state the routing stack can see. True when this packet is the client's
 * ACK that completes the handshake (a health signal for the target). */
export function crtSeen(e: usize, tcpFlags: u32, nowMs: u32): bool {
  store<u32>(e, nowMs, ENT_LAST);
  store<u32>(e, load<u32>(e, ENT_FRAMES) + 1, ENT_FRAMES);
  let s = load<u8>(e, ENT_STATE);
  if (tcpFlags & (FIN | RST)) {
    store<u8>(e, CRT_CLOSING, ENT_STATE);
    return false;
  }
  if (s == CRT_SYN && (tcpFlags & (SYN | ACK)) == ACK) {
    store<u8>(e, CRT_ESTABLISHED, ENT_STATE);
    return true;
  }
  return false;
}

/** Removes entry e; the entries after it in its run move back to keep every
 * one reachable from its home slot. */
export function crtDelete(e: usize): void {
  let i = <u32>((e - base) >> ENTRY_SHIFT);
  let j = i;
  for (;;) {
    j = next(j);
    let f = slot(j);
    if (load<u32>(f) == 0) break;
    // f may fill the hole at i if its home is not in (i, j].
    if (dist(home(load<u32>(f, ENT_HASH)), j) >= dist(i, j)) {
      memory.copy(slot(i), f, CRT_ENTRY);
      i = j;
    }
  }
  memory.fill(slot(i), 0, CRT_ENTRY);
  crtEntries--;
}

/** Removes a connection's entry (a target's end message). The target id it
 * had, or -1 when there was none. */
export function crtRemove(client: u32, cport: u32, vipa: u32, vport: u32): i32 {
  let e = crtLookup(client, cport, vipa, vport);
  if (e == 0) return -1;
  let t = <i32>load<u16>(e, ENT_TARGET);
  crtDelete(e);
  crtRemoved++;
  return t;
}

/** Bytes of one crtExpire record: the entry's client, VIPA and ports words
 * as in the entry, then target id | state << 16. */
export const EXPIRED_RECORD: u32 = 16;

/** One bounded step of idle expiry: looks at up to budget slots from where the
 * last step stopped and removes the entries idle past their state's timeout
 * (a SYN or closing entry: synMs; an established one: idleMs). Each removed
 * entry goes to out as a record (EXPIRED_RECORD), so the caller can find its
 * DPT row and update its counts; the step stops early when outCap records are
 * written. Returns how many were removed. An entry another delete moves back
 * past the cursor waits for the next round. */
export function crtExpire(nowMs: u32, budget: u32, out: usize, outCap: u32): u32 {
  let n: u32 = 0;
  let i = cursor;
  while (budget > 0 && n < outCap) {
    budget--;
    let e = slot(i);
    if (load<u32>(e) != 0) {
      let s = load<u8>(e, ENT_STATE);
      let limit = s == CRT_ESTABLISHED ? idleTimeout : synTimeout;
      if (nowMs - load<u32>(e, ENT_LAST) > limit) {
        let o = out + <usize>n * EXPIRED_RECORD;
        memory.copy(o, e, 12);
        store<u32>(o, <u32>load<u16>(e, ENT_TARGET) | (<u32>s << 16), 12);
        n++;
        crtDelete(e);
        crtExpired++;
        continue;   // the run shifted back: look at slot i again
      }
    }
    i = next(i);
  }
  cursor = i;
  return n;
}

/** Slot i's entry, or 0 when it is empty (listing the table: CRT rows). */
export function crtAt(i: u32): usize {
  if (i >= nslots) return 0;
  let e = slot(i);
  return load<u32>(e) != 0 ? e : 0;
}
