// No single point of failure (issue 14), on the core's own terms: ranked
// backup routing stacks watch the owner's heartbeats, the best live one
// takes the VIPA over and rebuilds the CRT and the DPT from the targets'
// takeover reports, and no established connection notices; the routing
// stack takes it back when it returns; two owners resolve by rank; lossy
// control messages change nothing. (The Cluster's kill/start, events and
// the big transfers are in takeover-cluster.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Stack, ClusterEvent } from '../../host/stack.ts';
import type { Socket } from '../../host/net/net.ts';
import { Random } from '../../host/random.ts';
import { rig, ready, VIPA, KEY, type Rig } from './rig.ts';

const HB = 20;

function echo(s: Stack, port = 80) {
  const srv = s.net.createServer((c: Socket) => { c.on('data', (d: Buffer) => c.write(d)); c.on('end', () => c.end()); c.on('error', () => {}); });
  srv.listen(port);
  return srv;
}

/** A rig whose routing stack has ranked backups b1, b2… (10.0.0.2…), all watching; echo on the targets. */
async function withBackups(n: number, opts: { targets?: number; holdDown?: number; takeback?: 'immediate' | 'whenidle'; affinity?: number;
  delayable?: boolean; } = {}) {
  const k = rig(opts.targets ?? 2, { delayable: opts.delayable });
  const b = Array.from({ length: n }, (_, i) => {
    const s = k.stack(`b${i + 1}`, `10.0.0.${2 + i}`);
    s.clusterJoin({ key: KEY, holdDown: opts.holdDown });
    return s;
  });
  k.route({ backups: b.map((s) => s.localhost), takeback: opts.takeback, affinitySeconds: opts.affinity ?? 0 });
  k.t.forEach((t) => echo(t));
  await k.settle(() => ready(k.r).length === k.t.length, 'ready');
  await k.settle(() => b.every((s, i) => view(s)?.rank === i + 1), 'the backups know their ranks');
  return { k, b };
}

/** The routing stack comes back (a new instance at its address) and routes the VIPA again, waiting for the backup's word. */
function returning(k: Rig, b: Stack[], holdDown: number, takeback: 'immediate' | 'whenidle' = 'immediate', targets = k.t): Stack {
  const r = k.stack('r-again', k.r.localhost);
  r.clusterJoin({ key: KEY, holdDown });
  r.vipaRoute({ vipa: VIPA, ports: [{ lo: 80, hi: 80 }], method: 'roundrobin', backups: b.map((s) => s.localhost), affinitySeconds: 0,
    idleTimeoutSeconds: 900, crtSize: 1000, targets: targets.map((s) => ({ address: s.localhost, weight: 1 })), takeback, wait: true });
  return r;
}

function view(s: Stack) { return s.clusterView().find((v) => v.vipa === VIPA); }
function owns(s: Stack) { const v = view(s); return v?.role === 'routing' && !v.taking; }

async function connect(k: Rig, n: number): Promise<Socket[]> {
  const socks = Array.from({ length: n }, () => k.c.net.connect({ host: VIPA, port: 80 }));
  for (const s of socks) s.on('error', () => {});
  await k.settle(() => socks.every((s) => s.info()?.state === 'ESTABLISHED'), 'connected');
  return socks;
}

/** Every socket sends a token and gets it echoed back whole. */
async function echoAll(k: Rig, socks: Socket[], what: string): Promise<void> {
  const got = socks.map(() => '');
  const want = socks.map((_, i) => `${what}#${i};`);
  const on = socks.map((_, i) => (d: Buffer) => { got[i] += d.toString(); });
  socks.forEach((s, i) => { s.on('data', on[i]); s.write(want[i]); });
  await k.settle(() => got.every((g, i) => g === want[i]), what, 20_000);
  socks.forEach((s, i) => s.off('data', on[i]));
  assert.ok(socks.every((s) => s.info()?.state === 'ESTABLISHED'), `${what}: all still established`);
}

function events(s: Stack): ClusterEvent[] {
  const out: ClusterEvent[] = [];
  s.on('cluster', (e) => out.push(e));
  return out;
}

