// IPv4 header (RFC 791). Addresses are host-order u32 everywhere in the core.
import { ld32 } from './bytes';

export const IP_VIHL: usize = 0;
export const IP_TOS: usize = 1;
export const IP_LEN: usize = 2;
export const IP_ID: usize = 4;
export const IP_FRAG: usize = 6;
export const IP_TTL: usize = 8;
export const IP_PROTO: usize = 9;
export const IP_CSUM: usize = 10;
export const IP_SRC: usize = 12;
export const IP_DST: usize = 16;
export const IP_HLEN: u32 = 20;

export const IP_DF: u32 = 0x4000;
export const IP_MF: u32 = 0x2000;
export const IP_OFFMASK: u32 = 0x1fff;

export const PROTO_ICMP: u32 = 1;
export const PROTO_IPIP: u32 = 4;
export const PROTO_TCP: u32 = 6;
export const PROTO_UDP: u32 = 17;

export const IP_BROADCAST: u32 = 0xffffffff;

// @ts-ignore: decorator
@inline export function ipHlen(ip: usize): u32 { return (<u32>load<u8>(ip) & 15) << 2; }
// @ts-ignore: decorator
@inline export function ipSrc(ip: usize): u32 { return ld32(ip + IP_SRC); }
// @ts-ignore: decorator
@inline export function ipDst(ip: usize): u32 { return ld32(ip + IP_DST); }

/** A source address no host may use (RFC 1122 3.2.1.3): 0/8, 127/8, class D and E, broadcast. */
export function isMartianSource(a: u32): bool {
  let top = a >>> 24;
  return top == 0 || top == 127 || top >= 224;
}

/** Class D (multicast, 224/4). */
// @ts-ignore: decorator
@inline export function isMulticast(a: u32): bool { return (a >>> 28) == 14; }

/** The netmask of a prefix length 0..32. */
// @ts-ignore: decorator
@inline export function prefixMask(len: u32): u32 { return len == 0 ? 0 : <u32>(0xffffffff << (32 - len)); }
