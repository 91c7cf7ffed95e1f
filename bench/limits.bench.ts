// The default limits against Stack.BULK: bulk TCP between two stacks on a
// VirtualSwitch (MTU 1500 and 65535 with offloads, 1500 plain, and one stack
// to itself), each preset's pair made once and run in turn, the order
// alternating by round. Each round's default run is divided by its BULK run
// beside it; the figure is the median of those ratios, with each preset's
// linear memory per stack.
//   BENCH_MIB (default 128): bytes per run; BENCH_ROUNDS (default 5).
import { Stack, type StackLimits } from '../host/stack.ts';
import { VirtualSwitch } from '../host/link/switch.ts';

const MiB = 1 << 20;
const BYTES = Number(process.env.BENCH_MIB ?? 128) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
type Pair = { a: Stack; b: Stack; host: string };

/** Mbit/s of one transfer from a to b (the same stack for its loopback). */
function bulk({ a, b, host }: Pair): Promise<number> {
  return new Promise((resolve, reject) => {
    let t0 = 0;
    const srv = b.net.createServer((s) => {
      let got = 0;
      s.on('data', (d: Buffer) => { got += d.length; });
      s.on('end', () => {
        if (got !== BYTES) reject(new Error(`got ${got} of ${BYTES}`));
        resolve((BYTES * 8) / ((performance.now() - t0) / 1000) / 1e6);
        s.end();
        srv.close();
      });
    });
    srv.listen(5001, () => {
      const c = a.net.connect({ port: 5001, host });
      const buf = Buffer.alloc(256 * 1024, 0x5a);
      c.on('error', reject);
      c.on('connect', () => {
        t0 = performance.now();
        let left = BYTES;
        const go = () => {
          while (left > 0) { left -= buf.length; if (!c.write(buf)) { c.once('drain', go); return; } }
          c.end();
        };
        go();
      });
    });
  });
}

async function pairOf(mtu: number, offload: boolean, limits: StackLimits | undefined): Promise<Pair> {
  if (!mtu) {
    const s = await Stack.create({ name: 'l', link: new VirtualSwitch().connect(), address: '10.0.0.1/24', limits });
    return { a: s, b: s, host: '10.0.0.1' };
  }
  const sw = new VirtualSwitch({ mtu });
  const a = await Stack.create({ name: 'a', link: sw.connect(), address: '10.0.0.1/24', limits, offload });
  const b = await Stack.create({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', limits, offload });
  return { a, b, host: '10.0.0.2' };
}

const CASES = [['MTU 1500', 1500, true], ['MTU 65535', 65535, true], ['MTU 1500 plain', 1500, false], ['its loopback', 0, true]] as const;
const PRESETS = [['default', undefined], ['Stack.BULK', Stack.BULK]] as const;
const pairs = new Map<string, Pair>();
for (const [c, mtu, off] of CASES) for (const [p, limits] of PRESETS) pairs.set(`${c} ${p}`, await pairOf(mtu, off, limits));
const runs = new Map<string, number[]>();
// Round -1 warms both up.
for (let r = -1; r < ROUNDS; r++) {
  for (const [c] of CASES) {
    for (const [p] of r % 2 ? PRESETS : [...PRESETS].reverse()) {
      const x = await bulk(pairs.get(`${c} ${p}`)!);
      if (r >= 0) runs.set(`${c} ${p}`, [...(runs.get(`${c} ${p}`) ?? []), x]);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
const mib = (s: Stack) => (s.stats().memoryBytes / MiB).toFixed(2);
for (const [c] of CASES) {
  const d = runs.get(`${c} default`)!, b = runs.get(`${c} Stack.BULK`)!;
  const ratios = d.map((x, i) => x / b[i]!);
  console.log(`bulk ${BYTES / MiB} MiB, ${c}: default ${median(d).toFixed(0)} Mbit/s (${mib(pairs.get(`${c} default`)!.a)} MiB per stack), ` +
    `Stack.BULK ${median(b).toFixed(0)} Mbit/s (${mib(pairs.get(`${c} Stack.BULK`)!.a)} MiB); default / BULK, median of ${ROUNDS} paired runs: ` +
    `${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join('/')})`);
}
for (const p of pairs.values()) { await p.a.close(); if (p.b !== p.a) await p.b.close(); }
