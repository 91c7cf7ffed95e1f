// The fuzz test (issue 2): a million seeded frames — valid ones, mutated ones
// and random bytes — through the raw core exports. Oracles:
//  - no trap, in the release build and in the debug build (assertions live);
//  - counters consistent after every call (rxFrames equals the frames handed over, and
//    every frame is accounted for by exactly one outcome; tx counters match what was read);
//  - no buffer leak: at checkpoints time runs past every timeout, sockets are drained,
//    and the pool must be whole, reassembly and the neighbour table empty, and every UDP
//    datagram the core queued must have been read by the host;
//  - every transmitted frame lies inside memory, fits a buffer and its link's MTU, and
//    parses (valid IPv4 header checksum; valid L4 checksum, over the reassembled datagram
//    for fragments);
//  - memory never grows;
//  - the "bulk" lane (release build) takes batches of up to 64 frames per poll, the first
//    that can flush against the end of linear memory, and also bad rx descriptors (which
//    must be refused and counted);
//  - the "diff" lane runs three cores in lockstep, one frame per poll: the debug build with
//    the frame at the start of its buffer and zeros after it; a release build with the frame
//    flush against the end of linear memory (any read past its length traps); and a release
//    build with the frame anywhere in its buffer, junk around it and reserved descriptor flag
//    bits set. Their outputs (tx bytes, events, counters, deadlines, datagrams read, free
//    buffers) must be identical.
// A little LAN answers most of the core's ARP requests, so queued packets get sent.
//
// Replay: FUZZ_SEED=<seed> [FUZZ_LANE=bulk|diff] [FUZZ_FRAMES=<n>] node test/run.mjs fuzz/core
// One frame (or several, comma separated) on fresh cores: FUZZ_HEX=<hex>[,<hex>…] [FUZZ_IFX=0] [FUZZ_FLAGS=0]
// Also: FUZZ_DIFF_SHARE (default 0.5), FUZZ_CHECK_EVERY (frames between leak checkpoints; 1 pins a
// leak to its batch), FUZZ_TRACE=1 (log every frame in and out), FUZZ_KINDS=1 (frames per kind).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Random } from '../../host/random.ts';
import { FrameGen, defaultTopology, type Frame, type Topology } from './gen.ts';
import { hex, unhex, ether, arp, ETHERTYPE_ARP } from '../helpers/frames.ts';
import { FuzzCore, FuzzFailure, Place, Fill, type CoreConfig, type TxSink } from './harness.ts';
import { FRAME } from '../../host/core-abi.ts';

const env = process.env;
const SEED = env.FUZZ_SEED !== undefined ? Number(env.FUZZ_SEED) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
const FRAMES = Number(env.FUZZ_FRAMES ?? 1_000_000);
const LANE = env.FUZZ_LANE ?? 'both';
/** Share of the frames that go through the three-core lockstep lane. */
const DIFF_SHARE = Number(env.FUZZ_DIFF_SHARE ?? 0.5);
/** Frames between leak checkpoints. */
const CHECK_BULK = Number(env.FUZZ_CHECK_EVERY ?? 50_000);
const CHECK_DIFF = Number(env.FUZZ_CHECK_EVERY ?? 10_000);

const topo = defaultTopology();
const MAX_FRAME = 1514;
const BUF = (128 + MAX_FRAME + 63) & ~63;
const LARGE = (128 + 65535 + 18 + 63) & ~63;

function bulkConfig(seed: number): CoreConfig {
  // A small pool, short queues and a small tx arena so every "full" path runs;
  // ICMP errors barely rate-limited so their paths run too.
  // A few large buffers too: the host may post any frame in one.
  return { poolBytes: 160 * BUF, largeBytes: 6 * LARGE, maxFrame: MAX_FRAME, txArena: 96 << 10, icmpRate: 1_000_000, udpQlen: 8, arpQlen: 4,
    neigh: 16, reasm: 8, seed: [seed, 1, 2, 3] };
}
function diffConfig(seed: number): CoreConfig {
  return { poolBytes: 96 * BUF, maxFrame: MAX_FRAME, icmpRate: 5000, udpQlen: 16, reasm: 2, reasmMs: 300, seed: [seed, 4, 5, 6] };
}

