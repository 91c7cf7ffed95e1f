// Test-only entry (build/shoal.testing.wasm, debug): the wire-level routines
// the core uses, exported as they are so tests can check them against known
// vectors. Partial sums cross the boundary as i64 (BigInt in JS).
import { sumBytes, copySum, fold, finish, swapSum, pseudoSum } from '../wire/checksum';

/** Scratch memory for a test: n bytes, never freed (stub runtime). */
export function t_alloc(n: usize): usize { return heap.alloc(n); }

export function t_sum_bytes(p: usize, len: usize, sum: u64): u64 { return sumBytes(p, len, sum); }
export function t_copy_sum(dst: usize, src: usize, len: usize, sum: u64): u64 { return copySum(dst, src, len, sum); }
export function t_fold(sum: u64): u32 { return fold(sum); }
export function t_finish(sum: u64): u32 { return finish(sum); }
export function t_swap_sum(sum: u64): u64 { return swapSum(sum); }
export function t_pseudo_sum(src: u32, dst: u32, proto: u32, len: u32): u64 { return pseudoSum(src, dst, proto, len); }
