// New connections per second end to end through a VIPA: a client stack →
// the routing stack r1 → three targets (IP-in-IP; replies straight back),
// each connection one HTTP request with a 100-byte body and a 100-byte
// reply, against Node `http` over the kernel's loopback in the same run.
// Both sides run the same Node http client and server code; only the
// connections differ (the stacks' net, or node:net over 127.0.0.1).
//   BENCH_CONNS (default 3000) per run; BENCH_ROUNDS (default 5): Shoal runs,
//   interleaved with node runs, each against the two around it (their
//   geometric mean); the median ratio is the figure (bench/tcp.bench.ts).
import net from 'node:net';
import { Cluster } from '../host/cluster/cluster.ts';
import type { Stack } from '../host/stack.ts';
import { server, run as runConns, median, PAR } from './conns.ts';

const CONNS = Number(process.env.BENCH_CONNS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const VIPA = '10.0.0.100';
const run = (connect: () => net.Socket) => runConns(connect, CONNS, VIPA);

// The cluster lives across runs, as the kernel's stack does for node:net. A
// short TIME-WAIT (the targets close first) and room for it: every run leaves
// CONNS connections in TIME-WAIT, and their CRT entries, for 2 × MSL.
const cluster = await Cluster.create({
  stacks: [
    { name: 'client', address: '10.0.0.2/24' },
    { name: 'r1', address: '10.0.0.1/24' },
    ...['t1', 't2', 't3'].map((name, i) => ({ name, address: `10.0.0.${11 + i}/24` })),
  ],
  vipas: [{ address: VIPA, ports: [80], routing: 'r1', targets: ['t1', 't2', 't3'], method: 'roundrobin' }],
}, { limits: { tcpMslMs: 500, tcpSockets: 16384 } });
for (const t of ['t1', 't2', 't3']) {
  const web = server();
  cluster.stack(t).net.createServer((s) => web.emit('connection', s)).listen(80);
}
for (let t0 = Date.now(); cluster.portTable(VIPA).filter((r) => r.ready).length < 3; await new Promise((r) => setTimeout(r, 10))) {
  if (Date.now() - t0 > 10_000) throw new Error('targets not ready within 10 s');
}
const client: Stack = cluster.stack('client');
const shoalRun = () => run(() => client.net.connect({ host: VIPA, port: 80 }) as unknown as net.Socket);

const kernel = server();
await new Promise<void>((r) => kernel.listen(0, '127.0.0.1', () => r()));
const port = (kernel.address() as net.AddressInfo).port;
const nodeRun = () => run(() => net.connect({ host: '127.0.0.1', port }));

for (let i = 0; i < 2; i++) { await nodeRun(); await shoalRun(); }
const runs = { node: [] as number[], shoal: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  runs.node.push(await nodeRun());
  runs.shoal.push(await shoalRun());
}
runs.node.push(await nodeRun());
const ratio = median(runs.shoal.map((x, i) => x / Math.sqrt(runs.node[i] * runs.node[i + 1])));
const served = cluster.portTable(VIPA).map((r) => `${r.stack} ${r.total}`).join(', ');
const all = (xs: number[]) => xs.map((x) => x.toFixed(0)).join('/');
console.log(`new connections/s through the VIPA (client stack → r1 → 3 targets, HTTP POST 100 B, reply 100 B, ${PAR} in parallel, ${CONNS} per run):` +
  ` Shoal ${median(runs.shoal).toFixed(0)}/s; Node http over 127.0.0.1 ${median(runs.node).toFixed(0)}/s;` +
  ` ratio ${ratio.toFixed(2)}× (median of ${ROUNDS} runs, each against the node runs around it; Shoal ${all(runs.shoal)}, node ${all(runs.node)}; served ${served})`);
kernel.close();
await cluster.close();
