// The cluster layer (DESIGN.md §1, §4; docs/CLUSTER.md): the routing stack
// and its targets, above TCP and UDP, below the ABI. net/demux.ts hands it
// every datagram first (clusterInput); the rest of the time it runs at poll
// (clusterPoll).
//
// Roles, per VIPA: the routing stack holds the VIPA as an ADDR_ANNOUNCE
// address, keeps the DPT and the CRT, announces the VIPA (at once and every
// ANNOUNCE_MS, so a stack that starts late learns it) and forwards each
// datagram of a connection to its target IP-in-IP (RFC 2003), in place. A
// candidate target holds the VIPA as ADDR_NOARP, reports its listeners on
// the VIPA's ports (status: whenever they change, and every ANNOUNCE_MS),
// its connections' ends, and its outbound connections before their SYN
// leaves, and takes IP-in-IP for the VIPA only from the VIPA's routing stack
// or its announced backups. Replies leave the target from the VIPA straight
// to the client. Every other stack only learns who routes what.
//
// Control messages are UDP datagrams on the control port between own
// addresses (announcements and heartbeats to the limited broadcast), sealed
// and checked by control.ts under the cluster key.
//
// No single point of failure (issue 14): the announcement ranks backup
// routing stacks. Election follows VRRPv3 (RFC 5798) with rank as priority:
// the owner of a VIPA beats every hbMs/3; a candidate that hears nothing from
// the owner for 3 intervals plus a skew that grows with its rank claims the
// VIPA (a gratuitous ARP), and its heartbeat, saying it is taking over, asks
// every target for its connections on the VIPA. It holds the datagrams it has
// no entry for until the targets' takeover reports have rebuilt the CRT and
// the DPT, then routes again; no established connection sees a RST. Two
// owners (a healed partition) yield to the better rank; a returning better
// rank takes the VIPA back after a hold-down (takeback immediate) or once the
// owner has no connections left (when idle). Members beat too, more slowly:
// the owner forgets a target it no longer hears, and its clients get RSTs.
import { ld16, ld32, st16 } from '../wire/bytes';
import { sumBytes, finish, pseudoSum } from '../wire/checksum';
import { IP_HLEN, IP_LEN, IP_FRAG, IP_DF, IP_PROTO, IP_BROADCAST, PROTO_TCP, PROTO_UDP, PROTO_IPIP, ipHlen, ipSrc, ipDst } from '../wire/ipv4';
import { TCP_SPORT, TCP_DPORT, TCP_SEQ, TCP_OFF, TCP_FLAGS, TCP_CSUM, TCP_HLEN, TH_SYN, TH_ACK, TH_RST, TH_FIN } from '../wire/tcp';
import { UDP_DPORT, UDP_LEN, UDP_HLEN } from '../wire/udp';
import { ICMP_UNREACH, UNREACH_NEEDFRAG } from '../wire/icmp';
import { arenaReserve, tableSlot, pktFreeChain, PKT_IP, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT, PKT_RX } from '../base/mem';
import { count, C_CLU_FORWARDED, C_CLU_LOCAL, C_CLU_NO_TARGET, C_CLU_CRT_FULL, C_CLU_TOO_BIG, C_CLU_FWD_DROP,
  C_CLU_DECAP, C_CLU_IPIP_REFUSED, C_CLU_CTL_RX, C_CLU_CTL_TX, C_CLU_CTL_SHORT, C_CLU_CTL_STRANGER, C_CLU_VIPA_FULL,
  C_CLU_EXPIRED, C_CLU_ENDED, C_CLU_TAKEOVERS, C_CLU_YIELDS, C_CLU_HELD, C_CLU_HELD_DROP, C_CLU_MISDIRECTED,
  C_CLU_TARGETS_LOST, C_TCP_LISTEN_DROP, counterGet } from '../base/counters';
import { now, wakeAt } from '../base/time';
import { rand32 } from '../base/random';
import { FRAME_CSUM_OK } from '../base/scb';
import { emit, EV_CLUSTER } from '../base/events';
import { E_INVAL, E_NOSPC, E_ADDRNOTAVAIL, E_NOENT } from '../base/errno';
import { localIface, addrAdd, addrDel, addrFlags, ifMtu, ifGsoMax, ifScatterGather, ifaceGen, Route, ROUTE_SLOT, ADDR_NOARP, ADDR_ANNOUNCE } from '../iface/iface';
import { arpAnnounce } from '../iface/neigh';
import { ipRoute, ipEncap, ipInput } from '../iface/ip';
import { icmpError } from '../iface/icmp';
import { udpOutput } from '../udp/udp';
import { tcb, ntcbs, listenGen, connLookup, S_LISTEN, S_SYN_RCVD } from '../tcp/tcb';
import { sendReset } from '../tcp/output';
import { tcpProbe } from '../tcp/timeouts';
import { ENDS, endsN, endsOn, endsClear } from '../tcp/ends';
import { hmacKey } from './hmac';
import { crtLayout, crtInit, crtSetIdle, crtLookup, crtHome, crtInsert, crtSeen, crtDelete, crtExpire, crtAt, crtSlots,
  ENT_CLIENT, ENT_VIPA, ENT_PORTS, ENT_TARGET, ENT_LAST, ENT_STATE, ENT_ORIGIN, ENT_FRAMES, ENT_CREATED, EXPIRED_RECORD,
  CRT_ESTABLISHED, ORIGIN_SYN, ORIGIN_OUTBOUND, ORIGIN_REPORT, crtEntries } from './crt';
import { ctlLayout, ctlParse, ctlSeal, ctlGet16, ctlGet32, ctlType, ctlSender, ctlBody, ctlBodyLen, ctlEpoch, bodyOk, annRange,
  annBackup, annTarget, annSetTarget, statusBegin, statusSetPort, connBegin, connSet, CTL_HEADER, H_SENDER, T_ANNOUNCE, T_STATUS,
  T_CONN_NEW, T_CONN_END, T_REPORT, T_HEARTBEAT, reportBegin, reportSetPort, R_FIXED, R_NPORTS, R_NCONNS, R_NAFF, R_KIND,
  R_FLAGS, REPORT_RECONCILE, REPORT_TAKEOVER, REPORT_LAST, heartbeatBegin, heartbeatSet, B_INTERVAL, B_COUNT, B_FIXED,
  B_ENTRY, HB_OWN, HB_TAKING, HB_TAKEBACK, HB_WANT, A_VIPA, A_AFFINITY, A_ROUTING, A_METHOD, A_NRANGES, A_NBACKUPS, A_NTARGETS,
  A_TARGET, A_IDLE, A_CRT, A_FLAGS, ANN_WHENIDLE, ST_VIPA, ST_OVERFLOWS, ST_COUNT, ST_FIXED, C_COUNT, C_FIXED, C_ENTRY,
  R_VIPA as RP_VIPA } from './control';
import { dptLayout, dptRow, dptRowAt, dptFind, dptTarget, dptSlotOf, dptSlot, dptStatus, dptConnNew, dptEstablished,
  dptConnEnd, dptAdopt, R_VIPA, R_PORT, R_METHOD, R_NSLOTS, D_ADDR, D_ID, D_WEIGHT, D_LISTENERS, D_TOTAL, D_ACTIVE, D_SYNS,
  D_ESTABLISHED, D_OVERFLOWS, D_QUIESCED, QUIESCED, dptReady, dptHealthy } from './dpt';
import { selectTarget } from './select';

/** A VIPA this stack knows of but has no part in. */
export const ROLE_NONE: u32 = 0;
/** This stack is the VIPA's routing stack. */
export const ROLE_ROUTING: u32 = 1;
/** This stack is one of the VIPA's candidate targets. */
export const ROLE_TARGET: u32 = 2;

/** What a cluster event (EV_CLUSTER's c & 0xff) says; its reason (c >> 8 & 0xff) is one of CR_*. */
export const CE_CLAIM: u32 = 1;        // this stack claimed the VIPA (b: the owner it took it from, 0: none)
export const CE_READY: u32 = 2;        // its takeover is complete: it routes again (b: CRT entries; c >> 16: ms it took)
export const CE_YIELD: u32 = 3;        // it gave the VIPA up (b: to whom, 0: not known yet)
export const CE_OWNER: u32 = 4;        // another stack routes the VIPA now (b: its own address)
export const CE_TARGET_LOST: u32 = 5;  // a target went silent and left the DPT (b: its address; c >> 16: CRT entries dropped)
export const CR_CONFIG: u32 = 0;       // vipa_route
export const CR_START: u32 = 1;        // it started and heard no owner
export const CR_DEAD: u32 = 2;         // the owner went silent
export const CR_TAKEBACK: u32 = 3;     // a better rank took it back
export const CR_SPLIT: u32 = 4;        // two owners met: the better rank keeps it
export const CR_IDLE: u32 = 5;         // takeback when idle: the owner had no connections left

export const ANNOUNCE_MS: u32 = 1000;
/** Heartbeats a stack sends per interval it advertises: a backup still waits 3 intervals, but at 30 % loss of
 * the control messages a live owner would lose all of VRRP's 3 in a row every 37 intervals; it loses 14 of 4
 * per interval about once a day. */
const BEATS: u32 = 4;
/** Members that route nothing beat this many times slower: the owner needs to know they live, not in 100 ms. */
const MEMBER_BEATS: u32 = 5;
/** A takeover waits for the targets' reports at most this many heartbeat intervals. */
const TAKE_BEATS: u32 = 5;
const HOLD_N: u32 = 128;
const NO_RANK: u32 = 255;
/** How often a target reports its connections on each VIPA (reconciliation). */
export const REPORT_MS: u32 = 5000;
/** After a takeover, a datagram no entry knows is dropped for this long, not reset: a reconciliation report may still name it. */
const GRACE_MS: u32 = REPORT_MS + 1000;
/** CRT entries of a SYN, or of a connection the client is closing, go after this long idle. */
const SYN_IDLE_MS: u32 = 60_000;
/** Slots of the CRT idle expiry looks at per step, a step every EXPIRE_MS at most: no poll scans the whole
 * table, and a full one of a million entries is gone over in a few seconds. */
const EXPIRE_BUDGET: u32 = 4096;
const EXPIRE_MS: i64 = 10;

