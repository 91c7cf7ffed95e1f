// UDP sockets (RFC 768, RFC 1122 4.1). A fixed table; demultiplexing by a
// hash on the local port, exact local address before the wildcard. Received
// datagrams stay in the buffers they arrived in (no copy) until the host
// reads them out; each socket's queue is bounded.
import { ld16, st16 } from '../wire/bytes';
import { sumBytes, copySum, fold, finish, pseudoSum } from '../wire/checksum';
import { UDP_SPORT, UDP_DPORT, UDP_LEN, UDP_CSUM, UDP_HLEN } from '../wire/udp';
import { PROTO_UDP, ipSrc, ipDst, IP_BROADCAST } from '../wire/ipv4';
import { ICMP_UNREACH, UNREACH_PORT } from '../wire/icmp';
import { arenaReserve, pktFreeChain, PKT_IP, PKT_UDP_SRC, PKT_UDP_SPORT, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT, PKT_QNEXT } from '../base/mem';
import { SCB_IO, SCB_IO_CAP, scbGet } from '../base/scb';
import { count, C_UDP_RX, C_UDP_BAD_CSUM, C_UDP_BAD_LEN, C_UDP_NO_PORT, C_UDP_RCVBUF, C_UDP_TX } from '../base/counters';
import { emit, EV_UDP_READABLE, EV_UDP_ERROR } from '../base/events';
import { rand32 } from '../base/random';
import { localIface, Route, ROUTE_SLOT } from '../iface/iface';
import { ipBegin, ipRoute, ipSend, pktBroadcast, pktCsumOk, pktSum, pktTrim, L4, DEFAULT_TTL } from '../iface/ip';
import { icmpError } from '../iface/icmp';
import { E_ACCES, E_ADDRINUSE, E_ADDRNOTAVAIL, E_BADF, E_INVAL, E_MFILE, E_MSGSIZE, E_NETUNREACH, E_NOBUFS } from '../base/errno';


// Socket, 48 bytes.
const K_STATE: usize = 0;     // 0 free, 1 open
const K_LADDR: usize = 4;
const K_LPORT: usize = 8;
const K_RADDR: usize = 12;    // connected peer (0: none)
const K_RPORT: usize = 16;
const K_QHEAD: usize = 20;
const K_QTAIL: usize = 24;
const K_QLEN: usize = 28;
const K_HNEXT: usize = 32;    // next socket in the port's hash chain (index + 1)
const K_FLAGS: usize = 36;    // bit 0: broadcast allowed
const SOCK: usize = 48;

const HASH: u32 = 256;
const MAX_DGRAM: u32 = 65507;
/** The route of the datagram being sent. */
const rt = changetype<Route>(memory.data(ROUTE_SLOT));
export const EPHEMERAL_LO: u32 = 49152;   // RFC 6335 dynamic ports
export const EPHEMERAL_N: u32 = 16384;

let socks: usize = 0;
let nsocks: u32 = 0;
let qmax: u32 = 0;
let hash: usize = 0;          // HASH × u32: first socket index + 1
let loaned: usize = 0;        // datagrams handed to the host, freed on the next call

export function udpLayout(n: u32, queue: u32): void {
  nsocks = n;
  qmax = queue;
  socks = arenaReserve(<usize>n * SOCK);
  hash = arenaReserve(<usize>HASH << 2);
}

// @ts-ignore: decorator
@inline function sock(sd: u32): usize { return socks + <usize>sd * SOCK; }
// @ts-ignore: decorator
@inline function bucket(port: u32): usize { return hash + (<usize>((port ^ (port >> 8)) & (HASH - 1)) << 2); }

function valid(sd: i32): bool { return sd >= 0 && <u32>sd < nsocks && load<u32>(sock(<u32>sd), K_STATE) != 0; }

/** Frees the datagrams the host has had the chance to copy out. */
export function udpReleaseLoans(): void {
  let b = loaned;
  loaned = 0;
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    pktFreeChain(b);
    b = next;
  }
}

