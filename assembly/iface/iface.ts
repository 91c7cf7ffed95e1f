// Interfaces, their addresses, and the route table. Small fixed tables: a
// stack has a handful of interfaces and addresses, so lookups are short scans
// over contiguous memory. Addresses carry flags so a cluster can hold a VIPA
// quietly on a target (ADDR_NOARP) or own and announce it on the routing
// stack (ADDR_ANNOUNCE).
import { copyMac } from '../wire/bytes';
import { prefixMask, IP_BROADCAST } from '../wire/ipv4';
import { E_EXIST, E_INVAL, E_NOENT, E_NOSPC } from '../base/errno';
import { setTxPacked } from '../base/mem';

export const MAX_IFACES: u32 = 16;
export const MAX_ADDRS: u32 = 64;
export const MAX_ROUTES: u32 = 64;


// Interface: 16 bytes: mac[6], pad[2], mtu u32, flags u32.
const IFACES: usize = memory.data(<i32>MAX_IFACES * 16, 16);
export let nIfaces: u32 = 0;
export let maxFrame: u32 = 1514;

// @ts-ignore: decorator
@inline export function ifMac(ifx: u32): usize { return IFACES + (<usize>ifx << 4); }
// @ts-ignore: decorator
@inline export function ifMtu(ifx: u32): u32 { return load<u32>(IFACES + (<usize>ifx << 4), 8); }

export function ifAdd(macHi: u32, macLo: u32, mtu: u32): i32 {
  if (nIfaces >= MAX_IFACES) return E_NOSPC;
  if (mtu < 576 || mtu + 14 > maxFrame) return E_INVAL;   // RFC 791: every host takes 576
  if ((macHi >> 8) & 1 || (macHi | macLo) == 0) return E_INVAL;   // a group or zero address cannot be ours
  let p = IFACES + (<usize>nIfaces << 4);
  store<u8>(p, <u8>(macHi >> 8));
  store<u8>(p, <u8>macHi, 1);
  store<u32>(p + 2, bswap<u32>(macLo));
  store<u32>(p, mtu, 8);
  store<u32>(p, IF_UP, 12);
  return <i32>(nIfaces++);
}

export function setMaxFrame(n: u32): void { maxFrame = n; }

// The interface's flags word: bit 0 the link is up (if_up); the offloads the
// host's link takes (if_offload): bit 1 partial checksums, bit 2 scatter-gather,
// bits 16-31 the largest TCP GSO packet (0: none).
const IF_UP: u32 = 1;
const IF_CSUM: u32 = 2;
const IF_SG: u32 = 4;
/** if_offload's csum argument: bit 0 partial checksums, bit 1 frames over several descriptors, bit 2 small
 * frames packed (mem.ts, txPack). */
const OFF_CSUM: u32 = 1;
const OFF_SG: u32 = 2;
const OFF_PACKED: u32 = 4;

/** The link under ifx went down (up 0) or came back (1). Routes over a down
 * interface are skipped, so what would go out on it fails as unroutable. */
/** Moves on whenever an address, a route or a link's state changes: a cached route is stale. */
export let ifaceGen: u32 = 0;

export function ifUp(ifx: u32, up: u32): i32 {
  if (ifx >= nIfaces || up > 1) return E_INVAL;
  ifaceGen++;
  let p = IFACES + (<usize>ifx << 4);
  store<u32>(p, (load<u32>(p, 12) & ~IF_UP) | up, 12);
  return 0;
}
// @ts-ignore: decorator
@inline function ifIsUp(ifx: u32): bool { return (load<u32>(IFACES + (<usize>ifx << 4), 12) & IF_UP) != 0; }

/** The link completes partial checksums (csum bit 0), takes a frame over
 * several tx descriptors (bit 1, with bit 0), and takes TCP segments of up to
 * gsoMax bytes of IP packet whole (0: none; GSO needs partial checksums). */
export function ifOffload(ifx: u32, csum: u32, gsoMax: u32): i32 {
  if (ifx >= nIfaces || csum > (OFF_CSUM | OFF_SG | OFF_PACKED) || gsoMax > 65535) return E_INVAL;
  if (!(csum & OFF_CSUM) && (gsoMax || (csum & OFF_SG))) return E_INVAL;
  setTxPacked(ifx, (csum & OFF_PACKED) != 0);
  let p = IFACES + (<usize>ifx << 4);
  let f = (csum & OFF_CSUM ? IF_CSUM : 0) | (csum & OFF_SG ? IF_SG : 0);
  store<u32>(p, (load<u32>(p, 12) & IF_UP) | f | (gsoMax << 16), 12);
  return 0;
}
// @ts-ignore: decorator
@inline export function ifCsumOffload(ifx: u32): bool { return (load<u32>(IFACES + (<usize>ifx << 4), 12) & IF_CSUM) != 0; }
// @ts-ignore: decorator
@inline export function ifScatterGather(ifx: u32): bool { return (load<u32>(IFACES + (<usize>ifx << 4), 12) & IF_SG) != 0; }
/** Largest IP packet a TCP GSO frame may be on ifx (0: no GSO). */
// @ts-ignore: decorator
@inline export function ifGsoMax(ifx: u32): u32 { return load<u32>(IFACES + (<usize>ifx << 4), 12) >> 16; }

