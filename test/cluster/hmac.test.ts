// SHA-256 and HMAC-SHA-256 (assembly/cluster/hmac.ts): FIPS 180-4 examples,
// the RFC 4231 test cases, and node:crypto on random keys and messages of
// random lengths at random alignments (seeded).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, createHmac } from 'node:crypto';
import { Random } from '../../host/random.ts';
import { seedFrom } from '../helpers/frames.ts';
import { ClusterCore } from './core.ts';

const c = new ClusterCore();
const x = c.ex;
const SCRATCH = 1 << 16;
const buf = x.t_alloc(SCRATCH + 512);
const out = x.t_alloc(64);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const digest = () => hex(c.u8.slice(out, out + 32));

function sha(m: Uint8Array, at = 0): string { c.put(m, buf + at); x.t_sha256(buf + at, m.length, out); return digest(); }
function hmac(key: Uint8Array, m: Uint8Array, at = 0): string {
  c.put(key, buf); x.t_hmac_key(buf, key.length);
  c.put(m, buf + at); x.t_hmac(buf + at, m.length, out);
  return digest();
}

test('SHA-256: FIPS 180-4 examples and block edges', () => {
  const t = (s: string) => new TextEncoder().encode(s);
  assert.is(sha(t('')), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.is(sha(t('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.is(sha(t('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  for (const n of [55, 56, 63, 64, 65, 119, 120, 127, 128, 129]) {
    const m = new Uint8Array(n).fill(0x61);
    assert.is(sha(m), createHash('sha256').update(m).digest('hex'), `length ${n}`);
  }
});

// RFC 4231 §4.2-4.8 (case 5's truncation is checked on the first 16 bytes).
const rfc4231: [string, string, string, number][] = [
  ['0b'.repeat(20), '4869205468657265', 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7', 32],
  ['4a656665', '7768617420646f2079612077616e7420666f72206e6f7468696e673f', '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 32],
  ['aa'.repeat(20), 'dd'.repeat(50), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe', 32],
  ['0102030405060708090a0b0c0d0e0f10111213141516171819', 'cd'.repeat(50), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b', 32],
  ['0c'.repeat(20), '546573742057697468205472756e636174696f6e', 'a3b6167473100ee06e0c796c2955552b', 16],
  ['aa'.repeat(131), '54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374',
    '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54', 32],
  ['aa'.repeat(131), '5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e',
    '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2', 32],
];

test('HMAC-SHA-256: RFC 4231 test cases 1-7', () => {
  rfc4231.forEach(([k, d, mac, n], i) => {
    assert.is(hmac(unhex(k), unhex(d)).slice(0, 2 * n), mac, `test case ${i + 1}`);
  });
});

test('against node:crypto: random keys and messages, any length and alignment (seeded)', () => {
  const seed = seedFrom('HMAC_SEED', 'hmac');
  const r = new Random(seed);
  const bytes = (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = r.u32() & 255; return b; };
  for (let i = 0; i < 2000; i++) {
    const n = r.int(4) === 0 ? r.int(SCRATCH - 300) : r.int(300);
    const m = bytes(n), at = 256 + r.int(200);
    assert.is(sha(m, at), createHash('sha256').update(m).digest('hex'), `seed ${seed} #${i}: sha256 of ${n} bytes`);
    const key = bytes(r.int(200));
    assert.is(hmac(key, m, at), createHmac('sha256', key).update(m).digest('hex'), `seed ${seed} #${i}: hmac, key ${key.length} B, ${n} B`);
  }
});

test('a message flush against the end of linear memory', () => {
  const m = new Uint8Array(1000).fill(7);
  const at = c.memEnd - m.length;
  c.put(m, at);
  x.t_sha256(at, m.length, out);
  assert.is(digest(), createHash('sha256').update(m).digest('hex'));
});

test.run();
