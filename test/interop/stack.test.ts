// Shoal stacks against the real Linux kernel: a TAP device opened here and
// moved into a namespace made by the test, the kernel side 10.79.0.1/24, the
// stack(s) 10.79.0.2 and up. ICMP echo both ways (with IP fragmentation),
// a VirtualSwitch with the TAP as its uplink, UDP both ways up to the
// largest datagram, host-side faults (withFaults) and kernel-side loss
// (nftables), the device vanishing under a running stack, offloads.
// Needs root and /dev/net/tun; elsewhere the tests skip and say why.
// The TCP parts of issue 4 (curl, RST, SYN flood, throughput) come with TCP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack } from '../../host/stack.ts';
import { TapLink } from '../../host/link/tap.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { withFaults } from '../../host/link/faults.ts';
import type { FaultDirection } from '../../host/link/faults.ts';
import { kernelPeerUnavailable, kernelSide, withNetns, withStackPeer } from './netns.ts';
import { lacks, maybe } from '../helpers/needs.ts';
import type { Netns, StackPeer, StackPeerOptions } from './netns.ts';

const why = await kernelPeerUnavailable();
/** A test that needs the kernel as a peer (and `tools` in the namespace);
 * skipped with the reason when it cannot run here; prints how long it took. */
function kt(name: string, tools: string[], fn: () => Promise<void>): void {
  maybe(test, why ?? lacks(...tools), name, async () => {
    const t0 = performance.now();
    try { await fn(); } finally { console.log(`    (${((performance.now() - t0) / 1000).toFixed(1)} s)`); }
  });
}

const NET = '10.79.0';
const KERNEL = `${NET}.1`;
const NODE = process.execPath;
let devNo = 0;
const devName = () => `shs${process.pid}${String.fromCharCode(97 + devNo++)}`; // ≤ 15 bytes
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const SEED = Number(process.env.SEED ?? (Date.now() % 1_000_000));
console.log(`stack interop seed: ${SEED} (replay the host-side faults with SEED=${SEED})`);

// ---- one source for UDP clients and echo servers, on either side ------------
//
// The same JavaScript runs inside the namespace over node:dgram (`node -e`)
// and here over a stack's dgram factory (the same shape): datagrams carry
// their sequence number and length and a pattern derived from both, so the
// receiver checks every byte.

const UDP_SRC = String.raw`
function fill(seq, len) {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (i * 131 + seq * 17 + (i >>> 8)) & 255;
  b.writeUInt32BE(seq >>> 0, 0); b.writeUInt32BE(len, 4);
  return b;
}
/** The datagram's sequence number if every byte is as sent, else -1. */
function check(b) {
  if (b.length < 8) return -1;
  const seq = b.readUInt32BE(0);
  if (b.readUInt32BE(4) !== b.length) return -1;
  for (let i = 8; i < b.length; i++) if (b[i] !== ((i * 131 + seq * 17 + (i >>> 8)) & 255)) return -1;
  return seq;
}
/** Sends datagram i with sizes[i] bytes to host:port, at most o.window
 * awaiting their echo at once; one not echoed within o.timeoutMs counts as
 * lost and frees its place. Ends o.lingerMs after the last one settles. */
function client(dgram, host, port, sizes, o, done) {
  const s = dgram.createSocket('udp4');
  const got = new Set(), pending = new Map();
  const r = { sent: 0, echoed: 0, dups: 0, bad: 0, badLens: [], lost: [], errors: [] };
  let next = 0, ending = false;
  s.on('error', (e) => r.errors.push(String(e.code || e.message)));
  s.on('message', (m) => {
    const q = check(m);
    if (q < 0 || q >= sizes.length || sizes[q] !== m.length) { r.bad++; if (r.badLens.length < 8) r.badLens.push(m.length); return; }
    if (got.has(q)) { r.dups++; return; }
    got.add(q); r.echoed++;
    if (pending.has(q)) { clearTimeout(pending.get(q)); pending.delete(q); setImmediate(pump); }
  });
  function pump() {
    while (pending.size < o.window && next < sizes.length) {
      const i = next++;
      s.send(fill(i, sizes[i]), port, host); r.sent++;
      pending.set(i, setTimeout(() => { pending.delete(i); pump(); }, o.timeoutMs));
    }
    if (pending.size === 0 && next >= sizes.length && !ending) {
      ending = true;
      // a short linger: late echoes still count, and duplicates show
      setTimeout(() => {
        for (let i = 0; i < sizes.length; i++) if (!got.has(i) && r.lost.length < 20) r.lost.push(i);
        s.close(); done(r);
      }, o.lingerMs);
    }
  }
  pump();
}
/** Echoes every datagram back to its sender; counts intact and damaged ones in st. */
function echo(dgram, port, st, ready) {
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => st.errors.push(String(e.code || e.message)));
  s.on('message', (m, from) => {
    if (check(m) < 0) st.bad++; else st.good++;
    s.send(m, from.port, from.address);
  });
  s.bind(port, ready);
  return s;
}
`;

