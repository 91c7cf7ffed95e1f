// The WASI reactor (build/shoal.wasi.wasm) under two WASI implementations —
// Node's node:wasi and @bjorn3/browser_wasi_shim (pure JS, as in a browser) —
// driven by the minimal embedding in examples/js-minimal (no code from host/):
// two instances on one wire ping each other, exchange UDP, and move a TCP
// stream both ways (1 MiB, then its echo, compared by sha256); a refused
// connect and the socket rules around it; no leaked TCBs, chunks or buffers.
// And the artifact's abort, built as asconfig.json builds it, says what failed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { WASI as NodeWASI } from 'node:wasi';
import { WASI as ShimWASI } from '@bjorn3/browser_wasi_shim';
import { MiniStack, Net, EV, ip4, type CoreExports, type TcpInfo } from '../../examples/js-minimal/shoal-min.js';
import { readHeader } from './header.ts';
import { repoRoot } from './header.ts';

const root = repoRoot();
const H = readHeader().defines;
const TCP_BYTES = 1 << 20;
const module = new WebAssembly.Module(readFileSync(join(root, 'build/shoal.wasi.wasm')));

type Runtime = { name: string; instantiate(): CoreExports };

const runtimes: Runtime[] = [
  {
    name: 'node:wasi',
    instantiate() {
      const wasi = new NodeWASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
      const inst = new WebAssembly.Instance(module, wasi.getImportObject() as WebAssembly.Imports);
      wasi.initialize(inst);
      return inst.exports as CoreExports;
    },
  },
  {
    name: 'browser_wasi_shim',
    instantiate() {
      const wasi = new ShimWASI([], [], []);
      const inst = new WebAssembly.Instance(module, { wasi_snapshot_preview1: wasi.wasiImport });
      wasi.initialize(inst as unknown as { exports: { memory: WebAssembly.Memory; _initialize?: () => unknown } });
      return inst.exports as CoreExports;
    },
  },
];