// Address: 16 bytes: addr, mask, ifx, flags. Dense: entries [0, nAddrs) are in use.
/** addr_add_flags: local, but never answered in ARP nor picked as a source (a target holding a VIPA). */
export const ADDR_NOARP: u32 = 1;
/** addr_add_flags: answered in ARP, and announced by a gratuitous ARP when added (the routing stack taking a VIPA). */
export const ADDR_ANNOUNCE: u32 = 2;
const ADDRS: usize = memory.data(<i32>MAX_ADDRS * 16, 16);
let nAddrs: u32 = 0;

// @ts-ignore: decorator
@inline function addrAt(i: u32): usize { return ADDRS + (<usize>i << 4); }

export function addrAdd(ifx: u32, a: u32, plen: u32, flags: u32): i32 {
  if (ifx >= nIfaces || plen > 32 || a == 0 || a == IP_BROADCAST) return E_INVAL;
  if (flags & ~(ADDR_NOARP | ADDR_ANNOUNCE) || flags == (ADDR_NOARP | ADDR_ANNOUNCE)) return E_INVAL;
  if (localIface(a) >= 0) return E_EXIST;
  if (nAddrs >= MAX_ADDRS) return E_NOSPC;
  ifaceGen++;
  let p = addrAt(nAddrs++);
  store<u32>(p, a);
  store<u32>(p, prefixMask(plen), 4);
  store<u32>(p, ifx, 8);
  store<u32>(p, flags, 12);
  if (plen < 32) routeAdd(a & prefixMask(plen), plen, 0, ifx);
  return 0;
}

export function addrDel(a: u32): i32 {
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p) != a) continue;
    ifaceGen++;
    let mask = load<u32>(p, 4);
    let ifx = load<u32>(p, 8);
    // Keep the table dense: the last entry fills the hole.
    memory.copy(p, addrAt(--nAddrs), 16);
    // The connected route goes with the last address in its subnet.
    if (mask != 0xffffffff && !hasSubnet(ifx, a & mask, mask)) routeDel(a & mask, popcnt<u32>(mask), 0);
    return 0;
  }
  return E_NOENT;
}

function hasSubnet(ifx: u32, net: u32, mask: u32): bool {
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p, 8) == ifx && (load<u32>(p) & mask) == net) return true;
  }
  return false;
}

/** The interface that holds address a, or -1. */
export function localIface(a: u32): i32 {
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p) == a) return <i32>load<u32>(p, 8);
  }
  return -1;
}

/** The flags (ADDR_*) address a was added with; 0 when it is not ours. */
export function addrFlags(a: u32): u32 {
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p) == a) return load<u32>(p, 12);
  }
  return 0;
}

/** The interface that holds address a and answers ARP for it, or -1. */
export function arpIface(a: u32): i32 {
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p) == a) return load<u32>(p, 12) & ADDR_NOARP ? -1 : <i32>load<u32>(p, 8);
  }
  return -1;
}

/** True if a is the directed broadcast of a subnet on interface ifx. */
export function isSubnetBroadcast(ifx: u32, a: u32): bool {
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p, 8) != ifx) continue;
    let mask = load<u32>(p, 4);
    if (mask != 0xffffffff && mask != 0xfffffffe && (a | mask) == 0xffffffff && (a & mask) == (load<u32>(p) & mask)) return true;
  }
  return false;
}

/** True if a is a subnet broadcast on any interface. */
export function isAnyBroadcast(a: u32): bool {
  if (a == IP_BROADCAST) return true;
  for (let i: u32 = 0; i < nIfaces; i++) if (isSubnetBroadcast(i, a)) return true;
  return false;
}

/** An address of ifx in the subnet (net, mask), else any address of ifx, else 0.
 * Never an ADDR_NOARP one: as a source it would tell the link the address is here. */
function srcFor(ifx: u32, net: u32, mask: u32): u32 {
  let any: u32 = 0;
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p, 8) != ifx || (load<u32>(p, 12) & ADDR_NOARP)) continue;
    let a = load<u32>(p);
    if ((a & mask) == net) return a;
    if (any == 0) any = a;
  }
  return any;
}

