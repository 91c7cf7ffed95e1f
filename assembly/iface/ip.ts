// IPv4 input and output (RFC 791, RFC 1122 3.2.1). Input validates once, up
// front, and gives back whole datagrams (through reassembly when fragmented)
// for the demultiplexer above (net/demux.ts) to hand to their protocol.
// Output builds the header, fragments to the link MTU, and resolves the next
// hop; a datagram to one of our own addresses loops back to input at the next
// poll, as through Linux's lo. A packet already in a buffer goes out in place,
// and IP-in-IP (RFC 2003) puts its outer header in the buffer's headroom.
import { ld16, ld32, st16, st32 } from '../wire/bytes';
import { sumBytes, fold, finish, swapSum } from '../wire/checksum';
import { ETH_SRC, ETH_TYPE, ETH_HLEN, ETHERTYPE_IPV4 } from '../wire/ether';
import { IP_VIHL, IP_TOS, IP_LEN, IP_ID, IP_FRAG, IP_TTL, IP_PROTO, IP_CSUM, IP_SRC, IP_DST, IP_HLEN,
  IP_DF, IP_MF, IP_OFFMASK, IP_BROADCAST, PROTO_IPIP, PROTO_UDP, PROTO_TCP, ipSrc, ipDst, ipHlen,
  isMartianSource, isMulticast, IPOPT_EOL, IPOPT_NOP, IPOPT_RR, IPOPT_TS, IPOPT_LSRR, IPOPT_SSRR, IPOPT_LEN, IPOPT_PTR,
  IPOPT_TS_FLAGS, IPOPT_TS_TSONLY, IPOPT_TS_TSANDADDR, IPOPT_TS_PRESPEC } from '../wire/ipv4';
import { pktAlloc, pktFree, pktFreeChain, txBegin, txCommit, txReserve, txRoom, txFrameCopy, txPostBuf, bufSize, BUF_DATA, BUF_META, PKT_IP, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT, PKT_QNEXT, PKT_RX } from '../base/mem';
import { count, C_IP_RX, C_IP_BAD_VERSION, C_IP_BAD_HLEN, C_IP_BAD_LEN, C_IP_BAD_CSUM, C_IP_MARTIAN,
  C_IP_NOT_LOCAL, C_IP_TX, C_IP_NO_ROUTE, C_IP_FRAG_TX, C_IP_FRAG_DF, C_IP_MCAST, C_TX_ARENA_FULL,
  C_IP_CHAIN_BAD, C_LOOPBACK, C_POOL_EMPTY, C_IP_BAD_OPTION, C_IP_SOURCE_ROUTE } from '../base/counters';
import { rand32 } from '../base/random';
import { localIface, isSubnetBroadcast, isAnyBroadcast, ifMtu, ifGsoMax, putMac, routeLookup, Route } from './iface';
import { now, wakeAt } from '../base/time';
import { neighOutput } from './neigh';
import { reasmInput } from './reasm';
import { E_INVAL, E_MSGSIZE, E_NOBUFS } from '../base/errno';
import { FRAME_CSUM_OK, FRAME_CSUM_PARTIAL, FRAME_GSO, SCB_FREE_COUNT, scbGet } from '../base/scb';


/** Rx descriptor flags kept with a packet (FRAME_CSUM_OK); the rest are reserved or consumed by poll. */
const RX_FLAGS: u32 = FRAME_CSUM_OK;

export const DEFAULT_TTL: u32 = 64;
/** Where L4 starts in a frame built by ipBegin. */
export const L4: usize = ETH_HLEN + IP_HLEN;

let ipId: u32 = 0;

export function ipInit(): void { ipId = rand32() & 0xffff; }

/** Validates an IPv4 packet at ip (len bytes after the Ethernet header, and
 * moreLen more in the buffers chained to b when the frame spans several).
 * Owns b and its chain: returns the whole datagram to deliver (PKT_IP, PKT_RX
 * set; payload at PKT_DATA, PKT_TOTAL bytes over the chain), or 0 when it was
 * dropped or is a fragment reassembly keeps. */