// Caps on an announcement (so each VIPA's entry has a fixed size).
const MAX_VIPAS: u32 = 16;
const MAX_RANGES: u32 = 16;
const MAX_BACKUPS: u32 = 4;
const MAX_TARGETS: u32 = 32;
/** Target ids: global, one per address, as the CRT's u16 and the DPT's D_ID hold them. */
const MAX_IDS: u32 = 255;
/** The range of ephemeral ports the routing stack shares out among a VIPA's targets (RFC 6335's dynamic ports). */
const OUT_LO: u32 = 49152;
const OUT_N: u32 = 16384;

// A VIPA's entry: its announcement's body as it came (big-endian, control.ts's A_*) and this stack's state.
const V_ADDR: usize = 0;      // u32 the VIPA; 0: a free entry
const V_ROLE: usize = 4;      // u8 ROLE_*
const V_RANK: usize = 5;      // u8 this stack's rank: 0 the configured routing stack, k its k-th backup; NO_RANK neither
const V_TAKING: usize = 6;    // u8 1: it claimed the VIPA and waits for the targets' reports
const V_WANT: usize = 7;      // u8 1: a worse rank owns it; this stack waits to take it back
const V_GEN: usize = 8;       // u32 listenGen when its status was last sent, + 1 (0: send one now)
const V_ENTRIES: usize = 12;  // u32 CRT entries (routing)
const V_CRT_MAX: usize = 16;  // u32 its share of the CRT (routing)
const V_BODY_LEN: usize = 20; // u32
const V_OWNER: usize = 24;    // u32 the stack that routes it, as far as this one knows (0: none heard)
const V_HEARD: usize = 28;    // u32 ms: the owner was last heard
const V_OWNER_INT: usize = 32; // u32 ms: the owner's heartbeat interval
const V_SINCE: usize = 36;    // u32 ms: claimed (owner), or began to want it back
const V_REPORTED: usize = 40; // u32 ms: a target's last takeover report to the owner
const V_WANTED: usize = 44;   // u32 ms: a better rank last said it wants the VIPA back (owner)
const V_DONE: usize = 48;     // u32 bit i: target i's takeover report is complete
const V_MARK: usize = 52;     // u8 scratch
const V_REASON: usize = 54;   // u8 CR_* of the last claim
const V_BODY: usize = 64;
const BODY_MAX: u32 = 16 + 4 * MAX_RANGES + 4 * MAX_BACKUPS + A_TARGET * MAX_TARGETS;
const VE: u32 = (<u32>V_BODY + BODY_MAX + 15) & ~15;

let vipas: usize = 0;
/** CRT entries per VIPA entry and target id (u32s): a draining target goes from the announcement when its last one does. */
let idEntries: usize = 0;
/** Target id → own address (0: unused). */
const IDS: usize = memory.data(<i32>(MAX_IDS + 1) * 4, 4);
/** The VIPAs this stack routes, for the data path's one scan per datagram, and their entries. */
const ROUTED: usize = memory.data(<i32>MAX_VIPAS * 4, 4);
const ROUTED_V: usize = memory.data(<i32>MAX_VIPAS * 4, 4);
let nRouted: u32 = 0;
/** The VIPAs this stack only serves as a target: a TCP datagram to one that did not come through the tunnel is misdirected. */
const SERVED: usize = memory.data(<i32>MAX_VIPAS * 4, 4);
let nServed: u32 = 0;
/** Datagrams held during a takeover. */
const HELD: usize = memory.data(<i32>HOLD_N * 4, 4);
let nHeld: u32 = 0;

// Liveness: per member, when it was last heard, the interval it beats at, and whether the owner gave it up for dead.
const L_ADDR: usize = 0;      // u32; 0: free
const L_HEARD: usize = 4;     // u32 ms
const L_INT: usize = 8;       // u16 ms
const L_DEAD: usize = 10;     // u8
const L_EPOCH: usize = 12;    // u32 the epoch of its last heartbeat
const L_SIZE: u32 = 16;
let live: usize = 0;
let liveCap: u32 = 0;
/** The heartbeat interval, ms, and how long a returning better rank waits before it takes a VIPA back. */
let hbMs: u32 = 20;
let holdMs: u32 = 1000;
let nextBeat: i64 = 0;
/** The earliest time the cluster asked to be polled at: a poll much later than that comes after a stall. */
let wake: i64 = 0;

export let clusterOn = false;
let self: u32 = 0;
let ctlPort: u32 = 0;
let epoch: u32 = 0;
let seq: u32 = 0;
let nextAnnounce: i64 = 0;
let nextExpire: i64 = 0;
let nextReport: i64 = 0;
/** Messages are built here: a header, a body and the MAC. */
const MSG: usize = memory.data(1536, 16);
const MSG_BODY_MAX: u32 = 1400;
const EXPIRED: usize = memory.data(<i32>EXPIRED_RECORD * 64, 4);
/** Ports of a status being built: port | listeners << 16. */
const PORTS: usize = memory.data(64 * 4, 4);
const MAX_STATUS_PORTS: u32 = 64;
/** The route to the last target forwarded to (rtTo), while the interfaces' generation is rtGen. */
const rt = changetype<Route>(memory.data(ROUTE_SLOT));
let rtTo: u32 = 0;
let rtGen: u32 = 0;

/** Reserves the CRT, the DPT and the replay guard (init). */
export function clusterLayout(crtMax: u32, rows: u32, perRow: u32, maglev: u32, senders: u32): void {
  crtLayout(crtMax);
  dptLayout(rows, perRow, maglev);
  ctlLayout(senders);
  liveCap = senders;
  live = arenaReserve(<usize>senders * L_SIZE);
  vipas = arenaReserve(<usize>MAX_VIPAS * VE);
  idEntries = arenaReserve(<usize>MAX_VIPAS * (MAX_IDS + 1) * 4);
}

export function clusterInit(): void { crtInit(SYN_IDLE_MS, 900_000); }

// @ts-ignore: decorator
@inline function vipaAt(i: u32): usize { return vipas + <usize>i * VE; }
// @ts-ignore: decorator
@inline function nowMs(): u32 { return <u32>(now / 1000); }

function vipaFind(a: u32): usize {
  for (let i: u32 = 0; i < MAX_VIPAS; i++) if (load<u32>(vipaAt(i), V_ADDR) == a) return vipaAt(i);
  return 0;
}

function vipaNew(a: u32): usize {
  for (let i: u32 = 0; i < MAX_VIPAS; i++) {
    let v = vipaAt(i);
    if (load<u32>(v, V_ADDR) == 0) {
      memory.fill(v, 0, VE);
      store<u32>(v, a, V_ADDR);
      store<u8>(v, <u8>NO_RANK, V_RANK);
      store<u32>(v, nowMs(), V_HEARD);
      store<u32>(v, hbMs, V_OWNER_INT);
      return v;
    }
  }
  count(C_CLU_VIPA_FULL);
  return 0;
}

// @ts-ignore: decorator
@inline function body(v: usize): usize { return v + V_BODY; }
// @ts-ignore: decorator
@inline function ntargets(v: usize): u32 { return load<u8>(v + V_BODY, A_NTARGETS); }

/** Target address a's record in announcement body b, or 0. */
function targetRec(b: usize, a: u32): usize {
  for (let i: u32 = 0, n = <u32>load<u8>(b, A_NTARGETS); i < n; i++) if (ctlGet32(annTarget(b, i)) == a) return annTarget(b, i);
  return 0;
}

/** The id of target address a among v's candidates, or -1. */
function targetId(v: usize, a: u32): i32 {
  let t = targetRec(body(v), a);
  return t ? <i32>ctlGet16(t + 4) : -1;
}

/** Whether a is a candidate of v that takes new connections: listed, and not draining (weight 0). */
function serving(v: usize, a: u32): bool {
  let t = targetRec(body(v), a);
  return t != 0 && ctlGet16(t + 6) != 0;
}

/** The CRT entries of v for target id, after adding d (also to the VIPA's total). */
function entries(v: usize, id: u32, d: i32): u32 {
  store<u32>(v, load<u32>(v, V_ENTRIES) + d, V_ENTRIES);
  let p = idEntries + (((v - vipas) / VE * (MAX_IDS + 1) + id) << 2);
  let n = load<u32>(p) + d;
  store<u32>(p, n);
  return n;
}

function inRanges(v: usize, port: u32): bool {
  for (let i: u32 = 0, n = <u32>load<u8>(body(v), A_NRANGES); i < n; i++) {
    let r = annRange(body(v), i);
    if (port >= ctlGet16(r) && port <= ctlGet16(r + 2)) return true;
  }
  return false;
}

/** The rank of address a in announcement body b: 0 its routing stack, k its k-th backup; NO_RANK neither. */
function rankOf(b: usize, a: u32): u32 {
  if (ctlGet32(b + A_ROUTING) == a) return 0;
  for (let i: u32 = 0, n = <u32>load<u8>(b, A_NBACKUPS); i < n; i++) if (ctlGet32(annBackup(b, i)) == a) return i + 1;
  return NO_RANK;
}

/** The stack that routes v now: the one heard, else the configured routing stack. */
function owner(v: usize): u32 {
  let o = load<u32>(v, V_OWNER);
  return o ? o : ctlGet32(body(v) + A_ROUTING);
}

/** Member a's liveness entry; with add, a new one if it has none (0 when the table is full). */
function liveAt(a: u32, add: bool): usize {
  let l = tableSlot(live, liveCap, L_SIZE, a);
  if (l == 0 || load<u32>(l, L_ADDR) == a) return l;
  if (!add) return 0;
  store<u32>(l, a, L_ADDR);
  return l;
}

/** Whether member a was heard within 3 of its intervals and not given up for dead. */
function alive(a: u32): bool {
  let l = liveAt(a, false);
  return l != 0 && load<u8>(l, L_DEAD) == 0 && nowMs() - load<u32>(l, L_HEARD) <= 3 * <u32>load<u16>(l, L_INT);
}

/** The id of own address a: its own if it has one, else a new one; 0 when all are taken. */
function idFor(a: u32): u32 {
  for (let i: u32 = 1; i <= MAX_IDS; i++) if (load<u32>(IDS + (<usize>i << 2)) == a) return i;
  for (let i: u32 = 1; i <= MAX_IDS; i++) {
    if (load<u32>(IDS + (<usize>i << 2)) == 0) { store<u32>(IDS + (<usize>i << 2), a); return i; }
  }
  return 0;
}

