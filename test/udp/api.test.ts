// The node:dgram-shaped socket API over a stack: what works, and how misuse
// fails (thrown errors for programming mistakes, 'error' events and callback
// errors for what the network or the stack refuses), as node:dgram does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack, type StackOptions } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import type { UdpSocket, RemoteInfo } from '../../host/net/dgram.ts';
import { Sniff, drive, ticks, parse } from '../helpers/frames.ts';

type Err = Error & { code?: string };

function pair(limits: StackOptions['limits'] = {}) {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const sa = new Sniff(sw.connect());
  const a = Stack.createSync({ name: 'a', link: sa, address: '10.0.0.1/24', clock, seed: 1, debug: true, limits });
  const b = Stack.createSync({ name: 'b', link: sw.connect(), address: ['10.0.0.2/24', '10.0.0.3/24'], clock, seed: 2, debug: true, limits });
  return { clock, sw, sa, a, b };
}
function collect(s: UdpSocket) {
  const got: [string, RemoteInfo][] = [];
  const errors: Err[] = [];
  s.on('message', (m: Buffer, r: RemoteInfo) => got.push([m.toString(), r]));
  s.on('error', (e: Err) => errors.push(e));
  return { got, errors };
}
function throws(fn: () => unknown, check: (e: Err) => boolean, what: string) {
  try { fn(); } catch (e) { assert.ok(check(e as Err), `${what}: threw ${(e as Err).code ?? (e as Error).name}: ${(e as Error).message}`); return; }
  assert.unreachable(`${what}: did not throw`);
}