export function ipInput(b: usize, ip: usize, len: u32, ifx: u32, flags: u32, moreLen: u32, loop: bool = false): usize {
  count(C_IP_RX);
  if (len < IP_HLEN) { count(C_IP_BAD_LEN); pktFreeChain(b); return 0; }
  let vihl = <u32>load<u8>(ip, IP_VIHL);
  if ((vihl >> 4) != 4) { count(C_IP_BAD_VERSION); pktFreeChain(b); return 0; }
  let hlen = (vihl & 15) << 2;
  if (hlen < IP_HLEN || hlen > len) { count(C_IP_BAD_HLEN); pktFreeChain(b); return 0; }
  let tot = ld16(ip + IP_LEN);
  if (tot < hlen || tot > len + moreLen) { count(C_IP_BAD_LEN); pktFreeChain(b); return 0; }
  if (fold(sumBytes(ip, hlen, 0)) != 0xffff) { count(C_IP_BAD_CSUM); pktFreeChain(b); return 0; }
  let src = ipSrc(ip);
  let dst = ipDst(ip);
  // Our own source address is a martian from a link, and what the loopback carries.
  if (isMartianSource(src) || isAnyBroadcast(src) || (!loop && localIface(src) >= 0)) { count(C_IP_MARTIAN); pktFreeChain(b); return 0; }
  let bcast = dst == IP_BROADCAST || isSubnetBroadcast(ifx, dst);
  if (!bcast && localIface(dst) < 0) {
    if (isMulticast(dst)) count(C_IP_MCAST); else count(C_IP_NOT_LOCAL);
    pktFreeChain(b);
    return 0;
  }
  if (hlen > IP_HLEN) {
    let bad = optCheck(ip, hlen);
    if (bad == OPT_ROUTE_PENDING) { count(C_IP_SOURCE_ROUTE); pktFreeChain(b); return 0; }
    if (bad) {
      // Up whole, for the demultiplexer to answer with a Parameter Problem and nothing else.
      count(C_IP_BAD_OPTION);
      store<u32>(b, <u32>ip, PKT_IP);
      store<u32>(b, ifx | (bad << 16) | RX_PARAM_PROBLEM | (bcast ? RX_BROADCAST : 0), PKT_RX);
      store<u32>(b, <u32>(ip + hlen), PKT_DATA);
      store<u32>(b, len - hlen, PKT_LEN);
      return b;
    }
  }
  store<u32>(b, <u32>ip, PKT_IP);
  // Only the defined flag bits: bit 31 of this word is ours (broadcast), and reserved bits mean nothing.
  store<u32>(b, ifx | ((flags & RX_FLAGS) << 16) | (bcast ? RX_BROADCAST : 0), PKT_RX);
  let frag = ld16(ip + IP_FRAG);
  if (load<u32>(b, PKT_NEXT)) {
    // A large segment over several buffers (a GSO frame from the link): never a fragment, only TCP or UDP, bare
    // or IP-in-IP (a routing stack's, forwarded whole).
    let proto = <u32>load<u8>(ip, IP_PROTO);
    if ((frag & (IP_MF | IP_OFFMASK)) || (proto != PROTO_TCP && proto != PROTO_UDP && proto != PROTO_IPIP)) {
      count(C_IP_CHAIN_BAD); pktFreeChain(b); return 0;
    }
    store<u32>(b, <u32>(ip + hlen), PKT_DATA);
    store<u32>(b, len - hlen, PKT_LEN);
    pktTrim(b, tot - hlen);
  } else if (frag & (IP_MF | IP_OFFMASK)) {
    return reasmInput(b, ip, hlen, tot, frag);
  } else {
    store<u32>(b, <u32>(ip + hlen), PKT_DATA);
    store<u32>(b, tot - hlen, PKT_LEN);
    store<u32>(b, tot - hlen, PKT_TOTAL);
    store<u32>(b, 0, PKT_NEXT);
  }
  return b;
}

/** PKT_RX's bit for a datagram that arrived for a broadcast address. */
const RX_BROADCAST: u32 = 0x80000000;
/** PKT_RX's bit for a datagram with a malformed option; bits 16-23 then hold the offset of the bad octet. */
const RX_PARAM_PROBLEM: u32 = 0x40000000;

/** The Parameter Problem pointer (RFC 792) for a datagram ipInput found a
 * malformed option in (RFC 1122 3.2.2.5: answered with that and nothing
 * else), or 0. */
export function pktParamProblem(b: usize): u32 {
  let w = load<u32>(b, PKT_RX);
  return w & RX_PARAM_PROBLEM ? (w >> 16) & 0xff : 0;
}

