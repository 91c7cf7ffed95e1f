// Address flags (addr_add_flags, docs/ABI.md §4), through a core driven
// directly: a VIPA held quietly on a target (ADDR_NOARP) is local but never
// answered in ARP nor used as a source; one the routing stack takes
// (ADDR_ANNOUNCE) is answered and announced by a gratuitous ARP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FuzzCore as Core, type TxSink } from '../fuzz/harness.ts';
import { arpRequest, arpReply, pingFrame, parse, ip4, macBytes, ETHERTYPE_ARP, PROTO_ICMP, BROADCAST, type Parsed } from '../helpers/frames.ts';

const MAC = '02:00:00:00:00:01', PEER_MAC = '02:00:00:00:00:aa';
const ME = '10.0.0.1', PEER = '10.0.0.9', VIPA = '10.0.0.100';
const NOARP = 1, ANNOUNCE = 2;
const EINVAL = -22, ENETUNREACH = -101;

function core(): Core {
  const c = new Core('debug', {});
  const m = macBytes(MAC);
  assert.is(c.ex.if_add((m[0] << 8) | m[1], ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0, 1500), 0);
  c.mtus[0] = 1500;
  return c;
}

/** Collects what the core sends, parsed. */
function sink(out: Parsed[]): TxSink {
  return (u8, p, len) => { out.push(parse(u8.slice(p, p + len))); };
}

function rx(c: Core, frame: Uint8Array, now: number, out: Parsed[]): void {
  const b = c.pop(false);
  c.u8.set(frame, b + c.bufData);
  c.desc(b + c.bufData, frame.length, 0);
  c.poll(now, sink(out));
}

test('flags 0 is addr_add; bad flags are refused', () => {
  const c = core();
  assert.is(c.ex.addr_add_flags(0, ip4(ME), 24, 0), 0);
  assert.is(c.ex.addr_add_flags(0, ip4(VIPA), 32, NOARP | ANNOUNCE), EINVAL, 'not both');
  assert.is(c.ex.addr_add_flags(0, ip4(VIPA), 32, 4), EINVAL, 'no other bits');
  assert.is(c.ex.addr_add_flags(0, ip4(ME), 32, NOARP), -17, 'a duplicate: EEXIST');
  const out: Parsed[] = [];
  c.afterCall(sink(out));
  assert.is(out.length, 0, 'no gratuitous ARP without ADDR_ANNOUNCE');
  rx(c, arpRequest(PEER_MAC, PEER, ME), 0, out);
  assert.is(out.length, 1);
  assert.is(out[0].arp?.op, 2, 'an ordinary address is answered');
});

test('ADDR_NOARP: local (echo answered from it) but ARP for it is not answered, and it is no source', () => {
  const c = core();
  assert.is(c.ex.addr_add_flags(0, ip4(VIPA), 32, NOARP), 0);
  const out: Parsed[] = [];
  c.afterCall(sink(out));
  assert.is(out.length, 0, 'nothing announced');
  rx(c, arpRequest(PEER_MAC, PEER, VIPA), 0, out);
  assert.is(out.length, 0, 'no reply for the VIPA');
  assert.is(c.c('arpRx'), 1);
  assert.is(c.c('arpNotForUs'), 1);
  // Its only address is the VIPA: nothing can be sent from it, so a ping into the subnet has no source.
  assert.is(c.ex.route_add(ip4('10.0.0.0'), 24, 0, 0), 0);
  assert.is(c.ex.ping(ip4(PEER), 1, 1, 8), ENETUNREACH, 'the VIPA is never picked as a source');
  // With an ordinary address beside it, a datagram to the VIPA is taken in and answered from the VIPA;
  // the ARP request that resolves the peer names the ordinary address.
  assert.is(c.ex.addr_add(0, ip4(ME), 24), 0);
  rx(c, pingFrame({ dstMac: MAC, srcMac: PEER_MAC, src: PEER, dst: VIPA, id: 7, seq: 1, data: new Uint8Array(8) }), 1, out);
  assert.is(c.c('icmpEchoRx'), 1, 'the VIPA is local');
  assert.is(out.length, 1);
  assert.equal({ op: out[0].arp?.op, spa: out[0].arp?.spa, tpa: out[0].arp?.tpa, dst: out[0].dst }, { op: 1, spa: ME, tpa: PEER, dst: BROADCAST });
  out.length = 0;
  rx(c, arpReply(PEER_MAC, PEER, MAC, ME), 2, out);
  assert.is(out.length, 1, 'the reply waited for ARP and now goes out');
  assert.equal({ src: out[0].ip?.src, dst: out[0].ip?.dst, proto: out[0].ip?.proto }, { src: VIPA, dst: PEER, proto: PROTO_ICMP });
});

test('ADDR_ANNOUNCE: a gratuitous ARP goes out as it is added, and ARP for it is answered', () => {
  const c = core();
  assert.is(c.ex.addr_add(0, ip4(ME), 24), 0);
  assert.is(c.ex.addr_add_flags(0, ip4(VIPA), 32, ANNOUNCE), 0);
  const out: Parsed[] = [];
  c.afterCall(sink(out));
  assert.is(out.length, 1, 'one announcement');
  const g = out[0];
  assert.is(g.dst, BROADCAST);
  assert.is(g.type, ETHERTYPE_ARP);
  assert.equal(g.arp, { htype: 1, ptype: 0x0800, hlen: 6, plen: 4, op: 1, sha: MAC, spa: VIPA, tha: '00:00:00:00:00:00', tpa: VIPA },
    'RFC 5227 2.3: a request with the address as sender and target');
  assert.is(c.c('arpTx'), 1);
  out.length = 0;
  rx(c, arpRequest(PEER_MAC, PEER, VIPA), 0, out);
  assert.is(out.length, 1);
  assert.equal({ op: out[0].arp?.op, spa: out[0].arp?.spa, tpa: out[0].arp?.tpa, dst: out[0].dst }, { op: 2, spa: VIPA, tpa: PEER, dst: PEER_MAC });
});

test.run();
