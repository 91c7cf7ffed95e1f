// VirtualSwitch: learning, flooding, per-port MTU, port close, uplinks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { FRAME_CSUM_OK, FRAME_CSUM_PARTIAL, FRAME_GSO } from '../../host/link/link.ts';
import type { Link, LinkOffload } from '../../host/link/link.ts';
import { withPcap } from '../../host/link/pcap.ts';
import { withFaults } from '../../host/link/faults.ts';
import { TestLink, ether, drive, BROADCAST, ipv4, ip4, put16, get16, get32, cksum, fold16, sum16, pseudo, PROTO_TCP } from '../helpers/frames.ts';
import { settle } from '../tcp/helpers.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

// ---- offloads ---------------------------------------------------------------

const PARTIAL = FRAME_CSUM_PARTIAL, GSO = FRAME_GSO;
const TAKES_ALL: LinkOffload = { csum: true, gso: 65535 };

/** A GSO frame as a stack makes it: one TCP segment of n payload bytes (no
 * options), PSH|ACK, its checksum field holding the pseudo-header sum. */
function gsoFrame(dst: string, src: string, n: number): Uint8Array {
  const t = new Uint8Array(20 + n);
  put16(t, 0, 40000); put16(t, 2, 80); t[12] = 0x50; t[13] = 0x18; put16(t, 14, 1000);
  for (let i = 0; i < n; i++) t[20 + i] = (i * 7 + (i >> 9)) & 255;
  const f = ether(dst, src, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_TCP, payload: t, df: true }));
  put16(f, 34 + 16, fold16(pseudo(ip4('10.0.0.1'), ip4('10.0.0.2'), PROTO_TCP, t.length)));
  return f;
}
/** IP header and TCP checksums verify (checked with the test helpers, not offload.ts). */
function verifies(f: Uint8Array): boolean {
  const l4 = f.subarray(34, 14 + get16(f, 16));
  return fold16(sum16(f.subarray(14, 34))) === 0xffff && cksum(l4, pseudo(get32(f, 26), get32(f, 30), PROTO_TCP, l4.length)) === 0;
}
/** A port whose consumer takes `rx` offloads, recording copies of what arrives. */
function offloadPort(sw: VirtualSwitch, rx: LinkOffload | undefined, mtu?: number) {
  const link = sw.connect(mtu ? { mtu } : {});
  link.rxOffload = rx;
  const got: { frame: Uint8Array; flags: number; gso: number }[] = [];
  link.onFrame = (frame, flags, gso) => { got.push({ frame: frame.slice(), flags, gso }); };
  return { link, got };
}

test('offloads: a GSO frame crosses whole to a consumer that takes it, as verified segments to one that does not', () => {
  const sw = new VirtualSwitch();
  const from = sw.connect();
  assert.equal(from.offload, TAKES_ALL, 'ports take every offload');
  const all = offloadPort(sw, TAKES_ALL), plain = offloadPort(sw, undefined), csumOnly = offloadPort(sw, { csum: true, gso: 0 });
  const f = gsoFrame(mac(9), mac(1), 10_000); // unknown unicast: flooded to all three
  from.send(f, FRAME_CSUM_OK | PARTIAL | GSO, 1460);
  assert.is(all.got.length, 1);
  assert.equal(all.got[0], { frame: f, flags: FRAME_CSUM_OK | PARTIAL | GSO, gso: 1460 }, 'whole, flags and gso as sent');
  assert.is(plain.got.length, 7, '10000 bytes in segments of 1460');
  const data: number[] = [];
  plain.got.forEach(({ frame, flags, gso }, i) => {
    assert.ok(frame.length <= 1514 && verifies(frame), `segment ${i} fits and verifies`);
    assert.is(flags, FRAME_CSUM_OK);
    assert.is(gso, 0);
    assert.is(get32(frame, 38), i * 1460, 'sequence number');
    assert.is(frame[47], i === 6 ? 0x18 : 0x10, 'PSH only on the last');
    data.push(...frame.subarray(54));
  });
  assert.equal(data, [...f.subarray(54)], 'payload intact, in order');
  assert.is(csumOnly.got.length, 7);
  assert.ok(csumOnly.got.every((g) => g.flags === (FRAME_CSUM_OK | PARTIAL) && g.frame.length <= 1514));
  // The sender's frame was lent, not changed.
  assert.equal(f, gsoFrame(mac(9), mac(1), 10_000));
  // Learned unicast (the cached fast path) too.
  plain.link.send(ether(mac(1), mac(2), 0x88b5, new Uint8Array(46)));
  plain.got.length = 0;
  from.send(f, PARTIAL | GSO, 1460);
  from.send(f, PARTIAL | GSO, 1460);
  assert.is(plain.got.length, 14);
  assert.ok(plain.got.every((g) => verifies(g.frame)));
  assert.is(sw.stats().dropped, 0);
  // A partial checksum alone is completed for a plain consumer.
  const small = gsoFrame(mac(2), mac(1), 100);
  plain.got.length = 0;
  from.send(small, PARTIAL);
  assert.is(plain.got.length, 1);
  assert.ok(verifies(plain.got[0].frame));
  assert.is(plain.got[0].flags, 0);
  // Bad GSO input is dropped and counted.
  from.send(small.subarray(0, 40), PARTIAL | GSO, 1460);
  assert.is(sw.stats().dropped, 1);
});

