// Stacks in worker threads (issue 16, "Many cores on one host"), three figures:
//
// 1. Forwarding: frames/s a routing stack forwards (IP-in-IP, 1024 CRT
//    entries, 118-byte frames) when it runs in a worker thread, fed through
//    its rings from the main thread (the feeder and the sink, on the switch),
//    against the same routing stack, feeder and sink all on one thread.
// 2. New connections/s through the VIPA (bench/conns.ts: HTTP POST 100 B,
//    reply 100 B, a new connection each) with the routing stack and n targets
//    spread over n worker threads, the client stack on the main thread;
//    against Node's `cluster` module with n workers serving `http` on one
//    port over the kernel's loopback, the client in the primary: the same
//    client and server code. Runs interleaved, each Shoal run against the
//    two node runs around it; the median ratio is the figure.
// 3. The same for n = 1, 2, … up to every core: the scaling curve.
//
//   BENCH_CONNS (default 3000) per run, BENCH_ROUNDS (default 3) per n,
//   BENCH_FWD_MS (default 2000) per forwarding run.
import nodeCluster from 'node:cluster';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../host/cluster/cluster.ts';
import type { Link } from '../host/link/link.ts';
import { server, run, median, PAR } from './conns.ts';
import { ether, ipv4, tcpSegment } from '../test/helpers/frames.ts';

const CONNS = Number(process.env.BENCH_CONNS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FWD_MS = Number(process.env.BENCH_FWD_MS ?? 2000);
const CORES = availableParallelism();
const VIPA = '10.0.0.100';
const KEY = 'a benchmark key of some length';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise<void>((r) => setImmediate(r));

/** The app module's path (a worker imports it at run time), found from the package root: this runs from build/bench. */
const HTTP_APP = (() => {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return join(d, 'bench/http-app.mjs');
  }
  throw new Error('workers bench: no package.json above this file');
})();

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); await sleep(10)) if (Date.now() - t0 > ms) throw new Error(`workers bench: not within ${ms} ms: ${what}`);
}

// ---- 1. forwarding ----

const ENTRIES = 1024;
const FEEDER_MAC = '02:00:00:00:00:09';
const SINK_WINDOW = 1024;

/** Frame i of client i mod ENTRIES (11.0.x.y:10000) to VIPA:80, with 64 bytes of payload. */
function fwdFrame(toMac: string, i: number, syn: boolean): Uint8Array {
  const c = i % ENTRIES, src = `11.0.${c >> 8}.${c & 255}`;
  const seg = tcpSegment({ src, dst: VIPA, sport: 10000, dport: 80, seq: 1, ack: 1, flags: syn ? 0x02 : 0x10, payload: new Uint8Array(syn ? 0 : 64) });
  return ether(toMac, FEEDER_MAC, 0x0800, ipv4({ src, dst: VIPA, proto: 6, payload: seg }));
}

/** Frames/s forwarded by r1 (in a worker or not) for FWD_MS, the feeder keeping at most SINK_WINDOW in flight. */
async function forwarding(inWorker: boolean): Promise<{ rate: number; dropped: number }> {
  const c = await Cluster.create({
    stacks: [{ name: 'r1', address: '10.0.0.1/24', worker: inWorker }, { name: 't1', address: '10.0.0.11/24' }],
    vipas: [{ address: VIPA, ports: [80], routing: 'r1', targets: ['t1'], method: 'roundrobin', crtSize: ENTRIES * 2 }],
    // Slow heartbeats: t1 is unplugged for the run, and must not be declared lost during it.
    heartbeat: { interval: 10_000 }, key: KEY,
    apps: [{ stacks: ['t1'], listen: ':80', serve: 'discard' }],
  });
  try {
    await until('t1 ready', () => c.portTable(VIPA).some((r) => r.ready));
    const rMac = c.stack('r1').macs[0], tMac = c.stack('t1').macs[0];
    const feed: Link = c.switch.connect();
    // A SYN and an ACK per client, so its entry is established (a SYN's alone expires); in small batches: the
    // first waits for r1 to resolve t1's MAC, and r1's receive ring is not flooded.
    for (let i = 0; i < ENTRIES; i += 64) {
      for (let k = i; k < i + 64; k++) feed.send(fwdFrame(rMac, k, true));
      await sleep(5);
      for (let k = i; k < i + 64; k++) feed.send(fwdFrame(rMac, k, false));
      await sleep(5);
    }
    await until('the CRT entries', () => c.routingTable(VIPA).filter((e) => e.state === 'established').length >= ENTRIES);
    // t1 off the switch; a sink answering for its MAC counts what r1 forwards to it.
    await c.kill('t1');
    let got = 0;
    const sink: Link = c.switch.connect();
    sink.onFrame = () => { got++; };
    sink.send(ether(FEEDER_MAC, tMac, 0x88b5, new Uint8Array(46)));
    const frames = Array.from({ length: ENTRIES }, (_, i) => fwdFrame(rMac, (i * 617) % ENTRIES, false));
    let sent = 0;
    const pump = async (ms: number) => {
      const t0 = performance.now(), g0 = got;
      while (performance.now() - t0 < ms) {
        // A bounded burst per turn: on one thread each send is forwarded before it returns.
        for (let k = 0; k < SINK_WINDOW && sent - got < SINK_WINDOW; k++) feed.send(frames[sent++ % ENTRIES]);
        feed.flush?.();
        await tick();
      }
      return (got - g0) / ((performance.now() - t0) / 1000);
    };
    await pump(200);
    const rate = await pump(FWD_MS);
    const st = c.stack('r1').stats();
    return { rate, dropped: (st.ringRxDropped ?? 0) + (st.ringTxDropped ?? 0) + (st.rxNoBuffer ?? 0) };
  } finally {
    await c.close();
  }
}

