// Round trips of every header kind: a hand-built frame goes into a stack, and
// what comes out is checked byte for byte against what the RFCs say.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import {
  TestLink, arp, arpRequest, ether, ipv4, icmp, udp, udpFrame, pingFrame, fragment, parse, reassemble, hex,
  cksum, pseudo, ip4, put16, ticks, ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_ICMP, PROTO_UDP, BROADCAST,
} from '../helpers/frames.ts';

const MAC = '02:00:00:00:00:01';
const PEER_MAC = '02:00:00:00:00:aa';
const ME = '10.0.0.1', PEER = '10.0.0.9';

function rig(mtu = 1500) {
  const clock = new VirtualClock();
  const link = new TestLink(mtu);
  const s = Stack.createSync({ name: 'rt', link, address: `${ME}/24`, mac: MAC, clock, seed: 1, debug: true });
  const step = () => clock.advance(0);
  return { clock, link, s, step };
}

test('ARP: the reply to a hand-built request is byte-exact what RFC 826 says', async () => {
  const { link, s, step } = rig();
  link.inject(arpRequest(PEER_MAC, PEER, ME));
  step();
  assert.is(link.sent.length, 1, 'one frame out');
  const want = ether(PEER_MAC, MAC, ETHERTYPE_ARP, arp({ op: 2, sha: MAC, spa: ME, tha: PEER_MAC, tpa: PEER }), true);
  assert.is(hex(link.sent[0]), hex(want));
  assert.is(link.sent[0].length, 60, 'padded to the Ethernet minimum');
  // The requester was learned (RFC 826's merge): talking to it needs no request of our own.
  link.sent = [];
  const p = s.ping(PEER, { timeout: 1000 });
  p.catch(() => {});
  const out = link.take();
  assert.is(out.length, 1);
  assert.is(out[0].type, ETHERTYPE_IPV4, 'the echo request goes straight out, no ARP');
  assert.is(out[0].dst, PEER_MAC);
  assert.is(s.stats().arpTx, 1, 'only the reply was an ARP frame');
  await s.close();
});

test('ARP: a request for another address is not answered; a reply updates the cache', async () => {
  const { link, s, step } = rig();
  link.inject(arpRequest(PEER_MAC, PEER, '10.0.0.77'));
  step();
  assert.is(link.sent.length, 0);
  assert.is(s.stats().arpNotForUs, 1);
  // A request from us, then a hand-built reply: the queued datagram goes out to that MAC.
  const sock = s.dgram.createSocket('udp4');
  sock.send('x', 9, '10.0.0.20');
  const req = link.take();
  assert.is(req.length, 1);
  const want = ether(BROADCAST, MAC, ETHERTYPE_ARP, arp({ op: 1, sha: MAC, spa: ME, tha: '00:00:00:00:00:00', tpa: '10.0.0.20' }), true);
  assert.is(hex(req[0].bytes), hex(want), 'the request is byte-exact too');
  link.inject(ether(MAC, '02:00:00:00:00:20', ETHERTYPE_ARP, arp({ op: 2, sha: '02:00:00:00:00:20', spa: '10.0.0.20', tha: MAC, tpa: ME }), true));
  step();
  const out = link.take();
  assert.is(out.length, 1);
  assert.is(out[0].dst, '02:00:00:00:00:20');
  assert.is(out[0].udp?.dport, 9);
  sock.close();
  await s.close();
});

test('ICMP: an echo reply mirrors id, seq and payload (odd length), with valid checksums', async () => {
  const { link, s, step } = rig();
  link.arp.set(PEER, PEER_MAC);
  const data = new Uint8Array(37).map((_, i) => (i * 7 + 3) & 255);
  link.inject(pingFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, id: 0xbeef, seq: 0x0102, data }));
  step();
  const out = link.take().filter((f) => f.type === ETHERTYPE_IPV4);
  assert.is(out.length, 1);
  const r = out[0];
  assert.is(r.dst, PEER_MAC);
  assert.is(r.src, MAC);
  const ip = r.ip!;
  assert.is(ip.version, 4); assert.is(ip.ihl, 5); assert.is(ip.proto, PROTO_ICMP);
  assert.is(ip.src, ME); assert.is(ip.dst, PEER); assert.is(ip.ttl, 64);
  assert.is(ip.totalLength, 20 + 8 + 37);
  assert.is(r.bytes.length, 14 + 20 + 8 + 37, 'no trailing bytes');
  assert.ok(ip.checksumOk, 'IP header checksum');
  assert.ok(!ip.mf && ip.offset === 0);
  // The ICMP part is exactly an echo reply with the same id, seq and data.
  assert.is(hex(ip.payload), hex(icmp({ type: 0, id: 0xbeef, seq: 0x0102, data })));
  assert.ok(r.icmp!.checksumOk);
  await s.close();
});

