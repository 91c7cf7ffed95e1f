// The Stack as a user meets it: what Stack.create accepts and refuses, that
// its memory is fixed at creation whatever flows through it, stats(), close(),
// and that a seeded run on a virtual clock replays byte for byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack, type StackOptions } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { withFaults } from '../../host/link/faults.ts';
import {
  TestLink, Sniff, drive, ticks, ether, udp, fragment, udpFrame, hex, ETHERTYPE_IPV4, PROTO_UDP, arpRequest,
} from '../helpers/frames.ts';
import { Random } from '../../host/random.ts';

type Err = Error & { code?: string };

async function rejectsWith(p: () => Promise<unknown>, check: (e: Err) => boolean, what: string) {
  try { await p(); } catch (e) { assert.ok(check(e as Err), `${what}: ${(e as Err).name} ${(e as Err).code ?? ''} ${(e as Error).message}`); return; }
  assert.unreachable(`${what}: did not reject`);
}
const base = (): StackOptions => ({ name: 't', link: new TestLink(), address: '10.0.0.1/24', clock: new VirtualClock(), debug: true });

test('Stack.create refuses bad limits with RangeError', async () => {
  for (const limits of [{ poolBytes: -1 }, { udpSockets: 1.5 }, { neighbours: Number.NaN }, { arpQueue: 2 ** 32 },
    { reassembly: '4' as unknown as number }, { icmpErrorsPerSecond: Infinity }]) {
    await rejectsWith(() => Stack.create({ ...base(), limits }), (e) => e instanceof RangeError, JSON.stringify(limits));
  }
});

test('Stack.create refuses a memory limit too small for its pools: an init error (ENOMEM)', async () => {
  await rejectsWith(() => Stack.create({ ...base(), limits: { memoryBytes: 1 << 20 } }),
    (e) => e.code === 'ENOMEM' && /init/.test(e.message), 'memoryBytes 1 MiB with the default 8 MiB pool');
  // The limit is exact: what a stack needs is accepted, one page less is not.
  const limits = { poolBytes: 1 << 20 };
  const probe = await Stack.create({ ...base(), limits });
  const need = probe.stats().memoryBytes;
  await probe.close();
  const s = await Stack.create({ ...base(), limits: { ...limits, memoryBytes: need } });
  assert.is(s.stats().memoryBytes, need);
  await s.close();
  await rejectsWith(() => Stack.create({ ...base(), limits: { ...limits, memoryBytes: need - 65536 } }),
    (e) => e.code === 'ENOMEM', 'one page short');
});

test('Stack.create refuses bad addresses, MACs and option shapes', async () => {
  const bad: [string, Partial<StackOptions>, (e: Err) => boolean][] = [
    ['address without prefix', { address: '10.0.0.1' }, (e) => e instanceof TypeError],
    ['prefix 33', { address: '10.0.0.1/33' }, (e) => e instanceof TypeError],
    ['octet 300', { address: '300.0.0.1/24' }, (e) => e instanceof TypeError],
    ['a name', { address: 'host.example/24' }, (e) => e instanceof TypeError],
    ['bad MAC', { mac: '02:00:00:00:00' }, (e) => e instanceof TypeError],
    ['group MAC', { mac: '01:00:5e:00:00:01' }, (e) => e instanceof TypeError],
    ['link without address', { address: undefined }, (e) => e instanceof TypeError],
    ['link and interfaces', { interfaces: [{ link: new TestLink(), address: '10.0.1.1/24' }] }, (e) => e instanceof TypeError],
    ['the same address twice', { address: ['10.0.0.1/24', '10.0.0.1/16'] }, (e) => e.code === 'EEXIST'],
    ['0.0.0.0', { address: '0.0.0.0/0' }, (e) => e.code === 'EINVAL'],
    ['an MTU below 576', { link: new TestLink(500) }, (e) => e.code === 'EINVAL'],
    ['a gateway that is not an address', { gateway: 'router' }, (e) => e instanceof TypeError],
  ];
  for (const [what, o, check] of bad) await rejectsWith(() => Stack.create({ ...base(), ...o }), check, what);
  await rejectsWith(() => Stack.create(undefined as unknown as StackOptions), (e) => e instanceof TypeError, 'no options');
  // After creation too.
  const s = await Stack.create(base());
  assert.throws(() => s.addAddress('10.0.0.300/24'), TypeError);
  assert.throws(() => s.addRoute('10.1.0.0/16', 'gw'), TypeError);
  await rejectsWith(() => s.ping('example.com'), (e) => e instanceof TypeError, 'ping a name');
  await s.close();
});