test('offloads and MTU: a GSO frame passes when its segments fit a port, else it is too big', () => {
  const sw = new VirtualSwitch();
  const from = sw.connect();
  const small = offloadPort(sw, TAKES_ALL), jumbo = offloadPort(sw, undefined, 9000);
  const f = gsoFrame(BROADCAST, mac(1), 30_000); // headers: 20 + 20 bytes
  from.send(f, PARTIAL | GSO, 1460); // 1460 + 40 = 1500: fits both
  assert.equal([small.got.length, jumbo.got.length], [1, 21]);
  from.send(f, PARTIAL | GSO, 1461); // segments of 1501 bytes: too big for the sender's own port
  assert.equal([small.got.length, jumbo.got.length], [1, 21]);
  assert.is(sw.stats().tooBig, 1);
  const big = sw.connect({ mtu: 9000 });
  big.send(f, PARTIAL | GSO, 8960); // fits the jumbo port only, too big for the two others
  assert.equal([small.got.length, jumbo.got.length], [1, 25]);
  assert.is(sw.stats().tooBig, 3);
  big.send(f, PARTIAL, 0); // without FRAME_GSO a 30 KB frame is simply too big
  assert.is(sw.stats().tooBig, 4);
  big.send(f, PARTIAL | GSO, 0); // no segment size
  assert.is(sw.stats().tooBig, 5);
});

test('offloads on an uplink: it is sent what its own offload takes, and its GSO frames are cut for plain ports', () => {
  const sw = new VirtualSwitch();
  const plain = offloadPort(sw, undefined);
  class Up extends TestLink {
    got: { len: number; flags: number; gso: number }[] = [];
    rxOffload?: LinkOffload;
    constructor(readonly offload?: LinkOffload) { super(); }
    override send(frame: Uint8Array, flags = 0, gso = 0): void { this.got.push({ len: frame.length, flags, gso }); super.send(frame, flags); }
  }
  const tso = new Up(TAKES_ALL), none = new Up();
  sw.attach(tso);
  const unplug = sw.attach(none);
  assert.equal(tso.rxOffload, TAKES_ALL, 'the switch takes whatever an uplink receives');
  const f = gsoFrame(BROADCAST, mac(1), 5000);
  plain.link.send(f, PARTIAL | GSO, 1000);
  assert.equal(tso.got, [{ len: f.length, flags: PARTIAL | GSO, gso: 1000 }]);
  assert.is(none.got.length, 5);
  assert.ok(none.sent.every(verifies));
  // From the uplink in: a plain port gets verified segments.
  tso.inject(gsoFrame(mac(7), mac(50), 3000), PARTIAL | GSO, 1448);
  assert.is(plain.got.length, 3);
  assert.ok(plain.got.every((g) => verifies(g.frame)));
  unplug();
  assert.is(none.rxOffload, undefined);
});

test('stacks on a switch: bulk TCP crosses in GSO frames to a stack, and a stack behind pcap and faults gets only plain frames', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const dir = mkdtempSync(join(tmpdir(), 'shoal-sw-'));
  const file = join(dir, 'b.pcap');
  const seen: number[] = [];
  const portA = sw.connect();
  const sendA = portA.send.bind(portA);
  portA.send = (f, fl, g) => { if (fl! & GSO) seen.push(f.length); sendA(f, fl, g); };
  const sendvA = portA.sendv!.bind(portA);
  portA.sendv = (parts, fl, g) => { if (fl! & GSO) seen.push(parts.reduce((n, p) => n + p.length, 0)); sendvA(parts, fl, g); };
  const a = Stack.createSync({ name: 'a', link: portA, address: '10.0.0.1/24', clock, seed: 1 });
  const bLink = withFaults(withPcap(sw.connect(), file, { clock }), { seed: 3, clock });
  assert.is((bLink as Link).offload, undefined, 'wrappers advertise no offload');
  const b = Stack.createSync({ name: 'b', link: bLink, address: '10.0.0.2/24', clock, seed: 2 });
  const bytes = 1 << 20;
  let got = 0, ended = false;
  const srv = b.net.createServer((s) => { s.on('data', (d: Buffer) => { got += d.length; }); s.on('end', () => { ended = true; s.end(); }); });
  srv.listen(80);
  const c = a.net.connect({ port: 80, host: '10.0.0.2' });
  c.on('connect', () => c.end(Buffer.alloc(bytes, 0x5a)));
  await settle(clock, () => ended, 600_000, 'transfer');
  srv.close();
  await a.close(); await b.close();
  assert.is(got, bytes);
  assert.ok(seen.length > 0 && Math.max(...seen) > 1514, `a sent GSO frames (largest ${Math.max(0, ...seen)} B)`);
  // The capture shows what a wire carries: no frame over the MTU, every TCP checksum complete.
  const pcap = readFileSync(file);
  let n = 0, tcp = 0;
  for (let at = 24; at < pcap.length; n++) {
    const len = pcap.readUInt32LE(at + 8);
    const fr = new Uint8Array(pcap.subarray(at + 16, at + 16 + len));
    at += 16 + len;
    assert.ok(fr.length <= 1514, `captured frame of ${fr.length} B`);
    if (get16(fr, 12) === 0x0800 && fr[23] === PROTO_TCP) { tcp++; assert.ok(verifies(fr), `frame ${n} checksums`); }
  }
  assert.ok(tcp > bytes / 1500, `${tcp} TCP frames captured`);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
