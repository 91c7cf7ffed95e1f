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

// Options (RFC 791 3.1): type, then for all but these two a length octet and
// (route and timestamp options) a pointer, from 1, to the next free entry.
export const IPOPT_EOL: u32 = 0;
export const IPOPT_NOP: u32 = 1;
export const IPOPT_RR: u32 = 7;
export const IPOPT_TS: u32 = 68;
export const IPOPT_LSRR: u32 = 131;
export const IPOPT_SSRR: u32 = 137;
export const IPOPT_LEN: usize = 1;
export const IPOPT_PTR: usize = 2;
/** Timestamp: overflow count << 4 | flag. */
export const IPOPT_TS_FLAGS: usize = 3;
export const IPOPT_TS_TSONLY: u32 = 0;
export const IPOPT_TS_TSANDADDR: u32 = 1;
export const IPOPT_TS_PRESPEC: u32 = 3;

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
