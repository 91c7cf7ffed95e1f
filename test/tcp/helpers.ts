// Shared rigs for TCP tests: two stacks on a switch, on a virtual clock.
import { Stack, type StackLimits } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { VirtualClock } from '../../host/clock.ts';
import type { Link } from '../../host/link/link.ts';

export interface Pair { clock: VirtualClock; sw: VirtualSwitch; a: Stack; b: Stack }

export function pair(opts: { mtu?: number; limits?: StackLimits; wrap?: (l: Link, side: 'a' | 'b') => Link; seed?: number; clock?: VirtualClock } = {}): Pair {
  const clock = opts.clock ?? new VirtualClock();
  const sw = new VirtualSwitch({ mtu: opts.mtu ?? 1500 });
  const wrap = opts.wrap ?? ((l: Link) => l);
  const a = Stack.createSync({ name: 'a', link: wrap(sw.connect(), 'a'), address: '10.0.0.1/24', clock, seed: opts.seed ?? 1, limits: opts.limits });
  const b = Stack.createSync({ name: 'b', link: wrap(sw.connect(), 'b'), address: '10.0.0.2/24', clock, seed: (opts.seed ?? 1) + 1, limits: opts.limits });
  return { clock, sw, a, b };
}

/** Runs the virtual clock until cond holds (throws after limit virtual ms). */
export function until(clock: VirtualClock, cond: () => boolean, limit = 600_000): void {
  clock.runUntil(cond, limit);
}

/** Lets microtasks and nextTicks run (stream internals use them). */
export const tick = () => new Promise<void>((r) => setImmediate(r));

/** Runs exactly one timer of the virtual clock; false if none is queued. */
export function stepOne(clock: VirtualClock): boolean {
  if (!clock.pending) return false;
  let n = 0;
  clock.runUntil(() => n++ > 0);
  return true;
}

/** When the next timer of the virtual clock is due (Infinity: none). */
export function nextAt(clock: VirtualClock): number {
  const q = (clock as unknown as { queue: { at: number }[] }).queue;
  return q.length ? q[0].at : Infinity;
}

/** Drives the virtual clock and Node's own queues (streams use nextTick) until
 * cond holds. Timers due now run in batches; time moves on only once Node's
 * queues are empty. Throws after limitMs of virtual time, or when idle. */
export async function settle(clock: VirtualClock, cond: () => boolean, limitMs = 600_000, what = 'condition', batch = 512): Promise<void> {
  const start = clock.now();
  for (;;) {
    if (cond()) return;
    await tick();
    if (cond()) return;
    let ran = 0;
    while (ran < batch && nextAt(clock) <= clock.now()) {
      stepOne(clock);
      ran++;
      if (cond()) return;
    }
    if (ran) continue;
    if (!clock.pending) {
      await tick();
      if (!clock.pending && !cond()) throw new Error(`settle: ${what}: everything idle and not met`);
      continue;
    }
    if (nextAt(clock) - start > limitMs) throw new Error(`settle: ${what} not met within ${limitMs} virtual ms`);
    stepOne(clock);
  }
}

/** A decoded TCP/IPv4 frame (enough for tests and traces). */
export interface Seg {
  src: string; dst: string; sport: number; dport: number; seq: number; ack: number; flags: number; win: number;
  len: number; hlen: number; mss?: number; ws?: number; sackOk?: boolean; ts?: [number, number]; sack?: [number, number][];
  payload: Uint8Array;
}
export const FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16, URG = 32;

const ip4 = (f: Uint8Array, o: number) => `${f[o]}.${f[o + 1]}.${f[o + 2]}.${f[o + 3]}`;

export function decode(f: Uint8Array): Seg | null {
  if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0 || f[23] !== 6) return null;
  const dv = new DataView(f.buffer, f.byteOffset, f.length);
  const ihl = (f[14] & 15) * 4;
  const tot = dv.getUint16(16);
  const t = 14 + ihl;
  const hlen = (f[t + 12] >> 4) * 4;
  const s: Seg = {
    src: ip4(f, 26), dst: ip4(f, 30), sport: dv.getUint16(t), dport: dv.getUint16(t + 2), seq: dv.getUint32(t + 4),
    ack: dv.getUint32(t + 8), flags: f[t + 13], win: dv.getUint16(t + 14), len: tot - ihl - hlen, hlen,
    payload: f.slice(t + hlen, 14 + tot),
  };
  for (let p = t + 20; p < t + hlen;) {
    const k = f[p];
    if (k === 0) break;
    if (k === 1) { p++; continue; }
    const l = f[p + 1];
    if (l < 2) break;
    if (k === 2) s.mss = dv.getUint16(p + 2);
    else if (k === 3) s.ws = f[p + 2];
    else if (k === 4) s.sackOk = true;
    else if (k === 8) s.ts = [dv.getUint32(p + 2), dv.getUint32(p + 6)];
    else if (k === 5) { s.sack = []; for (let q = p + 2; q + 8 <= p + l; q += 8) s.sack.push([dv.getUint32(q), dv.getUint32(q + 4)]); }
    p += l;
  }
  return s;
}

export function flagStr(f: number): string {
  return ['F', 'S', 'R', 'P', '.', 'U'].filter((_, i) => f & (1 << i)).join('');
}

export function segStr(s: Seg, rel?: { a: number; b: number }): string {
  const sq = rel ? (s.seq - rel.a) >>> 0 : s.seq, ak = rel ? (s.ack - rel.b) >>> 0 : s.ack;
  return `${s.src}:${s.sport} > ${s.dst}:${s.dport} [${flagStr(s.flags)}] seq ${sq} ack ${ak} win ${s.win} len ${s.len}` +
    (s.sack ? ` sack ${s.sack.map(([x, y]) => `${rel ? (x - rel.b) >>> 0 : x}-${rel ? (y - rel.b) >>> 0 : y}`).join(',')}` : '') +
    (s.ts ? ` ts ${s.ts[0]}/${s.ts[1]}` : '');
}

/** Wraps a link so every TCP frame sent through it is recorded (last `keep`). */
export function traced(inner: Link, log: string[], tag: string, clock: VirtualClock, keep = 2000): Link {
  return {
    get mtu() { return inner.mtu; },
    send(frame: Uint8Array, flags?: number) {
      const s = decode(frame);
      if (s) { log.push(`${clock.now().toFixed(1)} ${tag} ${segStr(s)}`); if (log.length > keep) log.splice(0, log.length - keep); }
      inner.send(frame, flags);
    },
    get onFrame() { return inner.onFrame; },
    set onFrame(f) { inner.onFrame = f; },
    flush() { inner.flush?.(); },
    close() { inner.close(); },
  };
}
