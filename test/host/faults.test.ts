import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Link } from '../../host/link/link.ts';
import { FRAME_CSUM_OK } from '../../host/link/link.ts';
import { VirtualClock } from '../../host/clock.ts';
import { Random } from '../../host/random.ts';
import { withFaults, type FaultOptions } from '../../host/link/faults.ts';

/** Two in-memory ends: a frame sent on one arrives at the other's onFrame. */
class End implements Link {
  readonly mtu = 1500;
  onFrame: ((frame: Uint8Array, flags: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  peer: End | null = null;
  closed = false;
  send(frame: Uint8Array, flags = 0): void { this.peer?.onFrame?.(frame, flags); }
  close(): void { this.closed = true; }
}
function pair(): [End, End] {
  const a = new End(), b = new End();
  a.peer = b; b.peer = a;
  return [a, b];
}

/** What the far end saw: frame sequence numbers, arrival times, bytes, flags. */
interface Rec { seq: number; at: number; bytes: Uint8Array; flags: number }

/** A FaultLink on end a of a pair, recording what end b receives. Frames are
 * 64 bytes with a 32-bit sequence number at offset 14 (after an Ethernet header). */
function rig(opts: Omit<FaultOptions, 'clock'>) {
  const clock = new VirtualClock();
  const [a, b] = pair();
  const link = withFaults(a, { ...opts, clock });
  const got: Rec[] = [];
  b.onFrame = (f, flags) => got.push({ seq: new DataView(f.buffer, f.byteOffset).getUint32(14), at: clock.now(), bytes: f.slice(), flags });
  // One reused buffer: the middleware must copy whatever it keeps.
  const buf = new Uint8Array(64);
  const send = (seq: number, flags = FRAME_CSUM_OK) => {
    buf.fill(0xa5);
    new DataView(buf.buffer).setUint32(14, seq);
    link.send(buf, flags);
    buf.fill(0); // scribble: a held frame must not see this
  };
  return { clock, a, b, link, got, send };
}

const randomSeed = () => Math.floor(Math.random() * 2 ** 32);
/** |x - np| within 5 binomial standard deviations. */
function nearBinomial(x: number, n: number, p: number, what: string) {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(x - n * p) <= 5 * sd, `${what}: ${x} not within 5 sd (${sd.toFixed(1)}) of ${n * p}`);
}

test('Random matches the reference xoshiro128** with splitmix32 seeding', () => {
  // Values from the C reference implementation, state filled the same way.
  const r = new Random(42);
  assert.equal([r.u32(), r.u32(), r.u32(), r.u32(), r.u32()], [2837322924, 544945897, 479756282, 3500138142, 339756180]);
  const big = new Random(1700000000000);
  assert.is(big.u32(), 4292352061);
  const q = new Random(7);
  for (let i = 0; i < 10000; i++) {
    const x = q.next(), k = q.int(10);
    assert.ok(x >= 0 && x < 1 && Number.isInteger(k) && k >= 0 && k < 10);
  }
  assert.throws(() => q.int(0), (e: unknown) => e instanceof RangeError);
  assert.throws(() => new Random(1.5), (e: unknown) => e instanceof RangeError);
});

test('set() changes the impairments while frames flow: a burst of loss, a burst of delay, order kept', () => {
  const { clock, link, got, send } = rig({ seed: 1 });
  send(0);
  link.set({ tx: { loss: 1 } });
  send(1);
  link.set({ tx: { delayMs: 50 } });
  send(2);
  link.set({});
  send(3);
  assert.equal(got.map((r) => r.seq), [0], 'the lost one never comes, the delayed one holds the next back');
  clock.advance(50);
  assert.equal(got.map((r) => [r.seq, r.at]), [[0, 0], [2, 50], [3, 50]]);
  assert.throws(() => link.set({ tx: { loss: 2 } }), /tx\.loss must be a probability/);
  assert.throws(() => link.set({ seed: 3 } as never), /unknown option 'seed'/);
});

test('loss rate is near the configured probability, both directions', () => {
  const seed = randomSeed();
  console.log('seed', seed);
  const n = 100_000, p = 0.1;
  const { link, got, send, b } = rig({ seed, tx: { loss: p }, rx: { loss: 0.3 } });
  for (let i = 0; i < n; i++) send(i);
  const s = link.stats();
  assert.is(s.txFrames, n);
  assert.is(got.length + s.txLost, n);
  nearBinomial(s.txLost, n, p, 'txLost');
  // Survivors arrive in order and intact.
  for (let i = 1; i < got.length; i++) assert.ok(got[i].seq > got[i - 1].seq);
  let up = 0;
  link.onFrame = () => up++;
  for (let i = 0; i < n; i++) b.send(new Uint8Array(60));
  assert.is(up + link.stats().rxLost, n);
  nearBinomial(link.stats().rxLost, n, 0.3, 'rxLost');
});

test('duplication sends identical second copies at the configured rate', () => {
  const seed = randomSeed();
  console.log('seed', seed);
  const n = 100_000, p = 0.2;
  const { link, got, send } = rig({ seed, tx: { duplicate: p } });
  for (let i = 0; i < n; i++) send(i);
  const s = link.stats();
  assert.is(got.length, n + s.txDuplicated);
  nearBinomial(s.txDuplicated, n, p, 'txDuplicated');
  let dups = 0;
  for (let i = 1; i < got.length; i++) {
    if (got[i].seq === got[i - 1].seq) { dups++; assert.equal(got[i].bytes, got[i - 1].bytes); }
  }
  assert.is(dups, s.txDuplicated);
});

test('reordering swaps neighbours and loses nothing', () => {
  const seed = randomSeed();
  console.log('seed', seed);
  const n = 100_000, p = 0.25;
  const { link, got, send, clock } = rig({ seed, tx: { reorder: p } });
  for (let i = 0; i < n; i++) send(i);
  clock.runUntilIdle(); // the last frame may still be held
  const s = link.stats();
  assert.equal(got.map((r) => r.seq).sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
  let swaps = 0;
  for (let i = 1; i < got.length; i++) {
    if (got[i].seq < got[i - 1].seq) {
      swaps++;
      assert.is(got[i].seq, got[i - 1].seq - 1, 'only adjacent swaps');
      assert.equal(got[i].bytes.subarray(18), new Uint8Array(46).fill(0xa5), 'held frame was copied');
    }
  }
  assert.ok(swaps > 0);
  assert.is(swaps, s.txReordered);
  // A frame is held only when the slot is free, so the rate is p per free slot.
  nearBinomial(s.txReordered, n - s.txReordered, p, 'txReordered');
});

test('a reordered frame with no successor leaves after reorderDelayMs', () => {
  const { got, send, clock, link } = rig({ seed: 1, tx: { reorder: 1, reorderDelayMs: 7 } });
  send(1);
  assert.is(got.length, 0);
  clock.advance(6.999);
  assert.is(got.length, 0);
  clock.advance(0.001);
  assert.is(got.length, 1);
  assert.is(got[0].at, 7);
  assert.is(link.stats().txReordered, 0, 'held but overtaken by nothing');
});

test('delay and jitter: delivered at the right virtual time, in order, copied', () => {
  const { got, send, clock, link } = rig({ seed: 3, tx: { delayMs: 50 } });
  send(1);
  clock.advance(10);
  send(2);
  clock.advance(39.5);
  assert.is(got.length, 0);
  clock.advance(0.5);
  assert.equal(got.map((r) => [r.seq, r.at]), [[1, 50]]);
  clock.advance(10);
  assert.equal(got.map((r) => [r.seq, r.at]), [[1, 50], [2, 60]]);
  assert.equal(got[1].bytes.subarray(18), new Uint8Array(46).fill(0xa5));
  assert.is(link.stats().txDelayed, 2);

  const seed = randomSeed();
  console.log('seed', seed);
  const j = rig({ seed, tx: { delayMs: 20, jitterMs: 30 } });
  for (let i = 0; i < 1000; i++) { j.send(i); j.clock.advance(1); }
  j.clock.runUntilIdle();
  assert.is(j.got.length, 1000);
  let spread = false;
  for (let i = 0; i < 1000; i++) {
    const d = j.got[i].at - i; // frame i was sent at virtual time i
    assert.is(j.got[i].seq, i, 'jitter keeps order');
    assert.ok(d >= 20 && d < 50 + 1, `delay ${d} outside [20, 51)`);
    if (d > 35) spread = true;
  }
  assert.ok(spread, 'jitter adds delay');
});

test('realClock by default: a delayed frame arrives after its delay', async () => {
  const [a, b] = pair();
  const link = withFaults(a, { seed: 4, tx: { delayMs: 20 } });
  const t0 = performance.now();
  const arrived = new Promise<number>((resolve) => { b.onFrame = () => resolve(performance.now() - t0); });
  link.send(new Uint8Array(60));
  const ms = await arrived;
  assert.ok(ms >= 19 && ms < 1000, `arrived after ${ms} ms`);
  link.close();
});

test('corruption flips 1..corruptBits bits in a copy and clears FRAME_CSUM_OK', () => {
  const seed = randomSeed();
  console.log('seed', seed);
  const clock = new VirtualClock();
  const [a, b] = pair();
  const link = withFaults(a, { seed, clock, tx: { corrupt: 1, corruptBits: 3 } });
  const got: { bytes: Uint8Array; flags: number }[] = [];
  b.onFrame = (f, flags) => got.push({ bytes: f.slice(), flags });
  const frame = new Uint8Array(100).map((_, i) => i);
  const orig = frame.slice();
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) link.send(frame, FRAME_CSUM_OK | 2);
  assert.equal(frame, orig, 'the borrowed frame is not modified');
  assert.is(link.stats().txCorrupted, 1000);
  for (const g of got) {
    let bits = 0;
    for (let k = 0; k < orig.length; k++) for (let x = g.bytes[k] ^ orig[k]; x; x &= x - 1) bits++;
    assert.ok(bits >= 1 && bits <= 3, `${bits} bits flipped`);
    seen.add(bits);
    assert.is(g.flags, 2, 'FRAME_CSUM_OK cleared, other flags kept');
  }
  assert.equal([...seen].sort(), [1, 2, 3]);
  // Uncorrupted frames keep their flags.
  const clean = rig({ seed, tx: { corrupt: 0 } });
  clean.send(1, FRAME_CSUM_OK);
  assert.is(clean.got[0].flags, FRAME_CSUM_OK);
});

test('same seed, same outcomes; another seed, other outcomes', () => {
  const seed = randomSeed();
  console.log('seed', seed);
  const dir = { loss: 0.1, duplicate: 0.1, reorder: 0.1, corrupt: 0.1, corruptBits: 4, delayMs: 1, jitterMs: 5 };
  const run = (s: number) => {
    const r = rig({ seed: s, tx: dir, rx: dir });
    const up: string[] = [];
    r.link.onFrame = (f, flags) => up.push(`${r.clock.now()}:${flags}:${Buffer.from(f).toString('hex')}`);
    for (let i = 0; i < 5000; i++) {
      r.send(i);
      const f = new Uint8Array(64); new DataView(f.buffer).setUint32(14, i);
      r.b.send(f, FRAME_CSUM_OK);
      r.clock.advance(0.5);
    }
    r.clock.runUntilIdle();
    return { tx: r.got.map((g) => `${g.at}:${g.flags}:${Buffer.from(g.bytes).toString('hex')}`), rx: up, stats: r.link.stats() };
  };
  const x = run(seed), y = run(seed), z = run(seed + 1);
  assert.equal(x, y);
  assert.not.equal(x.tx, z.tx);
  assert.not.equal(x.rx, z.rx);
  assert.ok(x.stats.txLost > 0 && x.stats.txDuplicated > 0 && x.stats.txReordered > 0 && x.stats.txCorrupted > 0 && x.stats.txDelayed > 0);
  assert.ok(x.stats.rxLost > 0 && x.stats.rxDuplicated > 0 && x.stats.rxReordered > 0 && x.stats.rxCorrupted > 0 && x.stats.rxDelayed > 0);
});

test('held frames are capped per direction; excess is dropped and counted', () => {
  const { got, send, clock, link } = rig({ seed: 5, maxHeld: 10, tx: { delayMs: 100 } });
  for (let i = 0; i < 25; i++) send(i);
  assert.is(link.stats().heldDropped, 15);
  clock.runUntilIdle();
  assert.equal(got.map((r) => r.seq), Array.from({ length: 10 }, (_, i) => i));
  for (let i = 0; i < 5; i++) send(100 + i); // room again once delivered
  clock.runUntilIdle();
  assert.is(got.length, 15);
});

test('close() closes the inner link, cancels timers and drops held frames', () => {
  const { got, send, clock, link, a } = rig({ seed: 9, tx: { delayMs: 5, reorder: 0.5 } });
  for (let i = 0; i < 10; i++) send(i);
  assert.ok(clock.pending > 0);
  link.close();
  assert.ok(a.closed);
  assert.is(clock.pending, 0);
  clock.runUntilIdle();
  send(99);
  assert.is(got.length, 0);
});

test('rx passes frames up, and onDown and mtu through', () => {
  const [a, b] = pair();
  const link = withFaults(a, { seed: 2 });
  const up: number[] = [];
  link.onFrame = (f, flags) => up.push(f[0], flags);
  b.send(Uint8Array.of(42), FRAME_CSUM_OK);
  assert.equal(up, [42, FRAME_CSUM_OK]);
  let down: Error | undefined;
  link.onDown = (e) => { down = e; };
  a.onDown?.(new Error('gone'));
  assert.is(down?.message, 'gone');
  assert.is(link.mtu, 1500);
});

test('bad options throw RangeError', () => {
  const [a] = pair();
  const bad: unknown[] = [
    { seed: 1, tx: { loss: 1.5 } }, { seed: 1, tx: { loss: -0.1 } }, { seed: 1, rx: { duplicate: NaN } },
    { seed: 1, tx: { corrupt: '0.5' } }, { seed: 1, tx: { delayMs: Infinity } }, { seed: 1, rx: { jitterMs: -1 } },
    { seed: 1, tx: { reorderDelayMs: NaN } }, { seed: 1, tx: { corruptBits: 0 } }, { seed: 1, maxHeld: -1 },
    { seed: 1, tx: { los: 0.1 } }, { seed: 1, txx: {} }, { seed: 0.5 }, {},
  ];
  for (const o of bad) {
    assert.throws(() => withFaults(a, o as FaultOptions), (e: unknown) => e instanceof RangeError && /withFaults: /.test(e.message), JSON.stringify(o));
  }
  assert.not.throws(() => withFaults(a, { seed: 1, tx: { loss: 0, duplicate: 1, delayMs: 0 } }));
});

test.run();
