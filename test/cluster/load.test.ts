// The load harness (load.ts, load-app.mjs) the takeover tests stand on,
// proven on a cluster with no takeover: transfers both ways through a
// routing stack r1 to targets t1-t3, every byte checked and spread over the
// targets; a server that ends early, corrupts a byte, resets or stalls is
// caught with its reason; 100 connections moving 10 MB each all arrive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from '../../host/cluster/cluster.ts';
import { Stack } from '../../host/stack.ts';
import type { Socket } from '../../host/net/net.ts';
import { VIPA, TARGETS, smallConfig, ready, until } from './harness.ts';
import { LOAD_APP, startLoad, describe, type LoadResult } from './load.ts';
import { parseRequest, readLine, streamOf } from './load-app.mjs';
import { forwardDelay } from './forward-watch.ts';

// The content and the stacks' ISNs follow the seed; replay with SHOAL_SEED.
const SEED = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${SEED} (SHOAL_SEED=${SEED} replays it)`);

const MB = 1 << 20;
const loadConfig = () => smallConfig('roundrobin', { apps: [{ stacks: TARGETS, listen: ':80', serve: LOAD_APP }] });

async function withCluster(config: object, fn: (c: Cluster) => Promise<void>): Promise<void> {
  const c = await Cluster.create(config, { seed: SEED, limits: { ...Stack.BULK, tcpMslMs: 250 } });
  try { await fn(c); } finally { await c.close(); }
}

const counts = (res: LoadResult) => {
  const out: Record<string, number> = {};
  for (const r of res.connections) out[r.target] = (out[r.target] ?? 0) + 1;
  return out;
};

test('20 connections × 1 MB each way at once through r1 to t1-t3: all arrive, hashes equal, spread over the targets', async () => {
  await withCluster(loadConfig(), async (c) => {
    await ready(c, TARGETS);
    const common = { vipa: VIPA, port: 80, connections: 20, bytes: MB, seed: SEED, clients: 2 };
    const down = startLoad(c, { ...common, direction: 'download' });
    const up = startLoad(c, { ...common, direction: 'upload' });
    const [d, u] = await Promise.all([down.done, up.done]);
    for (const res of [d, u]) {
      console.log(describe(res));
      assert.ok(res.ok, describe(res));
      assert.is(res.connections.length, 20);
      assert.is(res.bytes, 20 * MB);
      for (const r of res.connections) {
        assert.is(r.sha256.got, r.sha256.expected);
        assert.match(r.sha256.got, /^[0-9a-f]{64}$/);
        assert.is(r.bytes, MB);
        assert.ok(r.endMs >= r.startMs && /^10\.0\.0\.2\d\d:\d+$/.test(r.client), JSON.stringify(r));
      }
      const t = counts(res);
      assert.equal(Object.keys(t).sort(), TARGETS, JSON.stringify(t));
    }
    // The two loads' clients had addresses of their own, and both loads got the same content from the seed.
    assert.equal(new Set([...d.connections, ...u.connections].map((r) => r.client.split(':')[0])).size, 4);
    assert.equal(d.connections.map((r) => r.sha256.expected), u.connections.map((r) => r.sha256.expected));
    assert.equal(down.progress(), { bytes: 20 * MB, total: 20 * MB, done: 20, failed: 0, running: 0 });
  });
});

/** How a deliberately bad server misbehaves, by port. */
const BAD: Record<number, string> = { 81: 'ends early', 82: 'corrupts a byte', 83: 'resets', 84: 'stalls' };

/** The load server's protocol with one fault, chosen by the port it listens on. */
function badServer(name: string, port: number) {
  return (s: Socket) => {
    s.on('error', () => {});
    readLine(s, (line, rest) => {
      const req = parseRequest(line)!;
      if (port === 84) return;
      s.write(`ok ${name}\n`);
      const half = req.bytes >> 1;
      if (req.op === 'get') {
        const data = streamOf(req.stream)(req.bytes);
        if (port === 81) s.end(data.subarray(0, half));
        else if (port === 82) { data[half] ^= 0x20; s.end(data); }
        else s.write(data.subarray(0, half), () => s.resetAndDestroy());
        return;
      }
      let got = rest.length;
      const hash = (d: Buffer) => {
        got += d.length;
        if (port === 81 && got >= half) { s.off('data', hash); s.end(); }
        if (port === 83 && got >= half) s.resetAndDestroy();
        if (port === 82 && got >= req.bytes) s.end(`ok ${'0'.repeat(64)}\n`);
      };
      s.on('data', hash);
    });
  };
}

test('a server that ends early, corrupts a byte, resets or stalls: each connection is reported failed with its reason', async () => {
  const cfg = loadConfig();
  cfg.vipas[0].ports = [80, 81, 82, 83, 84];
  await withCluster(cfg, async (c) => {
    for (const t of TARGETS) for (const port of Object.keys(BAD).map(Number)) c.stack(t).net.createServer(badServer(t, port)).listen(port);
    await until('bad servers ready on every target', () => c.portTable(VIPA).filter((r) => r.ready && r.port !== 80).length === 12);
    const want: Record<number, RegExp> = { 81: /^ESHORT$/, 82: /^EHASH$/, 83: /^ECONNRESET$/, 84: /^ETIMEDOUT$/ };
    for (const direction of ['download', 'upload'] as const) {
      for (const port of Object.keys(BAD).map(Number)) {
        const load = startLoad(c, { vipa: VIPA, port, connections: 3, bytes: 256 << 10, direction, seed: SEED, idleTimeoutMs: 500 });
        const res = await load.done;
        const what = `${direction}, a server that ${BAD[port]}:\n${describe(res)}`;
        console.log(what);
        assert.not.ok(res.ok, what);
        assert.is(res.failed.length, 3, what);
        for (const r of res.failed) {
          assert.ok(r.error && want[port].test(r.error.code) && r.error.message.length > 10, what);
          // A reset may overtake the server's first line (the client's stack drops what it had not read).
          if (port <= 82) assert.ok(TARGETS.includes(r.target), what);
        }
        if (port === 82 && direction === 'download') {
          for (const r of res.failed) {
            assert.is(r.diffAt, 128 << 10, what);
            assert.is.not(r.sha256.got, r.sha256.expected);
          }
        }
      }
    }
  });
});

test('forwardDelay: from a mark under load to r1\'s next IP-in-IP frame of an established connection; none from a target', async () => {
  await withCluster(loadConfig(), async (c) => {
    await ready(c, TARGETS);
    const load = startLoad(c, { vipa: VIPA, port: 80, connections: 10, bytes: 8 * MB, direction: 'download', seed: SEED });
    try {
      await load.reached(0.2);
      const established = load.established();
      assert.ok(established.size > 0);
      let called = 0;
      const ms = await forwardDelay(c, { by: 'r1', event: () => { called++; }, established });
      console.log(`mark → r1 forwards a segment of an established connection: ${ms.toFixed(3)} ms`);
      assert.is(called, 1);
      assert.ok(ms >= 0 && ms < 1000, `${ms} ms`);
      // A target forwards nothing; the switch is free again after each watch.
      try {
        await forwardDelay(c, { by: 't1', event: () => {}, timeoutMs: 200 });
        assert.unreachable('a target forwarded');
      } catch (e) {
        assert.match((e as Error).message, /no frame forwarded by t1 within 200 ms/);
      }
      assert.is(c.switch.monitor, null);
    } finally {
      const res = await load.close();
      assert.ok(res.failed.every((r) => r.error?.code === 'EABORTED'), describe(res));
    }
  });
});

/** 100 × 10 MB takes about 2.2 s here (2 cores, one of them busy elsewhere); SHOAL_LOAD_MB scales it. */
const BIG_MB = Number(process.env.SHOAL_LOAD_MB ?? 10);

test(`100 connections × ${BIG_MB} MB download, no kill: all arrive`, async () => {
  await withCluster(loadConfig(), async (c) => {
    await ready(c, TARGETS);
    const load = startLoad(c, { vipa: VIPA, port: 80, connections: 100, bytes: BIG_MB * MB, direction: 'download', seed: SEED, clients: 4 });
    await load.reached(0.5);
    const half = load.progress();
    assert.ok(half.bytes >= half.total / 2 && half.running > 0, JSON.stringify(half));
    const res = await load.done;
    console.log(describe(res));
    assert.ok(res.ok, describe(res));
    assert.is(res.bytes, 100 * BIG_MB * MB);
  });
});

test.run();
