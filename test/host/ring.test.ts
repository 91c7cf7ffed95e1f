// FrameRing and RingLink on one thread: order, flags and gso carried, one
// wake-up per batch, a full ring's drops counted, wrap-around, malformed
// records refused, and the link's offloads and close seen from the far end;
// packed records (a stack's small frames, one run a batch) written whole,
// through wrap-around and a full ring, and two stacks over a RingLink.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameRing, RingLink } from '../../host/link/ring.ts';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { FRAME } from '../../host/core-abi.ts';
import { TestLink } from '../helpers/frames.ts';
import type { Link } from '../../host/link/link.ts';

/** A frame of n bytes whose bytes say which it is. */
const frameOf = (i: number, n: number) => Uint8Array.from({ length: n }, (_, k) => (i * 31 + k) & 255);
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Ends the batch and reads it. */
function readAll(r: FrameRing): { frames: Uint8Array[]; flags: number[]; gso: number[] } {
  r.ring();
  const out = { frames: [] as Uint8Array[], flags: [] as number[], gso: [] as number[] };
  r.read((f, fl, g) => { out.frames.push(f.slice()); out.flags.push(fl); out.gso.push(g); });
  return out;
}

test('frames come out in order, whole, with their flags and gso, once their batch ends; pieces join', () => {
  const r = new FrameRing(1 << 16);
  for (let i = 0; i < 40; i++) assert.ok(r.write(frameOf(i, 14 + i * 37), i & 7, 1448 + i));
  r.writev([frameOf(99, 14), frameOf(100, 3), frameOf(101, 20)], 37, 0, 0);
  assert.is(r.read(() => {}), 0, 'not before ring()');
  const got = readAll(r);
  assert.is(got.frames.length, 41);
  for (let i = 0; i < 40; i++) {
    assert.equal(got.frames[i], frameOf(i, 14 + i * 37));
    assert.is(got.flags[i], i & 7);
    assert.is(got.gso[i], 1448 + i);
  }
  assert.equal(got.frames[40], Uint8Array.from([...frameOf(99, 14), ...frameOf(100, 3), ...frameOf(101, 20)]));
  assert.is(r.used, 0);
  assert.equal(r.counters(), { frames: 41, dropped: 0, tooBig: 0 });
});

test('batching: a sleeping consumer wakes once per ring(), and drains the whole batch in one read', async () => {
  const r = new FrameRing(1 << 16);
  let woke = 0;
  const w = r.wait();
  assert.ok(w, 'nothing to read: it sleeps');
  void w!.then(() => { woke++; });
  for (let i = 0; i < 50; i++) r.write(frameOf(i, 100), 0, 0);
  await tick();
  assert.is(woke, 0, 'frames written but no bell yet');
  r.ring();
  r.ring();
  await tick();
  assert.is(woke, 1);
  assert.is(r.read(() => {}), 50);
  assert.is(r.wait() === null, false, 'empty again: it sleeps');
  r.write(frameOf(1, 60), 0, 0);
  r.ring();
  assert.is(r.wait(), null, 'something there: no sleep');
});

test('a full ring drops and counts at the producer (back-pressure as a NIC has it); room comes back as it is read', () => {
  const r = new FrameRing(4096);
  let ok = 0;
  while (r.write(frameOf(ok, 1000), 0, 0)) ok++;
  assert.is(ok, 4, '4 × (8 + 1000 padded to 1008) fit in 4096');
  assert.not.ok(r.write(frameOf(9, 1000), 0, 0));
  r.ring();
  assert.equal(r.counters(), { frames: 4, dropped: 2, tooBig: 0 });
  assert.not.ok(r.write(frameOf(9, 2100), 0, 0), 'more than half the ring');
  assert.is(r.counters().tooBig, 1);
  assert.is(r.read(() => {}), 4);
  assert.ok(r.write(frameOf(5, 1000), 0, 0));
});

test('wrap-around: ten thousand frames of odd sizes through a 4 KiB ring, in order; a wrap that cannot fit never sticks', () => {
  const r = new FrameRing(4096);
  let next = 0, want = 0;
  for (let round = 0; round < 2000; round++) {
    for (let k = 0; k < 5; k++, next++) {
      const n = 14 + ((next * 733) % 1500);
      if (!r.write(frameOf(next, n), next & 0xffff, 0)) break;
    }
    r.ring();
    r.read((f, flags) => {
      assert.is(flags, want & 0xffff);
      assert.equal(f, frameOf(want, 14 + ((want * 733) % 1500)));
      want++;
    });
  }
  assert.is(want, next);
  assert.ok(next > 5000);
  // The next frame needs the start, and room past the wrap is short: the mark is written, the frame dropped, and
  // the one after starts at 0.
  const s = new FrameRing(4096);
  s.write(frameOf(0, 1800), 0, 0);
  readAll(s);
  s.write(frameOf(1, 1800), 0, 0);
  assert.not.ok(s.write(frameOf(2, 1801), 0, 0));
  assert.equal(readAll(s).frames.map((f) => f.length), [1800]);
  assert.ok(s.write(frameOf(3, 1801), 0, 0));
  assert.equal(readAll(s).frames, [frameOf(3, 1801)]);
  assert.equal(s.counters(), { frames: 3, dropped: 1, tooBig: 0 });
});

