// Control messages between the stacks of a cluster (DESIGN.md §4): UDP
// datagrams between the stacks' own addresses, each a 16-byte header, a typed
// body and an HMAC-SHA-256 trailer over both under the cluster key. All
// fields are in network byte order. docs/CLUSTER.md has the byte-exact table.
//
// ctlParse checks every length before it reads, so no input traps; each
// refused message is counted by reason. A replay guard keeps, per sender,
// its epoch (a new one for each start of the sender), the highest sequence
// number seen and a 64-message window below it: an older epoch, a number
// below the window or one already in it is a replay. A receiver that
// restarts accepts each sender's next message as its first (as IPsec's
// anti-replay does without a persistent counter).
import { arenaReserve, tableSlot } from '../base/mem';
import { hmacSha256, macEqual, hmacKeySet, SHA256_BYTES } from './hmac';

export const CTL_VERSION: u8 = 1;
export const CTL_HEADER: u32 = 16;
export const CTL_MAC: u32 = SHA256_BYTES;

// Header offsets.
export const H_VERSION: usize = 0;   // u8
export const H_TYPE: usize = 1;      // u8
export const H_BODY_LEN: usize = 2;  // u16
export const H_EPOCH: usize = 4;     // u32
export const H_SEQ: usize = 8;       // u32
export const H_SENDER: usize = 12;   // u32 the sender's own address

export const T_ANNOUNCE: u8 = 1;
export const T_HEARTBEAT: u8 = 2;
export const T_STATUS: u8 = 3;
export const T_CONN_NEW: u8 = 4;
export const T_CONN_END: u8 = 5;
export const T_REPORT: u8 = 6;
const T_LAST: u8 = 6;

// Announcement: the routing stack's view of one VIPA.
export const A_VIPA: usize = 0;        // u32
export const A_ROUTING: usize = 4;     // u32 the routing stack's own address
export const A_METHOD: usize = 8;      // u8 METHOD_*
export const A_NRANGES: usize = 9;     // u8 port ranges (at least 1)
export const A_NBACKUPS: usize = 10;   // u8 backup routing stacks, ranked
export const A_NTARGETS: usize = 11;   // u8 candidate targets (0: the VIPA is withdrawn)
export const A_AFFINITY: usize = 12;   // u32 seconds of timed affinity (0: none)
export const A_IDLE: usize = 16;       // u32 seconds an established connection's CRT entry lives idle
export const A_CRT: usize = 20;        // u32 CRT entries the VIPA may hold (a backup sizes its share by it)
export const A_FLAGS: usize = 24;      // u8 ANN_*; then 3 reserved bytes
export const A_FIXED: u32 = 28;        // then ranges (4 B: lo, hi), backups (4 B: address), targets (A_TARGET B)
/** Takeback when idle: the VIPA goes back to a better-ranked stack only once its owner has no connections. */
export const ANN_WHENIDLE: u8 = 1;
export const A_TARGET: u32 = 12;       // u32 address, u16 id, u16 weight (0: draining), u16 outbound ports lo, u16 hi
export const METHOD_ROUNDROBIN: u8 = 0;
export const METHOD_WEIGHTED: u8 = 1;
export const METHOD_LEASTCONN: u8 = 2;
export const METHOD_HOTSTANDBY: u8 = 3;
export const METHOD_HASH: u8 = 4;

// Heartbeat: the sender's interval (as VRRPv3's advertisement carries it) and
// its part in each VIPA it may route: rank (priority, 0 best) and HB_* flags.
export const B_INTERVAL: usize = 0;    // u16 ms: the sender is dead after 3 of these (plus a skew) without one
export const B_COUNT: usize = 2;       // u16 VIPAs that follow
export const B_FIXED: u32 = 4;
export const B_ENTRY: u32 = 8;         // u32 VIPA, u8 rank, u8 HB_*, u16 reserved
export const HB_OWN: u8 = 1;           // the sender routes the VIPA
export const HB_TAKING: u8 = 2;        // ... and is taking it over: targets, report your connections to it
export const HB_WANT: u8 = 4;          // the sender, better ranked than the VIPA's owner, waits to take it back
export const HB_TAKEBACK: u8 = 8;      // with HB_TAKING: it takes the VIPA back from a worse rank

