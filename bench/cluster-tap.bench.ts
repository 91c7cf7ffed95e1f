// New connections per second through the VIPA from the kernel's side (issue
// 13): `ab -n N -c 50` in a namespace against http://VIPA/, the VIPA routed by
// a Shoal routing stack to three Shoal targets, all on a VirtualSwitch whose
// uplink is a TAP device in that namespace; each target runs Node's http
// server answering 100 bytes. The baseline: the same http server on kernel
// sockets in another namespace, reached from the same client namespace over
// a veth pair, `ab` with the same flags. The two alternate, median of
// BENCH_ROUNDS each after a warm-up; every client segment crosses the routing
// stack, the targets' replies go straight to the TAP.
// Needs root, /dev/net/tun and ab (apache2-utils).
//   BENCH_AB (default 20000): requests per ab run, one connection each;
//   BENCH_ROUNDS (default 3); BENCH_MSL_MS (default: the stack's): the targets' MSL, below.
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { Stack, type StackLimits } from '../host/stack.ts';
import { VirtualSwitch } from '../host/link/switch.ts';
import { TapLink } from '../host/link/tap.ts';
import { kernelPeerUnavailable, Netns } from '../test/interop/netns.ts';
import { listening } from './kernel-peer.ts';
import { LIMITS, presetNote } from './preset.ts';

const AB_N = Number(process.env.BENCH_AB ?? 20_000);
const AB_C = 50;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BUDGET_MS = 120_000;
const BODY = 'x'.repeat(99) + '\n';
const VIPA = '10.85.0.100';
const KEY = new Uint8Array(32).map((_, i) => i * 11 + 3);

const has = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
const why = (await kernelPeerUnavailable()) ?? (has('ab') ? null : 'missing ab (Debian package apache2-utils)');
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
// Past the budget the run is broken, not slow: exiting removes the namespaces (netns.ts's exit hook) and the TAP with them.
setTimeout(() => { console.error(`cluster-tap: over ${BUDGET_MS / 1000} s, stopped`); process.exit(1); }, BUDGET_MS).unref();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface AbRun { rps: number; failed: number }

/** `ab -n AB_N -c 50` from ns (a new connection per request). */
async function ab(ns: Netns, url: string): Promise<AbRun> {
  const r = await ns.exec(['ab', '-q', '-n', String(AB_N), '-c', String(AB_C), '-r', url], { timeoutMs: 60_000 });
  const m = r.stdout.match(/Requests per second:\s+([\d.]+)/);
  if (!m) throw new Error(`ab: no figure: ${r.stdout}${r.stderr}`);
  const bad = (re: RegExp) => Number(r.stdout.match(re)?.[1] ?? 0);
  return { rps: Number(m[1]), failed: bad(/Failed requests:\s+(\d+)/) + bad(/Non-2xx responses:\s+(\d+)/) };
}

// Enough room that nothing is refused for want of it: every request leaves a
// TIME-WAIT at its target (the server closes first) and a CRT entry behind
// until it ends. The kernel steps the client's port by a few at random over
// the range (all of 1024-65535 here) and so comes back to a port within a
// second or so at these rates, while its target still holds it in TIME-WAIT
// (RFC 6191 reuse, the case that once reset clients). BENCH_MSL_MS sets the
// targets' MSL (default: the stack's, 30 s).
const MSL_MS = process.env.BENCH_MSL_MS === undefined ? undefined : Number(process.env.BENCH_MSL_MS);
const TARGET_LIMITS: StackLimits = { ...LIMITS, tcpSockets: 16_384, tcpMslMs: MSL_MS };
const ROUTING_LIMITS: StackLimits = { ...LIMITS, crtEntries: 65_536 };