test('a malformed record (a broken producer) is counted and closes the ring; it never traps', () => {
  const r = new FrameRing(4096);
  r.write(frameOf(0, 100), 0, 0);
  r.ring();
  new Uint32Array(r.sab, 128)[0] = 3000;
  const seen: number[] = [];
  assert.is(r.read((f) => seen.push(f.length)), 0);
  assert.is(r.broken, 1);
  assert.ok(r.closed);
  assert.not.ok(r.write(frameOf(1, 100), 0, 0));
  assert.throws(() => new FrameRing(5000), /power of two/);
  assert.throws(() => new FrameRing(new SharedArrayBuffer(1000)), /not a ring/);
});

test('RingLink: frames both ways, the far end\'s rxOffload is this end\'s offload, a full ring counted, close seen as down', async () => {
  const a = new RingLink({ capacity: 1 << 16 });
  const b = RingLink.from(a.pair);
  assert.is(a.offload.gso, 0, 'nothing taken before the far end attaches');
  const atA: number[] = [], atB: number[] = [];
  b.rxOffload = { csum: true, gso: 65535, ipip: true };
  b.onFrame = (f, flags, gso) => atB.push(f[0], flags, gso);
  a.rxOffload = undefined;
  a.onFrame = (f) => atA.push(f[0]);
  assert.equal([a.offload.csum, a.offload.gso, a.offload.ipip], [true, 65535, true]);
  assert.equal([b.offload.csum, b.offload.gso], [false, 0]);
  a.send(Uint8Array.of(7, ...new Uint8Array(59)), 3, 1448);
  a.sendv([Uint8Array.of(8, 0), new Uint8Array(58)]);
  b.send(Uint8Array.of(9, ...new Uint8Array(59)));
  for (let i = 0; i < 20 && (atB.length < 6 || atA.length < 1); i++) await tick();
  assert.equal(atB, [7, 3, 1448, 8, 0, 0]);
  assert.equal(atA, [9]);
  let sent = 0;
  while (a.stats().out.dropped === 0) { a.send(new Uint8Array(1500)); sent++; }
  assert.ok(sent > 40 && sent < 50, `${sent} frames of 1500 bytes fill 64 KiB`);
  let down = 0;
  b.onDown = () => down++;
  a.close();
  for (let i = 0; i < 20 && !down; i++) await tick();
  assert.is(down, 1);
  b.send(new Uint8Array(60));
  assert.throws(() => new RingLink({ mtu: 100 }), /mtu/);
});

/** Frames as a stack packs them: each an 8-byte header (length; flags | gso << 16) and the frame, padded to 8. */
function packed(frames: { f: Uint8Array; flags: number; gso: number }[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, x) => n + 8 + ((x.f.length + 7) & ~7), 0));
  const v = new DataView(out.buffer);
  let at = 0;
  for (const x of frames) {
    v.setUint32(at, x.f.length, true);
    v.setUint32(at + 4, (x.flags & 0xffff) | (x.gso << 16), true);
    out.set(x.f, at + 8);
    at += 8 + ((x.f.length + 7) & ~7);
  }
  return out;
}

test('packed records go in as runs: in order, whole, through wrap-around; what finds no room is dropped and counted', () => {
  const r = new FrameRing(1 << 16);
  let i = 0;
  for (let batch = 0; batch < 300; batch++) {
    const frames = Array.from({ length: 1 + (batch % 9) }, () => ({ f: frameOf(i, 14 + (i++ * 181) % 2000), flags: i & 7, gso: i & 0xfff }));
    assert.is(r.writePacked(packed(frames)), frames.length, `batch ${batch}`);
    const got = readAll(r);
    assert.equal(got.frames, frames.map((x) => x.f));
    assert.equal(got.flags, frames.map((x) => x.flags));
    assert.equal(got.gso, frames.map((x) => x.gso));
  }
  const full = new FrameRing(4096);
  assert.is(full.writePacked(packed(Array.from({ length: 10 }, (_, k) => ({ f: frameOf(k, 1000), flags: 0, gso: 0 })))), 4);
  assert.equal(full.counters(), { frames: 0, dropped: 6, tooBig: 0 }, 'counted as frames once rung');
  full.ring();
  assert.is(full.counters().frames, 4);
  const bad = packed([{ f: frameOf(1, 60), flags: 0, gso: 0 }, { f: frameOf(2, 60), flags: 0, gso: 0 }, { f: frameOf(3, 60), flags: 0, gso: 0 }]);
  new DataView(bad.buffer).setUint32(72, 0xffff0000, true);
  const r2 = new FrameRing(4096);
  assert.is(r2.writePacked(bad), 1, 'a record that does not parse ends the run');
  assert.is(r2.counters().dropped, 1);
  assert.equal(readAll(r2).frames, [frameOf(1, 60)]);
  const r3 = new FrameRing(4096);
  r3.write(frameOf(0, 1500), 0, 0);
  r3.write(frameOf(0, 1500), 0, 0);
  const late = packed([{ f: frameOf(1, 2000), flags: 0, gso: 0 }, { f: frameOf(2, 60), flags: 0, gso: 0 }]);
  new DataView(late.buffer).setUint32(2008, 0xfffffff0, true);
  assert.is(r3.writePacked(late), 0, 'no room, and a bad record behind: counted, never a hang');
  assert.is(r3.counters().dropped, 2);
});

