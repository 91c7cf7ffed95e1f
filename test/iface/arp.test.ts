// ARP (RFC 826, RFC 1122 2.3.2) as a user sees it: one request then a cache,
// expiry, giving up on an address nobody has, and bounded queues and tables.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack, type StackOptions } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import type { Link } from '../../host/link/link.ts';
import { Sniff, drive, parse, ticks, arpRequest, arp, ether, TestLink, ETHERTYPE_ARP } from '../helpers/frames.ts';

function mk(clock: VirtualClock, name: string, link: Link, address: string, extra: Partial<StackOptions> = {}): Stack {
  return Stack.createSync({ name, link, address, clock, seed: 1, debug: true, ...extra });
}

/** a (sniffed) and b on one switch. */
function pair(limits: StackOptions['limits'] = {}) {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const sa = new Sniff(sw.connect());
  const sb = new Sniff(sw.connect());
  const a = mk(clock, 'a', sa, '10.0.0.1/24', { limits });
  const b = mk(clock, 'b', sb, '10.0.0.2/24', { limits });
  // Time of each ARP request a sends.
  const times: number[] = [];
  const send = sa.send.bind(sa);
  sa.send = (f, fl) => { if (f[12] === 8 && f[13] === 6 && f[21] === 1) times.push(clock.now()); send(f, fl); };
  return { clock, sw, sa, sb, a, b, times };
}

test('resolution: one request, one reply, then the cache: a second ping sends no ARP', async () => {
  const { clock, sa, sb, a, b } = pair();
  await drive(clock, a.ping('10.0.0.2'));
  const reqs = sa.arpRequests();
  assert.is(reqs.length, 1);
  assert.equal({ spa: reqs[0].spa, tpa: reqs[0].tpa, sha: reqs[0].sha }, { spa: '10.0.0.1', tpa: '10.0.0.2', sha: a.macs[0] });
  const replies = sb.tx.map(parse).filter((f) => f.arp);
  assert.is(replies.length, 1, 'b sent one ARP frame: the reply (it learned a from the request)');
  assert.is(replies[0].arp!.op, 2);
  assert.is(replies[0].dst, a.macs[0], 'the reply is unicast');
  assert.is(a.stats().neighbours, 1);
  sa.clear(); sb.clear();
  await drive(clock, a.ping('10.0.0.2'));
  await drive(clock, b.ping('10.0.0.1'));
  assert.is(sa.tx.map(parse).filter((f) => f.arp).length, 0, 'no ARP from a');
  assert.is(sb.tx.map(parse).filter((f) => f.arp).length, 0, 'no ARP from b');
  assert.is(a.stats().arpTx, 1);
  await a.close(); await b.close();
});

test('expiry: past neighbourTtlMs the old address is still used; unconfirmed, a unicast request revalidates it', async () => {
  const { clock, sa, a, b, times } = pair({ neighbourTtlMs: 2000 });
  await drive(clock, a.ping('10.0.0.2'));
  assert.equal(times, [0]);
  clock.advance(1500);
  await drive(clock, a.ping('10.0.0.2'));
  assert.is(times.length, 1, 'still cached at 1.5 s');
  clock.advance(1000);       // 2.5 s after it was learned: STALE
  const t = clock.now();
  sa.clear();
  await drive(clock, a.ping('10.0.0.2'));
  const out = sa.tx.map(parse);
  assert.is(out[0].ip?.proto, 1, 'the echo request went out at once, not held for ARP');
  assert.is(out[0].dst, b.macs[0], 'to the address the entry had');
  assert.equal(times, [0], 'DELAY: no request while an upper layer may still confirm it');
  clock.advance(2100);       // DELAY lasts 5 s, never longer than the lifetime
  assert.equal(times, [0, t + 2000], 'PROBE: asked again, nothing having confirmed it');
  // b's own probe of a, answered, is no proof that a's frames reach b (a request does not confirm).
  const req = sa.tx.map(parse).find((f) => f.arp?.op === 1)!;
  assert.is(req.dst, b.macs[0], 'the request is unicast to it (RFC 1122 2.3.2.1)');
  assert.is(req.arp!.tha, '00:00:00:00:00:00');
  assert.is(a.stats().neighbours, 1);
  // b answered: the entry lives another 2 s with no further request.
  clock.advance(1500);
  await drive(clock, a.ping('10.0.0.2'));
  assert.is(times.length, 2);
  assert.is(a.stats().neighProbeFailed, 0);
  // Unused for longer than a lifetime past its expiry: resolved afresh, by broadcast.
  clock.advance(10_000);
  assert.is(a.stats().neighbours, 0, 'an expired entry is not counted as a neighbour');
  sa.clear();
  await drive(clock, a.ping('10.0.0.2'));
  assert.is(sa.arpRequests().length, 1);
  assert.is(sa.tx.map(parse).find((f) => f.arp)!.dst, 'ff:ff:ff:ff:ff:ff');
  await a.close(); await b.close();
});

