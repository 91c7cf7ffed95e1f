// HTTP over a stack: stack.http.Agent (keep-alive reuses one connection) and
// stack.fetch, with nothing going through the host's own sockets: the server
// is at an address only the stack reaches, and net.Socket's connect is watched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import { Stack, VirtualSwitch } from '../../host/index.ts';

/** Counts connects through the host's own sockets while fn runs. */
async function hostConnects(fn: () => Promise<void>): Promise<number> {
  const proto = net.Socket.prototype as unknown as { connect: (...a: unknown[]) => unknown };
  const real = proto.connect;
  let n = 0;
  proto.connect = function (this: unknown, ...a: unknown[]) { n++; return real.apply(this, a); };
  try { await fn(); } finally { proto.connect = real; }
  return n;
}

async function setup() {
  const sw = new VirtualSwitch();
  const client = await Stack.create({ name: 'client', link: sw.connect(), address: '10.77.0.1/24' });
  const server = await Stack.create({ name: 'server', link: sw.connect(), address: '10.77.0.2/24' });
  const peers: number[] = [];
  const srv = http.createServer((req, res) => {
    peers.push(req.socket.remotePort!);
    res.setHeader('content-type', 'text/plain');
    res.end(`${req.method} ${req.url} over shoal`);
  });
  server.net.createServer((s) => srv.emit('connection', s)).listen(80);
  return { client, server, peers, close: async () => { await client.close(); await server.close(); srv.close(); } };
}

function get(agent: http.Agent, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '10.77.0.2', port: 80, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('stack.http.Agent: requests go over the stack, keep-alive reuses one connection', async () => {
  const { client, peers, close } = await setup();
  const agent = new client.http.Agent({ keepAlive: true });
  assert.ok(agent instanceof http.Agent);
  const n = await hostConnects(async () => {
    assert.is(await get(agent, '/one'), 'GET /one over shoal');
    assert.is(await get(agent, '/two'), 'GET /two over shoal');
  });
  assert.is(n, 0, 'nothing went through the host\'s own sockets');
  assert.is(peers.length, 2);
  assert.is(peers[0], peers[1], 'both requests on one kept-alive connection');
  assert.is(client.stats().tcpConnect, 1);
  agent.destroy();
  await close();
});

test('stack.fetch: WHATWG fetch over the stack, connections pooled', async () => {
  const { client, peers, close } = await setup();
  const n = await hostConnects(async () => {
    const r = await client.fetch('http://10.77.0.2/a');
    assert.is(r.status, 200);
    assert.is(r.headers.get('content-type'), 'text/plain');
    assert.is(await r.text(), 'GET /a over shoal');
    // undici pools the connection some ticks after the response has ended (later
    // on a loaded machine): ask again until a request reuses it.
    for (let i = 0; i < 50 && new Set(peers).size === peers.length; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const r2 = await client.fetch('http://10.77.0.2/b', { method: 'POST', body: 'x' });
      assert.is(await r2.text(), 'POST /b over shoal');
    }
  });
  assert.is(n, 0, 'nothing went through the host\'s own sockets');
  assert.ok(new Set(peers).size < peers.length, `a pooled connection reused (peers: ${peers.join(', ')})`);
  await close();
});

test('fetch to nobody fails with the stack\'s error; after close at once with ERR_STACK_CLOSED', async () => {
  const { client, close } = await setup();
  const err = await client.fetch('http://10.77.0.2:81/').then(() => null, (e: Error) => e);
  assert.ok(err, 'rejected');
  assert.is((err!.cause as { code?: string } | undefined)?.code, 'ECONNREFUSED');
  await close();
  const closed = await client.fetch('http://10.77.0.2/').then(() => null, (e: Error & { code?: string }) => e);
  assert.is(closed?.code, 'ERR_STACK_CLOSED');
  const agent = new client.http.Agent();
  const req = http.get({ host: '10.77.0.2', agent });
  const [e] = await once(req, 'error') as [Error & { code?: string }];
  assert.is(e.code, 'ERR_STACK_CLOSED');
});

test.run();
