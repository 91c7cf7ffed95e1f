// The routing stack (issue 13, items 2-7): announcements, ownership of the
// VIPA on the wire, listen → status → DPT, SYN → CRT entry → a target
// serves, later packets follow their entry, replies go straight from the
// target, and the routing stack may serve itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Stack } from '../../host/stack.ts';
import type { Socket } from '../../host/net/net.ts';
import { arpRequest } from '../helpers/frames.ts';
import { rig, ready, VIPA, KEY, RAW_IP, RAW_MAC } from './rig.ts';

/** A server on s answering each connection with s's name, then closing. */
function hello(s: Stack, port = 80, host?: string) {
  const srv = s.net.createServer((c: Socket) => { c.on('data', () => c.end(s.name)); c.on('error', () => {}); });
  srv.listen(port, host);
  return srv;
}

/** One request to VIPA:port from the client; resolves with the answer (or the error's code). */
function ask(c: Stack, port = 80): { done: boolean; answer: string; error: string } {
  const st = { done: false, answer: '', error: '' };
  const s = c.net.connect({ host: VIPA, port });
  s.on('connect', () => s.write('hi'));
  s.on('data', (d: Buffer) => { st.answer += d.toString(); });
  s.on('error', (e: NodeJS.ErrnoException) => { st.error = e.code ?? 'error'; st.done = true; });
  s.on('close', () => { st.done = true; });
  return st;
}

test('announcement: every joined stack learns the VIPA, a late one too, and can say who routes it', async () => {
  const k = rig(2);
  k.route({ backups: ['10.0.0.2'] });
  await k.settle(() => k.t.every((t) => t.clusterView().length === 1), 'targets learn');
  const v = k.t[0].clusterView()[0];
  assert.equal(v, { vipa: VIPA, routing: '10.0.0.1', backups: ['10.0.0.2'], targets: ['10.0.0.11', '10.0.0.12'],
    ports: [{ lo: 80, hi: 80 }], role: 'target', owner: '10.0.0.1', rank: null, taking: false, wanting: false });
  assert.is(k.r.clusterView()[0].role, 'routing');
  const late = k.stack('late', '10.0.0.30');
  late.clusterJoin({ key: KEY });
  const t0 = k.clock.now();
  await k.settle(() => late.clusterView().length === 1, 'a late stack learns it from the periodic announcement', 3000);
  assert.ok(k.clock.now() - t0 <= 1100);
  assert.is(late.clusterView()[0].role, 'none');
  assert.is(late.clusterView()[0].routing, '10.0.0.1');
});

test('ownership: only the routing stack answers ARP for the VIPA (a gratuitous ARP as it takes it); targets never', async () => {
  const k = rig(2);
  k.route();
  await k.settle(() => k.t.every((t) => t.clusterView().length === 1), 'learned');
  const grat = k.raw.rx.filter((p) => p.arp && p.arp.spa === VIPA && p.arp.tpa === VIPA);
  assert.is(grat.length, 1, 'one gratuitous ARP');
  assert.is(grat[0].src, k.r.macs[0]);
  k.raw.rx.length = 0;
  k.raw.send(arpRequest(RAW_MAC, RAW_IP, VIPA));
  await k.settle(() => k.raw.rx.some((p) => p.arp?.op === 2), 'an ARP reply');
  await k.settle(() => false, 'quiet', 50).catch(() => {});
  const replies = k.raw.rx.filter((p) => p.arp?.op === 2 && p.arp.spa === VIPA);
  assert.is(replies.length, 1);
  assert.is(replies[0].arp!.sha, k.r.macs[0], 'from the routing stack');
  for (const t of k.t) assert.ok(t.stats().arpNotForUs >= 1, `${t.name} holds the VIPA but does not answer`);
});

