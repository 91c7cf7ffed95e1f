// A burst of connections beyond the listener's backlog: the overflow goes
// through SYN cookies and every connection is established.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pair, settle } from './helpers.ts';
import type { Socket } from '../../host/net/net.ts';

test('1000 simultaneous connects to a backlog of 511 all establish (cookies; a full accept queue drops quietly)', async () => {
  const { clock, a, b } = pair();
  let accepted = 0, errors = 0, up = 0;
  let got = 0;
  b.net.createServer((s: Socket) => { accepted++; s.on('data', (d: Buffer) => { got += d.length; }); s.on('error', () => { errors++; }); }).listen(80);
  const N = 1000;
  const socks: Socket[] = [];
  for (let i = 0; i < N; i++) {
    const c = a.net.connect({ port: 80, host: '10.0.0.2' });
    c.on('connect', () => { up++; c.write('x'); });
    c.on('error', () => { errors++; });
    socks.push(c);
  }
  await settle(clock, () => up + errors >= N && got + errors >= N, 60_000, 'connects').catch((e) => {
    const pick = (s: Record<string, number>) => Object.fromEntries(Object.entries(s).filter(([k, v]) => /tcp|pool|arena|ev|rx/i.test(k) && v));
    console.log({ up, errors, accepted }, pick(a.stats()), pick(b.stats()));
    throw e;
  });
  await settle(clock, () => false, 2000, 'quiet').catch(() => {});
  const sa = a.stats(), sb = b.stats();
  const pick = (s: Record<string, number>) => Object.fromEntries(Object.entries(s).filter(([k, v]) => /tcp/i.test(k) && v));
  if (errors) console.log(pick(sa), pick(sb));
  assert.is(errors, 0);
  assert.is(up, N);
  assert.is(accepted, N);
  assert.is(got, N);
  for (const s of socks) s.destroy();
});

test.run();
