// Changes at run time without drops (issue 13, item 14): a target, a port or
// a VIPA added or removed while connections carry data. Each established
// connection is echoed before and after the change and ends cleanly; a
// removed target drains (its connections run to their end, it gets no new
// ones), a withdrawn VIPA is released with its last entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Stack } from '../../host/stack.ts';
import type { Socket } from '../../host/net/net.ts';
import { arpRequest } from '../helpers/frames.ts';
import { rig, ready, VIPA, RAW_IP, RAW_MAC, type Rig } from './rig.ts';

const VIPA2 = '10.0.0.101';

function echo(s: Stack, port = 80) {
  s.net.createServer((c: Socket) => { c.on('data', (d: Buffer) => c.write(d)); c.on('end', () => c.end()); c.on('error', () => {}); }).listen(port);
}

interface Conn { s: Socket; got: number; sent: number; closed: boolean; error: string }

/** A client connection to host:port, counting the bytes echoed back. */
function connect(k: Rig, port = 80, host = VIPA): Conn {
  const s = k.c.net.connect({ host, port });
  const c: Conn = { s, got: 0, sent: 0, closed: false, error: '' };
  s.on('data', (d: Buffer) => { c.got += d.length; });
  s.on('error', (e: NodeJS.ErrnoException) => { c.error = e.code ?? 'error'; });
  s.on('close', () => { c.closed = true; });
  return c;
}

/** Writes n bytes on every connection and waits for all of them to come back. */
async function echoAll(k: Rig, cs: Conn[], what: string, n = 3000): Promise<void> {
  for (const c of cs) { c.s.write(Buffer.alloc(n, 0x61)); c.sent += n; }
  await k.settle(() => cs.every((c) => c.got === c.sent), what);
}

/** Ends every connection and waits until each is closed without an error. */
async function endAll(k: Rig, cs: Conn[]): Promise<void> {
  for (const c of cs) c.s.end();
  await k.settle(() => cs.every((c) => c.closed), 'closed');
  assert.equal(cs.map((c) => c.error), cs.map(() => ''), 'no errors');
}

/** The target address each connection's CRT entry names. */
function targetOf(k: Rig, c: Conn, vipa = VIPA): string | undefined {
  return k.r.routingTable(vipa).find((e) => e.clientPort === c.s.localPort)?.target;
}

async function refused(k: Rig, port = 80, host = VIPA): Promise<void> {
  const c = connect(k, port, host);
  await k.settle(() => c.error !== '', `a new connection to ${host}:${port} refused`);
  assert.is(c.error, 'ECONNREFUSED');
}