test('ICMP: a fragmented echo request is reassembled and the reply is fragmented to the MTU', async () => {
  const { link, s, step } = rig();
  link.arp.set(PEER, PEER_MAC);
  const data = new Uint8Array(3001).map((_, i) => (i * 13) & 255);
  const msg = icmp({ type: 8, id: 7, seq: 9, data });
  const frags = fragment({ src: PEER, dst: ME, proto: PROTO_ICMP, payload: msg, id: 0x4242 }, [1480, 1000, msg.length - 2480]);
  for (const f of frags.reverse()) link.inject(ether(MAC, PEER_MAC, ETHERTYPE_IPV4, f));
  step();
  const out = link.take().filter((f) => f.type === ETHERTYPE_IPV4);
  assert.is(out.length, 3, 'three fragments: 3009 bytes over 1480-byte pieces');
  for (const f of out) {
    assert.ok(f.ip!.checksumOk);
    assert.ok(f.bytes.length <= 1514);
    assert.is(f.ip!.id, out[0].ip!.id);
    assert.is(f.ip!.offset % 8, 0);
  }
  const whole = reassemble(out.map((f) => f.ip!));
  assert.is(hex(whole), hex(icmp({ type: 0, id: 7, seq: 9, data })));
  assert.is(s.stats().reasmOk, 1);
  await s.close();
});

test('UDP: a datagram in is delivered with its source; the answer out is byte-exact (ports, length, checksum)', async () => {
  const { link, s, step } = rig();
  link.arp.set(PEER, PEER_MAC);
  const sock = s.dgram.createSocket('udp4');
  const got: [Buffer, { address: string; port: number; size: number }][] = [];
  sock.on('message', (m, r) => got.push([m, r]));
  sock.bind(7);
  await ticks();
  const payload = new TextEncoder().encode('The quick brown fox jumps over the lazy dog');
  link.inject(udpFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, sport: 40000, dport: 7, payload }));
  step();
  assert.is(got.length, 1);
  assert.is(Buffer.from(got[0][0]).toString(), 'The quick brown fox jumps over the lazy dog');
  assert.equal({ ...got[0][1] }, { address: PEER, family: 'IPv4', port: 40000, size: 43 });
  sock.send(got[0][0], 40000, PEER);
  step(); // our ARP request is answered by the link; the datagram follows
  const out = link.take().filter((f) => f.type === ETHERTYPE_IPV4);
  assert.is(out.length, 1);
  const ip = out[0].ip!;
  assert.ok(ip.checksumOk);
  assert.is(ip.proto, PROTO_UDP);
  assert.is(ip.src, ME); assert.is(ip.dst, PEER);
  assert.is(ip.totalLength, 20 + 8 + 43);
  assert.is(hex(ip.payload), hex(udp({ src: ME, dst: PEER, sport: 7, dport: 40000, payload })), 'UDP header and payload exact');
  sock.close();
  await s.close();
});

