// The neighbour (ARP) cache, RFC 826 with RFC 1122 2.3.2 timing. A bounded
// open-addressing table; each unresolved entry holds a bounded queue of
// frames. Requests are retried once a second; after the last try the queue is
// dropped (counted), its frames go back to the demultiplexer to tell their
// senders, and the host learns that the address is unreachable.
// An entry lives as Linux's (after RFC 4861 7.3's neighbour unreachability
// detection, and RFC 1122 2.3.2.1): REACHABLE for its lifetime, then STALE
// (kept, unused, for another lifetime); the first frame through a STALE entry
// makes it DELAY, and unless an upper layer confirms the neighbour meanwhile
// (TCP saw new data acknowledged: neighConfirm), PROBE, unicast requests to
// the address it had. In every one of these states frames keep going to that
// address; only if three probes go unanswered is it dropped and resolved anew.
// So a long transfer never stalls, or loses a 64 KiB segment, as entries age.
// Address conflicts (RFC 5227): the host may probe each address it adds; ARP
// from another MAC claiming one of ours is counted, reported to the host
// and defended by one announcement per DEFEND_INTERVAL, never learnt.
import { ld16, ld32, st16, st32, copyMac } from '../wire/bytes';
import { ETH_DST, ETH_SRC, ETH_TYPE, ETH_HLEN, ETH_MIN, ETHERTYPE_ARP, isGroup, macEq } from '../wire/ether';
import { ARP_HTYPE, ARP_PTYPE, ARP_HLEN, ARP_PLEN, ARP_OPER, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, ARP_LEN,
  ARP_REQUEST, ARP_REPLY } from '../wire/arp';
import { isMartianSource } from '../wire/ipv4';
import { csumComplete } from '../wire/checksum';
import { FRAME_CSUM_PARTIAL, FRAME_GSO } from '../base/scb';
import { arenaReserve, pktAlloc, pktFree, pktFreeChain, pktFreeQueue, nbufs, txBegin, txCommit, txPostBuf, txFrameCopy, txGatherClear, BUF_DATA, PKT_QNEXT, PKT_DATA, PKT_LEN } from '../base/mem';
import { count, C_ARP_RX, C_ARP_BAD, C_ARP_NOT_FOR_US, C_ARP_TX, C_ARP_RETRY, C_ARP_FAILED, C_ARP_QUEUE_FULL, C_TX_GSO_DROP,
  C_ARP_DROPPED, C_NEIGH_EVICTED, C_NEIGH_PROBE_FAILED, C_ARP_CONFLICT } from '../base/counters';
import { now, wakeAt, NEVER, ms } from '../base/time';
import { emit, EV_UNREACHABLE, EV_ADDR_CONFLICT } from '../base/events';
import { ifMac, arpIface, srcForHop } from './iface';

const FREE: u8 = 0;
const INCOMPLETE: u8 = 1;
const REACHABLE: u8 = 2;    // STALE once its time has passed, gone a lifetime later
const DELAY_STATE: u8 = 3;  // STALE and used: waits for an upper layer's confirmation before probing
const PROBE_STATE: u8 = 4;  // still used, being revalidated by unicast requests

// Entry, 32 bytes: ip u32, state u8, ifx u8, tries u8, qlen u8, mac[6] at 8,
// queue head at 16, tail at 20, time (retry or expiry, µs) at 24.
const E_IP: usize = 0;
const E_STATE: usize = 4;
const E_IFX: usize = 5;
const E_TRIES: usize = 6;
const E_QLEN: usize = 7;
const E_MAC: usize = 8;
const E_QHEAD: usize = 16;
const E_QTAIL: usize = 20;
const E_TIME: usize = 24;
const PROBE: u32 = 8;
const MAX_TRIES: u8 = 3;
const RETRY: i64 = 1000_000;
const DELAY_FIRST_PROBE: i64 = 5000_000;   // Linux's delay_first_probe_time
/** RFC 5227's DEFEND_INTERVAL: at most one defending announcement in this long. */
const DEFEND_INTERVAL: i64 = 10_000_000;