const client = new Netns('shoalct');
const server = new Netns('shoalcs');
const link = await TapLink.open(`ct${process.pid}`);
const sw = new VirtualSwitch();
const unplug = sw.attach(link);
const stacks: Stack[] = [];
try {
  client.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
  client.sysctl('net.ipv4.ip_local_port_range', '1024 65535');
  // The baseline's veth pair: client 10.84.0.1, server 10.84.0.2.
  const vc = `ctv${process.pid}`, vs = `csv${process.pid}`;
  spawnSync('ip', ['link', 'add', vc, 'type', 'veth', 'peer', 'name', vs]);
  client.moveIn(vc); server.moveIn(vs);
  client.addAddress(vc, '10.84.0.1/24'); server.addAddress(vs, '10.84.0.2/24');
  client.up(vc); server.up(vs);
  const kernelServer = server.spawn([process.execPath, '-e',
    `require('http').createServer((q, s) => s.end(${JSON.stringify(BODY)})).listen(80)`], { stdio: 'ignore' });
  // The cluster's side: client 10.85.0.1 on the TAP; routing stack .2, targets .11-.13.
  client.moveIn(link.name);
  client.addAddress(link.name, '10.85.0.1/24');
  client.up(link.name);
  const r = await Stack.create({ name: 'r', link: sw.connect(), address: '10.85.0.2/24', seed: 1, limits: ROUTING_LIMITS });
  stacks.push(r);
  const targets = await Promise.all([11, 12, 13].map((h, i) =>
    Stack.create({ name: `t${i + 1}`, link: sw.connect(), address: `10.85.0.${h}/24`, seed: 2 + i, limits: TARGET_LIMITS })));
  stacks.push(...targets);
  for (const s of stacks) s.clusterJoin({ key: KEY });
  r.vipaRoute({ vipa: VIPA, ports: [{ lo: 80, hi: 80 }], method: 'roundrobin', backups: [], affinitySeconds: 0,
    idleTimeoutSeconds: 900, crtSize: ROUTING_LIMITS.crtEntries!, targets: targets.map((t) => ({ address: t.localhost, weight: 1 })) });
  for (const t of targets) {
    const srv = http.createServer((_q, s) => s.end(BODY));
    t.net.createServer((c) => srv.emit('connection', c)).listen(80);
  }
  const t0 = performance.now();
  while (r.portTable(VIPA).filter((d) => d.ready).length < targets.length) {
    if (performance.now() - t0 > 5000) throw new Error('the targets never showed ready in the DPT');
    await new Promise((res) => setTimeout(res, 10));
  }
  await listening(server, 80);
  if (kernelServer.exitCode !== null) throw new Error('the kernel-side http server exited');

  const shoalUrl = `http://${VIPA}/`, kernelUrl = 'http://10.84.0.2/';
  // A warm-up each (ARP, JIT), its failures counted with the rest.
  const warm = { shoal: await ab(client, shoalUrl), kernel: await ab(client, kernelUrl) };
  const runs = { shoal: [] as AbRun[], kernel: [] as AbRun[] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const side of i % 2 ? ['kernel', 'shoal'] as const : ['shoal', 'kernel'] as const) {
      runs[side].push(await ab(client, side === 'shoal' ? shoalUrl : kernelUrl));
    }
  }

  const sv = median(runs.shoal.map((x) => x.rps)), kv = median(runs.kernel.map((x) => x.rps));
  const failed = (xs: AbRun[], w: AbRun) => xs.reduce((n, x) => n + x.failed, w.failed);
  console.log(presetNote(r));
  console.log(`new connections/s, ab -n ${AB_N} -c ${AB_C} (one connection per request, 100-byte answers), median of ${ROUNDS}, alternating:`);
  console.log(`kernel → TAP → VIPA (routing stack + 3 targets, Node http): Shoal ${(sv / 1e3).toFixed(1)} k/s; ` +
    `baseline ${(kv / 1e3).toFixed(1)} k/s; ratio ${(sv / kv).toFixed(2)}× (Node http on the kernel over a veth pair)`);
  console.log(`failed requests, warm-ups included: Shoal ${failed(runs.shoal, warm.shoal)}; ` +
    `baseline ${failed(runs.kernel, warm.kernel)} (must be 0)`);
  const st = r.stats();
  console.log(`routing stack: clusterForwarded ${st.clusterForwarded} clusterNoTarget ${st.clusterNoTarget} ` +
    `clusterCrtFull ${st.clusterCrtFull} clusterForwardDrop ${st.clusterForwardDrop} clusterEnded ${st.clusterEnded} tcpRstTx ${st.tcpRstTx}; CRT size after ${r.routingTable(VIPA).length}`);
  console.log(`targets' connections: ${r.portTable(VIPA).map((d) => `${d.target} ${d.total}`).join(', ')}; ` +
    `tcpRetrans ${targets.map((t) => t.stats().tcpRetrans).join('/')}`);
  const tap = link.stats();
  console.log(`TAP: ${tap.framesIn} frames in, ${tap.framesOut} out`);
} finally {
  for (const s of stacks) await s.close();
  unplug();
  link.close();
  client.destroy();
  server.destroy();
}
