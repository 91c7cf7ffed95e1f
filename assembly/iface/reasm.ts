// IPv4 reassembly (RFC 791 3.2, RFC 815), bounded: a fixed number of
// datagrams in progress, a cap on fragments per datagram and on buffers held
// in all, and a timeout. Overlapping fragments discard the whole datagram and
// every later fragment of it (RFC 5722's rule, applied to IPv4); exact
// duplicates are dropped on their own, since networks do duplicate.
import { ld16 } from '../wire/bytes';
import { IP_ID, IP_PROTO, IP_MF, IP_OFFMASK, ipSrc, ipDst } from '../wire/ipv4';
import { arenaReserve, pktFree, nbufs, PKT_QNEXT, PKT_FRAG_OFF, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT } from '../base/mem';
import { count, C_IP_FRAG_RX, C_REASM_OK, C_REASM_TIMEOUT, C_REASM_OVERLAP, C_REASM_DUP, C_REASM_NOMEM,
  C_REASM_BAD } from '../base/counters';
import { now, wakeAt, NEVER, ms } from '../base/time';

// Slot, 40 bytes: src, dst, id|proto<<16, state, head buffer, total (0: unknown),
// have (payload bytes), nfrags, deadline (µs).
const S_SRC: usize = 0;
const S_DST: usize = 4;
const S_KEY: usize = 8;
const S_STATE: usize = 12;
const S_HEAD: usize = 16;
const S_TOTAL: usize = 20;
const S_HAVE: usize = 24;
const S_NFRAGS: usize = 28;
const S_DEADLINE: usize = 32;
const SLOT: usize = 40;

const FREE: u32 = 0;
const ACTIVE: u32 = 1;
const DEAD: u32 = 2;    // overlapped: swallow the rest until the timeout

const MAX_FRAGS: u32 = 128;
const MAX_DATAGRAM: u32 = 65535;

let slots: usize = 0;
let nslots: u32 = 0;
let maxBufs: u32 = 0;       // 0: half the pool
let held: u32 = 0;
let timeout: i64 = 0;
let nextDue: i64 = NEVER;

export function reasmLayout(n: u32, bufs: u32, timeoutMs: u32): void {
  nslots = n;
  slots = arenaReserve(<usize>n * SLOT);
  maxBufs = bufs;
  timeout = ms(<i64>timeoutMs);
}

function release(s: usize): void {
  let b = <usize>load<u32>(s, S_HEAD);
  while (b) {
    let next = <usize>load<u32>(b, PKT_NEXT);
    pktFree(b);
    held--;
    b = next;
  }
  store<u32>(s, 0, S_HEAD);
}

function lookup(src: u32, dst: u32, key: u32): usize {
  let free: usize = 0;
  let oldest: usize = 0;
  for (let i: u32 = 0; i < nslots; i++) {
    let s = slots + <usize>i * SLOT;
    let st = load<u32>(s, S_STATE);
    if (st == FREE) { if (!free) free = s; continue; }
    if (load<u32>(s, S_SRC) == src && load<u32>(s, S_DST) == dst && load<u32>(s, S_KEY) == key) return s;
    if (!oldest || load<i64>(s, S_DEADLINE) < load<i64>(oldest, S_DEADLINE)) oldest = s;
  }
  let s = free;
  if (!s) {
    // Full: the oldest datagram in progress makes room (a flood degrades, memory does not grow).
    count(C_REASM_NOMEM);
    release(oldest);
    s = oldest;
  }
  store<u32>(s, src, S_SRC);
  store<u32>(s, dst, S_DST);
  store<u32>(s, key, S_KEY);
  store<u32>(s, ACTIVE, S_STATE);
  store<u32>(s, 0, S_HEAD);
  store<u32>(s, 0, S_TOTAL);
  store<u32>(s, 0, S_HAVE);
  store<u32>(s, 0, S_NFRAGS);
  let t = now + timeout;
  store<i64>(s, t, S_DEADLINE);
  if (t < nextDue) nextDue = t;
  wakeAt(t);
  return s;
}

function kill(s: usize, counter: i32): void {
  count(counter);
  release(s);
  store<u32>(s, DEAD, S_STATE);
}

/** Takes a fragment (owns b). Returns the head of the whole datagram once
 * complete (PKT_IP: first fragment's IP header, payload chained through
 * PKT_NEXT, PKT_TOTAL: its length), else 0. */
