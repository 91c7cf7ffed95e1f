// Offloads between two stacks: over a link that takes partial checksums and
// large segments, TCP sends segments of up to 64 KiB whole (GSO), the receiver
// takes each over several buffers, and every byte arrives; over a link that
// takes frames in pieces, large payloads leave from the send buffer uncopied
// (scatter-gather); without offloads the same link carries only plain, fully
// checksummed frames.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Stack, type StackLimits } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { FRAME_CSUM_PARTIAL, FRAME_GSO, type Link, type LinkOffload } from '../../host/link/link.ts';
import { settle, pair } from './helpers.ts';
import { cksum, get16, pseudo, get32 } from '../helpers/frames.ts';

const MiB = 1 << 20;

/** One end of a cable between two stacks that records what crosses it; with a
 * clock and a delay, frames arrive that much later (copied: they are borrowed). */
class End implements Link {
  peer!: End;
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  rxOffload?: LinkOffload;
  sent: { len: number; flags: number; gso: number; csumOk: boolean }[] = [];
  constructor(readonly mtu: number, readonly offload?: LinkOffload, private readonly delay?: { clock: VirtualClock; ms: number }) {}
  send(frame: Uint8Array, flags = 0, gso = 0): void {
    this.sent.push({ len: frame.length, flags, gso, csumOk: flags & FRAME_CSUM_PARTIAL ? true : tcpChecksumOk(frame) });
    if (!this.delay) { this.peer.onFrame?.(frame, flags, gso); return; }
    const copy = frame.slice();
    this.delay.clock.setTimer(() => this.peer.onFrame?.(copy, flags, gso), this.delay.ms);
  }
  close(): void {}
}

/** An End that also takes frames in pieces (Link.sendv): the stack then
 * leaves large TCP payloads in its send buffer (scatter-gather). lossEvery
 * n > 0 drops every nth frame in pieces, so retransmissions gather too. */
class GatherEnd extends End {
  pieces: number[][] = [];
  lossEvery = 0;
  sendv(parts: Uint8Array[], flags = 0, gso = 0): void {
    this.pieces.push(parts.map((p) => p.length));
    if (this.lossEvery && this.pieces.length % this.lossEvery === 0) return;
    const frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { frame.set(p, o); o += p.length; }
    this.send(frame, flags, gso);
  }
}

function tcpChecksumOk(f: Uint8Array): boolean {
  if (f.length < 54 || get16(f, 12) !== 0x0800 || f[23] !== 6) return true;
  const ihl = (f[14] & 15) * 4, tot = get16(f, 16);
  const l4 = f.subarray(14 + ihl, 14 + tot);
  return cksum(l4, pseudo(get32(f, 26), get32(f, 30), 6, l4.length)) === 0;
}

/** gatherLoss: over GatherEnds, dropping every nth frame in pieces (0: none). */
async function transfer(offload: LinkOffload | undefined, bytes: number, stackOffload = true, limits?: StackLimits, delayMs = 0, gatherLoss?: number) {
  const clock = new VirtualClock();
  const delay = delayMs ? { clock, ms: delayMs } : undefined;
  const E = gatherLoss === undefined ? End : GatherEnd;
  const ea = new E(1500, offload, delay), eb = new E(1500, offload, delay);
  if (ea instanceof GatherEnd) ea.lossEvery = gatherLoss!;
  ea.peer = eb; eb.peer = ea;
  const a = Stack.createSync({ name: 'a', link: ea, address: '10.0.0.1/24', clock, seed: 1, offload: stackOffload, limits });
  const b = Stack.createSync({ name: 'b', link: eb, address: '10.0.0.2/24', clock, seed: 2, offload: stackOffload, limits });
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) data.writeUInt32LE((Math.imul(i, 2654435761) >>> 0), i);
  const h = createHash('sha256');
  let got = 0, ended = false;
  const srv = b.net.createServer((s) => {
    s.on('data', (d: Buffer) => { h.update(d); got += d.length; });
    s.on('end', () => { ended = true; s.end(); });
  });
  srv.listen(80);
  const c = a.net.connect({ port: 80, host: '10.0.0.2' });
  c.on('connect', () => { c.end(data); });
  await settle(clock, () => ended, 600_000, 'transfer');
  assert.is(got, bytes);
  assert.is(h.digest('hex'), createHash('sha256').update(data).digest('hex'), 'every byte intact');
  await settle(clock, () => a.stats().tcpChunksUsed === 0, 10_000, 'every send-buffer chunk back once acknowledged');
  const sa = a.stats(), sb = b.stats();
  srv.close();
  await a.close(); await b.close();
  return { sent: ea.sent, pieces: (ea as GatherEnd).pieces, sa, sb };
}

