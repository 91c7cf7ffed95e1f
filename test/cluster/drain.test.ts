// Draining through the Cluster (issue 14): cluster.quiesce(name, port?) and
// cluster.resume(…) on a target of a routing stack r1 with three 'echo'
// targets: the DPT shows it, new connections avoid it, an established one
// runs to its end, resume brings it back; one port only; the events; the
// errors; and, as on z/OS, a restarted target has forgotten it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from '../../host/cluster/cluster.ts';
import type { Socket } from '../../host/net/net.ts';
import { VIPA, TARGETS, smallConfig, until, ready, hangUp } from './harness.ts';

const SEED = Number(process.env.SHOAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${SEED} (SHOAL_SEED=${SEED} replays it)`);
const opts = { seed: SEED, limits: { tcpMslMs: 250 } };

/** Echo on the targets at VIPA ports 80 and 81. */
const config = () => smallConfig('roundrobin', { vipa: { ports: [80, 81] }, apps: [{ stacks: TARGETS, listen: ':80', serve: 'echo' }, { stacks: TARGETS, listen: ':81', serve: 'echo' }] });

async function withCluster(fn: (c: Cluster) => Promise<void>): Promise<void> {
  const c = await Cluster.create(config(), opts);
  try {
    await ready(c, TARGETS, 80);
    await ready(c, TARGETS, 81);
    await fn(c);
  } finally { await c.close(); }
}

/** Opens n connections to VIPA:port; resolves with the sockets and the stack each went to (from the CRT). */
async function open(c: Cluster, n: number, port = 80): Promise<{ socks: Socket[]; served: string[] }> {
  const client = c.stack('client');
  const socks = Array.from({ length: n }, () => client.net.connect({ host: VIPA, port }));
  await until('connected', () => socks.every((s) => s.info()?.state === 'ESTABLISHED'));
  const crt = c.routingTable(VIPA);
  const served = socks.map((s) => crt.find((e) => e.clientPort === s.info()!.localPort && e.port === port)?.stack ?? '?');
  return { socks, served };
}

/** Writes a line and resolves when the echo comes back. */
function roundTrip(sock: Socket, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => { got += d.toString(); if (got.includes(line)) { sock.off('data', onData); resolve(); } };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(line);
  });
}

/** Resolves with what fn rejected with; fails if it resolved. */
async function rejection(fn: () => Promise<unknown>): Promise<Error & { code?: string }> {
  try { await fn(); } catch (e) { return e as Error; }
  assert.unreachable('resolved');
  throw new Error('unreachable');
}

const row = (c: Cluster, stack: string, port: number) => c.portTable(VIPA).find((r) => r.stack === stack && r.port === port)!;

test('quiesce t1: the DPT shows it, new connections avoid it, its established one runs to its end; resume brings it back', async () => {
  await withCluster(async (c) => {
    const events: [string, object][] = [];
    c.on('quiesce', (e) => events.push(['quiesce', e]));
    c.on('resume', (e) => events.push(['resume', e]));
    const first = await open(c, 3);
    assert.equal([...first.served].sort(), TARGETS, 'one connection each before');
    const old = first.socks[first.served.indexOf('t1')];

    await c.quiesce('t1');
    await until('t1 quiesced in the DPT', () => row(c, 't1', 80).quiesced && row(c, 't1', 81).quiesced);
    assert.equal([row(c, 't1', 80).ready, row(c, 't1', 80).listeners], [false, 1]);
    assert.ok(row(c, 't2', 80).ready && !row(c, 't2', 80).quiesced);
    const during = await open(c, 6);
    assert.not.ok(during.served.includes('t1'), during.served.join(' '));
    assert.equal([...new Set(during.served)].sort(), ['t2', 't3']);

    await roundTrip(old, 'still served by t1');
    await hangUp(old);
    await until('its CRT entry gone', () => !c.routingTable(VIPA).some((e) => e.stack === 't1'));

    await c.resume('t1');
    await until('t1 ready again', () => row(c, 't1', 80).ready && !row(c, 't1', 80).quiesced && !row(c, 't1', 81).quiesced);
    const after = await open(c, 6);
    assert.ok(after.served.includes('t1'), after.served.join(' '));
    assert.equal(events, [['quiesce', { stack: 't1' }], ['resume', { stack: 't1' }]]);
    for (const s of [...first.socks, ...during.socks, ...after.socks]) s.destroy();
  });
});

test('quiesce one port: t2 takes no new connections on 81 and still serves 80', async () => {
  await withCluster(async (c) => {
    const events: object[] = [];
    c.on('quiesce', (e) => events.push(e));
    c.on('resume', (e) => events.push(e));
    await c.quiesce('t2', 81);
    await until('t2 quiesced on 81', () => row(c, 't2', 81).quiesced);
    assert.not.ok(row(c, 't2', 80).quiesced);
    assert.ok(row(c, 't2', 80).ready);
    const on81 = await open(c, 6, 81);
    assert.not.ok(on81.served.includes('t2'), on81.served.join(' '));
    const on80 = await open(c, 6, 80);
    assert.ok(on80.served.includes('t2'), on80.served.join(' '));
    await c.resume('t2', 81);
    await until('t2 ready on 81', () => row(c, 't2', 81).ready);
    assert.equal(events, [{ stack: 't2', port: 81 }, { stack: 't2', port: 81 }]);
    for (const s of [...on81.socks, ...on80.socks]) s.destroy();
  });
});

test('errors: an unknown stack, a stack that is down, a bad port; a restarted target has forgotten its quiesce', async () => {
  await withCluster(async (c) => {
    const unknown = await rejection(() => c.quiesce('t9'));
    assert.instance(unknown, RangeError);
    assert.match(unknown.message, /no stack "t9"/);
    assert.instance(await rejection(() => c.resume('t9', 80)), RangeError);
    for (const port of [0, 65536, 80.5]) assert.match((await rejection(() => c.quiesce('t1', port))).message, /port must be an integer/);
    await c.quiesce('t3');
    await until('t3 quiesced', () => row(c, 't3', 80).quiesced);
    await c.kill('t3');
    assert.is((await rejection(() => c.quiesce('t3'))).code, 'ESTACKDOWN');
    assert.is((await rejection(() => c.resume('t3'))).code, 'ESTACKDOWN');
    await c.start('t3');
    await until('t3 serves again after its restart', () => row(c, 't3', 80)?.ready === true && row(c, 't3', 81)?.ready === true, 10_000);
    assert.not.ok(row(c, 't3', 80).quiesced);
  });
});

test.run();
