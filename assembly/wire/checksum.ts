// The Internet checksum (RFC 1071), word at a time. The one's complement sum
// is independent of byte order, so we add little-endian words into a 64-bit
// accumulator and swap once at the end. Partial sums (u64) chain across
// pieces (pseudo-header, header, payload, fragments); a piece that starts at
// an odd offset within the checksummed data must be byte-swapped by the caller.
import { ld16, st16 } from './bytes';
import { ETH_HLEN } from './ether';
import { IP_VIHL, IP_LEN, IP_PROTO, PROTO_TCP } from './ipv4';

/** Adds len bytes at p to a partial sum. */
export function sumBytes(p: usize, len: usize, sum: u64): u64 {
  // 32 bytes a step into two 64-bit one's complement accumulators (the carry
  // out of each add counted separately): four loads, eight adds and compares.
  let a: u64 = 0, b: u64 = 0, ca: u64 = 0, cb: u64 = 0;
  let end32 = p + (len & ~<usize>31);
  while (p < end32) {
    let w0 = load<u64>(p), w1 = load<u64>(p, 8), w2 = load<u64>(p, 16), w3 = load<u64>(p, 24);
    a += w0; ca += <u64>(a < w0);
    b += w1; cb += <u64>(b < w1);
    a += w2; ca += <u64>(a < w2);
    b += w3; cb += <u64>(b < w3);
    p += 32;
  }
  sum += narrow(a) + narrow(b) + ca + cb;
  let end = p + (len & 24);
  while (p < end) {
    let w = load<u64>(p);
    sum += (w & 0xffffffff) + (w >> 32);
    p += 8;
  }
  if (len & 4) { sum += <u64>load<u32>(p); p += 4; }
  if (len & 2) { sum += <u64>load<u16>(p); p += 2; }
  if (len & 1) { sum += <u64>load<u8>(p); }
  return sum;
}

/** A 64-bit one's complement value as a sum below 2^33 with the same fold
 * (0xffff divides 2^32 - 1), so partial sums keep adding without overflow. */
// @ts-ignore: decorator
@inline function narrow(x: u64): u64 { return (x & 0xffffffff) + (x >> 32); }

/** Copies len bytes from src to dst and adds them to a partial sum: a checksum
 * fused with the copy, so payload bytes are touched once. */
export function copySum(dst: usize, src: usize, len: usize, sum: u64): u64 {
  let a: u64 = 0, b: u64 = 0, ca: u64 = 0, cb: u64 = 0;
  let end32 = src + (len & ~<usize>31);
  while (src < end32) {
    let w0 = load<u64>(src), w1 = load<u64>(src, 8), w2 = load<u64>(src, 16), w3 = load<u64>(src, 24);
    store<u64>(dst, w0); store<u64>(dst, w1, 8); store<u64>(dst, w2, 16); store<u64>(dst, w3, 24);
    a += w0; ca += <u64>(a < w0);
    b += w1; cb += <u64>(b < w1);
    a += w2; ca += <u64>(a < w2);
    b += w3; cb += <u64>(b < w3);
    src += 32; dst += 32;
  }
  sum += narrow(a) + narrow(b) + ca + cb;
  let end = src + (len & 24);
  while (src < end) {
    let w = load<u64>(src);
    store<u64>(dst, w);
    sum += (w & 0xffffffff) + (w >> 32);
    src += 8; dst += 8;
  }
  if (len & 4) { let w = load<u32>(src); store<u32>(dst, w); sum += <u64>w; src += 4; dst += 4; }
  if (len & 2) { let w = load<u16>(src); store<u16>(dst, w); sum += <u64>w; src += 2; dst += 2; }
  if (len & 1) { let w = load<u8>(src); store<u8>(dst, w); sum += <u64>w; }
  return sum;
}

/** Folds a partial sum to 16 bits, in network order as a host number. Not
 * inlined: it is once a packet, and inlined at every checksum it was 1 KB. */
export function fold(sum: u64): u32 {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  let s = <u32>sum;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u32>bswap<u16>(<u16>s);
}

/** The checksum field value (complement of the folded sum), network order as a host number. */
// @ts-ignore: decorator
@inline export function finish(sum: u64): u32 { return ~fold(sum) & 0xffff; }

/** Swaps the bytes of a partial sum, for a piece that starts at an odd offset. */
// @ts-ignore: decorator
@inline export function swapSum(sum: u64): u64 { return <u64>fold(sum); }

/** The pseudo-header of TCP and UDP over IPv4 (RFC 768, RFC 9293 3.1). Addresses in host order. */
// @ts-ignore: decorator
@inline export function pseudoSum(src: u32, dst: u32, proto: u32, len: u32): u64 {
  return <u64>bswap<u32>(src) + <u64>bswap<u32>(dst) + <u64>bswap<u16>(<u16>proto) + <u64>bswap<u16>(<u16>len);
}

/** Completes the partial L4 checksum of the frame at f (FRAME_CSUM_PARTIAL),
 * for a frame that has to wait in a buffer, where its flags are not kept. */
export function csumComplete(f: usize): void {
  let ip = f + ETH_HLEN;
  let hlen = (<usize>load<u8>(ip, IP_VIHL) & 15) << 2;
  let l4 = ip + hlen;
  let at = l4 + (load<u8>(ip, IP_PROTO) == PROTO_TCP ? 16 : 6);
  let n = <usize>ld16(ip + IP_LEN) - hlen;
  let c = finish(sumBytes(l4, n, 0));
  st16(at, c == 0 ? 0xffff : c);
}