export function udpOpen(): i32 {
  for (let i: u32 = 0; i < nsocks; i++) {
    let k = sock(i);
    if (load<u32>(k, K_STATE) == 0) {
      memory.fill(k, 0, SOCK);
      store<u32>(k, 1, K_STATE);
      return <i32>i;
    }
  }
  return E_MFILE;
}

function portUser(addr: u32, port: u32): i32 {
  let i = load<u32>(bucket(port));
  while (i) {
    let k = sock(i - 1);
    if (load<u32>(k, K_LPORT) == port) {
      let la = load<u32>(k, K_LADDR);
      if (la == 0 || addr == 0 || la == addr) return <i32>(i - 1);
    }
    i = load<u32>(k, K_HNEXT);
  }
  return -1;
}

function hashIn(sd: u32, port: u32): void {
  let h = bucket(port);
  store<u32>(sock(sd), load<u32>(h), K_HNEXT);
  store<u32>(h, sd + 1);
}

function hashOut(sd: u32, port: u32): void {
  let h = bucket(port);
  let i = load<u32>(h);
  let prev: usize = 0;
  while (i) {
    let k = sock(i - 1);
    if (i - 1 == sd) {
      if (prev) store<u32>(prev, load<u32>(k, K_HNEXT), K_HNEXT); else store<u32>(h, load<u32>(k, K_HNEXT));
      return;
    }
    prev = k;
    i = load<u32>(k, K_HNEXT);
  }
}

/** A free ephemeral port for addr (RFC 6056: random start, then sequential search). */
function ephemeral(addr: u32): u32 {
  let start = rand32() % EPHEMERAL_N;
  for (let i: u32 = 0; i < EPHEMERAL_N; i++) {
    let port = EPHEMERAL_LO + (start + i) % EPHEMERAL_N;
    if (portUser(addr, port) < 0) return port;
  }
  return 0;
}

export function udpBind(sd: i32, addr: u32, port: u32): i32 {
  if (!valid(sd)) return E_BADF;
  let k = sock(<u32>sd);
  if (load<u32>(k, K_LPORT) != 0 || port > 65535) return E_INVAL;
  if (addr != 0 && addr != IP_BROADCAST && localIface(addr) < 0) return E_ADDRNOTAVAIL;
  if (port == 0) { port = ephemeral(addr); if (!port) return E_ADDRINUSE; }
  else if (portUser(addr, port) >= 0) return E_ADDRINUSE;
  store<u32>(k, addr, K_LADDR);
  store<u32>(k, port, K_LPORT);
  hashIn(<u32>sd, port);
  return 0;
}

export function udpConnect(sd: i32, addr: u32, port: u32): i32 {
  if (!valid(sd)) return E_BADF;
  if (port == 0 || port > 65535 || addr == 0) return E_INVAL;
  let k = sock(<u32>sd);
  if (load<u32>(k, K_LPORT) == 0) { let r = udpBind(sd, 0, 0); if (r < 0) return r; }
  store<u32>(k, addr, K_RADDR);
  store<u32>(k, port, K_RPORT);
  return 0;
}

export function udpSetBroadcast(sd: i32, on: bool): i32 {
  if (!valid(sd)) return E_BADF;
  let k = sock(<u32>sd);
  store<u32>(k, on ? 1 : 0, K_FLAGS);
  return 0;
}

/** Local address and port into io words 0 and 1. */
export function udpLocal(sd: i32): i32 {
  if (!valid(sd)) return E_BADF;
  let k = sock(<u32>sd);
  let io = <usize>scbGet(SCB_IO);
  store<u32>(io, load<u32>(k, K_LADDR));
  store<u32>(io, load<u32>(k, K_LPORT), 4);
  return 0;
}

export function udpClose(sd: i32): i32 {
  if (!valid(sd)) return E_BADF;
  let k = sock(<u32>sd);
  let port = load<u32>(k, K_LPORT);
  if (port) hashOut(<u32>sd, port);
  let b = <usize>load<u32>(k, K_QHEAD);
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    pktFreeChain(b);
    b = next;
  }
  store<u32>(k, 0, K_STATE);
  return 0;
}