// Status: a target's listeners on one VIPA and its load.
export const ST_VIPA: usize = 0;        // u32
export const ST_LOAD: usize = 4;        // u32 active connections
export const ST_OVERFLOWS: usize = 8;   // u32 accept-queue overflows since it started
export const ST_COUNT: usize = 12;      // u16 ports that follow (4 B: port, listeners; 0 listeners = unlisten)
export const ST_FIXED: u32 = 16;

// Connection new / end: one or more connections on a VIPA.
export const C_COUNT: usize = 0;       // u16 (at least 1)
export const C_FIXED: u32 = 4;
export const C_ENTRY: u32 = 12;        // u32 client, u32 VIPA, u16 client port, u16 VIPA port

// Report: a target's listeners and connections on a VIPA, in parts.
export const R_VIPA: usize = 0;        // u32
export const R_KIND: usize = 4;        // u8 REPORT_RECONCILE or REPORT_TAKEOVER
export const R_FLAGS: usize = 5;       // u8 REPORT_LAST on the last part
export const R_PART: usize = 6;        // u16 part number from 0
export const R_NPORTS: usize = 8;      // u16 ports (4 B: port, listeners)
export const R_NCONNS: usize = 10;     // u16 connections (8 B: u32 client, u16 client port, u16 VIPA port)
export const R_NAFF: usize = 12;       // u16 timed affinities (8 B: u32 client, u32 ms left), after the connections
export const R_FIXED: u32 = 16;
export const REPORT_RECONCILE: u8 = 0;
export const REPORT_TAKEOVER: u8 = 1;
export const REPORT_LAST: u8 = 1;

// Refusals (ctlParse's negative results) and their counters.
export const CTL_SHORT: i32 = -1;        // shorter than a header and a MAC
export const CTL_BAD_VERSION: i32 = -2;
export const CTL_UNKNOWN_TYPE: i32 = -3;
export const CTL_BAD_LENGTH: i32 = -4;   // the body length does not match the datagram
export const CTL_BAD_MAC: i32 = -5;
export const CTL_REPLAY: i32 = -6;
export const CTL_BAD_BODY: i32 = -7;     // authentic, but malformed: counts and sizes disagree, or no sender
export const CTL_NO_ROOM: i32 = -8;      // a sender more than the replay guard has room for
const NREASONS: u32 = 8;
const DROPS: usize = memory.data(<i32>NREASONS * 4, 4);
/** Messages ctlParse accepted. */
export let ctlAccepted: u32 = 0;

/** Messages refused for a reason (one of CTL_*). */
export function ctlDrops(reason: i32): u32 {
  let i = <u32>(-reason - 1);
  return i < NREASONS ? load<u32>(DROPS + (<usize>i << 2)) : 0;
}

function drop(reason: i32): i32 {
  let a = DROPS + (<usize>(-reason - 1) << 2);
  store<u32>(a, load<u32>(a) + 1);
  return reason;
}

// @ts-ignore: decorator
@inline function get16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
// @ts-ignore: decorator
@inline function get32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
// @ts-ignore: decorator
@inline function put16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
// @ts-ignore: decorator
@inline function put32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** The announcement body's size for its counts. */
export function annSize(nranges: u32, nbackups: u32, ntargets: u32): u32 {
  return A_FIXED + (nranges << 2) + (nbackups << 2) + ntargets * A_TARGET;
}
/** Where port range i lies in an announcement body b. */
export function annRange(b: usize, i: u32): usize { return b + A_FIXED + (<usize>i << 2); }
/** Where backup i lies (after the ranges). */
export function annBackup(b: usize, i: u32): usize { return annRange(b, load<u8>(b, A_NRANGES)) + (<usize>i << 2); }
/** Where target i lies (after the backups). */
export function annTarget(b: usize, i: u32): usize { return annBackup(b, load<u8>(b, A_NBACKUPS)) + <usize>i * A_TARGET; }

