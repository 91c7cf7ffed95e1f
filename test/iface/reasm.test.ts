// Fragmentation and reassembly (RFC 791 3.2, RFC 815): large datagrams across
// a 1500-byte MTU, reordered and duplicated fragments, overlaps, timeouts, and
// the caps that keep a fragment flood from growing memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack, type StackOptions } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { withFaults } from '../../host/link/faults.ts';
import type { Link } from '../../host/link/link.ts';
import {
  TestLink, drive, ticks, ether, ipv4, udp, fragment, parse, hex, seedFrom, fnv32,
  ETHERTYPE_IPV4, PROTO_UDP,
} from '../helpers/frames.ts';
import { Random } from '../../host/random.ts';

function mk(clock: VirtualClock, name: string, link: Link, address: string, extra: Partial<StackOptions> = {}): Stack {
  return Stack.createSync({ name, link, address, clock, seed: 1, debug: true, ...extra });
}

/** A payload whose bytes depend on (tag, index), with the tag and a hash in the first 8 bytes. */
function payload(tag: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  const r = new Random(tag);
  for (let i = 8; i < len; i++) b[i] = r.int(256);
  new DataView(b.buffer).setUint32(0, tag);
  new DataView(b.buffer).setUint32(4, fnv32(b, 8));
  return b;
}
function intact(m: Uint8Array): boolean {
  return m.length >= 8 && new DataView(m.buffer, m.byteOffset).getUint32(4) === fnv32(m, 8);
}

/** Lets the stack finish with loaned datagrams and posted buffers, then reads the pool. */
function pool(s: Stack, clock: VirtualClock): { free: number; total: number } {
  s.kick();
  clock.advance(0);
  const st = s.stats();
  return { free: st.buffersFree, total: st.buffers };
}

async function twoStacks(faults?: Parameters<typeof withFaults>[1]) {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const la: Link = faults ? withFaults(sw.connect(), { ...faults, clock }) : sw.connect();
  const a = mk(clock, 'a', la, '10.0.0.1/24');
  const b = mk(clock, 'b', sw.connect(), '10.0.0.2/24');
  await drive(clock, a.ping('10.0.0.2', { timeout: 30_000 }));   // resolved first: fragments never wait for ARP here
  const rx = b.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  rx.on('message', (m) => got.push(m));
  rx.bind(9000);
  const tx = a.dgram.createSocket('udp4');
  await ticks();
  return { clock, sw, la, a, b, rx, tx, got };
}

test('60 KB datagrams cross MTU 1500: fragmented, reassembled, delivered intact', async () => {
  const { clock, a, b, tx, got } = await twoStacks();
  const sizes = [60_000, 65_507, 1473, 1472, 2961, 8000];
  for (const [i, n] of sizes.entries()) tx.send(payload(i + 1, n), 9000, '10.0.0.2');
  clock.advance(0);
  assert.is(got.length, sizes.length);
  got.forEach((m, i) => {
    assert.is(m.length, sizes[i]);
    assert.ok(intact(m), `datagram ${i} (${sizes[i]} bytes) intact`);
  });
  const sa = a.stats(), sb = b.stats();
  assert.is(sa.ipFragTx, sizes.reduce((t, n) => t + (n + 8 > 1480 ? Math.ceil((n + 8) / 1480) : 0), 0), 'fragments sent: ceil((n + 8) / 1480) each, 1472 unfragmented');
  assert.is(sb.reasmOk, 5);
  assert.is(sb.reassemblyBuffers, 0);
  const p = pool(b, clock);
  assert.is(p.free, p.total, 'every buffer back');
  await a.close(); await b.close();
});

test('fragments reordered and duplicated on the way: still delivered intact, exactly once', async () => {
  const seed = seedFrom('REASM_SEED', 'reorder+duplicate');
  const { clock, la, a, b, tx, got } = await twoStacks({ seed, tx: { reorder: 0.3, duplicate: 0.2, reorderDelayMs: 5 } });
  const N = 20;
  for (let i = 0; i < N; i++) {
    tx.send(payload(100 + i, 60_000), 9000, '10.0.0.2');
    clock.advance(1);
  }
  clock.advance(100);
  const fs = (la as ReturnType<typeof withFaults>).stats();
  assert.ok(fs.txReordered > 50 && fs.txDuplicated > 50, `faults happened: ${JSON.stringify(fs)}`);
  const tags = got.map((m) => new DataView(m.buffer, m.byteOffset).getUint32(0));
  assert.equal(tags, [...new Set(tags)], 'none twice');
  assert.is(got.length, N, `all ${N} delivered (seed ${seed})`);
  assert.ok(got.every(intact), 'all intact');
  const sb = b.stats();
  assert.ok(sb.reasmDup > 0, 'duplicates were seen and dropped');
  assert.is(sb.reasmOverlap, 0, 'a duplicate is not an overlap');
  // Duplicates that arrive after their datagram completed start slots that time out.
  clock.advance(31_000);
  assert.is(b.stats().reassemblyBuffers, 0);
  const p = pool(b, clock);
  assert.is(p.free, p.total);
  await a.close(); await b.close();
});