interface ClientOpts { window: number; timeoutMs: number; lingerMs: number }
interface ClientResult { sent: number; echoed: number; dups: number; bad: number; badLens: number[]; lost: number[]; errors: string[] }
interface EchoStats { good: number; bad: number; errors: string[] }
type DgramLike = { createSocket(type: 'udp4'): unknown };

const udp = new Function(`${UDP_SRC}; return { fill, check, client, echo };`)() as {
  fill(seq: number, len: number): Buffer;
  check(b: Uint8Array): number;
  client(d: DgramLike, host: string, port: number, sizes: number[], o: ClientOpts, done: (r: ClientResult) => void): void;
  echo(d: DgramLike, port: number, st: EchoStats, ready: () => void): { close(): void };
};

// One datagram in flight when nothing is lost: two 64 KB datagrams at once
// overflow a kernel socket's default receive buffer (Udp RcvbufErrors).
const FAST: ClientOpts = { window: 1, timeoutMs: 2000, lingerMs: 50 };
const LOSSY: ClientOpts = { window: 16, timeoutMs: 150, lingerMs: 300 };

/** node:dgram in the namespace, asking for a large receive buffer (capped by net.core.rmem_max). */
const KDGRAM = `{ createSocket: () => require('dgram').createSocket({ type: 'udp4', recvBufferSize: 4 << 20 }) }`;

/** The stack as a UDP client of the kernel's echo server. */
function stackClient(s: Stack, port: number, sizes: number[], o: ClientOpts): Promise<ClientResult> {
  return new Promise((resolve) => udp.client(s.dgram, KERNEL, port, sizes, o, resolve));
}

/** The kernel (node:dgram inside the namespace) as a UDP client of a stack's echo server. */
async function kernelClient(ns: Netns, host: string, port: number, sizes: number[], o: ClientOpts): Promise<ClientResult> {
  const src = `${UDP_SRC}; client(${KDGRAM}, ${JSON.stringify(host)}, ${port}, ${JSON.stringify(sizes)}, ` +
    `${JSON.stringify(o)}, (r) => { console.log(JSON.stringify(r)); process.exit(0); });`;
  const r = await ns.exec([NODE, '-e', src], { timeoutMs: 30_000 });
  return JSON.parse(r.stdout) as ClientResult;
}

/** A UDP echo server in the namespace (node:dgram); stop() ends it and returns its counts. */
async function kernelEcho(ns: Netns, port: number): Promise<{ stop(): Promise<EchoStats> }> {
  const src = `${UDP_SRC}; const st = { good: 0, bad: 0, errors: [] };` +
    `echo(${KDGRAM}, ${port}, st, () => console.log('ready'));` +
    `process.on('SIGTERM', () => { console.log(JSON.stringify(st)); process.exit(0); });`;
  const child = ns.spawn([NODE, '-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('kernel echo server did not start within 10 s')), 10_000);
    child.stdout!.on('data', (d: string) => { out += d; if (out.includes('ready\n')) { clearTimeout(t); resolve(); } });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`kernel echo server exited (${code})`)); });
  });
  return {
    stop: () => new Promise<EchoStats>((resolve, reject) => {
      child.removeAllListeners('exit');
      child.on('close', () => { // 'close', not 'exit': stdout is fully read
        try { resolve(JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as EchoStats); } catch (e) { reject(e); }
      });
      child.kill('SIGTERM');
    }),
  };
}

/** An echo server on a stack. */
function stackEcho(s: Stack, port: number): Promise<{ st: EchoStats; close(): void }> {
  const st: EchoStats = { good: 0, bad: 0, errors: [] };
  return new Promise((resolve) => {
    const sock = udp.echo(s.dgram, port, st, () => resolve({ st, close: () => sock.close() }));
  });
}

