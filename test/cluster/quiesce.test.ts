// Draining a target (issue 14): a target quiesces its listeners on a port,
// or on all of them, as z/OS's VARY TCPIP,,SYSPLEX,QUIESCE does on the
// target; the routing stack gives it no new connections there, its
// established ones run to their end, the DPT shows it; resume undoes it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Stack } from '../../host/stack.ts';
import type { Socket } from '../../host/net/net.ts';
import { rig, ready, VIPA } from './rig.ts';

function echo(s: Stack, port = 80) {
  const srv = s.net.createServer((c: Socket) => { c.on('data', (d: Buffer) => c.write(d)); c.on('end', () => c.end()); c.on('error', () => {}); });
  srv.listen(port);
  return srv;
}

/** The target address each new connection to port went to. */
async function targetsOf(k: ReturnType<typeof rig>, n: number, port = 80): Promise<string[]> {
  const before = new Set(k.r.routingTable(VIPA).map((e) => `${e.client}:${e.clientPort}`));
  const socks = Array.from({ length: n }, () => k.c.net.connect({ host: VIPA, port }));
  await k.settle(() => socks.every((s) => s.info()?.state === 'ESTABLISHED'), 'connected');
  const mine = new Set(socks.map((s) => `${s.info()!.localAddress}:${s.info()!.localPort}`));
  const got = k.r.routingTable(VIPA).filter((e) => !before.has(`${e.client}:${e.clientPort}`) && mine.has(`${e.client}:${e.clientPort}`));
  assert.is(got.length, n, 'an entry for each new connection');
  return got.map((e) => e.target);
}

test('a quiesced target gets no new connections; its established ones go on; the DPT shows it; resume brings it back', async () => {
  const k = rig(2);
  k.route();
  k.t.forEach((t) => echo(t));
  await k.settle(() => ready(k.r).length === 2, 'ready');
  const old = k.c.net.connect({ host: VIPA, port: 80 });
  await k.settle(() => old.info()?.state === 'ESTABLISHED', 'connected');
  const oldTarget = k.r.routingTable(VIPA)[0].target;
  const quiet = k.t.find((t) => t.localhost === oldTarget)!;
  quiet.clusterQuiesce();
  await k.settle(() => k.r.portTable(VIPA).some((d) => d.quiesced), 'the DPT shows it');
  const row = k.r.portTable(VIPA).find((d) => d.target === oldTarget)!;
  assert.equal([row.quiesced, row.ready, row.listeners], [true, false, 1]);
  assert.ok((await targetsOf(k, 6)).every((t) => t !== oldTarget), 'no new connection to the quiesced target');
  let echoed = '';
  old.on('data', (d: Buffer) => { echoed += d.toString(); });
  old.write('still here');
  await k.settle(() => echoed === 'still here', 'the established connection goes on');
  quiet.clusterResume();
  await k.settle(() => !k.r.portTable(VIPA).some((d) => d.quiesced), 'resumed');
  assert.ok((await targetsOf(k, 6)).includes(oldTarget), 'new connections again');
});

test('quiescing one port leaves the target\'s other ports serving; bad ports are refused', async () => {
  const k = rig(1);
  k.route({ ports: [{ lo: 80, hi: 81 }] });
  echo(k.t[0], 80);
  echo(k.t[0], 81);
  await k.settle(() => ready(k.r, 80).length === 1 && ready(k.r, 81).length === 1, 'ready on both');
  k.t[0].clusterQuiesce(81);
  await k.settle(() => ready(k.r, 81).length === 0, 'port 81 quiesced');
  assert.is(ready(k.r, 80).length, 1, 'port 80 still serving');
  let reset = false;
  const s = k.c.net.connect({ host: VIPA, port: 81 });
  s.on('error', (e: NodeJS.ErrnoException) => { reset = e.code === 'ECONNREFUSED'; });
  await k.settle(() => reset, 'a new connection to the quiesced port is refused');
  assert.throws(() => k.t[0].clusterQuiesce(0), /port must be an integer/);
  assert.throws(() => k.t[0].clusterQuiesce(70000), /port must be an integer/);
});

test.run();
