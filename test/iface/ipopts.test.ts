// IPv4 options are parsed (RFC 791 3.1, RFC 1122): a malformed one draws an
// ICMP Parameter Problem pointing at the bad octet and no other answer
// (3.2.2.5); a source route with hops left is not for us and is dropped
// (3.3.5); Record Route and Timestamp in an echo request come back in the
// reply with this host entered (3.2.2.6), on arrival and on departure as
// Linux enters them. The debug core runs here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { TestLink, ether, ipv4, udp, icmp, hex, get32, ip4, ticks, ETHERTYPE_IPV4, PROTO_UDP, PROTO_ICMP } from '../helpers/frames.ts';

const MAC = '02:00:00:00:00:01', PEER_MAC = '02:00:00:00:00:aa';
const ME = '10.0.0.1', PEER = '10.0.0.9';
const OPEN = 7, CLOSED = 9;

function rig() {
  const clock = new VirtualClock();
  const link = new TestLink();
  link.arp.set(PEER, PEER_MAC);
  const s = Stack.createSync({ name: 'ipopts', link, address: `${ME}/24`, mac: MAC, clock, seed: 1, debug: true });
  const sock = s.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  sock.bind(OPEN);
  return { clock, link, s, got };
}

const bytes = (...xs: number[]) => new Uint8Array(xs);
const quad = (a: string) => { const n = ip4(a); return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]; };
const udpTo = (dport: number, options: Uint8Array) => ether(MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({
  src: PEER, dst: ME, proto: PROTO_UDP, options, payload: udp({ src: PEER, dst: ME, sport: 1000, dport, payload: bytes(1, 2, 3) }) }));
const echo = (options: Uint8Array) => ether(MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({
  src: PEER, dst: ME, proto: PROTO_ICMP, options, payload: icmp({ type: 8, id: 7, seq: 1, data: bytes(9, 8, 7, 6, 5) }) }));

/** [name, options, offset of the bad octet in the header]. */
const MALFORMED: [string, Uint8Array, number][] = [
  ['an option of length 0', bytes(130, 0, 0, 0), 21],
  ['an option of length 1', bytes(1, 130, 1, 0), 22],
  ['an option overrunning the header', bytes(130, 8, 0, 0), 21],
  ['an option type with no length octet left', bytes(1, 1, 1, 130), 23],
  ['Record Route shorter than 3', bytes(7, 2, 0, 0), 21],
  ['Record Route pointer below 4', bytes(7, 7, 3, 0, 0, 0, 0, 0), 22],
  ['Record Route pointer into its last entry', bytes(7, 7, 5, 0, 0, 0, 0, 0), 22],
  ['two Record Routes', bytes(7, 3, 4, 7, 3, 4, 0, 0), 23],
  ['Timestamp pointer below 5', bytes(68, 8, 4, 0, 0, 0, 0, 0), 22],
  ['Timestamp with addresses and no room for a whole entry', bytes(68, 8, 5, 1, 0, 0, 0, 0), 22],
  ['Timestamp full with its overflow count used up', bytes(68, 8, 9, 0xf0, 0, 0, 0, 0), 23],
  ['loose source route pointer below 4', bytes(131, 7, 3, ...quad(ME), 0), 22],
  ['a loose and a strict source route', bytes(131, 3, 4, 137, 3, 4, 0, 0), 23],
];

test('a malformed option draws a Parameter Problem pointing at the bad octet, and nothing else', async () => {
  const { clock, link, s, got } = rig();
  await ticks();
  for (const [name, options, at] of MALFORMED) {
    for (const dport of [OPEN, CLOSED]) {
      const before = s.stats().ipBadOption;
      const frame = udpTo(dport, options);
      link.inject(frame);
      clock.advance(0);
      assert.is(s.stats().ipBadOption - before, 1, `${name}: counted`);
      const out = link.take().filter((f) => f.ip);
      assert.is(out.length, 1, `${name} (port ${dport}): one answer`);
      const m = out[0].icmp!;
      assert.equal([m.type, m.code], [12, 0], `${name}: Parameter Problem`);
      assert.ok(m.checksumOk && out[0].ip!.checksumOk);
      assert.is(out[0].ip!.dst, PEER);
      assert.is(m.rest >>> 24, at, `${name}: the pointer`);
      const hlen = 20 + options.length;
      assert.is(hex(m.data), hex(frame.subarray(14, 14 + hlen + 8)), `${name}: quotes the header and 8 bytes`);
    }
    clock.advance(1000);   // past the ICMP rate limit's burst
  }
  assert.is(got.length, 0, 'nothing delivered');
  assert.is(s.stats().udpNoPort, 0, 'no port unreachable');
  // ICMP with no header to tell an error from a query: never answered with an error.
  link.inject(ether(MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({ src: PEER, dst: ME, proto: PROTO_ICMP, options: bytes(130, 1, 0, 0), payload: bytes() })));
  clock.advance(0);
  assert.is(link.take().filter((f) => f.ip).length, 0);
  const st = s.stats();
  assert.is(st.buffersFree, st.buffers);
  await s.close();
});

