// ICMPv4 (RFC 792, RFC 1122 3.2.2): echo both ways, errors out (rate-limited
// by a token bucket, never about broadcasts, fragments other than the first,
// or other ICMP errors) and errors in (reported to the ping that caused them
// here, to a socket through the demultiplexer above).
import { ld16, st16, st32 } from '../wire/bytes';
import { sumBytes, copySum, fold, finish } from '../wire/checksum';
import { IP_PROTO, IP_FRAG, IP_OFFMASK, IP_HLEN, PROTO_ICMP, PROTO_UDP, PROTO_TCP, ipSrc, ipDst, ipHlen } from '../wire/ipv4';
import { ICMP_TYPE, ICMP_CODE, ICMP_CSUM, ICMP_ID, ICMP_SEQ, ICMP_HLEN, ICMP_ECHO, ICMP_ECHO_REPLY,
  ICMP_UNREACH, ICMP_TIME_EXCEEDED, ICMP_PARAM_PROBLEM } from '../wire/icmp';
import { PKT_IP, PKT_DATA, PKT_LEN, PKT_TOTAL, PKT_NEXT } from '../base/mem';
import { count, C_ICMP_RX, C_ICMP_BAD, C_ICMP_ECHO_RX, C_ICMP_ECHO_REPLY_RX, C_ICMP_UNREACH_RX,
  C_ICMP_OTHER_RX, C_ICMP_TX, C_ICMP_RATE_LIMITED } from '../base/counters';
import { now } from '../base/time';
import { emit, EV_ECHO_REPLY, EV_UNREACHABLE } from '../base/events';
import { ipBegin, ipRoute, ipSend, ipEchoOptions, pktBroadcast, pktSum, L4, DEFAULT_TTL } from './ip';
import { Route, ROUTE_SLOT, ifMtu } from './iface';
import { E_NETUNREACH, E_NOBUFS } from '../base/errno';

const rt = changetype<Route>(memory.data(ROUTE_SLOT));

let rate: u32 = 0;           // tokens per second
let tokens: i64 = 0;         // in millionths of a token
let lastFill: i64 = 0;

export function icmpInit(perSecond: u32): void {
  rate = perSecond;
  tokens = <i64>perSecond * 1000_000;
  lastFill = now;
}

function takeToken(): bool {
  let cap = <i64>rate * 1000_000;
  tokens = min<i64>(cap, tokens + (now - lastFill) * <i64>rate);
  lastFill = now;
  if (tokens < 1000_000) { count(C_ICMP_RATE_LIMITED); return false; }
  tokens -= 1000_000;
  return true;
}

/** ICMP input (b: a whole message, maybe reassembled over a chain; not
 * consumed). Checksum is verified over the whole message. Returns true for
 * an error about a UDP or TCP datagram of ours, with the quote checked to
 * hold its IP header and 8 bytes: the caller reports it to that transport. */
export function icmpInput(b: usize): bool {
  count(C_ICMP_RX);
  let total = load<u32>(b, PKT_TOTAL);
  let p = <usize>load<u32>(b, PKT_DATA);
  if (total < ICMP_HLEN || load<u32>(b, PKT_LEN) < ICMP_HLEN || fold(pktSum(b, 0)) != 0xffff) {
    count(C_ICMP_BAD); return false;
  }
  let ip = <usize>load<u32>(b, PKT_IP);
  let type = <u32>load<u8>(p, ICMP_TYPE);
  if (type == ICMP_ECHO) {
    count(C_ICMP_ECHO_RX);
    // RFC 1122 3.2.2.6: a host may ignore echo to a broadcast address; we do.
    if (!pktBroadcast(b)) echoReply(b, ip, total);
  } else if (type == ICMP_ECHO_REPLY) {
    count(C_ICMP_ECHO_REPLY_RX);
    emit(EV_ECHO_REPLY, (ld16(p + ICMP_ID) << 16) | ld16(p + ICMP_SEQ), ipSrc(ip), total - ICMP_HLEN);
  } else if (type == ICMP_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAM_PROBLEM) {
    count(C_ICMP_UNREACH_RX);
    return errorInput(p, load<u32>(b, PKT_LEN), type, <u32>load<u8>(p, ICMP_CODE));
  } else {
    count(C_ICMP_OTHER_RX);
  }
  return false;
}

/** An error about a datagram we sent: the quoted header names the socket
 * (true: for the caller) or ping. */
function errorInput(p: usize, len: u32, type: u32, code: u32): bool {
  if (len < ICMP_HLEN + IP_HLEN + 8) return false;
  let q = p + ICMP_HLEN;
  let qh = ipHlen(q);
  if (qh < IP_HLEN || len < ICMP_HLEN + qh + 8) return false;
  let proto = <u32>load<u8>(q, IP_PROTO);
  let l4 = q + qh;
  if (proto == PROTO_UDP || proto == PROTO_TCP) return true;
  if (proto == PROTO_ICMP && load<u8>(l4) == ICMP_ECHO) {
    emit(EV_UNREACHABLE, ipDst(q), (type << 8) | code, (ld16(l4 + ICMP_ID) << 16) | ld16(l4 + ICMP_SEQ));
  }
  return false;
}