test('a stack packs for a link that takes records: one run for a datagram\'s fragments, framed as docs/ABI.md says', () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  const runs: Uint8Array[] = [];
  let plain = 0;
  // Every frame reaches the TestLink (which answers ARP); runs and frames sent one by one are counted apart.
  const packing: Link = Object.assign(link, {
    send: (f: Uint8Array, flags?: number) => { plain++; TestLink.prototype.send.call(link, f, flags); },
    sendPacked: (r: Uint8Array) => {
      runs.push(r.slice());
      const v = new DataView(r.buffer, r.byteOffset);
      for (let at = 0; at < r.length; at += 8 + ((v.getUint32(at, true) + 7) & ~7)) {
        TestLink.prototype.send.call(link, r.subarray(at + 8, at + 8 + v.getUint32(at, true)));
      }
    },
  });
  link.arp.set('10.0.0.2', '02:00:00:00:00:02');
  const s = Stack.createSync({ name: 'pk', link: packing, address: '10.0.0.1/24', clock, seed: 3 });
  const u = s.dgram.createSocket('udp4');
  u.send(Uint8Array.of(1), 9, '10.0.0.2');
  clock.advance(10);
  assert.is(link.sent.length, 2, 'the ARP request and the datagram');
  runs.length = 0;
  plain = 0;
  u.send(new Uint8Array(4000).fill(7), 9, '10.0.0.2');
  clock.advance(10);
  assert.is(plain, 0, 'nothing went one by one');
  assert.is(runs.length, 1, 'one run');
  const v = new DataView(runs[0].buffer);
  const frames: { len: number; word: number; off: number; mf: boolean }[] = [];
  for (let at = 0; at < runs[0].length;) {
    const len = v.getUint32(at, true), word = v.getUint32(at + 4, true);
    const ip = at + 8 + 14, frag = v.getUint16(ip + 6);
    frames.push({ len, word, off: (frag & 0x1fff) * 8, mf: (frag & 0x2000) !== 0 });
    at += 8 + ((len + 7) & ~7);
  }
  assert.equal(frames.map((f) => [f.off, f.mf]), [[0, true], [1480, true], [2960, false]], 'three fragments in order');
  assert.equal(frames.map((f) => f.len), [1514, 1514, 14 + 20 + 4008 - 2960]);
  assert.ok(frames.every((f) => f.word === FRAME.CSUM_OK), 'flags: checksums good, gso 0');
  u.close();
});

test('two stacks over a RingLink: small frames packed, large ones alone, every datagram whole and in order', async () => {
  const a = new RingLink({ mtu: 9000 });
  const b = RingLink.from(a.pair, { mtu: 9000 });
  const sa = Stack.createSync({ name: 'pa', link: a, address: '10.0.0.1/24', seed: 1 });
  const sb = Stack.createSync({ name: 'pb', link: b, address: '10.0.0.2/24', seed: 2 });
  const got: number[][] = [];
  const rx = sb.dgram.createSocket('udp4');
  rx.on('message', (m: Buffer) => got.push([m.length, m[0], m[m.length - 1]]));
  rx.bind(9);
  const tx = sa.dgram.createSocket('udp4');
  const sizes = Array.from({ length: 120 }, (_, i) => (i % 7 === 3 ? 3000 + i * 40 : 1 + i * 13));
  for (let i = 0; i < 4 && got.length === 0; i++) {
    tx.send(Uint8Array.of(0), 9, '10.0.0.2');
    await new Promise((r) => setTimeout(r, 20));
  }
  got.length = 0;
  for (const [i, n] of sizes.entries()) tx.send(new Uint8Array(n).fill(i, 0, 1).fill(i, n - 1), 9, '10.0.0.2');
  for (let i = 0; i < 100 && got.length < sizes.length; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(got, sizes.map((n, i) => [n, i, i]));
  assert.is(a.stats().out.dropped + b.stats().out.dropped, 0);
  tx.close(); rx.close();
  await sa.close(); await sb.close();
});

test.run();