let table: usize = 0;
let size: u32 = 0;
let shift: u32 = 0;
let qmax: u32 = 0;
// Frames waiting for ARP, all neighbours together: at most an eighth of the
// pool, so a flood towards silent addresses cannot drain it.
let queued: u32 = 0;
let ttl: i64 = 0;
let nextDue: i64 = NEVER;
/** Some entry may be in DELAY: upper layers' confirmations are wanted (neighConfirm). */
export let neighDelaying = false;
let defendFrom: i64 = 0;

export function neighLayout(n: u32, queue: u32, ttlMs: u32): void {
  size = 8;
  while (size < n && size < 65536) size <<= 1;
  shift = 32 - ctz<u32>(size);
  table = arenaReserve(<usize>size << 5);
  qmax = min<u32>(queue, 255);
  ttl = ms(<i64>ttlMs);
}

// @ts-ignore: decorator
@inline function slot(ip: u32, i: u32): usize {
  return table + (<usize>(((ip * 0x9e3779b1) >>> shift) + i & (size - 1)) << 5);
}

function find(ip: u32): usize {
  for (let i: u32 = 0; i < PROBE; i++) {
    let e = slot(ip, i);
    if (load<u8>(e, E_STATE) != FREE && load<u32>(e, E_IP) == ip) return e;
  }
  return 0;
}

/** Takes e's queue, counted as dropped: its frames, chained by PKT_QNEXT. */
function takeQueue(e: usize, counter: i32): usize {
  queued -= <u32>load<u8>(e, E_QLEN);
  let b = <usize>load<u32>(e, E_QHEAD);
  store<u32>(e, 0, E_QHEAD);
  store<u32>(e, 0, E_QTAIL);
  store<u8>(e, 0, E_QLEN);
  for (let c = b; c; c = <usize>load<u32>(c, PKT_QNEXT)) count(counter);
  return b;
}

/** A slot for ip: free, else expired, else the oldest in its probe window (evicted). */
function claim(ip: u32): usize {
  let victim: usize = 0;
  for (let i: u32 = 0; i < PROBE; i++) {
    let e = slot(ip, i);
    let st = load<u8>(e, E_STATE);
    if (st == FREE) return e;
    if (st == REACHABLE && load<i64>(e, E_TIME) <= now) return e;
    if (victim == 0 || load<i64>(e, E_TIME) < load<i64>(victim, E_TIME)) victim = e;
  }
  count(C_NEIGH_EVICTED);
  if (load<u8>(victim, E_STATE) == INCOMPLETE) pktFreeQueue(takeQueue(victim, C_ARP_DROPPED));
  // Free, so the caller starts it afresh (an INCOMPLETE victim would otherwise keep its address and interface).
  store<u8>(victim, FREE, E_STATE);
  return victim;
}

/** An ARP frame to dst (0: broadcast), with target hardware address tha (0: zero). */
function sendArp(ifx: u32, oper: u32, dst: usize, tha: usize, tpa: u32, spa: u32): void {
  let f = txBegin(ETH_MIN);
  if (!f) return;
  if (dst) copyMac(f + ETH_DST, dst);
  else { store<u32>(f + ETH_DST, 0xffffffff); store<u16>(f + ETH_DST + 4, 0xffff); }
  copyMac(f + ETH_SRC, ifMac(ifx));
  st16(f + ETH_TYPE, ETHERTYPE_ARP);
  let a = f + ETH_HLEN;
  st16(a + ARP_HTYPE, 1);
  st16(a + ARP_PTYPE, 0x0800);
  store<u8>(a + ARP_HLEN, 6);
  store<u8>(a + ARP_PLEN, 4);
  st16(a + ARP_OPER, oper);
  copyMac(a + ARP_SHA, ifMac(ifx));
  st32(a + ARP_SPA, spa);
  if (tha) copyMac(a + ARP_THA, tha);
  else { store<u32>(a + ARP_THA, 0); store<u16>(a + ARP_THA + 4, 0); }
  st32(a + ARP_TPA, tpa);
  memory.fill(a + ARP_LEN, 0, ETH_MIN - ETH_HLEN - ARP_LEN);
  txCommit(f, ETH_MIN, ifx, 0);
  count(C_ARP_TX);
}