// ---- 2 and 3. new connections/s ----

/** A Cluster: client on the main thread; r1 and t1..tn over n worker threads; the http app on the targets. */
async function shoal(n: number): Promise<{ run: () => Promise<number>; served: () => string; close: () => Promise<void> }> {
  const targets = Array.from({ length: n }, (_, i) => `t${i + 1}`);
  const c = await Cluster.create({
    stacks: [
      { name: 'client', address: '10.0.0.2/24' },
      { name: 'r1', address: '10.0.0.1/24', worker: true },
      ...targets.map((name, i) => ({ name, address: `10.0.0.${11 + i}/24`, worker: true })),
    ],
    vipas: [{ address: VIPA, ports: [80], routing: 'r1', targets, method: 'roundrobin' }],
    apps: [{ stacks: targets, listen: ':80', serve: HTTP_APP }],
    key: KEY,
  }, { workers: n, limits: { tcpMslMs: 500, tcpSockets: 16384 } });
  await until(`${n} targets ready`, () => c.portTable(VIPA).filter((r) => r.ready).length === n);
  const client = c.stack('client');
  return {
    run: () => run(() => client.net.connect({ host: VIPA, port: 80 }) as unknown as net.Socket, CONNS, VIPA),
    served: () => c.portTable(VIPA).map((r) => `${r.stack} ${r.total}`).join(', '),
    close: () => c.close(),
  };
}

/** Node's cluster module: n worker processes serving http on one loopback port, the client here in the primary. */
async function node(n: number): Promise<{ run: () => Promise<number>; close: () => Promise<void> }> {
  const workers = Array.from({ length: n }, () => nodeCluster.fork({ SHOAL_BENCH_HTTP: '1' }));
  const ports = await Promise.all(workers.map((w) => new Promise<number>((resolve) => w.once('message', (m: { port: number }) => resolve(m.port)))));
  const port = ports[0];
  return {
    run: () => run(() => net.connect({ host: '127.0.0.1', port }), CONNS, VIPA),
    close: async () => { await Promise.all(workers.map((w) => new Promise((r) => { w.once('exit', r); w.kill(); }))); },
  };
}

async function main(): Promise<void> {
  const fwd = { single: [] as number[], worker: [] as number[] };
  let drops = 0;
  for (let i = 0; i < 3; i++) {
    fwd.single.push((await forwarding(false)).rate);
    const w = await forwarding(true);
    fwd.worker.push(w.rate);
    drops += w.dropped;
  }
  const [s, w] = [median(fwd.single), median(fwd.worker)];
  console.log(`forwarding (r1 IP-in-IP, ${ENTRIES} CRT entries, 118-byte frames, ${SINK_WINDOW} in flight): r1 in a worker fed from the main thread ` +
    `${(w / 1e3).toFixed(0)} k frames/s; r1, feeder and sink on one thread ${(s / 1e3).toFixed(0)} k frames/s; ratio ${(w / s * 100).toFixed(0)} % ` +
    `(medians of 3, interleaved; worker ${fwd.worker.map((x) => (x / 1e3).toFixed(0)).join('/')}, one thread ${fwd.single.map((x) => (x / 1e3).toFixed(0)).join('/')} k; ${drops} dropped)`);

  const counts = [...new Set([1, 2, CORES])].filter((n) => n <= CORES).sort((a, b) => a - b);
  const curve: string[] = [];
  for (const n of counts) {
    const sh = await shoal(n), nd = await node(n);
    await nd.run();
    await sh.run();
    const runs = { node: [] as number[], shoal: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      runs.node.push(await nd.run());
      runs.shoal.push(await sh.run());
    }
    runs.node.push(await nd.run());
    const ratio = median(runs.shoal.map((x, i) => x / Math.sqrt(runs.node[i] * runs.node[i + 1])));
    const all = (xs: number[]) => xs.map((x) => x.toFixed(0)).join('/');
    curve.push(`${String(n).padStart(3)} worker${n > 1 ? 's' : ' '}: Shoal ${median(runs.shoal).toFixed(0).padStart(6)}/s, Node cluster ${median(runs.node).toFixed(0).padStart(6)}/s, ` +
      `ratio ${ratio.toFixed(2)}× (Shoal ${all(runs.shoal)}, node ${all(runs.node)}; served ${sh.served()})`);
    await sh.close();
    await nd.close();
  }
  console.log(`new connections/s through the VIPA, client stack on the main thread → r1 and n targets over n worker threads, against Node's cluster ` +
    `module with n workers serving http on 127.0.0.1 (HTTP POST 100 B, reply 100 B, ${PAR} in parallel, ${CONNS} per run, median of ${ROUNDS}; ${CORES} cores):`);
  console.log(curve.join('\n'));
}

if (nodeCluster.isWorker && process.env.SHOAL_BENCH_HTTP === '1') {
  const web = server();
  web.listen(0, '127.0.0.1', () => process.send!({ port: (web.address() as net.AddressInfo).port }));
} else await main();