function pair(rt: Runtime) {
  const a = new MiniStack(rt.instantiate(), 'a').setup({ mac: [0x0200, 1], address: '10.0.0.1', seed: 1 });
  const b = new MiniStack(rt.instantiate(), 'b').setup({ mac: [0x0200, 2], address: '10.0.0.2', seed: 2 });
  return { a, b, net: new Net(a, b) };
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

for (const rt of runtimes) {
  test(`${rt.name}: _initialize, then init lays out memory once`, () => {
    const ex = rt.instantiate();
    const s = new MiniStack(ex).setup({ mac: [0x0200, 9], address: '10.0.0.9' });
    const size = ex.memory.buffer.byteLength;
    assert.is(s.get(88 /* MEM_END */), size);
    assert.is(ex.init(), -114, 'a second init is refused (EALREADY)');
  });

  test(`${rt.name}: ping across two instances`, () => {
    const { a, b, net } = pair(rt);
    a.ping('10.0.0.2', 0x1234, 1, 56);
    const ok = net.run(() => a.events.some((e) => e.type === EV.ECHO_REPLY));
    assert.ok(ok, 'echo reply within 10 s of virtual time');
    const e = a.events.find((e) => e.type === EV.ECHO_REPLY)!;
    assert.is(e.a, (0x1234 << 16) | 1);
    assert.is(e.b, ip4('10.0.0.2'));
    assert.is(e.c, 56);
    assert.is(b.counters().icmpEchoRx, 1);
    assert.ok(net.frames >= 4, 'ARP request, ARP reply, echo, echo reply');
  });

  test(`${rt.name}: UDP echo`, () => {
    const { a, b, net } = pair(rt);
    const sb = b.udpOpen(7);
    const sa = a.udpOpen();
    a.udpSend(sa, '10.0.0.2', 7, bytes('hello over WASI'));
    let echoed: string | null = null;
    const ok = net.run(() => {
      for (const d of b.udpRecv(sb)) b.udpSend(sb, d.from, d.port, d.data);
      for (const d of a.udpRecv(sa)) echoed = `${d.from}:${d.port} ${text(d.data)}`;
      return echoed !== null;
    });
    assert.ok(ok, 'echo within 10 s of virtual time');
    assert.is(echoed, '10.0.0.2:7 hello over WASI');
    assert.ok(b.events.some((e) => e.type === EV.UDP_READABLE && e.a === sb));
  });

  test(`${rt.name}: TCP stream between two instances`, () => {
    const { a, b, net } = pair(rt);
    assert.ok(a.hasTcp && b.hasTcp, 'the core exports tcp_connect');
    const r = tcpEcho(a, b, net, TCP_BYTES);
    assert.ok(r.handshake, 'connected and accepted');
    assert.ok(r.ok, `the echo finished within 120 s of virtual time (${r.backBytes} of ${TCP_BYTES} bytes back)`);
    assert.is(r.error, null);
    assert.is(r.atB.length, r.data.length, 'every byte reached b');
    assert.is(sha256(r.atB), sha256(r.data), 'b got the stream a sent, in order');
    assert.is(r.back.length, r.data.length, 'every byte came back');
    assert.is(sha256(r.back), sha256(r.data), 'a got the echo, in order');
    assert.ok(r.finA && r.finB, 'both directions ended with a FIN');
    // tcp_info as the connection came up (shoal_tcp_info_t).
    const up = r.infoUp!;
    assert.is(up.state, H.get('TCP_ESTABLISHED'));
    assert.is(`${up.local} ${up.remote}:${up.remotePort}`, '10.0.0.1 10.0.0.2:7');
    assert.ok(up.localPort >= 49152, `ephemeral local port ${up.localPort}`);
    assert.is(up.mss, 1500 - 20 - 20 - 12, 'MSS: MTU less IP, TCP and the timestamp option');
    assert.ok(up.wscale >> 8 > 0 && (up.wscale & 255) > 0, `window scaling both ways (${up.wscale.toString(16)})`);
    assert.is(up.cc, H.get('TCP_CC_CUBIC'));
    assert.ok(up.rtoMs >= 200 && up.cwnd >= up.mss, `rto ${up.rtoMs} ms, cwnd ${up.cwnd}`);
    const ib = b.tcpInfo(r.ssd);
    assert.is(ib.localPort, 7);
    assert.is(ib.remotePort, up.localPort);
    assert.is(ib.rcvNxt, a.tcpInfo(r.csd).sndMax, 'b has everything a sent, FIN included');
    // a sent its FIN first and got b's: TIME-WAIT. Closing never ends a
    // socket the host holds; tcp_close lets it go and TIME-WAIT runs out.
    assert.is(a.tcpInfo(r.csd).state, H.get('TCP_TIME_WAIT'));
    a.tcpClose(r.csd);
    b.tcpClose(r.ssd);
    b.tcpClose(r.lsd);
    net.run(() => false, 5000);   // the closes finish on the wire
    assert.is(a.tcpTables().timeWait, 1);
    net.run(() => false, 61_000); // 2 × MSL (30 s by default)
    for (const s of [a, b]) {
      const t = s.tcpTables();
      assert.equal([t.tcbsUsed, t.timeWait, t.chunksUsed, t.timers], [0, 0, 0, 0], `${s.name}: every TCB and chunk is back`);
      assert.is(t.tcbs, 64, 'CFG.TCP_SOCKS as the embedding set it');
      s.poll(net.now);
      assert.is(s.get(12 /* FREE_COUNT */), s.get(84 /* NBUFS */), `${s.name}: every packet buffer is back on the free stack`);
    }
    assert.is(a.take(EV.TCP_ERROR).length + b.take(EV.TCP_ERROR).length, 0, 'no TCP errors');
    assert.is(a.eventsLost + b.eventsLost, 0);
  });

  test(`${rt.name}: TCP connect to a closed port: ECONNREFUSED, and the socket waits for tcp_close`, () => {
    const { a, net } = pair(rt);
    const sd = a.tcpConnect('10.0.0.2', 9);
    assert.ok(net.run(() => a.events.some((e) => e.type === EV.TCP_ERROR)), 'an error event');
    const [e] = a.take(EV.TCP_ERROR, sd);
    assert.is(e.b, H.get('ECONNREFUSED'));
    assert.is(a.tcpInfo(sd).state, H.get('TCP_CLOSED'), 'CLOSED, still held');
    assert.is(a.call('tcp_send_space', sd), -H.get('EPIPE')!);
    assert.is(a.tcpTables().tcbsUsed, 1);
    a.tcpClose(sd);
    assert.is(a.tcpTables().tcbsUsed, 0, 'tcp_close released it');
    assert.is(a.call('tcp_close', sd), -H.get('EBADF')!, 'a second close is EBADF');
  });
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** b listens on :7 and echoes; a connects, sends size bytes, half-closes, and reads the echo until b's FIN. */
function tcpEcho(a: MiniStack, b: MiniStack, net: Net, size: number) {
  const data = new Uint8Array(size);
  for (let i = 0, x = 0x12345678; i < size; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; data[i] = x >>> 24; }
  const lsd = b.tcpListen(7);
  const csd = a.tcpConnect('10.0.0.2', 7);
  let ssd = -1, connected = false, sent = 0, shutA = false, shutB = false, finA = false, finB = false;
  let error: string | null = null;
  const atB: Uint8Array[] = [], back: Uint8Array[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  let backBytes = 0;
  let infoUp = null as TcpInfo | null;   // set inside the callback
  const ok = net.run(() => {
    for (const e of [...a.take(EV.TCP_ERROR), ...b.take(EV.TCP_ERROR)]) error = `TCP error on ${e.a}: errno ${e.b}`;
    if (error) return true;
    if (a.take(EV.TCP_CONNECTED, csd).length) { connected = true; infoUp = a.tcpInfo(csd); }
    if (ssd < 0) ssd = b.tcpAccept(lsd);
    if (connected && sent < size) sent += a.tcpSend(csd, data.subarray(sent));
    if (connected && sent === size && !shutA) { a.tcpShutdown(csd); shutA = true; }
    if (ssd >= 0) {
      for (let r = b.tcpRecv(ssd); r.length; r = b.tcpRecv(ssd)) { atB.push(r); pending = concat([pending, r]); }
      if (pending.length) pending = pending.subarray(b.tcpSend(ssd, pending));
      if (b.take(EV.TCP_FIN, ssd).length) finB = true;
      if (finB && !pending.length && !shutB) { b.tcpShutdown(ssd); shutB = true; }
    }
    for (let r = a.tcpRecv(csd); r.length; r = a.tcpRecv(csd)) { back.push(r); backBytes += r.length; }
    if (a.take(EV.TCP_FIN, csd).length) finA = true;
    return finA && backBytes >= size;
  }, 120_000);
  return { ok, handshake: connected && ssd >= 0, error, data, atB: concat(atB), back: concat(back), backBytes, finA, finB, lsd, csd, ssd, infoUp };
}

test('a fatal error in the WASI artifact writes "abort: <message> in <file>:<line>" to stderr and exits 255', () => {
  // A program that indexes past a StaticArray, compiled with the WASI
  // target's libraries and abort: the core has no deliberate way to fail.
  const wasiTarget = JSON.parse(readFileSync(join(root, 'asconfig.json'), 'utf8')).targets.wasi;
  const dir = mkdtempSync(join(tmpdir(), 'shoal-abort-'));
  try {
    writeFileSync(join(dir, 'boom.ts'), 'export function boom(i: i32): u32 { const a: StaticArray<u32> = [1, 2]; return a[i]; }\n');
    writeFileSync(join(dir, 'asconfig.json'), '{}');
    const asc = spawnSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), join(dir, 'boom.ts'),
      '--config', join(dir, 'asconfig.json'), '--runtime', 'stub', '--noAssert', '-O3', '-o', join(dir, 'boom.wasm'),
      ...wasiTarget.lib.flatMap((l: string) => ['--lib', l]), '--use', wasiTarget.use.find((u: string) => u.startsWith('abort='))],
    { cwd: root, encoding: 'utf8' });
    assert.is(asc.status, 0, asc.stderr);
    const run = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', `
      import { WASI } from 'node:wasi';
      import { readFileSync } from 'node:fs';
      const wasi = new WASI({ version: 'preview1', returnOnExit: true });
      const { instance } = await WebAssembly.instantiate(readFileSync(${JSON.stringify(join(dir, 'boom.wasm'))}), wasi.getImportObject());
      process.exit(wasi.start({ exports: { memory: instance.exports.memory, _start: () => instance.exports.boom(7) } }));`],
    { encoding: 'utf8' });
    assert.is(run.status, 255, run.stderr);
    assert.match(run.stderr, /^abort: Index out of range in ~lib\/staticarray\.ts:\d+\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
