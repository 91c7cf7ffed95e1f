// TCP between two stacks on a VirtualSwitch, against node:net over 127.0.0.1
// in the same process and run: bulk throughput one way (MTU 1500 and 65535,
// and one stack to itself through its loopback),
// connections per second (open, 100-byte request and reply, close), and the
// memory one idle connection holds.
//   BENCH_MIB (default 256): bytes per bulk run; BENCH_CONNS (default 5000);
//   BENCH_ROUNDS (default 5): bulk runs per figure, interleaved with node:net runs,
//   each against the two around it; the median ratio is the figure.
//   BENCH_PRESET=bulk: the stacks get Stack.BULK, not the default limits (bench/preset.ts).
import net from 'node:net';
import { Stack } from '../host/stack.ts';
import { VirtualSwitch } from '../host/link/switch.ts';
import type { Socket as ShoalSocket } from '../host/net/net.ts';
import { LIMITS, presetNote } from './preset.ts';

const MiB = 1 << 20;
const BULK = Number(process.env.BENCH_MIB ?? 256) * MiB;
const CONNS = Number(process.env.BENCH_CONNS ?? 5000);
const CHUNK = 256 * 1024;
const PAR = 50;

type AnySocket = net.Socket | ShoalSocket;

/** Writes `total` bytes in CHUNK writes with backpressure, then ends. */
function pump(s: AnySocket, total: number): void {
  const buf = Buffer.alloc(CHUNK, 0x5a);
  let left = total;
  const go = () => {
    while (left > 0) {
      const n = Math.min(CHUNK, left);
      left -= n;
      if (!s.write(n === CHUNK ? buf : buf.subarray(0, n))) { s.once('drain', go); return; }
    }
    s.end();
  };
  go();
}

/** Mbit/s of one bulk transfer: listen, connect, pump, count until the end. */
function bulk(listen: (onConn: (s: AnySocket) => void) => Promise<number>, connect: (port: number) => AnySocket): Promise<number> {
  return new Promise((resolve, reject) => {
    let t0 = 0;
    listen((s) => {
      let got = 0;
      s.on('data', (d: Buffer) => { got += d.length; });
      s.on('end', () => {
        const sec = (performance.now() - t0) / 1000;
        if (got !== BULK) reject(new Error(`bulk: got ${got} of ${BULK}`));
        resolve((BULK * 8) / sec / 1e6);
        s.end();
      });
      s.on('error', reject);
    }).then((port) => {
      const c = connect(port);
      c.on('error', reject);
      c.on('connect', () => { t0 = performance.now(); pump(c, BULK); });
    });
  });
}