function routedSet(): void {
  nRouted = 0;
  nServed = 0;
  for (let i: u32 = 0; i < MAX_VIPAS; i++) {
    let v = vipaAt(i);
    let a = load<u32>(v, V_ADDR), role = load<u8>(v, V_ROLE);
    if (a != 0 && role == ROLE_TARGET) store<u32>(SERVED + (<usize>(nServed++) << 2), a);
    if (a == 0 || role != ROLE_ROUTING) continue;
    store<u32>(ROUTED + (<usize>nRouted << 2), a);
    store<u32>(ROUTED_V + (<usize>(nRouted++) << 2), <u32>v);
  }
}

// ---- configuration (abi) ----

/** Joins the cluster: own address, control port, the key (keyLen bytes at key), this start's epoch and first
 * sequence number, the heartbeat interval (ms; 0: 20) and the hold-down before a takeback (ms). */
export function clusterJoin(me: u32, port: u32, key: usize, keyLen: u32, ep: u32, seq0: u32, interval: u32, hold: u32): i32 {
  if (localIface(me) < 0) return E_ADDRNOTAVAIL;
  if (port == 0 || port > 65535 || keyLen < 16 || interval > 10000) return E_INVAL;
  hmacKey(key, keyLen);
  self = me; ctlPort = port; epoch = ep; seq = seq0;
  hbMs = interval ? max<u32>(interval, 3) : 20;
  holdMs = hold;
  // A member that restarts may come back with another link address: the others' neighbour entries follow at once.
  arpAnnounce(0, me);
  clusterOn = true;
  endsOn();
  return 0;
}

/** This stack becomes the routing stack of the VIPA an announcement body (len bytes at b, as control.ts's)
 * describes; outbound port ranges, the routing stack's address, the idle timeout and the CRT share are filled in
 * here, and ids where the body gives none. Again for the same VIPA: the new config, with every CRT entry kept; a
 * target left out that still has entries stays, draining (weight 0), until they end. With wait, it first listens for
 * an owner (a backup that took the VIPA over while this stack was away): heard none within a dead interval, it
 * claims the VIPA; else it takes it back as the VIPA's takeback says. */
export function vipaRoute(b: usize, len: u32, idleMs: u32, crtMax: u32, wait: bool): i32 {
  if (!clusterOn || len > BODY_MAX || !bodyOk(T_ANNOUNCE, b, len)) return E_INVAL;
  let nr = <u32>load<u8>(b, A_NRANGES), nb = <u32>load<u8>(b, A_NBACKUPS), nt = <u32>load<u8>(b, A_NTARGETS);
  if (nr > MAX_RANGES || nb > MAX_BACKUPS || nt == 0 || nt > MAX_TARGETS) return E_INVAL;
  let a = ctlGet32(b + A_VIPA);
  if (a == 0 || a == IP_BROADCAST || a == self) return E_INVAL;
  let v = vipaFind(a);
  if (v == 0) {
    if (localIface(a) >= 0) return E_INVAL;    // an address of this stack's own
    v = vipaNew(a);
    if (v == 0) return E_NOSPC;
  }
  let share = OUT_N / nt;
  for (let i: u32 = 0; i < nt; i++) {
    let t = annTarget(b, i);
    let id = ctlGet16(t + 4);
    if (id > MAX_IDS) return E_INVAL;
    if (id == 0) id = idFor(ctlGet32(t));
    if (id == 0) return E_NOSPC;
    store<u32>(IDS + (<usize>id << 2), ctlGet32(t));
    annSetTarget(b, i, ctlGet32(t), id, max<u32>(ctlGet16(t + 6), 1), OUT_LO + i * share, OUT_LO + (i + 1) * share - 1);
  }
  st32be(b + A_ROUTING, self);
  st32be(b + A_IDLE, idleMs / 1000);
  st32be(b + A_CRT, max<u32>(crtMax, 1));
  // A new config while a backup owns the VIPA waits its turn too: it takes effect when this stack takes it back.
  if ((wait || load<u8>(v, V_RANK) == 0) && load<u8>(v, V_ROLE) != ROLE_ROUTING) {
    store<u32>(v, nowMs(), V_HEARD);
    return adoptBody(v, b, len);
  }
  // The new body is put together in MSG: the config's targets, then the old ones left out that still have entries.
  let nbody = MSG + CTL_HEADER;
  memory.copy(nbody, b, len);
  let routing = load<u8>(v, V_ROLE) == ROLE_ROUTING;
  for (let i: u32 = 0, n = routing ? ntargets(v) : 0; i < n; i++) {
    let t = annTarget(body(v), i);
    if (targetRec(b, ctlGet32(t)) || entries(v, ctlGet16(t + 4), 0) == 0) continue;
    if (len + A_TARGET > BODY_MAX) return E_NOSPC;
    memory.copy(nbody + len, t, A_TARGET);
    store<u16>(nbody + len + 6, 0);
    store<u8>(nbody, <u8>(++nt), A_NTARGETS);
    len += A_TARGET;
  }
  memory.copy(body(v), nbody, len);
  store<u32>(v, len, V_BODY_LEN);
  store<u8>(v, 0, V_RANK);
  store<u32>(v, 0, V_GEN);
  crtSetIdle(idleMs);
  if (routing) {
    store<u32>(v, max<u32>(crtMax, 1), V_CRT_MAX);
    rowsUpdate(v);
    announce(v);
    return 0;
  }
  return claim(v, CR_CONFIG);
}

/** A VIPA's body learnt as a member (from its owner, or a config to wait with): this stack's rank and role, and the
 * VIPA held as ADDR_NOARP while it is a target. */
function adoptBody(v: usize, b: usize, len: u32): i32 {
  let a = load<u32>(v, V_ADDR);
  memory.copy(body(v), b, len);
  store<u32>(v, len, V_BODY_LEN);
  let target = targetId(v, self) >= 0;
  if (target && localIface(a) < 0) addrAdd(0, a, 32, ADDR_NOARP);
  else if (!target && (addrFlags(a) & ADDR_NOARP)) addrDel(a);
  store<u8>(v, <u8>(target ? ROLE_TARGET : ROLE_NONE), V_ROLE);
  store<u8>(v, <u8>rankOf(b, self), V_RANK);
  store<u32>(v, 0, V_GEN);
  if (ntargets(v) == 0) store<u32>(v, 0, V_ADDR);   // withdrawn
  routedSet();
  return 0;
}

/** Withdraws a VIPA: every target drains, so a new SYN finds none ready and gets a RST, while the entries it has
 * are still forwarded; the address, its DPT rows and the VIPA go with the last entry (drain). */
export function vipaUnroute(a: u32): i32 {
  let v = vipaFind(a);
  if (v == 0 || load<u8>(v, V_ROLE) != ROLE_ROUTING) return E_NOENT;
  for (let i: u32 = 0, n = ntargets(v); i < n; i++) store<u16>(annTarget(body(v), i) + 6, 0);
  rowsUpdate(v);
  announce(v);
  drain(v);
  return 0;
}

/** v's DPT rows after its config changed: the method and the candidates; a target draining or no longer among
 * them stops getting new connections. */
function rowsUpdate(v: usize): void {
  let a = load<u32>(v, V_ADDR);
  for (let i: u32 = 0, r = dptRowAt(0); r; r = dptRowAt(++i)) {
    if (load<u32>(r, R_VIPA) != a) continue;
    store<u8>(r, load<u8>(body(v), A_METHOD), R_METHOD);
    for (let k: u32 = 0, n = <u32>load<u8>(r, R_NSLOTS); k < n; k++) {
      let s = dptSlot(r, k);
      if (!serving(v, load<u32>(s, D_ADDR))) dptStatus(r, k, 0, load<u32>(s, D_OVERFLOWS));
    }
    rowFill(v, r);
  }
}

/** Drops v's draining targets whose entries have all gone, and tells the targets (a target left out lets the VIPA
 * go); with no target left, the VIPA is withdrawn: its address and DPT rows go, and the last announcement, with no
 * targets, tells every stack. */
function drain(v: usize): void {
  let b = body(v);
  let n = ntargets(v), k: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let t = annTarget(b, i);
    if (ctlGet16(t + 6) == 0 && entries(v, ctlGet16(t + 4), 0) == 0) continue;
    if (k < i) memory.copy(annTarget(b, k), t, A_TARGET);
    k++;
  }
  if (k == n) return;
  store<u8>(b, <u8>k, A_NTARGETS);
  store<u32>(v, load<u32>(v, V_BODY_LEN) - (n - k) * A_TARGET, V_BODY_LEN);
  announce(v);
  if (k) return;
  let a = load<u32>(v, V_ADDR);
  addrDel(a);
  for (let i: u32 = 0, r = dptRowAt(0); r; r = dptRowAt(++i)) if (load<u32>(r, R_VIPA) == a) store<u32>(r, 0, R_VIPA);
  store<u32>(v, 0, V_ADDR);
  routedSet();
}

// @ts-ignore: decorator
@inline function st32be(p: usize, x: u32): void { store<u32>(p, bswap<u32>(x)); }

/** Every candidate of v into DPT row r, ranked in the announcement's order. */
function rowFill(v: usize, r: usize): void {
  for (let i: u32 = 0, n = ntargets(v); i < n; i++) {
    let t = annTarget(body(v), i);
    dptTarget(r, ctlGet32(t), ctlGet16(t + 4), ctlGet16(t + 6), i);
  }
}

// ---- owning a VIPA: claim, takeover, yield ----

/** This stack takes VIPA v: holds it as ADDR_ANNOUNCE with a gratuitous ARP, and, in its heartbeat, asks every
 * target for its connections and listeners on it (takeover reports); until they are in, it holds the datagrams it
 * has no entry for. */
