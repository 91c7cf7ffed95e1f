// The routing stack's connections from end to end (issue 13, items 8-10, 12,
// 13): the MSS a target advertises for the VIPA, ICMP fragmentation needed
// for what cannot be forwarded, end messages and idle expiry, the CRT's
// bound, outbound connections from the VIPA, health from the data path, and
// the control messages and IP-in-IP the cluster refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Stack } from '../../host/stack.ts';
import type { Socket } from '../../host/net/net.ts';
import { ipv4, udp, tcpSegment, parse, PROTO_IPIP, PROTO_UDP, PROTO_TCP, TH_SYN, type Parsed } from '../helpers/frames.ts';
import { rig, ready, VIPA, RAW_IP } from './rig.ts';

const VIPA2 = '10.0.0.101';

function echo(s: Stack, port = 80) {
  const srv = s.net.createServer((c: Socket) => { c.on('data', (d: Buffer) => c.write(d)); c.on('end', () => c.end()); c.on('error', () => {}); });
  srv.listen(port);
  return srv;
}

function mac(s: Stack): string { return s.macs[0]; }

test('MSS: a target advertises 20 bytes less for the VIPA, room for the outer header; a client segment never needs fragmenting', async () => {
  const k = rig(1);
  k.route();
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  await k.settle(() => s.info()?.state === 'ESTABLISHED', 'connected');
  const direct = k.c.net.connect({ host: k.t[0].localhost, port: 80 });
  await k.settle(() => direct.info()?.state === 'ESTABLISHED', 'connected directly');
  assert.is(s.info()!.mss, direct.info()!.mss - 20, 'the client sends 20 bytes less to the VIPA');
  const big = Buffer.alloc(60_000, 0x5a);
  let got = 0;
  s.on('data', (d: Buffer) => { got += d.length; });
  s.write(big);
  await k.settle(() => got === big.length, 'a bulk echo through the VIPA');
  assert.is(k.r.stats().clusterTooBig, 0);
  assert.is(k.r.stats().ipFragTx, 0);
  s.destroy(); direct.destroy();
});

test('a DF datagram that cannot fit once encapsulated: ICMP fragmentation needed from the routing stack, with the MTU less 20', async () => {
  const k = rig(1);
  k.route();
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const seg = tcpSegment({ src: RAW_IP, dst: VIPA, sport: 4000, dport: 80, seq: 1, ack: 0, flags: TH_SYN, payload: new Uint8Array(1460) });
  k.raw.ip(mac(k.r), ipv4({ src: RAW_IP, dst: VIPA, proto: PROTO_TCP, df: true, payload: seg }));
  await k.settle(() => k.raw.rx.some((p) => p.icmp !== undefined), 'an ICMP error');
  const e = k.raw.rx.find((p) => p.icmp)!;
  assert.equal({ type: e.icmp!.type, code: e.icmp!.code, mtu: e.icmp!.seq, src: e.ip!.src }, { type: 3, code: 4, mtu: 1480, src: VIPA });
  assert.is(k.r.stats().clusterTooBig, 1);
  assert.is(k.t[0].stats().clusterDecap, 0, 'nothing forwarded');
});