/** Sends len bytes from the io area to dst:port (0, 0 on a connected socket). Returns len or a negative errno. */
export function udpSend(sd: i32, dst: u32, dport: u32, len: u32): i32 {
  if (!valid(sd)) return E_BADF;
  let k = sock(<u32>sd);
  if (dst == 0 && dport == 0) { dst = load<u32>(k, K_RADDR); dport = load<u32>(k, K_RPORT); }
  if (dst == 0 || dport == 0 || dport > 65535) return E_INVAL;
  if (len > MAX_DGRAM || len > scbGet(SCB_IO_CAP)) return E_MSGSIZE;
  if (dst == IP_BROADCAST && !(load<u32>(k, K_FLAGS) & 1)) return E_ACCES;
  if (load<u32>(k, K_LPORT) == 0) { let r = udpBind(sd, 0, 0); if (r < 0) return r; }
  let src = load<u32>(k, K_LADDR);
  let r = udpOutput(src == IP_BROADCAST ? 0 : src, load<u32>(k, K_LPORT), dst, dport, <usize>scbGet(SCB_IO), len);
  return r < 0 ? r : <i32>len;
}

/** Sends len bytes at data from src:sport (src 0: the route's) to dst:dport,
 * for a socket or for the core itself (the cluster's control messages). 0 or a negative errno. */
export function udpOutput(src: u32, sport: u32, dst: u32, dport: u32, data: usize, len: u32): i32 {
  if (!ipRoute(dst, rt)) return E_NETUNREACH;
  if (src == 0) src = rt.src;
  let f = ipBegin(UDP_HLEN + len);
  if (!f) return E_NOBUFS;
  let u = f + L4;
  let ulen = UDP_HLEN + len;
  st16(u + UDP_SPORT, sport);
  st16(u + UDP_DPORT, dport);
  st16(u + UDP_LEN, ulen);
  store<u16>(u + UDP_CSUM, 0);
  // The checksum rides on the one copy of the payload into the frame.
  let sum = copySum(u + UDP_HLEN, data, len, pseudoSum(src, dst, PROTO_UDP, ulen));
  sum = sumBytes(u, UDP_HLEN, sum);
  let c = finish(sum);
  st16(u + UDP_CSUM, c == 0 ? 0xffff : c);
  let r = ipSend(rt, f, ulen, PROTO_UDP, src, dst, false, DEFAULT_TTL);
  if (r < 0) return r;
  count(C_UDP_TX);
  return 0;
}

/** UDP input; owns b (the head of a possibly reassembled datagram). */
export function udpInput(b: usize): void {
  count(C_UDP_RX);
  let ip = <usize>load<u32>(b, PKT_IP);
  let u = <usize>load<u32>(b, PKT_DATA);
  let total = load<u32>(b, PKT_TOTAL);
  if (total < UDP_HLEN || load<u32>(b, PKT_LEN) < UDP_HLEN) { count(C_UDP_BAD_LEN); pktFreeChain(b); return; }
  let ulen = ld16(u + UDP_LEN);
  if (ulen < UDP_HLEN || ulen > total) { count(C_UDP_BAD_LEN); pktFreeChain(b); return; }
  pktTrim(b, ulen);
  let src = ipSrc(ip), dst = ipDst(ip);
  if (load<u16>(u + UDP_CSUM) != 0 && !pktCsumOk(b)) {
    if (fold(pktSum(b, pseudoSum(src, dst, PROTO_UDP, ulen))) != 0xffff) { count(C_UDP_BAD_CSUM); pktFreeChain(b); return; }
  }
  let sport = ld16(u + UDP_SPORT), dport = ld16(u + UDP_DPORT);
  let sd = demux(dst, dport, src, sport, pktBroadcast(b));
  if (sd < 0) {
    count(C_UDP_NO_PORT);
    icmpError(b, ICMP_UNREACH, UNREACH_PORT, 0);
    pktFreeChain(b);
    return;
  }
  let k = sock(<u32>sd);
  let qlen = load<u32>(k, K_QLEN);
  if (qlen >= qmax) { count(C_UDP_RCVBUF); pktFreeChain(b); return; }
  // The payload starts after the UDP header, in the same buffer.
  store<u32>(b, <u32>(u + UDP_HLEN), PKT_DATA);
  store<u32>(b, load<u32>(b, PKT_LEN) - UDP_HLEN, PKT_LEN);
  store<u32>(b, ulen - UDP_HLEN, PKT_TOTAL);
  store<u32>(b, src, PKT_UDP_SRC);
  store<u32>(b, sport, PKT_UDP_SPORT);
  store<u32>(b, 0, PKT_QNEXT);
  let tail = <usize>load<u32>(k, K_QTAIL);
  if (qlen && tail) store<u32>(tail, <u32>b, PKT_QNEXT); else store<u32>(k, <u32>b, K_QHEAD);
  store<u32>(k, <u32>b, K_QTAIL);
  store<u32>(k, qlen + 1, K_QLEN);
  if (qlen == 0) emit(EV_UDP_READABLE, <u32>sd, 0, 0);
}