function claim(v: usize, reason: u32): i32 {
  let a = load<u32>(v, V_ADDR), b = body(v);
  let t = nowMs();
  if (load<u8>(v, V_ROLE) != ROLE_ROUTING) {
    if (addrFlags(a) & ADDR_NOARP) addrDel(a);
    if (localIface(a) < 0) { let r = addrAdd(0, a, 32, ADDR_ANNOUNCE); if (r < 0) return r; }
    store<u8>(v, <u8>ROLE_ROUTING, V_ROLE);
    store<u32>(v, ctlGet32(b + A_CRT), V_CRT_MAX);
    crtSetIdle(ctlGet32(b + A_IDLE) * 1000);
    for (let i: u32 = 0, n = ntargets(v); i < n; i++) {
      let x = annTarget(b, i);
      store<u32>(IDS + (<usize>ctlGet16(x + 4) << 2), ctlGet32(x));
    }
    rowsUpdate(v);
  }
  arpAnnounce(0, a);
  emit(EV_CLUSTER, a, load<u32>(v, V_OWNER), CE_CLAIM | reason << 8);
  count(C_CLU_TAKEOVERS);
  store<u8>(v, 1, V_TAKING);
  store<u8>(v, 0, V_WANT);
  store<u8>(v, <u8>reason, V_REASON);
  store<u32>(v, t, V_SINCE);
  store<u32>(v, 0, V_DONE);
  store<u32>(v, self, V_OWNER);
  routedSet();
  // Serving it too: its own listeners and connections go straight in.
  let id = targetId(v, self);
  if (id >= 0) {
    statusDue(v, true);
    for (let i: u32 = 0; i < ntcbs; i++) {
      let k = tcb(i);
      if (k.state >= S_SYN_RCVD && k.laddr == a) adopt(v, k.raddr, k.rport, k.lport, <u32>id, ORIGIN_REPORT);
    }
  }
  beat();
  announce(v);
  return 0;
}

/** Whether every target of v that lives has sent its whole takeover report. */
function reported(v: usize): bool {
  for (let i: u32 = 0, n = ntargets(v); i < n; i++) {
    let x = ctlGet32(annTarget(body(v), i));
    if (x != self && !(load<u32>(v, V_DONE) >> i & 1) && alive(x)) return false;
  }
  return true;
}

/** This stack gives VIPA v up to a better rank (to, 0: the one that will claim it): its entries and DPT rows go,
 * and it keeps the VIPA only as a target. */
function yieldTo(v: usize, to: u32, reason: u32): void {
  let a = load<u32>(v, V_ADDR);
  dropEntries(v, -1);
  for (let i: u32 = 0, r = dptRowAt(0); r; r = dptRowAt(++i)) if (load<u32>(r, R_VIPA) == a) store<u32>(r, 0, R_VIPA);
  addrDel(a);
  store<u8>(v, <u8>ROLE_NONE, V_ROLE);
  store<u8>(v, 0, V_TAKING);
  store<u32>(v, to, V_OWNER);
  store<u32>(v, nowMs(), V_HEARD);
  adoptBody(v, body(v), load<u32>(v, V_BODY_LEN));
  count(C_CLU_YIELDS);
  emit(EV_CLUSTER, a, to, CE_YIELD | reason << 8);
  beat();
}

/** Removes v's CRT entries (of target id only, when id >= 0); how many went. */
function dropEntries(v: usize, id: i32): u32 {
  let a = load<u32>(v, V_ADDR), n: u32 = 0;
  // An entry that wrapped round the table's end may shift back past the scan: a second pass finds it.
  for (let pass = 0; pass < 2; pass++) {
    for (let i: u32 = 0; i < crtSlots();) {
      let e = crtAt(i);
      if (e && load<u32>(e, ENT_VIPA) == a && (id < 0 || <i32>load<u16>(e, ENT_TARGET) == id)) {
        entryGone(v, e);
        crtDelete(e);
        n++;
      } else i++;
    }
  }
  return n;
}

/** The owner's check of its targets: a member it has not heard for 3 of its intervals and one of ours is lost:
 * it leaves the DPT of every VIPA this stack routes and its entries go, so its clients get a RST on their next
 * segment. */
function targetsCheck(t: u32, stalled: bool): void {
  for (let i: u32 = 0; i < liveCap; i++) {
    let l = live + <usize>i * L_SIZE;
    let x = load<u32>(l, L_ADDR), interval = <u32>load<u16>(l, L_INT);
    // As for the owner's heartbeats: after a stall of this stack, each member gets an interval more.
    if (stalled && <i32>(load<u32>(l, L_HEARD) - (t - 2 * interval)) < 0) store<u32>(l, t - 2 * interval, L_HEARD);
    if (x == 0 || load<u8>(l, L_DEAD) || t - load<u32>(l, L_HEARD) <= 3 * interval + hbMs) continue;
    store<u8>(l, 1, L_DEAD);
    for (let j: u32 = 0; j < nRouted; j++) {
      let v = <usize>load<u32>(ROUTED_V + (<usize>j << 2));
      let id = targetId(v, x);
      if (id < 0) continue;
      for (let k: u32 = 0, r = dptRowAt(0); r; r = dptRowAt(++k)) {
        let s = load<u32>(r, R_VIPA) == load<u32>(v, V_ADDR) ? dptSlotOf(r, id) : -1;
        if (s >= 0) dptStatus(r, <u32>s, 0, load<u32>(dptSlot(r, <u32>s), D_OVERFLOWS));
      }
      count(C_CLU_TARGETS_LOST);
      emit(EV_CLUSTER, load<u32>(v, V_ADDR), x, CE_TARGET_LOST | min<u32>(dropEntries(v, id), 0xffff) << 16);
    }
  }
}

/** The next datagram held during a takeover that is over, or 0: the caller delivers it again, in order. One for a
 * VIPA this stack gave up meanwhile is dropped: its TCP knows none of those connections and would reset them. */
export function clusterHeld(): usize {
  for (let i: u32 = 0; i < nHeld; i++) {
    let p = HELD + (<usize>i << 2);
    let b = <usize>load<u32>(p);
    let v = vipaFind(ipDst(<usize>load<u32>(b, PKT_IP)));
    if (v && load<u8>(v, V_TAKING)) continue;
    memory.copy(p, p + 4, <usize>(--nHeld - i) << 2);
    if (v && load<u8>(v, V_ROLE) == ROLE_ROUTING) return b;
    count(C_CLU_HELD_DROP);
    pktFreeChain(b);
    i--;
  }
  return 0;
}

// ---- heartbeats ----

/** Sends this stack's heartbeat: fast while it owns a VIPA or wants one back, slowly as a mere member. */
function beat(): void {
  let b = MSG + CTL_HEADER;
  let n: u32 = 0, t = nowMs();
  for (let i: u32 = 0; i < MAX_VIPAS; i++) {
    let v = vipaAt(i);
    let rank = <u32>load<u8>(v, V_RANK);
    if (load<u32>(v, V_ADDR) == 0 || rank == NO_RANK) continue;
    let f: u8 = 0;
    if (load<u8>(v, V_ROLE) == ROLE_ROUTING) {
      f = HB_OWN | (load<u8>(v, V_TAKING) ? HB_TAKING | (load<u8>(v, V_REASON) == CR_TAKEBACK ? HB_TAKEBACK : 0) : 0);
    }
    else if (load<u8>(v, V_WANT) && t - load<u32>(v, V_SINCE) >= holdMs) f = HB_WANT;
    if (f) heartbeatSet(b, n++, load<u32>(v, V_ADDR), rank, f);
  }
  let interval = n ? hbMs : hbMs * MEMBER_BEATS;
  send(IP_BROADCAST, T_HEARTBEAT, heartbeatBegin(b, interval, n));
  nextBeat = now + <i64>interval * 1000 / BEATS;
}

/** A heartbeat (body b) from member from. */
function heard(from: u32, b: usize): void {
  let t = nowMs();
  let interval = max<u32>(ctlGet16(b + B_INTERVAL), 1);
  let l = liveAt(from, true);
  if (l) {
    // A member that started (or started again) learns at once what this stack routes, not at the next announcement.
    if (load<u32>(l, L_EPOCH) != ctlEpoch) {
      store<u32>(l, ctlEpoch, L_EPOCH);
      for (let i: u32 = 0; i < nRouted; i++) announce(<usize>load<u32>(ROUTED_V + (<usize>i << 2)));
    }
    store<u32>(l, t, L_HEARD); store<u16>(l, <u16>interval, L_INT); store<u8>(l, 0, L_DEAD);
  }
  for (let i: u32 = 0; i < MAX_VIPAS; i++) {
    let v = vipaAt(i);
    store<u8>(v, load<u32>(v, V_ADDR) != 0 && load<u32>(v, V_OWNER) == from && load<u8>(v, V_ROLE) != ROLE_ROUTING, V_MARK);
  }
  for (let i: u32 = 0, n = ctlGet16(b + B_COUNT); i < n; i++) {
    let e = b + B_FIXED + <usize>i * B_ENTRY;
    let v = vipaFind(ctlGet32(e));
    let r = v ? rankOf(body(v), from) : NO_RANK;
    if (r == NO_RANK) continue;
    let f = load<u8>(e, 5);
    let mine = load<u8>(v, V_ROLE) == ROLE_ROUTING;
    if (f & HB_OWN) {
      store<u8>(v, 0, V_MARK);
      if (mine) {
        // Two owners: the better rank keeps the VIPA and asks the targets again for what the other routed.
        if (r < <u32>load<u8>(v, V_RANK)) yieldTo(v, from, f & HB_TAKEBACK ? CR_TAKEBACK : CR_SPLIT);
        else if (!load<u8>(v, V_TAKING) && t - load<u32>(v, V_SINCE) > 3 * hbMs) claim(v, CR_SPLIT);
        continue;
      }
      let o = load<u32>(v, V_OWNER);
      if (o != from && o != 0 && rankOf(body(v), o) < r && alive(o)) continue;   // it will yield to the better one
      if (o != from) {
        store<u32>(v, from, V_OWNER);
        store<u32>(v, 0, V_GEN);
        emit(EV_CLUSTER, load<u32>(v, V_ADDR), from, CE_OWNER);
      }
      store<u32>(v, t, V_HEARD);
      store<u32>(v, interval, V_OWNER_INT);
      // A worse owner: this stack waits to take the VIPA back (its hold-down runs from now); a better one: it does not.
      if (<u32>load<u8>(v, V_RANK) >= r) store<u8>(v, 0, V_WANT);
      else if (!load<u8>(v, V_WANT)) { store<u8>(v, 1, V_WANT); store<u32>(v, t, V_SINCE); }
      if ((f & HB_TAKING) && load<u8>(v, V_ROLE) == ROLE_TARGET && t - load<u32>(v, V_REPORTED) >= 3 * interval) {
        store<u32>(v, t, V_REPORTED);
        report(v, REPORT_TAKEOVER);
        // The clients' ACKs went to the dead owner a while: probe each connection now, so they answer the new one.
        for (let k: u32 = 0, a = load<u32>(v, V_ADDR); k < ntcbs; k++) if (tcb(k).laddr == a) tcpProbe(tcb(k));
      }
    } else if ((f & HB_WANT) && mine && r < <u32>load<u8>(v, V_RANK)) store<u32>(v, t, V_WANTED);
  }
  // Its owner no longer claims these: it resigned them (as VRRP's priority 0), so the next rank need not wait.
  for (let i: u32 = 0; i < MAX_VIPAS; i++) {
    let v = vipaAt(i);
    if (!load<u8>(v, V_MARK)) continue;
    store<u32>(v, 0, V_OWNER);
    store<u32>(v, t - 3 * load<u32>(v, V_OWNER_INT), V_HEARD);
  }
}