// Body writers: each *Begin writes a body's fixed part at b and returns the
// whole body's size for its counts; the *Set functions fill its entries.

export function annBegin(b: usize, vipa: u32, routing: u32, method: u8, nranges: u32, nbackups: u32, ntargets: u32, affinity: u32,
  idle: u32, crt: u32, flags: u8): u32 {
  put32(b + A_IDLE, idle);
  put32(b + A_CRT, crt);
  store<u32>(b + A_FLAGS, flags);
  put32(b + A_VIPA, vipa);
  put32(b + A_ROUTING, routing);
  store<u8>(b, method, A_METHOD);
  store<u8>(b, <u8>nranges, A_NRANGES);
  store<u8>(b, <u8>nbackups, A_NBACKUPS);
  store<u8>(b, <u8>ntargets, A_NTARGETS);
  put32(b + A_AFFINITY, affinity);
  return annSize(nranges, nbackups, ntargets);
}
export function annSetRange(b: usize, i: u32, lo: u32, hi: u32): void { let r = annRange(b, i); put16(r, lo); put16(r + 2, hi); }
export function annSetBackup(b: usize, i: u32, addr: u32): void { put32(annBackup(b, i), addr); }
export function annSetTarget(b: usize, i: u32, addr: u32, id: u32, weight: u32, outLo: u32, outHi: u32): void {
  let t = annTarget(b, i);
  put32(t, addr); put16(t + 4, id); put16(t + 6, weight); put16(t + 8, outLo); put16(t + 10, outHi);
}

export function heartbeatBegin(b: usize, intervalMs: u32, count: u32): u32 {
  put16(b + B_INTERVAL, intervalMs);
  put16(b + B_COUNT, count);
  return B_FIXED + count * B_ENTRY;
}
export function heartbeatSet(b: usize, i: u32, vipa: u32, rank: u32, flags: u8): void {
  let e = b + B_FIXED + <usize>i * B_ENTRY;
  put32(e, vipa); store<u8>(e, <u8>rank, 4); store<u8>(e, flags, 5); store<u16>(e, 0, 6);
}

export function statusBegin(b: usize, vipa: u32, active: u32, overflows: u32, nports: u32): u32 {
  put32(b + ST_VIPA, vipa);
  put32(b + ST_LOAD, active);
  put32(b + ST_OVERFLOWS, overflows);
  put16(b + ST_COUNT, nports);
  put16(b + ST_COUNT + 2, 0);
  return ST_FIXED + (nports << 2);
}
export function statusSetPort(b: usize, i: u32, port: u32, listeners: u32): void {
  let e = b + ST_FIXED + (<usize>i << 2);
  put16(e, port); put16(e + 2, listeners);
}

export function connBegin(b: usize, count: u32): u32 {
  put16(b + C_COUNT, count);
  put16(b + C_COUNT + 2, 0);
  return C_FIXED + count * C_ENTRY;
}
export function connSet(b: usize, i: u32, client: u32, vipa: u32, cport: u32, vport: u32): void {
  let e = b + C_FIXED + <usize>i * C_ENTRY;
  put32(e, client); put32(e + 4, vipa); put16(e + 8, cport); put16(e + 10, vport);
}

export function reportBegin(b: usize, vipa: u32, kind: u8, flags: u8, part: u32, nports: u32, nconns: u32, naff: u32 = 0): u32 {
  put32(b + R_VIPA, vipa);
  store<u8>(b, kind, R_KIND);
  store<u8>(b, flags, R_FLAGS);
  put16(b + R_PART, part);
  put16(b + R_NPORTS, nports);
  put16(b + R_NCONNS, nconns);
  put16(b + R_NAFF, naff);
  store<u16>(b + R_NAFF + 2, 0);
  return R_FIXED + (nports << 2) + ((nconns + naff) << 3);
}
export function reportSetPort(b: usize, i: u32, port: u32, listeners: u32): void {
  let e = b + R_FIXED + (<usize>i << 2);
  put16(e, port); put16(e + 2, listeners);
}
export function reportSetConn(b: usize, i: u32, client: u32, cport: u32, vport: u32): void {
  let e = b + R_FIXED + (<usize>get16(b + R_NPORTS) << 2) + (<usize>i << 3);
  put32(e, client); put16(e + 4, cport); put16(e + 6, vport);
}

