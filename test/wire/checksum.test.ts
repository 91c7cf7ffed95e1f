// The core's Internet checksum (assembly/wire/checksum.ts), called directly
// through build/shoal.testing.wasm, against known vectors and against an
// independent byte-at-a-time reference (test/helpers/frames.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { wasmPath } from '../../host/wasm.ts';
import { Random } from '../../host/random.ts';
import { cksum, sum16, fold16, pseudo, unhex, ip4, udp, PROTO_UDP, seedFrom } from '../helpers/frames.ts';

interface Wire {
  memory: WebAssembly.Memory;
  t_alloc(n: number): number;
  t_sum_bytes(p: number, len: number, sum: bigint): bigint;
  t_copy_sum(dst: number, src: number, len: number, sum: bigint): bigint;
  t_fold(sum: bigint): number;
  t_finish(sum: bigint): number;
  t_swap_sum(sum: bigint): bigint;
  t_pseudo_sum(src: number, dst: number, proto: number, len: number): bigint;
}

const mod = new WebAssembly.Module(readFileSync(wasmPath('shoal.testing.wasm')));
const w = new WebAssembly.Instance(mod, {
  env: { abort(_m: number, _f: number, line: number, col: number) { throw new Error(`abort at ${line}:${col}`); } },
}).exports as unknown as Wire;

// One scratch region; bytes are placed at any alignment inside it.
const SCRATCH = 1 << 18;
const base = w.t_alloc(SCRATCH + 64);
const mem = () => new Uint8Array(w.memory.buffer);
function put(bytes: Uint8Array, at: number): number {
  if (at + bytes.length > SCRATCH) throw new RangeError('scratch overflow');
  mem().set(bytes, base + at);
  return base + at;
}
/** The core's checksum field value for bytes placed at offset `at` of the scratch area. */
function coreCksum(bytes: Uint8Array, at = 0, init = 0n): number {
  return w.t_finish(w.t_sum_bytes(put(bytes, at), bytes.length, init));
}
const h16 = (n: number) => '0x' + n.toString(16).padStart(4, '0');

test('RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', () => {
  const b = unhex('0001 f203 f4f5 f6f7');
  // fold() returns the folded sum in network order as a host number.
  assert.is(h16(w.t_fold(w.t_sum_bytes(put(b, 0), 8, 0n))), '0xddf2');
  assert.is(h16(coreCksum(b)), '0x220d');
  assert.is(h16(cksum(b)), '0x220d', 'the reference agrees');
  // The same bytes at every alignment give the same sum.
  for (let at = 1; at < 16; at++) assert.is(h16(coreCksum(b, at)), '0x220d', `at offset ${at}`);
});

test('a captured IPv4 header: checksum b861, and the whole header verifies to ffff', () => {
  const hdr = unhex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
  assert.is(h16(w.t_fold(w.t_sum_bytes(put(hdr, 0), 20, 0n))), '0xffff', 'a correct header sums to ffff');
  const zeroed = hdr.slice();
  zeroed[10] = 0; zeroed[11] = 0;
  assert.is(h16(coreCksum(zeroed)), '0xb861');
  assert.is(h16(coreCksum(zeroed, 3)), '0xb861', 'at an odd address');
  // One flipped bit anywhere is caught.
  for (let bit = 0; bit < 160; bit++) {
    const bad = hdr.slice();
    bad[bit >> 3] ^= 0x80 >> (bit & 7);
    assert.is.not(w.t_fold(w.t_sum_bytes(put(bad, 0), 20, 0n)), 0xffff, `bit ${bit}`);
  }
});

test('UDP checksum of a known datagram (43-byte payload: odd length), pseudo-header included', () => {
  // 192.168.0.1:5353 → 192.168.0.199:33434, "The quick brown fox jumps over the lazy dog".
  // tshark (udp.check_checksum) calculates 0x5890 for it.
  const payload = new TextEncoder().encode('The quick brown fox jumps over the lazy dog');
  const dgram = unhex('14e9 829a 0033 0000').slice();
  const whole = new Uint8Array(8 + payload.length);
  whole.set(dgram); whole.set(payload, 8);
  const ps = w.t_pseudo_sum(ip4('192.168.0.1'), ip4('192.168.0.199'), PROTO_UDP, whole.length);
  assert.is(h16(coreCksum(whole, 0, ps)), '0x5890');
  assert.is(h16(coreCksum(whole, 5, ps)), '0x5890', 'at an odd address');
  assert.is(h16(cksum(whole, pseudo(ip4('192.168.0.1'), ip4('192.168.0.199'), PROTO_UDP, whole.length))), '0x5890', 'reference');
  // The frame builder writes the same value.
  const built = udp({ src: '192.168.0.1', dst: '192.168.0.199', sport: 5353, dport: 33434, payload });
  assert.is(h16((built[6] << 8) | built[7]), '0x5890');
});

