// Software offloads (host/link/offload.ts): cutting a GSO TCP frame into
// segments as Linux's tcp_gso_segment does, completing partial checksums, and
// refusing bad input without throwing. Checksums are verified here with a
// checksum routine of this file's own, not the one under test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_CSUM_OK, FRAME_CSUM_PARTIAL, FRAME_GSO } from '../../host/link/link.ts';
import type { LinkOffload } from '../../host/link/link.ts';
import { fits, normalize } from '../../host/link/offload.ts';

const PARTIAL = FRAME_CSUM_PARTIAL, GSO = FRAME_GSO;
const FIN = 0x01, PSH = 0x08, ACK = 0x10, CWR = 0x80;

// ---- an independent checksum ------------------------------------------------

/** One's complement sum of 16-bit big-endian words, folded. */
function ocsum(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i < b.length; i++) s += i & 1 ? b[i] : b[i] * 256;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}
const be16 = (b: Uint8Array, at: number) => b[at] * 256 + b[at + 1];
const be32 = (b: Uint8Array, at: number) => be16(b, at) * 65536 + be16(b, at + 2);
const set16 = (b: Uint8Array, at: number, v: number) => { b[at] = v >> 8; b[at + 1] = v & 255; };

/** The frame's IPv4 header, L4 bytes (to the IP total length) and pseudo-header sum. */
function parts(f: Uint8Array) {
  const ihl = (f[14] & 15) * 4, total = be16(f, 16);
  const l4 = f.subarray(14 + ihl, 14 + total);
  const pseudoSum = ocsum(f.subarray(26, 34), f[23] + l4.length);
  return { ip: f.subarray(14, 14 + ihl), l4, ihl, total, pseudoSum };
}
const ipOk = (f: Uint8Array) => ocsum(parts(f).ip) === 0xffff;
const l4Ok = (f: Uint8Array) => { const p = parts(f); return ocsum(p.l4, p.pseudoSum) === 0xffff; };
/** What a NIC does with a partial checksum: checks the field holds this
 * frame's pseudo-header sum, then completes a copy. */
function completed(f: Uint8Array): Uint8Array {
  const p = parts(f);
  const at = 14 + p.ihl + (f[23] === 6 ? 16 : 6);
  assert.is(be16(f, at), p.pseudoSum, 'the partial field holds this frame\'s own pseudo-header sum');
  const c = f.slice();
  set16(c, at, 0);
  set16(c, at, ~ocsum(c.subarray(14 + p.ihl, 14 + p.total), p.pseudoSum) & 0xffff);
  return c;
}

// ---- frames by hand ---------------------------------------------------------

const SRC = [10, 1, 2, 3], DST = [192, 168, 40, 9];

function ether(ipPacket: Uint8Array, pad = 0): Uint8Array {
  const f = new Uint8Array(14 + ipPacket.length + pad).fill(0xee); // padding is garbage on purpose
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  f.set(ipPacket, 14);
  return f;
}

function ipv4(proto: number, l4: Uint8Array, id: number, options: Uint8Array = new Uint8Array(0)): Uint8Array {
  const ihl = 20 + options.length;
  const p = new Uint8Array(ihl + l4.length);
  p[0] = 0x40 | (ihl / 4); set16(p, 2, p.length); set16(p, 4, id); p[6] = 0x40; p[8] = 64; p[9] = proto;
  p.set(SRC, 12); p.set(DST, 16); p.set(options, 20);
  set16(p, 10, ~ocsum(p.subarray(0, ihl)) & 0xffff);
  p.set(l4, ihl);
  return p;
}

/** A payload of n bytes that differ from position to position. */
const payload = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed + (i >> 8)) & 255);

/** A GSO frame as a stack makes it: TCP with timestamps, the checksum field
 * holding the pseudo-header sum of the whole segment. */
function gsoFrame(o: { data: Uint8Array; seq?: number; flags?: number; id?: number; ipOptions?: Uint8Array }) {
  const opts = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]; // NOP NOP timestamps
  const t = new Uint8Array(20 + opts.length + o.data.length);
  set16(t, 0, 40000); set16(t, 2, 80);
  const seq = o.seq ?? 0xfffff000; // wraps within the frame
  set16(t, 4, Math.floor(seq / 65536)); set16(t, 6, seq & 0xffff);
  set16(t, 8, 0x1234); set16(t, 10, 0x5678);
  t[12] = ((20 + opts.length) / 4) << 4; t[13] = o.flags ?? (ACK | PSH | FIN | CWR); set16(t, 14, 501);
  t.set(opts, 20);
  t.set(o.data, 20 + opts.length);
  const pkt = ipv4(6, t, o.id ?? 0xfffe, o.ipOptions);
  const f = ether(pkt);
  set16(f, 14 + (pkt[0] & 15) * 4 + 16, ocsum(f.subarray(26, 34), 6 + t.length));
  return f;
}

