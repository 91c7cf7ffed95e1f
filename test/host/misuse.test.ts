// Misuse gets an error, never silence: a closed stack, MACs and addresses two
// stacks share, options that cannot work, and errors shaped like Node's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once, type EventEmitter } from 'node:events';
import { Stack, VirtualSwitch, ShoalError, ERROR_CODES, ERRNO_CODES, type StackOptions } from '../../host/index.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestLink } from '../helpers/frames.ts';

type Err = Error & { code?: string; errno?: number; syscall?: string; address?: string; port?: number; mac?: string };

function caught(fn: () => unknown): Err {
  try { fn(); } catch (e) { return e as Err; }
  assert.unreachable('did not throw');
  throw new Error('unreachable');
}
async function rejected(p: Promise<unknown>): Promise<Err> {
  try { await p; } catch (e) { return e as Err; }
  assert.unreachable('did not reject');
  throw new Error('unreachable');
}

function pair(extra: Partial<StackOptions> = {}) {
  const sw = new VirtualSwitch();
  const a = Stack.createSync({ name: 'a', link: sw.connect(), address: '10.0.0.1/24', ...extra });
  const b = Stack.createSync({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', ...extra });
  return { sw, a, b };
}

test('a closed stack: every entry point fails at once with ERR_STACK_CLOSED', async () => {
  const { a, b } = pair();
  await a.close();
  const closed = (e: Err, what: string) => {
    assert.ok(e instanceof ShoalError, `${what}: a ShoalError`);
    assert.is(e.code, 'ERR_STACK_CLOSED', what);
  };
  closed(caught(() => a.stats()), 'stats');
  closed(await rejected(a.ping('10.0.0.2')), 'ping');
  closed(caught(() => a.dgram.createSocket('udp4')), 'createSocket');
  closed(caught(() => a.addAddress('10.0.0.9/24')), 'addAddress');
  closed(caught(() => a.removeAddress('10.0.0.1')), 'removeAddress');
  closed(caught(() => a.addRoute('0.0.0.0/0', '10.0.0.254')), 'addRoute');
  const sock = a.net.connect({ port: 80, host: '10.0.0.2' });
  const [connectErr] = await once(sock, 'error') as [Err];
  closed(connectErr, 'net.connect');
  const srv = a.net.createServer();
  srv.listen(80);
  const [listenErr] = await once(srv, 'error') as [Err];
  closed(listenErr, 'listen');
  assert.is(srv.listening, false);
  await b.close();
});

test('close() destroys open sockets and servers with ERR_STACK_CLOSED, then closes them', async () => {
  const { a, b } = pair();
  const srv = b.net.createServer((s) => s.on('error', () => {}));
  srv.listen(80);
  const c = a.net.connect({ port: 80, host: '10.0.0.2' });
  await once(c, 'connect');
  const u = a.dgram.createSocket('udp4');
  u.bind(9);
  const errs: [string, Err][] = [];
  c.on('error', (e) => errs.push(['tcp', e]));
  u.on('error', (e) => errs.push(['udp', e]));
  srv.on('error', (e) => errs.push(['server', e]));
  // Not events.once: it would reject on the 'error' that comes first.
  const closes = [c, u, srv].map((x) => new Promise<void>((r) => (x as EventEmitter).on('close', () => r())));
  await a.close();
  await b.close();
  await Promise.all(closes);
  assert.equal(errs.map(([w, e]) => `${w} ${e.code}`).sort(), ['server ERR_STACK_CLOSED', 'tcp ERR_STACK_CLOSED', 'udp ERR_STACK_CLOSED']);
  assert.ok(c.destroyed);
});

test('close() with a socket nobody handles errors of (sock.pipe(sock)): closed quietly, no crash', async () => {
  const { a, b } = pair();
  let accepted: EventEmitter | null = null;
  b.net.createServer((sock) => { accepted = sock; sock.pipe(sock); }).listen(7);
  const c = a.net.connect(7, '10.0.0.2');
  c.on('error', () => {});
  await once(c, 'connect');
  while (!accepted) await sleep(1);
  const closed = new Promise((r) => accepted!.on('close', r));
  await b.close();
  await closed;
  await a.close();
});

test('two stacks with the same name get different MACs and talk; a switch refuses a MAC in use', async () => {
  const sw = new VirtualSwitch();
  const a = Stack.createSync({ name: 'same', link: sw.connect(), address: '10.0.0.1/24' });
  const b = Stack.createSync({ name: 'same', link: sw.connect(), address: '10.0.0.2/24' });
  assert.is.not(a.macs[0], b.macs[0]);
  const ms = await a.ping('10.0.0.2');
  assert.ok(ms >= 0);
  const srv = b.net.createServer((s) => s.pipe(s));
  srv.listen(7);
  const c = a.net.connect(7, '10.0.0.2');
  c.end('hello');
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  await once(c, 'end');
  assert.is(Buffer.concat(got).toString(), 'hello');
  const e = caught(() => Stack.createSync({ name: 'c', link: sw.connect(), address: '10.0.0.3/24', mac: a.macs[0] }));
  assert.is(e.code, 'ERR_DUPLICATE_MAC');
  assert.match(e.message, a.macs[0]);
  // A port that closes gives its MAC back.
  await a.close();
  const d = Stack.createSync({ name: 'd', link: sw.connect(), address: '10.0.0.4/24', mac: a.macs[0] });
  await d.close(); await b.close();
});

test('two stacks claiming one address: both report the conflict (RFC 5227), counted, the claim not learnt', async () => {
  const sw = new VirtualSwitch();
  const a = Stack.createSync({ name: 'a', link: sw.connect(), address: '10.0.0.1/24' });
  const c = Stack.createSync({ name: 'c', link: sw.connect(), address: '10.0.0.3/24' });
  const seenA: Err[] = [], seenB: Err[] = [];
  a.on('addressConflict', (e) => seenA.push(e));
  // b probes for its address as it adds it: a answers, b sees the address taken.
  const b = Stack.createSync({ name: 'b', link: sw.connect(), address: '10.0.0.1/24', probeAddresses: true });
  b.on('addressConflict', (e) => seenB.push(e));
  await sleep(20);
  // b's probe event came during create, before its listener: a later ARP from b (resolving c) shows it to a.
  await b.ping('10.0.0.3').catch(() => {});
  await sleep(20);
  assert.ok(seenA.length >= 1, 'a heard b claim 10.0.0.1');
  assert.is(seenA[0].code, 'ERR_ADDRESS_CONFLICT');
  assert.is(seenA[0].address, '10.0.0.1');
  assert.is(seenA[0].mac, b.macs[0]);
  assert.ok(seenB.length >= 1, 'b heard a defend 10.0.0.1');
  assert.is(seenB[0].mac, a.macs[0]);
  assert.ok(a.stats().arpConflict >= 1 && b.stats().arpConflict >= 1);
  assert.is(c.stats().arpConflict, 0);
  for (const s of [a, b, c]) await s.close();
});

test('a probe finds a silent holder of the address at once', async () => {
  const sw = new VirtualSwitch();
  const a = Stack.createSync({ name: 'a', link: sw.connect(), address: '10.0.0.1/24' });
  const b = Stack.createSync({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', probeAddresses: true });
  const seen: Err[] = [];
  b.on('addressConflict', (e) => seen.push(e));
  b.addAddress('10.0.0.1/24');
  await sleep(20);
  assert.ok(seen.length >= 1, 'a answered the probe');
  assert.is(seen[0].address, '10.0.0.1');
  assert.is(seen[0].mac, a.macs[0]);
  await a.close(); await b.close();
});

test('options that cannot work are refused with an error naming the option', async () => {
  const named = (o: Partial<StackOptions>, option: string, code: string) => {
    const e = caught(() => Stack.createSync({ name: 'x', ...o } as StackOptions));
    assert.is(e.code, code, `${option}: ${e.message}`);
    assert.ok(e.message.includes(`"${option}"`), `${option} named in: ${e.message}`);
    assert.not.match(e.message, /addr_add|route_add|if_add|if_offload/);
  };
  named({ address: '10.0.0.1/24' }, 'address', 'ERR_INVALID_ARG_VALUE');
  named({ mac: '02:00:00:00:00:01' }, 'mac', 'ERR_INVALID_ARG_VALUE');
  named({ link: new TestLink(), address: '10.0.0.1/24', gateway: '10.0.1.1' }, 'gateway', 'ERR_INVALID_ARG_VALUE');
  named({ link: new TestLink(), address: ['10.0.0.1/24', '10.0.0.1/16'] }, 'address', 'EEXIST');
  named({ interfaces: [{ link: new TestLink(), address: '0.0.0.0/0' }] }, 'interfaces[0].address', 'EINVAL');
  named({ link: new TestLink(500), address: '10.0.0.1/24' }, 'link', 'EINVAL');
  named({ limits: { tcpCongestion: 'reno' as 'cubic' } }, 'tcpCongestion', 'ERR_INVALID_ARG_VALUE');
  const bad = caught(() => Stack.createSync({ name: 'x', link: new TestLink(), address: '10.0.0.1' }));
  assert.is(bad.code, 'ERR_INVALID_IP_ADDRESS');
  assert.ok(bad instanceof TypeError);
  const s = Stack.createSync({ name: 'x', link: new TestLink(), address: '10.0.0.1/24', gateway: '10.0.0.254' });
  assert.is(caught(() => s.addRoute('10.9.0.0/16', '10.1.0.1')).code, 'ERR_INVALID_ARG_VALUE');
  assert.is(caught(() => s.addAddress('10.0.0.1/24')).code, 'EEXIST');
  assert.is((await rejected(s.ping('nowhere'))).code, 'ERR_INVALID_IP_ADDRESS');
  for (const f of [() => s.net.connect({ port: 80, host: '10.0.0.2', congestion: 'vegas' as 'bbr' }),
    () => s.net.createServer({ congestion: 'vegas' as 'bbr' })]) {
    const cc = caught(f);
    assert.is(cc.code, 'ERR_INVALID_ARG_VALUE');
    assert.match(cc.message, /congestion must be 'cubic', 'newreno', 'bbr'; got vegas/);
  }
  await s.close();
});

test('errors look like Node\'s: code, errno, syscall, address and port', async () => {
  const { a, b } = pair();
  const c = a.net.connect({ port: 81, host: '10.0.0.2' });
  const [refused] = await once(c, 'error') as [Err];
  assert.is(refused.code, 'ECONNREFUSED');
  assert.is(refused.errno, -111);
  assert.is(refused.syscall, 'connect');
  assert.is(refused.address, '10.0.0.2');
  assert.is(refused.port, 81);
  assert.is(refused.message, 'connect ECONNREFUSED 10.0.0.2:81');
  const timeout = await rejected(a.ping('10.0.0.77', { timeout: 10 }));
  assert.is(timeout.code, 'ETIMEDOUT');
  assert.is(timeout.errno, -110);
  assert.is(timeout.syscall, 'ping');
  assert.is(timeout.address, '10.0.0.77');
  const u1 = b.dgram.createSocket('udp4'), u2 = b.dgram.createSocket('udp4');
  u1.bind(53);
  u2.bind(53);
  const [inUse] = await once(u2, 'error') as [Err];
  assert.equal([inUse.code, inUse.syscall, inUse.address, inUse.port, inUse.message], ['EADDRINUSE', 'bind', '0.0.0.0', 53, 'bind EADDRINUSE 0.0.0.0:53']);
  u1.close(); u2.close();
  assert.ok(ERROR_CODES.includes('ERR_STACK_CLOSED') && ERRNO_CODES.includes('ECONNREFUSED'));
  await a.close(); await b.close();
});

test('AbortSignal: connect destroys with AbortError, listen and createSocket close', async () => {
  const { a, b } = pair();
  b.net.createServer().listen(80);
  const ac = new AbortController();
  const c = a.net.connect({ port: 80, host: '10.0.0.2', signal: ac.signal });
  await once(c, 'connect');
  ac.abort();
  const [err] = await once(c, 'error') as [Err];
  assert.is(err.name, 'AbortError');
  assert.is(err.code, 'ABORT_ERR');
  assert.ok(c.destroyed);
  const pre = a.net.connect({ port: 80, host: '10.0.0.2', signal: AbortSignal.abort() });
  assert.is((await once(pre, 'error') as [Err])[0].code, 'ABORT_ERR');
  const ac2 = new AbortController();
  const srv = b.net.createServer();
  srv.listen({ port: 81, signal: ac2.signal });
  await once(srv, 'listening');
  ac2.abort();
  await once(srv, 'close');
  assert.is(srv.listening, false);
  const ac3 = new AbortController();
  const u = a.dgram.createSocket({ type: 'udp4', signal: ac3.signal });
  u.bind(5000);
  ac3.abort();
  await once(u, 'close');
  await a.close(); await b.close();
});

test.run();
