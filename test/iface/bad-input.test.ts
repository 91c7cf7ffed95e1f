// Malformed and unwanted frames: each one is dropped, counted under the right
// reason, answered with ICMP only where RFC 1122 says so, and leaves the stack
// working with every buffer back in its pool. The debug core runs here, so a
// double free or any other assertion in the core fails the test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import {
  TestLink, ether, ipv4, udp, icmp, arp, pingFrame, udpFrame, parse, hex, put16, ticks,
  ETHERTYPE_IPV4, ETHERTYPE_ARP, PROTO_UDP, PROTO_ICMP, BROADCAST,
} from '../helpers/frames.ts';

const MAC = '02:00:00:00:00:01', PEER_MAC = '02:00:00:00:00:aa';
const ME = '10.0.0.1', PEER = '10.0.0.9';

function rig(icmpErrorsPerSecond?: number) {
  const clock = new VirtualClock();
  const link = new TestLink();
  link.arp.set(PEER, PEER_MAC);
  const s = Stack.createSync({ name: 'bad', link, address: `${ME}/24`, mac: MAC, clock, seed: 1, debug: true,
    limits: icmpErrorsPerSecond ? { icmpErrorsPerSecond } : {} });
  return { clock, link, s };
}

const ip = (o: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src: PEER, dst: ME, proto: PROTO_UDP, payload: udp({ src: o.src ?? PEER, dst: o.dst ?? ME, sport: 1, dport: 7, payload: new Uint8Array(4) }), ...o });
const eth = (payload: Uint8Array, dst = MAC, type = ETHERTYPE_IPV4) => ether(dst, PEER_MAC, type, payload);
const arpFrame = (o: Partial<Parameters<typeof arp>[0]>, src = PEER_MAC) =>
  ether(BROADCAST, src, ETHERTYPE_ARP, arp({ op: 1, sha: PEER_MAC, spa: PEER, tpa: ME, ...o }), true);

/** [name, frame, the counter it must bump]. */
const CASES: [string, Uint8Array, string][] = [
  ['runt (10 bytes)', new Uint8Array(10), 'rxRunt'],
  ['empty frame', new Uint8Array(0), 'rxRunt'],
  ['IPv6 ethertype', eth(new Uint8Array(40), MAC, 0x86dd), 'rxEthertype'],
  ['802.3 length field', eth(new Uint8Array(46), MAC, 46), 'rxEthertype'],
  ['unicast to another MAC', eth(ip(), '02:00:00:00:00:02'), 'rxNotForUs'],
  ['multicast MAC we did not join', eth(ip({ dst: '224.0.0.5' }), '01:00:5e:00:00:05'), 'rxNotForUs'],
  ['multicast IP in a broadcast frame', eth(ip({ dst: '224.0.0.5' }), BROADCAST), 'ipMulticast'],
  ['IP shorter than its header', eth(ip().subarray(0, 12)), 'ipBadLen'],
  ['IP version 6 in an IPv4 frame', eth(ip({ version: 6 })), 'ipBadVersion'],
  ['IHL 4 (16-byte header)', eth(ip({ ihl: 4 })), 'ipBadHlen'],
  ['IHL 15, beyond the frame', eth(ip({ ihl: 15 }).subarray(0, 40)), 'ipBadHlen'],
  ['total length beyond the frame', eth(ip({ totalLength: 200 })), 'ipBadLen'],
  ['total length below the header', eth(ip({ totalLength: 12 })), 'ipBadLen'],
  ['bad IP header checksum', eth(ip({ checksum: 0x1234 })), 'ipBadChecksum'],
  ['martian source 127.0.0.1', eth(ip({ src: '127.0.0.1' })), 'ipMartian'],
  ['martian source 0.1.2.3', eth(ip({ src: '0.1.2.3' })), 'ipMartian'],
  ['multicast source', eth(ip({ src: '224.1.1.1' })), 'ipMartian'],
  ['class E source', eth(ip({ src: '240.0.0.1' })), 'ipMartian'],
  ['limited broadcast source', eth(ip({ src: '255.255.255.255' })), 'ipMartian'],
  ['subnet broadcast source', eth(ip({ src: '10.0.0.255' })), 'ipMartian'],
  ['our own address as source', eth(ip({ src: ME })), 'ipMartian'],
  ['not our address', eth(ip({ dst: '10.0.0.77' })), 'ipNotLocal'],
  ['UDP with a bad checksum', eth(ipv4({ src: PEER, dst: ME, proto: PROTO_UDP,
    payload: udp({ src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array(4), checksum: 0x1234 }) })), 'udpBadChecksum'],
  ['UDP length beyond the IP payload', eth(ipv4({ src: PEER, dst: ME, proto: PROTO_UDP,
    payload: udp({ src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array(4), length: 40 }) })), 'udpBadLen'],
  ['UDP length below 8', eth(ipv4({ src: PEER, dst: ME, proto: PROTO_UDP,
    payload: udp({ src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array(4), length: 4 }) })), 'udpBadLen'],
  ['UDP shorter than its header', eth(ipv4({ src: PEER, dst: ME, proto: PROTO_UDP, payload: new Uint8Array(5) })), 'udpBadLen'],
  ['ICMP with a bad checksum', eth(ipv4({ src: PEER, dst: ME, proto: PROTO_ICMP,
    payload: icmp({ type: 8, id: 1, seq: 1, checksum: 0x1234 }) })), 'icmpBad'],
  ['ICMP shorter than its header', eth(ipv4({ src: PEER, dst: ME, proto: PROTO_ICMP, payload: new Uint8Array(4) })), 'icmpBad'],
  ['ARP for another hardware type', arpFrame({ htype: 6 }), 'arpBad'],
  ['ARP for another protocol', arpFrame({ ptype: 0x86dd }), 'arpBad'],
  ['ARP with hlen 8', arpFrame({ hlen: 8 }), 'arpBad'],
  ['ARP truncated', ether(BROADCAST, PEER_MAC, ETHERTYPE_ARP, arp({ op: 1, sha: PEER_MAC, spa: PEER, tpa: ME }).subarray(0, 20)), 'arpBad'],
  ['ARP opcode 3', arpFrame({ op: 3 }), 'arpBad'],
  ['ARP from a multicast hardware address', arpFrame({ sha: '01:00:5e:00:00:01' }), 'arpBad'],
  ['ARP from a martian sender', arpFrame({ spa: '127.0.0.1' }), 'arpBad'],
  ['ARP claiming our own MAC', arpFrame({ sha: MAC }), 'arpBad'],
];