/** Sizes: a few of each, `n` datagrams in all, cycling through `kinds`. */
const cycle = (kinds: number[], n: number) => Array.from({ length: n }, (_, i) => kinds[i % kinds.length]!);

// ---- the kernel as a peer ------------------------------------------------

interface PingResult { transmitted: number; received: number; dups: number; damaged: number; out: string }

/** The kernel's ping from inside the namespace; `damaged` counts replies ping found wrong. */
async function kernelPing(ns: Netns, dst: string, o: { count: number; size?: number; interval?: number; wait?: number }): Promise<PingResult> {
  const args = ['ping', '-n', '-c', String(o.count), '-i', String(o.interval ?? 0.02), '-W', String(o.wait ?? 1),
    '-s', String(o.size ?? 56), dst];
  const r = await ns.exec(args, { check: false, timeoutMs: 30_000 });
  const m = r.stdout.match(/(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?/);
  if (!m) throw new Error(`ping ${dst}: no summary (exit ${r.code}): ${r.stdout}${r.stderr}`);
  const damaged = (r.stdout.match(/wrong data|corrupted|checksum|BAD CHECKSUM/gi) ?? []).length;
  return { transmitted: +m[1]!, received: +m[2]!, dups: +(m[3] ?? 0), damaged, out: r.stdout };
}

/** Both sides learn each other's MAC (retrying through loss), so that
 * measurements under loss do not start with an ARP retry of a second. */
async function warmArp(ns: Netns, s: Stack, addr: string): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await kernelPing(ns, addr, { count: 1, wait: 0.5 });
    const ok = await s.ping(KERNEL, { timeout: 500 }).then(() => true, () => false);
    if (r.received === 1 && ok) return;
    if (i === 5) throw new Error('no ARP resolution in 6 tries');
  }
}

/** The kernel's IP counters in the namespace (/proc/net/snmp, "Ip:" lines). */
function kernelIp(ns: Netns): Record<string, number> {
  const lines = ns.execSync(['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Ip:'));
  const keys = lines[0]!.split(/\s+/).slice(1), vals = lines[1]!.split(/\s+/).slice(1);
  return Object.fromEntries(keys.map((k, i) => [k, Number(vals[i])]));
}

type PeerOptions = Pick<StackPeerOptions, 'tap' | 'wrap' | 'kernelMtu' | 'limits'>;
/** One stack (10.79.0.2/24) on a TAP whose kernel side is 10.79.0.1/24 in a fresh namespace. */
const withPeer = (o: PeerOptions, fn: (p: StackPeer) => Promise<void>) =>
  withStackPeer({ ...o, dev: devName(), prefix: 'shoalstk', kernel: `${KERNEL}/24`, address: `${NET}.2/24`, seed: SEED }, fn);

const ZERO_BAD = ['ipBadChecksum', 'ipBadLen', 'ipBadHlen', 'icmpBad', 'udpBadChecksum', 'udpBadLen', 'reasmBad',
  'reasmOverlap', 'rxBadDesc', 'poolEmpty', 'txArenaFull', 'eventsLost', 'rxNoBuffer', 'rxTooBig'];
/** No damaged or refused packets in the stack's counters. */
function assertClean(s: Stack, except: string[] = []): void {
  const st = s.stats();
  const bad = ZERO_BAD.filter((k) => !except.includes(k) && (st[k] ?? 0) !== 0).map((k) => `${k}=${st[k]}`);
  assert.equal(bad, [], `stack ${s.name} counters`);
}

function assertIntact(r: ClientResult, what: string): void {
  assert.is(r.bad, 0, `${what}: damaged datagrams (lengths ${r.badLens.join(',')})`);
  assert.equal(r.errors, [], `${what}: socket errors`);
}

const SIZES = [8, 100, 1472, 1473, 4000, 8972, 30000, 60000, 65507];

// ---- tests ------------------------------------------------------------------