test('the routing stack dies: the first backup takes over within 3 intervals and its skew, rebuilds the CRT and the DPT from the targets, and every connection goes on', async () => {
  const { k, b: [b1, b2] } = await withBackups(2);
  const socks = await connect(k, 6);
  await echoAll(k, socks, 'before');
  const ev = events(b1), ev2 = events(b2);
  const t0 = k.clock.now();
  k.unplug(k.r);
  await k.settle(() => owns(b1), 'b1 routes the VIPA', 2000);
  const claim = ev.find((e) => e.kind === 'claim')!, done = ev.find((e) => e.kind === 'ready')!;
  assert.equal([claim.reason, claim.address], ['dead', k.r.localhost]);
  const took = k.clock.now() - t0;
  assert.ok(took <= 3 * HB + HB / 2 + 2 * HB, `claimed and rebuilt ${took} ms after the last heartbeat could come`);
  assert.is(done.entries, 6, 'every connection reported');
  assert.equal(b1.routingTable(VIPA).map((e) => e.origin), Array(6).fill('report'));
  assert.equal(b1.portTable(VIPA).map((d) => [d.target, d.ready, d.active]).sort(), k.t.map((t) => [t.localhost, true, 3]).sort());
  assert.ok(!ev2.some((e) => e.kind === 'claim'), 'the second backup did not move');
  assert.is(view(b2)!.owner, b1.localhost);
  await k.settle(() => k.t.every((t) => view(t)!.owner === b1.localhost), 'the targets follow');
  await echoAll(k, socks, 'after');
  assert.is(k.t.reduce((n, t) => n + t.stats().tcpRstTx, 0), 0, 'no target sent a RST');
  const more = await connect(k, 4);
  await echoAll(k, more, 'new');
  assert.is(b1.routingTable(VIPA).length, 10);
});

test('the second-ranked backup takes over when the first is dead too', async () => {
  const { k, b: [b1, b2] } = await withBackups(2);
  const socks = await connect(k, 4);
  const ev = events(b2);
  k.unplug(k.r);
  k.unplug(b1);
  await k.settle(() => owns(b2), 'b2 routes the VIPA', 2000);
  assert.is(ev.find((e) => e.kind === 'claim')!.reason, 'dead');
  await echoAll(k, socks, 'after');
});

test('datagrams of established connections that arrive before the reports are held, not reset, and delivered once they are in', async () => {
  const { k, b: [b1] } = await withBackups(1);
  const socks = await connect(k, 3);
  // The backup claims, but the targets' reports are held back for a while.
  let hold = true;
  k.cutControl((src, type) => hold && type === 6 && k.t.some((t) => t.localhost === src));
  k.unplug(k.r);
  await k.settle(() => view(b1)?.taking === true, 'b1 claims');
  // The client hears the gratuitous ARP first (what it sent before that went to the dead stack).
  await k.settle(() => false, 'the ARP', 2).catch(() => {});
  const echoed = socks.map(() => '');
  socks.forEach((s, i) => { s.on('data', (d: Buffer) => { echoed[i] += d.toString(); }); s.write(`held${i}`); });
  await k.settle(() => b1.stats().clusterHeld >= 3, 'held', 50);
  assert.ok(view(b1)!.taking, 'still taking over');
  hold = false;
  await k.settle(() => owns(b1), 'rebuilt');
  assert.is(b1.stats().clusterHeldDropped, 0);
  await k.settle(() => echoed.every((e, i) => e === `held${i}`), 'delivered');
  assert.is(b1.stats().tcpRstTx, 0);
  assert.ok(socks.every((s) => s.info()?.state === 'ESTABLISHED'));
});

test('takeback immediate: the routing stack returns, waits its hold-down, takes the VIPA back; the backup yields; nothing is lost', async () => {
  const { k, b: [b1] } = await withBackups(1, { holdDown: 300 });
  const socks = await connect(k, 4);
  k.unplug(k.r);
  await k.settle(() => owns(b1), 'b1 took over', 2000);
  await k.r.close();
  const ev1 = events(b1);
  const t0 = k.clock.now();
  const r = returning(k, [b1], 300);
  const ev = events(r);
  await k.settle(() => view(r)?.wanting === true, 'it hears the backup and waits');
  await k.settle(() => owns(r), 'taken back', 3000);
  assert.ok(k.clock.now() - t0 >= 300, 'not before the hold-down');
  assert.is(ev.find((e) => e.kind === 'claim')!.reason, 'takeback');
  assert.equal(ev1.filter((e) => e.kind === 'yield').map((e) => [e.address, e.reason]), [[r.localhost, 'takeback']]);
  assert.is(view(b1)!.role, 'none');
  assert.is(r.routingTable(VIPA).length, 4);
  await echoAll(k, socks, 'after the takeback');
});