/** Tells the link that address a is here now, on ifx: a gratuitous ARP
 * (RFC 5227 2.3's announcement: a broadcast request with a as both sender
 * and target), so neighbours' caches move to us as a routing stack takes a VIPA. */
export function arpAnnounce(ifx: u32, a: u32): void { sendArp(ifx, ARP_REQUEST, 0, 0, a, a); }

/** RFC 5227 2.1.1's probe for address a on ifx: a broadcast request from
 * sender address 0, which the address's holder, if any, answers (a conflict). */
export function arpProbe(ifx: u32, a: u32): void { sendArp(ifx, ARP_REQUEST, 0, 0, a, 0); }

/** A request for e's address: broadcast, or (revalidating) straight to the address it had. */
function request(e: usize): void {
  let ifx = <u32>load<u8>(e, E_IFX);
  let ip = load<u32>(e, E_IP);
  let dst = load<u8>(e, E_STATE) == PROBE_STATE ? e + E_MAC : 0;
  sendArp(ifx, ARP_REQUEST, dst, 0, ip, srcForHop(ifx, ip));   // our address in the target's subnet
}

function schedule(t: i64): void {
  if (t < nextDue) nextDue = t;
  wakeAt(t);
}

/** Sends every queued frame of a freshly resolved entry. */
function flush(e: usize): void {
  queued -= <u32>load<u8>(e, E_QLEN);
  let b = <usize>load<u32>(e, E_QHEAD);
  store<u32>(e, 0, E_QHEAD);
  store<u32>(e, 0, E_QTAIL);
  store<u8>(e, 0, E_QLEN);
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    let f = <usize>load<u32>(b, PKT_DATA);
    copyMac(f + ETH_DST, e + E_MAC);
    if (!txPostBuf(b, f, load<u32>(b, PKT_LEN), <u32>load<u8>(e, E_IFX))) pktFree(b);
    b = next;
  }
}

/** Sends a frame (Ethernet source and type already written) to next hop ip
 * on ifx, with its tx flags and GSO size. The frame is built in the tx arena
 * (b 0: if the neighbour is unresolved it is copied into a packet buffer and
 * queued), or lies in packet buffer b, which is sent, or queued (without
 * flags: not a GSO frame), as it is, and freed once sent. */
export function neighOutput(b: usize, f: usize, len: u32, ifx: u32, ip: u32, txFlags: u32, gso: u32): void {
  let e = find(ip);
  if (e) {
    let st = load<u8>(e, E_STATE);
    let t = load<i64>(e, E_TIME);
    // STALE: past its lifetime, but not long past. Keep using it, and give
    // an upper layer the chance to confirm it before a probe asks.
    let stale = st == REACHABLE && t <= now && t > now - ttl;
    if ((st == REACHABLE && t > now) || st == DELAY_STATE || st == PROBE_STATE || stale) {
      copyMac(f + ETH_DST, e + E_MAC);
      if (!b) txCommit(f, len, ifx | (txFlags << 16), gso);
      else if (!txPostBuf(b, f, len, ifx | (txFlags << 16), gso)) pktFreeChain(b);
      if (stale) {
        store<u8>(e, DELAY_STATE, E_STATE);
        // Never longer than a lifetime: a short-lived configuration re-probes as fast as it expires.
        let at = now + min<i64>(DELAY_FIRST_PROBE, ttl);
        store<i64>(e, at, E_TIME);
        schedule(at);
        neighDelaying = true;
      }
      return;
    }
  }
  if (!e) e = claim(ip);
  let fresh = load<u8>(e, E_STATE) != INCOMPLETE;
  if (fresh) {
    store<u32>(e, ip, E_IP);
    store<u8>(e, INCOMPLETE, E_STATE);
    store<u8>(e, <u8>ifx, E_IFX);
    store<u8>(e, 1, E_TRIES);
    store<u8>(e, 0, E_QLEN);
    store<u32>(e, 0, E_QHEAD);
    store<u32>(e, 0, E_QTAIL);
    store<i64>(e, now + RETRY, E_TIME);
    schedule(now + RETRY);
  }
  // Queue first: the request below reuses the arena space the frame is in.
  // A queued frame keeps no flags: it waits plain, so a GSO frame (larger than a buffer) cannot.
  if (txFlags & FRAME_GSO) count(C_TX_GSO_DROP);
  else if (<u32>load<u8>(e, E_QLEN) >= qmax || queued >= (nbufs >> 3)) count(C_ARP_QUEUE_FULL);
  else {
    if (!b) {
      b = pktAlloc();
      if (b) {
        // A payload left in place (scatter-gather) joins its headers: the frame waits whole.
        let d = b + BUF_DATA;
        txFrameCopy(d, f, len, 0, len);
        if (txFlags & FRAME_CSUM_PARTIAL) csumComplete(d);
        f = d;
      }
    }
    if (b) {
      store<u32>(b, <u32>f, PKT_DATA);
      store<u32>(b, len, PKT_LEN);
      let tail = <usize>load<u32>(e, E_QTAIL);
      if (tail) store<u32>(tail, <u32>b, PKT_QNEXT);
      else store<u32>(e, <u32>b, E_QHEAD);
      store<u32>(e, <u32>b, E_QTAIL);
      store<u8>(e, load<u8>(e, E_QLEN) + 1, E_QLEN);
      queued++;
      b = 0;
    }
  }
  if (b) pktFreeChain(b);
  // The frame waits (or was dropped): a payload it left in place must not go out with the request.
  txGatherClear();
  if (fresh) request(e);
}