function udpFrame(data: Uint8Array, pad = 0): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  set16(u, 0, 5353); set16(u, 2, 53); set16(u, 4, u.length); u.set(data, 8);
  const f = ether(ipv4(17, u, 1), pad);
  set16(f, 34 + 6, ocsum(f.subarray(26, 34), 17 + u.length));
  return f;
}

interface Out { frame: Uint8Array; flags: number; gso: number }
function run(frame: Uint8Array, flags: number, gso: number, take: LinkOffload | undefined, mtu = 1500) {
  const out: Out[] = [];
  const ok = normalize(frame, flags, gso, take, mtu, (f, fl, g) => out.push({ frame: f.slice(), flags: fl, gso: g }));
  return { ok, out };
}

/** Checks segments against the GSO frame they were cut from. */
function checkSegments(src: Uint8Array, segs: Out[], gso: number) {
  const s = parts(src);
  const hdr = s.ihl + (src[14 + s.ihl + 12] >> 4) * 4;
  const data = src.subarray(14 + hdr, 14 + s.total);
  assert.is(segs.length, Math.ceil(data.length / gso), 'segment count');
  const seq0 = be32(src, 14 + s.ihl + 4), id0 = be16(src, 18);
  const joined: number[] = [];
  segs.forEach(({ frame: f }, i) => {
    const p = parts(f), t = 14 + p.ihl;
    const len = Math.min(gso, data.length - i * gso);
    assert.is(f.length, 14 + hdr + len, `segment ${i} length`);
    assert.is(p.total, hdr + len, `segment ${i} IP total length`);
    assert.ok(ipOk(f), `segment ${i} IP header checksum`);
    assert.is(be16(f, 18), (id0 + i) & 0xffff, `segment ${i} IP ID`);
    assert.is(be32(f, t + 4), (seq0 + i * gso) % 2 ** 32, `segment ${i} seq`);
    const last = i === segs.length - 1;
    assert.is(f[t + 13], ACK | (last ? FIN | PSH : 0) | (i === 0 ? CWR : 0), `segment ${i} TCP flags`);
    // Everything else in the headers, TCP options included, is the original's.
    assert.equal([...f.subarray(0, 16)], [...src.subarray(0, 16)]);
    assert.equal([...f.subarray(20, 24)], [...src.subarray(20, 24)]);
    assert.equal([...f.subarray(26, t + 4)], [...src.subarray(26, t + 4)]);
    assert.equal([...f.subarray(t + 8, t + 13)], [...src.subarray(t + 8, t + 13)]);
    assert.equal([...f.subarray(t + 14, t + 16)], [...src.subarray(t + 14, t + 16)]);
    assert.equal([...f.subarray(t + 18, 14 + hdr)], [...src.subarray(t + 18, 14 + hdr)]);
    joined.push(...f.subarray(14 + hdr));
  });
  assert.equal(joined, [...data], 'payloads concatenate to the original');
}

// ---- tests ------------------------------------------------------------------

test('a GSO frame for a plain receiver: MTU-sized segments with complete, verifying checksums', () => {
  const src = gsoFrame({ data: payload(5000) });
  const copy = src.slice();
  const { ok, out } = run(src, FRAME_CSUM_OK | PARTIAL | GSO, 1448, undefined);
  assert.ok(ok);
  checkSegments(src, out, 1448);
  for (const s of out) {
    assert.ok(l4Ok(s.frame), 'TCP checksum verifies');
    assert.ok(s.frame.length <= 1514);
    assert.is(s.flags, FRAME_CSUM_OK, 'neither partial nor GSO any more; other flags kept');
    assert.is(s.gso, 0);
  }
  assert.equal(src, copy, 'the borrowed input is left as it was');
});