kt('the kernel pings the stack: 56, 1472 and 4000 bytes (fragmented both ways at MTU 1500)', ['ping'], async () => {
  await withPeer({}, async ({ ns, stack }) => {
    for (const size of [56, 1472, 4000]) {
      const k0 = kernelIp(ns);
      const r = await kernelPing(ns, `${NET}.2`, { count: 3, size, interval: 0.05 });
      assert.is(r.received, 3, `ping -s ${size}: ${r.out}`);
      assert.is(r.damaged, 0, `ping -s ${size} found damaged replies: ${r.out}`);
      assert.is(r.dups, 0);
      if (size > 1472) {
        const k1 = kernelIp(ns);
        assert.ok(k1.FragCreates! - k0.FragCreates! >= 9, 'the kernel fragmented its requests');
        assert.ok(k1.ReasmOKs! - k0.ReasmOKs! >= 3, 'the kernel reassembled our replies');
      }
    }
    const st = stack.stats();
    assert.ok(st.reasmOk! >= 3, `stack reassembled the requests (reasmOk=${st.reasmOk})`);
    assert.ok(st.ipFragTx! >= 9, `stack fragmented its replies (ipFragTx=${st.ipFragTx})`);
    assert.is(st.icmpEchoRx, 9);
    assertClean(stack);
  });
});

kt('the stack pings the kernel: 0 to 65507 bytes, fragmented both ways', [], async () => {
  await withPeer({}, async ({ ns, stack }) => {
    const k0 = kernelIp(ns);
    const times: string[] = [];
    for (const size of [0, 56, 1472, 1473, 4000, 20000, 65507]) {
      const ms = await stack.ping(KERNEL, { size, timeout: 3000 });
      times.push(`${size}:${ms.toFixed(2)}ms`);
    }
    console.log(`    rtt ${times.join(' ')}`);
    const k1 = kernelIp(ns);
    assert.ok(k1.ReasmOKs! - k0.ReasmOKs! >= 4, `the kernel reassembled our requests (ReasmOKs +${k1.ReasmOKs! - k0.ReasmOKs!})`);
    assert.ok(k1.FragCreates! - k0.FragCreates! >= 60, `the kernel fragmented its replies (FragCreates +${k1.FragCreates! - k0.FragCreates!})`);
    const st = stack.stats();
    assert.is(st.icmpEchoReplyRx, 7);
    assert.ok(st.reasmOk! >= 4, `stack reassembled the replies (reasmOk=${st.reasmOk})`);
    assertClean(stack);
  });
});

kt('a VirtualSwitch with the TAP as uplink: the kernel ARPs for and pings three stacks on one segment', ['ping'], async () => {
  await withNetns(async (ns) => {
    ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
    const tap = await TapLink.open(devName());
    const sw = new VirtualSwitch();
    const stacks: Stack[] = [];
    try {
      kernelSide(ns, tap.name, `${KERNEL}/24`);
      sw.attach(tap);
      for (let i = 0; i < 3; i++) {
        stacks.push(await Stack.create({ name: `sw${i}-${process.pid}`, link: sw.connect(), address: `${NET}.${2 + i}/24`, seed: SEED + i }));
      }
      // The kernel learns each stack's MAC by ARP through the switch and pings it.
      const pings = await Promise.all(stacks.map((_, i) => kernelPing(ns, `${NET}.${2 + i}`, { count: 3, interval: 0.05 })));
      pings.forEach((r, i) => assert.is(r.received, 3, `kernel → stack ${i}: ${r.out}`));
      const big = await kernelPing(ns, `${NET}.3`, { count: 2, size: 4000, interval: 0.05 });
      assert.is(big.received, 2, `kernel → stack 1, 4000 bytes: ${big.out}`);
      const neigh = ns.execSync(['ip', 'neigh', 'show', 'dev', tap.name]);
      stacks.forEach((s, i) => {
        const line = neigh.split('\n').find((l) => l.startsWith(`${NET}.${2 + i} `));
        assert.ok(line, `kernel has a neighbour entry for ${NET}.${2 + i}: ${neigh}`);
        assert.ok(line!.includes(`lladdr ${s.macs[0]}`), `… with stack ${i}'s MAC ${s.macs[0]}: ${line}`);
      });
      // And each stack reaches the kernel (its own ARP through the switch) and its neighbours.
      for (const s of stacks) await s.ping(KERNEL, { timeout: 2000 });
      await stacks[0]!.ping(`${NET}.4`, { timeout: 2000 });
      // UDP from the kernel to the middle stack, across the switch.
      const e = await stackEcho(stacks[1]!, 7000);
      const r = await kernelClient(ns, `${NET}.3`, 7000, [8, 1472, 4000, 60000], FAST);
      e.close();
      assertIntact(r, 'kernel → stack 1 over the switch');
      assert.is(r.echoed, 4);
      // The switch saw the kernel's MAC on the uplink and the three stacks on their ports.
      assert.is(sw.stats().ports, 4);
      assert.ok(sw.stats().macs >= 4, `switch learnt ${sw.stats().macs} MACs`);
      stacks.forEach((s) => { assertClean(s); assert.ok(s.stats().arpRx! >= 1); });
    } finally {
      for (const s of stacks) await s.close();
      tap.close();
    }
  }, 'shoalstk');
});

