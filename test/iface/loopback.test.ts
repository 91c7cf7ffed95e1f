// The loopback: datagrams to a stack's own addresses reach it without a frame
// on the link, as through Linux's lo: ping, UDP (fragmented too), TCP, and
// Node's http with server and client on one stack; a broadcast is heard by
// the sender's own sockets as well. "localhost", and no address at all, is
// the stack's first address.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http from 'node:http';
import { createHash } from 'node:crypto';
import { Stack } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import type { Socket } from '../../host/net/net.ts';
import { pair, settle } from '../tcp/helpers.ts';
import { drive } from '../helpers/frames.ts';

test('ping to its own address is answered, with no frame and no ARP on the link', async () => {
  const { clock, a, b } = pair();
  const rtt = await drive(clock, a.ping('10.0.0.1'));
  assert.ok(rtt >= 0);
  const st = a.stats();
  assert.is(st.txFrames, 0, 'nothing sent');
  assert.is(st.arpTx, 0);
  assert.is(b.stats().rxFrames, 0, 'nothing seen by the other stack');
  await a.close(); await b.close();
});

test('UDP to its own address, to localhost and to no address; a 60 000-byte datagram fragments and reassembles', async () => {
  const { clock, a, b } = pair();
  const srv = a.dgram.createSocket('udp4');
  srv.bind(7);
  const got: string[] = [];
  srv.on('message', (m: Buffer, r: { address: string }) => got.push(`${m.length > 100 ? m.length : m.toString()} from ${r.address}`));
  const c = a.dgram.createSocket('udp4');
  c.send('one', 7, '10.0.0.1');
  c.send('two', 7, 'localhost');
  c.send('three', 7);
  c.send(Buffer.alloc(60_000, 0x61), 7, '10.0.0.1');
  await settle(clock, () => got.length === 4, 10_000, 'four datagrams');
  assert.equal(got, ['one from 10.0.0.1', 'two from 10.0.0.1', 'three from 10.0.0.1', '60000 from 10.0.0.1']);
  assert.is(a.stats().txFrames, 0);
  srv.close(); c.close();
  await a.close(); await b.close();
});

test('a broadcast is heard by the sending stack\'s own sockets too, as on Linux, and sent once on the link', async () => {
  const { clock, a, b } = pair();
  const heard: string[] = [];
  for (const [name, st] of [['a', a], ['b', b]] as const) {
    const s = st.dgram.createSocket('udp4');
    s.bind(9);
    s.on('message', (m: Buffer, r: { address: string }) => heard.push(`${name}: ${m} from ${r.address}`));
  }
  const tx = a.dgram.createSocket('udp4');
  tx.setBroadcast(true);
  tx.send('to all', 9, '255.255.255.255');
  tx.send('to the subnet', 9, '10.0.0.255');
  await settle(clock, () => heard.length === 4, 10_000, 'four deliveries');
  assert.equal(heard.sort(), ['a: to all from 10.0.0.1', 'a: to the subnet from 10.0.0.1', 'b: to all from 10.0.0.1', 'b: to the subnet from 10.0.0.1']);
  assert.is(a.stats().txFrames, 2);
  await a.close(); await b.close();
});

test('TCP to its own address: 1 MiB echoed intact, a closed port refused, nothing on the link, nothing left after TIME-WAIT', async () => {
  const { clock, a, b } = pair();
  const srv = a.net.createServer((s: Socket) => s.pipe(s));
  srv.listen(7);
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const c = a.net.connect({ port: 7 });   // no host: localhost, the stack's own address
  const back: Buffer[] = [];
  let closed = false;
  c.on('data', (d: Buffer) => back.push(d));
  c.on('close', () => { closed = true; });
  c.end(data);
  await settle(clock, () => closed, 60_000, 'echo and close');
  assert.is(c.remoteAddress, '10.0.0.1');
  assert.is(c.localAddress, '10.0.0.1');
  const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex');
  assert.is(sha(Buffer.concat(back)), sha(data), 'every byte back, in order');
  const st = a.stats();
  assert.is(st.txFrames, 0, 'nothing sent on the link');
  // 2 MiB both ways in segments of up to 64 KiB, as over a GSO link (in MSS-sized ones it would take ~1500).
  assert.ok(st.tcpTx < 300 && st.loopback >= st.tcpTx, `${st.tcpTx} TCP segments, ${st.loopback} loopback frames`);
  let refused: (Error & { code?: string }) | null = null;
  a.net.connect({ port: 8, host: '10.0.0.1' }).on('error', (e) => { refused = e; });
  await settle(clock, () => refused !== null, 10_000, 'a closed port');
  assert.is(refused!.code, 'ECONNREFUSED', 'our own RST, through the loopback');
  srv.close();
  await settle(clock, () => a.stats().tcpSockets === 0, 120_000, 'tables empty');
  assert.is(a.stats().tcpChunksUsed, 0);
  assert.is(a.stats().buffersFree, a.stats().buffers, 'every buffer back');
  await a.close(); await b.close();
});

test('127.0.0.1 is not routed, not even to a default gateway: ENETUNREACH, nothing on the link', async () => {
  const { clock, a, b } = pair();
  a.addRoute('0.0.0.0/0', '10.0.0.2');
  let err: (Error & { code?: string }) | null = null;
  a.net.connect({ port: 7, host: '127.0.0.1' }).on('error', (e) => { err = e; });
  await settle(clock, () => err !== null, 10_000, 'the connect error');
  assert.is(err!.code, 'ENETUNREACH');
  assert.is(a.stats().txFrames, 0);
  await a.close(); await b.close();
});

test('a connect to a broadcast or multicast address: ENETUNREACH, nothing on the link', async () => {
  const { clock, a, b } = pair();
  for (const host of ['255.255.255.255', '10.0.0.255', '224.0.0.1']) {
    let err: (Error & { code?: string }) | null = null;
    a.net.connect({ port: 7, host }).on('error', (e) => { err = e; });
    await settle(clock, () => err !== null, 10_000, `the connect error for ${host}`);
    assert.is(err!.code, 'ENETUNREACH', host);
  }
  assert.is(a.stats().txFrames, 0);
  await a.close(); await b.close();
});

test('Node\'s http server and client on one stack, through localhost', async () => {
  const sw = new VirtualSwitch();
  const a = await Stack.create({ name: 'a', link: sw.connect(), address: '10.0.0.1/24' });
  const server = http.createServer((req, res) => res.end(`hello from ${req.socket.localAddress}, you asked for ${req.url}`));
  a.net.createServer((s: Socket) => server.emit('connection', s)).listen(80);
  const get = (path: string) => new Promise<string>((resolve, reject) => {
    http.get({ host: 'localhost', port: 80, path, createConnection: (o: http.ClientRequestArgs) =>
      a.net.connect({ host: o.host ?? undefined, port: Number(o.port) }) as unknown as import('node:net').Socket }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { s += d; });
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
  assert.is(await get('/one'), 'hello from 10.0.0.1, you asked for /one');
  assert.is(await get('/two'), 'hello from 10.0.0.1, you asked for /two');
  await a.close();
});

test.run();