/** At poll, for a VIPA this stack may route: the takeover's end, the takeback when idle (owner);
 * the owner's death, the takeback after the hold-down (the others). */
function elect(v: usize, t: u32, stalled: bool): void {
  let rank = <u32>load<u8>(v, V_RANK);
  if (load<u8>(v, V_ROLE) == ROLE_ROUTING) {
    if (load<u8>(v, V_TAKING) && (t - load<u32>(v, V_SINCE) >= TAKE_BEATS * hbMs || reported(v))) {
      store<u8>(v, 0, V_TAKING);
      emit(EV_CLUSTER, load<u32>(v, V_ADDR), load<u32>(v, V_ENTRIES), CE_READY | min<u32>(t - load<u32>(v, V_SINCE), 0xffff) << 16);
    }
    if ((load<u8>(body(v), A_FLAGS) & ANN_WHENIDLE) && load<u32>(v, V_ENTRIES) == 0 && !load<u8>(v, V_TAKING)
      && t - load<u32>(v, V_WANTED) < 3 * hbMs) yieldTo(v, 0, CR_IDLE);
    return;
  }
  if (rank == NO_RANK) return;
  let interval = load<u32>(v, V_OWNER_INT);
  // A poll that comes late (the process stalled) may have missed what was on its way: the owner gets an interval more.
  if (stalled && <i32>(load<u32>(v, V_HEARD) - (t - 2 * interval)) < 0) store<u32>(v, t - 2 * interval, V_HEARD);
  let want = load<u8>(v, V_WANT) != 0;
  if (want && !(load<u8>(body(v), A_FLAGS) & ANN_WHENIDLE) && t - load<u32>(v, V_SINCE) >= holdMs && load<u32>(v, V_OWNER)) {
    claim(v, CR_TAKEBACK);
    return;
  }
  // VRRP's skew, longer for a lower rank: the best live backup moves first, and the next hears it before its turn.
  let deadline = load<u32>(v, V_HEARD) + 3 * interval + rank * interval / 2;
  if (<i32>(t - deadline) >= 0) claim(v, want ? CR_TAKEBACK : load<u32>(v, V_OWNER) ? CR_DEAD : CR_START);
  else wakeUp(now + <i64>(deadline - t) * 1000);
}

function wakeUp(t: i64): void { if (t < wake) wake = t; }

// ---- control messages out ----

/** Seals the body of bodyLen bytes at MSG + CTL_HEADER and sends it to dst. */
function send(dst: u32, type: u8, bodyLen: u32): void {
  let n = ctlSeal(MSG, type, epoch, ++seq, self, bodyLen);
  if (udpOutput(self, ctlPort, dst, ctlPort, MSG, n) == 0) count(C_CLU_CTL_TX);
}

function announce(v: usize): void {
  let n = load<u32>(v, V_BODY_LEN);
  memory.copy(MSG + CTL_HEADER, body(v), n);
  send(IP_BROADCAST, T_ANNOUNCE, n);
}

let active: u32 = 0;

/** This stack's listeners on v's ports (an address of 0 or the VIPA), into PORTS as port | listeners << 16 with
 * QUIESCED where it quiesced them; how many ports. Its connections from the VIPA into active. */
function portsScan(v: usize): u32 {
  let a = load<u32>(v, V_ADDR);
  let np: u32 = 0;
  active = 0;
  for (let i: u32 = 0; i < ntcbs; i++) {
    let k = tcb(i);
    let st = k.state;
    if (st == S_LISTEN) {
      if ((k.laddr != 0 && k.laddr != a) || !inRanges(v, k.lport)) continue;
      let j: u32 = 0;
      while (j < np && (load<u32>(PORTS + (<usize>j << 2)) & 0xffff) != k.lport) j++;
      if (j == np) { if (np == MAX_STATUS_PORTS) continue; store<u32>(PORTS + (<usize>(np++) << 2), k.lport); }
      let p = PORTS + (<usize>j << 2);
      store<u32>(p, load<u32>(p) + 0x10000);
    } else if (st >= S_SYN_RCVD && k.laddr == a) active++;
  }
  for (let j: u32 = 0; j < np; j++) {
    let p = PORTS + (<usize>j << 2);
    let w = load<u32>(p);
    store<u32>(p, (w & 0xffff) | (min<u32>(w >> 16, QUIESCED - 1) | (quiesced(w & 0xffff) ? QUIESCED : 0)) << 16);
  }
  return np;
}

/** The status of this stack as a target of v, at b: its listeners on v's ports, its connections from the VIPA and
 * its accept-queue overflows. A port it no longer lists is withdrawn. */
function statusBuild(v: usize, b: usize): u32 {
  let np = portsScan(v);
  let n = statusBegin(b, load<u32>(v, V_ADDR), active, counterGet(C_TCP_LISTEN_DROP), np);
  for (let j: u32 = 0; j < np; j++) { let w = load<u32>(PORTS + (<usize>j << 2)); statusSetPort(b, j, w & 0xffff, w >> 16); }
  return n;
}

// ---- quiescing (as z/OS's VARY TCPIP,,SYSPLEX,QUIESCE, on the target) ----
// A target that quiesces a port (0: all its ports) keeps its listeners and
// its connections but shows the listeners as quiesced in its status: the
// routing stack, whichever it is after a takeover, gives it no new ones.
const MAX_QUIET: u32 = 16;
const QUIET: usize = memory.data(<i32>MAX_QUIET * 4, 4);
let nQuiet: u32 = 0;

function quiesced(port: u32): bool {
  for (let j: u32 = 0; j < nQuiet; j++) { let q = load<u32>(QUIET + (<usize>j << 2)); if (q == 0 || q == port) return true; }
  return false;
}

/** Quiesces (on) or resumes this stack's listeners on a port as a target; port 0: all of them (resuming 0 resumes
 * every port). Its statuses say so from the next poll on. */
export function clusterQuiesce(port: u32, on: bool): i32 {
  if (port > 65535) return E_INVAL;
  let j: u32 = 0;
  while (j < nQuiet && load<u32>(QUIET + (<usize>j << 2)) != port) j++;
  if (on && j == nQuiet) {
    if (nQuiet == MAX_QUIET) return E_NOSPC;
    store<u32>(QUIET + (<usize>(nQuiet++) << 2), port);
  } else if (!on && port == 0) nQuiet = 0;
  else if (!on && j < nQuiet) store<u32>(QUIET + (<usize>j << 2), load<u32>(QUIET + (<usize>(--nQuiet) << 2)));
  for (let i: u32 = 0; i < MAX_VIPAS; i++) store<u32>(vipaAt(i), 0, V_GEN);
  return 0;
}

/** Sends (or, on a routing stack that is its own target, applies) v's status when the listeners may have changed. */
function statusDue(v: usize, force: bool): void {
  let role = load<u8>(v, V_ROLE);
  let local = role == ROLE_ROUTING;
  if (role == ROLE_NONE || (local && targetId(v, self) < 0)) return;
  if (!force && load<u32>(v, V_GEN) == listenGen + 1) return;
  store<u32>(v, listenGen + 1, V_GEN);
  let n = statusBuild(v, MSG + CTL_HEADER);
  let b = MSG + CTL_HEADER;
  if (local) applyPorts(v, <u32>targetId(v, self), b + ST_FIXED, ctlGet16(b + ST_COUNT), ctlGet32(b + ST_OVERFLOWS));
  else send(owner(v), T_STATUS, n);
}

// ---- control messages in ----

/** A UDP datagram to the control port (b's PKT_DATA at its header): taken and freed. */
function control(b: usize): void {
  let u = <usize>load<u32>(b, PKT_DATA);
  let len = load<u32>(b, PKT_LEN);
  let ulen = ld16(u + UDP_LEN);
  if (ulen < UDP_HLEN || ulen > len) ulen = UDP_HLEN;   // refused below as short
  let p = u + UDP_HLEN;
  let n = ulen - UDP_HLEN;
  // Our own announcements come back through the broadcast's loopback copy.
  if (n >= CTL_HEADER && ld32(p + H_SENDER) == self) { pktFreeChain(b); return; }
  let r = ctlParse(p, n);
  if (r < 0) count(C_CLU_CTL_SHORT + (-r - 1));
  else {
    count(C_CLU_CTL_RX);
    if (!take(ctlType, ctlSender, ctlBody)) count(C_CLU_CTL_STRANGER);
  }
  pktFreeChain(b);
}