function demux(dst: u32, dport: u32, src: u32, sport: u32, bcast: bool): i32 {
  let wild: i32 = -1;
  let i = load<u32>(bucket(dport));
  while (i) {
    let k = sock(i - 1);
    if (load<u32>(k, K_LPORT) == dport) {
      let ra = load<u32>(k, K_RADDR);
      if (ra == 0 || (ra == src && load<u32>(k, K_RPORT) == sport)) {
        let la = load<u32>(k, K_LADDR);
        if (la == dst) return <i32>(i - 1);
        if (la == 0 || (bcast && la == IP_BROADCAST)) wild = <i32>(i - 1);
      }
    }
    i = load<u32>(k, K_HNEXT);
  }
  return wild;
}

/** Hands up to max queued datagrams to the host: records in the io area of
 * [src, sport, length, nseg, (address, bytes) × nseg], u32 each. The buffers
 * stay valid until the next call into the core. Returns the record count. */
export function udpRecv(sd: i32, max: u32): i32 {
  if (!valid(sd)) return E_BADF;
  udpReleaseLoans();
  let k = sock(<u32>sd);
  let io = <usize>scbGet(SCB_IO);
  let end = io + scbGet(SCB_IO_CAP);
  let at = io;
  let n: u32 = 0;
  let b = <usize>load<u32>(k, K_QHEAD);
  while (b && n < max) {
    let nseg: u32 = 0;
    for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) nseg++;
    if (at + 16 + (<usize>nseg << 3) > end) break;
    store<u32>(at, load<u32>(b, PKT_UDP_SRC));
    store<u32>(at, load<u32>(b, PKT_UDP_SPORT), 4);
    store<u32>(at, load<u32>(b, PKT_TOTAL), 8);
    store<u32>(at, nseg, 12);
    at += 16;
    for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) {
      store<u32>(at, load<u32>(c, PKT_DATA));
      store<u32>(at, load<u32>(c, PKT_LEN), 4);
      at += 8;
    }
    let next = <usize>load<u32>(b, PKT_QNEXT);
    store<u32>(b, <u32>loaned, PKT_QNEXT);
    loaned = b;
    b = next;
    n++;
  }
  store<u32>(k, <u32>b, K_QHEAD);
  if (!b) store<u32>(k, 0, K_QTAIL);
  store<u32>(k, load<u32>(k, K_QLEN) - n, K_QLEN);
  return <i32>n;
}

/** An ICMP error about a datagram we sent from lport to raddr:rport. */
export function udpIcmpError(laddr: u32, lport: u32, raddr: u32, rport: u32, what: u32): void {
  let sd = demux(laddr, lport, raddr, rport, false);
  if (sd >= 0) emit(EV_UDP_ERROR, <u32>sd, what, raddr);
}