export function reasmInput(b: usize, ip: usize, hlen: u32, tot: u32, frag: u32): usize {
  count(C_IP_FRAG_RX);
  let off = (frag & IP_OFFMASK) << 3;
  let len = tot - hlen;
  let more = (frag & IP_MF) != 0;
  if ((more && (len == 0 || (len & 7) != 0)) || off + len > MAX_DATAGRAM - hlen) {
    count(C_REASM_BAD); pktFree(b); return 0;
  }
  let s = lookup(ipSrc(ip), ipDst(ip), ld16(ip + IP_ID) | (<u32>load<u8>(ip, IP_PROTO) << 16));
  if (load<u32>(s, S_STATE) == DEAD) { pktFree(b); return 0; }
  let total = load<u32>(s, S_TOTAL);
  if (!more) {
    if ((total != 0 && total != off + len) || off + len < load<u32>(s, S_HAVE)) { kill(s, C_REASM_BAD); pktFree(b); return 0; }
    total = off + len;
    store<u32>(s, total, S_TOTAL);
  }
  if (total != 0 && off + len > total) { kill(s, C_REASM_BAD); pktFree(b); return 0; }
  // Find the place by offset; reject overlaps, drop exact duplicates.
  let prev: usize = 0;
  let cur = <usize>load<u32>(s, S_HEAD);
  while (cur && load<u32>(cur, PKT_FRAG_OFF) < off) { prev = cur; cur = <usize>load<u32>(cur, PKT_NEXT); }
  if (cur && load<u32>(cur, PKT_FRAG_OFF) == off && load<u32>(cur, PKT_LEN) == len) { count(C_REASM_DUP); pktFree(b); return 0; }
  if (!more && cur) { kill(s, C_REASM_BAD); pktFree(b); return 0; }
  if ((prev && load<u32>(prev, PKT_FRAG_OFF) + load<u32>(prev, PKT_LEN) > off) || (cur && off + len > load<u32>(cur, PKT_FRAG_OFF))) {
    kill(s, C_REASM_OVERLAP); pktFree(b); return 0;
  }
  let n = load<u32>(s, S_NFRAGS);
  if (n >= MAX_FRAGS || held >= (maxBufs ? maxBufs : nbufs >> 1)) { kill(s, C_REASM_NOMEM); pktFree(b); return 0; }
  store<u32>(b, <u32>(ip + hlen), PKT_DATA);
  store<u32>(b, len, PKT_LEN);
  store<u32>(b, off, PKT_FRAG_OFF);
  store<u32>(b, <u32>cur, PKT_NEXT);
  if (prev) store<u32>(prev, <u32>b, PKT_NEXT); else store<u32>(s, <u32>b, S_HEAD);
  held++;
  store<u32>(s, n + 1, S_NFRAGS);
  let have = load<u32>(s, S_HAVE) + len;
  store<u32>(s, have, S_HAVE);
  if (total == 0 || have != total) return 0;
  // Complete: no overlaps, so the bytes we have cover [0, total).
  let head = <usize>load<u32>(s, S_HEAD);
  for (let c = head; c; c = <usize>load<u32>(c, PKT_NEXT)) held--;
  store<u32>(s, 0, S_HEAD);
  store<u32>(s, FREE, S_STATE);
  store<u32>(head, total, PKT_TOTAL);
  count(C_REASM_OK);
  return head;
}

/** Drops datagrams whose time is up. Returns those whose first fragment we
 * had, chained by PKT_QNEXT, for the caller to tell their senders (RFC 792:
 * ICMP time exceeded, quoting that fragment) and free. */
export function reasmTimer(): usize {
  if (now < nextDue) { if (nextDue != NEVER) wakeAt(nextDue); return 0; }
  nextDue = NEVER;
  let expired: usize = 0, tail: usize = 0;
  for (let i: u32 = 0; i < nslots; i++) {
    let s = slots + <usize>i * SLOT;
    let st = load<u32>(s, S_STATE);
    if (st == FREE) continue;
    let t = load<i64>(s, S_DEADLINE);
    if (t > now) { if (t < nextDue) nextDue = t; wakeAt(t); continue; }
    if (st == ACTIVE) {
      count(C_REASM_TIMEOUT);
      let head = <usize>load<u32>(s, S_HEAD);
      if (head && load<u32>(head, PKT_FRAG_OFF) == 0) {
        for (let c = head; c; c = <usize>load<u32>(c, PKT_NEXT)) held--;
        store<u32>(s, 0, S_HEAD);
        store<u32>(head, 0, PKT_QNEXT);
        if (tail) store<u32>(tail, <u32>head, PKT_QNEXT); else expired = head;
        tail = head;
      } else release(s);
    }
    store<u32>(s, FREE, S_STATE);
  }
  return expired;
}

/** Buffers held by reassembly. */
export function reasmHeld(): u32 { return held; }