test('IP options and a wrapping IP ID and sequence number are carried through', () => {
  const src = gsoFrame({ data: payload(3001), ipOptions: new Uint8Array([1, 1, 1, 0]), id: 0xffff, seq: 0xffffff00 });
  const { ok, out } = run(src, PARTIAL | GSO, 1000, undefined);
  assert.ok(ok);
  checkSegments(src, out, 1000);
  assert.ok(out.every((s) => l4Ok(s.frame) && ipOk(s.frame)));
  assert.is(be16(out[1].frame, 18), 0, 'IP ID wrapped');
});

test('a receiver that takes partial checksums but not GSO gets partial segments with their own pseudo-header sums', () => {
  const src = gsoFrame({ data: payload(4000, 3) });
  const { ok, out } = run(src, PARTIAL | GSO, 1448, { csum: true, gso: 0 });
  assert.ok(ok);
  checkSegments(src, out, 1448);
  for (const s of out) {
    assert.is(s.flags, PARTIAL);
    assert.ok(l4Ok(completed(s.frame)), 'completed as a NIC would, the checksum verifies');
  }
});

test('a receiver that takes GSO gets the frame whole; one that fits the MTU loses only the GSO flag', () => {
  const src = gsoFrame({ data: payload(60000) });
  let r = run(src, PARTIAL | GSO, 1448, { csum: true, gso: 65535 });
  assert.is(r.out.length, 1);
  assert.equal(r.out[0], { frame: src, flags: PARTIAL | GSO, gso: 1448 });
  r = run(src, PARTIAL | GSO, 1448, { csum: true, gso: 32000 });
  assert.is(r.out.length, 42, 'too big for this receiver: segmented');
  // An IP packet within the MTU needs no cutting, even with FRAME_GSO.
  const small = gsoFrame({ data: payload(1400) });
  r = run(small, PARTIAL | GSO, 1448, { csum: true, gso: 65535 });
  assert.equal(r.out, [{ frame: small, flags: PARTIAL, gso: 0 }]);
  r = run(small, PARTIAL | GSO, 1448, undefined);
  assert.is(r.out.length, 1);
  assert.is(r.out[0].flags, 0);
  assert.ok(l4Ok(r.out[0].frame));
  assert.equal([...r.out[0].frame.subarray(54)], [...small.subarray(54)], 'payload unchanged');
  // A larger mtu: 9000-byte segments are not cut smaller.
  r = run(src, PARTIAL | GSO, 8948, undefined, 9000);
  checkSegments(src, r.out, 8948);
});

test('partial checksums completed for a plain receiver: TCP, UDP (0 sent as 0xffff), Ethernet padding left out', () => {
  const tcp = gsoFrame({ data: payload(100), flags: ACK });
  let r = run(tcp, FRAME_CSUM_OK | PARTIAL, 0, undefined);
  assert.ok(r.ok);
  assert.is(r.out[0].flags, FRAME_CSUM_OK);
  assert.ok(l4Ok(r.out[0].frame));
  assert.equal([...r.out[0].frame], [...completed(tcp)]);
  // A short UDP datagram padded to 60 bytes with garbage.
  const udp = udpFrame(new Uint8Array([1, 2, 3]), 15);
  r = run(udp, PARTIAL, 0, undefined);
  assert.is(r.out[0].frame.length, udp.length, 'padding stays');
  assert.ok(l4Ok(r.out[0].frame), 'checksum over the datagram only');
  // Two data bytes chosen so that the complemented sum is 0: UDP must send 0xffff.
  // (The field holds the pseudo-header sum, so the sum over the datagram is what completes it.)
  const z = udpFrame(new Uint8Array(2));
  set16(z, 42, 0xffff - ocsum(parts(z).l4));
  assert.is(ocsum(parts(z).l4), 0xffff);
  r = run(z, PARTIAL, 0, undefined);
  assert.is(be16(r.out[0].frame, 40), 0xffff);
  assert.ok(l4Ok(r.out[0].frame));
  // A receiver that takes partial checksums gets the frame as it is.
  r = run(udp, PARTIAL, 0, { csum: true, gso: 0 });
  assert.equal(r.out, [{ frame: udp, flags: PARTIAL, gso: 0 }]);
  // Plain frames always pass as they are.
  r = run(udp, FRAME_CSUM_OK, 0, undefined);
  assert.equal(r.out, [{ frame: udp, flags: FRAME_CSUM_OK, gso: 0 }]);
});