test('a neighbour that stops answering: after DELAY three unicast requests a second apart, then a broadcast resolution', async () => {
  const { clock, sa, a, b, times } = pair({ neighbourTtlMs: 2000 });
  await drive(clock, a.ping('10.0.0.2'));
  await b.close();           // gone from the switch: nothing answers for 10.0.0.2 now
  clock.advance(2500);
  const t = clock.now();
  sa.clear();
  await drive(clock, a.ping('10.0.0.2', { timeout: 500 })).catch(() => {});
  clock.advance(5000);
  const reqs = sa.tx.map(parse).filter((f) => f.arp?.op === 1);
  assert.equal(times.slice(1), [t + 2000, t + 3000, t + 4000], 'after DELAY (the 2 s lifetime), a second apart');
  assert.ok(reqs.every((f) => f.dst === b.macs[0]), 'all three unicast');
  assert.is(a.stats().neighProbeFailed, 1);
  assert.is(a.stats().neighbours, 0, 'dropped');
  sa.clear();
  let err: (Error & { code?: string }) | null = null;
  try { await drive(clock, a.ping('10.0.0.2', { timeout: 10_000 })); } catch (e) { err = e as Error & { code?: string }; }
  assert.is(err?.code, 'EHOSTUNREACH', 'resolved anew, and nobody has it');
  assert.ok(sa.tx.map(parse).filter((f) => f.arp).every((f) => f.dst === 'ff:ff:ff:ff:ff:ff'), 'by broadcast');
  await a.close();
});

test('an address nobody has: 3 requests a second apart, then ping rejects with EHOSTUNREACH', async () => {
  const { clock, a, b, times } = pair();
  const t0 = clock.now();
  let err: (Error & { code?: string }) | null = null;
  try { await drive(clock, a.ping('10.0.0.99', { timeout: 10_000 })); } catch (e) { err = e as Error & { code?: string }; }
  assert.ok(err, 'ping rejected');
  assert.is(err!.code, 'EHOSTUNREACH');
  assert.match(err!.message, /10\.0\.0\.99/);
  assert.equal(times, [t0, t0 + 1000, t0 + 2000]);
  assert.is(clock.now() - t0, 3000, 'given up after ~3 s of virtual time, well before the ping timeout');
  const st = a.stats();
  assert.is(st.arpTx, 3);
  assert.is(st.arpRetry, 2);
  assert.is(st.arpFailed, 1);
  assert.is(st.neighbours, 0);
  assert.is(st.buffersFree, st.buffers, 'the queued echo request was freed');
  await a.close(); await b.close();
});

test('after an idle time the retries are still a second apart (the core is told the time on every call)', async () => {
  const { clock, a, b, times } = pair();
  await drive(clock, a.ping('10.0.0.2'));
  clock.advance(10_000);           // nothing happens for 10 s
  const t0 = clock.now();
  let err: (Error & { code?: string }) | null = null;
  try { await drive(clock, a.ping('10.0.0.99', { timeout: 10_000 })); } catch (e) { err = e as Error & { code?: string }; }
  assert.is(err?.code, 'EHOSTUNREACH');
  assert.equal(times.slice(1), [t0, t0 + 1000, t0 + 2000]);
  await a.close(); await b.close();
});