test('stats(): every drop reason by name, the pool, the host\'s own counters', async () => {
  const s = await Stack.create(base());
  const st = s.stats();
  for (const k of ['rxFrames', 'txFrames', 'rxRunt', 'arpQueueFull', 'arpFailed', 'ipBadChecksum', 'ipMartian', 'reasmOverlap',
    'reasmTimeout', 'reasmNoMem', 'udpBadChecksum', 'udpNoPort', 'udpRcvbufFull', 'icmpRateLimited', 'poolEmpty',
    'neighbours', 'reassemblyBuffers', 'buffers', 'buffersFree', 'memoryBytes', 'rxNoBuffer']) {
    assert.type(st[k], 'number', k);
  }
  assert.ok(Object.values(st).every((v) => Number.isInteger(v) && v >= 0));
  assert.is(st.buffersFree, st.buffers);
  assert.ok(st.buffers >= 16);
  await s.close();
});

test('memory is fixed at creation: memoryBytes never changes, whatever traffic flows', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const limits = { poolBytes: 200 << 10, reassembly: 4, neighbours: 16, udpQueue: 8 };
  const link = new TestLink();
  const a = Stack.createSync({ name: 'a', link: withFaults(sw.connect(), { seed: 5, clock, tx: { loss: 0.02, duplicate: 0.05, reorder: 0.1 } }),
    address: '10.0.0.1/24', clock, seed: 1, debug: true, limits });
  const b = Stack.createSync({ name: 'b', interfaces: [{ link: sw.connect(), address: '10.0.0.2/24' }, { link, address: '10.9.0.1/24' }],
    clock, seed: 2, debug: true, limits });
  const memA = a.stats().memoryBytes, memB = b.stats().memoryBytes;
  const bufs = b.stats().buffers;
  const rx = b.dgram.createSocket('udp4');
  rx.on('message', () => {});
  rx.bind(9);
  const tx = a.dgram.createSocket('udp4');
  const rng = new Random(9);
  const pings: Promise<unknown>[] = [];
  for (let round = 0; round < 20; round++) {
    // Large and small datagrams, some to closed ports, some to addresses nobody has.
    for (let i = 0; i < 30; i++) tx.send(new Uint8Array(rng.int(3) === 0 ? 60_000 : rng.int(1500)), rng.int(4) ? 9 : 10 + i, '10.0.0.2');
    for (let i = 0; i < 30; i++) tx.send('x', 9, `10.0.0.${100 + rng.int(100)}`);
    pings.push(a.ping('10.0.0.2', { size: rng.int(65_000), timeout: 3000 }).catch(() => {}));
    // On b's second interface, a flood of fragments with fresh IDs, ARP from many senders, and garbage.
    for (let i = 0; i < 50; i++) {
      const d = udp({ src: '10.9.0.7', dst: '10.9.0.1', sport: 1, dport: 9, payload: new Uint8Array(3000) });
      const [first] = fragment({ src: '10.9.0.7', dst: '10.9.0.1', proto: PROTO_UDP, payload: d, id: round * 100 + i }, [1480, 1480, 48]);
      link.inject(ether(b.macs[1], '02:00:00:00:00:07', ETHERTYPE_IPV4, first));
      link.inject(arpRequest(`02:00:00:00:01:${(i + 16).toString(16)}`, `10.9.0.${20 + i}`, '10.9.0.1'));
      link.inject(new Uint8Array(rng.int(200)).map(() => rng.int(256)));
    }
    clock.advance(rng.int(3000));
    for (const s of [a, b]) {
      const st = s.stats();
      assert.is(st.memoryBytes, s === a ? memA : memB, `round ${round}: memory unchanged`);
      assert.ok(st.reassemblyBuffers <= bufs && st.neighbours <= 16);
    }
  }
  await drive(clock, Promise.all(pings));
  clock.advance(60_000);
  const sb = b.stats();
  assert.is(sb.memoryBytes, memB);
  assert.is(sb.buffers, bufs, 'the pool did not grow');
  assert.ok(sb.reasmNoMem > 0 && sb.neighEvicted + a.stats().neighEvicted > 0, 'the caps were hit');
  rx.close(); tx.close();
  await a.close(); await b.close();
});