test('listen → status → ready in the DPT; close → withdrawn; a listener on the VIPA itself counts too', async () => {
  const k = rig(2);
  k.route();
  await k.settle(() => k.t.every((t) => t.clusterView().length === 1), 'learned');
  assert.equal(ready(k.r), []);
  const s1 = hello(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'status from t1', 100);
  assert.equal(ready(k.r), ['10.0.0.11']);
  const s2 = hello(k.t[1], 80, VIPA);
  await k.settle(() => ready(k.r).length === 2, 'status from t2', 100);
  const row = k.r.portTable(VIPA).find((d) => d.target === '10.0.0.12')!;
  assert.equal({ listeners: row.listeners, weight: row.weight, health: row.health, total: row.total },
    { listeners: 1, weight: 1, health: 'ok', total: 0 });
  s1.close();
  await k.settle(() => ready(k.r).length === 1, 'withdrawn', 100);
  assert.equal(ready(k.r), ['10.0.0.12']);
  s2.close();
  await k.settle(() => ready(k.r).length === 0, 'both withdrawn', 100);
});

test('SYN → CRT entry → a target serves; round robin; later packets follow; replies go straight from the target', async () => {
  const k = rig(2);
  k.route();
  k.t.forEach((t) => hello(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const asks = [0, 1, 2, 3].map(() => ask(k.c));
  await k.settle(() => asks.every((a) => a.done), 'answers');
  assert.equal(asks.map((a) => a.answer).sort(), ['t1', 't1', 't2', 't2']);
  const st = k.r.stats();
  assert.ok(st.clusterForwarded >= 4 * 4, `every client segment forwarded (${st.clusterForwarded})`);
  assert.is(st.tcpTx, 0, 'the routing stack sent no TCP segment: the replies did not cross it');
  assert.is(st.tcpRx, 0, 'nor took one in');
  const t1 = k.t[0].stats();
  assert.ok(t1.clusterDecap >= 8);
  assert.ok(t1.tcpTx >= 6, 'the target answered itself');
  const rows = k.r.portTable(VIPA);
  assert.equal(rows.map((d) => [d.target, d.total, d.synsForwarded, d.established]).sort(),
    [['10.0.0.11', 2, 2, 2], ['10.0.0.12', 2, 2, 2]]);
  // The client's view: the VIPA answered, from the VIPA.
  assert.is(k.c.stats().tcpConnect, 4);
});

test('the CRT holds each connection while it lives, with its target, and frames follow it', async () => {
  const k = rig(2);
  k.route();
  k.t.forEach((t) => t.net.createServer((s: Socket) => { s.on('data', (d: Buffer) => s.write(d)); }).listen(80));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  let got = '';
  s.on('data', (d: Buffer) => { got += d.toString(); });
  await k.settle(() => k.r.routingTable(VIPA).length === 1 && k.r.routingTable(VIPA)[0].state === 'established', 'an entry');
  const e = k.r.routingTable(VIPA)[0];
  assert.equal({ client: e.client, port: e.port, origin: e.origin, vipa: e.vipa }, { client: '10.0.0.9', port: 80, origin: 'syn', vipa: VIPA });
  assert.is(e.clientPort, s.localPort);
  const serving = k.t.find((t) => t.localhost === e.target)!;
  for (let i = 0; i < 5; i++) s.write(`m${i};`);
  await k.settle(() => got.length === 15, 'echoes');
  assert.is(got, 'm0;m1;m2;m3;m4;');
  const other = k.t.find((t) => t !== serving)!;
  assert.is(other.stats().clusterDecap, 0, 'the other target saw none of it');
  assert.ok(k.r.routingTable(VIPA)[0].frames > e.frames);
  s.destroy();
});

test('timed affinity: a client\'s new connections go to the target of its last one, until the time after it ended runs out', async () => {
  const k = rig(2);
  k.route({ affinitySeconds: 30 });
  k.t.forEach((t) => hello(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const answers: string[] = [];
  for (let i = 0; i < 4; i++) {
    const a = ask(k.c);
    await k.settle(() => a.done, 'an answer');
    answers.push(a.answer);
  }
  assert.equal(new Set(answers).size, 1, `one target for all (${answers})`);
  const t0 = k.clock.now();
  await k.settle(() => k.clock.now() - t0 > 40_000, 'the affinity time', 50_000);
  const later: string[] = [];
  for (let i = 0; i < 2; i++) {
    const a = ask(k.c);
    await k.settle(() => a.done, 'an answer');
    later.push(a.answer);
  }
  assert.ok(later.includes(answers[0] === 't1' ? 't2' : 't1'), `round robin again once it ran out (${later})`);
});

test('a listener withdrawn mid-traffic: its established connections go on, new ones go to the others', async () => {
  const k = rig(2);
  k.route();
  const srvs = k.t.map((t) => t.net.createServer((c: Socket) => { c.on('data', (d: Buffer) => c.write(d)); c.on('error', () => {}); }));
  srvs.forEach((srv) => srv.listen(80));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const socks = [0, 1].map(() => k.c.net.connect({ host: VIPA, port: 80 }));
  const errs: string[] = [];
  socks.forEach((s) => s.on('error', (e) => { errs.push(`${s.localPort} ${e.message} at ${k.clock.now()}`); }));
  await k.settle(() => socks.every((s) => s.info()?.state === 'ESTABLISHED'), 'connected');
  await k.settle(() => k.r.routingTable(VIPA).length === 2 && k.t.every((t) => t.stats().tcpAccept === 1), 'accepted');
  const t1Port = k.r.routingTable(VIPA).find((e) => e.target === '10.0.0.11')!.clientPort;
  const onT1 = socks.find((s) => s.localPort === t1Port)!;
  srvs[0].close();
  await k.settle(() => ready(k.r).length === 1, 'withdrawn');
  let got = '';
  onT1.on('data', (d: Buffer) => { got += d; });
  onT1.write('still');
  await k.settle(() => got === 'still', 'the established connection to the withdrawn target still served').catch((e) => { throw new Error(`${e.message}: ${errs}`); });
  const more = [0, 1, 2].map(() => ask(k.c));
  await k.settle(() => more.every((a) => a.answer === 'hi'), 'new ones echoed');
  assert.is(k.r.portTable(VIPA).find((d) => d.target === '10.0.0.11')!.total, 1, 'no new connection to the withdrawn one');
  socks.forEach((s) => s.destroy());
});

/** 30 connections through the routing stack by method; how many each target served. */
async function spread(method: 'weighted' | 'leastconn' | 'hotstandby' | 'hash', weights = [1, 1, 1]): Promise<Record<string, number>> {
  const k = rig(3);
  k.route({ method, targets: k.t.map((t, i) => ({ address: t.localhost, weight: weights[i] })) });
  k.t.forEach((t) => t.net.createServer((c: Socket) => { c.on('error', () => {}); }).listen(80));
  await k.settle(() => ready(k.r).length === 3, 'ready');
  const socks = Array.from({ length: 30 }, () => k.c.net.connect({ host: VIPA, port: 80 }));
  await k.settle(() => socks.every((s) => s.info()?.state === 'ESTABLISHED'), 'connected');
  const n: Record<string, number> = {};
  for (const d of k.r.portTable(VIPA)) n[d.target] = d.active;
  socks.forEach((s) => s.destroy());
  return n;
}

test('methods through the routing stack: weighted keeps active connections in proportion, hotstandby uses the preferred one, hash one target per client', async () => {
  assert.equal(await spread('weighted', [1, 2, 3]), { '10.0.0.11': 5, '10.0.0.12': 10, '10.0.0.13': 15 });
  assert.equal(await spread('leastconn'), { '10.0.0.11': 10, '10.0.0.12': 10, '10.0.0.13': 10 });
  assert.equal(await spread('hotstandby'), { '10.0.0.11': 30, '10.0.0.12': 0, '10.0.0.13': 0 });
  const h = await spread('hash');
  assert.equal(Object.values(h).sort(), [0, 0, 30], 'one client address: one target');
});

test('the routing stack may itself be a target: local delivery, no encapsulation', async () => {
  const k = rig(1);
  k.route({ targets: [{ address: '10.0.0.1', weight: 1 }] });
  hello(k.r);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const a = ask(k.c);
  await k.settle(() => a.done, 'answer');
  assert.is(a.answer, 'r');
  assert.is(k.r.stats().clusterForwarded, 0);
  assert.ok(k.r.stats().clusterLocal >= 3);
});

test('no ready target: the client gets ECONNREFUSED (a RST, as a closed port sends)', async () => {
  const k = rig(1);
  k.route();
  await k.settle(() => k.t[0].clusterView().length === 1, 'learned');
  const a = ask(k.c);
  await k.settle(() => a.done, 'refused');
  assert.is(a.error, 'ECONNREFUSED');
  assert.is(k.r.stats().clusterNoTarget, 1);
  assert.is(k.r.routingTable(VIPA).length, 0);
  // A port outside the VIPA's: RFC 9293's answer from the routing stack's own TCP.
  const b = ask(k.c, 81);
  await k.settle(() => b.done, 'refused');
  assert.is(b.error, 'ECONNREFUSED');
  assert.is(k.r.stats().tcpNoPort, 1);
});

test('the same with a wildcard listener on a routing stack that is no target: it does not take the VIPA\'s SYN', async () => {
  const k = rig(1);
  k.route();
  hello(k.r);
  await k.settle(() => k.t[0].clusterView().length === 1, 'learned');
  const a = ask(k.c);
  await k.settle(() => a.done, 'refused');
  assert.is(a.error, 'ECONNREFUSED');
});

test('a client port reused while the target still holds the old connection in TIME-WAIT: the new one is served, its CRT entry kept', async () => {
  const k = rig(1);
  k.route();
  await k.settle(() => k.t[0].clusterView().length === 1, 'learned');
  hello(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const once = () => {
    const st = { done: false, answer: '', error: '' };
    const s = k.c.net.connect({ host: VIPA, port: 80, localPort: 40000 });
    s.on('connect', () => s.write('hi'));
    s.on('data', (d: Buffer) => { st.answer += d.toString(); s.end(); });
    s.on('error', (e: NodeJS.ErrnoException) => { st.error = e.code ?? 'error'; st.done = true; });
    s.on('close', () => { st.done = true; });
    return st;
  };
  const first = once();
  await k.settle(() => first.done, 'first answer');
  assert.equal([first.answer, first.error], ['t1', '']);
  // The target closed first: it holds the tuple in TIME-WAIT; the same client port comes back at once (RFC 6191).
  await k.settle(() => k.t[0].stats().tcpTimeWait > 0, 'TIME-WAIT on the target', 1000).catch(() => {});
  const rst0 = k.r.stats().tcpRstTx;
  const second = once();
  await k.settle(() => second.done, 'second answer');
  assert.equal([second.answer, second.error], ['t1', ''], 'served, not reset');
  assert.is(k.r.stats().tcpRstTx, rst0, 'the routing stack sent no reset');
  assert.is(k.r.stats().clusterEnded, 0, 'no end for the recycled TIME-WAIT');
});

test('a DPT with no room for a target counts it (clusterDptFull) and keeps the targets it has', async () => {
  const k = rig(2, { limits: { dptTargets: 1 } });
  k.route();
  await k.settle(() => k.t.every((t) => t.clusterView().length === 1), 'learned');
  hello(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 't1 ready');
  hello(k.t[1]);
  await k.settle(() => k.r.stats().clusterDptFull > 0, 'the second target refused, counted');
  assert.equal(ready(k.r), ['10.0.0.11']);
});

test.run();