test('connection end: the target\'s end message removes the entry, and the DPT\'s active count with it; the CRT is empty once all close', async () => {
  const k = rig(2);
  k.route();
  k.t.forEach((t) => echo(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const socks = [0, 1, 2, 3, 4, 5].map(() => k.c.net.connect({ host: VIPA, port: 80 }));
  await k.settle(() => socks.every((s) => s.info()?.state === 'ESTABLISHED'), 'connected');
  await k.settle(() => k.r.routingTable(VIPA).length === 6, 'six entries');
  assert.equal(k.r.portTable(VIPA).map((d) => d.active), [3, 3]);
  let closed = 0;
  socks.forEach((s) => { s.on('close', () => closed++); s.resume(); s.end(); });
  await k.settle(() => closed === 6, 'closed');
  // The client closed first: the targets' ends come as their side is released (LAST-ACK acknowledged).
  await k.settle(() => k.r.routingTable(VIPA).length === 0, 'the CRT empty', 2000);
  assert.is(k.r.stats().clusterEnded, 6);
  assert.equal(k.r.portTable(VIPA).map((d) => [d.active, d.total]), [[0, 3], [0, 3]]);
});

test('a lost end message leaks no entry for good: idle expiry removes it', async () => {
  const k = rig(1);
  k.route({ idleTimeoutSeconds: 5 });
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  await k.settle(() => k.r.routingTable(VIPA)[0]?.state === 'established', 'an established entry');
  // The connection ends, but the target's end message (type 5) never arrives.
  k.cutControl((_src, type) => type === 5);
  let closed = false;
  s.on('close', () => { closed = true; });
  s.resume();
  s.end();
  await k.settle(() => closed, 'closed');
  assert.is(k.r.routingTable(VIPA).length, 1, 'the entry outlives the connection');
  await k.settle(() => k.r.routingTable(VIPA).length === 0, 'expired', 120_000);
  assert.is(k.r.stats().clusterCrtExpired, 1);
  assert.is(k.r.portTable(VIPA)[0].active, 0);
});

test('target death: a target that goes silent leaves the DPT of every VIPA, its entries go, and its clients get a RST on their next segment', async () => {
  const k = rig(2);
  k.route();
  k.route({ vipa: VIPA2 });
  k.t.forEach((t) => echo(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const socks = [0, 1, 2, 3].map(() => k.c.net.connect({ host: VIPA, port: 80 }));
  await k.settle(() => k.r.routingTable(VIPA).filter((e) => e.state === 'established').length === 4, 'established entries');
  const lost: string[] = [];
  k.r.on('cluster', (e) => { if (e.kind === 'target-lost') lost.push(e.address); });
  const dead = k.t[0];
  const theirs = socks.filter((s) => k.r.routingTable(VIPA).some((e) => e.clientPort === s.info()!.localPort && e.target === dead.localhost));
  assert.is(theirs.length, 2);
  // It dies without a word: no end messages, no more heartbeats.
  const t0 = k.clock.now();
  k.unplug(dead);
  await k.settle(() => ready(k.r).length === 1, 'out of the DPT', 5000);
  assert.ok(k.clock.now() - t0 <= 600, `noticed in ${k.clock.now() - t0} ms`);
  await k.settle(() => !k.r.portTable(VIPA2).some((d) => d.target === dead.localhost && d.ready), 'out of the second VIPA\'s DPT too');
  assert.equal(lost, [dead.localhost, dead.localhost]);
  assert.is(k.r.stats().clusterTargetsLost, 2);
  assert.is(k.r.routingTable(VIPA).length, 2, 'only the live target\'s entries are left');
  assert.equal(k.r.portTable(VIPA).find((d) => d.target === dead.localhost)!.active, 0);
  const errors: string[] = [];
  theirs.forEach((s) => { s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code!)); s.write('anyone?'); });
  await k.settle(() => errors.length === 2, 'RSTs');
  assert.equal(errors, ['ECONNRESET', 'ECONNRESET']);
  const live = socks.filter((s) => !theirs.includes(s));
  let echoed = 0;
  live.forEach((s) => { s.on('data', (d: Buffer) => { echoed += d.length; }); s.write('ok'); });
  await k.settle(() => echoed === 4, 'the other target\'s connections go on');
});

test('reconciliation: a target\'s reports keep an idle but live connection\'s entry past the idle timeout', async () => {
  const k = rig(1);
  k.route({ idleTimeoutSeconds: 6 });
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  let got = '';
  s.on('data', (d: Buffer) => { got += d; });
  await k.settle(() => k.r.routingTable(VIPA)[0]?.state === 'established', 'an established entry');
  const t0 = k.clock.now();
  await k.settle(() => k.clock.now() - t0 > 20_000, 'twenty idle seconds', 30_000);
  assert.is(k.r.routingTable(VIPA).length, 1, 'still there');
  assert.is(k.r.stats().clusterCrtExpired, 0);
  s.write('awake');
  await k.settle(() => got === 'awake', 'served after the idle time');
  s.destroy();
});

test('reconciliation: an entry the routing stack lost is made again from the target\'s next report', async () => {
  const k = rig(1);
  // Shorter than the reports' interval: the entry idles out between two reports, and the next one brings it back.
  k.route({ idleTimeoutSeconds: 2 });
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  let got = '';
  s.on('data', (d: Buffer) => { got += d; });
  await k.settle(() => k.r.stats().clusterCrtExpired >= 1, 'lost', 20_000);
  await k.settle(() => k.r.routingTable(VIPA)[0]?.origin === 'report', 'made again', 10_000);
  s.write('back');
  await k.settle(() => got === 'back', 'served through the entry made again');
  s.destroy();
});

test('CRT full: a new SYN gets a RST and a count; established connections keep their entries', async () => {
  const k = rig(1);
  k.route({ crtSize: 2 });
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const a = k.c.net.connect({ host: VIPA, port: 80 }), b = k.c.net.connect({ host: VIPA, port: 80 });
  await k.settle(() => a.info()?.state === 'ESTABLISHED' && b.info()?.state === 'ESTABLISHED', 'two connected');
  const c = k.c.net.connect({ host: VIPA, port: 80 });
  let err = '';
  c.on('error', (e: NodeJS.ErrnoException) => { err = e.code ?? '?'; });
  await k.settle(() => err !== '', 'the third refused');
  assert.is(err, 'ECONNREFUSED');
  assert.is(k.r.stats().clusterCrtFull, 1);
  let got = '';
  a.on('data', (d: Buffer) => { got += d; });
  a.write('still here');
  await k.settle(() => got === 'still here', 'the first still served');
  assert.is(k.r.routingTable(VIPA).length, 2);
  a.destroy(); b.destroy();
});

test('outbound: a target connects from the VIPA; its port comes from its range, the entry is made before the SYN, the replies reach it', async () => {
  const k = rig(2);
  k.route();
  await k.settle(() => k.t.every((t) => t.clusterView().length === 1), 'learned');
  let peer = '';
  k.c.net.createServer((s: Socket) => { peer = `${s.remoteAddress}:${s.remotePort}`; s.on('data', (d: Buffer) => s.end(`re:${d}`)); }).listen(8080);
  const got: string[] = [];
  const ports: number[] = [];
  for (const t of k.t) {
    const s = t.net.connect({ host: '10.0.0.9', port: 8080, localAddress: VIPA });
    s.on('connect', () => { ports.push(s.localPort!); s.write(t.name); });
    s.on('data', (d: Buffer) => got.push(d.toString()));
  }
  await k.settle(() => got.length === 2, 'both answered');
  assert.equal(got.sort(), ['re:t1', 're:t2']);
  assert.ok(peer.startsWith(VIPA + ':'), `the server saw the VIPA (${peer})`);
  const [p1, p2] = ports;
  assert.ok(p1 >= 49152 && p1 < 49152 + 8192, `t1's port in the first half (${p1})`);
  assert.ok(p2 >= 49152 + 8192 && p2 <= 65535, `t2's port in the second half (${p2})`);
  const rows = k.r.routingTable(VIPA);
  assert.ok(rows.length >= 1 && rows.every((e) => e.origin === 'outbound'));
  assert.ok(k.r.stats().clusterForwarded >= 2, 'the server\'s replies went through the routing stack to the targets');
});

test('health from the data path: a target that stops completing handshakes gets no new connections while another is healthy', async () => {
  const k = rig(2);
  k.route();
  k.t.forEach((t) => echo(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  // SYNs from the raw port that never complete: whichever target gets them never sees the handshake finish.
  for (let i = 0; i < 20; i++) {
    const seg = tcpSegment({ src: RAW_IP, dst: VIPA, sport: 5000 + i, dport: 80, seq: 1, ack: 0, flags: TH_SYN });
    k.raw.ip(mac(k.r), ipv4({ src: RAW_IP, dst: VIPA, proto: PROTO_TCP, payload: seg }));
  }
  await k.settle(() => k.r.portTable(VIPA).every((d) => d.synsForwarded >= 10), 'SYNs forwarded');
  assert.ok(k.r.portTable(VIPA).every((d) => d.health === 'ok'), 'a burst is no sign yet: its handshakes may be on their way');
  await k.settle(() => k.r.portTable(VIPA).every((d) => d.health === 'unresponsive'), 'found out', 1000);
  // A real client completes its handshake: its target is healthy again.
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  await k.settle(() => s.info()?.state === 'ESTABLISHED', 'connected');
  await k.settle(() => k.r.portTable(VIPA).some((d) => d.health === 'ok'), 'healthy again');
  const good = k.r.portTable(VIPA).find((d) => d.health === 'ok')!;
  const before = good.total;
  const more = [0, 1, 2].map(() => k.c.net.connect({ host: VIPA, port: 80 }));
  await k.settle(() => more.every((m) => m.info()?.state === 'ESTABLISHED'), 'three more');
  assert.is(k.r.portTable(VIPA).find((d) => d.target === good.target)!.total, before + 3, 'all to the healthy one');
  s.destroy(); more.forEach((m) => m.destroy());
});

/** A control message as the raw port sends it to t's control port. */
function ctl(k: ReturnType<typeof rig>, to: Stack, msg: Uint8Array): void {
  k.raw.ip(mac(to), ipv4({ src: RAW_IP, dst: to.localhost, proto: PROTO_UDP, payload: udp({ src: RAW_IP, dst: to.localhost, sport: 7310, dport: 7310, payload: msg }) }));
}

test('control messages: malformed, forged and replayed ones are counted and dropped; a status cannot steal connections', async () => {
  const k = rig(1);
  const sniffed: Parsed[] = [];
  k.raw.link.onFrame = ((orig) => (f: Uint8Array, flags: number, gso: number) => { sniffed.push(parse(f.slice())); orig!(f, flags, gso); })(k.raw.link.onFrame);
  k.route();
  await k.settle(() => k.t[0].clusterView().length === 1, 'learned');
  const r = k.r, t = k.t[0];
  ctl(k, r, new Uint8Array(10));
  const junk = new Uint8Array(60); junk[0] = 9;
  ctl(k, r, junk);
  junk[0] = 1; junk[1] = 77;
  ctl(k, r, junk);
  junk[1] = 3; junk[3] = 200;
  ctl(k, r, junk);
  // A status that claims the VIPA's port for a stranger, under a wrong key: refused for its MAC.
  const forged = new Uint8Array(16 + 20 + 32);
  forged.set([1, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 1, 10, 0, 0, 50, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 80, 0, 1]);
  ctl(k, r, forged);
  // The announcement heard on the wire, sent again: a replay for the target.
  const ann = sniffed.find((p) => p.udp?.dport === 7310 && p.udp.payload[1] === 1)!;
  ctl(k, t, ann.udp!.payload);
  await k.settle(() => r.stats().clusterCtlBadMac === 1 && t.stats().clusterCtlReplay === 1, 'refusals counted', 500);
  const st = r.stats();
  assert.equal([st.clusterCtlShort, st.clusterCtlBadVersion, st.clusterCtlUnknownType, st.clusterCtlBadLength, st.clusterCtlBadMac],
    [1, 1, 1, 1, 1]);
  assert.equal(ready(r), [], 'no target stolen');
  // A byte changed in a real message: refused for its MAC.
  const bent = ann.udp!.payload.slice(); bent[20] ^= 1;
  ctl(k, t, bent);
  await k.settle(() => t.stats().clusterCtlBadMac === 1, 'bad MAC', 500);
});

test('IP-in-IP from a stranger, or for a VIPA the target does not serve, is dropped and counted', async () => {
  const k = rig(1);
  k.route();
  echo(k.t[0]);
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const t = k.t[0];
  const inner = (dst: string) => ipv4({ src: '10.0.0.9', dst, proto: PROTO_TCP,
    payload: tcpSegment({ src: '10.0.0.9', dst, sport: 4000, dport: 80, seq: 1, ack: 0, flags: TH_SYN }) });
  k.raw.ip(mac(t), ipv4({ src: RAW_IP, dst: t.localhost, proto: PROTO_IPIP, payload: inner(VIPA) }));
  k.raw.ip(mac(t), ipv4({ src: RAW_IP, dst: t.localhost, proto: PROTO_IPIP, payload: inner('10.0.0.101') }));
  await k.settle(() => t.stats().clusterIpipRefused === 2, 'refused', 500);
  assert.is(t.stats().clusterDecap, 0);
  assert.is(t.stats().tcpRx, 0, 'TCP never saw them');
});

test.run();