test('close(): pending pings reject, sockets close, later calls fail cleanly, frames are ignored', async () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  const s = Stack.createSync({ name: 'c', link, address: '10.0.0.1/24', clock, debug: true });
  const sock = s.dgram.createSocket('udp4');
  let sockClosed = false;
  sock.on('close', () => { sockClosed = true; });
  const p = s.ping('10.0.0.2');
  await s.close();
  await rejectsWith(() => p, () => true, 'pending ping');
  await ticks();
  assert.ok(sockClosed, 'sockets are closed with the stack');
  assert.ok(link.closed, 'its links are closed');
  assert.ok(s.isClosed);
  await rejectsWith(() => s.ping('10.0.0.2'), () => true, 'ping after close');
  assert.throws(() => sock.send('x', 9, '10.0.0.2'), (e: Err) => e.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING');
  link.onFrame?.(udpFrame({ dstMac: s.macs[0], srcMac: '02:00:00:00:00:09', src: '10.0.0.9', dst: '10.0.0.1', sport: 1, dport: 9, payload: new Uint8Array(1) }), 0, 0);
  clock.runUntilIdle();
  await s.close();   // twice is fine
});

test('a seeded run on a virtual clock replays byte for byte', async () => {
  async function run(): Promise<string[]> {
    const clock = new VirtualClock();
    const sw = new VirtualSwitch();
    const sniff = new Sniff(sw.connect());
    const a = Stack.createSync({ name: 'a', link: sniff, address: '10.0.0.1/24', clock, seed: 42, debug: true });
    const b = Stack.createSync({ name: 'b', link: withFaults(sw.connect(), { seed: 43, clock, tx: { loss: 0.1, reorder: 0.2 } }),
      address: '10.0.0.2/24', clock, seed: 44, debug: true });
    const rx = b.dgram.createSocket('udp4');
    rx.on('message', (m: Buffer, r) => rx.send(m, r.port, r.address));
    rx.bind(7);
    const tx = a.dgram.createSocket('udp4');
    tx.on('message', () => {});
    for (let i = 0; i < 50; i++) { tx.send(new Uint8Array(i * 97), 7, '10.0.0.2'); clock.advance(3); }
    await drive(clock, a.ping('10.0.0.2').catch(() => 0));
    clock.advance(10_000);
    rx.close(); tx.close();
    await a.close(); await b.close();
    return [...sniff.tx, ...sniff.rx].map(hex);
  }
  const one = await run(), two = await run();
  assert.ok(one.length > 100);
  assert.equal(one, two);
});


test('a link that goes away: sends, pings and connects over it fail with ENETUNREACH; its own address still answers', async () => {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const port = sw.connect();
  const a = Stack.createSync({ name: 'a', link: port, address: '10.0.0.1/24', clock });
  a.addRoute('0.0.0.0/0', '10.0.0.254');
  port.close();
  assert.is(a.stats().linksDown, 1);
  const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error & { code?: string }) => e.code);
  assert.is(await code(a.ping('10.0.0.2')), 'ENETUNREACH', 'on-link');
  assert.is(await code(a.ping('192.0.2.1')), 'ENETUNREACH', 'through the gateway');
  const err = await new Promise<Error & { code?: string }>((resolve) => a.net.connect({ port: 80, host: '10.0.0.2' }).on('error', resolve));
  assert.is(err.code, 'ENETUNREACH');
  const u = a.dgram.createSocket('udp4');
  const sent = await new Promise<Error & { code?: string } | null>((resolve) => u.send('x', 9, '10.0.0.2', (e: Error | null) => resolve(e)));
  assert.is(sent?.code, 'ENETUNREACH');
  u.close();
  const ms = a.ping('10.0.0.1');
  clock.advance(0);
  assert.ok(await ms >= 0, 'the loopback does not need the link');
  assert.is(a.stats().txFrames, 0);
  await a.close();
});

test('a link that goes away on its own is counted (linksDown); the stack closing its own links is not', async () => {
  const sw = new VirtualSwitch();
  const port = sw.connect();
  const a = Stack.createSync({ name: 'a', link: port, address: '10.0.0.1/24', clock: new VirtualClock() });
  assert.is(a.stats().linksDown, 0);
  port.close();
  assert.is(a.stats().linksDown, 1);
  const b = Stack.createSync({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', clock: new VirtualClock() });
  await b.close();
  assert.is(sw.stats().ports, 0, 'closing the stack unplugged its port');
  await a.close();
});

test.run();