/** What optCheck finds besides a bad octet: a source route with hops left. */
const OPT_ROUTE_PENDING: u32 = 1;

/** Checks the options of the header at ip (hlen bytes) as Linux does on
 * input (RFC 791 3.1): 0 when they are well formed, OPT_ROUTE_PENDING for a
 * loose or strict source route not yet complete (not for us: RFC 1122
 * 3.3.5), else the offset of the bad octet (at least IP_HLEN): a length
 * octet missing, below 2 or past the header; a route or timestamp option
 * too short, repeated, or with a pointer below its first entry, into the
 * middle of its last, or with its overflow count used up. */
function optCheck(ip: usize, hlen: u32): u32 {
  let seen: u32 = 0;
  let pending = false;
  for (let at = optFind(ip, IP_HLEN, hlen); at < hlen;) {
    let o = ip + at;
    let t = <u32>load<u8>(o);
    if (at + 1 == hlen) return at;
    let len = <u32>load<u8>(o, IPOPT_LEN);
    if (len < 2 || len > hlen - at) return at + 1;
    let srr = t == IPOPT_LSRR || t == IPOPT_SSRR;
    if (srr || t == IPOPT_RR || t == IPOPT_TS) {
      let bit: u32 = srr ? 1 : t == IPOPT_RR ? 2 : 4;
      if (seen & bit) return at;
      seen |= bit;
      let first: u32 = t == IPOPT_TS ? 5 : 4;
      if (len < first - 1) return at + 1;
      let ptr = <u32>load<u8>(o, IPOPT_PTR);
      if (ptr < first) return at + 2;
      let fl = t == IPOPT_TS ? <u32>load<u8>(o, IPOPT_TS_FLAGS) : 0;
      let entry: u32 = (fl & 15) == IPOPT_TS_TSANDADDR || (fl & 15) == IPOPT_TS_PRESPEC ? 8 : 4;
      if (srr) pending = pending || ptr + 3 <= len;
      else if (ptr <= len) { if (ptr + entry - 1 > len) return at + 2; }
      else if ((fl & 15) != IPOPT_TS_PRESPEC && (fl >> 4) == 15) return at + 3;
    }
    at = optFind(ip, at + len, hlen);
  }
  return pending ? OPT_ROUTE_PENDING : 0;
}

/** The offset of the first option from at on that has a length octet (past
 * NOPs), or hlen at the end-of-list or the header's end. */
function optFind(ip: usize, at: u32, hlen: u32): u32 {
  for (; at < hlen; at++) {
    let t = <u32>load<u8>(ip + at);
    if (t == IPOPT_EOL) break;
    if (t != IPOPT_NOP) return at;
  }
  return hlen;
}

/** Writes at out the Record Route and Timestamp options of the echo request
 * whose header is at ip (checked by ipInput), with this host (address me)
 * entered where they have room, as it took the request in and as it sends
 * the reply (RFC 1122 3.2.2.6; Linux enters both), and end-of-list to a
 * whole word. Returns their length: at most the request's. */
export function ipEchoOptions(out: usize, ip: usize, me: u32): u32 {
  let hlen = ipHlen(ip);
  let n: u32 = 0;
  for (let at = optFind(ip, IP_HLEN, hlen); at < hlen;) {
    let o = ip + at;
    let t = <u32>load<u8>(o);
    let len = <u32>load<u8>(o, IPOPT_LEN);
    if (t == IPOPT_RR || t == IPOPT_TS) {
      memory.copy(out + n, o, len);
      optEnter(out + n, me, true);
      optEnter(out + n, me, false);
      n += len;
    }
    at = optFind(ip, at + len, hlen);
  }
  let padded = (n + 3) & ~3;
  memory.fill(out + n, <u8>IPOPT_EOL, padded - n);
  return padded;
}

/** Enters this host in the Record Route or Timestamp option at o, if it has
 * room (RFC 791): a full Timestamp option counts it as overflow once, on
 * arrival. The time is not milliseconds since midnight UT, so it has its
 * high bit set. */
