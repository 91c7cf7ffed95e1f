// Bulk transfer both ways at once with every byte checked (sha256), clean and
// under loss, duplication and reordering (seeded; the seed is printed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { pair, settle } from './helpers.ts';
import { withFaults } from '../../host/link/faults.ts';
import type { Socket } from '../../host/net/net.ts';
import type { Link } from '../../host/link/link.ts';
import type { VirtualClock } from '../../host/clock.ts';
import { Random } from '../../host/random.ts';

const MiB = 1 << 20;

/** A deterministic byte stream: chunks of pseudo-random data. */
function source(seed: number, total: number, chunk = 64 * 1024) {
  const r = new Random(seed);
  let left = total;
  const hash = createHash('sha256');
  return {
    next(): Buffer | null {
      if (left <= 0) return null;
      const n = Math.min(chunk, left);
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) b.writeUInt32LE(r.u32(), i);
      left -= n;
      hash.update(b);
      return b;
    },
    digest: () => hash.digest('hex'),
  };
}

/** Writes the whole stream with backpressure, then ends. */
function pump(s: Socket, src: ReturnType<typeof source>): void {
  const go = () => {
    for (;;) {
      const b = src.next();
      if (!b) { s.end(); return; }
      if (!s.write(b)) { s.once('drain', go); return; }
    }
  };
  go();
}

function sink(s: Socket) {
  const h = createHash('sha256');
  const st = { bytes: 0, done: false, digest: '' };
  s.on('data', (d: Buffer) => { h.update(d); st.bytes += d.length; });
  s.on('end', () => { st.done = true; st.digest = h.digest('hex'); });
  return st;
}

async function transfer(name: string, bytes: number, opts: { mtu?: number; faults?: { loss: number; duplicate: number; reorder: number }; seed: number; cc?: 'cubic' | 'newreno' }) {
  let clockRef: VirtualClock | null = null;
  const wrap = opts.faults ? (l: Link, side: 'a' | 'b') => withFaults(l, { seed: opts.seed + (side === 'a' ? 0 : 7777), clock: clockRef!, tx: { ...opts.faults, reorderDelayMs: 1 } }) : undefined;
  // The clock must exist before the fault links: build it first through a tiny indirection.
  const { VirtualClock: VC } = await import('../../host/clock.ts');
  clockRef = new VC();
  const p = pair({ mtu: opts.mtu, wrap, seed: opts.seed, clock: clockRef, limits: opts.cc ? { tcpCongestion: opts.cc } : undefined });
  const { clock, a, b } = p;
  const srcA = source(opts.seed, bytes), srcB = source(opts.seed + 1, bytes);
  let atB: ReturnType<typeof sink> | null = null;
  b.net.createServer({ allowHalfOpen: true }, (s: Socket) => { atB = sink(s); pump(s, srcB); }).listen(5001);
  const c = a.net.connect({ port: 5001, host: '10.0.0.2', allowHalfOpen: true });
  const atA = sink(c);
  c.on('connect', () => pump(c, srcA));
  let closed = false;
  c.on('close', () => { closed = true; });
  const t0 = Date.now(), v0 = clock.now();
  await settle(clock, () => atA.done && atB !== null && (atB as { done: boolean }).done && closed, 24 * 3600_000, name);
  const ms = Date.now() - t0, vms = clock.now() - v0;
  const sa = a.stats(), sb = b.stats();
  console.log(`${name}: ${bytes / MiB} MiB each way in ${ms} ms real, ${vms.toFixed(0)} ms virtual; ` +
    `retrans a=${sa.tcpRetrans} b=${sb.tcpRetrans} rto a=${sa.tcpRto} b=${sb.tcpRto} fastRecov a=${sa.tcpFastRetrans} ooo b=${sb.tcpOoo} oooDrop b=${sb.tcpOooDrop}`);
  assert.is(atA.bytes, bytes);
  assert.is(atB!.bytes, bytes);
  assert.is(atA.digest, srcB.digest());
  assert.is(atB!.digest, srcA.digest());
  return { a, b, clock };
}

test('8 MiB each way, clean, MTU 1500', async () => {
  await transfer('clean', 8 * MiB, { seed: 11 });
});

// The 256 MiB each way (≈ 13 s here); BULK_MIB overrides for quick runs.
const FAULT_MIB = Number(process.env.BULK_MIB ?? 256);
test(`${FAULT_MIB} MiB each way under 5% loss, 2% duplication, 10% reordering`, async () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 1e9));
  console.log(`seed ${seed}`);
  await transfer('faults', FAULT_MIB * MiB, { seed, faults: { loss: 0.05, duplicate: 0.02, reorder: 0.1 } });
});

test.run();