/** An upper layer's proof that ip is reachable (Linux's neigh_confirm, RFC
 * 4861 7.3.1): a DELAY entry is REACHABLE again without a probe. */
export function neighConfirm(ip: u32): void {
  let e = find(ip);
  if (e && load<u8>(e, E_STATE) == DELAY_STATE) {
    store<u8>(e, REACHABLE, E_STATE);
    store<i64>(e, now + ttl, E_TIME);
  }
}

/** Retries and gives up on unresolved neighbours, probes DELAY ones no one
 * confirmed, and gives up on ones being revalidated. Returns the frames that
 * waited for the ones it gave up on (chained by PKT_QNEXT: frame at PKT_DATA,
 * PKT_LEN bytes), for the caller to tell their senders and free. */
export function neighTimer(): usize {
  if (now < nextDue) { if (nextDue != NEVER) wakeAt(nextDue); return 0; }
  nextDue = NEVER;
  neighDelaying = false;
  let failed: usize = 0, failedTail: usize = 0;
  for (let i: u32 = 0; i < size; i++) {
    let e = table + (<usize>i << 5);
    let st = load<u8>(e, E_STATE);
    if (st != INCOMPLETE && st != DELAY_STATE && st != PROBE_STATE) continue;
    let t = load<i64>(e, E_TIME);
    if (st == DELAY_STATE) {
      if (t > now) { neighDelaying = true; schedule(t); continue; }
      store<u8>(e, PROBE_STATE, E_STATE);
      store<u8>(e, 1, E_TRIES);
      t = now + RETRY;
      store<i64>(e, t, E_TIME);
      request(e);
    } else if (t <= now) {
      let tries = load<u8>(e, E_TRIES);
      if (tries >= MAX_TRIES && st == PROBE_STATE) {
        // Gone, or moved: the next frame resolves it afresh, by broadcast.
        count(C_NEIGH_PROBE_FAILED);
        store<u8>(e, FREE, E_STATE);
        continue;
      }
      if (tries >= MAX_TRIES) {
        count(C_ARP_FAILED);
        store<u8>(e, FREE, E_STATE);
        let qtail = <usize>load<u32>(e, E_QTAIL);
        let q = takeQueue(e, C_ARP_DROPPED);
        if (q) {
          if (failedTail) store<u32>(failedTail, <u32>q, PKT_QNEXT); else failed = q;
          failedTail = qtail;
        }
        emit(EV_UNREACHABLE, load<u32>(e, E_IP), 0, 0);
        continue;
      }
      store<u8>(e, tries + 1, E_TRIES);
      count(C_ARP_RETRY);
      t = now + RETRY;
      store<i64>(e, t, E_TIME);
      request(e);
    }
    schedule(t);
  }
  return failed;
}