test('echo: bind, send, message with rinfo, reply; listening and close events', async () => {
  const { clock, a, b } = pair();
  const server = b.dgram.createSocket('udp4');
  server.on('message', (m: Buffer, r: RemoteInfo) => server.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  let listening = false, closed = false;
  server.on('listening', () => { listening = true; });
  server.on('close', () => { closed = true; });
  server.bind(7);
  await ticks();
  assert.ok(listening);
  assert.equal(server.address(), { address: '0.0.0.0', family: 'IPv4', port: 7 });
  const client = a.dgram.createSocket('udp4');
  const c = collect(client);
  const sentBytes = await new Promise<number | undefined>((resolve, reject) =>
    client.send('hi', 7, '10.0.0.2', (e: Error | null, n?: number) => (e ? reject(e) : resolve(n))));
  assert.is(sentBytes, 2);
  clock.advance(0);
  const port = client.address().port;
  assert.ok(port >= 49152 && port <= 65535, `ephemeral port ${port} (RFC 6335 dynamic range)`);
  assert.equal(c.got.map(([m]) => m), ['echo:hi']);
  assert.equal(c.got[0][1], { address: '10.0.0.2', family: 'IPv4', port: 7, size: 7 });
  // A wildcard socket answers from the route's source (as Linux does without IP_PKTINFO);
  // a socket bound to b's second address answers from it.
  client.send('again', 7, '10.0.0.3');
  clock.advance(0);
  assert.equal(c.got[1][1].address, '10.0.0.2');
  const second = b.dgram.createSocket('udp4');
  second.on('message', (m: Buffer, r: RemoteInfo) => second.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  second.bind(70, '10.0.0.3');
  client.send('third', 70, '10.0.0.3');
  clock.advance(0);
  assert.equal(c.got.pop(), ['echo:third', { address: '10.0.0.3', family: 'IPv4', port: 70, size: 10 }]);
  second.close();
  // Offset and length, and a list of buffers.
  client.send(Buffer.from('xxpartyy'), 2, 4, 7, '10.0.0.2');
  client.send(['a', Buffer.from('b'), 'c'], 7, '10.0.0.2');
  clock.advance(0);
  assert.equal(c.got.slice(2).map(([m]) => m), ['echo:part', 'echo:abc']);
  server.close();
  await ticks();
  assert.ok(closed);
  client.close();
  await a.close(); await b.close();
});

test('binding: EADDRINUSE as an error event; a second bind on one socket throws; close frees the port', async () => {
  const { a, b } = pair();
  const s1 = b.dgram.createSocket('udp4');
  s1.bind(53);
  const s2 = b.dgram.createSocket('udp4');
  const e2 = collect(s2);
  s2.bind(53);
  await ticks();
  assert.is(e2.errors.length, 1);
  assert.is(e2.errors[0].code, 'EADDRINUSE');
  // A specific address conflicts with the wildcard on the same port (no SO_REUSEADDR).
  const s3 = b.dgram.createSocket('udp4');
  const e3 = collect(s3);
  s3.bind(53, '10.0.0.3');
  await ticks();
  assert.is(e3.errors[0]?.code, 'EADDRINUSE');
  // Two specific addresses on one port are fine.
  const s4 = b.dgram.createSocket('udp4'), s5 = b.dgram.createSocket('udp4');
  const e45 = [collect(s4), collect(s5)];
  s4.bind(54, '10.0.0.2'); s5.bind(54, '10.0.0.3');
  await ticks();
  assert.is(e45[0].errors.length + e45[1].errors.length, 0);
  // An address the stack does not have.
  const s6 = b.dgram.createSocket('udp4');
  const e6 = collect(s6);
  s6.bind(55, '10.0.0.99');
  await ticks();
  assert.is(e6.errors[0]?.code, 'EADDRNOTAVAIL');
  throws(() => s1.bind(56), (e) => e.code === 'ERR_SOCKET_ALREADY_BOUND', 'bind twice');
  s1.close();
  await ticks();
  const s7 = b.dgram.createSocket('udp4');
  const e7 = collect(s7);
  s7.bind(53);
  await ticks();
  assert.is(e7.errors.length, 0, 'the port is free again after close');
  for (const s of [s2, s3, s4, s5, s6, s7]) s.close();
  await a.close(); await b.close();
});

test('misuse throws: closed socket, bad address strings, bad ports, bad socket type', async () => {
  const { a, b } = pair();
  const s = a.dgram.createSocket('udp4');
  throws(() => s.send('x', 9, 'not-an-ip'), (e) => e instanceof TypeError, 'send to a name');
  throws(() => s.send('x', 9, '10.0.0.256'), (e) => e instanceof TypeError, 'send to 10.0.0.256');
  throws(() => s.send('x', 9, '10.0.0'), (e) => e instanceof TypeError, 'send to 10.0.0');
  throws(() => s.bind(9, 'localhost-ish'), (e) => e instanceof TypeError, 'bind to a name');
  throws(() => s.connect(9, '1.2.3'), (e) => e instanceof TypeError, 'connect to 1.2.3');
  throws(() => s.send('x', 0, '10.0.0.2'), (e) => e instanceof RangeError, 'port 0');
  throws(() => s.send('x', 65536, '10.0.0.2'), (e) => e instanceof RangeError, 'port 65536');
  throws(() => s.bind(-1), (e) => e instanceof RangeError, 'bind -1');
  throws(() => s.bind(1.5), (e) => e instanceof RangeError, 'bind 1.5');
  throws(() => a.dgram.createSocket('udp6' as 'udp4'), (e) => e.code === 'ERR_SOCKET_BAD_TYPE', 'udp6');
  s.close();
  throws(() => s.send('x', 9, '10.0.0.2'), (e) => e.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'send after close');
  throws(() => s.bind(9), (e) => e.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'bind after close');
  throws(() => s.address(), (e) => e.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'address after close');
  s.close();   // twice is harmless
  await a.close(); await b.close();
});

test('refusals arrive as errors: EMSGSIZE, EACCES for broadcast without setBroadcast, EMFILE', async () => {
  const { clock, a, b } = pair({ udpSockets: 3 });
  const s = a.dgram.createSocket('udp4');
  const big = await new Promise<Err | null>((r) => s.send(new Uint8Array(65508), 9, '10.0.0.2', (e: Error | null) => r(e as Err)));
  assert.is(big?.code, 'EMSGSIZE');
  const max = await new Promise<Err | null>((r) => s.send(new Uint8Array(65507), 9, '10.0.0.2', (e: Error | null) => r(e as Err)));
  assert.is(max, null, '65507 bytes is the largest UDP payload over IPv4');
  const bc = await new Promise<Err | null>((r) => s.send('x', 9, '255.255.255.255', (e: Error | null) => r(e as Err)));
  assert.is(bc?.code, 'EACCES');
  // With SO_BROADCAST: sent as a link broadcast, heard by a wildcard socket on b.
  const rx = b.dgram.createSocket('udp4');
  const c = collect(rx);
  rx.bind(9);
  s.setBroadcast(true);
  s.send('to all', 9, '255.255.255.255');
  s.send('to the subnet', 9, '10.0.0.255');
  clock.advance(0);
  // The 65507-byte datagram above waited for ARP (its 45 fragments fit the queue) and arrives after them.
  const zeros = (m: string) => m.length === 65507 && !/[^\0]/.test(m);
  assert.equal(c.got.map(([m]) => (zeros(m) ? '65507 zero bytes' : m)), ['to all', 'to the subnet', '65507 zero bytes']);
  // udpSockets: 3 → a fourth socket cannot be opened.
  const t1 = a.dgram.createSocket('udp4'), t2 = a.dgram.createSocket('udp4');
  throws(() => a.dgram.createSocket('udp4'), (e) => e.code === 'EMFILE', 'a fourth socket');
  t1.close();
  const t3 = a.dgram.createSocket('udp4');   // and a closed one makes room
  for (const x of [s, rx, t2, t3]) x.close();
  await a.close(); await b.close();
});

test('connected sockets: default destination, only the peer is heard, ICMP port unreachable → ECONNREFUSED', async () => {
  const { clock, a, b } = pair();
  const server = b.dgram.createSocket('udp4');
  const sv = collect(server);
  server.bind(7);
  const other = b.dgram.createSocket('udp4');
  other.bind(8);
  const client = a.dgram.createSocket('udp4');
  const c = collect(client);
  let connected = false;
  client.connect(7, '10.0.0.2', () => { connected = true; });
  await ticks();
  assert.ok(connected);
  assert.equal(client.remoteAddress(), { address: '10.0.0.2', family: 'IPv4', port: 7 });
  client.send('hello');
  clock.advance(0);
  assert.equal(sv.got.map(([m]) => m), ['hello']);
  const me = client.address();
  server.send('from 7', me.port, '10.0.0.1');
  other.send('from 8', me.port, '10.0.0.1');
  clock.advance(0);
  assert.equal(c.got.map(([m]) => m), ['from 7'], 'a datagram from another port is not for this socket');
  // The server goes away: the next datagram is refused.
  server.close();
  await ticks();
  client.send('anyone?');
  clock.advance(0);
  await ticks();
  assert.is(c.errors[0]?.code, 'ECONNREFUSED');
  // An unconnected socket hears nothing of it (as node:dgram).
  const loose = a.dgram.createSocket('udp4');
  const l = collect(loose);
  loose.send('x', 7, '10.0.0.2');
  clock.advance(0);
  await ticks();
  assert.is(l.errors.length, 0);
  assert.is(a.stats().icmpUnreachRx, 2);
  for (const x of [client, other, loose]) x.close();
  await a.close(); await b.close();
});

test('a full receive queue drops new datagrams and counts them', async () => {
  const { clock, a, b } = pair({ udpQueue: 4 });
  const rx = b.dgram.createSocket('udp4');
  const c = collect(rx);
  rx.bind(9);
  const tx = a.dgram.createSocket('udp4');
  await drive(clock, a.ping('10.0.0.2'));
  for (let i = 0; i < 10; i++) tx.send(String(i), 9, '10.0.0.2');   // one burst, read in one go
  clock.advance(0);
  assert.equal(c.got.map(([m]) => m), ['0', '1', '2', '3']);
  assert.is(b.stats().udpRcvbufFull, 6);
  tx.send('later', 9, '10.0.0.2');
  clock.advance(0);
  assert.is(c.got.length, 5, 'the queue drains');
  rx.close(); tx.close();
  await a.close(); await b.close();
});

test('the source address follows the destination subnet; a socket bound to an address sends from it', async () => {
  const { clock, sa, a, b } = pair();
  a.addAddress('192.168.5.1/24');
  b.addAddress('192.168.5.2/24');
  const rx = b.dgram.createSocket('udp4');
  const c = collect(rx);
  rx.bind(9);
  const tx = a.dgram.createSocket('udp4');
  tx.send('1', 9, '10.0.0.2');
  tx.send('2', 9, '192.168.5.2');
  clock.advance(0);
  assert.equal(c.got.map(([m, r]) => `${m}<${r.address}`), ['1<10.0.0.1', '2<192.168.5.1']);
  const bound = a.dgram.createSocket('udp4');
  bound.bind(0, '192.168.5.1');
  bound.send('3', 9, '10.0.0.2');
  clock.advance(0);
  assert.is(c.got[2][1].address, '192.168.5.1');
  const frames = sa.tx.map(parse).filter((p) => p.udp);
  assert.ok(frames.every((p) => p.udp!.checksumOk && p.ip!.checksumOk));
  for (const x of [rx, tx, bound]) x.close();
  await a.close(); await b.close();
});

test.run();