function optEnter(o: usize, me: u32, arrival: bool): void {
  let len = <u32>load<u8>(o, IPOPT_LEN);
  let ptr = <u32>load<u8>(o, IPOPT_PTR);
  let at = o + ptr - 1;
  if (load<u8>(o) == IPOPT_RR) {
    if (ptr + 3 <= len) { st32(at, me); store<u8>(o, <u8>(ptr + 4), IPOPT_PTR); }
    return;
  }
  let fl = <u32>load<u8>(o, IPOPT_TS_FLAGS);
  let ts = <u32>((now / 1000) % 86_400_000) | 0x80000000;
  let flag = fl & 15;
  if (ptr > len) {
    if (arrival && flag != IPOPT_TS_PRESPEC) store<u8>(o, <u8>(fl + 0x10), IPOPT_TS_FLAGS);
  } else if (flag == IPOPT_TS_TSONLY) {
    if (ptr + 3 <= len) { st32(at, ts); store<u8>(o, <u8>(ptr + 4), IPOPT_PTR); }
  } else if (ptr + 7 <= len && (flag == IPOPT_TS_TSANDADDR || (flag == IPOPT_TS_PRESPEC && ld32(at) == me))) {
    st32(at, me); st32(at + 4, ts); store<u8>(o, <u8>(ptr + 8), IPOPT_PTR);
  }
}

/** True if the packet arrived for a broadcast address (no ICMP errors for it). */
// @ts-ignore: decorator
@inline export function pktBroadcast(b: usize): bool { return (load<u32>(b, PKT_RX) & RX_BROADCAST) != 0; }
/** True if the link vouched for the L4 checksum (FRAME_CSUM_OK). */
// @ts-ignore: decorator
@inline export function pktCsumOk(b: usize): bool { return ((load<u32>(b, PKT_RX) >> 16) & FRAME_CSUM_OK) != 0; }

/** Space in the tx arena for an IP datagram carrying up to l4max bytes; the
 * L4 header goes at the returned address + L4. 0 when the arena is full. */
export function ipBegin(l4max: u32): usize { return txBegin(<u32>L4 + l4max); }

/** Routes dst into rt (a slot the caller owns). Counted when there is no route. */
export function ipRoute(dst: u32, rt: Route): bool {
  if (routeLookup(dst, rt)) return true;
  count(C_IP_NO_ROUTE);
  return false;
}

/** Writes an IPv4 header at ip, hlen bytes with the options already in place
 * after it, with the next ID. Inlined: it is on every segment's way out. */
// @ts-ignore: decorator
@inline function putHeader(ip: usize, hlen: u32, tot: u32, tos: u32, frag: u32, ttl: u32, proto: u32, src: u32, dst: u32): void {
  store<u8>(ip, <u8>(0x40 | (hlen >> 2)), IP_VIHL);
  store<u8>(ip, <u8>tos, IP_TOS);
  st16(ip + IP_LEN, tot);
  st16(ip + IP_ID, ipId);
  ipId = (ipId + 1) & 0xffff;
  st16(ip + IP_FRAG, frag);
  store<u8>(ip, <u8>ttl, IP_TTL);
  store<u8>(ip, <u8>proto, IP_PROTO);
  st32(ip + IP_SRC, src);
  st32(ip + IP_DST, dst);
  store<u16>(ip + IP_CSUM, 0);
  st16(ip + IP_CSUM, finish(sumBytes(ip, hlen, 0)));
}

/** Finishes and sends a datagram built at f by ipBegin, along rt (from
 * ipRoute). txFlags: FRAME_CSUM_PARTIAL when the L4 checksum
 * is left to the link, with FRAME_GSO (and gso, the segment size) for a TCP
 * segment the link cuts up: it may then exceed the MTU, up to the
 * interface's GSO limit. olen: bytes of options written after the header
 * (the L4 header then follows them), only in a datagram that fits the link.
 * Returns 0 or a negative errno. */