export function reportSetAff(b: usize, i: u32, client: u32, msLeft: u32): void {
  let e = b + R_FIXED + (<usize>get16(b + R_NPORTS) << 2) + (<usize>(get16(b + R_NCONNS) + i) << 3);
  put32(e, client); put32(e + 4, msLeft);
}

/** A body's big-endian fields, for readers: at b + one of the offsets above. */
export function ctlGet16(p: usize): u32 { return get16(p); }
export function ctlGet32(p: usize): u32 { return get32(p); }

/** Writes the header and the MAC around a body of bodyLen bytes already at p + CTL_HEADER. Returns the message's length. */
export function ctlSeal(p: usize, type: u8, epoch: u32, seq: u32, sender: u32, bodyLen: u32): u32 {
  store<u8>(p, CTL_VERSION, H_VERSION);
  store<u8>(p, type, H_TYPE);
  put16(p + H_BODY_LEN, bodyLen);
  put32(p + H_EPOCH, epoch);
  put32(p + H_SEQ, seq);
  put32(p + H_SENDER, sender);
  let n = CTL_HEADER + bodyLen;
  hmacSha256(p, n, p + n);
  return n + CTL_MAC;
}

const MAC: usize = memory.data(32, 16);

// The last accepted message's header fields.
export let ctlType: u8 = 0;
export let ctlEpoch: u32 = 0;
export let ctlSeq: u32 = 0;
export let ctlSender: u32 = 0;
export let ctlBody: usize = 0;
export let ctlBodyLen: u32 = 0;

/** Checks a body's counts against its length; true when they agree. */
export function bodyOk(type: u8, b: usize, n: u32): bool {
  if (type == T_ANNOUNCE) {
    if (n < A_FIXED) return false;
    let nr = <u32>load<u8>(b, A_NRANGES), nt = <u32>load<u8>(b, A_NTARGETS);
    if (nr == 0 || load<u8>(b, A_METHOD) > METHOD_HASH) return false;
    if (n != annSize(nr, load<u8>(b, A_NBACKUPS), nt)) return false;
    for (let i: u32 = 0; i < nr; i++) {
      let r = annRange(b, i);
      let lo = get16(r), hi = get16(r + 2);
      if (lo == 0 || hi < lo) return false;
    }
    for (let i: u32 = 0; i < nt; i++) {
      let t = annTarget(b, i);
      let lo = get16(t + 8), hi = get16(t + 10);
      if (hi < lo) return false;
    }
    return true;
  }
  if (type == T_HEARTBEAT) return n >= B_FIXED && n == B_FIXED + get16(b + B_COUNT) * B_ENTRY;
  if (type == T_STATUS) return n >= ST_FIXED && n == ST_FIXED + (get16(b + ST_COUNT) << 2);
  if (type == T_CONN_NEW || type == T_CONN_END) {
    if (n < C_FIXED) return false;
    let c = get16(b + C_COUNT);
    return c != 0 && n == C_FIXED + c * C_ENTRY;
  }
  // T_REPORT
  if (n < R_FIXED || load<u8>(b, R_KIND) > REPORT_TAKEOVER) return false;
  return n == R_FIXED + (get16(b + R_NPORTS) << 2) + ((get16(b + R_NCONNS) + get16(b + R_NAFF)) << 3);
}

