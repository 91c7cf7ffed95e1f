// Two stacks in a page: fetch the zero-import core, instantiate it twice,
// ping, echo UDP, echo a 1 MiB TCP stream, close, and see a connect refused.
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

  // TCP echo: b listens on :7 and echoes; a connects, writes 1 MiB straight
  // into its send buffer, half-closes, and reads the echo until b's FIN
  // (docs/ABI.md §9).
  const message = new TextEncoder().encode('hello over TCP from the browser\n'.repeat(32768));
  const lsd = b.tcpListen(7);
  const csd = a.tcpConnect('10.0.0.2', 7);
  let ssd = -1, connected = false, sent = 0, shutA = false, shutB = false, finA = false, finB = false, up = null;
  let pending = new Uint8Array(0);
  const back = [];
  let backBytes = 0;
  const tcpOk = net.run(() => {
    const err = [...a.take(EV.TCP_ERROR), ...b.take(EV.TCP_ERROR)][0];
    if (err) throw new Error(`TCP error on ${err.a}: errno ${err.b}`);
    if (a.take(EV.TCP_CONNECTED, csd).length) { connected = true; up = a.tcpInfo(csd); }
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
  say(`tcp: connected ${up.local}:${up.localPort} to ${up.remote}:${up.remotePort}, ${up.stateName}, mss ${up.mss}`);
  say(`tcp echo: ${echo.length} bytes back, identical, sha-256 ${await sha256(echo)}, ` +
    `first line "${new TextDecoder().decode(echo.subarray(0, echo.indexOf(10)))}"`);

  // Closing: every socket is the host's until tcp_close, whatever the
  // connection did; a's side then waits out TIME-WAIT (2 × 30 s, virtual).
  a.tcpClose(csd);
  b.tcpClose(ssd);
  b.tcpClose(lsd);
  net.run(() => false, 61000);
  const ta = a.tcpTables(), tb = b.tcpTables();
  say(`tcp closed: ${ta.tcbsUsed + tb.tcbsUsed} TCBs and ${ta.chunksUsed + tb.chunksUsed} send chunks in use after TIME-WAIT`);

  const rsd = a.tcpConnect('10.0.0.2', 9);
  if (!net.run(() => a.events.some((e) => e.type === EV.TCP_ERROR))) throw new Error('no answer from port 9');
  say(`tcp connect to 10.0.0.2:9: refused (errno ${a.take(EV.TCP_ERROR, rsd)[0].b}), socket ${a.tcpInfo(rsd).stateName}`);
  a.tcpClose(rsd);
  say(`frames on the wire: ${net.frames}, events lost: ${a.eventsLost + b.eventsLost}`);
}

async function sha256(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((x) => x.toString(16).padStart(2, '0')).join('');
}

main().then(
  () => { status.textContent = 'PASS'; status.className = 'pass'; },
  (err) => { status.textContent = `FAIL: ${err.message}`; status.className = 'fail'; say(String(err.stack)); },
);