/** ARP input, with RFC 826's merge rule. Frees the buffer. */
export function arpInput(b: usize, f: usize, len: u32, ifx: u32): void {
  count(C_ARP_RX);
  let a = f + ETH_HLEN;
  if (len < ETH_HLEN + ARP_LEN || ld16(a + ARP_HTYPE) != 1 || ld16(a + ARP_PTYPE) != 0x0800 ||
      load<u8>(a + ARP_HLEN) != 6 || load<u8>(a + ARP_PLEN) != 4 || isGroup(a + ARP_SHA)) {
    count(C_ARP_BAD); pktFree(b); return;
  }
  let oper = ld16(a + ARP_OPER);
  let spa = ld32(a + ARP_SPA);
  let tpa = ld32(a + ARP_TPA);
  if ((oper != ARP_REQUEST && oper != ARP_REPLY) || (spa != 0 && isMartianSource(spa)) ||
      macEq(a + ARP_SHA, ifMac(ifx))) {
    count(C_ARP_BAD); pktFree(b); return;
  }
  if (spa != 0 && arpIface(spa) == <i32>ifx) {
    count(C_ARP_CONFLICT);
    emit(EV_ADDR_CONFLICT, spa, (ifx << 16) | ld16(a + ARP_SHA), ld32(a + ARP_SHA + 2));
    if (now >= defendFrom) { defendFrom = now + DEFEND_INTERVAL; arpAnnounce(ifx, spa); }
    pktFree(b); return;
  }
  let merged = false;
  let known = false;
  // Only a reply to us alone shows that our frames reach its sender (Linux:
  // requests and broadcast replies do not assert reachability).
  let confirms = oper == ARP_REPLY && !isGroup(f + ETH_DST);
  if (spa != 0) {
    let e = find(spa);
    // The table is keyed by address alone: an entry stays on the interface it was made for
    // (its queued frames were built for that link's MTU and source MAC).
    if (e) { known = true; if (<u32>load<u8>(e, E_IFX) == ifx) { learn(e, a + ARP_SHA, ifx, confirms); merged = true; } }
  }
  if (arpIface(tpa) != <i32>ifx) { count(C_ARP_NOT_FOR_US); pktFree(b); return; }
  if (!known && spa != 0) {
    let e = claim(spa);
    store<u32>(e, spa, E_IP);
    store<u32>(e, 0, E_QHEAD);
    store<u32>(e, 0, E_QTAIL);
    store<u8>(e, 0, E_QLEN);
    store<u8>(e, INCOMPLETE, E_STATE);
    learn(e, a + ARP_SHA, ifx, true);
  }
  // A probe (sender address 0) is answered too, to its sender's MAC: it then sees the address taken.
  if (oper == ARP_REQUEST) sendArp(ifx, ARP_REPLY, a + ARP_SHA, a + ARP_SHA, spa, tpa);
  pktFree(b);
}

/** What an ARP frame tells of e: its address; reachability only if it
 * confirms, or resolves e. An unconfirmed new address makes it STALE. */
function learn(e: usize, mac: usize, ifx: u32, confirms: bool): void {
  let wasIncomplete = load<u8>(e, E_STATE) == INCOMPLETE;
  let moved = !macEq(e + E_MAC, mac);
  copyMac(e + E_MAC, mac);
  store<u8>(e, <u8>ifx, E_IFX);
  if (confirms || wasIncomplete) {
    store<u8>(e, REACHABLE, E_STATE);
    store<i64>(e, now + ttl, E_TIME);
  } else if (moved) {
    store<u8>(e, REACHABLE, E_STATE);
    store<i64>(e, now, E_TIME);
  }
  if (wasIncomplete) flush(e);
}

/** Number of entries in use (for tests and stats). */
export function neighCount(): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < size; i++) {
    let e = table + (<usize>i << 5);
    let st = load<u8>(e, E_STATE);
    if (st == INCOMPLETE || st == DELAY_STATE || st == PROBE_STATE || (st == REACHABLE && load<i64>(e, E_TIME) > now)) n++;
  }
  return n;
}
