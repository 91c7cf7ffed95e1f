// FrameRing across two threads, fuzzed: a producer in a worker thread (this
// same file, started with workerData) writes frames of random sizes in random
// bursts with random pauses; the main thread reads at random speeds, asleep
// on the bell between batches. Every frame the producer says it wrote arrives
// once, in order, byte for byte; the ones it dropped (full ring) never do.
// Some bursts go as one packed run (writePacked, as a stack's core packs
// them), the rest frame by frame.
// Seeded: the seed is printed and SHOAL_SEED replays it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { FrameRing } from '../../host/link/ring.ts';

/** mulberry32: a small seeded generator, the same on both threads. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Frame number i: its length and bytes follow from i alone, so the reader can check it without the producer's state. */
function lengthOf(i: number): number { return 14 + ((Math.imul(i, 2654435761) >>> 0) % 3000); }
function fill(buf: Uint8Array, i: number, n: number): Uint8Array {
  const v = new DataView(buf.buffer, buf.byteOffset);
  v.setUint32(0, i);
  for (let k = 4; k < n; k++) buf[k] = (i + k * 7) & 255;
  return buf.subarray(0, n);
}

interface Job { sab: SharedArrayBuffer; seed: number; frames: number }
/** What the producer says it did. */
interface Report { written: number; dropped: number; last: number; sum: number }

function produce({ sab, seed, frames }: Job): void {
  const ring = new FrameRing(sab);
  const rand = rng(seed ^ 0x9e3779b9);
  const buf = new Uint8Array(4096);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const written: number[] = [];
  let dropped = 0;
  const run = new Uint8Array(64 * (8 + 3016));
  const rv = new DataView(run.buffer);
  for (let i = 0; i < frames;) {
    const burst = 1 + Math.floor(rand() * 64);
    if (rand() < 0.5) {
      // One packed run: records of what a frame-by-frame burst would write; a prefix of it fits.
      let at = 0;
      const first = i;
      for (let k = 0; k < burst && i < frames; k++, i++) {
        const n = lengthOf(i);
        rv.setUint32(at, n, true);
        rv.setUint32(at + 4, (i & 0xffff) | (((i >>> 16) & 0xffff) << 16), true);
        fill(run.subarray(at + 8), i, n);
        at += 8 + ((n + 7) & ~7);
      }
      const w = ring.writePacked(run.subarray(0, at));
      for (let k = first; k < i; k++) if (k < first + w) written.push(k); else dropped++;
    } else {
      for (let k = 0; k < burst && i < frames; k++, i++) {
        const n = lengthOf(i);
        if (ring.write(fill(buf, i, n), i & 0xffff, (i >>> 16) & 0xffff)) written.push(i); else dropped++;
      }
    }
    ring.ring();
    const r = rand();
    if (r < 0.3) Atomics.wait(nap, 0, 0, rand() * 2);
  }
  parentPort!.postMessage({ written: written.length, dropped, last: written[written.length - 1] ?? -1, sum: written.reduce((a, b) => (a + b) % 1e9, 0) });
}

if (!isMainThread) produce(workerData as Job);
else {
  const SEED = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`seed ${SEED} (SHOAL_SEED=${SEED} replays it)`);

  for (const [capacity, frames] of [[1 << 14, 20_000], [1 << 20, 100_000]] as const) {
    test(`${frames} frames through a ${capacity >> 10} KiB ring between two threads at random speeds: in order, whole, none twice`, async () => {
      const ring = new FrameRing(capacity);
      const rand = rng(SEED);
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { sab: ring.sab, seed: SEED, frames } satisfies Job });
      const report = new Promise<Report>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      let got = 0, last = -1, sum = 0, bad = '';
      const check = (f: Uint8Array, flags: number, gso: number) => {
        const i = new DataView(f.buffer, f.byteOffset).getUint32(0);
        if (bad) return;
        if (i <= last) bad = `frame ${i} after ${last}`;
        else if (f.length !== lengthOf(i)) bad = `frame ${i}: ${f.length} bytes, not ${lengthOf(i)}`;
        else if (flags !== (i & 0xffff) || gso !== ((i >>> 16) & 0xffff)) bad = `frame ${i}: flags ${flags} gso ${gso}`;
        else for (let k = 4; k < f.length; k++) if (f[k] !== ((i + k * 7) & 255)) { bad = `frame ${i}: byte ${k} differs`; break; }
        last = i;
        sum = (sum + i) % 1e9;
        got++;
      };
      const done: { report: Report | null } = { report: null };
      void report.then((r) => { done.report = r; });
      while (!bad && (done.report === null || got < done.report.written)) {
        ring.read(check);
        const r = rand();
        // Slow reads sometimes, so the ring fills and the producer drops.
        if (r < 0.2) await new Promise((res) => setTimeout(res, rand() * 3));
        else if (r < 0.6) { const w = ring.wait(); if (w) await Promise.race([w, report]); }
        else await new Promise((res) => setImmediate(res));
      }
      ring.read(check);
      const rep = await report;
      await worker.terminate();
      assert.is(bad, '', bad);
      assert.is(got, rep.written);
      assert.is(last, rep.last);
      assert.is(sum, rep.sum);
      assert.is(rep.written + rep.dropped, frames);
      assert.equal(ring.counters(), { frames: rep.written, dropped: rep.dropped, tooBig: 0 });
      console.log(`  ${capacity >> 10} KiB: ${rep.written} frames carried, ${rep.dropped} dropped by a full ring`);
    });
  }

  test.run();
}