kt('UDP both ways, 8 bytes to 65507 (reassembly against the kernel\'s)', [], async () => {
  await withPeer({}, async ({ ns, stack }) => {
    // kernel → stack → kernel
    const e = await stackEcho(stack, 7000);
    const a = await kernelClient(ns, `${NET}.2`, 7000, SIZES, FAST);
    e.close();
    assertIntact(a, 'kernel client, stack echo');
    assert.is(a.echoed, SIZES.length, `kernel client: lost ${a.lost}`);
    assert.is(e.st.good, SIZES.length);
    // stack → kernel → stack
    const k = await kernelEcho(ns, 7001);
    const b = await stackClient(stack, 7001, SIZES, FAST);
    const kst = await k.stop();
    assertIntact(b, 'stack client, kernel echo');
    assert.is(b.echoed, SIZES.length, `stack client: lost ${b.lost}`);
    assert.is(kst.good, SIZES.length);
    assert.is(kst.bad, 0);
    // A burst: 200 datagrams of 1000 bytes in windows of 50, both ways.
    const e2 = await stackEcho(stack, 7002);
    const c = await kernelClient(ns, `${NET}.2`, 7002, cycle([1000], 200), { window: 50, timeoutMs: 2000, lingerMs: 50 });
    e2.close();
    assertIntact(c, 'kernel burst');
    assert.is(c.echoed, 200);
    const st = stack.stats();
    console.log(`    stack: udpRx=${st.udpRx} udpTx=${st.udpTx} reasmOk=${st.reasmOk} ipFragTx=${st.ipFragTx}`);
    assertClean(stack);
  });
});

const FAULTS: FaultDirection = { loss: 0.05, duplicate: 0.01, reorder: 0.05, reorderDelayMs: 5 };

kt('host-side faults (5 % loss, 1 % duplication, 5 % reordering each way): loss shows, nothing damaged', ['ping'], async () => {
  let faults: ReturnType<typeof withFaults> | null = null;
  await withPeer({
    wrap: (tap) => (faults = withFaults(tap, { seed: SEED, tx: FAULTS, rx: FAULTS })),
    limits: { reassemblyTimeoutMs: 500 },
  }, async ({ ns, stack }) => {
    await warmArp(ns, stack, `${NET}.2`); // so that a lost ARP reply does not pass for a second of lost pings
    const free0 = stack.stats().buffersFree!;
    const p = await kernelPing(ns, `${NET}.2`, { count: 100, size: 1000, interval: 0.003, wait: 0.5 });
    console.log(`    kernel ping -s 1000: ${p.received}/${p.transmitted} (+${p.dups} dup)`);
    assert.is(p.damaged, 0, p.out);
    assert.ok(p.received < p.transmitted, 'loss shows in ping');
    assert.ok(p.received > p.transmitted * 0.6, `most pings answered (${p.received}/${p.transmitted})`);
    const pf = await kernelPing(ns, `${NET}.2`, { count: 30, size: 4000, interval: 0.005, wait: 0.5 });
    console.log(`    kernel ping -s 4000: ${pf.received}/${pf.transmitted}`);
    assert.is(pf.damaged, 0, pf.out);
    assert.ok(pf.received > 0, 'some fragmented pings answered');

    const e = await stackEcho(stack, 7000);
    const a = await kernelClient(ns, `${NET}.2`, 7000, cycle([64, 700, 1472, 3000], 300), LOSSY);
    e.close();
    console.log(`    kernel → stack → kernel UDP: ${a.echoed}/${a.sent} echoed, ${a.dups} dup`);
    assertIntact(a, 'kernel client');
    assert.is(e.st.bad, 0);
    assert.ok(a.echoed < a.sent && a.echoed > a.sent * 0.6, `${a.echoed}/${a.sent}`);

    const k = await kernelEcho(ns, 7001);
    const b = await stackClient(stack, 7001, cycle([64, 700, 1472, 3000], 300), LOSSY);
    const kst = await k.stop();
    console.log(`    stack → kernel → stack UDP: ${b.echoed}/${b.sent} echoed, ${b.dups} dup`);
    assertIntact(b, 'stack client');
    assert.is(kst.bad, 0);
    assert.ok(b.echoed < b.sent && b.echoed > b.sent * 0.6, `${b.echoed}/${b.sent}`);

    // 60 KB datagrams (41 fragments each): few survive 5 % loss both ways, none damaged;
    // reassembly of the lost ones times out and every buffer comes back.
    const e2 = await stackEcho(stack, 7002);
    const c = await kernelClient(ns, `${NET}.2`, 7002, cycle([60000], 8), { window: 4, timeoutMs: 400, lingerMs: 100 });
    e2.close();
    console.log(`    60000-byte datagrams kernel → stack → kernel: ${c.echoed}/${c.sent} (stack took ${e2.st.good})`);
    assertIntact(c, '60 KB');
    assert.is(e2.st.bad, 0);
    await sleep(800); // > reassemblyTimeoutMs
    const st = stack.stats();
    const fs = faults!.stats();
    console.log(`    faults ${JSON.stringify(fs)}`);
    console.log(`    stack reasmOk=${st.reasmOk} reasmTimeout=${st.reasmTimeout} reasmDup=${st.reasmDup} ` +
      `arpRetry=${st.arpRetry} buffersFree=${st.buffersFree}/${free0}`);
    assert.ok(fs.txLost > 0 && fs.rxLost > 0 && fs.txReordered > 0 && fs.rxReordered > 0);
    assert.ok(st.reasmTimeout! > 0, 'incomplete datagrams timed out');
    assert.is(st.buffersFree, free0, 'every packet buffer back in the pool');
    assertClean(stack);
  });
});

