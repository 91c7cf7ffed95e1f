import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pair, settle } from './helpers.ts';
import type { Socket } from '../../host/net/net.ts';

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

test.run();
