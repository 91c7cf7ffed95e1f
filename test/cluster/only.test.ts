// A cluster across processes, in one process and without root: clusters of
// one config, each running some of its stacks (Cluster.create's `only`),
// their switches joined by one more switch standing for the LAN. Each
// answers for what it runs and names a remote owner as such; a target in any
// of them serves the VIPA; the part holding the routing stack crashes and
// the backup in another part takes the VIPA over with every connection; the
// part comes back with the same MACs and takes the VIPA back. Then `only`'s
// refusals, and `shoal up --only` / `--device` on the command line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Cluster, type TakeoverEvent } from '../../host/cluster/cluster.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import type { Link } from '../../host/link/link.ts';
import { renderTable, summarize } from '../../host/cluster/table.ts';
import { metricsText } from '../../host/cluster/metrics.ts';
import { defaultControlPath } from '../../host/cluster/control.ts';
import { VIPA, TARGETS, smallConfig, ready, until, whoami, echo, hangUp, tally } from './harness.ts';

const SEED = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${SEED} (SHOAL_SEED=${SEED} replays it)`);

type Json = Record<string, any>;
/** smallConfig (client, r1, t1-t3 with whoami) with a backup r2, a shared key and a short hold-down. */
function config(): Json {
  const c = smallConfig('roundrobin');
  c.stacks.push({ name: 'r2', address: '10.0.0.3/24' });
  c.vipas[0].backups = ['r2'];
  c.key = 'the key every process of the cluster shares';
  c.heartbeat = { holdDown: 300 };
  return c;
}

/** A part of the cluster, as a process runs it, and its cable to the LAN. */
interface Part { c: Cluster; cable: Link }

async function part(lan: VirtualSwitch, cfg: Json, only: string[]): Promise<Part> {
  const c = await Cluster.create(cfg, { only, seed: SEED });
  const cable = lan.connect();
  c.switch.attach(cable);
  return { c, cable };
}

/** The part's process dies: its cable goes first, so it says no goodbye. */
async function crash(p: Part): Promise<void> {
  p.cable.close();
  await p.c.close();
}

async function withParts(fn: (lan: VirtualSwitch, a: Part, b: Part, client: Part) => Promise<void>): Promise<void> {
  const lan = new VirtualSwitch();
  const parts: Part[] = [];
  try {
    for (const only of [['r1', 't1'], ['r2', 't2', 't3'], ['client']]) parts.push(await part(lan, config(), only));
    await fn(lan, parts[0], parts[1], parts[2]);
  } finally {
    for (const p of parts) await p.c.close();
  }
}

const code = async (f: () => unknown): Promise<string | undefined> => {
  try { await f(); } catch (e) { return (e as { code?: string }).code; }
  return 'no error';
};

test('three parts of one config over a LAN: every target answers through the VIPA; each part shows what it runs and names the remote owner', async () => {
  await withParts(async (_lan, a, b, client) => {
    await ready(a.c, TARGETS);
    await until('b and the client hear r1 routing', () => b.c.owner(VIPA) === 'r1' && client.c.owner(VIPA) === 'r1');
    const served: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { name, sock } = await whoami(client.c.stack('client'));
      served.push(name);
      await hangUp(sock);
    }
    assert.equal(tally(served), { t1: 2, t2: 2, t3: 2 });

    assert.ok(a.c.isLocal('r1') && !a.c.isLocal('r2') && b.c.isLocal('t3'));
    assert.equal(b.c.portTable(VIPA), []);
    assert.equal(b.c.routingTable(VIPA), []);
    for (const f of [() => b.c.stack('r1'), () => b.c.kill('t1'), () => b.c.start('r1'), () => b.c.quiesce('t1')]) assert.is(await code(f), 'ESTACKREMOTE');
    assert.throws(() => b.c.stack('t9'), /no stack "t9"/);

    const table = renderTable(b.c).join('\n');
    assert.match(table, /^VIPA 10\.0\.0\.100  ports 80  routing r1 remote  method roundrobin  CRT -\/65536\n  \(the DPT and CRT are r1's, in another process\)/);
    assert.match(table, /\nr1 +10\.0\.0\.1\/24 +remote +- /);
    assert.match(table, /\nt2 +10\.0\.0\.12\/24 +up +\d+/);
    const s = summarize(b.c);
    assert.equal([s.vipas[0].owner, s.vipas[0].routingUp, s.vipas[0].crt, s.vipas[0].dpt], ['r1', null, null, []]);
    assert.equal(s.stacks.map((x) => [x.name, x.up]), [['client', null], ['r1', null], ['t1', null], ['t2', true], ['t3', true], ['r2', true]]);
    const m = metricsText(b.c);
    assert.not.match(m, /stack="(r1|t1|client)"/);
    assert.not.match(m, /shoal_dpt_ready|shoal_crt_entries/);
    assert.match(m, /shoal_stack_up\{stack="t2"\} 1/);
    assert.match(m, /shoal_vipa_owner\{vipa="10\.0\.0\.100",stack="r2"\} 0/);
    const ma = metricsText(a.c);
    assert.match(ma, /shoal_dpt_ready\{vipa="10\.0\.0\.100",port="80",target="t3"\} 1/);
    assert.match(ma, /shoal_vipa_owner\{vipa="10\.0\.0\.100",stack="r1"\} 1/);
    assert.not.match(ma, /stack="r2"/);
    assert.match(renderTable(a.c).join('\n'), /^VIPA 10\.0\.0\.100  ports 80  routing r1  method roundrobin  CRT \d+\/65536\n  PORT/);

    // MACs from name and address: one per stack, locally administered unicast, the same in a fresh process.
    const macs = [a.c.stack('r1'), a.c.stack('t1'), b.c.stack('r2'), b.c.stack('t2'), b.c.stack('t3'), client.c.stack('client')].map((x) => x.macs[0]);
    assert.is(new Set(macs).size, 6);
    for (const mac of macs) assert.is(parseInt(mac.slice(0, 2), 16) & 3, 2, mac);
    const again = await Cluster.create(config(), { only: ['t3'] });
    try { assert.is(again.stack('t3').macs[0], macs[4]); } finally { await again.close(); }
  });
});

test('the part holding the routing stack crashes: the backup in another part takes over with every connection; back, with the same MACs, it takes the VIPA back', async () => {
  await withParts(async (lan, a, b, client) => {
    await ready(a.c, TARGETS);
    await until('r2 knows its rank', () => b.c.stack('r2').clusterView()[0]?.rank === 1);
    const takeovers: TakeoverEvent[] = [];
    b.c.on('takeover', (e: TakeoverEvent) => takeovers.push(e));
    const conns = new Map<string, Awaited<ReturnType<typeof whoami>>['sock']>();
    while (conns.size < 3) {
      const { name, sock } = await whoami(client.c.stack('client'));
      if (conns.has(name)) await hangUp(sock); else conns.set(name, sock);
    }
    const r1Mac = a.c.stack('r1').macs[0];
    await crash(a);
    await until('r2 took over', () => takeovers.length === 1 && client.c.owner(VIPA) === 'r2', 5000);
    assert.equal([takeovers[0].stack, takeovers[0].from, takeovers[0].reason], ['r2', 'r1', 'dead']);
    assert.is(b.c.owner(VIPA), 'r2');
    assert.ok(b.c.routingTable(VIPA).length >= 2, 'the connections to t2 and t3 rebuilt');
    for (const t of ['t2', 't3']) await echo(conns.get(t)!, `after the takeover, ${t}\n`);
    await ready(b.c, ['t2', 't3']);
    const { name, sock } = await whoami(client.c.stack('client'));
    assert.ok(name === 't2' || name === 't3', name);
    await hangUp(sock);

    const back = await part(lan, config(), ['r1', 't1']);
    try {
      assert.is(back.c.stack('r1').macs[0], r1Mac, 'a restarted process gives r1 its MAC again');
      await until('r1 took the VIPA back', () => back.c.owner(VIPA) === 'r1' && b.c.owner(VIPA) === 'r1' && client.c.owner(VIPA) === 'r1', 5000);
      for (const t of ['t2', 't3']) await echo(conns.get(t)!, `after the takeback, ${t}\n`);
      await ready(back.c, TARGETS);
    } finally {
      for (const s of conns.values()) s.destroy();
      await back.c.close();
    }
  });
});

test('only: an unknown stack, none, or no shared key is refused before anything starts', async () => {
  for (const [only, cfg, msg] of [
    [['r1', 't9'], config(), /only: no stack "t9" in the config \(its stacks: client, r1, t1, t2, t3, r2\)/],
    [[], config(), /only names no stack/],
    [['r1'], { ...config(), key: undefined }, /key: stacks in several processes \(only\) need a shared "key" or "keyFile"/],
  ] as [string[], Json, RegExp][]) {
    try {
      await Cluster.create(cfg, { only, device: 'shoalnever0' });
      assert.unreachable(`accepted only ${only}`);
    } catch (e) {
      assert.match((e as Error).message, msg);
    }
  }
});

const CLI = join(process.cwd(), 'build/cli.js');
const shoal = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

test('shoal up --only and --device: help, a clear error for an unknown stack, a missing TAP or an empty name; the control socket by config and --only', () => {
  const help = shoal('up', '--help');
  for (const w of ['--only NAMES', '--device NAME', 'Across', '@<NAMES sorted>']) assert.ok(help.stdout.includes(w), w);
  assert.ok(shoal('status', '--help').stdout.includes('FILE --only\nNAMES: that of shoal up FILE --only NAMES'));
  const dir = mkdtempSync(join(tmpdir(), 'shoal-only-'));
  const file = join(dir, `${basename(dir)}.json`);
  writeFileSync(file, JSON.stringify(config()));
  for (const [args, status, msg] of [
    [['up', file, '--only', 'r1,t9', '--device', 'shoalnever0', '--no-table'], 1, /only: no stack "t9" in the config/],
    [['up', file, '--only', 'r1', '--no-table'], 1, /through a TAP device, so give the config a "tap" network or --device NAME/],
    [['up', file, '--only', 'r1,,t1'], 2, /--only needs stack names separated by commas/],
    [['up', file, '--device='], 2, /--device needs a TAP device name/],
    [['status', '--only', 'r1', '--control', join(dir, 'x.sock')], 2, /give --only with the config file/],
  ] as [string[], number, RegExp][]) {
    const r = shoal(...args);
    assert.is(r.status, status, args.join(' '));
    assert.match(r.stderr, msg);
  }
  const sock = defaultControlPath(file, ['t1', 'r1']);
  assert.is(sock, join(tmpdir(), `shoal-${basename(dir)}@r1,t1.sock`));
  assert.is.not(sock, defaultControlPath(file));
  const r = shoal('status', file, '--only', 't1,r1');
  assert.is(r.status, 1);
  assert.ok(r.stderr.includes(`no shoal up is running with control socket ${sock}`), r.stderr);
});

test.run();
