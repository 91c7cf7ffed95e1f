// Stacks in worker threads (issue 16, "Many cores on one host"): the
// routing stack and targets in workers meet the switch through shared-memory
// rings; the Cluster's API on the main thread answers from them; a worker
// that dies is a stack that died.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, type TakeoverEvent, type TargetLostEvent, type StackEvent } from '../../host/cluster/cluster.ts';
import { WorkerStack } from '../../host/cluster/worker.ts';
import { VirtualClock } from '../../host/clock.ts';
import { parseClusterConfig, ClusterConfigError } from '../../host/cluster/config.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VIPA, TARGETS, withCluster, record, smallConfig, ready, until, whoami } from './harness.ts';
import { LOAD_APP, startLoad, describe } from './load.ts';

const SEED = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${SEED} (SHOAL_SEED=${SEED} replays it)`);
const MB = 1 << 20;

type Json = Record<string, any>;
/** smallConfig with the load app on t1-t3, a backup r2, and the named stacks in workers. */
function config(inWorkers: string[]): Json {
  const c = smallConfig('roundrobin', { apps: [{ stacks: TARGETS, listen: ':80', serve: LOAD_APP }] });
  c.stacks.push({ name: 'r2', address: '10.0.0.3/24' });
  c.vipas[0].backups = ['r2'];
  c.heartbeat = { holdDown: 300 };
  for (const s of c.stacks) if (inWorkers.includes(s.name)) s.worker = true;
  return c;
}

test('"worker" is true or false (default false); workers is a positive integer; a virtual clock cannot reach a worker', async () => {
  assert.is(parseClusterConfig(config(['t1'])).stacks.find((x) => x.name === 't1')!.worker, true);
  assert.is(parseClusterConfig(config(['t1'])).stacks.find((x) => x.name === 't2')!.worker, false);
  const bad = config([]);
  bad.stacks[0].worker = 'yes';
  assert.throws(() => parseClusterConfig(bad), (e: Error) => e instanceof ClusterConfigError && /stacks\[0\]\.worker/.test(e.message));
  for (const workers of [0, 1.5]) {
    await Cluster.create(config([]), { workers }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /workers must be a positive integer/));
  }
  await Cluster.create(config(['t1']), { clock: new VirtualClock() }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /real clock/));
});

test('routing stack and targets in workers: 40 transfers each way, sha256 checked; the API answers from the workers', async () => {
  await withCluster(config(['r1', ...TARGETS]), { seed: SEED }, async (c) => {
    for (const n of ['r1', ...TARGETS]) assert.ok(c.worker(n), `${n} runs in a worker`);
    assert.is(c.worker('client'), null);
    assert.ok(c.stack('t1') instanceof WorkerStack);
    await ready(c, TARGETS);
    for (const direction of ['download', 'upload'] as const) {
      const load = startLoad(c, { vipa: VIPA, port: 80, connections: 40, bytes: 1 * MB, parallel: 20, direction, seed: SEED, clients: 2 });
      // The CRT of r1, read on this thread while it changes in r1's.
      await until('the connections in the CRT', () => c.routingTable(VIPA).some((e) => TARGETS.includes(e.stack)), 3000);
      const res = await load.done;
      console.log(`  ${describe(res)}`);
      assert.ok(res.ok, describe(res));
      assert.equal(new Set(res.connections.map((r) => r.target)), new Set(TARGETS));
    }
    await until('the DPT counts them', () => c.portTable(VIPA).reduce((k, r) => k + r.total, 0) >= 80);
    assert.is(c.owner(VIPA), 'r1');
    assert.is(c.stack('r1').clusterView()[0].role, 'routing');
    assert.ok(c.stack('r1').stats().clusterForwarded > 0 || Object.keys(c.stack('r1').stats()).length > 10);
    assert.is(c.stack('t1').stats().ringTxDropped, 0);
    assert.throws(() => c.stack('t1').net, (e: Error & { code?: string }) => e.code === 'ERR_STACK_IN_WORKER');
    await c.quiesce('t2', 80);
    await until('t2 quiesced in the DPT', () => c.portTable(VIPA).some((r) => r.stack === 't2' && r.quiesced));
    await c.resume('t2', 80);
    await until('t2 serves again', () => c.portTable(VIPA).some((r) => r.stack === 't2' && !r.quiesced && r.ready));
    await c.quiesce('t2', 0).then(() => assert.unreachable(), (e: Error & { code?: string }) => assert.is(e.code, 'EINVAL'));
  });
});

test('workers: 2 spreads every stack over two threads; the same load passes', async () => {
  const cfg = config([]);
  await withCluster(cfg, { seed: SEED, workers: 2 }, async (c) => {
    const threads = new Set(c.stackNames.map((n) => c.worker(n)));
    assert.is(threads.size, 2, 'two threads for six stacks');
    assert.not.ok(threads.has(null));
    await ready(c, TARGETS);
    const res = await startLoad(c, { vipa: VIPA, port: 80, connections: 30, bytes: 1 * MB, parallel: 15, direction: 'download', seed: SEED, clients: 2 }).done;
    console.log(`  ${describe(res)}`);
    assert.ok(res.ok, describe(res));
  });
});

// Uploads: a client learns its target is gone from the RST to its next segment (docs/CLUSTER.md, target death).
test('a target\'s worker terminated mid-upload: its clients get RSTs, the others finish; start brings it back', async () => {
  await withCluster(config(TARGETS), { seed: SEED }, async (c) => {
    await ready(c, TARGETS);
    const lost = record<TargetLostEvent>(c, 'target-lost');
    const downs = record<StackEvent>(c, 'stack-down');
    const load = startLoad(c, { vipa: VIPA, port: 80, connections: 30, bytes: 8 * MB, direction: 'upload', seed: SEED, clients: 2 });
    await load.reached(0.3);
    await c.worker('t2')!.terminate();
    const res = await load.done;
    console.log(`  ${describe(res, 3)}`);
    assert.equal(downs, [{ stack: 't2', reason: 'crashed' }]);
    assert.not.ok(c.isUp('t2'));
    await until('r1 lost t2', () => lost.length === 1);
    assert.is(lost[0].stack, 't2');
    for (const r of res.connections) {
      if (r.target === 't2') assert.is(r.error?.code, 'ECONNRESET', `#${r.index} on t2: ${r.error?.code}`);
      else assert.ok(r.ok, `#${r.index} on ${r.target}: ${r.error?.code} ${r.error?.message}`);
    }
    assert.ok(res.connections.some((r) => r.target === 't2'));
    await c.start('t2');
    assert.ok(c.worker('t2'));
    await ready(c, TARGETS);
    const again = await startLoad(c, { vipa: VIPA, port: 80, connections: 12, bytes: MB, direction: 'download', seed: SEED + 1 }).done;
    assert.ok(again.ok, describe(again));
    assert.ok(again.connections.some((r) => r.target === 't2'), 't2 serves again');
  });
});