test('a removed target drains: its connections carry data to their end, it gets no new ones, then lets the VIPA go', async () => {
  const k = rig(2);
  const [t1, t2] = k.t;
  k.route();
  k.t.forEach((t) => echo(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const cs = [0, 1, 2, 3].map(() => connect(k));
  await echoAll(k, cs, 'echoed before');
  const on1 = cs.filter((c) => targetOf(k, c) === t1.localhost);
  assert.is(on1.length, 2, 'two connections on t1');
  k.route({ targets: [{ address: t2.localhost, weight: 1 }] });
  await k.settle(() => t1.clusterView()[0]?.targets.length === 2, 't1 hears it still serves, draining');
  assert.is(t1.clusterView()[0].role, 'target');
  assert.equal(ready(k.r), [t2.localhost], 't1 is no longer ready');
  await echoAll(k, cs, 'echoed after, t1\'s too', 20_000);
  const more = [0, 1, 2].map(() => connect(k));
  await echoAll(k, more, 'new connections served');
  assert.ok(more.every((c) => targetOf(k, c) === t2.localhost), 'all new connections to t2');
  // A draining target makes no outbound connection from the VIPA either.
  const out = t1.net.connect({ host: '10.0.0.9', port: 8080, localAddress: VIPA });
  let outErr = '';
  out.on('error', (e: NodeJS.ErrnoException) => { outErr = e.code ?? 'error'; });
  await k.settle(() => outErr !== '', 'outbound refused');
  assert.is(outErr, 'EADDRNOTAVAIL');
  await endAll(k, on1);
  await k.settle(() => t1.clusterView()[0]?.role === 'none', 't1 let the VIPA go', 3000);
  assert.equal(k.r.clusterView()[0].targets, [t2.localhost]);
  await echoAll(k, cs.filter((c) => !on1.includes(c)).concat(more), 't2\'s still served');
  await endAll(k, cs.filter((c) => !on1.includes(c)).concat(more));
  await k.settle(() => k.r.routingTable(VIPA).length === 0, 'the CRT empty');
  assert.is(k.r.stats().clusterCrtExpired, 0, 'every entry ended by its end message');
});

test('a removed port: connections on it carry data to their end; a new SYN to it is refused', async () => {
  const k = rig(1);
  k.route({ ports: [{ lo: 80, hi: 81 }] });
  echo(k.t[0], 80); echo(k.t[0], 81);
  await k.settle(() => ready(k.r, 81).length === 1, 'ready');
  const cs = [connect(k, 80), connect(k, 81)];
  await echoAll(k, cs, 'echoed before');
  k.route({ ports: [{ lo: 80, hi: 80 }] });
  await echoAll(k, cs, 'echoed after, on 81 too', 20_000);
  await refused(k, 81);
  await echoAll(k, [connect(k, 80)], 'port 80 still served');
  await endAll(k, cs);
  await k.settle(() => k.r.routingTable(VIPA).length === 1, 'their entries ended');
});

test('a withdrawn VIPA: its connections run to their end, a new SYN gets a RST, the address goes with the last entry', async () => {
  const k = rig(2);
  k.route();
  k.t.forEach((t) => echo(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const cs = [0, 1, 2].map(() => connect(k));
  await echoAll(k, cs, 'echoed before');
  k.r.vipaUnroute(VIPA);
  await echoAll(k, cs, 'echoed after', 20_000);
  await refused(k);
  assert.ok(k.r.stats().clusterNoTarget >= 1, 'refused by the routing stack');
  assert.is(k.r.clusterView()[0].role, 'routing', 'still held for its connections');
  await endAll(k, cs);
  await k.settle(() => k.r.clusterView().length === 0, 'released', 3000);
  await k.settle(() => k.t.every((t) => t.clusterView().length === 0), 'the targets let it go too', 3000);
  k.raw.rx.length = 0;
  k.raw.send(arpRequest(RAW_MAC, RAW_IP, VIPA));
  await k.settle(() => false, 'quiet', 200).catch(() => {});
  assert.ok(!k.raw.rx.some((p) => p.arp?.op === 2 && p.arp.spa === VIPA), 'no one answers ARP for it');
});

test('a withdrawn VIPA whose last target dies is released too', async () => {
  const k = rig(1);
  k.route({ idleTimeoutSeconds: 5 });
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const c = connect(k);
  await echoAll(k, [c], 'echoed');
  k.r.vipaUnroute(VIPA);
  // The target goes away without a word: no end message, no reports, no heartbeats; the routing stack gives it up.
  await k.t[0].close();
  c.s.destroy();
  await k.settle(() => k.r.clusterView().length === 0, 'released', 300_000);
  assert.is(k.r.stats().clusterTargetsLost, 1);
});

test('an added target, port and VIPA take new connections at once; the established ones carry on', async () => {
  const k = rig(2);
  const [t1, t2] = k.t;
  k.route({ targets: [{ address: t1.localhost, weight: 1 }] });
  k.t.forEach((t) => { echo(t, 80); echo(t, 81); });
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const cs = [connect(k), connect(k)];
  await echoAll(k, cs, 'echoed before');
  k.route({ ports: [{ lo: 80, hi: 81 }] });
  k.route({ vipa: VIPA2 });
  await k.settle(() => ready(k.r).length === 2 && ready(k.r, 81).length === 2, 't2 and port 81 ready');
  await echoAll(k, cs, 'echoed after', 20_000);
  const more = [connect(k), connect(k), connect(k, 81), connect(k, 80, VIPA2)];
  await echoAll(k, more, 'new connections served');
  assert.ok(more.slice(0, 2).some((c) => targetOf(k, c) === t2.localhost), 't2 takes new connections');
  assert.ok(targetOf(k, more[3], VIPA2), 'the new VIPA has its entry');
  await endAll(k, cs.concat(more));
  await k.settle(() => k.r.routingTable(VIPA).length + k.r.routingTable(VIPA2).length === 0, 'the CRT empty');
});

test.run();