test('a datagram whose fragments do not fit the tx arena fails whole with ENOBUFS: no partial datagram leaves', async () => {
  const clock = new VirtualClock();
  const link = new TestLink();
  link.arp.set('10.0.0.9', '02:00:00:00:00:aa');
  const a = mk(clock, 'a', link, '10.0.0.1/24', { limits: { txArena: 96 << 10 } });
  const tx = a.dgram.createSocket('udp4');
  tx.send('hello', 9, '10.0.0.9');            // resolve first
  clock.advance(0);
  link.take();
  const err = await new Promise<(Error & { code?: string }) | null>((r) => tx.send(new Uint8Array(60_000), 9, '10.0.0.9', (e: Error | null) => r(e)));
  assert.is(err?.code, 'ENOBUFS');
  clock.advance(0);
  assert.is(link.take().length, 0, 'not one fragment sent');
  // One that fits goes out whole.
  tx.send(payload(1, 30_000), 9, '10.0.0.9');
  clock.advance(0);
  const out = link.take();
  assert.is(out.length, 21);
  assert.ok(out.every((f) => f.ip!.checksumOk));
  tx.close();
  await a.close();
});

// ---------------------------------------------------------------- by hand

const MAC = '02:00:00:00:00:01', PEER_MAC = '02:00:00:00:00:aa';
const ME = '10.0.0.1', PEER = '10.0.0.9';

function rig(limits: StackOptions['limits'] = {}) {
  const clock = new VirtualClock();
  const link = new TestLink();
  link.arp.set(PEER, PEER_MAC);
  const s = mk(clock, 'r', link, `${ME}/24`, { mac: MAC, limits });
  const sock = s.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  sock.bind(7);
  /** UDP datagram to port 7 as IP fragments with these payload sizes. */
  const frags = (id: number, data: Uint8Array, sizes: number[]) => {
    const d = udp({ src: PEER, dst: ME, sport: 5555, dport: 7, payload: data });
    return fragment({ src: PEER, dst: ME, proto: PROTO_UDP, payload: d, id }, sizes)
      .map((f) => ether(MAC, PEER_MAC, ETHERTYPE_IPV4, f));
  };
  const inject = (...fs: Uint8Array[]) => { for (const f of fs) link.inject(f); clock.advance(0); };
  return { clock, link, s, got, frags, inject };
}

test('overlapping fragments: the datagram is dropped, reasmOverlap counts, later fragments are swallowed', async () => {
  const { clock, s, got, inject } = rig();
  const d = udp({ src: PEER, dst: ME, sport: 5555, dport: 7, payload: new Uint8Array(40).fill(0x41) });   // 48 bytes
  const ip = (off: number, len: number, mf: boolean, fill?: number) => {
    const part = d.slice(off, off + len);
    if (fill !== undefined) part.fill(fill);
    return ether(MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({ src: PEER, dst: ME, proto: PROTO_UDP, id: 77, offset: off, mf, payload: part }));
  };
  // [0,24) then [16,40): overlap (and with different bytes: the "teardrop" ambiguity).
  inject(ip(0, 24, true), ip(16, 24, true, 0x42));
  assert.is(s.stats().reasmOverlap, 1);
  // The rest of the datagram, and an exact copy of the first piece, arrive: nothing is delivered.
  inject(ip(24, 24, false), ip(0, 24, true), ip(16, 8, true));
  assert.is(got.length, 0);
  // Overlap at the end: [0,16) + [32,48) then [8,40).
  inject(...[ip(0, 16, true), ip(32, 16, false), ip(8, 32, true)].map((f) => { f[14 + 5] = 78; return fixIpSum(f); }));
  assert.is(s.stats().reasmOverlap, 2);
  assert.is(got.length, 0);
  // After the timeout the ID may be used again: a clean datagram gets through.
  clock.advance(31_000);
  inject(ip(0, 24, true), ip(24, 24, false));
  assert.is(got.length, 1);
  assert.is(hex(got[0]), hex(new Uint8Array(40).fill(0x41)));
  const p = pool(s, clock);
  assert.is(p.free, p.total);
  await s.close();
});

test('an exact duplicate fragment is dropped on its own: the datagram still completes', async () => {
  const { clock, s, got, frags, inject } = rig();
  const data = new Uint8Array(3000).map((_, i) => i & 255);
  const f = frags(5, data, [1480, 1480, 48]);
  inject(f[0], f[1], f[1], f[0], f[2]);
  assert.is(got.length, 1);
  assert.is(hex(got[0]), hex(data));
  assert.is(s.stats().reasmDup, 2);
  assert.is(s.stats().reasmOk, 1);
  const p = pool(s, clock);
  assert.is(p.free, p.total);
  await s.close();
});