export function ipSend(rt: Route, f: usize, l4len: u32, proto: u32, src: u32, dst: u32, df: bool, ttl: u32,
  txFlags: u32 = 0, gso: u32 = 0, olen: u32 = 0): i32 {
  let tot = IP_HLEN + olen + l4len;
  putHeader(f + ETH_HLEN, IP_HLEN + olen, tot, 0, df ? IP_DF : 0, ttl, proto, src, dst);
  let ifx = rt.ifx;
  putMac(f + ETH_SRC, ifx);
  st16(f + ETH_TYPE, ETHERTYPE_IPV4);
  count(C_IP_TX);
  let mtu = ifMtu(ifx);
  if (tot <= mtu) { linkOutput(rt, 0, f, ETH_HLEN + tot, txFlags & ~FRAME_GSO, 0); return 0; }
  if ((txFlags & FRAME_GSO) && gso && (rt.local || tot <= ifGsoMax(ifx))) {
    // Each segment the link cuts takes the next ID (as Linux does): skip past them.
    ipId = (ipId + (tot - IP_HLEN) / gso) & 0xffff;
    linkOutput(rt, 0, f, ETH_HLEN + tot, txFlags, gso);
    return 0;
  }
  if (df) { count(C_IP_FRAG_DF); return E_MSGSIZE; }
  return fragment(rt, f, tot, mtu);
}

/** Encapsulates the IPv4 datagram in packet buffer b (at PKT_DATA, PKT_LEN
 * bytes, one buffer) in an outer header from src to dst (RFC 2003), written
 * in the headroom in front of it, and sends the buffer in place along rt (to
 * dst, from ipRoute): nothing is copied, and the buffer is freed once the
 * host has sent it. TOS and DF come from the inner header (RFC 2003 3.1).
 * gso: a TCP segment the caller found may go out merged (GSO), leaving its
 * partial checksum and the cutting to the link, in segments of gso bytes; it
 * may lie over a chain of buffers (PKT_LEN bytes in b), and goes out so.
 * Owns b. Returns 0 or a negative errno (too large for the link: E_MSGSIZE,
 * counted; no headroom: E_INVAL). */
export function ipEncap(rt: Route, b: usize, src: u32, dst: u32, gso: u32 = 0): i32 {
  let inner = <usize>load<u32>(b, PKT_DATA);
  let len = load<u32>(b, PKT_LEN);
  let f = inner - ETH_HLEN - IP_HLEN;
  if (f < b + BUF_META || len < IP_HLEN) { pktFreeChain(b); return E_INVAL; }
  let tot = IP_HLEN + (gso ? ld16(inner + IP_LEN) : len);
  if (!gso && tot > ifMtu(rt.ifx)) { count(C_IP_FRAG_DF); pktFreeChain(b); return E_MSGSIZE; }
  putHeader(f + ETH_HLEN, IP_HLEN, tot, load<u8>(inner, IP_TOS), ld16(inner + IP_FRAG) & IP_DF, DEFAULT_TTL, PROTO_IPIP, src, dst);
  putMac(f + ETH_SRC, rt.ifx);
  st16(f + ETH_TYPE, ETHERTYPE_IPV4);
  count(C_IP_TX);
  linkOutput(rt, b, f, ETH_HLEN + IP_HLEN + len, gso ? FRAME_GSO | FRAME_CSUM_PARTIAL : 0, gso);
  return 0;
}

/** Sends the frame at f (len bytes, Ethernet source and type written) along
 * rt: a frame built in the tx arena (b 0, with its tx flags and GSO size), or
 * one in packet buffer b, which goes out (or waits for ARP) in place and is
 * freed once sent. */
function linkOutput(rt: Route, b: usize, f: usize, len: u32, txFlags: u32, gso: u32): void {
  let ifx = rt.ifx, nexthop = rt.nexthop;
  if (rt.local) { loopOutput(f, len, ifx); if (b) pktFree(b); }
  else if (nexthop == IP_BROADCAST || isSubnetBroadcast(ifx, nexthop)) {
    // A broadcast is for us too (as Linux loops it back): our own sockets hear it.
    loopOutput(f, len, ifx);
    store<u32>(f, 0xffffffff);
    store<u16>(f, 0xffff, 4);
    if (!b) txCommit(f, len, ifx | (txFlags << 16), gso);
    else if (!txPostBuf(b, f, len, ifx)) pktFree(b);
  } else {
    neighOutput(b, f, len, ifx, nexthop, txFlags, gso);
  }
}

// The loopback: frames to our own addresses, and a copy of each broadcast, in
// order, until the next poll. A frame larger than a packet buffer (a TCP
// segment of up to 64 KiB: TCP sends the loopback large ones, as to a GSO
// link) goes over a chain of them, as a link's merged segment arrives.
let loopHead: usize = 0;
let loopTail: usize = 0;