kt('host-side duplication and reordering without loss: every 60 KB datagram arrives whole, both ways', [], async () => {
  const dr: FaultDirection = { duplicate: 0.05, reorder: 0.2, reorderDelayMs: 5 };
  let faults: ReturnType<typeof withFaults> | null = null;
  await withPeer({ wrap: (tap) => (faults = withFaults(tap, { seed: SEED + 1, tx: dr, rx: dr })) }, async ({ ns, stack }) => {
    const n = 6;
    const e = await stackEcho(stack, 7000);
    const a = await kernelClient(ns, `${NET}.2`, 7000, cycle([60000, 65507], n), { window: 1, timeoutMs: 3000, lingerMs: 100 });
    e.close();
    assertIntact(a, 'kernel client');
    assert.is(a.echoed, n, `lost ${a.lost}`);
    const k = await kernelEcho(ns, 7001);
    const b = await stackClient(stack, 7001, cycle([60000, 65507], n), { window: 1, timeoutMs: 3000, lingerMs: 100 });
    const kst = await k.stop();
    assertIntact(b, 'stack client');
    assert.is(b.echoed, n, `lost ${b.lost}`);
    assert.is(kst.bad, 0);
    const st = stack.stats(), fs = faults!.stats();
    console.log(`    faults tx dup ${fs.txDuplicated} reord ${fs.txReordered}, rx dup ${fs.rxDuplicated} reord ${fs.rxReordered}; ` +
      `stack reasmOk=${st.reasmOk} reasmDup=${st.reasmDup}`);
    assert.ok(fs.rxDuplicated > 0 && fs.rxReordered > 0 && fs.txReordered > 0);
    assert.ok(st.reasmDup! > 0, 'duplicate fragments seen and ignored');
    assertClean(stack);
  });
});

