// Takeover through the Cluster (issue 14's tests): a routing stack r1 with
// a backup r2 and targets t1-t3. Killing r1 (cluster.kill: a crash, no
// goodbye) halfway through a hundred 10 MB transfers finishes all hundred,
// sha256 checked; ten kill-and-restart cycles under continuous load lose no
// connection, with takeback immediate and when idle; the Cluster's events
// and live table follow; and curl behind a TAP sees no failed request.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, type TakeoverEvent, type RoleEvent, type TargetLostEvent } from '../../host/cluster/cluster.ts';
import { renderTable } from '../../host/cluster/table.ts';
import { maybe, lacks, firstReason } from '../helpers/needs.ts';
import { kernelPeerUnavailable } from '../interop/netns.ts';
import { VIPA, TARGETS, withCluster, record, smallConfig, ready, until, sleep } from './harness.ts';
import { LOAD_APP, startLoad, describe, type LoadResult } from './load.ts';
import { withTapCluster, curlLoop, describeCurl } from './tap-loop.ts';

const SEED = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${SEED} (SHOAL_SEED=${SEED} replays it)`);
const MB = 1 << 20;

type Json = Record<string, any>;
/** smallConfig with a backup r2 (10.0.0.3) ranked behind r1. */
function config(over: { takeback?: string; holdDown?: number; serve?: string; listen?: string } = {}): Json {
  const c = smallConfig('roundrobin', { apps: [{ stacks: TARGETS, listen: over.listen ?? ':80', serve: over.serve ?? LOAD_APP }] });
  c.stacks.push({ name: 'r2', address: '10.0.0.3/24' });
  c.vipas[0].backups = ['r2'];
  if (over.takeback) c.vipas[0].takeback = over.takeback;
  c.heartbeat = { holdDown: over.holdDown ?? 300 };
  return c;
}

test('100 connections × 10 MB: the routing stack killed halfway, the backup takes over, all 100 finish with their sha256', async () => {
  await withCluster(config(), { seed: SEED }, async (c) => {
    await ready(c, TARGETS);
    await until('r2 knows its rank', () => c.stack('r2').clusterView()[0]?.rank === 1);
    const takeovers = record<TakeoverEvent>(c, 'takeover');
    const load = startLoad(c, { vipa: VIPA, port: 80, connections: 100, bytes: 10 * MB, direction: 'download', seed: SEED, clients: 4 });
    await load.reached(0.5);
    const t0 = performance.now();
    await c.kill('r1');
    await until('r2 took over', () => takeovers.length === 1, 5000);
    const ms = performance.now() - t0;
    const res = await load.done;
    console.log(`  takeover: ${ms.toFixed(1)} ms from the kill to r2 routing (${takeovers[0].ms} ms of it rebuilding ${takeovers[0].connections} connections); ${describe(res)}`);
    assert.ok(res.ok, describe(res));
    assert.is(res.connections.filter((r) => r.ok).length, 100);
    assert.equal({ ...takeovers[0], ms: 0, connections: 0 }, { vipa: VIPA, stack: 'r2', from: 'r1', reason: 'dead', ms: 0, connections: 0 });
    assert.ok(takeovers[0].connections > 0 && takeovers[0].connections <= 100);
    assert.is(c.owner(VIPA), 'r2');
  });
});

/** Each stack's counters that tell where connections went: accepted, dropped at a full listen queue, reset, held, routed. */
function diagnosis(c: Cluster): string[] {
  const keys = ['tcpAccept', 'tcpListenDrop', 'tcpRstTx', 'tcpRstRx', 'tcpRetrans', 'rxNoBuffer', 'clusterForwarded', 'clusterNoTarget',
    'clusterHeld', 'clusterHeldDropped', 'clusterMisdirected', 'clusterTakeovers', 'clusterYields'] as const;
  return ['r1', 'r2', ...TARGETS].map((name) => {
    let st: Record<string, number>;
    try { st = c.stack(name).stats() as Record<string, number>; } catch { return `  ${name}: down`; }
    return `  ${name}: ${keys.filter((k) => st[k]).map((k) => `${k} ${st[k]}`).join(', ')}`;
  });
}

/** Loads one after another until stop(): each 30 connections of 2 MB, from 2 clients; every result kept. */
function continuous(c: Cluster) {
  let stopped = false;
  const results: LoadResult[] = [];
  const run = (async () => {
    for (let i = 0; !stopped; i++) {
      results.push(await startLoad(c, { vipa: VIPA, port: 80, connections: 30, bytes: 2 * MB, parallel: 15, direction: i % 2 ? 'upload' : 'download',
        seed: SEED + i, clients: 2 }).done);
    }
  })();
  return { results, stop: async () => { stopped = true; await run; } };
}

for (const takeback of ['immediate', 'whenidle'] as const) {
  test(`ten kill-and-restart cycles of the routing stack under continuous load, takeback ${takeback}: no connection lost`, async () => {
    await withCluster(config({ takeback }), { seed: SEED }, async (c) => {
      await ready(c, TARGETS);
      await until('r2 knows its rank', () => c.stack('r2').clusterView()[0]?.rank === 1);
      const takeovers = record<TakeoverEvent>(c, 'takeover'), takebacks = record<TakeoverEvent>(c, 'takeback');
      const load = continuous(c);
      for (let i = 0; i < 10; i++) {
        await sleep(150);
        // Immediate: r1 is the owner again each time. When idle: r1 waits while r2 has connections, so the owner is killed.
        const victim = c.owner(VIPA)!;
        const other = victim === 'r1' ? 'r2' : 'r1';
        await until(`cycle ${i}: ${other} watches`, () => c.stack(other).clusterView()[0]?.rank === (other === 'r1' ? 0 : 1));
        const before = takeovers.length + takebacks.length;
        await c.kill(victim);
        await until(`cycle ${i}: ${other} took over`, () => c.owner(VIPA) === other && takeovers.length + takebacks.length > before, 5000);
        await c.start(victim);
        if (takeback === 'immediate') await until(`cycle ${i}: r1 took back`, () => c.owner(VIPA) === 'r1' && takebacks.length === i + 1, 5000);
      }
      await load.stop();
      const conns = load.results.flatMap((r) => r.connections);
      const failed = load.results.filter((r) => !r.ok);
      console.log(`  ${takeback}: ${conns.length} connections over ${load.results.length} loads, ${takeovers.length} takeovers, ${takebacks.length} takebacks`);
      // A failure once seen only under a concurrent CI run (uploads stalled at the targets' receive buffer, the
      // app never answering): what each stack saw, to tell routing from the targets' apps next time.
      if (failed.length) console.log([...renderTable(c), ...diagnosis(c)].join('\n'));
      assert.is(failed.length, 0, failed.map((r) => describe(r)).join('\n'));
      assert.ok(conns.length >= 60);
      if (takeback === 'immediate') assert.ok(takebacks.length >= 10, `${takebacks.length} takebacks`);
    });
  });
}

test('events and the live table: role changes, the takeover, the takeback and a lost target', async () => {
  await withCluster(config({ serve: 'echo' }), { seed: SEED }, async (c) => {
    await ready(c, TARGETS);
    await until('r2 knows its rank', () => c.stack('r2').clusterView()[0]?.rank === 1);
    const roles = record<RoleEvent>(c, 'role'), takeovers = record<TakeoverEvent>(c, 'takeover');
    const takebacks = record<TakeoverEvent>(c, 'takeback'), lost = record<TargetLostEvent>(c, 'target-lost');
    await c.kill('r1');
    await until('takeover', () => takeovers.length === 1);
    assert.ok(renderTable(c).some((l) => /^VIPA 10\.0\.0\.100 .*routing r2/.test(l)), renderTable(c).join('\n'));
    await c.start('r1');
    await until('takeback', () => takebacks.length === 1, 5000);
    assert.equal(takebacks.map((e) => [e.stack, e.from, e.reason]), [['r1', 'r2', 'takeback']]);
    assert.equal(roles.map((e) => [e.stack, e.role]), [['r2', 'routing'], ['r1', 'routing'], ['r2', 'none']]);
    await c.kill('t3');
    await until('t3 lost', () => lost.length === 1, 3000);
    assert.equal(lost.map((e) => [e.stack, e.by]), [['t3', 'r1']]);
    await until('t3 out of the DPT', () => !c.portTable(VIPA).some((r) => r.stack === 't3' && r.ready));
  });
});

test('reconfigure while the backup routes the VIPA: a removed VIPA is withdrawn by the backup; a changed one waits for the routing stack', async () => {
  await withCluster(config({ serve: 'echo' }), { seed: SEED }, async (c) => {
    await ready(c, TARGETS);
    await until('r2 knows its rank', () => c.stack('r2').clusterView()[0]?.rank === 1);
    await c.kill('r1');
    await until('r2 routes', () => c.owner(VIPA) === 'r2');
    const fewer = config({ serve: 'echo' });
    fewer.vipas[0].targets = ['t1', 't2'];
    await c.reconfigure(fewer);
    assert.is(c.owner(VIPA), 'r2', 'the backup keeps routing the config it had');
    await c.start('r1');
    await until('r1 took back with the new config', () => c.owner(VIPA) === 'r1' && c.stack('t3').clusterView()[0]?.role === 'none', 5000)
      .catch((e) => { throw new Error(`${e.message}; owner ${c.owner(VIPA)}; t3 sees ${JSON.stringify(c.stack('t3').clusterView())}`); });
    await c.kill('r1');
    await until('r2 routes again', () => c.owner(VIPA) === 'r2');
    const none = config({ serve: 'echo' });
    none.vipas = [];
    await c.reconfigure(none);
    await until('every stack forgot the VIPA', () => ['r2', ...TARGETS].every((n) => c.stack(n).clusterView().length === 0), 5000);
  });
});

const why = firstReason(await kernelPeerUnavailable(), lacks('curl'));

maybe(test, why, 'through a TAP: curl in a namespace, looping requests to the VIPA, sees no failed request across a takeover and a takeback', async () => {
  await withTapCluster(config({ serve: 'http-hello', listen: `${VIPA}:80` }), {}, async (c, ns) => {
    await ready(c, TARGETS);
    await until('r2 knows its rank', () => c.stack('r2').clusterView()[0]?.rank === 1);
    const takeovers = record<TakeoverEvent>(c, 'takeover'), takebacks = record<TakeoverEvent>(c, 'takeback');
    const loop = curlLoop(ns, { url: `http://${VIPA}/`, durationMs: 4000, expect: /^hello from t\d$/ });
    await sleep(800);
    await c.kill('r1');
    await until('r2 took over', () => takeovers.length === 1, 5000);
    await sleep(500);
    await c.start('r1');
    await until('r1 took back', () => takebacks.length === 1, 5000);
    const res = await loop.done;
    console.log(describeCurl(res));
    assert.is(res.failures.length, 0, describeCurl(res));
    assert.ok(res.requests >= 20, describeCurl(res));
    // The kernel's neighbour entry followed the gratuitous ARPs back to r1.
    const neigh = ns.execSync(['ip', 'neigh', 'show', VIPA]);
    assert.ok(neigh.includes(c.stack('r1').macs[0]), neigh);
  });
});

test.run();