test('a routing stack that returns with a new config keeps it: the backup\'s announcement of the old one does not overwrite it', async () => {
  const { k, b: [b1] } = await withBackups(1);
  k.unplug(k.r);
  await k.settle(() => owns(b1), 'b1 took over', 2000);
  await k.r.close();
  // A hold-down longer than the backup's announcement period: its announcements come while the routing stack waits.
  const r = returning(k, [b1], 1500, 'immediate', [k.t[0]]);
  await k.settle(() => owns(r), 'taken back', 5000);
  assert.equal(view(r)!.targets, [k.t[0].localhost]);
  await k.settle(() => view(k.t[1])?.role === 'none', 'the target left out learns it');
  assert.equal(view(b1)!.targets, [k.t[0].localhost]);
});

test('takeback when idle: the backup keeps the VIPA while it has connections, and gives it back when they end', async () => {
  const { k, b: [b1] } = await withBackups(1, { holdDown: 100, takeback: 'whenidle' });
  const socks = await connect(k, 2);
  k.unplug(k.r);
  await k.settle(() => owns(b1), 'b1 took over', 2000);
  await k.r.close();
  const r = returning(k, [b1], 100, 'whenidle');
  await k.settle(() => view(r)?.wanting === true, 'it waits');
  await k.settle(() => false, 'a while', 1000).catch(() => {});
  assert.ok(owns(b1), 'the backup keeps it while it has connections');
  await echoAll(k, socks, 'still through the backup');
  let closed = 0;
  socks.forEach((s) => { s.on('close', () => closed++); s.resume(); s.end(); });
  await k.settle(() => closed === 2, 'closed');
  await k.settle(() => owns(r), 'given back once idle', 5000);
  assert.is(view(b1)!.role, 'none');
  const more = await connect(k, 2);
  await echoAll(k, more, 'through the routing stack again');
});

test('split brain: two owners after a partition of the control messages resolve by rank, and no connection either routed is lost', async () => {
  const { k, b: [b1] } = await withBackups(1);
  const before = await connect(k, 3);
  const ev = events(b1), evr = events(k.r);
  // b1 hears nothing from r: it takes the VIPA over while r still routes.
  k.cutControl((src) => src === k.r.localhost);
  await k.settle(() => owns(b1), 'b1 claims too', 2000);
  assert.ok(view(k.r)!.role === 'routing', 'r never stopped');
  const during = await connect(k, 3);
  k.cutControl(null);
  await k.settle(() => view(b1)!.role !== 'routing' && owns(k.r), 'the better rank keeps it', 2000);
  assert.equal(ev.filter((e) => e.kind === 'yield').map((e) => e.reason), ['split-brain']);
  assert.ok(evr.some((e) => e.kind === 'claim' && e.reason === 'split-brain'), 'r asked the targets again');
  await k.settle(() => k.r.routingTable(VIPA).length === 6, 'r knows every connection');
  await echoAll(k, [...before, ...during], 'after');
});

test('what a stack held while it took a VIPA over is dropped, not reset, when it yields before routing it', async () => {
  const { k, b: [b1] } = await withBackups(1);
  // r and b1 hear nothing of each other, and b1 no report: b1 claims and stays taking over, holding what comes.
  k.cutControl((src, type) => src === k.r.localhost || src === b1.localhost || type === 6);
  await k.settle(() => view(b1)?.taking === true, 'b1 claims');
  await k.settle(() => false, 'the ARP', 2).catch(() => {});
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  const errors: string[] = [];
  s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code!));
  await k.settle(() => b1.stats().clusterHeld >= 1, 'the SYN held', 50);
  k.cutControl(null);
  await k.settle(() => view(b1)!.role !== 'routing', 'b1 yields to r');
  await k.settle(() => s.info()?.state === 'ESTABLISHED', 'the client connects through r', 5000);
  assert.equal(errors, []);
  assert.is(b1.stats().tcpRstTx, 0);
  assert.ok(b1.stats().clusterHeldDropped >= 1);
});