kt('kernel-side loss through nftables (5 % on ingress and on postrouting): loss shows, nothing damaged', ['ping', 'nft'], async () => {
  await withPeer({}, async ({ ns, tap, stack }) => {
    const rules = `
      table netdev shoal_loss {
        chain in { type filter hook ingress device "${tap.name}" priority 0; numgen random mod 1000 < 50 counter drop; }
      }
      table inet shoal_loss {
        chain out { type filter hook postrouting priority 0; oif "${tap.name}" numgen random mod 1000 < 50 counter drop; }
      }`;
    await warmArp(ns, stack, `${NET}.2`); // neighbours known before the loss starts
    await ns.exec(['nft', '-f', '-'], { input: rules });
    const p = await kernelPing(ns, `${NET}.2`, { count: 100, size: 1000, interval: 0.003, wait: 0.5 });
    console.log(`    kernel ping -s 1000: ${p.received}/${p.transmitted}`);
    assert.is(p.damaged, 0, p.out);
    assert.ok(p.received < p.transmitted && p.received > p.transmitted * 0.6, `${p.received}/${p.transmitted}`);

    const e = await stackEcho(stack, 7000);
    const a = await kernelClient(ns, `${NET}.2`, 7000, cycle([64, 1472, 4000], 240), LOSSY);
    e.close();
    console.log(`    kernel → stack → kernel UDP: ${a.echoed}/${a.sent}`);
    assertIntact(a, 'kernel client');
    assert.is(e.st.bad, 0);
    assert.ok(a.echoed < a.sent && a.echoed > a.sent * 0.5, `${a.echoed}/${a.sent}`);

    const k = await kernelEcho(ns, 7001);
    const b = await stackClient(stack, 7001, cycle([64, 1472, 4000], 240), LOSSY);
    const kst = await k.stop();
    console.log(`    stack → kernel → stack UDP: ${b.echoed}/${b.sent}`);
    assertIntact(b, 'stack client');
    assert.is(kst.bad, 0);
    assert.ok(b.echoed < b.sent && b.echoed > b.sent * 0.5, `${b.echoed}/${b.sent}`);

    const counters = ns.execSync(['nft', 'list', 'ruleset']).match(/packets \d+/g) ?? [];
    console.log(`    nft drops: ingress ${counters[0]}, postrouting ${counters[1]}`);
    assert.is(counters.length, 2);
    assert.ok(counters.every((c) => Number(c.split(' ')[1]) > 0), 'both rules dropped packets');
    assertClean(stack);
  });
});

kt('the device disappears (namespace deleted): the link reports down, the stack keeps running', [], async () => {
  const sw = new VirtualSwitch();
  const other = await Stack.create({ name: `other-${process.pid}`, link: sw.connect(), address: '10.80.0.2/24', seed: SEED });
  let stack: Stack | null = null;
  let tap: TapLink | null = null;
  const errors: unknown[] = [];
  const onError = (e: unknown) => errors.push(e);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  try {
    await withNetns(async (ns) => {
      ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
      tap = await TapLink.open(devName());
      kernelSide(ns, tap.name, `${KERNEL}/24`);
      stack = await Stack.create({
        name: `two-${process.pid}`, seed: SEED,
        interfaces: [{ link: tap, address: `${NET}.2/24` }, { link: sw.connect(), address: '10.80.0.1/24' }],
      });
      await stack.ping(KERNEL, { timeout: 2000 });
      const sock = stack.dgram.createSocket('udp4');
      sock.on('error', () => {});
      sock.send(udp.fill(1, 3000), 9, KERNEL);
      const down = new Promise<Error | undefined>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no onDown within 10 s of deleting the namespace')), 10_000);
        tap!.onDown = (err) => { clearTimeout(t); resolve(err); };
      });
      ns.destroy();
      const err = await down;
      console.log(`    onDown: ${err?.message}`);
      assert.instance(err, Error);
      assert.ok(tap.isClosed, 'TAP link closed itself');
      // Traffic towards the vanished device: counted, rejected, never thrown.
      await stack.ping(KERNEL, { timeout: 300 }).then(
        () => assert.unreachable('ping through a dead device succeeded'),
        (e: Error) => console.log(`    ping after down: ${e.message}`));
      sock.send(udp.fill(2, 3000), 9, KERNEL);
      sock.close();
      // The other interface still works, both ways.
      await stack.ping('10.80.0.2', { timeout: 2000 });
      await other.ping('10.80.0.1', { timeout: 2000 });
      const st = stack.stats();
      assert.ok(st.rxFrames! > 0);
      assert.ok(tap.stats().drops >= 1, 'frames sent after down are counted drops');
    }, 'shoalstk');
    await sleep(20);
    assert.equal(errors, [], 'no uncaught exception');
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
    await (stack as Stack | null)?.close();
    (tap as TapLink | null)?.close();
    await other.close();
  }
});

