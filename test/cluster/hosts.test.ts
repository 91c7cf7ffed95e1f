// A cluster across hosts (issue 16): four `shoal up --only …` processes of
// one config (build/cli.js, so `node build/build.mjs` first), each in a
// network namespace standing for a host, its stacks on a TAP device bridged
// there with the host's "eth0"; the four eth0s meet on a bridge in a LAN
// namespace, and a fifth host, the client, has curl and ab there. The
// routing stack r1 runs with target t1 on host 1, its backup r2 with t2 on
// host 2, t3 and t4 alone on hosts 3 and 4 (host 4's TAP named by --device).
// curl gets answers from the targets of every process; then t1 is drained
// (a crash takes its own connections with it, which no takeover can save:
// what must survive is everything the routing stack only routes), ab runs,
// and host 1's process is killed (SIGKILL) halfway: zero failed requests,
// r2 owns the VIPA. Host 1's process starts again while curl loops: r1 takes
// the VIPA back, no request fails, and the client's neighbour entry for the
// VIPA holds r1's MAC from before the kill (derived, not random). Everything
// made here is removed, also on failure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { controlRequest, defaultControlPath } from '../../host/cluster/control.ts';
import type { ClusterSummary } from '../../host/cluster/table.ts';
import { maybe, lacks, firstReason } from '../helpers/needs.ts';
import { Netns, ip, netnsUnavailable, tapUnavailable } from '../interop/netns.ts';
import { until, sleep } from './harness.ts';
import { curlLoop, describeCurl } from './tap-loop.ts';

const VIPA = '10.0.0.100';
const CLI = join(process.cwd(), 'build/cli.js');

/** The hosts: the stacks each runs, and the TAP device (the config's shoal0 unless --device gives another). */
const HOSTS = [
  { only: ['r1', 't1'], device: 'shoal0' },
  { only: ['r2', 't2'], device: 'shoal0' },
  { only: ['t3'], device: 'shoal0' },
  { only: ['t4'], device: 'shoal1' },
];
const TARGETS = ['t1', 't2', 't3', 't4'];

const CONFIG = {
  network: { type: 'tap', device: 'shoal0' },
  stacks: [
    { name: 'r1', address: '10.0.0.1/24' }, { name: 'r2', address: '10.0.0.2/24' },
    ...TARGETS.map((name, i) => ({ name, address: `10.0.0.${11 + i}/24` })),
  ],
  vipas: [{ address: VIPA, ports: [80], routing: 'r1', backups: ['r2'], targets: TARGETS }],
  key: 'one key for the processes of the cluster',
  heartbeat: { holdDown: 300 },
  apps: [{ stacks: TARGETS, listen: `${VIPA}:80`, serve: 'http-hello' }],
};

interface Host { ns: Netns; only: string[]; device: string; proc: ChildProcess | null; out: string; control: string }

/** A namespace with IPv6 off (nothing unasked on the wire). */
function netns(prefix: string): Netns {
  const ns = new Netns(prefix);
  ns.sysctl('net.ipv6.conf.all.disable_ipv6', 1);
  ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
  return ns;
}