/** Answers the echo request in b; its Record Route and Timestamp options
 * come back filled in (RFC 1122 3.2.2.6), where the reply fits the link with them. */
function echoReply(b: usize, ip: usize, total: u32): void {
  let src = ipSrc(ip);
  if (!ipRoute(src, rt)) return;
  let olen = ipHlen(ip) - IP_HLEN;
  if (IP_HLEN + olen + total > ifMtu(rt.ifx)) olen = 0;
  let f = ipBegin(olen + total);
  if (!f) return;
  if (olen) olen = ipEchoOptions(f + L4, ip, ipDst(ip));
  let out = f + L4 + olen;
  let at = out;
  for (let c = b; c; c = <usize>load<u32>(c, PKT_NEXT)) {
    let n = load<u32>(c, PKT_LEN);
    memory.copy(at, <usize>load<u32>(c, PKT_DATA), n);
    at += n;
  }
  store<u8>(out, <u8>ICMP_ECHO_REPLY, ICMP_TYPE);
  store<u16>(out + ICMP_CSUM, 0);
  st16(out + ICMP_CSUM, finish(sumBytes(out, total, 0)));
  // Reply from the address the request was sent to, so the peer matches it.
  if (ipSend(rt, f, total, PROTO_ICMP, ipDst(ip), src, false, DEFAULT_TTL, 0, 0, olen) == 0) count(C_ICMP_TX);
}

/** Sends an echo request with len bytes of payload; 0 or a negative errno. */
export function icmpEcho(dst: u32, id: u32, seq: u32, len: u32): i32 {
  if (!ipRoute(dst, rt)) return E_NETUNREACH;
  let f = ipBegin(ICMP_HLEN + len);
  if (!f) return E_NOBUFS;
  let out = f + L4;
  store<u8>(out, <u8>ICMP_ECHO, ICMP_TYPE);
  store<u8>(out, 0, ICMP_CODE);
  store<u16>(out + ICMP_CSUM, 0);
  st16(out + ICMP_ID, id);
  st16(out + ICMP_SEQ, seq);
  for (let i: u32 = 0; i < len; i++) store<u8>(out + ICMP_HLEN + i, <u8>(0x10 + i));
  st16(out + ICMP_CSUM, finish(sumBytes(out, ICMP_HLEN + len, 0)));
  let r = ipSend(rt, f, ICMP_HLEN + len, PROTO_ICMP, rt.src, dst, false, DEFAULT_TTL);
  if (r == 0) count(C_ICMP_TX);
  return r;
}

/** Sends an ICMP error about the datagram in b (not consumed); info is the
 * word after the checksum (a Parameter Problem's pointer << 24, a next-hop MTU). */
export function icmpError(b: usize, type: u32, code: u32, info: u32): void {
  let ip = <usize>load<u32>(b, PKT_IP);
  if (pktBroadcast(b) || (ld16(ip + IP_FRAG) & IP_OFFMASK) != 0) return;
  let hlen = ipHlen(ip);
  let avail = <u32>(load<u32>(b, PKT_DATA) - <u32>ip) + load<u32>(b, PKT_LEN);
  if (<u32>load<u8>(ip, IP_PROTO) == PROTO_ICMP) {
    // Never an error about an error, nor about ICMP whose type is not there to tell.
    if (avail <= hlen) return;
    let t = <u32>load<u8>(ip + hlen);
    if (t != ICMP_ECHO && t != ICMP_ECHO_REPLY) return;
  }
  if (!takeToken()) return;
  let src = ipSrc(ip);
  if (!ipRoute(src, rt)) return;
  // Quote the header and the first 8 bytes that follow (RFC 792), all in the head buffer.
  let quote = min<u32>(hlen + 8, avail);
  let f = ipBegin(ICMP_HLEN + quote);
  if (!f) return;
  let out = f + L4;
  store<u8>(out, <u8>type, ICMP_TYPE);
  store<u8>(out, <u8>code, ICMP_CODE);
  store<u16>(out + ICMP_CSUM, 0);
  st32(out + ICMP_ID, info);
  let sum = copySum(out + ICMP_HLEN, ip, quote, sumBytes(out, ICMP_HLEN, 0));
  st16(out + ICMP_CSUM, finish(sum));
  if (ipSend(rt, f, ICMP_HLEN + quote, PROTO_ICMP, ipDst(ip), src, false, DEFAULT_TTL) == 0) count(C_ICMP_TX);
}
