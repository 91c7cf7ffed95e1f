// A scripted TCP peer: one stack on a link the test controls. The test sends
// hand-built segments and reads back, decoded, every segment the stack sent.
import { Stack, type StackLimits } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import type { Link } from '../../host/link/link.ts';
import { decode, type Seg, tick } from './helpers.ts';

const PEER_MAC = [0x02, 0, 0, 0, 0, 0x99];
export const STACK_IP = '10.0.0.1';
export const PEER_IP = '10.0.0.2';

class TestLink implements Link {
  readonly mtu: number;
  onFrame: ((frame: Uint8Array, flags: number) => void) | null = null;
  sent: (frame: Uint8Array) => void = () => {};
  constructor(mtu: number) { this.mtu = mtu; }
  send(frame: Uint8Array): void { this.sent(frame.slice()); }
  close(): void {}
}

export interface SegOpts {
  sport?: number; dport?: number; seq: number; ack?: number; flags: number; win?: number;
  mss?: number; ws?: number; sackOk?: boolean; ts?: [number, number]; sack?: [number, number][];
  data?: Uint8Array | string; badChecksum?: boolean; urp?: number;
}

function csum(b: Uint8Array, start: number, end: number, init = 0): number {
  let s = init;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export class Peer {
  readonly clock = new VirtualClock();
  readonly stack: Stack;
  readonly link: TestLink;
  /** TCP segments the stack sent, in order (cleared by take()). */
  out: Seg[] = [];
  private ipId = 1;

  constructor(opts: { mtu?: number; limits?: StackLimits; seed?: number } = {}) {
    this.link = new TestLink(opts.mtu ?? 1500);
    this.link.sent = (f) => this.fromStack(f);
    this.stack = Stack.createSync({ name: 'dut', link: this.link, address: `${STACK_IP}/24`, clock: this.clock, seed: opts.seed ?? 5, limits: opts.limits });
  }

  private fromStack(f: Uint8Array): void {
    if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 1) {
      // ARP request: answer for the peer's address.
      const tpa = f.slice(38, 42);
      if (tpa.join('.') !== PEER_IP) return;
      const r = new Uint8Array(42);
      r.set(f.slice(6, 12), 0); r.set(PEER_MAC, 6); r[12] = 8; r[13] = 6;
      r.set([0, 1, 8, 0, 6, 4, 0, 2], 14);
      r.set(PEER_MAC, 22); r.set(tpa, 28); r.set(f.slice(22, 28), 32); r.set(f.slice(28, 32), 38);
      this.link.onFrame?.(r, 0);
      return;
    }
    const s = decode(f);
    if (s) this.out.push(s);
  }

  /** Sends one hand-built segment to the stack and lets it run. */
  send(o: SegOpts): void {
    const data = typeof o.data === 'string' ? Buffer.from(o.data) : (o.data ?? new Uint8Array(0));
    const opts: number[] = [];
    if (o.mss !== undefined) opts.push(2, 4, o.mss >> 8, o.mss & 255);
    if (o.sackOk) opts.push(1, 1, 4, 2);
    if (o.ts) { const [v, e] = o.ts; opts.push(1, 1, 8, 10, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255, e >>> 24, (e >>> 16) & 255, (e >>> 8) & 255, e & 255); }
    if (o.ws !== undefined) opts.push(1, 3, 3, o.ws);
    if (o.sack) {
      opts.push(1, 1, 5, 2 + 8 * o.sack.length);
      for (const [a, b] of o.sack) for (const v of [a, b]) opts.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
    }
    while (opts.length % 4) opts.push(0);
    const thl = 20 + opts.length;
    const tot = 20 + thl + data.length;
    const f = new Uint8Array(14 + tot);
    const dv = new DataView(f.buffer);
    const mac = this.stack.macs[0].split(':').map((x) => parseInt(x, 16));
    f.set(mac, 0); f.set(PEER_MAC, 6); f[12] = 8; f[13] = 0;
    f[14] = 0x45; dv.setUint16(16, tot); dv.setUint16(18, this.ipId++); f[22] = 64; f[23] = 6;
    f.set(PEER_IP.split('.').map(Number), 26); f.set(STACK_IP.split('.').map(Number), 30);
    dv.setUint16(24, ~csum(f, 14, 34) & 0xffff);
    const t = 34;
    dv.setUint16(t, o.sport ?? 40000); dv.setUint16(t + 2, o.dport ?? 80);
    dv.setUint32(t + 4, o.seq >>> 0); dv.setUint32(t + 8, (o.ack ?? 0) >>> 0);
    f[t + 12] = (thl / 4) << 4; f[t + 13] = o.flags; dv.setUint16(t + 14, o.win ?? 65535);
    dv.setUint16(t + 18, o.urp ?? 0);
    f.set(opts, t + 20); f.set(data, t + thl);
    const pseudo = csum(new Uint8Array([...f.slice(26, 34), 0, 6, (thl + data.length) >> 8, (thl + data.length) & 255]), 0, 12);
    let c = ~csum(f, t, t + thl + data.length, pseudo) & 0xffff;
    if (o.badChecksum) c ^= 0x5555;
    dv.setUint16(t + 16, c);
    this.link.onFrame?.(f, 0);
    if (!this.batching) this.clock.advance(0);
  }

  private batching = false;
  /** Sends what fn sends as one batch, which the stack takes in one poll. */
  batch(fn: () => void): void {
    this.batching = true;
    try { fn(); } finally { this.batching = false; }
    this.clock.advance(0);
  }

  /** Lets virtual time pass (timers fire; the stack polls). */
  advance(ms: number): void { this.clock.advance(ms); }

  /** Lets Node's queues run (stream events), then due timers. */
  async settle(): Promise<void> {
    for (let i = 0; i < 4; i++) { await tick(); this.clock.advance(0); }
  }

  take(): Seg[] { const o = this.out; this.out = []; return o; }
}