test('every malformed frame is dropped and counted under its reason, and nothing is sent', async () => {
  const { clock, link, s } = rig();
  const sock = s.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  sock.bind(7);
  await ticks();
  for (const [name, frame, counter] of CASES) {
    const before = s.stats();
    assert.ok(counter in before, `${counter} is a counter`);
    link.inject(frame);
    clock.advance(0);
    const after = s.stats();
    assert.is(after[counter] - before[counter], 1, `${name}: ${counter}`);
    assert.is(link.sent.length, 0, `${name}: nothing sent in answer`);
    assert.is(got.length, 0, `${name}: nothing delivered`);
  }
  const st = s.stats();
  assert.is(st.rxFrames, CASES.length);
  assert.is(st.buffersFree, st.buffers, 'every buffer back in the pool');
  // Still working: a valid ping is answered.
  link.inject(pingFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, id: 1, seq: 1, data: new Uint8Array(8) }));
  clock.advance(0);
  assert.ok(link.take().some((f) => f.icmp?.type === 0));
  sock.close();
  await s.close();
});

test('odd but valid: Ethernet padding, IP options, a UDP length shorter than the IP payload', async () => {
  const { clock, s, link } = rig();
  const sock = s.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  sock.bind(7);
  await ticks();
  // 3 bytes of data in a frame padded to 60 bytes: the padding is not data.
  const padded = new Uint8Array(60);
  padded.set(udpFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array([1, 2, 3]) }));
  padded.fill(0xee, 45);
  link.inject(padded);
  // IP options: 4 NOPs (IHL 6).
  link.inject(eth(ipv4({ src: PEER, dst: ME, proto: PROTO_UDP, options: new Uint8Array([1, 1, 1, 1]),
    payload: udp({ src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array([4, 5]) }) })));
  // UDP length 9 inside a 12-byte IP payload: the UDP length wins (RFC 768).
  const d = udp({ src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array([6]) });
  const longer = new Uint8Array(12); longer.set(d); longer.fill(0xee, 9);
  link.inject(eth(ipv4({ src: PEER, dst: ME, proto: PROTO_UDP, payload: longer })));
  clock.advance(0);
  assert.equal(got.map((m) => hex(m)), ['010203', '0405', '06']);
  assert.is(link.sent.length, 0);
  sock.close();
  await s.close();
});

