// The apps a cluster config starts (host/cluster/apps.ts), on plain stacks:
// echo, discard, http-hello answering with the serving stack's name, a
// user's module (default or `handler` export), and the errors for a module
// that cannot be loaded or exports no handler, naming the config field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { loadHandler, startApp } from '../../host/cluster/apps.ts';
import { ClusterConfigError, type AppConfig } from '../../host/cluster/config.ts';
import { parseIPv4 } from '../../host/addr.ts';
import { WHOAMI } from './harness.ts';

async function pair(): Promise<{ a: Stack; b: Stack; done: () => Promise<void> }> {
  const sw = new VirtualSwitch();
  const a = await Stack.create({ name: 'a', link: sw.connect(), address: '10.0.0.1/24' });
  const b = await Stack.create({ name: 'b', link: sw.connect(), address: '10.0.0.2/24' });
  return { a, b, done: async () => { await a.close(); await b.close(); } };
}

const app = (serve: string, port: number, address = 0): AppConfig => ({ stacks: ['b'], address, port, serve });

/** Sends `data`, half-closes, and resolves with everything that came back. */
function exchange(a: Stack, port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = a.net.connect({ host: '10.0.0.2', port });
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.end(data);
  });
}

test('echo returns what it gets; discard returns nothing and closes when the client does', async () => {
  const { a, b, done } = await pair();
  const e = await startApp(b, app('echo', 7), await loadHandler('echo', '.', 'apps[0].serve'));
  const d = await startApp(b, app('discard', 9, parseIPv4('10.0.0.2')), await loadHandler('discard', '.', 'apps[1].serve'));
  assert.is(e.listen, ':7');
  assert.is(d.listen, '10.0.0.2:9');
  assert.is(await exchange(a, 7, 'x'.repeat(10000)), 'x'.repeat(10000));
  assert.is(await exchange(a, 9, 'gone'), '');
  e.close(); d.close();
  await done();
});

test('http-hello answers every request with the serving stack\'s name, keep-alive or not', async () => {
  const { a, b, done } = await pair();
  const h = await startApp(b, app('http-hello', 80), await loadHandler('http-hello', '.', 'apps[0].serve'));
  const viaStack = () => a.net.connect({ host: '10.0.0.2', port: 80 }) as never;
  const agent = new http.Agent({ keepAlive: true });
  agent.createConnection = viaStack;
  // A host name that resolves nowhere: a request that missed the stack fails here instead of leaving the machine.
  const nowhere = { host: 'b.shoal.invalid', lookup: ((_h: string, _o: unknown, cb: (e: Error) => void) => cb(new Error('not over the stack'))) as never };
  for (const opts of [{ createConnection: viaStack }, { agent }, { agent }]) {
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ ...nowhere, path: '/any', ...opts }, (res) => {
        let t = '';
        res.setEncoding('utf8').on('data', (x: string) => { t += x; }).on('end', () => resolve(t));
      }).on('error', reject);
    });
    assert.is(body, 'hello from b\n');
  }
  agent.destroy();
  h.close();
  await done();
});

test('a user\'s module: its default export, or its `handler`, gets each connection and the context', async () => {
  const { a, b, done } = await pair();
  const dir = mkdtempSync(join(tmpdir(), 'shoal-apps-'));
  writeFileSync(join(dir, 'named.mjs'), `export function handler(s, ctx) { s.end(ctx.address + ':' + ctx.port + ' on ' + ctx.stack.name); }\n`);
  const w = await startApp(b, app(WHOAMI, 1000), await loadHandler(WHOAMI, '/', 'apps[0].serve'));
  // A relative path starts from the base directory (shoal up: the config file's).
  const n = await startApp(b, app('named.mjs', 1001), await loadHandler('named.mjs', dir, 'apps[1].serve'));
  assert.is(await exchange(a, 1000, 'ping'), 'b\nping');
  assert.is(await exchange(a, 1001, ''), '0.0.0.0:1001 on b');
  w.close(); n.close();
  await done();
});

test('a module that cannot be loaded, or exports no handler: a ClusterConfigError naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-apps-'));
  writeFileSync(join(dir, 'none.mjs'), 'export const x = 1;\n');
  for (const [serve, why] of [['nope.mjs', /cannot load module/], ['none.mjs', /exports no connection handler/], ['http-helo', /not a built-in app/]] as const) {
    try {
      await loadHandler(serve, dir, 'apps[2].serve');
      assert.unreachable(serve);
    } catch (e) {
      assert.instance(e, ClusterConfigError, serve);
      assert.is((e as ClusterConfigError).path, 'apps[2].serve');
      assert.match((e as Error).message, why);
    }
  }
});

test('an app whose port is taken rejects with the listen error', async () => {
  const { b, done } = await pair();
  const first = await startApp(b, app('echo', 7), await loadHandler('echo', '.', 'x'));
  try {
    await startApp(b, app('echo', 7), await loadHandler('echo', '.', 'x'));
    assert.unreachable('listened twice');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'EADDRINUSE');
  }
  first.close();
  await done();
});

test.run();