/** Acts on an accepted message; false when its sender has no standing for it. */
function take(type: u8, from: u32, b: usize): bool {
  if (type == T_ANNOUNCE) return learn(from, b);
  if (type == T_STATUS) {
    let v = vipaFind(ctlGet32(b + ST_VIPA));
    if (v == 0 || load<u8>(v, V_ROLE) != ROLE_ROUTING) return false;
    let id = targetId(v, from);
    if (id < 0) return false;
    applyPorts(v, <u32>id, b + ST_FIXED, ctlGet16(b + ST_COUNT), ctlGet32(b + ST_OVERFLOWS));
    return true;
  }
  if (type == T_CONN_NEW || type == T_CONN_END) {
    let ok = true;
    for (let i: u32 = 0, n = ctlGet16(b + C_COUNT); i < n; i++) {
      let c = b + C_FIXED + <usize>i * C_ENTRY;
      let v = vipaFind(ctlGet32(c + 4));
      let id = v && load<u8>(v, V_ROLE) == ROLE_ROUTING ? targetId(v, from) : -1;
      if (id < 0) { ok = false; continue; }
      if (type == T_CONN_NEW) adopt(v, ctlGet32(c), ctlGet16(c + 8), ctlGet16(c + 10), <u32>id, ORIGIN_OUTBOUND);
      else ended(v, ctlGet32(c), ctlGet16(c + 8), ctlGet16(c + 10), <u32>id);
    }
    return ok;
  }
  if (type == T_REPORT) {
    let v = vipaFind(ctlGet32(b + RP_VIPA));
    let id = v && load<u8>(v, V_ROLE) == ROLE_ROUTING ? targetId(v, from) : -1;
    if (id < 0) return false;
    let a = load<u32>(v, V_ADDR), t = nowMs();
    let np = ctlGet16(b + R_NPORTS);
    if (np) applyPorts(v, <u32>id, b + R_FIXED, np, 0xffffffff);
    let c = b + R_FIXED + (<usize>np << 2);
    for (let i: u32 = 0, n = ctlGet16(b + R_NCONNS); i < n; i++, c += 8) {
      let client = ctlGet32(c), cport = ctlGet16(c + 4), vport = ctlGet16(c + 6);
      let e = crtLookup(client, cport, a, vport);
      if (e == 0) e = adopt(v, client, cport, vport, <u32>id, ORIGIN_REPORT);
      if (e && <u32>load<u16>(e, ENT_TARGET) == <u32>id) store<u32>(e, t, ENT_LAST);
    }
    // Timed affinities the target remembers: they outlive the routing stack that made them.
    for (let i: u32 = 0, n = ctlGet16(b + R_NAFF); i < n; i++, c += 8) affinity(v, ctlGet32(c), <u32>id, ctlGet32(c + 4));
    if (load<u8>(b, R_KIND) == REPORT_TAKEOVER && (load<u8>(b, R_FLAGS) & REPORT_LAST)) {
      for (let i: u32 = 0, n = ntargets(v); i < n; i++) {
        if (ctlGet32(annTarget(body(v), i)) == from) store<u32>(v, load<u32>(v, V_DONE) | 1 << i, V_DONE);
      }
    }
    return true;
  }
  heard(from, b);
  return true;
}

/** A target's report on v to its owner, in parts, each with the target's listeners: every connection it has from
 * the VIPA, and for a takeover the timed affinities it remembers. The routing stack keeps their entries (an idle
 * but live connection is not expired) and makes the ones it lacks (a new-connection message lost, a takeover); an
 * entry no report names and no packet touches idles out, so a lost end message leaks nothing. */
function report(v: usize, kind: u8): void {
  let a = load<u32>(v, V_ADDR);
  let np = portsScan(v);
  let room = (MSG_BODY_MAX - R_FIXED - (np << 2)) >> 3;
  let nc: u32 = 0, na: u32 = 0, part: u32 = 0;
  for (let i: u32 = 0; i < ntcbs; i++) {
    let k = tcb(i);
    if (k.state < S_SYN_RCVD || k.laddr != a) continue;
    reportRecord(np, nc++, k.raddr, k.rport << 16 | k.lport);
    if (nc == room) { reportSend(v, kind, part++, np, nc, 0, 0); nc = 0; }
  }
  let id = targetId(v, self), t = nowMs();
  for (let i: u32 = 0; kind == REPORT_TAKEOVER && i < AFF_N; i++) {
    let f = AFF + (<usize>i << 4);
    let left = load<u32>(f, 12) - t;
    if (load<u32>(f, 4) != a || load<u32>(f, 8) != <u32>id || <i32>left <= 0) continue;
    reportRecord(np, nc + na++, load<u32>(f), left);
    if (nc + na == room) { reportSend(v, kind, part++, np, nc, na, 0); nc = 0; na = 0; }
  }
  reportSend(v, kind, part, np, nc, na, REPORT_LAST);
}

/** Writes record i (a connection or an affinity: two words) of the report being built, after np ports. */
function reportRecord(np: u32, i: u32, w0: u32, w1: u32): void {
  let e = MSG + CTL_HEADER + R_FIXED + (<usize>np << 2) + (<usize>i << 3);
  st32be(e, w0);
  st32be(e + 4, w1);
}

function reportSend(v: usize, kind: u8, part: u32, np: u32, nc: u32, na: u32, flags: u8): void {
  let b = MSG + CTL_HEADER;
  let n = reportBegin(b, load<u32>(v, V_ADDR), kind, flags, part, np, nc, na);
  for (let j: u32 = 0; j < np; j++) { let w = load<u32>(PORTS + (<usize>j << 2)); reportSetPort(b, j, w & 0xffff, w >> 16); }
  send(owner(v), T_REPORT, n);
}

/** An announcement from the VIPA's owner: its routing stack or a backup that took it over. */
function learn(from: u32, b: usize): bool {
  let a = ctlGet32(b + A_VIPA);
  if (rankOf(b, from) == NO_RANK || a == self) return false;
  let len = ctlBodyLen;
  if (len > BODY_MAX || load<u8>(b, A_NRANGES) > MAX_RANGES || load<u8>(b, A_NBACKUPS) > MAX_BACKUPS
    || load<u8>(b, A_NTARGETS) > MAX_TARGETS) return false;
  let v = vipaFind(a);
  if (v && load<u8>(v, V_ROLE) == ROLE_ROUTING) return false;   // ours: two owners meet in the heartbeats
  // Its configured routing stack keeps its own config (vipa_route), newer than what a backup announces meanwhile.
  if (v && ctlGet32(body(v) + A_ROUTING) == self) return true;
  if (v == 0) { v = vipaNew(a); if (v == 0) return true; store<u32>(v, from, V_OWNER); }
  if (from != owner(v)) return true;
  if (load<u32>(v, V_BODY_LEN) == len && memory.compare(body(v), b, len) == 0) return true;
  adoptBody(v, b, len);
  return true;
}

/** Target id of v's listeners: n ports at p (port, listeners; as a status has them) and its accept-queue overflows
 * (0xffffffff: as they were); a row's port it does not list, withdrawn. */
function applyPorts(v: usize, id: u32, p: usize, n: u32, ov: u32): void {
  let a = load<u32>(v, V_ADDR);
  // A draining target's listeners count for nothing: it gets no new connections.
  if (!serving(v, load<u32>(IDS + (<usize>id << 2)))) n = 0;
  for (let i: u32 = 0, r = dptRowAt(0); r; r = dptRowAt(++i)) {
    if (load<u32>(r, R_VIPA) != a) continue;
    let s = dptSlotOf(r, id);
    if (s < 0) continue;
    let port = <u32>load<u16>(r, R_PORT), l: u32 = 0;
    for (let j: u32 = 0; j < n; j++) {
      let e = p + (<usize>j << 2);
      if (ctlGet16(e) == port) l = ctlGet16(e + 2);
    }
    dptStatus(r, <u32>s, l, ov == 0xffffffff ? load<u32>(dptSlot(r, <u32>s), D_OVERFLOWS) : ov);
  }
  for (let j: u32 = 0; j < n; j++) {
    let e = p + (<usize>j << 2);
    let port = ctlGet16(e), l = ctlGet16(e + 2);
    if (l == 0 || !inRanges(v, port) || dptFind(a, port)) continue;
    let r = dptRow(a, port, load<u8>(body(v), A_METHOD));
    if (r == 0) continue;
    rowFill(v, r);
    let s = dptSlotOf(r, id);
    if (s >= 0) dptStatus(r, <u32>s, l, ov == 0xffffffff ? 0 : ov);
  }
}

/** An entry for a connection target id told of (its outbound connection, or one in its report), so the
 * packets to it reach it; 0 (counted) when v's share of the CRT is full. */
function adopt(v: usize, client: u32, cport: u32, vport: u32, id: u32, origin: u8): usize {
  let a = load<u32>(v, V_ADDR);
  let e = crtLookup(client, cport, a, vport);
  if (e) return e;
  if (load<u32>(v, V_ENTRIES) < load<u32>(v, V_CRT_MAX)) e = crtInsert(client, cport, a, vport, id, origin, nowMs());
  if (e == 0) { count(C_CLU_CRT_FULL); return 0; }
  entries(v, id, 1);
  if (origin == ORIGIN_REPORT) store<u8>(e, CRT_ESTABLISHED, ENT_STATE);
  let r = dptFind(a, vport);
  let s = r ? dptSlotOf(r, id) : -1;
  if (s >= 0) dptAdopt(r, <u32>s);
  return e;
}

/** A connection of target id ended: its entry goes. */
function ended(v: usize, client: u32, cport: u32, vport: u32, id: u32): void {
  let e = crtLookup(client, cport, load<u32>(v, V_ADDR), vport);
  if (e == 0 || <u32>load<u16>(e, ENT_TARGET) != id) return;
  entryGone(v, e);
  crtDelete(e);
  count(C_CLU_ENDED);
}

/** The DPT's and the VIPA's counts for an entry about to go. */
function entryGone(v: usize, e: usize): void {
  entries(v, load<u16>(e, ENT_TARGET), -1);
  affinity(v, load<u32>(e, ENT_CLIENT), load<u16>(e, ENT_TARGET));
  connEnd(load<u32>(v, V_ADDR), load<u32>(e, ENT_PORTS) & 0xffff, load<u16>(e, ENT_TARGET));
}

function connEnd(a: u32, port: u32, id: u32): void {
  let r = dptFind(a, port);
  if (r == 0) return;
  let s = dptSlotOf(r, id);
  if (s >= 0) dptConnEnd(r, <u32>s);
}

// ---- timed affinity ----
// A direct-mapped table of (client, VIPA) → target and until when, for the
// VIPAs with an affinity time: a client's new connection goes to the target
// of its last one while that target is ready, up to the affinity time after
// its last connection ended. A slot another client takes only costs a choice.
const AFF_N: u32 = 1024;
const AFF: usize = memory.data(<i32>AFF_N * 16, 16);

// @ts-ignore: decorator
@inline function affSlot(client: u32, vipa: u32): usize { return AFF + (<usize>((client ^ vipa) * 0x9e3779b1 >> 22) << 4); }

/** Remembers client's target on v for ms (default: v's affinity time; none when v has no affinity). */
function affinity(v: usize, client: u32, id: u32, ms: u32 = 0): void {
  let secs = ctlGet32(body(v) + A_AFFINITY);
  if (secs == 0) return;
  let a = affSlot(client, load<u32>(v, V_ADDR));
  store<u32>(a, client);
  store<u32>(a, load<u32>(v, V_ADDR), 4);
  store<u32>(a, id, 8);
  store<u32>(a, nowMs() + (ms ? min<u32>(ms, secs * 1000) : secs * 1000), 12);
}