function loopOutput(f: usize, len: u32, ifx: u32): void {
  let room = bufSize - BUF_DATA;
  let n = (len + room - 1) / room;
  if (scbGet(SCB_FREE_COUNT) < n) { count(C_POOL_EMPTY); return; }
  let head: usize = 0, tail: usize = 0;
  for (let off: u32 = 0; off < len; off += room) {
    let b = pktAlloc();
    let k = min<u32>(room, len - off);
    txFrameCopy(b + BUF_DATA, f, len, off, k);
    store<u32>(b, <u32>(b + BUF_DATA), PKT_DATA);
    store<u32>(b, k, PKT_LEN);
    if (tail) store<u32>(tail, <u32>b, PKT_NEXT); else head = b;
    tail = b;
  }
  store<u32>(head, ifx, PKT_RX);
  store<u32>(head, len, PKT_TOTAL);
  if (loopTail) store<u32>(loopTail, <u32>head, PKT_QNEXT); else loopHead = head;
  loopTail = head;
  wakeAt(now);
}

/** Takes the frames the loopback holds, chained by PKT_QNEXT: what they
 * cause to loop waits for the next call. */
export function loopTake(): usize {
  let b = loopHead;
  loopHead = 0;
  loopTail = 0;
  return b;
}

/** IP input for one frame from the loopback (loopTake), as received:
 * checksums trusted, they crossed no wire. Returns what ipInput does. */
export function loopInput(b: usize): usize {
  let p = <usize>load<u32>(b, PKT_DATA);
  let first = load<u32>(b, PKT_LEN);
  count(C_LOOPBACK);
  return ipInput(b, p + ETH_HLEN, first - ETH_HLEN, load<u32>(b, PKT_RX), FRAME_CSUM_OK, load<u32>(b, PKT_TOTAL) - first, true);
}

/** Splits the datagram at f into fragments of at most mtu bytes (RFC 791 3.2). */
function fragment(rt: Route, f: usize, tot: u32, mtu: u32): i32 {
  txReserve(f, ETH_HLEN + tot);
  let chunk = (mtu - IP_HLEN) & ~7;
  // All fragments or none: a datagram with a hole is worth nothing.
  let nfrag = (tot - IP_HLEN + chunk - 1) / chunk;
  if (txRoom() < nfrag * ((<u32>L4 + chunk + 7) & ~7)) { count(C_TX_ARENA_FULL); return E_NOBUFS; }
  let data = f + L4;
  let left = tot - IP_HLEN;
  let off: u32 = 0;
  while (left > 0) {
    let n = min<u32>(chunk, left);
    let g = txBegin(<u32>L4 + n);
    if (!g) return E_NOBUFS;
    memory.copy(g, f, L4);
    memory.copy(g + L4, data + off, n);
    let ip = g + ETH_HLEN;
    st16(ip + IP_LEN, IP_HLEN + n);
    st16(ip + IP_FRAG, (off >> 3) | (n < left ? IP_MF : 0));
    store<u16>(ip + IP_CSUM, 0);
    st16(ip + IP_CSUM, finish(sumBytes(ip, IP_HLEN, 0)));
    count(C_IP_FRAG_TX);
    linkOutput(rt, 0, g, ETH_HLEN + IP_HLEN + n, 0, 0);
    off += n;
    left -= n;
  }
  return 0;
}

/** Adds a packet's payload, across its chain of buffers, to a partial sum (a
 * piece after an odd number of bytes counts byte-swapped). */
export function pktSum(b: usize, sum: u64): u64 {
  let odd = false;
  for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) {
    let n = load<u32>(c, PKT_LEN);
    let s = sumBytes(<usize>load<u32>(c, PKT_DATA), n, 0);
    sum += odd ? swapSum(s) : s;
    if (n & 1) odd = !odd;
  }
  return sum;
}

/** Cuts a packet's chain to n bytes of payload (n > 0), freeing what is past it. */
export function pktTrim(b: usize, n: u32): void {
  store<u32>(b, n, PKT_TOTAL);
  let left = n;
  for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) {
    let l = load<u32>(c, PKT_LEN);
    if (l >= left) {
      store<u32>(c, left, PKT_LEN);
      let rest = <usize>load<u32>(c, PKT_NEXT);
      store<u32>(c, 0, PKT_NEXT);
      if (rest) pktFreeChain(rest);
      return;
    }
    left -= l;
  }
}
