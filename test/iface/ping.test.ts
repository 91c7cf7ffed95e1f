// Stacks pinging each other across virtual switches: several stacks, several
// addresses on one interface, several interfaces on one stack, gateways and
// missing routes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack, type StackOptions } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import type { Link } from '../../host/link/link.ts';
import { TestLink, Sniff, drive, ticks, parse, arpReply, ETHERTYPE_IPV4, PROTO_ICMP } from '../helpers/frames.ts';

function mk(clock: VirtualClock, name: string, link: Link, address: string | string[], extra: Partial<StackOptions> = {}): Stack {
  return Stack.createSync({ name, link, address, clock, seed: 1, debug: true, ...extra });
}

async function rejects(clock: VirtualClock, p: Promise<unknown>): Promise<Error & { code?: string }> {
  try { await drive(clock, p); } catch (e) { return e as Error & { code?: string }; }
  throw new Error('expected a rejection');
}

test('two stacks ping across a switch', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const a = mk(clock, 'a', sw.connect(), '10.0.0.1/24');
  const b = mk(clock, 'b', sw.connect(), '10.0.0.2/24');
  for (let i = 0; i < 3; i++) {
    const rtt = await drive(clock, a.ping('10.0.0.2'));
    assert.ok(rtt >= 0 && rtt < 1, `virtual round trip ${rtt} ms`);
  }
  const rtt = await drive(clock, b.ping('10.0.0.1', { size: 1000 }));
  assert.ok(rtt >= 0);
  assert.is(a.stats().icmpEchoReplyRx, 3);
  assert.is(b.stats().icmpEchoRx, 3);
  assert.is(a.stats().icmpEchoRx, 1);
  await a.close(); await b.close();
});

test('three stacks: every one pings every other, all at once', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const names = ['a', 'b', 'c'];
  const stacks = names.map((n, i) => mk(clock, n, sw.connect(), `10.0.0.${i + 1}/24`));
  const pings: Promise<number>[] = [];
  stacks.forEach((s, i) => stacks.forEach((_, j) => { if (i !== j) pings.push(s.ping(`10.0.0.${j + 1}`)); }));
  const rtts = await drive(clock, Promise.all(pings));
  assert.is(rtts.length, 6);
  for (const s of stacks) {
    const st = s.stats();
    assert.is(st.icmpEchoRx, 2);
    assert.is(st.icmpEchoReplyRx, 2);
    assert.is(st.neighbours, 2);
  }
  assert.is(sw.stats().macs, 3);
  for (const s of stacks) await s.close();
});

test('several addresses on one interface: each answers ping, from itself', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const a = mk(clock, 'a', sw.connect(), '10.0.0.1/24');
  const b = mk(clock, 'b', sw.connect(), ['10.0.0.2/24', '10.0.0.3/24', '10.0.0.4/24']);
  b.addAddress('10.0.0.5/24');
  b.addAddress('192.168.9.9/24');                 // another subnet on the same wire
  a.addAddress('192.168.9.1/24');
  const sniff = new Sniff(sw.connect());
  sniff.onFrame = () => {};
  for (const dst of ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '192.168.9.9']) {
    await drive(clock, a.ping(dst));
  }
  // The replies came from the address each request was sent to (ping matches
  // the source), and b answered ARP for every one of them with its one MAC.
  const arpAnswers = sniff.rx.map(parse).filter((f) => f.arp?.op === 2);
  assert.is(arpAnswers.length, 0, 'ARP replies are unicast: the bystander port sees none once learned');
  const requests = sniff.rx.map(parse).filter((f) => f.arp?.op === 1);
  assert.equal(requests.map((r) => r.arp!.tpa), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '192.168.9.9']);
  assert.equal(requests.map((r) => r.arp!.spa), ['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.1', '192.168.9.1'],
    'the source address is the one in the target\'s subnet');
  assert.is(b.stats().icmpEchoRx, 5);
  assert.equal(b.addresses, ['10.0.0.2/24', '10.0.0.3/24', '10.0.0.4/24', '10.0.0.5/24', '192.168.9.9/24']);
  // A removed address stops answering.
  b.removeAddress('10.0.0.3');
  const err = await rejects(clock, a.ping('10.0.0.3', { timeout: 1000 }));
  assert.is(err.code, 'ETIMEDOUT');
  assert.ok(b.stats().ipNotLocal >= 1);
  await a.close(); await b.close();
});

