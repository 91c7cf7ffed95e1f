// Two stacks in a page: fetch the zero-import core, instantiate it twice,
// ping, echo UDP, and echo a TCP stream.
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

  // TCP echo: b listens on :7 and echoes; a connects, sends a message in
  // pieces through the send buffer, half-closes, and reads the echo until
  // b's FIN (docs/ABI.md §9).
  const message = new TextEncoder().encode('hello over TCP from the browser\n'.repeat(1024));
  const lsd = b.tcpListen(7);
  const csd = a.tcpConnect('10.0.0.2', 7);
  let ssd = -1, connected = false, sent = 0, shutA = false, shutB = false, finA = false, finB = false;
  let pending = new Uint8Array(0);
  const back = [];
  let backBytes = 0;
  const tcpOk = net.run(() => {
    const err = [...a.take(EV.TCP_ERROR), ...b.take(EV.TCP_ERROR)][0];
    if (err) throw new Error(`TCP error on ${err.a}: errno ${err.b}`);
    if (a.take(EV.TCP_CONNECTED, csd).length) connected = true;
    if (ssd < 0) ssd = b.tcpAccept(lsd);
    if (connected && sent < message.length) sent += a.tcpSend(csd, message.subarray(sent));
    if (connected && sent === message.length && !shutA) { a.tcpShutdown(csd); shutA = true; }
    if (ssd >= 0) {
      for (let r = b.tcpRecv(ssd); r.length; r = b.tcpRecv(ssd)) {
        const p = new Uint8Array(pending.length + r.length);
        p.set(pending);
        p.set(r, pending.length);
        pending = p;
      }
      if (pending.length) pending = pending.subarray(b.tcpSend(ssd, pending));
      if (b.take(EV.TCP_FIN, ssd).length) finB = true;
      if (finB && !pending.length && !shutB) { b.tcpShutdown(ssd); shutB = true; }
    }
    for (let r = a.tcpRecv(csd); r.length; r = a.tcpRecv(csd)) { back.push(r); backBytes += r.length; }
    if (a.take(EV.TCP_FIN, csd).length) finA = true;
    return finA && backBytes >= message.length;
  }, 60000);
  if (!tcpOk) throw new Error(`no TCP echo (connected ${connected}, sent ${sent}, back ${backBytes})`);
  const echo = new Uint8Array(backBytes);
  back.reduce((off, r) => (echo.set(r, off), off + r.length), 0);
  if (echo.length !== message.length || echo.some((x, i) => x !== message[i])) throw new Error('the TCP echo differs');
  const info = a.tcpInfo(csd);
  say(`tcp echo: ${info.local}:${info.localPort} to ${info.remote}:${info.remotePort}, ${echo.length} bytes back, identical, ` +
    `first line "${new TextDecoder().decode(echo.subarray(0, echo.indexOf(10)))}"`);
  a.tcpClose(csd);
  b.tcpClose(ssd);
  b.tcpClose(lsd);
  net.run(() => false, 5000);
  say(`frames on the wire: ${net.frames}`);
}

main().then(
  () => { status.textContent = 'PASS'; status.className = 'pass'; },
  (err) => { status.textContent = `FAIL: ${err.message}`; status.className = 'fail'; say(String(err.stack)); },
);