test('a source route with hops left is dropped and counted; a completed one is delivered', async () => {
  const { clock, link, s, got } = rig();
  await ticks();
  for (const type of [131, 137]) {
    for (const dport of [OPEN, CLOSED]) {
      link.inject(udpTo(dport, bytes(type, 7, 4, ...quad('10.0.0.77'), 0)));
      link.inject(udpTo(dport, bytes(1, type, 11, 8, ...quad(PEER), ...quad('10.0.0.77'))));
    }
  }
  clock.advance(0);
  assert.is(s.stats().ipSourceRoute, 8);
  assert.is(s.stats().ipBadOption, 0);
  assert.is(link.take().length, 0, 'no answer');
  assert.is(got.length, 0);
  // Its pointer past the end: we were the last hop.
  link.inject(udpTo(OPEN, bytes(131, 7, 8, ...quad(ME), 0)));
  link.inject(udpTo(OPEN, bytes(137, 11, 12, ...quad('10.0.0.77'), ...quad(ME), 0)));
  // Unknown options and padding are skipped by their length.
  link.inject(udpTo(OPEN, bytes(130, 11, ...new Array(9).fill(0), 148, 4, 0, 0)));
  clock.advance(0);
  assert.is(got.length, 3);
  assert.is(s.stats().ipSourceRoute, 8);
  await s.close();
});

/** The echo reply to a request with these options (one frame), with its header's options. */
function reply(options: Uint8Array, advance = 0) {
  const { clock, link, s } = rig();
  clock.advance(advance);
  link.inject(echo(options));
  clock.advance(0);
  const out = link.take().filter((f) => f.ip);
  assert.is(out.length, 1);
  const p = out[0];
  assert.ok(p.ip!.checksumOk && p.icmp!.checksumOk);
  assert.equal([p.icmp!.type, p.icmp!.id, p.icmp!.seq, hex(p.icmp!.data)], [0, 7, 1, '0908070605']);
  return { s, opts: p.ip!.header.subarray(20) };
}

test('Record Route in an echo request comes back with our address entered where there is room', async () => {
  // The sender entered itself; room for three more: we enter ourselves on arrival and on departure.
  let { s, opts } = reply(bytes(1, 7, 19, 8, ...quad(PEER), ...new Array(12).fill(0), 0, 0, 0, 0));
  assert.is(hex(opts), hex(bytes(7, 19, 16, ...quad(PEER), ...quad(ME), ...quad(ME), 0, 0, 0, 0, 0)));
  await s.close();
  // Room for one.
  ({ s, opts } = reply(bytes(7, 11, 8, ...quad(PEER), 0, 0, 0, 0, 0)));
  assert.is(hex(opts), hex(bytes(7, 11, 12, ...quad(PEER), ...quad(ME), 0)));
  await s.close();
  // Full: as it came, the unknown option beside it left out.
  ({ s, opts } = reply(bytes(130, 4, 0, 0, 7, 7, 8, ...quad(PEER), 0)));
  assert.is(hex(opts), hex(bytes(7, 7, 8, ...quad(PEER), 0)));
  await s.close();
});

test('Timestamp in an echo request comes back stamped where there is room, a full one with its overflow counted', async () => {
  const T = 1234567;   // ms on the stack's clock; not since midnight UT, so the high bit is set
  const stamp = (0x80000000 | T) >>> 0;
  let { s, opts } = reply(bytes(68, 16, 5, 0, ...new Array(12).fill(0)), T);
  assert.is(opts.length, 16);
  assert.equal([opts[0], opts[1], opts[2], opts[3]], [68, 16, 13, 0]);
  assert.equal([get32(opts, 4), get32(opts, 8), get32(opts, 12)], [stamp, stamp, 0]);
  await s.close();
  // Addresses and times.
  ({ s, opts } = reply(bytes(68, 20, 5, 1, ...new Array(16).fill(0)), T));
  assert.equal([opts[2], get32(opts, 4), get32(opts, 8), get32(opts, 12), get32(opts, 16)], [21, ip4(ME), stamp, ip4(ME), stamp]);
  await s.close();
  // Prespecified: only where the next address is ours.
  ({ s, opts } = reply(bytes(68, 20, 5, 3, ...quad(ME), 0, 0, 0, 0, ...quad(PEER), 0, 0, 0, 0), T));
  assert.equal([opts[2], get32(opts, 4), get32(opts, 8), get32(opts, 12), get32(opts, 16)], [13, ip4(ME), stamp, ip4(PEER), 0]);
  await s.close();
  // Full: the overflow count goes up by one, for this host.
  ({ s, opts } = reply(bytes(68, 8, 9, 0x20, 0, 0, 0, 1), T));
  assert.is(hex(opts), hex(bytes(68, 8, 9, 0x30, 0, 0, 0, 1)));
  await s.close();
});

test.run();
