// Many short connections (open, request, reply, close): none left behind in
// any table, every buffer and send chunk back in its pool.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pair, settle } from './helpers.ts';
import type { Socket } from '../../host/net/net.ts';

test('10,000 short connections leave nothing behind', async () => {
  const { clock, a, b } = pair({ limits: { tcpMslMs: 1000 } });
  b.net.createServer((s: Socket) => {
    s.on('data', (d: Buffer) => { s.end(Buffer.concat([Buffer.from('re: '), d])); });
  }).listen(80);
  const N = 10_000, PAR = 200;
  let started = 0, done = 0, bad = 0;
  const t0 = Date.now();
  const one = () => {
    const i = started++;
    const c = a.net.connect({ port: 80, host: '10.0.0.2' });
    const got: Buffer[] = [];
    c.on('connect', () => c.write(`req ${i}`));
    c.on('data', (d: Buffer) => got.push(d));
    c.on('error', () => { bad++; });
    c.on('close', () => {
      if (Buffer.concat(got).toString() !== `re: req ${i}`) bad++;
      done++;
      if (started < N) one();
    });
  };
  for (let i = 0; i < PAR; i++) one();
  await settle(clock, () => done === N, 3_600_000, 'connections');
  const ms = Date.now() - t0;
  console.log(`${N} connections in ${ms} ms real (${(N / (ms / 1000)).toFixed(0)}/s), ${clock.now().toFixed(0)} ms virtual`);
  assert.is(bad, 0);
  // TIME-WAIT drains after 2 MSL.
  await settle(clock, () => a.stats().tcpSockets === 0 && b.stats().tcpSockets === 1, 10_000, 'tables drain');
  for (const s of [a, b]) {
    const st = s.stats();
    assert.is(st.tcpTimeWait, 0);
    assert.is(st.tcpChunksUsed, 0);
    assert.is(st.buffersFree, st.buffers, 'every packet buffer back');
  }
  assert.is(b.stats().tcpAccept, N);
  assert.is(a.stats().tcpConnect, N);
});

test.run();