test('bad input is refused (false, nothing emitted), never thrown', () => {
  const good = gsoFrame({ data: payload(3000) });
  const cases: [string, Uint8Array, number, number][] = [
    ['gso 0', good, PARTIAL | GSO, 0],
    ['gso > 65535', good, PARTIAL | GSO, 70000],
    ['gso not an integer', good, PARTIAL | GSO, 1.5],
    ['gso missing', good, PARTIAL | GSO, undefined as unknown as number],
    ['GSO without a partial checksum', good, GSO, 1448],
    ['GSO on UDP', udpFrame(payload(3000)), PARTIAL | GSO, 1448],
    ['GSO on ARP', ether(new Uint8Array(28)).map((b, i) => (i === 13 ? 6 : b)), PARTIAL | GSO, 1448],
    ['partial on ICMP', ether(ipv4(1, new Uint8Array(8), 1)), PARTIAL, 0],
    ['IP total length past the frame', good.subarray(0, good.length - 1), PARTIAL | GSO, 1448],
    ['TCP data offset < 5', good.map((b, i) => (i === 46 ? 0x40 : b)), PARTIAL | GSO, 1448],
    ['TCP header past the IP packet', good.map((b, i) => (i === 16 ? 0 : i === 17 ? 40 : b)), PARTIAL | GSO, 1448],
    ['IHL < 5', good.map((b, i) => (i === 14 ? 0x44 : b)), PARTIAL | GSO, 1448],
    ['IPv6', good.map((b, i) => (i === 12 ? 0x86 : i === 13 ? 0xdd : b)), PARTIAL, 0],
  ];
  for (const [what, f, flags, gso] of cases) {
    const r = run(f, flags, gso, undefined);
    assert.equal([r.ok, r.out.length], [false, 0], what);
  }
  // Every truncation and a seeded storm of byte flips: no throw, and what
  // comes out of a GSO frame for a plain receiver is never larger than it was.
  let seed = 12345;
  const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  for (let len = 0; len <= good.length; len += len < 100 ? 1 : 97) {
    for (const take of [undefined, { csum: true, gso: 0 }, { csum: true, gso: 65535 }]) {
      run(good.subarray(0, len), PARTIAL | GSO, 1448, take);
      run(good.subarray(0, len), PARTIAL, 0, take);
    }
  }
  for (let i = 0; i < 3000; i++) {
    const f = good.slice(0, 54 + rnd(400));
    for (let k = 1 + rnd(4); k > 0; k--) f[rnd(60)] = rnd(256);
    const r = run(f, PARTIAL | (rnd(2) ? GSO : 0), rnd(3) ? 1 + rnd(1500) : rnd(70000), undefined);
    for (const o of r.out) assert.ok(o.frame.length <= f.length, 'no frame larger than its source');
  }
});

test('re-entrant: a receiver that answers from inside emit does not spoil the segments lent to it', () => {
  const src = gsoFrame({ data: payload(6000) });
  const reply = gsoFrame({ data: payload(3000, 99) });
  const got: Uint8Array[] = [];
  normalize(src, PARTIAL | GSO, 1448, undefined, 1500, (f) => {
    normalize(reply, PARTIAL | GSO, 1000, undefined, 1500, () => {});
    got.push(f.slice()); // read after the nested call: must still be this segment
  });
  checkSegments(src, got.map((frame) => ({ frame, flags: 0, gso: 0 })), 1448);
  assert.ok(got.every(l4Ok));
});

test('fits: whole frames within the MTU, GSO frames whose segments are', () => {
  const big = gsoFrame({ data: payload(20000) }); // 32-byte TCP header + 20-byte IP header
  assert.ok(fits(big, PARTIAL | GSO, 1448, 1500));
  assert.ok(fits(big, PARTIAL | GSO, 1500 - 52, 1500), 'a segment of exactly the MTU');
  assert.not.ok(fits(big, PARTIAL | GSO, 1500 - 51, 1500), 'one byte over');
  assert.not.ok(fits(big, PARTIAL, 1448, 1500), 'not GSO: too big');
  assert.not.ok(fits(big, PARTIAL | GSO, 0, 1500), 'no segment size');
  assert.not.ok(fits(udpFrame(payload(3000)), PARTIAL | GSO, 1000, 1500), 'GSO is TCP only');
  assert.ok(fits(udpFrame(payload(1472)), 0, 0, 1500));
  assert.not.ok(fits(udpFrame(payload(1473)), 0, 0, 1500));
});

test.run();