test('reassembly timeout frees the buffers and sends ICMP time exceeded when the first fragment came', async () => {
  const { clock, link, s, got, frags, inject } = rig({ reassemblyTimeoutMs: 2000 });
  const data = new Uint8Array(3000).fill(0x33);
  const f = frags(9, data, [1480, 1480, 48]);
  inject(f[0], f[2]);
  link.take();
  assert.is(s.stats().reassemblyBuffers, 2);
  clock.advance(1999);
  assert.is(s.stats().reasmTimeout, 0, 'not before its time');
  clock.advance(1);
  const st = s.stats();
  assert.is(st.reasmTimeout, 1);
  assert.is(st.reassemblyBuffers, 0);
  const out = link.take().filter((x) => x.type === ETHERTYPE_IPV4);
  assert.is(out.length, 1, 'one ICMP error');
  const m = out[0];
  assert.is(m.ip!.dst, PEER);
  assert.is(m.ip!.src, ME);
  assert.is(m.icmp!.type, 11, 'time exceeded');
  assert.is(m.icmp!.code, 1, 'fragment reassembly time exceeded');
  assert.ok(m.icmp!.checksumOk);
  // RFC 792: the quote is the original IP header and the first 8 bytes of its data.
  const first = parse(f[0]).ip!;
  assert.is(hex(m.icmp!.data), hex(first.header) + hex(first.payload.subarray(0, 8)));
  // A late fragment does not resurrect anything.
  inject(f[1]);
  assert.is(got.length, 0);
  // Without the first fragment: a timeout, but no ICMP (RFC 792 needs fragment zero).
  inject(...frags(10, data, [1480, 1480, 48]).slice(1));
  link.take();
  clock.advance(4000);
  assert.is(s.stats().reasmTimeout, 3);
  assert.is(link.take().filter((x) => x.icmp).length, 0);
  const p = pool(s, clock);
  assert.is(p.free, p.total);
  await s.close();
});

test('more datagrams in progress than limits.reassembly: the oldest is evicted, memory stays bounded', async () => {
  const { clock, s, got, frags, inject } = rig({ reassembly: 4 });
  const data = (i: number) => new Uint8Array(2000).fill(i);
  const parts = Array.from({ length: 10 }, (_, i) => frags(100 + i, data(i), [1480, 528]));
  for (let i = 0; i < 10; i++) { inject(parts[i][0]); clock.advance(10); }
  let st = s.stats();
  assert.is(st.reasmNoMem, 6, 'six evictions');
  assert.is(st.reassemblyBuffers, 4);
  // The four newest complete; the oldest lost its first half.
  for (let i = 9; i >= 0; i--) inject(parts[i][1]);
  assert.equal(got.map((m) => m[0]), [9, 8, 7, 6]);
  st = s.stats();
  assert.ok(st.reassemblyBuffers <= 4);
  clock.advance(31_000);
  const p = pool(s, clock);
  assert.is(p.free, p.total);
  await s.close();
});

test('a datagram needing more buffers than limits.reassemblyBuffers is dropped, and the rest are freed', async () => {
  const { clock, s, got, frags, inject } = rig({ reassemblyBuffers: 8 });
  const data = new Uint8Array(20 * 1480 - 8).fill(7);
  const f = frags(1, data, Array.from({ length: 20 }, (_, i) => (i < 19 ? 1480 : 1480)));
  inject(...f);
  const st = s.stats();
  assert.is(got.length, 0);
  assert.ok(st.reasmNoMem >= 1);
  assert.ok(st.reassemblyBuffers <= 8, `${st.reassemblyBuffers} held`);
  clock.advance(31_000);
  // A datagram within the cap still gets through.
  inject(...frags(2, new Uint8Array(5000).fill(8), [1480, 1480, 1480, 568]));
  assert.is(got.length, 1);
  const p = pool(s, clock);
  assert.is(p.free, p.total);
  await s.close();
});

test('a flood of tiny fragments: at most 128 per datagram are held', async () => {
  const { clock, s, got, frags, inject } = rig();
  const data = new Uint8Array(200 * 8 - 8);
  inject(...frags(3, data, Array.from({ length: 200 }, () => 8)));
  const st = s.stats();
  assert.is(got.length, 0);
  assert.ok(st.reasmNoMem >= 1);
  assert.ok(st.reassemblyBuffers <= 128);
  clock.advance(31_000);
  const p = pool(s, clock);
  assert.is(p.free, p.total);
  await s.close();
});

function fixIpSum(f: Uint8Array): Uint8Array {
  f[24] = 0; f[25] = 0;
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff;
  f[24] = s >> 8; f[25] = s & 255;
  return f;
}

test.run();
