// The shoal command. Until the cluster lands, `shoal demo` (also the default)
// runs two stacks on a virtual switch: ping, UDP echo, and Node's own http
// module serving and fetching over Shoal's TCP.
import http from 'node:http';
import { Stack } from './stack.ts';
import { VirtualSwitch } from './link/switch.ts';

async function demo(): Promise<void> {
  const sw = new VirtualSwitch();
  const a = await Stack.create({ name: 'a', link: sw.connect(), address: '10.0.0.1/24' });
  const b = await Stack.create({ name: 'b', link: sw.connect(), address: '10.0.0.2/24' });
  console.log(`stack a ${a.addresses.join(', ')} (${a.macs[0]})`);
  console.log(`stack b ${b.addresses.join(', ')} (${b.macs[0]})`);
  for (let i = 0; i < 3; i++) console.log(`a → ping 10.0.0.2: ${(await a.ping('10.0.0.2')).toFixed(3)} ms`);
  const server = b.dgram.createSocket('udp4');
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((r) => server.bind(7, () => r()));
  const client = a.dgram.createSocket('udp4');
  const reply = new Promise<Buffer>((r) => client.once('message', (m: Buffer) => r(m)));
  client.send('hello from a', 7, '10.0.0.2');
  console.log(`a → udp echo 10.0.0.2:7: "${(await reply).toString()}"`);
  const web = http.createServer((req, res) => res.end(`hello from b, you asked for ${req.url}\n`));
  b.net.createServer((sock) => web.emit('connection', sock)).listen(80);
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.request({ path: '/index.html', createConnection: () => a.net.connect({ port: 80, host: '10.0.0.2' }) }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text));
    });
    req.on('error', reject).end();
  });
  console.log(`a → http://10.0.0.2/index.html: ${body.trim()}`);
  const s = a.stats();
  console.log(`a: ${s.rxFrames} frames in, ${s.txFrames ?? 0} out, ${s.buffersFree}/${s.buffers} buffers free`);
  client.close(); server.close();
  await a.close(); await b.close();
}

const [cmd = 'demo'] = process.argv.slice(2);
if (cmd === 'demo') await demo();
else {
  console.error(`usage: shoal [demo]`);
  process.exit(2);
}