test('unknown protocol: ICMP protocol unreachable, quoting the header and 8 bytes; never for a broadcast', async () => {
  const { clock, link, s } = rig();
  const pkt = ipv4({ src: PEER, dst: ME, proto: 253, payload: new Uint8Array(30).map((_, i) => i) });
  link.inject(eth(pkt));
  clock.advance(0);
  const out = link.take().filter((f) => f.type === ETHERTYPE_IPV4);
  assert.is(s.stats().ipBadProto, 1);
  assert.is(out.length, 1);
  const m = out[0];
  assert.equal([m.icmp!.type, m.icmp!.code], [3, 2]);
  assert.ok(m.icmp!.checksumOk);
  assert.ok(m.ip!.checksumOk);
  assert.is(m.ip!.dst, PEER);
  assert.is(hex(m.icmp!.data), hex(pkt.subarray(0, 28)));
  // To the subnet broadcast and to 255.255.255.255: counted, not answered (RFC 1122 3.2.2).
  link.inject(eth(ipv4({ src: PEER, dst: '10.0.0.255', proto: 253, payload: new Uint8Array(8) }), BROADCAST));
  link.inject(eth(ipv4({ src: PEER, dst: '255.255.255.255', proto: 253, payload: new Uint8Array(8) }), BROADCAST));
  clock.advance(0);
  assert.is(s.stats().ipBadProto, 3);
  assert.is(link.take().length, 0);
  await s.close();
});

test('UDP to a closed port: ICMP port unreachable, rate-limited to icmpErrorsPerSecond', async () => {
  const { clock, link, s } = rig(5);
  const frame = (i: number) => udpFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, sport: 4000 + i, dport: 9, payload: new Uint8Array([i]) });
  for (let i = 0; i < 20; i++) link.inject(frame(i));
  clock.advance(0);
  let out = link.take().filter((f) => f.icmp);
  let st = s.stats();
  assert.is(st.udpNoPort, 20);
  assert.is(out.length, 5, 'a burst of 5 allowed');
  assert.is(st.icmpRateLimited, 15);
  for (const [i, m] of out.entries()) {
    assert.equal([m.icmp!.type, m.icmp!.code], [3, 3]);
    assert.ok(m.icmp!.checksumOk);
    const q = parse(ether(MAC, PEER_MAC, ETHERTYPE_IPV4, m.icmp!.data));
    assert.is(q.ip!.src, PEER, 'the quote is the offending datagram');
    assert.is((q.ip!.payload[0] << 8) | q.ip!.payload[1], 4000 + i, 'its source port');
  }
  // The bucket refills: 5 a second.
  clock.advance(400);
  for (let i = 0; i < 5; i++) link.inject(frame(i));
  clock.advance(0);
  out = link.take().filter((f) => f.icmp);
  assert.is(out.length, 2, '0.4 s buys 2 tokens');
  clock.advance(5000);
  for (let i = 0; i < 10; i++) link.inject(frame(i));
  clock.advance(0);
  out = link.take().filter((f) => f.icmp);
  assert.is(out.length, 5, 'never more than one second\'s worth');
  st = s.stats();
  assert.is(st.buffersFree, st.buffers);
  await s.close();
});

test('a ping to a broadcast address is not answered (RFC 1122 3.2.2.6), a UDP broadcast to a closed port neither', async () => {
  const { clock, link, s } = rig();
  link.inject(pingFrame({ dstMac: BROADCAST, srcMac: PEER_MAC, src: PEER, dst: '10.0.0.255', id: 1, seq: 1, data: new Uint8Array(4) }));
  link.inject(udpFrame({ dstMac: BROADCAST, srcMac: PEER_MAC, src: PEER, dst: '255.255.255.255', sport: 1, dport: 9, payload: new Uint8Array(1) }));
  clock.advance(0);
  assert.is(s.stats().icmpEchoRx, 1);
  assert.is(s.stats().udpNoPort, 1);
  assert.is(link.sent.length, 0);
  await s.close();
});

test('random garbage and truncations of valid frames never crash the core and never leak a buffer', async () => {
  const { clock, link, s } = rig();
  const sock = s.dgram.createSocket('udp4');
  sock.on('message', () => {});
  sock.bind(7);
  await ticks();
  const valid = [
    pingFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, id: 1, seq: 1, data: new Uint8Array(40) }),
    udpFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array(40) }),
    arpFrame({}),
  ];
  for (const v of valid) {
    for (let n = 0; n <= v.length; n++) link.inject(v.slice(0, n));
    for (let i = 0; i < v.length * 8; i++) { const f = v.slice(); f[i >> 3] ^= 1 << (i & 7); link.inject(f); }
    clock.advance(0);
  }
  const lie = udpFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: ME, sport: 1, dport: 7, payload: new Uint8Array(40) });
  put16(lie, 16, 0xffff);          // total length far beyond the frame
  link.inject(lie);
  clock.advance(1000);
  clock.advance(31_000);
  s.kick();
  clock.advance(0);
  link.take();
  const st = s.stats();
  assert.is(st.buffersFree, st.buffers);
  sock.close();
  await s.close();
});

test.run();