test('over a link with offloads, TCP sends segments of up to 64 KiB whole and the receiver takes each in one large buffer', async () => {
  // Large buffers for a whole 1 MiB window of 64 KiB segments: Stack.BULK's.
  const { sent, sa, sb } = await transfer({ csum: true, gso: 65535 }, 8 * MiB, true, Stack.BULK);
  const big = sent.filter((f) => f.flags & FRAME_GSO);
  assert.ok(big.length > 0, 'GSO frames sent');
  for (const f of big) {
    assert.ok(f.len > 1514 && f.len <= 65535 + 14, `GSO frame of ${f.len} bytes`);
    assert.ok(f.flags & FRAME_CSUM_PARTIAL, 'a GSO frame leaves its checksum partial');
    assert.ok(f.gso > 0 && f.gso <= 1460, `segment size ${f.gso}`);
  }
  // Most of 8 MiB goes in frames near 64 KiB, not in 1448-byte segments.
  assert.ok(sa.txFrames < 8 * MiB / 16384, `${sa.txFrames} frames for 8 MiB`);
  assert.ok(sb.rxFrames < 8 * MiB / 16384, `${sb.rxFrames} frames received`);
  assert.ok(sb.rxLarge >= big.length * 0.9, `${sb.rxLarge} of ${big.length} GSO frames in large buffers`);
  assert.is(sb.rxChainBad, 0);
  assert.is(sb.rxNoBuffer, 0);
  assert.is(sb.buffersFree, sb.buffers, 'every buffer back in the pool');
  assert.ok(sb.largeBuffers > 0);
  assert.is(sb.largeBuffersFree, sb.largeBuffers, 'every large buffer back');
});

test('without large buffers, or with too few, the receiver chains merged segments over MTU-sized buffers', async () => {
  for (const largePoolBytes of [0, 70_000]) {
    const { sent, sb } = await transfer({ csum: true, gso: 65535 }, 4 * MiB, true, { largePoolBytes });
    const big = sent.filter((f) => f.flags & FRAME_GSO).length;
    assert.is(sb.largeBuffers, largePoolBytes ? 1 : 0);
    if (largePoolBytes) assert.ok(sb.rxLarge > 0 && sb.rxLarge < big, `${sb.rxLarge} of ${big} in the one large buffer`);
    else assert.is(sb.rxLarge, 0);
    assert.ok(sb.rxFrames < 4 * MiB / 16384, `${sb.rxFrames} frames received, most of them chained`);
    assert.is(sb.rxNoBuffer, 0);
    assert.is(sb.buffersFree, sb.buffers);
    assert.is(sb.largeBuffersFree, sb.largeBuffers);
  }
});

test('a receive buffer smaller than a large buffer still takes a whole transfer', async () => {
  // Each large buffer costs the window its whole size: with 48 KiB the window
  // closes after one merged segment and opens again as the reader takes it.
  const { sb } = await transfer({ csum: true, gso: 65535 }, 2 * MiB, true, { tcpReceiveBuffer: 48 * 1024 });
  assert.is(sb.largeBuffersFree, sb.largeBuffers);
  assert.is(sb.buffersFree, sb.buffers);
});