// ---------------------------------------------------------------- failure reports

interface Ctx { lane: string; index: number; batch: Frame[]; batchStart: number }

function describe(f: Frame): string { return `ifx ${f.ifx} flags ${f.flags} kind ${f.kind} len ${f.bytes.length}\n    ${hex(f.bytes)}`; }

function report(e: unknown, ctx: Ctx, frames: number): never {
  const msg = e instanceof Error ? e.message : String(e);
  const trap = e instanceof WebAssembly.RuntimeError || (e instanceof Error && /shoal core:/.test(e.message));
  const lines = [
    '',
    `FUZZ FAILURE${trap ? ' (trap)' : ''}: ${msg}`,
    `  seed ${SEED}, lane ${ctx.lane}, frame index ${ctx.index} of ${frames}` +
      (ctx.batch.length > 1 ? `, batch ${ctx.batchStart}..${ctx.batchStart + ctx.batch.length - 1}` : ''),
    `  replay: FUZZ_SEED=${SEED} FUZZ_LANE=${ctx.lane} FUZZ_FRAMES=${ctx.batchStart + Math.max(1, ctx.batch.length)} node test/run.mjs fuzz/core`,
  ];
  if (ctx.batch.length) {
    lines.push(`  frame(s) of the failing call (replay one with FUZZ_HEX=… FUZZ_IFX=… FUZZ_FLAGS=…):`);
    ctx.batch.forEach((f, k) => lines.push(`  [${ctx.batchStart + k}] ${describe(f)}`));
    lines.push('  each alone on fresh cores: ' + ctx.batch.map((f, k) => `[${ctx.batchStart + k}] ${isolate(f) ?? 'ok'}`).join('; '));
  }
  if (e instanceof Error && e.stack && !(e instanceof FuzzFailure)) lines.push(e.stack);
  console.error(lines.join('\n'));
  throw e instanceof Error ? e : new Error(msg);
}

