// Shoal TCP over a TAP device against the Linux kernel, each figure as a
// ratio to the kernel talking to itself over a veth pair between two
// namespaces (offloads off, MTU 1500), measured in the same run. The TAP is
// at MTU 1500 too, with its offloads (the default: partial checksums and
// TCP segments up to 64 KiB cross it whole, as on a virtio-net NIC; gsoIn /
// gsoOut below say how many did):
//   - throughput stack → kernel and kernel → stack (a socat sink/source in the
//     namespace; the baseline is the same socat pair over the veth, with
//     iperf3 printed for reference);
//   - new connections per second from `ab` in the namespace (no keep-alive:
//     one connection per request) to Node's http server running over the
//     stack, against the same http server on kernel sockets behind the veth.
// Needs root, /dev/net/tun, socat, ab (apache2-utils), ethtool, iperf3 (optional).
//   BENCH_MB (default 500): bytes per throughput run; BENCH_AB (default 20000)
//   requests per ab run, 50 at a time; BENCH_ROUNDS (default 3): median of.
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { Stack } from '../host/stack.ts';
import { LIMITS, presetNote } from './preset.ts';
import { TapLink } from '../host/link/tap.ts';
import type { TapOffload, TapStats } from '../host/link/tap.ts';
import { netnsUnavailable, Netns } from '../test/interop/netns.ts';
import { kernelToStack, listening, socatSink, socatSource, stackToKernel } from './kernel-peer.ts';

const MB = 1_000_000;
const BYTES = Number(process.env.BENCH_MB ?? 500) * MB;
const AB_N = Number(process.env.BENCH_AB ?? 20_000);
const AB_C = 50;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NODE = process.execPath;

const netnsWhy = netnsUnavailable();
const tap = TapLink.available();
const has = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
const missing = ['socat', 'ab', 'ethtool'].filter((c) => !has(c));
const why = netnsWhy ? netnsWhy : !tap.ok ? tap.reason
  : missing.length ? `missing ${missing.join(', ')} (Debian packages socat, apache2-utils, ethtool)` : null;
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbit = (bytes: number, ms: number) => (bytes * 8) / ms / 1e6;

/** Requests/s from `ab -n AB_N -c 50` (a new connection per request). */
async function ab(ns: Netns, url: string): Promise<number> {
  const r = await ns.exec(['ab', '-q', '-n', String(AB_N), '-c', String(AB_C), '-r', url], { timeoutMs: 120_000 });
  const m = r.stdout.match(/Requests per second:\s+([\d.]+)/);
  const failed = Number(r.stdout.match(/Failed requests:\s+(\d+)/)?.[1] ?? 0);
  if (!m) throw new Error(`ab: no figure: ${r.stdout}${r.stderr}`);
  if (failed) console.log(`    (ab: ${failed} failed requests against ${url})`);
  return Number(m[1]);
}

const HTTP_SRC = `require('http').createServer((q, s) => s.end('hello\\n')).listen(80, () => console.log('ready'));`;

// ---- kernel ↔ kernel over veth ----------------------------------------------------

interface Figures { tx: number; rx: number; conns: number; iperf?: number }

async function veth(): Promise<Figures> {
  const a = new Netns('shoalbva'), b = new Netns('shoalbvb');
  try {
    const va = `bva${process.pid}`, vb = `bvb${process.pid}`;
    spawnSync('ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
    a.moveIn(va); b.moveIn(vb);
    a.addAddress(va, '10.82.0.1/24'); b.addAddress(vb, '10.82.0.2/24');
    for (const [ns, dev] of [[a, va], [b, vb]] as const) {
      ns.execSync(['ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off', 'sg', 'off']);
      ns.up(dev);
    }
    const txs: number[] = [], rxs: number[] = [], cs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // a → b and b → a: the same socat pair as against the stack.
      for (const [src, dst, out] of [[a, b, txs], [b, a, rxs]] as const) {
        const sink = socatSink(dst, 5001);
        await listening(dst, 5001);
        const t0 = performance.now();
        await socatSource(src, dst === b ? '10.82.0.2' : '10.82.0.1', 5001, BYTES);
        await sink;
        out.push(gbit(BYTES, performance.now() - t0));
      }
    }
    const srv = b.spawn([NODE, '-e', HTTP_SRC], { stdio: 'ignore' });
    await listening(b, 80);
    await ab(a, 'http://10.82.0.2/'); // warm-up
    for (let r = 0; r < ROUNDS; r++) cs.push(await ab(a, 'http://10.82.0.2/'));
    srv.kill();
    let iperf: number | undefined;
    if (has('iperf3')) {
      const s = b.spawn(['iperf3', '-s', '-1'], { stdio: 'ignore' });
      await listening(b, 5201);
      const r = await a.exec(['iperf3', '-c', '10.82.0.2', '-n', String(BYTES), '-J'], { timeoutMs: 60_000 });
      iperf = JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9;
      s.kill();
    }
    return { tx: median(txs), rx: median(rxs), conns: median(cs), iperf };
  } finally {
    a.destroy(); b.destroy();
  }
}

