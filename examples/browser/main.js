// Two stacks in a page: fetch the zero-import core, instantiate it twice,
// ping, echo UDP, and (once the core exports TCP) echo a TCP stream.
import { MiniStack, Net, EV } from '../js-minimal/shoal-min.js';

const log = document.getElementById('log');
const status = document.getElementById('status');
const say = (line) => { log.textContent += line + '\n'; };

async function main() {
  const bytes = await (await fetch(new URL('../../build/shoal.wasm', import.meta.url))).arrayBuffer();
  const module = await WebAssembly.compile(bytes);
  const make = async () => (await WebAssembly.instantiate(module, {})).exports;
  const a = new MiniStack(await make(), 'a').setup({ mac: [0x0200, 1], address: '10.0.0.1', seed: 1 });
  const b = new MiniStack(await make(), 'b').setup({ mac: [0x0200, 2], address: '10.0.0.2', seed: 2 });
  const net = new Net(a, b);
  say(`core: ${bytes.byteLength} bytes, two instances of ${a.ex.memory.buffer.byteLength} bytes of memory each`);

  a.ping('10.0.0.2', 7, 1, 56);
  if (!net.run(() => a.events.some((e) => e.type === EV.ECHO_REPLY))) throw new Error('no echo reply');
  const e = a.events.find((e) => e.type === EV.ECHO_REPLY);
  say(`ping 10.0.0.2: reply seq ${e.a & 0xffff}, ${e.c} bytes`);

  const sb = b.udpOpen(7), sa = a.udpOpen();
  a.udpSend(sa, '10.0.0.2', 7, new TextEncoder().encode('hello from the browser'));
  let echoed = null;
  const ok = net.run(() => {
    for (const d of b.udpRecv(sb)) b.udpSend(sb, d.from, d.port, d.data);
    for (const d of a.udpRecv(sa)) echoed = `${d.from}:${d.port} ${new TextDecoder().decode(d.data)}`;
    return echoed !== null;
  });
  if (!ok) throw new Error('no UDP echo');
  say(`udp echo: ${echoed}`);

  // TCP echo: written against docs/ABI.md §9 once the core exports tcp_connect.
  if (a.hasTcp) throw new Error('the core exports TCP: add the TCP echo to examples/browser/main.js');
  say('tcp echo: skipped (the core does not export tcp_connect yet)');
  say(`frames on the wire: ${net.frames}`);
}

main().then(
  () => { status.textContent = 'PASS'; status.className = 'pass'; },
  (err) => { status.textContent = `FAIL: ${err.message}`; status.className = 'fail'; say(String(err.stack)); },
);