/** A cable from the LAN's bridge (port `port`) to `eth0` in ns. */
function cable(lan: Netns, port: string, ns: Netns): void {
  ip('-n', lan.name, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
  ip('-n', lan.name, 'link', 'set', port, 'master', 'br0', 'up');
  ns.up('eth0');
}

/** The operator's part on a host, as README's recipe: a persistent TAP for shoal up and eth0 on one bridge. */
function hostNetwork(ns: Netns, device: string): void {
  ip('-n', ns.name, 'tuntap', 'add', 'dev', device, 'mode', 'tap');
  ip('-n', ns.name, 'link', 'add', 'br0', 'type', 'bridge');
  for (const dev of [device, 'eth0']) ip('-n', ns.name, 'link', 'set', dev, 'master', 'br0');
  for (const dev of [device, 'br0']) ns.up(dev);
}

async function status(h: Host): Promise<ClusterSummary & { table: string }> {
  return await controlRequest(h.control, { op: 'status' }) as unknown as ClusterSummary & { table: string };
}

/** Starts `shoal up` on a host. */
function start(file: string, h: Host): void {
  const args = ['up', file, '--only', h.only.join(','), '--no-table', ...(h.device === CONFIG.network.device ? [] : ['--device', h.device])];
  h.out = '';
  h.proc = h.ns.spawn([process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  h.proc.stdout!.setEncoding('utf8').on('data', (d: string) => { h.out += d; });
  h.proc.stderr!.setEncoding('utf8').on('data', (d: string) => { h.out += d; });
}

const started = (h: Host) => until(`${h.only} up: ${h.out}`, () => h.out.includes(`control socket ${h.control}`), 15_000);

/** The MAC the client's kernel holds for an address. */
const neighbour = (ns: Netns, addr: string) => /lladdr (\S+)/.exec(ns.execSync(['ip', 'neigh', 'show', addr]))?.[1] ?? 'none';

/** Runs `shoal …` in ns; resolves with its exit code and output. */
async function shoalIn(ns: Netns, ...args: string[]) {
  return ns.exec([process.execPath, CLI, ...args], { check: false, timeoutMs: 30_000 });
}

/** ab's summary: requests completed and failed, non-2xx answers. */
function abSummary(out: string): { complete: number; failed: number; non2xx: number } {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return { complete: num(/Complete requests:\s+(\d+)/), failed: num(/Failed requests:\s+(\d+)/), non2xx: /Non-2xx responses:\s+(\d+)/.test(out) ? num(/Non-2xx responses:\s+(\d+)/) : 0 };
}

const why = firstReason(netnsUnavailable(), await tapUnavailable(), lacks('curl', 'ab'));

maybe(test, why, 'four shoal up --only processes on four hosts bridged onto one LAN: curl gets answers from targets in every process; the routing stack\'s process killed under ab: zero failed requests', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-hosts-'));
  const file = join(dir, `${basename(dir)}.json`);
  writeFileSync(file, JSON.stringify(CONFIG));
  const made: Netns[] = [];
  const hosts: Host[] = [];
  try {
    const lan = netns('shoallan');
    made.push(lan);
    ip('-n', lan.name, 'link', 'add', 'br0', 'type', 'bridge');
    lan.up('br0');
    for (const [i, h] of HOSTS.entries()) {
      const ns = netns(`shoalh${i + 1}`);
      made.push(ns);
      cable(lan, `h${i + 1}`, ns);
      hostNetwork(ns, h.device);
      hosts.push({ ns, only: h.only, device: h.device, proc: null, out: '', control: defaultControlPath(file, h.only) });
    }
    const client = netns('shoalclient');
    made.push(client);
    cable(lan, 'c0', client);
    client.addAddress('eth0', '10.0.0.254/24');

    for (const h of hosts) start(file, h);
    const h1 = hosts[0], h2 = hosts[1];
    for (const h of hosts) await started(h);
    assert.match(hosts[3].out, /1 stack here \(t4\) of 6, 1 VIPA from .* on TAP shoal1/);

    let s = await status(h1);
    for (const t0 = Date.now(); s.vipas[0].dpt.filter((r) => r.ready).length < 4; s = await status(h1)) {
      if (Date.now() - t0 > 15_000) assert.unreachable(`every target ready at r1:\n${s.table}`);
      await sleep(50);
    }
    // Host 3 knows the owner by the announcements only.
    const t3 = await shoalIn(client, 'status', file, '--only', 't3');
    assert.is(t3.code, 0, t3.stderr);
    assert.match(t3.stdout, /routing r1 remote .*\n {2}\(the DPT and CRT are r1's, in another process\)/);
    assert.match(t3.stdout, /\nt3 +10\.0\.0\.13\/24 +up /);
    assert.match(t3.stdout, /\nt4 +10\.0\.0\.14\/24 +remote /);

    const loop = curlLoop(client, { url: `http://${VIPA}/`, count: 40, parallel: 4, expect: /^hello from t\d$/ });
    const res = await loop.done;
    assert.is(res.failures.length, 0, describeCurl(res));
    assert.equal(Object.keys(res.answers).sort(), TARGETS.map((t) => `hello from ${t}`), describeCurl(res));

    const q = await shoalIn(client, 'quiesce', 't1', file, '--only', 'r1,t1');
    assert.is(q.code, 0, q.stderr);
    for (const t0 = Date.now(); !(s = await status(h1)).vipas[0].dpt.some((r) => r.stack === 't1' && r.quiesced && r.active === 0);) {
      if (Date.now() - t0 > 10_000) assert.unreachable(`t1 drained:\n${s.table}`);
      await sleep(50);
    }

    const r1Mac = neighbour(client, VIPA);
    const N = 3000;
    const ab = client.spawn(['ab', '-r', '-n', String(N), '-c', '8', '-s', '20', `http://${VIPA}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let abOut = '';
    ab.stdout!.setEncoding('utf8').on('data', (d: string) => { abOut += d; });
    ab.stderr!.setEncoding('utf8').on('data', (d: string) => { abOut += d; });
    const abDone = new Promise<number | null>((r) => ab.on('close', (c) => r(c)));
    await until(`ab a third through: ${abOut}`, () => /Completed 900 requests/.test(abOut), 30_000);
    const killedAt = performance.now();
    h1.proc!.kill('SIGKILL');
    const code = await abDone;
    const elapsed = (performance.now() - killedAt) / 1000;
    const sum = abSummary(abOut);
    const longest = /100%\s+(\d+) \(longest request\)/.exec(abOut)?.[1];
    console.log(`  ab: ${sum.complete} complete, ${sum.failed} failed, ${sum.non2xx} non-2xx, the longest ${longest} ms; done ${elapsed.toFixed(1)} s after the kill`);
    assert.is(code, 0, abOut);
    assert.equal(sum, { complete: N, failed: 0, non2xx: 0 }, abOut);

    s = await status(h2);
    assert.is(s.vipas[0].owner, 'r2', s.table);
    assert.match(s.table, /takeover +10\.0\.0\.100 +r2 +from r1 \(dead\)/);
    const after = await curlLoop(client, { url: `http://${VIPA}/`, count: 30, parallel: 3, expect: /^hello from t[234]$/ }).done;
    assert.is(after.failures.length, 0, describeCurl(after));
    assert.equal(Object.keys(after.answers).sort(), ['t2', 't3', 't4'].map((t) => `hello from ${t}`), describeCurl(after));
    assert.is.not(neighbour(client, VIPA), r1Mac, 'the gratuitous ARP of r2');

    const back = curlLoop(client, { url: `http://${VIPA}/`, durationMs: 60_000, parallel: 2, expect: /^hello from t\d$/ });
    start(file, h1);
    await started(h1);
    for (const t0 = Date.now(); (s = await status(h1)).vipas[0].owner !== 'r1' || s.vipas[0].dpt.filter((r) => r.ready).length < 4;) {
      if (Date.now() - t0 > 10_000) assert.unreachable(`r1 took the VIPA back:\n${s.table}`);
      await sleep(50);
    }
    await sleep(300);
    back.stop();
    const backRes = await back.done;
    assert.is(backRes.failures.length, 0, describeCurl(backRes));
    assert.is(neighbour(client, VIPA), r1Mac, 'r1 has its MAC of before the kill');

    // They stop cleanly on SIGTERM and take their control sockets with them.
    for (const h of hosts) {
      const exited = new Promise<number | null>((r) => h.proc!.on('exit', (c) => r(c)));
      h.proc!.kill('SIGTERM');
      assert.is(await exited, 0, h.out);
    }
  } finally {
    for (const ns of made.reverse()) ns.destroy();
    for (const h of hosts) rmSync(h.control, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