// ---- Shoal over the TAP ---------------------------------------------------------

async function shoal(): Promise<Figures & { stats: Record<string, number>; tap: TapStats; offload: TapOffload }> {
  const ns = new Netns('shoalbt');
  const link = await TapLink.open(`bt${process.pid}`);
  const stack = await Stack.create({ name: 'bench', link, address: '10.83.0.2/24', seed: 1, limits: LIMITS });
  console.log(presetNote(stack));
  try {
    ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
    ns.moveIn(link.name);
    ns.addAddress(link.name, '10.83.0.1/24');
    ns.up(link.name);
    await stack.ping('10.83.0.1');
    const txs: number[] = [], rxs: number[] = [], cs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      txs.push(gbit(BYTES, await stackToKernel(stack, ns, '10.83.0.1', 5001, BYTES)));
      rxs.push(gbit(BYTES, await kernelToStack(stack, ns, '10.83.0.2', 5002, BYTES)));
    }
    const server = http.createServer((_q, s) => s.end('hello\n'));
    const tcp = stack.net.createServer((s) => server.emit('connection', s)).listen(80);
    await ab(ns, 'http://10.83.0.2/'); // warm-up
    for (let r = 0; r < ROUNDS; r++) cs.push(await ab(ns, 'http://10.83.0.2/'));
    tcp.close();
    return { tx: median(txs), rx: median(rxs), conns: median(cs), stats: stack.stats(), tap: link.stats(), offload: link.offload };
  } finally {
    await stack.close();
    link.close();
    ns.destroy();
  }
}

const k = await veth();
const s = await shoal();
const row = (what: string, sv: number, kv: number, unit: string, digits: number) =>
  console.log(`${what}: Shoal ${sv.toFixed(digits)} ${unit}; kernel ↔ kernel over veth ${kv.toFixed(digits)} ${unit}; ratio ${(sv / kv).toFixed(2)}×`);
const o = s.offload;
const offloads = o.gso ? `checksum and TSO offload (frames up to ${o.gso} B)` : o.csum ? 'checksum offload only' : 'no offloads (the kernel refused)';
console.log(`TCP over a TAP (MTU 1500, ${offloads}) against veth (MTU 1500, offloads off), ${BYTES / MB} MB per run, median of ${ROUNDS}:`);
row('throughput stack → kernel (socat sink)', s.tx, k.tx, 'Gbit/s', 2);
row('throughput kernel → stack (socat source)', s.rx, k.rx, 'Gbit/s', 2);
row(`new connections/s (ab -n ${AB_N} -c ${AB_C}, Node http)`, s.conns / 1e3, k.conns / 1e3, 'k/s', 1);
if (k.iperf !== undefined) console.log(`for reference, iperf3 kernel → kernel over the same veth: ${k.iperf.toFixed(2)} Gbit/s`);
console.log(`stack afterwards: tcpRetrans ${s.stats.tcpRetrans} rxNoBuffer ${s.stats.rxNoBuffer} tcpTimeWait ${s.stats.tcpTimeWait}`);
const t = s.tap;
console.log(`TAP: ${t.framesIn} frames in (gsoIn ${t.gsoIn} GSO frames), ${t.framesOut} out (gsoOut ${t.gsoOut}), ` +
  `csumPartialIn ${t.csumPartialIn}, csumCompleted ${t.csumCompleted} in software`);
