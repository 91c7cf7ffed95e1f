// VirtualSwitch: learning, flooding, per-port MTU, port close, uplinks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import type { Link } from '../../host/link/link.ts';
import { TestLink, ether, drive, BROADCAST } from '../helpers/frames.ts';

/** A switch port with a recorder: what arrives on it, by the tag in byte 14. */
function port(sw: VirtualSwitch, mtu?: number) {
  const link = sw.connect(mtu ? { mtu } : {});
  const got: number[] = [];
  const flags: number[] = [];
  link.onFrame = (f, fl) => { got.push(f[14]); flags.push(fl); };
  return { link, got, flags };
}
const mac = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
const frame = (dst: string, src: string, tag: number, size = 60) => {
  const p = new Uint8Array(size - 14);
  p[0] = tag;
  return ether(dst, src, 0x88b5, p);
};

test('unknown unicast and broadcast are flooded to every other port; learned unicast goes to one port', () => {
  const sw = new VirtualSwitch();
  const [p1, p2, p3] = [port(sw), port(sw), port(sw)];
  p1.link.send(frame(BROADCAST, mac(1), 1));
  assert.equal([p1.got, p2.got, p3.got], [[], [1], [1]], 'broadcast: everyone but the sender');
  p1.link.send(frame(mac(9), mac(1), 2));
  assert.equal([p1.got, p2.got, p3.got], [[], [1, 2], [1, 2]], 'unknown unicast: flooded');
  p2.link.send(frame(mac(1), mac(2), 3));
  assert.equal([p1.got, p2.got, p3.got], [[3], [1, 2], [1, 2]], 'mac 1 was learned on port 1');
  p1.link.send(frame(mac(2), mac(1), 4));
  assert.equal([p1.got, p2.got, p3.got], [[3], [1, 2, 4], [1, 2]], 'mac 2 was learned on port 2');
  // Multicast is flooded like broadcast.
  p3.link.send(frame('01:00:5e:00:00:01', mac(3), 5));
  assert.equal([p1.got, p2.got, p3.got], [[3, 5], [1, 2, 4, 5], [1, 2]]);
  // A station moves: learned again on its new port.
  p3.link.send(frame(BROADCAST, mac(2), 6));
  p1.link.send(frame(mac(2), mac(1), 7));
  assert.is(p3.got[p3.got.length - 1], 7, 'mac 2 is now on port 3');
  assert.is(p2.got.includes(7), false);
  // A frame for a station on the sender's own port goes nowhere.
  p1.link.send(frame(mac(1), mac(8), 8));
  assert.is([...p2.got, ...p3.got].includes(8), false);
  const st = sw.stats();
  assert.is(st.ports, 3);
  assert.is(st.frames, 8);
  assert.is(st.flooded, 4);
  assert.is(st.macs, 4);
});

test('flags ride along (FRAME_CSUM_OK), and group source addresses are not learned', () => {
  const sw = new VirtualSwitch();
  const [p1, p2] = [port(sw), port(sw)];
  p1.link.send(frame(BROADCAST, mac(1), 1), 1);
  assert.equal(p2.flags, [1]);
  p1.link.send(frame(BROADCAST, '01:00:00:00:00:01', 2));
  assert.is(sw.stats().macs, 1);
});

test('per-port MTU: a frame too big for a port is not delivered there, and is counted', () => {
  const sw = new VirtualSwitch({ mtu: 9000 });
  const big = port(sw), jumbo = port(sw), small = port(sw, 1500);
  big.link.send(frame(BROADCAST, mac(1), 1, 9014));
  assert.equal([jumbo.got, small.got], [[1], []]);
  assert.is(sw.stats().tooBig, 1);
  big.link.send(frame(BROADCAST, mac(1), 2, 1514));
  assert.equal([jumbo.got, small.got], [[1, 2], [2]], 'a full 1500-byte frame still fits');
  // A port does not send beyond its own MTU either.
  small.link.send(frame(BROADCAST, mac(3), 3, 1515));
  assert.equal([big.got, jumbo.got], [[], [1, 2]]);
  assert.is(sw.stats().tooBig, 2, 'counted too');
  assert.is(small.link.mtu, 1500);
  assert.is(jumbo.link.mtu, 9000);
  assert.throws(() => new VirtualSwitch({ mtu: 100 }), RangeError);
  assert.throws(() => sw.connect({ mtu: 1500.5 }), RangeError);
  assert.throws(() => sw.connect({ mtu: 70_000 }), RangeError);
});

