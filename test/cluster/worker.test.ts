// Stacks in worker threads (issue 16, "Many cores on one host"): the
// routing stack and targets in workers meet the switch through shared-memory
// rings; the Cluster's API on the main thread answers from them; a worker
// that dies is a stack that died.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, type TakeoverEvent, type TargetLostEvent, type StackEvent } from '../../host/cluster/cluster.ts';
import { WorkerStack } from '../../host/cluster/worker.ts';
import { Stack } from '../../host/stack.ts';
import { maybe } from '../helpers/needs.ts';
import { VIPA, TARGETS, noRouting, smallConfig, ready, until } from './harness.ts';
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

async function withCluster(cfg: Json, opts: { workers?: number }, fn: (c: Cluster) => Promise<void>): Promise<void> {
  const c = await Cluster.create(cfg, { seed: SEED, limits: { ...Stack.BULK, tcpMslMs: 250 }, ...opts });
  try { await fn(c); } finally { await c.close(); }
}

function record<T>(c: Cluster, name: string): T[] {
  const out: T[] = [];
  c.on(name, (e: T) => out.push(e));
  return out;
}

maybe(test, noRouting, 'routing stack and targets in workers: 40 transfers each way, sha256 checked; the API answers from the workers', async () => {
  await withCluster(config(['r1', ...TARGETS]), {}, async (c) => {
    for (const n of ['r1', ...TARGETS]) assert.ok(c.worker(n), `${n} runs in a worker`);
    assert.is(c.worker('client'), null);
    assert.ok(c.stack('t1') instanceof WorkerStack);
    await ready(c, TARGETS);
    for (const direction of ['download', 'upload'] as const) {
      const res = await startLoad(c, { vipa: VIPA, port: 80, connections: 40, bytes: 1 * MB, parallel: 20, direction, seed: SEED, clients: 2 }).done;
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
  });
});

test.run();