// Route: 20 bytes: dst, mask, plen, gw, ifx. Kept sorted by prefix length,
// longest first, so the first match is the longest-prefix match.
const ROUTES: usize = memory.data(<i32>MAX_ROUTES * 20, 16);
let nRoutes: u32 = 0;

export function routeAdd(dst: u32, plen: u32, gw: u32, ifx: u32): i32 {
  if (plen > 32 || ifx >= nIfaces) return E_INVAL;
  let mask = prefixMask(plen);
  dst &= mask;
  let at = nRoutes;
  for (let i: u32 = 0; i < nRoutes; i++) {
    let p = ROUTES + <usize>i * 20;
    if (load<u32>(p) == dst && load<u32>(p, 8) == plen) return E_EXIST;
    if (load<u32>(p, 8) < plen && at == nRoutes) at = i;
  }
  if (nRoutes >= MAX_ROUTES) return E_NOSPC;
  ifaceGen++;
  let p = ROUTES + <usize>at * 20;
  memory.copy(p + 20, p, <usize>(nRoutes - at) * 20);
  store<u32>(p, dst);
  store<u32>(p, mask, 4);
  store<u32>(p, plen, 8);
  store<u32>(p, gw, 12);
  store<u32>(p, ifx, 16);
  nRoutes++;
  return 0;
}

export function routeDel(dst: u32, plen: u32, gw: u32): i32 {
  if (plen > 32) return E_INVAL;
  dst &= prefixMask(plen);
  for (let i: u32 = 0; i < nRoutes; i++) {
    let p = ROUTES + <usize>i * 20;
    if (load<u32>(p) == dst && load<u32>(p, 8) == plen && (gw == 0 || load<u32>(p, 12) == gw)) {
      ifaceGen++;
      memory.copy(p, p + 20, <usize>(nRoutes - i - 1) * 20);
      nRoutes--;
      return 0;
    }
  }
  return E_NOENT;
}

/** Where a datagram goes: the result of routeLookup, in a slot its caller
 * owns (ROUTE_SLOT bytes of static memory), so it compiles to plain loads
 * and stores and no call in between can change it. */
// @ts-ignore: decorator
@unmanaged export class Route {
  /** The interface it leaves by. */
  ifx: u32;
  /** The address to resolve on that link: dst, or the gateway. */
  nexthop: u32;
  /** Our address to send from. */
  src: u32;
  /** dst is one of our own addresses: the datagram loops back, it never reaches a link. */
  local: bool;
}
export const ROUTE_SLOT: i32 = 16;

/** Longest-prefix match for dst, into rt. */
export function routeLookup(dst: u32, rt: Route): bool {
  let own = localIface(dst);
  rt.local = own >= 0;
  if (own >= 0) { rt.ifx = <u32>own; rt.nexthop = dst; rt.src = dst; return true; }
  // 127.0.0.0/8 never leaves a host (RFC 1122 3.2.1.3), not even by a default route.
  if ((dst >>> 24) == 127) return false;
  if (dst == IP_BROADCAST) {
    if (nIfaces == 0 || !ifIsUp(0)) return false;
    let src = srcFor(0, 0, 0xffffffff);
    rt.ifx = 0; rt.nexthop = dst; rt.src = src;
    return src != 0;
  }
  for (let i: u32 = 0; i < nRoutes; i++) {
    let p = ROUTES + <usize>i * 20;
    let mask = load<u32>(p, 4);
    if ((dst & mask) != load<u32>(p) || !ifIsUp(load<u32>(p, 16))) continue;
    let gw = load<u32>(p, 12);
    let ifx = load<u32>(p, 16);
    // Prefer a source in the subnet of the next hop (RFC 1122 3.3.4.3).
    let src = gw == 0 ? srcFor(ifx, dst & mask, mask) : srcForHop(ifx, gw);
    rt.ifx = ifx; rt.nexthop = gw == 0 ? dst : gw; rt.src = src;
    return src != 0;
  }
  return false;
}

/** An address of ifx whose subnet holds hop, else any address of ifx (the sender of an ARP request). */
export function srcForHop(ifx: u32, hop: u32): u32 {
  for (let i: u32 = 0; i < nAddrs; i++) {
    let p = addrAt(i);
    if (load<u32>(p, 8) != ifx || (load<u32>(p, 12) & ADDR_NOARP)) continue;
    let mask = load<u32>(p, 4);
    if ((load<u32>(p) & mask) == (hop & mask)) return load<u32>(p);
  }
  return srcFor(ifx, 0, 0xffffffff);
}

/** Writes our MAC for ifx at dst. */
// @ts-ignore: decorator
@inline export function putMac(dst: usize, ifx: u32): void { copyMac(dst, ifMac(ifx)); }