test('runts are dropped and counted', () => {
  const sw = new VirtualSwitch();
  const [p1, p2] = [port(sw), port(sw)];
  p1.link.send(new Uint8Array(13));
  assert.is(p2.got.length, 0);
  assert.is(sw.stats().dropped, 1);
});

test('port close: no more frames in or out, its addresses are forgotten, onDown fires once', () => {
  const sw = new VirtualSwitch();
  const [p1, p2, p3] = [port(sw), port(sw), port(sw)];
  let downs = 0;
  p2.link.onDown = () => { downs++; };
  p2.link.send(frame(BROADCAST, mac(2), 1));
  assert.is(sw.stats().macs, 1);
  p2.link.close();
  p2.link.close();
  assert.is(downs, 1);
  assert.is(sw.stats().ports, 2);
  assert.is(sw.stats().macs, 0, 'mac 2 forgotten');
  p1.link.send(frame(mac(2), mac(1), 2));
  assert.equal([p2.got, p3.got], [[], [1, 2]], 'now unknown: flooded to the remaining ports');
  p2.link.send(frame(BROADCAST, mac(2), 3));
  assert.equal([p1.got, p3.got], [[1], [1, 2]], 'a closed port sends nothing');
});

test('an uplink: frames flow both ways through an attached link, until it is unplugged', () => {
  const sw = new VirtualSwitch();
  const p1 = port(sw);
  const up = new TestLink();
  const unplug = sw.attach(up);
  p1.link.send(frame(BROADCAST, mac(1), 1));
  assert.is(up.sent.length, 1, 'flooded to the uplink');
  up.inject(frame(mac(1), mac(50), 2));
  assert.equal(p1.got, [2], 'and back');
  p1.link.send(frame(mac(50), mac(1), 3));
  assert.is(up.sent.length, 2, 'learned behind the uplink');
  unplug();
  p1.link.send(frame(BROADCAST, mac(1), 4));
  assert.is(up.sent.length, 2);
  assert.is(sw.stats().ports, 1);
});

test('the MAC table is bounded', () => {
  const sw = new VirtualSwitch();
  const [p1] = [port(sw), port(sw)];
  for (let i = 0; i < 5000; i++) {
    const m = `02:00:00:${((i >> 16) & 255).toString(16)}:${((i >> 8) & 255).toString(16)}:${(i & 255).toString(16)}`;
    p1.link.send(frame(BROADCAST, m, 0));
  }
  assert.ok(sw.stats().macs <= 4096, `${sw.stats().macs} entries`);
});

test('stacks on a jumbo switch send 8000-byte packets unfragmented; after learning, a third stack sees none of it', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch({ mtu: 9000 });
  const mk = (name: string, link: Link, address: string) => Stack.createSync({ name, link, address, clock, seed: 1, debug: true });
  const a = mk('a', sw.connect(), '10.0.0.1/24');
  const b = mk('b', sw.connect(), '10.0.0.2/24');
  const c = mk('c', sw.connect(), '10.0.0.3/24');
  await drive(clock, a.ping('10.0.0.2', { size: 8000 }));
  const before = c.stats().rxFrames;
  await drive(clock, a.ping('10.0.0.2', { size: 8000 }));
  assert.is(a.stats().ipFragTx, 0);
  assert.is(c.stats().rxFrames, before, 'unicast went only to b');
  assert.is(before, 1, 'c saw only the broadcast ARP request');
  await a.close(); await b.close(); await c.close();
});

test.run();
