import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pair, settle } from './helpers.ts';
import { Stack } from '../../host/stack.ts';
import type { Socket, LookupFunction } from '../../host/net/net.ts';

test('connect, echo, close both ways', async () => {
  const { clock, a, b } = pair();
  const srv = b.net.createServer((s: Socket) => { s.on('data', (d: Buffer) => s.write(d)); s.on('end', () => s.end()); });
  srv.listen(7);
  let connected = false;
  const c = a.net.connect({ port: 7, host: '10.0.0.2' }, () => { connected = true; });
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  let closed = false, ended = false;
  c.on('end', () => { ended = true; });
  c.on('close', () => { closed = true; });
  await settle(clock, () => connected, 10_000, 'connect');
  assert.is(c.remoteAddress, '10.0.0.2');
  assert.is(c.remotePort, 7);
  assert.is(c.localAddress, '10.0.0.1');
  c.write('hello, ');
  c.write('world');
  await settle(clock, () => Buffer.concat(got).length >= 12, 10_000, 'echo');
  assert.is(Buffer.concat(got).toString(), 'hello, world');
  c.end();
  await settle(clock, () => ended && closed, 10_000, 'close');
  const st = a.stats();
  assert.ok(st.tcpTx > 0);
  srv.close();
  // The side that closed first holds TIME-WAIT for 2 MSL; then nothing is left.
  await settle(clock, () => a.stats().tcpSockets === 0 && b.stats().tcpSockets === 0, 120_000, 'tables empty');
  assert.is(a.stats().tcpChunksUsed, 0);
});

test('data the peer sent before its FIN can still be read after our own FIN is acknowledged', async () => {
  // Receive buffers that hold the whole body unread: Stack.BULK's 1 MiB.
  const { clock, a, b } = pair({ limits: Stack.BULK });
  const body = Buffer.alloc(300_000, 0x61);
  const srv = b.net.createServer((s: Socket) => { s.end(body); });
  srv.listen(7);
  const c = a.net.connect({ port: 7, host: '10.0.0.2' });
  c.pause();
  let closed = false;
  c.on('close', () => { closed = true; });
  await settle(clock, () => c.info()?.state === 'CLOSE_WAIT', 10_000, 'the peer\'s FIN');
  // Unread data in CLOSE-WAIT; our FIN goes out and is acknowledged: the connection is CLOSED.
  c.end();
  await settle(clock, () => c.info()?.state === 'CLOSED', 10_000, 'our FIN acknowledged');
  assert.is(c.info()?.recvQueued, body.length, 'the unread data is kept');
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  c.resume();
  await settle(clock, () => closed, 10_000, 'close');
  assert.is(Buffer.concat(got).length, body.length, 'every byte read');
  srv.close();
  await settle(clock, () => a.stats().buffersFree === a.stats().buffers, 10_000, 'buffers back');
});

test('node:net\'s shape: new Server and new Socket, a host name through lookup, isIP', async () => {
  const { clock, a, b } = pair();
  const srv = new b.net.Server((s: Socket) => { s.on('data', (d: Buffer) => s.write(d)); s.on('end', () => s.end()); });
  assert.ok(srv instanceof b.net.Server);
  srv.listen(7);
  const c = new a.net.Socket();
  assert.ok(c instanceof a.net.Socket);
  // A subclass of a stack's Socket keeps its own methods, as with net.Socket.
  class Tagged extends a.net.Socket { tag(): string { return 'tagged'; } }
  const t = new Tagged();
  assert.ok(t instanceof Tagged && t instanceof a.net.Socket);
  assert.is(t.tag(), 'tagged');
  t.destroy();
  const lookups: unknown[][] = [];
  c.on('lookup', (...args: unknown[]) => lookups.push(args));
  let connected = false;
  const byName: LookupFunction = (host, opts, cb) => cb(null, host === 'echo.test' && opts.family === 4 ? '10.0.0.2' : '0.0.0.0', 4);
  c.connect({ port: 7, host: 'echo.test', lookup: byName }, () => { connected = true; });
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  await settle(clock, () => connected, 10_000, 'connect');
  assert.equal(lookups, [[null, '10.0.0.2', 4, 'echo.test']]);
  assert.is(c.remoteAddress, '10.0.0.2');
  assert.is(c.localFamily, 'IPv4');
  c.end('by name');
  await settle(clock, () => Buffer.concat(got).toString() === 'by name', 10_000, 'echo');

  let err: (Error & { code?: string }) | null = null;
  const notFound: LookupFunction = (host, _o, cb) => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), '', 0);
  const bad = a.net.connect({ port: 7, host: 'nowhere.test', lookup: notFound });
  bad.on('error', (e) => { err = e; });
  await settle(clock, () => err !== null, 10_000, 'lookup error');
  assert.is(err!.code, 'ENOTFOUND');
  assert.is(a.stats().tcpSockets, 1, 'only the echo connection (in TIME-WAIT), none for the failed lookup');

  err = null;
  a.net.connect({ port: 7, host: '::1' }).on('error', (e) => { err = e; });
  await settle(clock, () => err !== null, 10_000, 'an IPv6 address');
  assert.is(err!.code, 'EAFNOSUPPORT');

  assert.is(a.net.isIP('10.0.0.1'), 4);
  assert.is(a.net.isIPv4('::1'), false);
  srv.close();
});

test.run();
