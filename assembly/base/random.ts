// Randomness comes from the host's seed (CFG_SEED0..3): a SipHash-2-4 keyed
// by it gives the RFC 6528 / RFC 6056 hashes; xoshiro128** gives cheap
// non-secret numbers (IP IDs, jitter).
let k0: u64 = 0;
let k1: u64 = 0;
let s0: u32 = 1, s1: u32 = 2, s2: u32 = 3, s3: u32 = 4;

export function randomInit(a: u32, b: u32, c: u32, d: u32): void {
  k0 = (<u64>a << 32) | <u64>b;
  k1 = (<u64>c << 32) | <u64>d;
  s0 = a ^ 0x9e3779b9; s1 = b ^ 0x85ebca6b; s2 = c ^ 0xc2b2ae35; s3 = d ^ 0x27d4eb2f;
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
  for (let i = 0; i < 8; i++) rand32();
}

export function rand32(): u32 {
  let r = rotl<u32>(s1 * 5, 7) * 9;
  let t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  return r;
}

/** SipHash-2-4 of three 64-bit words under the host's secret. */
export function keyedHash(m0: u64, m1: u64, m2: u64): u64 {
  let v0 = k0 ^ 0x736f6d6570736575;
  let v1 = k1 ^ 0x646f72616e646f6d;
  let v2 = k0 ^ 0x6c7967656e657261;
  let v3 = k1 ^ 0x7465646279746573;
  for (let w = 0; w < 4; w++) {
    let m: u64 = w == 0 ? m0 : w == 1 ? m1 : w == 2 ? m2 : (<u64>24 << 56);
    v3 ^= m;
    for (let r = 0; r < 2; r++) {
      v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
      v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
      v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
      v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
    }
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 4; r++) {
    v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
    v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  }
  return v0 ^ v1 ^ v2 ^ v3;
}