// The replay guard: per sender, 24 bytes.
const G_ADDR: usize = 0;      // u32 sender address; 0: free
const G_EPOCH: usize = 4;     // u32
const G_TOP: usize = 8;       // u32 highest sequence number accepted
const G_WINDOW: usize = 16;   // u64 bit k: sequence number top - k accepted
const G_ENTRY: u32 = 24;
const WINDOW: u32 = 64;
let guard: usize = 0;
let guardCap: u32 = 0;

/** Reserves the replay guard for up to senders stacks. */
export function ctlLayout(senders: u32): void {
  guardCap = senders;
  guard = arenaReserve(<usize>senders * G_ENTRY);
}


/** 0 when (epoch, seq) is new for the guard entry g, else CTL_REPLAY. */
function fresh(g: usize, sender: u32, epoch: u32, seq: u32): i32 {
  if (load<u32>(g, G_ADDR) != sender) return 0;
  let e = load<u32>(g, G_EPOCH);
  if (epoch != e) return epoch > e ? 0 : CTL_REPLAY;
  let top = load<u32>(g, G_TOP);
  if (seq > top) return 0;
  let k = top - seq;
  if (k >= WINDOW) return CTL_REPLAY;
  return (load<u64>(g, G_WINDOW) >> k) & 1 ? CTL_REPLAY : 0;
}

function accept(g: usize, sender: u32, epoch: u32, seq: u32): void {
  if (load<u32>(g, G_ADDR) != sender || load<u32>(g, G_EPOCH) != epoch) {
    store<u32>(g, sender, G_ADDR);
    store<u32>(g, epoch, G_EPOCH);
    store<u32>(g, seq, G_TOP);
    store<u64>(g, 1, G_WINDOW);
    return;
  }
  let top = load<u32>(g, G_TOP);
  let w = load<u64>(g, G_WINDOW);
  if (seq > top) {
    let k = seq - top;
    w = k >= WINDOW ? 1 : (w << k) | 1;
    store<u32>(g, seq, G_TOP);
  } else {
    w |= <u64>1 << (top - seq);
  }
  store<u64>(g, w, G_WINDOW);
}

/** Checks the message of len bytes at p: its type (> 0) when it is well formed,
 * authentic under the cluster key (hmacKey; none set: nothing is) and not a replay, with its fields
 * in ctlType, ctlEpoch, ctlSeq, ctlSender, ctlBody and ctlBodyLen; else a
 * CTL_* reason (< 0), counted. Reads nothing outside [p, p + len). */
export function ctlParse(p: usize, len: u32): i32 {
  if (len < CTL_HEADER + CTL_MAC) return drop(CTL_SHORT);
  if (load<u8>(p, H_VERSION) != CTL_VERSION) return drop(CTL_BAD_VERSION);
  let type = load<u8>(p, H_TYPE);
  if (type == 0 || type > T_LAST) return drop(CTL_UNKNOWN_TYPE);
  let n = get16(p + H_BODY_LEN);
  if (CTL_HEADER + n + CTL_MAC != len) return drop(CTL_BAD_LENGTH);
  if (!hmacKeySet) return drop(CTL_BAD_MAC);
  hmacSha256(p, CTL_HEADER + n, MAC);
  if (!macEqual(MAC, p + CTL_HEADER + n)) return drop(CTL_BAD_MAC);
  let epoch = get32(p + H_EPOCH), seq = get32(p + H_SEQ), sender = get32(p + H_SENDER);
  if (sender == 0) return drop(CTL_BAD_BODY);
  // The sender's guard entry, a free one, or 0 when the table is full.
  let g = tableSlot(guard, guardCap, G_ENTRY, sender);
  if (g == 0) return drop(CTL_NO_ROOM);
  let r = fresh(g, sender, epoch, seq);
  if (r < 0) return drop(r);
  if (!bodyOk(type, p + CTL_HEADER, n)) return drop(CTL_BAD_BODY);
  accept(g, sender, epoch, seq);
  ctlType = type;
  ctlEpoch = epoch;
  ctlSeq = seq;
  ctlSender = sender;
  ctlBody = p + CTL_HEADER;
  ctlBodyLen = n;
  ctlAccepted++;
  return <i32>type;
}
