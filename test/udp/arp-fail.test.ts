// A connected UDP socket whose peer never answers ARP hears nothing of it,
// as on Linux: there the failed resolution turns into an ICMP host
// unreachable to ourselves (arp_error_report), a soft error that a UDP socket
// takes only with IP_RECVERR, which node:dgram does not set. Checked on
// kernel 6.18 in a namespace: every send, SO_ERROR and recv of a connected
// socket to a silent on-link address succeeded or found nothing, while
// IcmpOutDestUnreachs counted the reports; with IP_RECVERR, SO_ERROR turned
// 113 (EHOSTUNREACH) three seconds after the first send.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { ticks } from '../helpers/frames.ts';

test('a connected UDP socket to an address nobody has: sends succeed, no error, the datagrams counted as dropped', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const a = Stack.createSync({ name: 'a', link: sw.connect(), address: '10.0.0.1/24', clock, seed: 1, debug: true });
  const sock = a.dgram.createSocket('udp4');
  const errors: Error[] = [];
  sock.on('error', (e) => errors.push(e));
  const connected = new Promise<void>((r) => sock.connect(9, '10.0.0.99', () => r()));
  await ticks();
  await connected;
  const sent: (Error | null)[] = [];
  sock.send(new Uint8Array(10), (e: Error | null) => sent.push(e ?? null));
  await ticks();
  clock.advance(3000);
  await ticks();
  let st = a.stats();
  assert.is(st.arpFailed, 1);
  assert.is(st.arpDropped, 1);
  // Later sends still succeed (and resolve anew), and nothing is reported.
  sock.send(new Uint8Array(10), (e: Error | null) => sent.push(e ?? null));
  await ticks();
  clock.advance(3000);
  await ticks();
  sock.send(new Uint8Array(10), (e: Error | null) => sent.push(e ?? null));
  await ticks();
  st = a.stats();
  assert.is(st.arpFailed, 2);
  assert.equal(sent, [null, null, null]);
  assert.is(errors.length, 0);
  sock.close();
  clock.advance(3000);
  st = a.stats();
  assert.is(st.buffersFree, st.buffers);
  await a.close();
});

test.run();
