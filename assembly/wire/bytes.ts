// Network-order loads and stores at a byte address. Every wire view is built
// from these; callers check the length once, up front, and then read freely.

// @ts-ignore: decorator
@inline export function ld16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
// @ts-ignore: decorator
@inline export function ld32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
// @ts-ignore: decorator
@inline export function st16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
// @ts-ignore: decorator
@inline export function st32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** Copies a 6-byte MAC address. */
// @ts-ignore: decorator
@inline export function copyMac(dst: usize, src: usize): void {
  store<u32>(dst, load<u32>(src));
  store<u16>(dst, load<u16>(src, 4), 4);
}

/** Sequence-space comparisons (RFC 9293 3.4): a < b modulo 2^32. */
// @ts-ignore: decorator
@inline export function seqLt(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
// @ts-ignore: decorator
@inline export function seqLe(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