test('flapping: 30 % loss on the control messages, a burst of them lost, and a burst of delay move no VIPA', async () => {
  const { k, b: [b1, b2] } = await withBackups(2, { delayable: true });
  const socks = await connect(k, 2);
  const seed = Number(process.env.SHOAL_SEED ?? (Date.now() ^ 0x5eed) >>> 0);
  console.log(`  control-message loss seed ${seed} (SHOAL_SEED replays it)`);
  const evs: string[] = [];
  for (const s of [k.r, b1, b2]) s.on('cluster', (e) => evs.push(`${k.clock.now().toFixed(0)} ${s.localhost} ${e.kind} ${e.reason ?? ''} ${e.address}`));
  const rnd = new Random(seed);
  k.cutControl(() => rnd.next() < 0.3);
  await k.settle(() => false, '5 s of loss', 5000).catch(() => {});
  // A burst: every control message lost for under the dead interval.
  k.cutControl(() => true);
  await k.settle(() => false, 'a burst', 2 * HB).catch(() => {});
  k.cutControl(null);
  await k.settle(() => false, 'after', 500).catch(() => {});
  // A burst of delay: for a second, everything the routing stack sends comes 50 ms late (a gap under the dead interval).
  k.delayRouting(50);
  await k.settle(() => false, 'delayed', 1000).catch(() => {});
  k.delayRouting(0);
  await k.settle(() => false, 'after', 500).catch(() => {});
  for (const s of [k.r, b1, b2]) assert.is(s.stats().clusterTakeovers, s === k.r ? 1 : 0, `${s.localhost}: claims (seed ${seed}): ${evs.join('; ')}`);
  assert.ok(owns(k.r));
  await echoAll(k, socks, 'through');
});

test('outbound connections from the VIPA and timed affinities survive a takeover', async () => {
  const { k, b: [b1] } = await withBackups(1, { affinity: 60 });
  // An outbound connection from a target, on its share of the ports, to a server on the client stack.
  const got: string[] = [];
  const srv = k.c.net.createServer((c: Socket) => { c.on('data', (d: Buffer) => { got.push(d.toString()); c.write(d); }); c.on('error', () => {}); });
  srv.listen(9000);
  const out = k.t[0].net.connect({ host: k.c.localhost, port: 9000, localAddress: VIPA });
  out.on('error', () => {});
  await k.settle(() => out.info()?.state === 'ESTABLISHED', 'outbound connected');
  // A client's connection ends: its target is remembered for 60 s.
  const [first] = await connect(k, 1);
  const target = k.r.routingTable(VIPA).find((e) => e.clientPort === first.info()!.localPort)!.target;
  let closed = false;
  first.on('close', () => { closed = true; });
  first.resume();
  first.end();
  await k.settle(() => closed, 'closed');
  await k.settle(() => k.r.routingTable(VIPA).length === 1, 'its entry gone, the outbound one left');
  k.unplug(k.r);
  await k.settle(() => owns(b1), 'b1 took over', 2000);
  let echoed = '';
  out.on('data', (d: Buffer) => { echoed += d.toString(); });
  out.write('still mine');
  await k.settle(() => echoed === 'still mine', 'the outbound connection goes on');
  const again = await connect(k, 4);
  const targets = again.map((s) => b1.routingTable(VIPA).find((e) => e.clientPort === s.info()!.localPort)!.target);
  assert.equal(targets, Array(4).fill(target), 'the client stays with its target');
});

test('misuse: a heartbeat interval or hold-down out of range, a target id out of range, are refused with the reason', () => {
  const k = rig(1);
  const s = k.stack('x', '10.0.0.40');
  assert.throws(() => s.clusterJoin({ key: KEY, heartbeatInterval: 2 }), /heartbeatInterval/);
  assert.throws(() => s.clusterJoin({ key: KEY, heartbeatInterval: 20_000 }), /heartbeatInterval/);
  assert.throws(() => s.clusterJoin({ key: KEY, holdDown: -1 }), /holdDown/);
  assert.throws(() => k.route({ targets: [{ address: k.t[0].localhost, weight: 1, id: 256 }] }), /target id 256/);
  assert.throws(() => k.route({ targets: [{ address: k.t[0].localhost, weight: 1, id: 0 }] }), /target id 0/);
});

test.run();