async function pairOf(mtu: number, limits = LIMITS, offload = true): Promise<{ a: Stack; b: Stack }> {
  const sw = new VirtualSwitch({ mtu });
  const a = await Stack.create({ name: 'a', link: sw.connect(), address: '10.0.0.1/24', limits, offload });
  const b = await Stack.create({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', limits, offload });
  return { a, b };
}

/** Frames the sender sent per MiB: how whole its segments crossed the switch. */
let framesPerMiB = 0;

// The stacks live across runs, as the kernel's does for node:net: one pair
// per case, made on first use. (Made anew for every run, 32 MiB each, they
// left hundreds of MiB of old instances to collect, and in half the processes
// the second round ran at half speed.)
const pairs = new Map<string, Promise<{ a: Stack; b: Stack }>>();

async function shoalBulk(mtu: number, offload = true): Promise<number> {
  const key = `${mtu} ${offload}`;
  if (!pairs.has(key)) pairs.set(key, pairOf(mtu, undefined, offload));
  const { a, b } = await pairs.get(key)!;
  const tx0 = a.stats().txFrames;
  const srv = b.net.createServer();
  const r = await bulk(
    (on) => new Promise((res) => { srv.on('connection', on); srv.listen(5001, () => res(5001)); }),
    (port) => a.net.connect({ port, host: '10.0.0.2' }));
  framesPerMiB = (a.stats().txFrames - tx0) / (BULK / MiB);
  srv.close();
  return r;
}

/** One stack to itself: server and client on the same stack, through its loopback. */
let loopStack: Promise<Stack> | undefined;
async function loopBulk(): Promise<number> {
  const a = await (loopStack ??= Stack.create({ name: 'a', link: new VirtualSwitch().connect(), address: '10.0.0.1/24', limits: LIMITS }));
  const srv = a.net.createServer();
  const r = await bulk(
    (on) => new Promise((res) => { srv.on('connection', on); srv.listen(5001, () => res(5001)); }),
    (port) => a.net.connect({ port, host: '10.0.0.1' }));
  srv.close();
  return r;
}

async function nodeBulk(): Promise<number> {
  const srv = net.createServer();
  const r = await bulk(
    (on) => new Promise((res) => { srv.on('connection', on); srv.listen(0, '127.0.0.1', () => res((srv.address() as net.AddressInfo).port)); }),
    (port) => net.connect({ port, host: '127.0.0.1' }));
  srv.close();
  return r;
}

/** Connections/s: PAR at a time, each a 100-byte request, a 100-byte reply, and a close. */
function conns(listen: (onConn: (s: AnySocket) => void) => Promise<number>, connect: (port: number) => AnySocket): Promise<number> {
  const req = Buffer.alloc(100, 0x71), rep = Buffer.alloc(100, 0x72);
  return new Promise((resolve, reject) => {
    listen((s) => {
      let got = 0;
      s.on('data', (d: Buffer) => { got += d.length; if (got >= 100) s.end(rep); });
      s.on('error', () => {});
    }).then((port) => {
      let started = 0, done = 0;
      const t0 = performance.now();
      const one = () => {
        started++;
        const c = connect(port);
        let got = 0;
        c.on('connect', () => c.write(req));
        c.on('data', (d: Buffer) => { got += d.length; });
        c.on('end', () => c.end());
        c.on('error', reject);
        c.on('close', () => {
          if (got !== 100) return reject(new Error(`conns: reply of ${got} bytes`));
          if (++done === CONNS) resolve(CONNS / ((performance.now() - t0) / 1000));
          else if (started < CONNS) one();
        });
      };
      for (let i = 0; i < PAR; i++) one();
    });
  });
}

async function shoalConns(): Promise<number> {
  const { a, b } = await pairOf(1500, { ...LIMITS, tcpMslMs: 1000 });
  const srv = b.net.createServer();
  const r = await conns(
    (on) => new Promise((res) => { srv.on('connection', on); srv.listen(80, () => res(80)); }),
    (port) => a.net.connect({ port, host: '10.0.0.2' }));
  srv.close();
  await a.close(); await b.close();
  return r;
}

async function nodeConns(): Promise<number> {
  const srv = net.createServer();
  const r = await conns(
    (on) => new Promise((res) => { srv.on('connection', on); srv.listen(0, '127.0.0.1', () => res((srv.address() as net.AddressInfo).port)); }),
    (port) => net.connect({ port, host: '127.0.0.1' }));
  srv.close();
  return r;
}

/** Bytes per idle connection: the TCB table and send-chunk bookkeeping per slot,
 * against the stack's whole linear memory shared out over its connection slots. */
async function idleMemory(): Promise<{ perConn: number; perSlot: number; held: number }> {
  const N = 1000;
  const { a, b } = await pairOf(1500, { ...LIMITS, tcpSockets: 4096 });
  let errors = 0;
  const srv = b.net.createServer((s) => { s.on('error', () => { errors++; }); });
  await new Promise<void>((r) => srv.listen(80, () => r()));
  const socks: ShoalSocket[] = [];
  const before = { a: a.stats(), b: b.stats() };
  await new Promise<void>((resolve) => {
    let up = 0;
    for (let i = 0; i < N; i++) {
      const c = a.net.connect({ port: 80, host: '10.0.0.2' });
      c.on('connect', () => { if (++up === N) resolve(); });
      c.on('error', (e) => { errors++; console.log('idle: client error', e.message); });
      socks.push(c);
    }
  });
  await new Promise((r) => setTimeout(r, 100));
  const after = { a: a.stats(), b: b.stats() };
  // Held per idle connection beyond its slot (TCB and table words): send
  // chunks and packet buffers (both 0 when idle).
  const held = ((after.a.tcpChunksUsed - before.a.tcpChunksUsed) * 16384 + (before.a.buffersFree - after.a.buffersFree) * 1664) / N;
  const perSlot = a.stats().memoryBytes / 4096;
  if (errors) console.log(`idle: ${errors} socket errors`);
  for (const s of socks) s.destroy();
  srv.close();
  await a.close(); await b.close();
  return { perConn: await slotBytes() + held, perSlot, held };
}

/** Linear memory one connection slot takes (its TCB and table words): two
 * stacks that differ by 8192 slots, so the 64 KiB page rounding is under 8 B. */
async function slotBytes(): Promise<number> {
  const bytes = [];
  for (const tcpSockets of [4096, 4096 + 8192]) {
    const s = await Stack.create({ name: 'slots', limits: { ...LIMITS, tcpSockets } });
    bytes.push(s.stats().memoryBytes);
    await s.close();
  }
  return (bytes[1] - bytes[0]) / 8192;
}

const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
const mbit = (x: number) => `${x.toFixed(0)} Mbit/s`;

// The machine is shared (its speed swings within seconds) and node:net speeds
// up as its stream paths warm, so the runs interleave: each round is a node:net
// run and then every Shoal case, and one more node:net run closes the last
// round. A Shoal run's ratio is against the node:net runs just before and
// after it (their geometric mean), and each figure is the median of those.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const paired = (xs: number[]) => median(xs.map((x, i) => x / Math.sqrt(runs.node[i] * runs.node[i + 1])));
// Both warm up first, twice: node:net its stream paths, Shoal its JIT and wasm
// tiers (after one warm-up, its next run was still the slowest of twelve).
for (let i = 0; i < 2; i++) { await nodeBulk(); await shoalBulk(i ? 65535 : 1500); }
// The switch takes offloads (partial checksums, 64 KiB segments), as the
// kernel's loopback does; "plain" turns them off to show what they are worth.
const CASES = [['1500', 1500, true], ['65535', 65535, true], ['1500 plain', 1500, false]] as const;
const runs: Record<string, number[]> = { node: [] };
const frames: Record<string, number> = {};
for (let r = 0; r < ROUNDS; r++) {
  runs.node.push(await nodeBulk());
  for (const [name, mtu, off] of CASES) {
    (runs[name] ??= []).push(await shoalBulk(mtu, off));
    frames[name] = framesPerMiB;
  }
  (runs.loopback ??= []).push(await loopBulk());
}
runs.node.push(await nodeBulk());
console.log(presetNote((await pairs.get('1500 true')!).a));
for (const p of pairs.values()) { const { a, b } = await p; await a.close(); await b.close(); }
if (loopStack) await (await loopStack).close();
const nodeB = median(runs.node);
const all = (xs: number[]) => xs.map((x) => x.toFixed(0)).join('/');
for (const [name] of CASES) {
  console.log(`bulk ${BULK / MiB} MiB one way, MTU ${name}: Shoal ${mbit(median(runs[name]))}; node:net over 127.0.0.1 ${mbit(nodeB)};` +
    ` ratio ${paired(runs[name]).toFixed(2)}× (median of ${ROUNDS} runs, each against the node:net runs around it; Shoal ${all(runs[name])},` +
    ` node ${all(runs.node)}; ${frames[name].toFixed(0)} frames per MiB)`);
}
console.log(`bulk ${BULK / MiB} MiB one way, one stack to itself (its loopback): Shoal ${mbit(median(runs.loopback))};` +
  ` node:net over 127.0.0.1 ${mbit(nodeB)}; ratio ${paired(runs.loopback).toFixed(2)}× (Shoal ${all(runs.loopback)})`);
const sc = await shoalConns();
const nc = await nodeConns();
console.log(`connections/s (open, 100 B request + reply, close; ${PAR} in parallel, ${CONNS} total): Shoal ${sc.toFixed(0)}/s; node:net ${nc.toFixed(0)}/s; ratio ${ratio(sc, nc)}`);
const m = await idleMemory();
console.log(`memory per idle connection: ${m.perConn.toFixed(0)} B (TCB + table words; ${m.held.toFixed(0)} B of buffers held); ` +
  `the stack's whole memory over its 4096 slots: ${m.perSlot.toFixed(0)} B; ratio ${ratio(m.perConn, m.perSlot)}`);