test('two interfaces on one stack, on two switches: each subnet on its own wire', async () => {
  const clock = new VirtualClock();
  const sw1 = new VirtualSwitch(), sw2 = new VirtualSwitch();
  const r1 = new Sniff(sw1.connect()), r2 = new Sniff(sw2.connect());
  const r = Stack.createSync({ name: 'r', clock, seed: 1, debug: true,
    interfaces: [{ link: r1, address: '10.0.1.1/24' }, { link: r2, address: '10.0.2.1/24' }] });
  const a = mk(clock, 'a', sw1.connect(), '10.0.1.2/24', { gateway: '10.0.1.1' });
  const b = mk(clock, 'b', sw2.connect(), '10.0.2.2/24', { gateway: '10.0.2.1' });
  assert.is(r.macs.length, 2);
  assert.is.not(r.macs[0], r.macs[1]);
  await drive(clock, Promise.all([r.ping('10.0.1.2'), r.ping('10.0.2.2'), a.ping('10.0.1.1'), b.ping('10.0.2.1')]));
  // A host reaches the router's address on the far subnet through its gateway (the router's near side).
  await drive(clock, a.ping('10.0.2.1'));
  await drive(clock, b.ping('10.0.1.1'));
  const on1 = r1.tx.map(parse), on2 = r2.tx.map(parse);
  assert.ok(on1.every((f) => f.src === r.macs[0]) && on2.every((f) => f.src === r.macs[1]), 'each interface sends with its own MAC');
  assert.ok(on1.filter((f) => f.ip).every((f) => f.ip!.dst.startsWith('10.0.1.')), 'only subnet 1 traffic on switch 1');
  assert.ok(on2.filter((f) => f.ip).every((f) => f.ip!.dst.startsWith('10.0.2.')), 'only subnet 2 traffic on switch 2');
  const reply = on1.find((f) => f.icmp?.type === 0 && f.ip!.src === '10.0.2.1');
  assert.ok(reply, 'the answer to 10.0.2.1 left through interface 0, towards a');
  await a.close(); await b.close(); await r.close();
});

test('with a gateway, a packet for another subnet goes to the gateway\'s MAC after ARP for the gateway', async () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  const a = mk(clock, 'a', link, '10.0.0.1/24', { gateway: '10.0.0.254', mac: '02:00:00:00:00:01' });
  const p = a.ping('192.168.7.7', { timeout: 1000 });
  p.catch(() => {});
  let out = link.take();
  assert.is(out.length, 1);
  assert.is(out[0].arp?.op, 1);
  assert.is(out[0].arp?.tpa, '10.0.0.254', 'ARP asks for the gateway, not the destination');
  assert.is(out[0].arp?.spa, '10.0.0.1');
  link.inject(arpReply('02:00:00:00:00:fe', '10.0.0.254', '02:00:00:00:00:01', '10.0.0.1'));
  clock.advance(0);
  out = link.take();
  assert.is(out.length, 1);
  assert.is(out[0].dst, '02:00:00:00:00:fe', 'sent to the gateway\'s MAC');
  assert.is(out[0].type, ETHERTYPE_IPV4);
  assert.is(out[0].ip!.dst, '192.168.7.7', 'addressed to the far host');
  assert.is(out[0].ip!.proto, PROTO_ICMP);
  // A more specific route on the same link wins over the default route.
  a.addRoute('192.168.0.0/16', '10.0.0.253');
  const q = a.ping('192.168.7.7', { timeout: 1000 });
  q.catch(() => {});
  out = link.take();
  assert.is(out[0].arp?.tpa, '10.0.0.253');
  await drive(clock, p).catch(() => {});
  await drive(clock, q).catch(() => {});
  await a.close();
});

test('a gateway on the second interface: ARP for it goes out of that interface only', async () => {
  const clock = new VirtualClock();
  const l0 = new TestLink(), l1 = new TestLink();
  const a = Stack.createSync({ name: 'a', clock, seed: 1, debug: true,
    interfaces: [{ link: l0, address: '10.0.1.1/24' }, { link: l1, address: '10.0.2.1/24' }] });
  a.addRoute('172.16.0.0/12', '10.0.2.254', 1);
  const p = a.ping('172.20.1.1', { timeout: 500 });
  p.catch(() => {});
  assert.is(l0.sent.length, 0);
  const out = l1.take();
  assert.is(out.length, 1);
  assert.is(out[0].arp?.tpa, '10.0.2.254');
  assert.is(out[0].arp?.spa, '10.0.2.1');
  await drive(clock, p).catch(() => {});
  await a.close();
});

test('no route: ping rejects with ENETUNREACH, a datagram fails with ENETUNREACH, nothing is sent', async () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  const a = mk(clock, 'a', link, '10.0.0.1/24');
  const err = await rejects(clock, a.ping('192.168.7.7'));
  assert.is(err.code, 'ENETUNREACH');
  assert.is(a.stats().ipNoRoute, 1);
  const sock = a.dgram.createSocket('udp4');
  const sent = await new Promise<Error | null>((resolve) => sock.send('x', 9, '192.168.7.7', (e: Error | null) => resolve(e)));
  assert.is((sent as Error & { code?: string })?.code, 'ENETUNREACH');
  const errors: (Error & { code?: string })[] = [];
  sock.on('error', (e) => errors.push(e));
  sock.send('y', 9, '8.8.8.8');
  await ticks();
  assert.is(errors[0]?.code, 'ENETUNREACH', 'without a callback the error is emitted');
  assert.is(link.sent.length, 0);
  sock.close();
  await a.close();
});

test.run();
