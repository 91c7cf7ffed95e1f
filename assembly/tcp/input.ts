// TCP segment input. Until the TCP issue lands, every segment is answered as
// RFC 9293 3.10.7.1 says for a CLOSED port: a RST (never one for a RST).
import { ld16, ld32, st16, st32 } from '../wire/bytes';
import { sumBytes, fold, finish, pseudoSum } from '../wire/checksum';
import { TCP_SPORT, TCP_DPORT, TCP_SEQ, TCP_ACK, TCP_OFF, TCP_FLAGS, TCP_WIN, TCP_CSUM, TCP_URP, TCP_HLEN,
  TH_SYN, TH_FIN, TH_RST, TH_ACK, tcpHlen } from '../wire/tcp';
import { PROTO_TCP, ipSrc, ipDst } from '../wire/ipv4';
import { pktFreeChain, PKT_A, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT } from '../base/mem';
import { count, C_TCP_RX, C_TCP_BAD, C_TCP_RST_TX } from '../base/counters';
import { ipBegin, ipRoute, ipSend, pktBroadcast, pktCsumOk, L4, DEFAULT_TTL } from '../iface/ip';

export function tcpInput(b: usize): void {
  count(C_TCP_RX);
  let ip = <usize>load<u32>(b, PKT_A);
  let th = <usize>load<u32>(b, PKT_DATA);
  let total = load<u32>(b, PKT_TOTAL);
  // Segments arrive whole in one buffer unless they were fragmented; we read only the header.
  if (total < TCP_HLEN || load<u32>(b, PKT_LEN) < TCP_HLEN || tcpHlen(th) < TCP_HLEN || tcpHlen(th) > load<u32>(b, PKT_LEN) ||
      pktBroadcast(b) || (!pktCsumOk(b) && load<u32>(b, PKT_NEXT) == 0 &&
      fold(sumBytes(th, total, pseudoSum(ipSrc(ip), ipDst(ip), PROTO_TCP, total))) != 0xffff)) {
    count(C_TCP_BAD); pktFreeChain(b); return;
  }
  let flags = <u32>load<u8>(th, TCP_FLAGS);
  if (!(flags & TH_RST)) {
    let seg = total - tcpHlen(th) + ((flags & TH_SYN) ? 1 : 0) + ((flags & TH_FIN) ? 1 : 0);
    if (flags & TH_ACK) reset(ipDst(ip), ipSrc(ip), ld16(th + TCP_DPORT), ld16(th + TCP_SPORT), ld32(th + TCP_ACK), 0, TH_RST);
    else reset(ipDst(ip), ipSrc(ip), ld16(th + TCP_DPORT), ld16(th + TCP_SPORT), 0, ld32(th + TCP_SEQ) + seg, TH_RST | TH_ACK);
  }
  pktFreeChain(b);
}

function reset(src: u32, dst: u32, sport: u32, dport: u32, seq: u32, ack: u32, flags: u32): void {
  if (!ipRoute(dst)) return;
  let f = ipBegin(TCP_HLEN);
  if (!f) return;
  let t = f + L4;
  st16(t + TCP_SPORT, sport);
  st16(t + TCP_DPORT, dport);
  st32(t + TCP_SEQ, seq);
  st32(t + TCP_ACK, ack);
  store<u8>(t, 5 << 4, TCP_OFF);
  store<u8>(t, <u8>flags, TCP_FLAGS);
  st16(t + TCP_WIN, 0);
  store<u16>(t + TCP_CSUM, 0);
  st16(t + TCP_URP, 0);
  st16(t + TCP_CSUM, finish(sumBytes(t, TCP_HLEN, pseudoSum(src, dst, PROTO_TCP, TCP_HLEN))));
  if (ipSend(f, TCP_HLEN, PROTO_TCP, src, dst, true, DEFAULT_TTL) == 0) count(C_TCP_RST_TX);
}

/** An ICMP error about a segment we sent (RFC 5927); nothing to tell yet. */
export function tcpIcmpError(ip: usize, th: usize, what: u32): void {}
