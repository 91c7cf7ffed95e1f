// The demultiplexer above IP: every whole datagram the stack takes in (from
// a link, after reassembly, or from the loopback) passes through deliver()
// to ICMP, UDP or TCP; ICMP errors, and the frames ARP gave up on, reach the
// transport that sent what they quote. The layers below give datagrams back
// up as return values and import nothing above them, so this is the only
// module that knows both IP and the transports.
import { ld16 } from '../wire/bytes';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV4 } from '../wire/ether';
import { IP_HLEN, IP_PROTO, PROTO_ICMP, PROTO_UDP, PROTO_TCP, ipHlen, ipSrc, ipDst } from '../wire/ipv4';
import { ICMP_HLEN, ICMP_TYPE, ICMP_CODE, ICMP_UNREACH, ICMP_TIME_EXCEEDED, ICMP_PARAM_PROBLEM, UNREACH_PROTO, TIMXCEED_REASS } from '../wire/icmp';
import { TCP_HLEN } from '../wire/tcp';
import { pktFree, pktFreeChain, PKT_IP, PKT_DATA, PKT_LEN, PKT_QNEXT } from '../base/mem';
import { count, C_IP_BAD_PROTO } from '../base/counters';
import { linkInput } from '../iface/link';
import { loopTake, loopInput, pktBroadcast, pktParamProblem } from '../iface/ip';
import { icmpInput, icmpError } from '../iface/icmp';
import { neighTimer } from '../iface/neigh';
import { reasmTimer } from '../iface/reasm';
import { udpInput, udpIcmpError } from '../udp/udp';
import { tcpInput, tcpIcmpError } from '../tcp/input';
import { clusterOn, clusterInput } from '../cluster/cluster';

/** One received frame (see linkInput). */
export function frameInput(p: usize, len: u32, word: u32, b: usize, more: u32): void {
  let d = linkInput(p, len, word, b, more);
  if (d) deliver(d);
}

/** What the loopback held since the last poll, as received. */
export function loopbackInput(): void {
  let b = loopTake();
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    store<u32>(b, 0, PKT_QNEXT);
    let d = loopInput(b);
    if (d) deliver(d);
    b = next;
  }
}

/** Hands a whole datagram (PKT_IP: its header; payload at PKT_DATA) to its
 * protocol, which owns it from then on. The cluster layer takes its VIPAs'
 * datagrams, control messages and IP-in-IP here, before the protocol switch. */
export function deliver(b: usize): void {
  let bad = pktParamProblem(b);
  if (bad) { icmpError(b, ICMP_PARAM_PROBLEM, 0, bad << 24); pktFreeChain(b); return; }
  if (clusterOn) { b = clusterInput(b); if (!b) return; }
  let ip = <usize>load<u32>(b, PKT_IP);
  let proto = <u32>load<u8>(ip, IP_PROTO);
  if (proto == PROTO_UDP) udpInput(b);
  else if (proto == PROTO_TCP) tcpInput(b);
  else if (proto == PROTO_ICMP) {
    if (icmpInput(b)) icmpToTransport(<usize>load<u32>(b, PKT_DATA));
    pktFreeChain(b);
  } else {
    count(C_IP_BAD_PROTO);
    if (!pktBroadcast(b)) icmpError(b, ICMP_UNREACH, UNREACH_PROTO, 0);
    pktFreeChain(b);
  }
}

/** An ICMP error at p (checked by icmpInput) about a UDP or TCP datagram we sent: to its socket. */
function icmpToTransport(p: usize): void {
  let q = p + ICMP_HLEN;
  let l4 = q + ipHlen(q);
  let what = (<u32>load<u8>(p, ICMP_TYPE) << 8) | <u32>load<u8>(p, ICMP_CODE);
  if (<u32>load<u8>(q, IP_PROTO) == PROTO_UDP) udpIcmpError(ipSrc(q), ld16(l4), ipDst(q), ld16(l4 + 2), what);
  else tcpIcmpError(q, l4, what);
}

/** The timers below the transports: ARP's retries, reassembly's timeouts, and what they give up on. */
export function lowerTimers(): void {
  let b = neighTimer();
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    unresolved(<usize>load<u32>(b, PKT_DATA), load<u32>(b, PKT_LEN));
    pktFree(b);
    b = next;
  }
  b = reasmTimer();
  while (b) {
    let next = <usize>load<u32>(b, PKT_QNEXT);
    icmpError(b, ICMP_TIME_EXCEEDED, TIMXCEED_REASS, 0);
    pktFreeChain(b);
    b = next;
  }
}

/** A TCP segment that never left because its next hop did not resolve is an
 * error for its connection, as Linux reports it (arp_error_report): a connect
 * fails with EHOSTUNREACH once ARP gives up, not after all its SYN retries. */
function unresolved(f: usize, len: u32): void {
  if (len < ETH_HLEN + IP_HLEN + TCP_HLEN || ld16(f + ETH_TYPE) != ETHERTYPE_IPV4) return;
  let ip = f + ETH_HLEN;
  let hl = ipHlen(ip);
  if (load<u8>(ip, IP_PROTO) == PROTO_TCP && len >= ETH_HLEN + hl + TCP_HLEN) tcpIcmpError(ip, ip + hl, 0);
}