/** The DPT slot of client's remembered target in row r of v, while it is ready and the time lasts; else -1. */
function affine(v: usize, r: usize, client: u32): i32 {
  let a = affSlot(client, load<u32>(v, V_ADDR));
  if (ctlGet32(body(v) + A_AFFINITY) == 0 || load<u32>(a) != client || load<u32>(a, 4) != load<u32>(v, V_ADDR)
    || <i32>(load<u32>(a, 12) - nowMs()) < 0) return -1;
  let s = dptSlotOf(r, load<u32>(a, 8));
  return s >= 0 && dptReady(dptSlot(r, <u32>s)) ? s : -1;
}

// ---- the data path ----

let touched: u32 = 0;
/** The home CRT slots of a batch's frames (TOUCH_N at a time), gathered before they are read. */
const TOUCH_N: u32 = 64;
const TOUCH: usize = memory.data(<i32>TOUCH_N * 4, 4);

/** Before a received batch is processed (n descriptors at desc): reads the
 * home CRT slot of every TCP frame to a routed VIPA. The addresses are
 * gathered first, then read in a loop of a few instructions, so that as
 * many of a large table's cache misses as the core can track overlap. */
export function clusterPrefetch(desc: usize, n: u32, stride: u32): void {
  if (nRouted == 0) return;
  let m: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let d = desc + <usize>i * stride;
    let f = <usize>load<u32>(d);
    if (load<u32>(d, 4) < 54 || load<u16>(f, 12) != 0x0008 || load<u8>(f, 14) != 0x45 || load<u8>(f, 23) != PROTO_TCP) continue;
    let dst = ld32(f + 30);
    for (let k: u32 = 0; k < nRouted; k++) {
      if (load<u32>(ROUTED + (<usize>k << 2)) != dst) continue;
      store<u32>(TOUCH + (<usize>(m++) << 2), <u32>crtHome(ld32(f + 26), ld16(f + 34), dst, ld16(f + 36)));
      if (m == TOUCH_N) { touch(m); m = 0; }
      break;
    }
  }
  touch(m);
}

/** Reads the first word of each of the m slots gathered. */
function touch(m: u32): void {
  let sum: u32 = 0;
  for (let j: u32 = 0; j < m; j++) sum += load<u32>(<usize>load<u32>(TOUCH + (<usize>j << 2)));
  touched += sum;
}

/** Every datagram for this stack, before the protocol switch: 0 when the
 * cluster took it; else the datagram for the protocols (b itself, or the one
 * an IP-in-IP packet held, now addressed to the VIPA). */
export function clusterInput(b: usize): usize {
  let ip = <usize>load<u32>(b, PKT_IP);
  let proto = <u32>load<u8>(ip, IP_PROTO);
  let dst = ipDst(ip);
  if (proto == PROTO_TCP) {
    for (let i: u32 = 0; i < nRouted; i++) {
      if (load<u32>(ROUTED + (<usize>i << 2)) == dst) return route(b, ip, dst, <usize>load<u32>(ROUTED_V + (<usize>i << 2)));
    }
    // A target never answers ARP for the VIPA: a client reaches it this way only through a stale neighbour entry
    // (it routed the VIPA until a moment ago), and its TCP, which knows none of the other targets' connections,
    // must not reset them. (Its own connections come through the tunnel, and its own datagrams on the loopback.)
    for (let i: u32 = 0; i < nServed; i++) {
      if (load<u32>(SERVED + (<usize>i << 2)) == dst && localIface(ipSrc(ip)) < 0) { count(C_CLU_MISDIRECTED); pktFreeChain(b); return 0; }
    }
    return b;
  }
  if (proto == PROTO_UDP) {
    let u = <usize>load<u32>(b, PKT_DATA);
    if (load<u32>(b, PKT_LEN) >= UDP_HLEN && ld16(u + UDP_DPORT) == ctlPort && load<u32>(b, PKT_NEXT) == 0) { control(b); return 0; }
    return b;
  }
  if (proto == PROTO_IPIP) return decap(b, ip);
  return b;
}

/** A TCP datagram to a VIPA this stack routes. */
function route(b: usize, ip: usize, vipa: u32, v: usize): usize {
  let th = <usize>load<u32>(b, PKT_DATA);
  if (load<u32>(b, PKT_LEN) < TCP_HLEN) return b;    // TCP counts it
  let client = ipSrc(ip), cport = ld16(th + TCP_SPORT), vport = ld16(th + TCP_DPORT);
  let flags = <u32>load<u8>(th, TCP_FLAGS);
  let t = nowMs();
  let e = crtLookup(client, cport, vipa, vport);
  if (e == 0) {
    // Taking over: held until the targets have reported (a SYN too, served once the DPT is whole again).
    if (load<u8>(v, V_TAKING)) {
      if (nHeld < HOLD_N) { store<u32>(HELD + (<usize>(nHeld++) << 2), <u32>b); count(C_CLU_HELD); }
      else { count(C_CLU_HELD_DROP); pktFreeChain(b); }
      return 0;
    }
    let syn = (flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) == TH_SYN;
    // Just after a takeover, a connection a lost report part left out is not reset: its client sends again.
    if (!syn && load<u8>(v, V_REASON) != CR_CONFIG && t - load<u32>(v, V_SINCE) < GRACE_MS) { count(C_CLU_HELD_DROP); pktFreeChain(b); return 0; }
    // RFC 9293 answers the rest, as for a port with no connection.
    if (!syn || !inRanges(v, vport)) return b;
    let r = dptFind(vipa, vport);
    let s = r ? affine(v, r, client) : -1;
    if (r && s < 0) s = selectTarget(r, client, t);
    let c = C_CLU_NO_TARGET;
    if (s >= 0 && load<u32>(v, V_ENTRIES) < load<u32>(v, V_CRT_MAX)) {
      e = crtInsert(client, cport, vipa, vport, load<u16>(dptSlot(r, <u32>s), D_ID), ORIGIN_SYN, t);
      c = C_CLU_CRT_FULL;
    } else if (s >= 0) c = C_CLU_CRT_FULL;
    if (e == 0) {
      count(c);
      sendReset(vipa, client, vport, cport, 0, ld32(th + TCP_SEQ) + 1, TH_RST | TH_ACK);
      pktFreeChain(b);
      return 0;
    }
    entries(v, load<u16>(e, ENT_TARGET), 1);
    dptConnNew(r, <u32>s, t);
    affinity(v, client, load<u16>(e, ENT_TARGET));
  }
  let id = <u32>load<u16>(e, ENT_TARGET);
  if (crtSeen(e, flags, t)) {
    let r = dptFind(vipa, vport);
    let s = r ? dptSlotOf(r, id) : -1;
    if (s >= 0) dptEstablished(r, <u32>s);
  }
  let to = load<u32>(IDS + (<usize>id << 2));
  if (to == self) { count(C_CLU_LOCAL); return b; }
  forward(b, ip, to);
  return 0;
}

/** Sends the datagram in b on to target address to, IP-in-IP, in place. */
function forward(b: usize, ip: usize, to: u32): void {
  let tot = ld16(ip + IP_LEN);
  if (to != rtTo || rtGen != ifaceGen) {
    rtTo = ipRoute(to, rt) ? to : 0;
    rtGen = ifaceGen;
  }
  // A segment over a chain of buffers goes out in pieces, which the link must take.
  let chained = load<u32>(b, PKT_NEXT) != 0;
  if (rtTo != to || (chained && !ifScatterGather(rt.ifx))) { count(C_CLU_FWD_DROP); pktFreeChain(b); return; }
  let mtu = ifMtu(rt.ifx);
  let rx = load<u32>(b, PKT_RX);
  let hl = ipHlen(ip);
  let th = ip + hl;
  let gso: u32 = 0;
  if (tot + IP_HLEN > mtu || chained) {
    // Larger than the link it came in on: a segment the link merged (GSO), its checksum left partial. It goes on
    // whole, cut into segments that fit only where a link needs it (as Linux's ipip GSO); it was never a datagram to fragment.
    if (tot > ifMtu(rx & 0xffff) && tot + IP_HLEN <= ifGsoMax(rt.ifx) && ((rx >> 16) & FRAME_CSUM_OK)) {
      gso = mtu - IP_HLEN - hl - (<u32>load<u8>(th + TCP_OFF) >> 4 << 2);
    } else {
      // Never fragmented: a DF datagram learns the path MTU, as from a router (RFC 1191); others are dropped.
      count(C_CLU_TOO_BIG);
      if (ld16(ip + IP_FRAG) & IP_DF) icmpError(b, ICMP_UNREACH, UNREACH_NEEDFRAG, mtu - IP_HLEN);
      pktFreeChain(b);
      return;
    }
  } else if ((rx >> 16) & FRAME_CSUM_OK) {
    // A checksum the link vouched for may be a partial one (an offloading sender): complete it, the target checks it.
    let n = tot - hl;
    store<u16>(th + TCP_CSUM, 0);
    st16(th + TCP_CSUM, finish(sumBytes(th, n, pseudoSum(ipSrc(ip), ipDst(ip), PROTO_TCP, n))));
  }
  store<u32>(b, <u32>ip, PKT_DATA);
  store<u32>(b, load<u32>(b, PKT_LEN) + hl, PKT_LEN);
  if (ipEncap(rt, b, self, to, gso) == 0) count(C_CLU_FORWARDED);
  else count(C_CLU_FWD_DROP);
}

/** IP-in-IP to this stack: for a VIPA it serves, from that VIPA's routing stack or a backup, else dropped. */
function decap(b: usize, ip: usize): usize {
  let inner = <usize>load<u32>(b, PKT_DATA);
  let len = load<u32>(b, PKT_LEN);
  let v: usize = 0;
  if (clusterOn && len >= IP_HLEN) {
    v = vipaFind(ipDst(inner));
    if (v && (load<u8>(v, V_ROLE) != ROLE_TARGET || rankOf(body(v), ipSrc(ip)) == NO_RANK)) v = 0;
  }
  if (v == 0) { count(C_CLU_IPIP_REFUSED); pktFreeChain(b); return 0; }
  count(C_CLU_DECAP);
  let rx = load<u32>(b, PKT_RX);
  // A whole forwarded GSO segment keeps its partial checksum: what the link vouched for, it vouched for inside too.
  return ipInput(b, inner, len, rx & 0xffff, (rx >> 16) & FRAME_CSUM_OK, load<u32>(b, PKT_TOTAL) - len);
}

