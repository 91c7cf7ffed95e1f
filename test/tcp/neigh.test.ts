// Neighbour entries ageing under a long TCP transfer (Linux's reachable /
// stale / delay / probe life, assembly/iface/neigh.ts): frames keep going to
// the address an entry had while it is revalidated, so nothing stalls and no
// 64 KiB GSO frame is dropped waiting for ARP; TCP's acknowledged data
// confirms the sender's neighbour, so only the receiver (which sends no data)
// probes, by unicast.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { pair, settle } from './helpers.ts';
import { VirtualClock } from '../../host/clock.ts';
import { FRAME_GSO, type Link, type LinkOffload } from '../../host/link/link.ts';
import type { Socket } from '../../host/net/net.ts';

const DELAY_MS = 5;            // each way
const TTL_MS = 300;            // neighbour lifetime
const RUN_MS = 4000;           // more than a dozen lifetimes
const CHUNK = 64 << 10;

interface Seen { arpRequests: number; arpBroadcasts: number; gso: number }

/** A switch port whose sends arrive DELAY_MS later, offloads and all; counts what it sends. */
class DelayLink implements Link {
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  readonly seen: Seen = { arpRequests: 0, arpBroadcasts: 0, gso: 0 };
  constructor(private readonly inner: Link, private readonly clock: VirtualClock) {
    inner.onFrame = (f, fl, gso) => this.onFrame?.(f, fl, gso);
  }
  get mtu(): number { return this.inner.mtu; }
  get offload(): LinkOffload | undefined { return this.inner.offload; }
  set rxOffload(v: LinkOffload | undefined) { this.inner.rxOffload = v; }
  get rxOffload(): LinkOffload | undefined { return this.inner.rxOffload; }
  send(frame: Uint8Array, flags = 0, gso = 0): void {
    if (frame[12] === 8 && frame[13] === 6 && frame[21] === 1) {
      this.seen.arpRequests++;
      if (frame[0] === 0xff) this.seen.arpBroadcasts++;
    }
    if (flags & FRAME_GSO) this.seen.gso++;
    const f = frame.slice();
    this.clock.setTimer(() => this.inner.send(f, flags, gso), DELAY_MS);
  }
  close(): void { this.inner.close(); }
}

test(`a ${RUN_MS} ms transfer across ${Math.floor(RUN_MS / TTL_MS)} neighbour lifetimes: no stall, no drop, no broadcast after the first`, async () => {
  const clock = new VirtualClock();
  const links: DelayLink[] = [];
  const wrap = (l: Link) => { const d = new DelayLink(l, clock); links.push(d); return d; };
  const { a, b } = pair({ clock, wrap, limits: { neighbourTtlMs: TTL_MS, tcpReceiveBuffer: 256 << 10 } });
  const rx = createHash('sha256'), tx = createHash('sha256');
  let received = 0, sent = 0, ended = false, t0 = -1, last = -1, maxGapMs = 0;
  b.net.createServer((s: Socket) => {
    s.on('data', (d: Buffer) => {
      if (t0 >= 0) maxGapMs = Math.max(maxGapMs, clock.now() - last);
      last = clock.now();
      received += d.length;
      rx.update(d);
    });
    s.on('end', () => { ended = true; });
  }).listen(80);
  const c = a.net.connect({ port: 80, host: '10.0.0.2' });
  let stop = false, n = 0;
  const pump = () => {
    while (!stop) {
      const d = Buffer.alloc(CHUNK, n++ & 255);
      tx.update(d);
      sent += d.length;
      if (!c.write(d)) { c.once('drain', pump); return; }
    }
  };
  c.on('connect', () => { t0 = last = clock.now(); pump(); });
  await settle(clock, () => t0 >= 0 && clock.now() - t0 >= RUN_MS, 60_000, 'transfer');
  stop = true;
  c.end();
  await settle(clock, () => ended, 60_000, 'the rest of the stream');
  assert.is(received, sent, 'every byte written arrived');
  assert.is(rx.digest('hex'), tx.digest('hex'), 'intact and in order');
  assert.ok(sent > 16 * CHUNK, `${sent} bytes`);
  assert.ok(maxGapMs < 100, `${maxGapMs} ms without delivering a byte`);
  const sa = a.stats(), sb = b.stats();
  for (const [name, st] of [['sender', sa], ['receiver', sb]] as const) {
    assert.is(st.tcpRto, 0, `${name}: no retransmission timeout`);
    assert.is(st.txGsoDrop, 0, `${name}: no GSO frame dropped waiting for ARP`);
    assert.is(st.arpQueueFull + st.arpDropped, 0, `${name}: nothing held back or dropped for ARP`);
    assert.is(st.neighProbeFailed, 0, `${name}: every probe answered`);
  }
  const [la, lb] = links;
  assert.ok(la.seen.gso > 0, 'the sender sent GSO frames');
  assert.is(la.seen.arpRequests, 1, 'the sender resolved once: acknowledged data confirmed its neighbour every time it aged');
  assert.ok(lb.seen.arpRequests >= 4, `the receiver, which sends no data, revalidated by probes (${lb.seen.arpRequests})`);
  assert.is(lb.seen.arpBroadcasts, 0, 'by unicast: it never lost the entry');
  await a.close(); await b.close();
});

test.run();
