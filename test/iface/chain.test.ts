// Frames over several buffers (FRAME_MORE, docs/ABI.md): a large UDP datagram
// or TCP segment posted as a chain of descriptors arrives whole; a chain that
// is not IPv4 TCP/UDP, is left open, or names a bad buffer is dropped and
// counted, and every buffer goes back to the pool. The debug core runs here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FuzzCore as Core } from '../fuzz/harness.ts';
import { SCB, FRAME } from '../../host/core-abi.ts';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { TestLink, ether, ipv4, udp, arp, ip4, macBytes, ETHERTYPE_IPV4, ETHERTYPE_ARP, PROTO_UDP, ticks } from '../helpers/frames.ts';

const MAC = '02:00:00:00:00:01', PEER_MAC = '02:00:00:00:00:aa';
const ME = '10.0.0.1', PEER = '10.0.0.9';
const MORE = FRAME.MORE << 16;

function core(): Core {
  const c = new Core('debug', { poolBytes: 64 * 2048 });
  const m = macBytes(MAC);
  assert.is(c.ex.if_add((m[0] << 8) | m[1], ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0, 1500), 0);
  assert.is(c.ex.addr_add(0, ip4(ME), 24), 0);
  return c;
}

/** Posts frame over buffers of at most `piece` bytes; `more` on the last too when `open`. */
function post(c: Core, frame: Uint8Array, piece: number, open = false): void {
  for (let off = 0; off < frame.length; off += piece) {
    const b = c.pop(false);
    const end = Math.min(off + piece, frame.length);
    c.u8.set(frame.subarray(off, end), b + c.bufData);
    c.desc(b + c.bufData, end - off, end < frame.length || open ? MORE : 0);
  }
}

const bigUdp = (n: number, dport = 7) => {
  const payload = new Uint8Array(n).map((_, i) => (i * 7) & 255);
  return { payload, frame: ether(MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({ src: PEER, dst: ME, proto: PROTO_UDP,
    payload: udp({ src: PEER, dst: ME, sport: 9, dport, payload }) })) };
};

test('a UDP datagram larger than a buffer, posted over several, is delivered whole', () => {
  const c = core();
  const sd = c.ex.udp_open();
  assert.is(c.ex.udp_bind(sd, 0, 7), 0);
  c.socks.push(sd);
  const { payload, frame } = bigUdp(5000);
  post(c, frame, 1500);
  c.poll(0, null);
  assert.is(c.c('udpRx'), 1);
  assert.is(c.ex.udp_recv(sd, 1), 1, 'a datagram to read');
  // Record: source, port, length, segments, then (address, bytes) per segment.
  const r = c.w(SCB.IO) >>> 2;
  assert.is(c.u32[r + 2], payload.length);
  const nseg = c.u32[r + 3];
  assert.ok(nseg > 1, 'over several buffers');
  let got = 0;
  for (let i = 0; i < nseg; i++) {
    const p = c.u32[r + 4 + 2 * i], l = c.u32[r + 5 + 2 * i];
    assert.equal(c.u8.subarray(p, p + l), payload.subarray(got, got + l));
    got += l;
  }
  assert.is(got, payload.length);
  c.ex.udp_close(sd);
  c.poll(1, null);
  assert.is(c.free, c.nbufs, 'every buffer back');
});

test('chains that are not IPv4 TCP/UDP, stay open, or name a bad buffer are dropped and counted', () => {
  const c = core();
  const arpFrame = ether(MAC, PEER_MAC, ETHERTYPE_ARP, arp({ op: 1, sha: PEER_MAC, spa: PEER, tpa: ME }), true);
  post(c, arpFrame, 30);
  c.poll(0, null);
  assert.is(c.c('rxChainBad'), 1, 'ARP over two buffers');
  assert.is(c.c('arpRx'), 0);

  const { frame } = bigUdp(3000);
  post(c, frame, 1500, true);               // the last descriptor still says "more"
  c.poll(1, null);
  assert.is(c.c('rxBadDesc'), 1, 'a chain left open at the end of the batch');
  assert.is(c.c('udpRx'), 0);

  const head = c.pop(false);
  c.u8.set(frame.subarray(0, 1500), head + c.bufData);
  c.desc(head + c.bufData, 1500, MORE);
  c.desc(12345, 1500, 0);                   // not a buffer
  c.poll(2, null);
  assert.is(c.c('rxBadDesc'), 2, 'a chain with a bad buffer in it');
  assert.is(c.c('udpRx'), 0);
  assert.is(c.free, c.nbufs, 'every buffer back');
});

test('a large buffer takes a frame whole; descriptors into large buffers the host does not own are refused', () => {
  const c = new Core('debug', { poolBytes: 64 * 2048, largeBytes: 2 * 65728 });
  const m = macBytes(MAC);
  assert.is(c.ex.if_add((m[0] << 8) | m[1], ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0, 1500), 0);
  assert.is(c.ex.addr_add(0, ip4(ME), 24), 0);
  assert.is(c.nlarge, 2);
  assert.ok(c.largeSize >= c.bufData + 65553, `large buffers of ${c.largeSize} bytes hold any frame`);
  const sd = c.ex.udp_open();
  assert.is(c.ex.udp_bind(sd, 0, 7), 0);
  c.socks.push(sd);
  const { payload, frame } = bigUdp(20000);
  const b = c.popLarge();
  c.u8.set(frame, b + c.bufData);
  c.desc(b + c.bufData, frame.length, 0);
  c.poll(0, null);
  assert.is(c.c('udpRx'), 1);
  assert.is(c.ex.udp_recv(sd, 1), 1);
  const r = c.w(SCB.IO) >>> 2;
  assert.is(c.u32[r + 3], 1, 'one segment: the frame stayed in its one buffer');
  const p = c.u32[r + 4];
  assert.equal(c.u8.subarray(p, p + c.u32[r + 5]), payload);
  assert.is(c.largeFree, 1, 'the read datagram holds its buffer until the next call');

  const mine = c.popLarge();
  c.desc(b + c.bufData, 60, 0);                              // held by the core (lent to the reader)
  c.desc(mine + c.largeSize - 10, 60, 0);                    // runs past the end of its large buffer
  c.desc(mine - 4, 60, 0);                                   // just below it: another buffer's last bytes, or no buffer
  c.poll(1, null);
  assert.is(c.c('rxBadDesc'), 3);
  assert.is(c.c('udpRx'), 1);
  c.pushLarge(mine);
  c.ex.udp_close(sd);
  c.poll(2, null);
  assert.is(c.largeFree, c.nlarge, 'every large buffer back');
  assert.is(c.free, c.nbufs);
});

test('a Stack takes a frame larger than its buffers from a link and chains it', async () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  const s = Stack.createSync({ name: 'c', link, address: `${ME}/24`, mac: MAC, clock, seed: 1, debug: true });
  const sock = s.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  sock.bind(7);
  await ticks();
  const { payload, frame } = bigUdp(9000);
  link.inject(frame);
  link.inject(ether(MAC, PEER_MAC, 0x86dd, new Uint8Array(4000)));
  clock.advance(0);
  await ticks();
  assert.is(got.length, 1);
  assert.equal(new Uint8Array(got[0]), payload);
  link.inject(ether(MAC, PEER_MAC, 0x86dd, new Uint8Array(40)));   // a poll, which takes back the buffers read
  clock.advance(0);
  const st = s.stats();
  assert.is(st.rxChainBad, 1, 'an IPv6 frame over several buffers');
  assert.is(st.buffersFree, st.buffers);
  sock.close();
  await s.close();
});

test.run();
