// Software offloads for a routing stack's IP-in-IP (RFC 2003) GSO frame
// (host/link/offload.ts): cut into wire-sized segments as Linux's ipip GSO
// does (each with its outer header, the inner IPv4 length, id and checksum
// and the TCP sequence number and checksum fixed), taken whole only by a
// receiver that says so, and its inner partial checksum completed.
// Frames are built and checked with test/helpers/frames.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_CSUM_PARTIAL, FRAME_GSO } from '../../host/link/link.ts';
import type { LinkOffload } from '../../host/link/link.ts';
import { fits, normalize } from '../../host/link/offload.ts';
import { ether, ipv4, tcpSegment, cksum, pseudo, fold16, get16, get32, put16, ip4,
  ETHERTYPE_IPV4, PROTO_IPIP, PROTO_TCP, TH_ACK, TH_PSH, TH_FIN } from '../helpers/frames.ts';

const PARTIAL = FRAME_CSUM_PARTIAL, GSO = FRAME_GSO;
const CLIENT = '192.0.2.9', VIPA = '10.0.0.100', ROUTER = '10.0.0.1', TARGET = '10.0.0.11';
const TS = new Uint8Array([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);

/** A merged segment of n payload bytes, IP-in-IP from the routing stack to
 * the target, its TCP checksum left partial (the pseudo-header sum). */
function merged(n: number, flags = TH_ACK | TH_PSH | TH_FIN) {
  const payload = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
  const tcp = tcpSegment({ src: CLIENT, dst: VIPA, sport: 40000, dport: 80, seq: 0xfffff000, ack: 77, flags, options: TS, payload });
  put16(tcp, 16, fold16(pseudo(ip4(CLIENT), ip4(VIPA), PROTO_TCP, tcp.length)));
  const inner = ipv4({ src: CLIENT, dst: VIPA, proto: PROTO_TCP, payload: tcp, id: 0xfffe, df: true });
  const outer = ipv4({ src: ROUTER, dst: TARGET, proto: PROTO_IPIP, payload: inner, id: 0x100, df: true });
  return { frame: ether('02:00:00:00:00:11', '02:00:00:00:00:01', ETHERTYPE_IPV4, outer), payload };
}

function run(frame: Uint8Array, flags: number, gso: number, take: LinkOffload | undefined, mtu = 1500) {
  const out: { f: Uint8Array; flags: number; gso: number }[] = [];
  const ok = normalize(frame, flags, gso, take, mtu, (f, fl, g) => out.push({ f: f.slice(), flags: fl, gso: g }));
  return { ok, out };
}

/** A segment's headers, every checksum checked (a partial TCP one completed first, as a NIC would). */
function check(f: Uint8Array, partial: boolean) {
  assert.is(f[23], PROTO_IPIP);
  const total = get16(f, 16);
  assert.is(f.length, 14 + total, 'no padding, no trailing bytes');
  assert.is(cksum(f.subarray(14, 34)), 0, 'outer IPv4 checksum');
  const inner = f.subarray(34);
  assert.is(get16(inner, 2), inner.length, 'inner total length');
  assert.is(cksum(inner.subarray(0, 20)), 0, 'inner IPv4 checksum');
  const tcp = inner.subarray(20).slice();
  const ph = pseudo(ip4(CLIENT), ip4(VIPA), PROTO_TCP, tcp.length);
  if (partial) {
    assert.is(get16(tcp, 16), fold16(ph), 'the partial checksum is this segment\'s pseudo-header sum');
    put16(tcp, 16, 0);
    put16(tcp, 16, cksum(tcp, ph));
  }
  assert.is(cksum(tcp, ph), 0, 'TCP checksum');
  return { outerId: get16(f, 18), innerId: get16(inner, 4), seq: get32(tcp, 4), flags: tcp[13], data: tcp.subarray(32) };
}

test('an IP-in-IP GSO frame to a link without offloads: wire-sized segments, every header fixed, every checksum valid', () => {
  const { frame, payload } = merged(5000);
  const gso = 1500 - 20 - 20 - 32;
  assert.ok(fits(frame, GSO | PARTIAL, gso, 1500));
  assert.not.ok(fits(frame, GSO | PARTIAL, gso + 1, 1500), 'one byte more and a segment would not fit');
  const { ok, out } = run(frame, GSO | PARTIAL, gso, undefined);
  assert.ok(ok);
  assert.is(out.length, Math.ceil(5000 / gso));
  const got: number[] = [];
  out.forEach(({ f, flags, gso: g }, i) => {
    assert.is(flags, 0);
    assert.is(g, 0);
    assert.ok(f.length <= 1514);
    const s = check(f, false);
    assert.is(s.outerId, 0x100 + i, 'outer id counts up');
    assert.is(s.innerId, (0xfffe + i) & 0xffff, 'inner id counts up, wrapping');
    assert.is(s.seq, (0xfffff000 + i * gso) >>> 0, 'sequence number, wrapping');
    const last = i === out.length - 1;
    assert.is(s.flags, last ? TH_ACK | TH_PSH | TH_FIN : TH_ACK, 'FIN and PSH only on the last');
    got.push(...s.data);
  });
  assert.equal(new Uint8Array(got), payload, 'the payload, whole and in order');
});

test('a receiver that takes partial checksums and GSO but not IP-in-IP gets partial segments; one that takes IP-in-IP gets it whole', () => {
  const { frame } = merged(4000);
  const plain = run(frame, GSO | PARTIAL, 1000, { csum: true, gso: 65535 });
  assert.ok(plain.ok);
  assert.is(plain.out.length, 4);
  for (const { f, flags } of plain.out) { assert.is(flags, 0); check(f, false); }
  const whole = run(frame, GSO | PARTIAL, 1000, { csum: true, gso: 65535, ipip: true });
  assert.is(whole.out.length, 1);
  assert.equal(whole.out[0], { f: frame, flags: GSO | PARTIAL, gso: 1000 });
  const small = run(frame, GSO | PARTIAL, 1000, { csum: true, gso: 2000, ipip: true });
  assert.is(small.out.length, 4, 'larger than the receiver takes whole: cut');
  for (const { f, flags } of small.out) { assert.is(flags, PARTIAL); check(f, true); }
});

test('an IP-in-IP frame with a partial checksum that fits is completed inside; a bad inner header is refused', () => {
  const { frame } = merged(800);
  const { ok, out } = run(frame, GSO | PARTIAL, 1000, undefined);
  assert.ok(ok);
  assert.is(out.length, 1);
  assert.is(out[0].flags, 0);
  check(out[0].f, false);
  const short = frame.slice();
  put16(short, 36, get16(short, 36) - 4); // the inner datagram no longer fills the outer one
  put16(short, 44, 0);
  put16(short, 44, cksum(short.subarray(34, 54)));
  assert.not.ok(run(short, GSO | PARTIAL, 1000, undefined).ok);
  assert.not.ok(run(short, PARTIAL, 0, undefined).ok);
});

test.run();