/** The error a connect ends in, the clock moved 100 ms a turn (socket errors come on the next tick). */
async function connectError(clock: VirtualClock, a: Stack, port: number, host: string): Promise<Error & { code?: string }> {
  let err: (Error & { code?: string }) | null = null;
  a.net.connect({ port, host }).on('error', (e) => { err = e; });
  for (let t = 0; !err; t += 100) {
    if (t > 600_000) throw new Error('connect: no error within 10 min');
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  return err;
}

test('a TCP connect to an address nobody has fails with EHOSTUNREACH once ARP gives up, as on Linux', async () => {
  const { clock, a, b, times } = pair();
  const t0 = clock.now();
  const err = await connectError(clock, a, 80, '10.0.0.99');
  assert.is(err.code, 'EHOSTUNREACH');
  assert.match(err.message, /connect EHOSTUNREACH 10\.0\.0\.99:80/);
  assert.equal(times, [t0, t0 + 1000, t0 + 2000]);
  assert.is(clock.now() - t0, 3000, 'after ARP\'s three tries, not the SYN retries (minutes)');
  const st = a.stats();
  assert.is(st.tcpSockets, 0, 'nothing left in the TCP table');
  assert.is(st.arpDropped, 2, 'the SYN and its retransmission, both reported');
  assert.is(st.buffersFree, st.buffers);
  await a.close(); await b.close();
});

test('through a gateway that does not answer ARP, the connect fails the same way', async () => {
  const { clock, a, b } = pair();
  a.addRoute('0.0.0.0/0', '10.0.0.254');
  const err = await connectError(clock, a, 443, '192.0.2.1');
  assert.is(err.code, 'EHOSTUNREACH');
  assert.is(a.stats().tcpSockets, 0);
  await a.close(); await b.close();
});

test('the per-neighbour queue is bounded: 100 datagrams to a silent address', async () => {
  for (const arpQueue of [undefined, 4]) {
    const { clock, a, b } = pair(arpQueue ? { arpQueue } : {});
    const q = arpQueue ?? 64;
    const sock = a.dgram.createSocket('udp4');
    const errors: Error[] = [];
    sock.on('error', (e) => errors.push(e));
    for (let i = 0; i < 100; i++) sock.send(new Uint8Array(100).fill(i), 9, '10.0.0.99');
    await ticks();
    let st = a.stats();
    assert.is(st.arpQueueFull, 100 - q, `queue of ${q}: the rest dropped and counted`);
    assert.is(st.buffers - st.buffersFree, q, `${q} buffers held while resolving`);
    clock.advance(3000);
    st = a.stats();
    assert.is(st.arpFailed, 1);
    assert.is(st.arpDropped, q);
    assert.is(st.buffersFree, st.buffers, 'every buffer back in the pool');
    assert.is(errors.length, 0, 'an unconnected socket hears nothing (as node:dgram)');
    sock.close();
    await a.close(); await b.close();
  }
});

test('datagrams that waited for ARP give their buffers back once sent', async () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  link.arp.set('10.0.0.9', '02:00:00:00:00:09');
  const a = mk(clock, 'a', link, '10.0.0.1/24');
  const sock = a.dgram.createSocket('udp4');
  for (let i = 0; i < 5; i++) sock.send('x', 9, '10.0.0.9');
  clock.advance(0);
  assert.is(link.take().filter((f) => f.udp).length, 5, 'sent once resolved');
  clock.advance(1000);
  a.kick();                     // whatever the host does next, the pool is whole again
  clock.advance(0);
  const st = a.stats();
  assert.is(st.buffersFree, st.buffers);
  sock.close();
  await a.close();
});

test('the neighbour table is bounded: more silent addresses than entries evicts, and frees their queues', async () => {
  const { clock, a, b } = pair({ neighbours: 8 });
  const sock = a.dgram.createSocket('udp4');
  for (let i = 0; i < 40; i++) sock.send('x', 9, `10.0.0.${100 + i}`);
  let st = a.stats();
  assert.ok(st.neighbours <= 8, `${st.neighbours} entries`);
  assert.ok(st.neighEvicted >= 32, `${st.neighEvicted} evicted`);
  assert.ok(st.buffers - st.buffersFree <= 8, 'at most one queued datagram per entry');
  clock.advance(4000);
  st = a.stats();
  assert.is(st.neighbours, 0);
  assert.is(st.buffersFree, st.buffers);
  // And the table still works.
  await drive(clock, a.ping('10.0.0.2'));
  sock.close();
  await a.close(); await b.close();
});

test('gratuitous and unsolicited ARP: a cached entry is updated, no entry is created for strangers', async () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  const a = mk(clock, 'a', link, '10.0.0.1/24', { mac: '02:00:00:00:00:01' });
  // A request from 10.0.0.9 for us: learned (RFC 826: we are the target).
  link.inject(arpRequest('02:00:00:00:00:09', '10.0.0.9', '10.0.0.1'));
  // A request between two other hosts: nothing learned about 10.0.0.8.
  link.inject(arpRequest('02:00:00:00:00:08', '10.0.0.8', '10.0.0.7'));
  clock.advance(0);
  assert.is(a.stats().neighbours, 1);
  link.take();
  // 10.0.0.9 moves to a new MAC and announces it (gratuitous ARP: spa = tpa, broadcast).
  link.inject(ether('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:99', ETHERTYPE_ARP,
    arp({ op: 1, sha: '02:00:00:00:00:99', spa: '10.0.0.9', tpa: '10.0.0.9' }), true));
  clock.advance(0);
  assert.is(link.take().length, 0, 'no answer to a gratuitous ARP');
  const p = a.ping('10.0.0.9', { timeout: 100 });
  p.catch(() => {});
  const out = link.take();
  assert.is(out.length, 1);
  assert.is(out[0].dst, '02:00:00:00:00:99', 'the cache follows the announcement');
  await drive(clock, p).catch(() => {});
  await a.close();
});

test.run();