test('the routing stack\'s worker terminated mid-transfer: r2 takes over, all 30 finish with their sha256', async () => {
  await withCluster(config(['r1', 'r2', ...TARGETS]), { seed: SEED }, async (c) => {
    await ready(c, TARGETS);
    await until('r2 knows its rank', () => c.stack('r2').clusterView()[0]?.rank === 1);
    const takeovers = record<TakeoverEvent>(c, 'takeover');
    const load = startLoad(c, { vipa: VIPA, port: 80, connections: 30, bytes: 8 * MB, direction: 'download', seed: SEED, clients: 2 });
    await load.reached(0.4);
    await c.worker('r1')!.terminate();
    await until('r2 took over', () => takeovers.length === 1, 5000);
    const res = await load.done;
    console.log(`  ${describe(res)}; takeover rebuilt ${takeovers[0].connections} connections in ${takeovers[0].ms} ms`);
    assert.ok(res.ok, describe(res));
    assert.equal({ ...takeovers[0], ms: 0, connections: 0 }, { vipa: VIPA, stack: 'r2', from: 'r1', reason: 'dead', ms: 0, connections: 0 });
    assert.is(c.owner(VIPA), 'r2');
    assert.ok(c.routingTable(VIPA).length >= 0);
    await c.start('r1');
    await until('r1 takes the VIPA back', () => c.owner(VIPA) === 'r1', 5000);
  });
});

/** An app module that names its stack, and throws out of the event loop (an uncaught exception) when a client says "boom". */
const BOMB = (() => {
  const p = join(mkdtempSync(join(tmpdir(), 'shoal-apps-')), 'bomb.mjs');
  writeFileSync(p, `export default (s, ctx) => { s.write(ctx.name + '\\n'); s.on('data', (d) => { if (String(d).includes('boom')) setImmediate(() => { throw new Error('boom'); }); }); };\n`);
  return p;
})();

test('an app that throws ends its worker: the stack is down (crashed), r1 loses it, start brings it back', async () => {
  const cfg = config(TARGETS);
  cfg.apps = [{ stacks: TARGETS, listen: ':80', serve: BOMB }];
  await withCluster(cfg, { seed: SEED }, async (c) => {
    await ready(c, TARGETS);
    const downs = record<StackEvent>(c, 'stack-down'), lost = record<TargetLostEvent>(c, 'target-lost');
    let victim = '';
    for (let i = 0; i < 3 && victim !== 't3'; i++) {
      const w = await whoami(c.stack('client'));
      victim = w.name;
      w.sock.on('error', () => {});
      if (victim === 't3') w.sock.write('boom');
      else w.sock.destroy();
    }
    await until('t3 down', () => downs.length === 1);
    assert.equal(downs, [{ stack: 't3', reason: 'crashed' }]);
    await until('r1 lost t3', () => lost.some((e) => e.stack === 't3'));
    await ready(c, ['t1', 't2']);
    await c.start('t3');
    await ready(c, TARGETS);
  });
});

test('reconfigure reaches stacks in workers: a new port and app on the targets, a new target, then its removal', async () => {
  await withCluster(config(['r1', ...TARGETS]), { seed: SEED }, async (c) => {
    await ready(c, TARGETS);
    const next = config(['r1', ...TARGETS, 't4']);
    next.stacks.push({ name: 't4', address: '10.0.0.14/24', worker: true });
    next.vipas[0].ports = [80, 81];
    next.vipas[0].targets = [...TARGETS, 't4'];
    next.apps = [{ stacks: [...TARGETS, 't4'], listen: ':80', serve: LOAD_APP }, { stacks: TARGETS, listen: ':81', serve: 'http-hello' }];
    await c.reconfigure(next);
    await ready(c, [...TARGETS, 't4']);
    await ready(c, TARGETS, 81);
    const res = await c.stack('client').fetch(`http://${VIPA}:81/`);
    assert.match(await res.text(), /^hello from t[123]\n$/);
    await c.reconfigure(config(['r1', ...TARGETS]));
    assert.not.ok(c.stackNames.includes('t4'));
    assert.is(c.worker('t1')!.threadId > 0, true);
    const again = await startLoad(c, { vipa: VIPA, port: 80, connections: 9, bytes: MB, direction: 'download', seed: SEED + 2 }).done;
    assert.ok(again.ok, describe(again));
    assert.equal(new Set(again.connections.map((r) => r.target)), new Set(TARGETS));
  });
});

test.run();