test('odd lengths and every alignment: the core agrees with the byte-at-a-time reference', () => {
  const seed = seedFrom('CHECKSUM_SEED', 'checksum lengths');
  const rng = new Random(seed);
  for (let len = 0; len <= 80; len++) {
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = rng.int(256);
    const want = cksum(b);
    for (let at = 0; at < 8; at++) assert.is(coreCksum(b, at), want, `len ${len} at ${at}`);
  }
  // All ones and all zeros, where one's complement arithmetic has its corner cases.
  for (const len of [1, 2, 3, 7, 8, 9, 1499, 1500, 65535]) {
    assert.is(coreCksum(new Uint8Array(len).fill(0xff), 1), cksum(new Uint8Array(len).fill(0xff)), `ff × ${len}`);
    assert.is(coreCksum(new Uint8Array(len), 1), 0xffff, `00 × ${len}`);
  }
  // Long inputs: the 64-bit accumulator must not lose carries.
  const big = new Uint8Array(65535);
  for (let i = 0; i < big.length; i++) big[i] = rng.int(256);
  assert.is(coreCksum(big, 1), cksum(big));
  assert.is(coreCksum(big.fill(0xfe), 2), cksum(big));
});

test('a checksum over chained pieces at odd offsets (pieces anywhere in memory)', () => {
  const seed = seedFrom('CHECKSUM_CHAIN_SEED', 'checksum chains');
  const rng = new Random(seed);
  for (let round = 0; round < 300; round++) {
    const len = rng.int(3000);
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = rng.int(256);
    const want = cksum(b);
    // Cut into up to 6 pieces at arbitrary (often odd) boundaries; each piece
    // lives at its own, arbitrarily aligned, address.
    const cuts = [0, ...Array.from({ length: rng.int(6) }, () => rng.int(len + 1)).sort((x, y) => x - y), len];
    let chained = 0n;     // the documented contract: chain partial sums; swap a piece that starts at an odd offset
    let at = 0;
    for (let i = 0; i + 1 < cuts.length; i++) {
      const piece = b.subarray(cuts[i], cuts[i + 1]);
      const p = put(piece, at + rng.int(8));
      if (cuts[i] & 1) chained += w.t_swap_sum(w.t_sum_bytes(p, piece.length, 0n));
      else chained = w.t_sum_bytes(p, piece.length, chained);
      at += piece.length + 16;
    }
    assert.is(w.t_finish(chained), want, `round ${round}: cuts ${cuts.join(',')}`);
  }
});

test('copySum copies exactly len bytes and sums what it copied', () => {
  const rng = new Random(7);
  for (let len = 0; len <= 70; len++) {
    for (const [s, d] of [[0, 0], [1, 0], [0, 3], [5, 2], [7, 7]]) {
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) b[i] = rng.int(256);
      const src = put(b, 1000 + s);
      const dst = base + 4000 + d;
      mem().fill(0xaa, dst - 8, dst + len + 8);
      const sum = w.t_copy_sum(dst, src, len, 0n);
      const m = mem();
      assert.equal(Array.from(m.subarray(dst, dst + len)), Array.from(b), `copy len ${len}`);
      assert.ok(m.subarray(dst - 8, dst).every((x) => x === 0xaa) && m.subarray(dst + len, dst + len + 8).every((x) => x === 0xaa),
        `len ${len}: no byte written outside [dst, dst+len)`);
      assert.is(w.t_finish(sum), cksum(b), `sum len ${len} src+${s} dst+${d}`);
    }
  }
});

test('pseudo-header sum matches RFC 768 (addresses, zero, protocol, length)', () => {
  const src = ip4('10.1.2.3'), dst = ip4('192.168.254.1');
  const got = w.t_fold(w.t_pseudo_sum(src, dst, 17, 1234));
  assert.is(got, fold16(sum16(unhex('0a010203 c0a8fe01 0011 04d2'))));
});

test.run();
