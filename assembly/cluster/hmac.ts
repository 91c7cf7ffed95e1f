// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104) over linear memory, for
// the control messages' trailer. No allocation per call: the message
// schedule, the state and the last blocks live in static memory, and the
// key's inner and outer states are computed once, when the key is set.

const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const W: usize = memory.data(256, 16);      // message schedule
const H: usize = memory.data(32, 16);       // running state
const TAIL: usize = memory.data(128, 16);   // the last one or two blocks, padded
const INNER: usize = memory.data(32, 16);   // state after the key ^ ipad block
const OUTER: usize = memory.data(32, 16);   // state after the key ^ opad block
const PAD: usize = memory.data(64, 16);     // a key block being built
const IHASH: usize = memory.data(32, 16);   // the inner hash, big-endian

export const SHA256_BYTES: u32 = 32;
/** A key was set: until then no MAC is taken as authentic. */
export let hmacKeySet = false;

/** One 64-byte block at p into the state at H. */
function compress(p: usize): void {
  for (let t: usize = 0; t < 16; t++) store<u32>(W + (t << 2), bswap<u32>(load<u32>(p + (t << 2))));
  for (let t: usize = 16; t < 64; t++) {
    let w15 = load<u32>(W + ((t - 15) << 2)), w2 = load<u32>(W + ((t - 2) << 2));
    let s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    let s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    store<u32>(W + (t << 2), load<u32>(W + ((t - 16) << 2)) + s0 + load<u32>(W + ((t - 7) << 2)) + s1);
  }
  let a = load<u32>(H), b = load<u32>(H, 4), c = load<u32>(H, 8), d = load<u32>(H, 12);
  let e = load<u32>(H, 16), f = load<u32>(H, 20), g = load<u32>(H, 24), h = load<u32>(H, 28);
  for (let t: usize = 0; t < 64; t++) {
    let t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) +
      load<u32>(K + (t << 2)) + load<u32>(W + (t << 2));
    let t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  store<u32>(H, load<u32>(H) + a); store<u32>(H, load<u32>(H, 4) + b, 4);
  store<u32>(H, load<u32>(H, 8) + c, 8); store<u32>(H, load<u32>(H, 12) + d, 12);
  store<u32>(H, load<u32>(H, 16) + e, 16); store<u32>(H, load<u32>(H, 20) + f, 20);
  store<u32>(H, load<u32>(H, 24) + g, 24); store<u32>(H, load<u32>(H, 28) + h, 28);
}

/** Hashes len bytes at p into H, which holds a state after `before` bytes
 * (whole blocks), and writes the digest, big-endian, to out. */
function finish(p: usize, len: u32, before: u64, out: usize): void {
  let whole = len & ~63;
  for (let off: u32 = 0; off < whole; off += 64) compress(p + off);
  let rest = len - whole;
  memory.copy(TAIL, p + whole, rest);
  store<u8>(TAIL + rest, 0x80);
  let blocks: u32 = rest < 56 ? 64 : 128;
  memory.fill(TAIL + rest + 1, 0, blocks - rest - 9);
  store<u64>(TAIL + blocks - 8, bswap<u64>((before + len) << 3));
  compress(TAIL);
  if (blocks == 128) compress(TAIL + 64);
  for (let i: usize = 0; i < 32; i += 4) store<u32>(out + i, bswap<u32>(load<u32>(H + i)));
}

/** SHA-256 of len bytes at p, 32 bytes to out. */
export function sha256(p: usize, len: u32, out: usize): void {
  memory.copy(H, IV, 32);
  finish(p, len, 0, out);
}

/** Sets the HMAC key (any length; longer than a block: its hash, RFC 2104 §2). */
export function hmacKey(key: usize, len: u32): void {
  memory.fill(PAD, 0, 64);
  if (len > 64) sha256(key, len, PAD);
  else memory.copy(PAD, key, len);
  for (let i: usize = 0; i < 64; i++) store<u8>(PAD + i, load<u8>(PAD + i) ^ 0x36);
  memory.copy(H, IV, 32);
  compress(PAD);
  memory.copy(INNER, H, 32);
  for (let i: usize = 0; i < 64; i++) store<u8>(PAD + i, load<u8>(PAD + i) ^ (0x36 ^ 0x5c));
  memory.copy(H, IV, 32);
  compress(PAD);
  memory.copy(OUTER, H, 32);
  memory.fill(PAD, 0, 64);
  hmacKeySet = true;
}

/** HMAC-SHA-256 of len bytes at p under the key, 32 bytes to out (out may overlap nothing it reads). */
export function hmacSha256(p: usize, len: u32, out: usize): void {
  memory.copy(H, INNER, 32);
  finish(p, len, 64, IHASH);
  memory.copy(H, OUTER, 32);
  finish(IHASH, 32, 64, out);
}

/** True when the 32 bytes at a and b are equal, in time that does not depend on where they differ. */
export function macEqual(a: usize, b: usize): bool {
  let d: u64 = 0;
  for (let i: usize = 0; i < 32; i += 8) d |= load<u64>(a + i) ^ load<u64>(b + i);
  return d == 0;
}
