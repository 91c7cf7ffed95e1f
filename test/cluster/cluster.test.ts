// Cluster (host/cluster/cluster.ts) end to end: a config becomes stacks on a
// switch, the routing stack's DPT and CRT read through the cluster with
// stack names, each method's distribution over three targets, the CRT
// empty once connections close, a listener withdrawn mid-traffic, targets
// added and removed by reconfigure without drops, kill and start.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from '../../host/cluster/cluster.ts';
import { ClusterConfigError } from '../../host/cluster/config.ts';
import type { Socket } from '../../host/net/net.ts';
import { VIPA, TARGETS, WHOAMI, smallConfig, until, ready, whoami, whoamiServer, echo, hangUp, tally } from './harness.ts';

// The stacks' ISNs and ephemeral ports (and so the CRT's slots) follow the seed; replay with SHOAL_SEED.
const SEED = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${SEED} (SHOAL_SEED=${SEED} replays it)`);
/** TIME-WAIT of 2 × 250 ms, so connections' CRT entries go soon after they close. */
const opts = { seed: SEED, limits: { tcpMslMs: 250 } };

/** Runs fn on a new cluster and closes it, whatever happens. */
async function withCluster(config: object, fn: (c: Cluster) => Promise<void>): Promise<void> {
  const c = await Cluster.create(config, opts);
  try { await fn(c); } finally { await c.close(); }
}

test('a bad config is refused before anything starts, naming the field', async () => {
  const bad = smallConfig();
  bad.vipas[0].targets = ['t1', 'nobody'];
  try {
    await Cluster.create(bad, opts);
    assert.unreachable('accepted');
  } catch (e) {
    assert.instance(e, ClusterConfigError);
    assert.is((e as ClusterConfigError).path, 'vipas[0].targets[1]');
  }
});

test('config → Cluster: a stack per config stack with its address and a unique MAC; stack(name)', async () => {
  await withCluster(smallConfig(), async (c) => {
    assert.equal(c.stackNames, ['client', 'r1', ...TARGETS]);
    assert.equal(c.stack('t2').addresses, ['10.0.0.12/24']);
    assert.is(c.stack('r1').name, 'r1');
    const macs = c.stackNames.map((n) => c.stack(n).macs[0]);
    assert.is(new Set(macs).size, macs.length, macs.join(' '));
    assert.throws(() => c.stack('nobody'), /no stack "nobody"/);
    assert.throws(() => c.portTable('10.9.9.9'), /no VIPA 10.9.9.9/);
    await ready(c, TARGETS);
  });
});

test('portTable and routingTable: the contract\'s rows, with target stack names', async () => {
  await withCluster(smallConfig(), async (c) => {
    await ready(c, TARGETS);
    const rows = c.portTable(VIPA);
    assert.is(rows.length, 3);
    for (const r of rows) {
      assert.equal(Object.keys(r).sort(), ['acceptOverflows', 'active', 'established', 'health', 'listeners', 'port', 'quiesced', 'ready', 'stack',
        'synsForwarded', 'target', 'total', 'vipa', 'weight']);
      assert.is(r.vipa, VIPA);
      assert.is(r.port, 80);
      assert.is(r.target, `10.0.0.${11 + TARGETS.indexOf(r.stack)}`);
      assert.ok(r.ready && r.listeners === 1 && r.weight === 1 && r.health === 'ok', JSON.stringify(r));
    }
    const client = c.stack('client');
    const conns = await Promise.all([0, 1, 2].map(() => whoami(client)));
    await until('three established CRT entries', () => c.routingTable(VIPA).filter((e) => e.state === 'established').length === 3);
    const crt = c.routingTable(VIPA);
    for (const e of crt) {
      assert.equal(Object.keys(e).sort(), ['client', 'clientPort', 'frames', 'idleMs', 'origin', 'port', 'stack', 'state', 'target', 'vipa']);
      assert.is(e.client, '10.0.0.2');
      assert.is(e.vipa, VIPA);
      assert.is(e.port, 80);
      assert.is(e.origin, 'syn');
      assert.ok(e.frames >= 2, `frames ${e.frames}`);
      const conn = conns.find((x) => x.sock.localPort === e.clientPort);
      assert.ok(conn, `CRT entry for client port ${e.clientPort}`);
      assert.is(e.stack, conn!.name);
    }
    assert.equal(c.portTable(VIPA).map((r) => r.active), [1, 1, 1]);
    await Promise.all(conns.map((x) => hangUp(x.sock)));
  });
});

/** Opens n connections from the client, `par` at a time; returns the serving names and the open sockets. */
async function open(c: Cluster, n: number, localAddress?: (i: number) => string): Promise<{ names: string[]; socks: Socket[] }> {
  const names: string[] = [], socks: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const w = await whoami(c.stack('client'), localAddress?.(i));
    names.push(w.name);
    socks.push(w.sock);
  }
  return { names, socks };
}

test('roundrobin: each target in turn', async () => {
  await withCluster(smallConfig('roundrobin'), async (c) => {
    await ready(c, TARGETS);
    const { names, socks } = await open(c, 30);
    assert.equal(tally(names), { t1: 10, t2: 10, t3: 10 }, names.join(' '));
    // Consecutive connections never meet the same target twice in a row.
    assert.ok(names.every((n, i) => i === 0 || n !== names[i - 1]), names.join(' '));
    await Promise.all(socks.map(hangUp));
  });
});

test('weighted 1:2:3: active connections in proportion to the weights', async () => {
  await withCluster(smallConfig('weighted', { vipa: { weights: [1, 2, 3] } }), async (c) => {
    await ready(c, TARGETS);
    const { names, socks } = await open(c, 60);
    const t = tally(names);
    assert.ok(Math.abs(t.t1 - 10) <= 2 && Math.abs(t.t2 - 20) <= 2 && Math.abs(t.t3 - 30) <= 2, JSON.stringify(t));
    await Promise.all(socks.map(hangUp));
  });
});

test('leastconn: a new connection goes where the fewest are active', async () => {
  await withCluster(smallConfig('leastconn'), async (c) => {
    await ready(c, TARGETS);
    const first = await open(c, 6);
    assert.equal(tally(first.names), { t1: 2, t2: 2, t3: 2 });
    // Close both of t2's: the next two go to t2.
    await Promise.all(first.socks.filter((_, i) => first.names[i] === 't2').map(hangUp));
    await until('t2 with no active connection', () => c.portTable(VIPA).find((r) => r.stack === 't2')?.active === 0);
    const next = await open(c, 2);
    assert.equal(next.names, ['t2', 't2']);
    await Promise.all([...first.socks.filter((_, i) => first.names[i] !== 't2'), ...next.socks].map(hangUp));
  });
});

test('hotstandby: all to the preferred target; to the next rank while it is gone; back when it returns', async () => {
  await withCluster(smallConfig('hotstandby', { apps: [] }), async (c) => {
    const servers = new Map(TARGETS.map((t) => [t, whoamiServer(c.stack(t))]));
    await ready(c, TARGETS);
    const r = await open(c, 10);
    assert.equal(tally(r.names), { t1: 10 });
    servers.get('t1')!.close();
    await ready(c, ['t2', 't3']);
    const standby = await open(c, 5);
    assert.equal(tally(standby.names), { t2: 5 });
    servers.set('t1', whoamiServer(c.stack('t1')));
    await ready(c, TARGETS);
    const back = await open(c, 5);
    assert.equal(tally(back.names), { t1: 5 });
    // The connections t1 had before it stopped listening kept going.
    await Promise.all(r.socks.map((s) => echo(s, 'still here\n')));
    await Promise.all([...r.socks, ...standby.socks, ...back.socks].map(hangUp));
    for (const s of servers.values()) s.close();
  });
});

test('hash: a client address always meets the same target; 60 addresses spread over three; one target leaving moves only its own', async () => {
  await withCluster(smallConfig('hash'), async (c) => {
    const client = c.stack('client');
    const addr = (i: number) => `10.0.0.${100 + 1 + i}`;
    for (let i = 0; i < 60; i++) client.addAddress(`${addr(i)}/24`);
    await ready(c, TARGETS);
    const a = await open(c, 60, addr);
    const b = await open(c, 60, addr);
    assert.equal(b.names, a.names, 'the same address, the same target');
    const t = tally(a.names);
    for (const n of TARGETS) assert.ok((t[n] ?? 0) >= 8, JSON.stringify(t));
    await Promise.all([...a.socks, ...b.socks].map(hangUp));
    await c.reconfigure(smallConfig('hash', { apps: [{ stacks: ['t1', 't2'], listen: ':80', serve: WHOAMI }] }));
    await ready(c, ['t1', 't2']);
    const after = await open(c, 60, addr);
    const moved = after.names.filter((n, i) => a.names[i] !== 't3' && n !== a.names[i]).length;
    assert.ok(moved <= 1, `${moved} of t1's and t2's clients moved`);
    assert.ok(after.names.every((n) => n !== 't3'));
    await Promise.all(after.socks.map(hangUp));
  });
});

test('the CRT is empty once every connection has closed', async () => {
  await withCluster(smallConfig(), async (c) => {
    await ready(c, TARGETS);
    const { socks } = await open(c, 30);
    assert.is(c.routingTable(VIPA).length, 30);
    await Promise.all(socks.map(hangUp));
    await until('an empty CRT', () => c.routingTable(VIPA).length === 0, 10_000);
    assert.equal(c.portTable(VIPA).map((r) => r.active), [0, 0, 0]);
    assert.equal(c.portTable(VIPA).map((r) => r.total), [10, 10, 10]);
  });
});

test('a listener withdrawn mid-traffic: its established connections keep going, new ones go elsewhere', async () => {
  await withCluster(smallConfig('roundrobin', { apps: [] }), async (c) => {
    const servers = TARGETS.map((t) => whoamiServer(c.stack(t)));
    await ready(c, TARGETS);
    const before = await open(c, 9);
    let traffic = true;
    const onT1 = before.socks.filter((_, i) => before.names[i] === 't1');
    // Traffic on every connection while t1's listener closes.
    const pumping = Promise.all(before.socks.map(async (s, i) => { for (let k = 0; traffic; k++) await echo(s, `c${i} m${k}\n`); }));
    servers[0].close();
    await ready(c, ['t2', 't3']);
    const after = await open(c, 6);
    traffic = false;
    await pumping;
    assert.equal(tally(after.names), { t2: 3, t3: 3 });
    assert.is(onT1.length, 3);
    await Promise.all(onT1.map((s) => echo(s, 'after the listener closed\n')));
    await Promise.all([...before.socks, ...after.socks].map(hangUp));
    servers.forEach((s) => s.close());
  });
});

test('reconfigure adds and removes a target with no drops; established connections keep going', async () => {
  await withCluster(smallConfig('roundrobin', { targets: ['t1', 't2'] }), async (c) => {
    const events: unknown[] = [];
    c.on('reconfigured', (e) => events.push(e));
    await ready(c, ['t1', 't2']);
    const first = await open(c, 4);
    assert.equal(tally(first.names), { t1: 2, t2: 2 });
    await c.reconfigure(smallConfig('roundrobin'));
    await ready(c, TARGETS);
    const second = await open(c, 6);
    assert.equal(tally(second.names), { t1: 2, t2: 2, t3: 2 });
    await c.reconfigure(smallConfig('roundrobin', { targets: ['t2', 't3'] }));
    await until('t1 gone from the candidates', () => !c.portTable(VIPA).some((r) => r.stack === 't1' && r.ready));
    const third = await open(c, 4);
    assert.equal(tally(third.names), { t2: 2, t3: 2 });
    // Every connection, t1's too (a removed target drains), still carries data.
    const all = [...first.socks, ...second.socks, ...third.socks];
    await Promise.all(all.map((s, i) => echo(s, `conn ${i}\n`)));
    assert.equal(events, [
      { stacksAdded: [], stacksRemoved: [], vipasAdded: [], vipasRemoved: [], vipasChanged: [VIPA] },
      { stacksAdded: [], stacksRemoved: [], vipasAdded: [], vipasRemoved: [], vipasChanged: [VIPA] },
    ]);
    await Promise.all(all.map(hangUp));
  });
});

test('reconfigure adds a stack, a VIPA and an app, and removes them; a bad config changes nothing', async () => {
  await withCluster(smallConfig(), async (c) => {
    await ready(c, TARGETS);
    const more = smallConfig();
    more.stacks.push({ name: 't4', address: '10.0.0.14/24' });
    more.vipas.push({ address: '10.0.0.101', ports: ['8000-8001'], routing: 'r1', targets: ['t4'] });
    more.apps.push({ stacks: ['t4'], listen: '10.0.0.101:8001', serve: 'echo' });
    await c.reconfigure(more);
    await until('t4 ready on 10.0.0.101:8001', () => c.portTable('10.0.0.101').some((r) => r.stack === 't4' && r.ready && r.port === 8001));
    const s = c.stack('client').net.connect({ host: '10.0.0.101', port: 8001 });
    await echo(s, 'through the second VIPA\n');
    await hangUp(s);
    const bad = structuredClone(more);
    bad.apps[1].serve = './no-such-app.mjs';
    await c.reconfigure(bad).then(() => assert.unreachable('accepted'), (e) => assert.match(String(e), /apps\[1\]\.serve/));
    assert.ok(c.isUp('t4'));
    await c.reconfigure(smallConfig());
    assert.equal(c.stackNames, ['client', 'r1', ...TARGETS]);
    assert.throws(() => c.portTable('10.0.0.101'), /no VIPA/);
  });
});

test('kill stops a stack as a crash would; start brings it back from its config', async () => {
  await withCluster(smallConfig(), async (c) => {
    const events: string[] = [];
    c.on('stack-down', (e) => events.push(`down ${e.stack} ${e.reason}`));
    c.on('stack-up', (e) => events.push(`up ${e.stack}`));
    await ready(c, TARGETS);
    const t2 = c.stack('t2');
    const ports = c.switch.stats().ports;
    await c.kill('t2');
    assert.is(t2.isClosed, true);
    assert.is(c.switch.stats().ports, ports - 1, 'its switch port is gone');
    assert.not.ok(c.isUp('t2'));
    assert.throws(() => c.stack('t2'), /down/);
    await c.kill('t2').then(() => assert.unreachable('killed twice'), (e) => assert.match(String(e), /already down/));
    await c.start('t2');
    assert.ok(c.isUp('t2'));
    assert.is.not(c.stack('t2'), t2);
    assert.equal(c.stack('t2').macs, t2.macs, 'the same MAC after a restart');
    await ready(c, TARGETS);
    const { names, socks } = await open(c, 3);
    assert.ok(names.includes('t2'), names.join(' '));
    assert.equal(events, ['down t2 killed', 'up t2']);
    await Promise.all(socks.map(hangUp));
  });
});

test.run();
