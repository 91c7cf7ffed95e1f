// Node's own http server and client, unchanged, over two Shoal stacks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http from 'node:http';
import { Stack } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import type { Socket } from '../../host/net/net.ts';

test('http.createServer on one stack, 1,000 requests from http.request on another', async () => {
  const sw = new VirtualSwitch();
  const a = await Stack.create({ name: 'a', link: sw.connect(), address: '10.0.0.1/24' });
  const b = await Stack.create({ name: 'b', link: sw.connect(), address: '10.0.0.2/24' });
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { res.setHeader('x-stack', 'b'); res.end(`${req.method} ${req.url} ${body.length}`); });
  });
  b.net.createServer((s: Socket) => server.emit('connection', s)).listen(80);
  const request = (i: number) => new Promise<string>((resolve, reject) => {
    const body = i % 3 === 0 ? 'x'.repeat(i % 5000) : '';
    const req = http.request({
      host: '10.0.0.2', port: 80, path: `/r/${i}`, method: body ? 'POST' : 'GET',
      headers: body ? { 'content-length': body.length } : {},
      createConnection: () => a.net.connect({ port: 80, host: '10.0.0.2' }) as unknown as import('node:net').Socket,
    }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { s += d; });
      res.on('end', () => { if (res.headers['x-stack'] !== 'b') reject(new Error('header')); resolve(s); });
    });
    req.on('error', reject);
    req.end(body);
  });
  const t0 = Date.now();
  const N = 1000, PAR = 50;
  let next = 0;
  const results: string[] = [];
  await Promise.all(Array.from({ length: PAR }, async () => {
    while (next < N) {
      const i = next++;
      results[i] = await request(i);
    }
  }));
  const ms = Date.now() - t0;
  console.log(`${N} requests in ${ms} ms (${(N / (ms / 1000)).toFixed(0)}/s)`);
  for (let i = 0; i < N; i++) {
    const len = i % 3 === 0 ? i % 5000 : 0;
    assert.is(results[i], `${len ? 'POST' : 'GET'} /r/${i} ${len}`);
  }
  await a.close();
  await b.close();
});

test.run();