test('neighbour entries expiring all through a transfer cost no segment: revalidated while in use', async () => {
  const { sa } = await transfer({ csum: true, gso: 65535 }, 8 * MiB, true, { neighbourTtlMs: 5 }, 1);
  assert.ok(sa.arpTx > 2, `${sa.arpTx} ARP requests: entries expired and were revalidated`);
  assert.is(sa.txGsoDrop, 0, 'no GSO frame dropped for want of an address');
  assert.is(sa.tcpRto, 0);
  assert.is(sa.neighProbeFailed, 0);
});

test('over a link that takes frames in pieces, large payloads leave from the send buffer uncopied, every byte intact', async () => {
  // With a delay, ACKs free send-buffer chunks while frames pointing into them are still being sent.
  const { pieces, sa } = await transfer({ csum: true, gso: 65535 }, 8 * MiB, true, undefined, 1, 0);
  assert.ok(sa.txGathered > 0 && sa.txGathered === pieces.length, `${sa.txGathered} gathered frames, ${pieces.length} seen`);
  for (const p of pieces) {
    assert.ok(p.length >= 2 && p[0] <= 14 + 60 + 60, `headers alone first (${p[0]} bytes), then ${p.length - 1} piece(s)`);
    assert.ok(p.slice(1).reduce((n, l) => n + l, 0) >= 2048, 'only payloads worth it are gathered');
  }
  // MTU-sized payloads are copied: a piece of their own would cost the host more.
  const small = await transfer({ csum: true, gso: 0 }, 1 * MiB, true, undefined, 0, 0);
  assert.is(small.sa.txGathered, 0);
  // A link without sendv, or a stack without partial checksums, gets whole frames.
  const plain = await transfer({ csum: true, gso: 65535 }, 1 * MiB);
  assert.is(plain.sa.txGathered, 0);
  const declined = await transfer({ csum: true, gso: 65535 }, 1 * MiB, false, undefined, 0, 0);
  assert.is(declined.sa.txGathered, 0);
});

test('through a switch, gathered frames arrive in pieces: into one large buffer, or over a chain when there is none', async () => {
  for (const largePoolBytes of [undefined, 0]) {
    const { clock, a, b } = pair({ limits: largePoolBytes === undefined ? Stack.BULK : { ...Stack.BULK, largePoolBytes } });
    const data = Buffer.alloc(4 * MiB);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(Math.imul(i, 2246822519) >>> 0, i);
    const h = createHash('sha256');
    let got = 0, ended = false;
    b.net.createServer((s) => {
      s.on('data', (d: Buffer) => { h.update(d); got += d.length; });
      s.on('end', () => { ended = true; s.end(); });
    }).listen(80);
    const c = a.net.connect({ port: 80, host: '10.0.0.2' });
    c.on('connect', () => c.end(data));
    await settle(clock, () => ended, 600_000, 'transfer');
    assert.is(got, data.length);
    assert.is(h.digest('hex'), createHash('sha256').update(data).digest('hex'), 'every byte intact');
    const sa = a.stats(), sb = b.stats();
    assert.ok(sa.txGathered > 0, `${sa.txGathered} gathered frames`);
    if (largePoolBytes === 0) assert.ok(sb.rxLarge === 0 && sb.rxFrames < 4 * MiB / 16384, `${sb.rxFrames} frames, chained`);
    else assert.ok(sb.rxLarge >= sa.txGathered * 0.9, `${sb.rxLarge} large buffers for ${sa.txGathered} gathered frames`);
    await a.close(); await b.close();
  }
});

test('gathered frames lost on the way: retransmissions gather too, every byte intact', async () => {
  const { sa } = await transfer({ csum: true, gso: 65535 }, 8 * MiB, true, undefined, 1, 7);
  assert.ok(sa.tcpRetrans > 0 && sa.txGathered > 0, `${sa.tcpRetrans} retransmissions, ${sa.txGathered} gathered frames`);
});