test('UDP: a checksum that computes to 0 is sent as ffff (RFC 768); 0 and ffff are both accepted', async () => {
  const { link, s, step } = rig();
  link.arp.set(PEER, PEER_MAC);
  const sock = s.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  sock.bind(7);
  await ticks();
  // Choose the last two payload bytes so that the one's complement sum is ffff.
  const payload = new Uint8Array(20).map((_, i) => i + 1);
  payload[18] = 0; payload[19] = 0;
  put16(payload, 18, cksum(udp({ src: ME, dst: PEER, sport: 7, dport: 5000, payload, checksum: 0 }),
    pseudo(ip4(ME), ip4(PEER), PROTO_UDP, 28)));
  sock.send(payload, 5000, PEER);
  step();
  const out = link.take().filter((f) => f.type === ETHERTYPE_IPV4);
  assert.is(out[0].udp!.checksum, 0xffff);
  assert.ok(out[0].udp!.checksumOk);
  // Inbound: the same datagram mirrored (checksum ffff), and one with no checksum at all.
  link.inject(udpFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, sport: 5000, dport: 7, payload }));
  const noSum = ether(MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({ src: PEER, dst: ME, proto: PROTO_UDP,
    payload: udp({ src: PEER, dst: ME, sport: 5000, dport: 7, payload: new Uint8Array([1, 2, 3]), checksum: 0 }) }));
  link.inject(noSum);
  step();
  assert.is(got.length, 2);
  assert.is(hex(got[0]), hex(payload));
  assert.is(hex(got[1]), '010203');
  assert.is(s.stats().udpBadChecksum, 0);
  sock.close();
  await s.close();
});

test('IP: a 4000-byte datagram leaves as fragments RFC 791 would cut (offsets, MF, one ID, each header valid)', async () => {
  const { link, s, step } = rig();
  link.arp.set(PEER, PEER_MAC);
  const sock = s.dgram.createSocket('udp4');
  const payload = new Uint8Array(4000).map((_, i) => (i * 31 + 1) & 255);
  // Twice: first while the peer's address is unresolved (the fragments wait for ARP), then resolved.
  for (let round = 0; round < 2; round++) {
    sock.send(payload, 9999, PEER);
    step();
    const out = link.take().filter((f) => f.type === ETHERTYPE_IPV4);
    assert.is(out.length, 3);
    const ids = new Set(out.map((f) => f.ip!.id));
    assert.is(ids.size, 1, 'one IP ID');
    assert.equal(out.map((f) => [f.ip!.offset, f.ip!.mf, f.ip!.totalLength]), [[0, true, 1500], [1480, true, 1500], [2960, false, 20 + 4008 - 2960]]);
    for (const f of out) { assert.ok(f.ip!.checksumOk); assert.not.ok(f.ip!.df); assert.is(f.bytes.length, 14 + f.ip!.totalLength); }
    const dgram = reassemble(out.map((f) => f.ip!));
    const p = parse(ether(PEER_MAC, MAC, ETHERTYPE_IPV4, ipv4({ src: ME, dst: PEER, proto: PROTO_UDP, payload: dgram })));
    assert.ok(p.udp!.checksumOk, 'the reassembled UDP checksum is valid');
    assert.is(hex(p.udp!.payload), hex(payload));
  }
  assert.is(s.stats().ipFragTx, 6);
  sock.close();
  await s.close();
});

test('TCP: a segment to a closed port gets RFC 9293 reset, with a valid checksum', async () => {
  const { link, s, step } = rig();
  link.arp.set(PEER, PEER_MAC);
  // SYN, seq 1000, no ACK: the reset is <SEQ=0><ACK=1001><CTL=RST,ACK>.
  const th = new Uint8Array(20);
  put16(th, 0, 40001); put16(th, 2, 80);
  th[4] = 0; th[5] = 0; th[6] = 0x03; th[7] = 0xe8;
  th[12] = 5 << 4; th[13] = 0x02; put16(th, 14, 65535);
  put16(th, 16, cksum(th, pseudo(ip4(PEER), ip4(ME), 6, 20)));
  link.inject(ether(MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({ src: PEER, dst: ME, proto: 6, payload: th })));
  step();
  const out = link.take().filter((f) => f.type === ETHERTYPE_IPV4);
  assert.is(out.length, 1);
  const t = out[0].ip!.payload;
  assert.is(t.length, 20);
  assert.is(cksum(t, pseudo(ip4(ME), ip4(PEER), 6, t.length)), 0, 'TCP checksum valid (the sum over segment and pseudo-header is ffff)');
  assert.is((t[0] << 8) | t[1], 80); assert.is((t[2] << 8) | t[3], 40001);
  assert.is(hex(t.subarray(4, 12)), '00000000000003e9', 'seq 0, ack 1001');
  assert.is(t[13], 0x14, 'RST|ACK');
  await s.close();
});

test.run();
