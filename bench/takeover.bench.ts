// Takeover time (issue 14): under load, from the kill of the routing stack
// to the first IP-in-IP frame its backup forwards for a connection that was
// established before the kill (test/cluster/forward-watch.ts), over
// BENCH_RUNS runs (default 20): median and max, and the connections lost.
// The target: median at most 100 ms with the default settings, none
// lost. Each run is a fresh cluster (r1 routing, r2 its backup, t1-t3)
// carrying BENCH_CONNS downloads (default 20) of BENCH_MB each (default 8)
// from test/cluster/load.ts, the event at half of the bytes.
// The baseline, in the same runs: from a mark with no kill to r1's next
// forwarded segment, the watch's own resolution, the floor under any
// takeover time. keepalived's default failover, for scale, is about 3 s.
import { Cluster } from '../host/cluster/cluster.ts';
import { Stack } from '../host/stack.ts';
import { LOAD_APP, startLoad, describe } from '../test/cluster/load.ts';
import { forwardDelay } from '../test/cluster/forward-watch.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const CONNS = Number(process.env.BENCH_CONNS ?? 20);
const MB = Number(process.env.BENCH_MB ?? 8);
const TARGET_MS = 100;
const VIPA = '10.0.0.100';
const TARGETS = ['t1', 't2', 't3'];

const config = {
  stacks: [
    { name: 'r1', address: '10.0.0.1/24' },
    { name: 'r2', address: '10.0.0.2/24' },
    ...TARGETS.map((name, i) => ({ name, address: `10.0.0.${11 + i}/24` })),
  ],
  vipas: [{ address: VIPA, ports: [80], routing: 'r1', backups: ['r2'], targets: TARGETS, method: 'roundrobin' }],
  apps: [{ stacks: TARGETS, listen: ':80', serve: LOAD_APP }],
};

/** One run: the delays in ms (a mark first, then the kill), and the connections that failed. */
async function run(seed: number): Promise<{ floor: number; ms: number; lost: number }> {
  const c = await Cluster.create(config, { seed, limits: Stack.BULK });
  try {
    for (const t0 = Date.now(); c.portTable(VIPA).filter((r) => r.ready).length < TARGETS.length; await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() - t0 > 10_000) throw new Error('targets not ready within 10 s');
    }
    const load = startLoad(c, { vipa: VIPA, port: 80, connections: CONNS, bytes: MB << 20, direction: 'download', seed });
    await load.reached(0.4);
    const floor = await forwardDelay(c, { by: 'r1', event: () => {}, established: load.established() });
    await load.reached(0.5);
    const ms = await forwardDelay(c, { by: 'r2', event: () => c.kill('r1'), established: load.established() });
    const res = await load.done;
    if (!res.ok) console.log(describe(res));
    return { floor, ms, lost: res.failed.length };
  } finally {
    await c.close();
  }
}

const seed0 = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const runs: { floor: number; ms: number; lost: number }[] = [];
for (let i = 0; i < RUNS; i++) runs.push(await run(seed0 + i));
const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
const medianOf = (xs: number[]) => (xs.length % 2 ? xs[xs.length >> 1] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2);
const ms = sorted(runs.map((r) => r.ms)), floor = sorted(runs.map((r) => r.floor));
const median = medianOf(ms);
const lost = runs.reduce((k, r) => k + r.lost, 0);
console.log(`takeover, kill of the routing stack → its backup's first forwarded segment of an established connection: Shoal ${median.toFixed(1)} ms median,` +
  ` max ${ms[ms.length - 1].toFixed(1)} ms over ${RUNS} runs; connections lost ${lost} of ${RUNS * CONNS};` +
  ` ratio ${(median / TARGET_MS).toFixed(2)}× the ${TARGET_MS} ms target; baseline (a mark, no kill, to the next forwarded segment)` +
  ` ${medianOf(floor).toFixed(2)} ms median (${CONNS} downloads of ${MB} MiB a run, the kill at half;` +
  ` seeds ${seed0}…${seed0 + RUNS - 1}, SHOAL_SEED replays them)`);