test('a gathered segment that waits for ARP goes out whole, its checksum complete', async () => {
  // MTU 9000 without GSO: segments of up to 8960 bytes, gathered. Idle gaps past
  // twice the neighbour lifetime make each burst's first segment wait for ARP.
  const clock = new VirtualClock();
  const delay = { clock, ms: 1 };
  const ea = new GatherEnd(9000, { csum: true, gso: 0 }, delay), eb = new GatherEnd(9000, { csum: true, gso: 0 }, delay);
  ea.peer = eb; eb.peer = ea;
  const limits = { neighbourTtlMs: 5 };
  const a = Stack.createSync({ name: 'a', link: ea, address: '10.0.0.1/24', clock, seed: 1, limits });
  const b = Stack.createSync({ name: 'b', link: eb, address: '10.0.0.2/24', clock, seed: 2, limits });
  const burst = Buffer.alloc(64 * 1024);
  const h = createHash('sha256'), sent = createHash('sha256');
  let got = 0;
  b.net.createServer((s) => s.on('data', (d: Buffer) => { h.update(d); got += d.length; })).listen(80);
  const c = a.net.connect({ port: 80, host: '10.0.0.2' });
  await settle(clock, () => c.readyState === 'open', 10_000, 'connect');
  for (let i = 0; i < 8; i++) {
    burst.fill(i + 1);
    sent.update(burst);
    c.write(burst);
    await settle(clock, () => got === (i + 1) * burst.length, 10_000, `burst ${i}`);
    clock.advance(30);
  }
  assert.is(h.digest('hex'), sent.digest('hex'), 'every byte intact');
  const st = a.stats();
  assert.ok(st.arpTx >= 8 && st.txGathered > 0, `${st.arpTx} ARP requests, ${st.txGathered} gathered frames`);
  const waited = ea.sent.filter((f) => f.len > 2048 && !(f.flags & FRAME_CSUM_PARTIAL));
  assert.ok(waited.length >= 7, `${waited.length} segments waited for ARP`);
  assert.ok(waited.every((f) => f.csumOk), 'each with its checksum completed');
  c.destroy();
  await a.close(); await b.close();
});

test('neighbour entries expiring all through a gathered transfer: revalidated, every byte intact', async () => {
  const { sa } = await transfer({ csum: true, gso: 65535 }, 8 * MiB, true, { neighbourTtlMs: 5 }, 1, 0);
  assert.ok(sa.txGathered > 0 && sa.arpTx > 2, `${sa.txGathered} gathered frames, ${sa.arpTx} ARP requests`);
  assert.is(sa.tcpRto, 0);
});

test('at MTU 65535 packet buffers hold any frame: no large buffers', () => {
  const e = new End(65535);
  const s = Stack.createSync({ name: 'j', link: e, address: '10.0.0.1/24', clock: new VirtualClock(), seed: 1 });
  assert.is(s.stats().largeBuffers, 0);
  s.close();
});

test('a link that takes partial checksums but not large segments gets MTU-sized frames', async () => {
  const { sent } = await transfer({ csum: true, gso: 0 }, 1 * MiB);
  assert.ok(sent.every((f) => !(f.flags & FRAME_GSO) && f.len <= 1514), 'no frame over the MTU');
  assert.ok(sent.some((f) => f.flags & FRAME_CSUM_PARTIAL), 'checksums left partial');
});

test('without offloads (the link has none, or the stack declines them) every frame is plain and checksummed', async () => {
  for (const [off, use] of [[undefined, true], [{ csum: true, gso: 65535 }, false]] as const) {
    const { sent } = await transfer(off, 1 * MiB, use);
    assert.ok(sent.every((f) => !(f.flags & (FRAME_GSO | FRAME_CSUM_PARTIAL)) && f.len <= 1514), 'plain frames only');
    assert.ok(sent.every((f) => f.csumOk), 'every TCP checksum complete and right');
  }
});

test('a bad offload declaration is refused with a clear error', () => {
  const link = new End(1500, { csum: false, gso: 65535 });
  assert.throws(() => Stack.createSync({ name: 'x', link, address: '10.0.0.1/24', clock: new VirtualClock() }), /if_offload|EINVAL|offload/);
});

test.run();