/** Runs one frame on fresh cores in every placement; the first failure, or null. */
function isolate(f: Frame): string | null {
  const runs: [string, 'release' | 'debug', Place, Fill][] = [
    ['release, end of memory', 'release', Place.MemEnd, Fill.Keep],
    ['debug, start of buffer', 'debug', Place.Start, Fill.Zero],
    ['release, junk around', 'release', Place.Random, Fill.Junk],
  ];
  for (const [name, kind, place, fill] of runs) {
    try {
      const c = new FuzzCore(kind, diffConfig(SEED));
      c.setup(topo);
      c.announcePeers(topo, 1000);
      c.rx(f.bytes, f.ifx, f.flags, place, fill, new Random(1));
      c.poll(1001, null);
      c.checkCounters();
      c.quiesce(1002, null);
    } catch (e) {
      return `${name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------- the rest of the LAN

/** Answers some of the core's ARP requests (the rest go unanswered), so queued packets get sent
 * and held buffers come back. */
class Responder {
  readonly queue: Frame[] = [];
  readonly sink: TxSink;
  constructor(r: Random, pAnswer = 0.6) {
    this.sink = ((u8: Uint8Array, p: number, len: number, ifx: number) => {
      if (len < 42 || u8[p + 12] !== 8 || u8[p + 13] !== 6 || u8[p + 21] !== 1) return;
      if (r.next() >= pAnswer) return;
      const ours = u8.slice(p + 6, p + 12);
      const spa = ((u8[p + 28] << 24) | (u8[p + 29] << 16) | (u8[p + 30] << 8) | u8[p + 31]) >>> 0;
      const tpa = ((u8[p + 38] << 24) | (u8[p + 39] << 16) | (u8[p + 40] << 8) | u8[p + 41]) >>> 0;
      const m = new Uint8Array([0x02, 0xdd, tpa >>> 24, (tpa >>> 16) & 255, (tpa >>> 8) & 255, tpa & 255]);
      this.queue.push({ bytes: ether(ours, m, ETHERTYPE_ARP, arp({ op: 2, sha: m, spa: tpa, tha: ours, tpa: spa })), ifx, flags: 0, kind: 'arp-answer' });
    }) as TxSink;
  }
}

// ---------------------------------------------------------------- host actions

const ownAddrs = (t: Topology) => t.ifaces.flatMap((f) => f.addrs.map((a) => a.ip));

/** Calls the host makes between polls: sends, pings, reads. Same r → same calls. */
function hostAction(r: Random, cores: FuzzCore[], t: Topology, sinks: (TxSink | null)[], readSinks: ((sd: number, src: number, sport: number, d: Uint8Array) => void)[] | null): boolean {
  const k = r.int(100);
  let read = false;
  if (k < 4) {          // udp_send to a peer, a stranger (ARP queue), a remote, broadcast, or ourselves (the loopback)
    const s = r.int(cores[0].socks.length);
    const dsts = [...t.peers.map((p) => p.ip), ...t.strangers.map((p) => p.ip), ...t.remotes, 0xffffffff, ...ownAddrs(t)];
    const dst = dsts[r.int(dsts.length)];
    const len = r.int(10) === 0 ? r.int(3000) : r.int(200);
    const fill = r.u32() & 255;
    cores.forEach((c, i) => {
      c.u8.fill(fill, c.io, c.io + len);
      const ret = c.ex.udp_send(c.socks[s], dst, 1 + (fill % 1000), len);
      if (ret < 0 && ret !== -13 && ret !== -105 && ret !== -101) throw new FuzzFailure(`udp_send: ${ret}`);
      c.afterCall(sinks[i]);
    });
  } else if (k < 6) {   // ping
    const dsts = [...t.peers.map((p) => p.ip), ...t.strangers.map((p) => p.ip), ...t.remotes, ...ownAddrs(t)];
    const dst = dsts[r.int(dsts.length)];
    const len = r.int(10) === 0 ? r.int(3000) : r.int(100);
    const seq = r.int(65536);
    cores.forEach((c, i) => { c.ex.ping(dst, t.pingIds[0], seq, len); c.afterCall(sinks[i]); });
  } else if (k < 30) {  // read one socket
    const s = r.int(cores[0].socks.length);
    cores.forEach((c, i) => c.recv(c.socks[s], readSinks ? (a, b, d) => readSinks[i](c.socks[s], a, b, d) : null));
    read = true;
  } else if (k < 33) {
    cores.forEach((c, i) => c.recvAll(readSinks ? readSinks[i] : null));
    read = true;
  } else if (k < 37) {  // a link goes down (rarely) or comes back
    const ifx = r.int(t.ifaces.length), up = k === 33 ? 0 : 1;
    cores.forEach((c) => { if (c.ex.if_up(ifx, up) !== 0) throw new FuzzFailure(`if_up(${ifx}, ${up})`); });
  }
  return read;
}

// ---------------------------------------------------------------- the bulk lane

interface LaneResult { counters: Record<string, number>; atMemEnd: number; inLarge?: number; frames: number; ms: number; kinds: Map<string, number>; udpRecords: number }

function bulkLane(frames: number): LaneResult {
  const t0 = Date.now();
  const core = new FuzzCore('release', bulkConfig(SEED), SEED);
  core.trace = !!env.FUZZ_TRACE;
  core.setup(topo);
  const r = new Random(SEED);
  const gen = new FrameGen(new Random(SEED + 1), topo, core.room);
  const lan = new Responder(new Random(SEED + 2));
  const sink = lan.sink;
  let now = 1000;
  const ctx: Ctx = { lane: 'bulk', index: 0, batch: [], batchStart: 0 };
  let pending: Frame | null = null;
  let nextCheck = CHECK_BULK;
  let readSincePoll = false;
  let idle = 0;
  const back: number[] = [];
  try {
    core.announcePeers(topo, now);
    let i = 0;
    while (i < frames) {
      const n = 1 + r.int(r.int(2) ? 64 : 8);
      ctx.batch = [];
      ctx.batchStart = i;
      back.length = 0;
      // ABI: descriptors the core must refuse (counted as rxBadDesc, nothing else).
      if (r.int(50) === 0) {
        const k = r.int(5);
        if (k === 0 && !readSincePoll) {           // into a buffer the core holds (first in the batch: nothing freed it yet)
          const onStack = new Set([...core.u32.subarray(core.freeAddr >>> 2, (core.freeAddr >>> 2) + core.free),
            ...core.u32.subarray(core.largeFreeAddr >>> 2, (core.largeFreeAddr >>> 2) + core.largeFree)]);
          const held: number[] = [];
          for (let b = 0; b < core.nbufs; b++) if (!onStack.has(core.pool + b * core.bufSize)) held.push(core.pool + b * core.bufSize);
          for (let b = 0; b < core.nlarge; b++) if (!onStack.has(core.largePool + b * core.largeSize)) held.push(core.largePool + b * core.largeSize);
          if (held.length) { core.desc(held[r.int(held.length)] + core.bufData, 60, 0); core.badDescs++; }
        } else if (k === 1) { core.desc(r.int(core.buffersStart), 60, 0); core.badDescs++; }
        else if (k === 2) { core.desc(core.memEnd - r.int(64), 64 + r.int(100), 0); core.badDescs++; }
        else {                                     // a buffer we own, but a descriptor outside its data area
          const b = core.pop(false);
          if (b) {
            back.push(b);
            if (k === 3) core.desc(b + r.int(core.bufData), 60, 0);
            else core.desc(b + core.bufData + r.int(core.room), k === 4 && r.int(2) ? 0xffffffff - r.int(100) : core.room + 1, 0);
            core.badDescs++;
          }
        }
      }
      let lastTaken = false;
      for (let k = 0; k < n && i < frames; k++) {
        const f: Frame = pending ?? lan.queue.shift() ?? gen.next();
        pending = null;
        const pk = r.int(10);
        // One frame per batch can have the pool's last buffer: not a fragment, mostly (it would hold the buffer).
        let place = pk < 4 ? Place.Start : pk < 7 ? Place.End : pk < 9 ? Place.Random : Place.Large;
        if (!lastTaken && (!isFragment(f.bytes) || pk === 0)) { place = Place.MemEnd; lastTaken = true; }
        const fill = r.int(8) === 0 ? Fill.Junk : Fill.Keep;
        ctx.index = i;
        if (core.rx(f.bytes, f.ifx, f.flags, place, fill, r) < 0) { pending = f; break; }
        ctx.batch.push(f);
        i++;
      }
      core.poll(now, sink);
      for (const b of back) core.push(b);
      readSincePoll = false;
      core.checkCounters();
      idle = ctx.batch.length ? 0 : idle + 1;
      if (idle > 5000) throw new FuzzFailure(`no free buffer for 5000 polls (free ${core.free} of ${core.nbufs})`);
      if (hostAction(r, [core], topo, [sink], null)) readSincePoll = true;
      if (pending || r.int(16) === 0) { core.recvAll(); readSincePoll = true; }
      core.checkCounters();
      now += r.int(25);
      if (i >= nextCheck) {
        now = core.quiesce(now, sink) + 1;
        lan.queue.length = 0;
        core.announcePeers(topo, now);
        nextCheck += CHECK_BULK;
      }
    }
    now = core.quiesce(now, sink);
    for (const sd of core.socks) if (core.ex.udp_close(sd) !== 0) throw new FuzzFailure(`udp_close(${sd})`);
    core.afterCall(null);
    if (core.free !== core.nbufs) throw new FuzzFailure(`buffer leak after closing sockets: ${core.nbufs - core.free} held`);
    if (core.largeFree !== core.nlarge) throw new FuzzFailure(`large buffer leak after closing sockets: ${core.nlarge - core.largeFree} held`);
  } catch (e) {
    report(e, ctx, frames);
  }
  const counters: Record<string, number> = {};
  core.names.forEach((n) => { counters[n] = core.c(n); });
  return { counters, atMemEnd: core.atMemEnd, inLarge: core.inLarge, frames, ms: Date.now() - t0, kinds: gen.stats, udpRecords: core.udpRecords };
}

// ---------------------------------------------------------------- the lockstep lane

/** A fragment: it will most likely wait in reassembly, holding its buffer. */
function isFragment(b: Uint8Array): boolean {
  return b.length >= 34 && b[12] === 8 && b[13] === 0 && ((b[20] & 0x3f) | b[21]) !== 0;
}

class Recorder {
  tx: Uint8Array[] = [];
  ifx: number[] = [];
  ev: number[] = [];
  reads: string[] = [];
  readonly sink: TxSink;
  constructor() {
    const s = ((u8: Uint8Array, p: number, len: number, ifx: number) => { this.tx.push(u8.slice(p, p + len)); this.ifx.push(ifx); }) as TxSink;
    s.events = (ev) => { for (let i = 0; i < ev.length; i++) this.ev.push(ev[i]); };
    this.sink = s;
  }
  read = (sd: number, src: number, sport: number, d: Uint8Array) => { this.reads.push(`${sd}/${src}/${sport}/${hex(d)}`); };
  clear(): void { this.tx.length = 0; this.ifx.length = 0; this.ev.length = 0; this.reads.length = 0; }
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const LOCKSTEP = ['debug, frame at buffer start, zeros after', 'release, frame flush against the end of memory',
  'release, frame anywhere, junk around, reserved flag bits set'];

function compare(cores: FuzzCore[], recs: Recorder[], what: string, rets: number[] = []): void {
  const a = recs[0];
  for (let k = 1; k < cores.length; k++) {
    const b = recs[k];
    const who = `${LOCKSTEP[k]} vs ${LOCKSTEP[0]}`;
    if (rets.length && rets[k] !== rets[0]) throw new FuzzFailure(`${what}: deadline ${rets[k]} != ${rets[0]} (${who})`);
    if (b.tx.length !== a.tx.length) throw new FuzzFailure(`${what}: ${b.tx.length} frames sent, not ${a.tx.length} (${who})`);
    for (let i = 0; i < a.tx.length; i++) {
      if (a.ifx[i] !== b.ifx[i] || !sameBytes(a.tx[i], b.tx[i])) {
        throw new FuzzFailure(`${what}: tx frame ${i} differs (${who})\n    ${hex(a.tx[i])} (ifx ${a.ifx[i]})\n    ${hex(b.tx[i])} (ifx ${b.ifx[i]})`);
      }
    }
    if (a.ev.join() !== b.ev.join()) throw new FuzzFailure(`${what}: events differ (${who}): [${a.ev}] vs [${b.ev}]`);
    if (a.reads.join() !== b.reads.join()) throw new FuzzFailure(`${what}: datagrams read differ (${who}):\n    ${a.reads.join(' ')}\n    ${b.reads.join(' ')}`);
    const ca = cores[0].u32, cb = cores[k].u32, oa = cores[0].countersAt, ob = cores[k].countersAt;
    for (let i = 0; i < cores[0].names.length; i++) {
      if (ca[oa + i] !== cb[ob + i]) throw new FuzzFailure(`${what}: counter ${cores[0].names[i]} ${cb[ob + i]} != ${ca[oa + i]} (${who})`);
    }
    if (cores[k].free !== cores[0].free) throw new FuzzFailure(`${what}: ${cores[k].free} free buffers, not ${cores[0].free} (${who})`);
  }
  for (const r of recs) r.clear();
}

function diffLane(frames: number): LaneResult {
  const t0 = Date.now();
  const cores = [new FuzzCore('debug', diffConfig(SEED), 11), new FuzzCore('release', diffConfig(SEED), 12), new FuzzCore('release', diffConfig(SEED), 13)];
  cores.forEach((c, k) => { c.label = LOCKSTEP[k]; c.trace = k === 0 && !!env.FUZZ_TRACE; });
  const recs = cores.map(() => new Recorder());
  const sinks = recs.map((x) => x.sink);
  const reads = recs.map((x) => x.read);
  const r = new Random(SEED ^ 0x5eed);
  const gen = new FrameGen(new Random((SEED ^ 0x5eed) + 1), topo, cores[0].room);
  const lan = new Responder(new Random((SEED ^ 0x5eed) + 2), 0.9);
  const answer = () => { const a = recs[0]; for (let k = 0; k < a.tx.length; k++) lan.sink(a.tx[k], 0, a.tx[k].length, a.ifx[k]); };
  let now = 1000;
  const ctx: Ctx = { lane: 'diff', index: 0, batch: [], batchStart: 0 };
  let pending: Frame | null = null;
  let nextCheck = CHECK_DIFF;
  let idle = 0;
  const announce = () => { cores.forEach((c, k) => c.announcePeers(topo, now, sinks[k])); compare(cores, recs, 'announce'); };
  try {
    for (const c of cores) c.setup(topo);
    announce();
    let i = 0;
    while (i < frames) {
      const f: Frame = pending ?? lan.queue.shift() ?? gen.next();
      pending = null;
      ctx.index = i; ctx.batchStart = i; ctx.batch = [f];
      const off = r.u32();
      const jr = r.u32();
      // Reserved descriptor flag bits (all but FRAME_CSUM_OK and FRAME_MORE) must change nothing: only the third core sees them.
      const flags = f.flags & FRAME.CSUM_OK, junkFlags = flags | ((off >>> 16) & 0xffff & ~(FRAME.CSUM_OK | FRAME.MORE));
      const got = [
        cores[0].rx(f.bytes, f.ifx, flags, Place.Start, Fill.Zero),
        // Fragments wait in reassembly, holding their buffer: only some take the last one, so it is free for the rest.
        cores[1].rx(f.bytes, f.ifx, flags, isFragment(f.bytes) && (off & 15) !== 0 ? Place.End : Place.MemEnd, Fill.Keep),
        cores[2].rx(f.bytes, f.ifx, junkFlags, Place.Random, Fill.Junk, new Random(jr), off),
      ];
      if (got.some((x) => (x < 0) !== (got[0] < 0))) throw new FuzzFailure(`free stacks differ: ${cores.map((c) => c.free)}`);
      if (got[0] < 0) { pending = f; ctx.batch = []; }
      else i++;
      const rets = cores.map((c, k) => c.poll(now, sinks[k]));
      cores.forEach((c) => c.checkCounters());
      answer();
      compare(cores, recs, 'poll', rets);
      ctx.batch = [];
      if (pending && ++idle > 5000) throw new FuzzFailure('no free buffer for 5000 polls');
      if (!pending) idle = 0;
      if (pending || r.int(2) === 0) {
        cores.forEach((c, k) => c.recvAll(reads[k]));
        compare(cores, recs, 'recv');
      }
      if (r.int(4) === 0) { hostAction(r, cores, topo, sinks, reads); cores.forEach((c) => c.checkCounters()); answer(); compare(cores, recs, 'host call'); }
      now += r.int(3);
      if (i >= nextCheck) {
        const ts = cores.map((c, k) => c.quiesce(now, sinks[k]));
        compare(cores, recs, 'checkpoint', ts);
        lan.queue.length = 0;
        now = ts[0] + 1;
        announce();
        nextCheck += CHECK_DIFF;
      }
    }
    const ts = cores.map((c, k) => c.quiesce(now, sinks[k]));
    compare(cores, recs, 'final checkpoint', ts);
    for (const c of cores) {
      for (const sd of c.socks) c.ex.udp_close(sd);
      c.afterCall(null);
      if (c.free !== c.nbufs) throw new FuzzFailure(`buffer leak after closing sockets: ${c.nbufs - c.free} held`);
    }
  } catch (e) {
    report(e, ctx, frames);
  }
  const counters: Record<string, number> = {};
  cores[0].names.forEach((n) => { counters[n] = cores[0].c(n); });
  return { counters, atMemEnd: cores[1].atMemEnd, frames, ms: Date.now() - t0, kinds: gen.stats, udpRecords: cores[0].udpRecords };
}

// ---------------------------------------------------------------- tests

function summary(name: string, res: LaneResult): void {
  const c = res.counters;
  const pick = ['rxFrames', 'rxBadDesc', 'rxNotForUs', 'arpRx', 'arpTx', 'ipRx', 'ipBadChecksum', 'ipFragRx', 'reasmOk', 'reasmOverlap', 'reasmDup',
    'reasmTimeout', 'reasmNoMem', 'reasmBad', 'icmpEchoRx', 'icmpUnreachRx', 'icmpTx', 'udpRx', 'udpNoPort', 'udpRcvbufFull', 'tcpRx', 'tcpRstTx',
    'txFrames', 'ipFragTx', 'poolEmpty', 'txArenaFull', 'arpQueueFull', 'arpFailed', 'neighEvicted', 'loopback'];
  console.log(`fuzz ${name}: ${res.frames} frames in ${(res.ms / 1000).toFixed(1)} s; ${res.atMemEnd} flush against the end of memory; ` +
    (res.inLarge ? `${res.inLarge} in large buffers; ` : '') +
    `${res.udpRecords} datagrams read\n  ${pick.map((k) => `${k} ${c[k]}`).join(', ')}`);
}

if (env.FUZZ_HEX) {
  test('fuzz: replay frames from FUZZ_HEX', () => {
    const fs = env.FUZZ_HEX!.split(',').map((h): Frame => ({ bytes: unhex(h), ifx: Number(env.FUZZ_IFX ?? 0), flags: Number(env.FUZZ_FLAGS ?? 0), kind: 'hex' }));
    const bad: string[] = [];
    fs.forEach((f, k) => { const e = isolate(f); if (e) bad.push(`[${k}] ${e}`); });
    // Then all of them in sequence through the lockstep lane's three cores.
    const cores = [new FuzzCore('debug', diffConfig(SEED), 11), new FuzzCore('release', diffConfig(SEED), 12), new FuzzCore('release', diffConfig(SEED), 13)];
    const recs = cores.map(() => new Recorder());
    try {
      cores.forEach((c, k) => { c.setup(topo); c.announcePeers(topo, 1000, recs[k].sink); });
      compare(cores, recs, 'announce');
      fs.forEach((f, n) => {
        cores[0].rx(f.bytes, f.ifx, f.flags, Place.Start, Fill.Zero);
        cores[1].rx(f.bytes, f.ifx, f.flags, Place.MemEnd, Fill.Keep);
        cores[2].rx(f.bytes, f.ifx, f.flags, Place.Random, Fill.Junk, new Random(n), n * 7919);
        const rets = cores.map((c, k) => c.poll(1001 + n, recs[k].sink));
        cores.forEach((c) => c.checkCounters());
        compare(cores, recs, `frame ${n}`, rets);
      });
      const ts = cores.map((c, k) => c.quiesce(2000 + fs.length, recs[k].sink));
      compare(cores, recs, 'checkpoint', ts);
    } catch (e) {
      bad.push(`in sequence: ${e instanceof Error ? e.message : String(e)}`);
    }
    assert.equal(bad, [], bad.join('\n'));
  });
} else {
  test(`fuzz: ${FRAMES} seeded frames through the core (seed ${SEED})`, () => {
    console.log(`fuzz: seed ${SEED}, ${FRAMES} frames, lane ${LANE} (replay: FUZZ_SEED=${SEED} node test/run.mjs fuzz/core)`);
    const nDiff = LANE === 'diff' ? FRAMES : LANE === 'bulk' ? 0 : Math.floor(FRAMES * DIFF_SHARE);
    const nBulk = FRAMES - nDiff;
    const results: [string, LaneResult][] = [];
    if (nBulk) results.push(['bulk', bulkLane(nBulk)]);
    if (nDiff) results.push(['diff', diffLane(nDiff)]);
    for (const [n, res] of results) summary(n, res);
    if (env.FUZZ_KINDS) for (const [n, res] of results) console.log(n, [...res.kinds].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', '));
    // The generator must reach deep paths, or the run proves little.
    for (const [n, res] of results) {
      if (res.frames < 100_000) continue;
      const c = res.counters;
      for (const k of ['arpRx', 'icmpEchoRx', 'icmpUnreachRx', 'reasmOk', 'reasmOverlap', 'reasmDup', 'reasmTimeout', 'udpRx', 'tcpRstTx', 'icmpTx', 'ipFragTx', 'arpFailed', 'loopback']) {
        assert.ok(c[k] > 0, `${n} lane never reached ${k}`);
      }
      assert.ok(res.udpRecords > 0, `${n} lane delivered no datagram`);
      assert.ok(res.atMemEnd > res.frames / (n === 'diff' ? 4 : 200), `${n} lane: only ${res.atMemEnd} frames flush against the end of memory`);
      if (n === 'bulk') assert.ok(res.inLarge! > res.frames / 50, `bulk lane: only ${res.inLarge} frames in large buffers`);
    }
  });
}

test.run();