// ---- outbound connections (tcp_connect from a VIPA) ----

/** For a connection from laddr to raddr:rport: 0 when laddr is no VIPA this
 * stack serves; else the local port (lport, or one from the range the routing
 * stack assigned this target), registered with the routing stack before the
 * SYN leaves; or a negative errno. */
export function clusterConnect(laddr: u32, lport: u32, raddr: u32, rport: u32): i32 {
  if (!clusterOn) return 0;
  let v = vipaFind(laddr);
  if (v == 0 || load<u8>(v, V_ROLE) == ROLE_NONE) return 0;
  // A draining target makes no new connections from the VIPA either.
  let t = targetRec(body(v), self);
  if (t == 0 || ctlGet16(t + 6) == 0) return E_ADDRNOTAVAIL;
  if (lport == 0) {
    let lo = ctlGet16(t + 8), span = ctlGet16(t + 10) - lo + 1;
    let start = rand32() % span;
    for (let i: u32 = 0; i < span && lport == 0; i++) {
      let p = lo + (start + i) % span;
      if (!connLookup(laddr, p, raddr, rport)) lport = p;
    }
    if (lport == 0) return E_ADDRNOTAVAIL;
  }
  let id = <u32>ctlGet16(t + 4);
  if (load<u8>(v, V_ROLE) == ROLE_ROUTING) adopt(v, raddr, rport, lport, id, ORIGIN_OUTBOUND);
  else {
    let n = connBegin(MSG + CTL_HEADER, 1);
    connSet(MSG + CTL_HEADER, 0, raddr, laddr, rport, lport);
    send(owner(v), T_CONN_NEW, n);
  }
  return <i32>lport;
}

// ---- the timers ----

/** At every poll: connection ends, heartbeats and elections, statuses due, announcements, a step of CRT idle expiry. */
export function clusterPoll(): void {
  if (!clusterOn) return;
  ends();
  let ms = nowMs();
  let stalled = wake != 0 && now > wake + <i64>hbMs * 1000;
  // The members' liveness at the heartbeat's pace, not per received batch (a stalled poll is always one of these).
  if (now >= nextBeat) { beat(); if (nRouted) targetsCheck(ms, stalled); }
  wake = nextBeat;
  for (let i: u32 = 0; i < MAX_VIPAS; i++) if (load<u32>(vipaAt(i), V_ADDR)) elect(vipaAt(i), ms, stalled);
  wakeAt(wake);
  let t = now;
  let periodic = t >= nextAnnounce;
  if (periodic) nextAnnounce = t + <i64>ANNOUNCE_MS * 1000;
  wakeAt(nextAnnounce);
  let reconcile = t >= nextReport;
  if (reconcile) nextReport = t + <i64>REPORT_MS * 1000;
  wakeAt(nextReport);
  for (let i: u32 = 0; i < MAX_VIPAS; i++) {
    let v = vipaAt(i);
    if (load<u32>(v, V_ADDR) == 0) continue;
    if (periodic && load<u8>(v, V_ROLE) == ROLE_ROUTING) { announce(v); drain(v); }
    if (load<u32>(v, V_ADDR) == 0) continue;
    statusDue(v, periodic);
    if (reconcile && load<u8>(v, V_ROLE) == ROLE_TARGET) report(v, REPORT_RECONCILE);
  }
  if (crtEntries && t >= nextExpire) {
    nextExpire = t + EXPIRE_MS * 1000;
    expire();
  }
  if (crtEntries) wakeAt(nextExpire);
}

/** The ends TCP queued: on a routing stack serving itself, the entries go at once; else end messages, one per VIPA and batch. */
function ends(): void {
  let n = endsN;
  if (n == 0) return;
  for (let i: u32 = 0; i < MAX_VIPAS; i++) {
    let v = vipaAt(i);
    let a = load<u32>(v, V_ADDR);
    let role = load<u8>(v, V_ROLE);
    if (a == 0 || role == ROLE_NONE) continue;
    let id = targetId(v, self);
    let m: u32 = 0;
    for (let j: u32 = 0; j < n; j++) {
      let p = ENDS + <usize>j * 12;
      if (load<u32>(p) != a) continue;
      let ports = load<u32>(p, 8);
      if (role == ROLE_ROUTING) { if (id >= 0) ended(v, load<u32>(p, 4), ports >> 16, ports & 0xffff, <u32>id); continue; }
      if (id >= 0) affinity(v, load<u32>(p, 4), <u32>id);
      connSet(MSG + CTL_HEADER, m++, load<u32>(p, 4), a, ports >> 16, ports & 0xffff);
      if (C_FIXED + (m + 1) * C_ENTRY > MSG_BODY_MAX) { endSend(v, m); m = 0; }
    }
    if (m) endSend(v, m);
  }
  endsClear();
}

function endSend(v: usize, m: u32): void {
  send(owner(v), T_CONN_END, connBegin(MSG + CTL_HEADER, m));
}

function expire(): void {
  let n = crtExpire(nowMs(), EXPIRE_BUDGET, EXPIRED, 64);
  for (let i: u32 = 0; i < n; i++) {
    let o = EXPIRED + <usize>i * EXPIRED_RECORD;
    let v = vipaFind(load<u32>(o, 4));
    count(C_CLU_EXPIRED);
    if (v == 0) continue;
    entries(v, load<u32>(o, 12) & 0xffff, -1);
    affinity(v, load<u32>(o), load<u32>(o, 12) & 0xffff);
    connEnd(load<u32>(o, 4), load<u32>(o, 8) & 0xffff, load<u32>(o, 12) & 0xffff);
  }
}

// ---- views for the host (abi) ----

/** What this stack knows of its i-th VIPA, at out: role (u32), body length (u32), the owner's own address (u32),
 * this stack's rank | taking << 8 | wanting << 9 (u32), then the announcement body. Its size in bytes; 0 for a free
 * entry; -1 past the last. */
export function clusterView(i: u32, out: usize): i32 {
  if (i >= MAX_VIPAS) return -1;
  let v = vipaAt(i);
  if (load<u32>(v, V_ADDR) == 0) return 0;
  let n = load<u32>(v, V_BODY_LEN);
  store<u32>(out, load<u8>(v, V_ROLE));
  store<u32>(out, n, 4);
  store<u32>(out, load<u32>(v, V_OWNER), 8);
  store<u32>(out, <u32>load<u8>(v, V_RANK) | <u32>load<u8>(v, V_TAKING) << 8 | <u32>load<u8>(v, V_WANT) << 9, 12);
  memory.copy(out + 16, body(v), n);
  return <i32>(n + 16);
}

/** One DPT target as the host reads it (docs/ABI.md, Cluster). */
// @ts-ignore: decorator
@unmanaged export class DptRec {
  port: u32;
  target: u32;
  ready: u32;
  listeners: u32;
  weight: u32;
  total: u32;
  active: u32;
  synsForwarded: u32;
  established: u32;
  acceptOverflows: u32;
  healthy: u32;
  quiesced: u32;
}
const DPT_REC: u32 = offsetof<DptRec>();

/** The DPT rows of VIPA a, a record per target, at out (room for cap); how many. */
export function dptRows(a: u32, out: usize, cap: u32): i32 {
  let n: u32 = 0, t = nowMs();
  for (let i: u32 = 0, r = dptRowAt(0); r; r = dptRowAt(++i)) {
    if (load<u32>(r, R_VIPA) != a || a == 0) continue;
    for (let k: u32 = 0, m = <u32>load<u8>(r, R_NSLOTS); k < m && n < cap; k++) {
      let s = dptSlot(r, k);
      let d = changetype<DptRec>(out + <usize>(n++) * DPT_REC);
      d.port = load<u16>(r, R_PORT);
      d.target = load<u32>(s, D_ADDR);
      d.listeners = load<u16>(s, D_LISTENERS);
      d.ready = dptReady(s) ? 1 : 0;
      d.quiesced = load<u8>(s, D_QUIESCED);
      d.weight = load<u16>(s, D_WEIGHT);
      d.total = load<u32>(s, D_TOTAL);
      d.active = load<u32>(s, D_ACTIVE);
      d.synsForwarded = load<u32>(s, D_SYNS);
      d.established = load<u32>(s, D_ESTABLISHED);
      d.acceptOverflows = load<u32>(s, D_OVERFLOWS);
      d.healthy = dptHealthy(s, t) ? 1 : 0;
    }
  }
  return <i32>n;
}

/** One CRT entry as the host reads it (docs/ABI.md, Cluster). */
// @ts-ignore: decorator
@unmanaged export class CrtRec {
  client: u32;
  clientPort: u32;
  vipa: u32;
  port: u32;
  target: u32;
  state: u32;
  idleMs: u32;
  frames: u32;
  origin: u32;
  ageMs: u32;
}
const CRT_REC: u32 = offsetof<CrtRec>();

/** CRT entries of VIPA a (0: all) from slot start on, at out (room for cap); how many. The slot to go on
 * from (the table's slot count once it is all listed) is written at next. */
export function crtRows(a: u32, start: u32, out: usize, cap: u32, next: usize): i32 {
  let n: u32 = 0;
  let t = nowMs();
  let i = start;
  for (let m = crtSlots(); i < m && n < cap; i++) {
    let e = crtAt(i);
    if (e == 0 || (a != 0 && load<u32>(e, ENT_VIPA) != a)) continue;
    let c = changetype<CrtRec>(out + <usize>(n++) * CRT_REC);
    let ports = load<u32>(e, ENT_PORTS);
    c.client = load<u32>(e, ENT_CLIENT);
    c.clientPort = ports >> 16;
    c.vipa = load<u32>(e, ENT_VIPA);
    c.port = ports & 0xffff;
    c.target = load<u32>(IDS + (<usize>load<u16>(e, ENT_TARGET) << 2));
    c.state = load<u8>(e, ENT_STATE);
    c.idleMs = t - load<u32>(e, ENT_LAST);
    c.frames = load<u32>(e, ENT_FRAMES);
    c.origin = load<u8>(e, ENT_ORIGIN);
    c.ageMs = t - load<u32>(e, ENT_CREATED);
  }
  store<u32>(next, i);
  return <i32>n;
}