kt('the uplink disappears: the switch drops its port, stacks on the switch carry on', [], async () => {
  await withNetns(async (ns) => {
    ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
    const tap = await TapLink.open(devName());
    const sw = new VirtualSwitch();
    const stacks: Stack[] = [];
    try {
      kernelSide(ns, tap.name, `${KERNEL}/24`);
      sw.attach(tap);
      for (let i = 0; i < 2; i++) stacks.push(await Stack.create({ name: `up${i}-${process.pid}`, link: sw.connect(), address: `${NET}.${2 + i}/24` }));
      await stacks[0]!.ping(KERNEL, { timeout: 2000 });
      assert.is(sw.stats().ports, 3);
      ns.destroy();
      for (let i = 0; i < 100 && sw.stats().ports === 3; i++) await sleep(20);
      assert.ok(tap.isClosed, 'TAP closed');
      assert.is(sw.stats().ports, 2, 'the uplink port left the switch');
      await stacks[0]!.ping(`${NET}.3`, { timeout: 2000 });
      await stacks[1]!.ping(KERNEL, { timeout: 300 }).then(() => assert.unreachable('kernel answered'), () => {});
    } finally {
      for (const s of stacks) await s.close();
      tap.close();
    }
  }, 'shoalstk');
});

kt('offload on (MTU 1500): ping and UDP both ways still interoperate, partial checksums taken as they are', ['ping'], async () => {
  await withPeer({ tap: { offload: true } }, async ({ ns, tap, stack }) => {
    console.log(`    offload: ${JSON.stringify(tap.offload)}`);
    for (const size of [56, 4000]) {
      const r = await kernelPing(ns, `${NET}.2`, { count: 2, size, interval: 0.05 });
      assert.is(r.received, 2, r.out);
    }
    await stack.ping(KERNEL, { size: 4000, timeout: 2000 });
    const sizes = [8, 1472, 4000, 60000];
    const e = await stackEcho(stack, 7000);
    const a = await kernelClient(ns, `${NET}.2`, 7000, sizes, FAST);
    e.close();
    assertIntact(a, 'kernel client');
    assert.is(a.echoed, sizes.length);
    const k = await kernelEcho(ns, 7001);
    const b = await stackClient(stack, 7001, sizes, FAST);
    assert.is((await k.stop()).bad, 0);
    assertIntact(b, 'stack client');
    assert.is(b.echoed, sizes.length);
    const ts = tap.stats();
    console.log(`    csumPartialIn=${ts.csumPartialIn} csumCompleted=${ts.csumCompleted} gsoIn=${ts.gsoIn}`);
    if (tap.offload.csum) assert.ok(ts.csumPartialIn >= 1, 'the kernel handed over partial checksums');
    if (tap.rxOffload?.csum) assert.is(ts.csumCompleted, 0, 'the stack takes them: none completed in software');
    assertClean(stack);
  });
});

kt('offload on, link MTU 65535 (kernel side 65521, the TAP maximum): 60 KB datagrams cross unfragmented', ['ping'], async () => {
  await withPeer({ tap: { offload: true, mtu: 65535 }, kernelMtu: 65521 }, async ({ ns, stack }) => {
    const r = await kernelPing(ns, `${NET}.2`, { count: 2, size: 60000, interval: 0.05 });
    assert.is(r.received, 2, r.out);
    await stack.ping(KERNEL, { size: 60000, timeout: 2000 });
    const sizes = [8, 1472, 30000, 60000];
    const e = await stackEcho(stack, 7000);
    const a = await kernelClient(ns, `${NET}.2`, 7000, sizes, FAST);
    e.close();
    assertIntact(a, 'kernel client');
    assert.is(a.echoed, sizes.length);
    const k = await kernelEcho(ns, 7001);
    const b = await stackClient(stack, 7001, sizes, FAST);
    assert.is((await k.stop()).bad, 0);
    assertIntact(b, 'stack client');
    assert.is(b.echoed, sizes.length);
    const st = stack.stats();
    assert.is(st.ipFragTx, 0, 'nothing fragmented by the stack');
    assert.is(st.ipFragRx, 0, 'nothing fragmented by the kernel');
    // 65507 bytes make a 65535-byte packet: one piece from the stack, two
    // fragments from the kernel (over its 65521 MTU); both arrive whole.
    const e2 = await stackEcho(stack, 7002);
    const c = await kernelClient(ns, `${NET}.2`, 7002, [65507], FAST);
    e2.close();
    assertIntact(c, '65507 bytes');
    assert.is(c.echoed, 1);
    assertClean(stack);
  });
});

test.run();
