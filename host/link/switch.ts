// An in-process learning Ethernet switch (IEEE 802.1D in miniature): learns
// source addresses per port, forwards known unicast to one port, floods the
// rest. Delivery is synchronous and borrowed: the receiving stack copies the
// frame straight out of the sender's memory into its own.
//
// Ports take every offload (link.ts): a large TCP segment or a partial
// checksum crosses the switch whole to every port whose consumer takes it,
// and is segmented or checksummed (offload.ts) only for those that do not.
import type { Link, LinkOffload } from './link.ts';
import { FRAME_CSUM_PARTIAL, FRAME_GSO } from './link.ts';
import { fits, joined, normalize, takesPartial } from './offload.ts';
import { ShoalError, argError } from '../errors.ts';

export interface SwitchPortOptions {
  /** The port's MTU, 576..65535 (default: the switch's). */
  mtu?: number;
}

const MAX_MACS = 4096;
const TAKES_ALL: LinkOffload = Object.freeze({ csum: true, gso: 65535 });

export class VirtualSwitch {
  readonly mtu: number;
  private ports = new Set<Port>();
  private macs = new Map<number, Port>();
  /** MACs the stacks on its ports said they send from (Link.claimMac): one port each. */
  private claimed = new Map<number, Port>();
  private counters = { frames: 0, flooded: 0, dropped: 0, tooBig: 0 };
  /** Sees every frame a port sends, before it is switched (a frame in pieces:
   * its first piece, the headers), and drops it by returning false (counted
   * as dropped); for tests and benchmarks that time what stacks send or cut
   * the cluster's control messages. Null when unused, which costs one compare
   * a frame. */
  monitor: ((frame: Uint8Array) => boolean | void) | null = null;

  /** opts.mtu: every port's default MTU, 576..65535 (default 1500). */
  constructor(opts: { mtu?: number } = {}) {
    this.mtu = checkMtu(opts.mtu ?? 1500);
  }

  /** A new port, as a Link for a stack. */
  connect(opts: SwitchPortOptions = {}): Link {
    const p = new Port(this, checkMtu(opts.mtu ?? this.mtu));
    this.ports.add(p);
    return p;
  }

  /** Plugs an existing link (a TAP device, say) into a new port: the uplink.
   * The port hands the link what its `send` takes (`link.offload`), and takes
   * whatever the link receives. Returns a function that unplugs it. */
  attach(link: Link): () => void {
    const p = new Port(this, link.mtu);
    this.ports.add(p);
    p.rxOffload = link.offload;
    p.onFrame = (frame, flags, gso) => link.send(frame, flags, gso);
    if (link.sendv) p.onFrameV = (parts, flags, gso) => link.sendv!(parts, flags, gso);
    p.flushOut = () => link.flush?.();
    link.rxOffload = p.offload;
    link.onFrame = (frame, flags, gso) => p.send(frame, flags, gso);
    link.onDown = () => p.close();
    return () => { link.onFrame = null; link.rxOffload = undefined; p.close(); };
  }

  stats(): { ports: number; macs: number; frames: number; flooded: number; dropped: number; tooBig: number } {
    return { ports: this.ports.size, macs: this.macs.size, ...this.counters };
  }

  // The last unicast decision (in port, source and destination MAC → out
  // port): a bulk stream repeats it frame after frame, so the common case is
  // three integer compares, with no Map lookups. Any change to the table clears it.
  // A stream's ACKs the other way replace it; a miss costs two Map lookups.
  private cFrom: Port | null = null;
  private cTo: Port | undefined = undefined;
  private cD = 0;
  private cS = 0;
  private cDS = 0;

  /** @internal */
  forward(from: Port, frame: Uint8Array, flags: number, gso: number): void {
    this.counters.frames++;
    if (frame.length < 14) { this.counters.dropped++; return; }
    const to = this.route(from, frame);
    if (to) this.deliver(to, frame, flags, gso);
    else if (to === null) {
      this.counters.flooded++;
      for (const p of this.ports) if (p !== from) this.deliver(p, frame, flags, gso);
    }
  }

  /** @internal A frame in pieces (Port.sendv), the first holding the headers:
   * to one port whose consumer takes it as it is, it goes on in pieces;
   * anything else (a flood, a port that needs it segmented) is joined first. */
  forwardParts(from: Port, parts: Uint8Array[], len: number, flags: number, gso: number): void {
    const h = parts[0];
    const to = h.length >= 14 ? this.route(from, h) : undefined;
    if (to && to.onFrameV && to.onFrame !== null && takesWhole(to, h, len, flags) && fits(h, flags, gso, to.mtu, len)) {
      this.counters.frames++;
      if (len - 14 <= to.mtu) { flags &= ~FRAME_GSO; gso = 0; }
      to.onFrameV(parts, flags, gso);
      return;
    }
    joined(parts, len, (frame) => this.forward(from, frame, flags, gso));
  }

  /** Where a frame from `from` with these Ethernet headers goes, learning its
   * source: one port; null, flood it; undefined, back where it came from (dropped). */
  private route(from: Port, f: Uint8Array): Port | null | undefined {
    const d = (f[0] << 24) | (f[1] << 16) | (f[2] << 8) | f[3];
    const s = (f[8] << 24) | (f[9] << 16) | (f[10] << 8) | f[11];
    const ds = (f[4] << 24) | (f[5] << 16) | (f[6] << 8) | f[7];
    if (from === this.cFrom && d === this.cD && s === this.cS && ds === this.cDS) return this.cTo;
    if (!(f[6] & 1)) this.learn(mac(f, 6), from);
    if (f[0] & 1) return null;
    const to = this.macs.get(mac(f, 0));
    if (!to) return null;
    if (to === from) return undefined;
    if (!(f[6] & 1)) { this.cFrom = from; this.cTo = to; this.cD = d; this.cS = s; this.cDS = ds; }
    return to;
  }

  private deliver(to: Port, frame: Uint8Array, flags: number, gso: number): void {
    if (frame.length > to.mtu + 14 && !fits(frame, flags, gso, to.mtu)) { this.counters.tooBig++; return; }
    const cb = to.onFrame;
    if (cb === null) return;
    if (!(flags & (FRAME_CSUM_PARTIAL | FRAME_GSO))) cb(frame, flags, 0);
    else if (!normalize(frame, flags, gso, to.rxOffload, to.mtu, cb)) this.counters.dropped++;
  }

  private learn(src: number, port: Port): void {
    if (this.macs.get(src) === port) return;
    this.cFrom = null;
    this.macs.delete(src);
    if (this.macs.size >= MAX_MACS) this.macs.delete(this.macs.keys().next().value as number);
    this.macs.set(src, port);
  }

  /** @internal */
  remove(p: Port): void {
    this.ports.delete(p);
    this.cFrom = null;
    for (const [k, v] of this.macs) if (v === p) this.macs.delete(k);
    for (const [k, v] of this.claimed) if (v === p) this.claimed.delete(k);
  }

  /** @internal Port p's stack sends from mac: refused while another port's does. */
  claim(p: Port, mac: string): void {
    const m = parseInt(mac.replace(/:/g, ''), 16);
    const owner = this.claimed.get(m);
    if (owner && owner !== p) {
      throw new ShoalError(`MAC ${mac} is already used on this switch by another port: give each stack its own "mac" (or leave it derived)`,
        'ERR_DUPLICATE_MAC');
    }
    this.claimed.set(m, p);
  }

  /** @internal A frame (or its segments) larger than a port's MTU, going in or out. */
  tooBig(): void { this.counters.tooBig++; }
  /** @internal A frame the monitor dropped. */
  drop(): void { this.counters.dropped++; }

  /** @internal Flushes batching uplinks once a burst is through. */
  flushAll(): void { for (const p of this.ports) p.flushOut?.(); }
}

/** Whether a port's consumer takes a frame of len bytes (h: its first piece) as it is, offloads and all. */
function takesWhole(to: Port, h: Uint8Array, len: number, flags: number): boolean {
  if (!(flags & (FRAME_CSUM_PARTIAL | FRAME_GSO))) return len <= to.mtu + 14;
  const take = to.rxOffload;
  return takesPartial(take, h) && (len <= to.mtu + 14 || ((flags & FRAME_GSO) !== 0 && len - 14 <= take.gso));
}

class Port implements Link {
  readonly offload = TAKES_ALL;
  rxOffload: LinkOffload | undefined = undefined;
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  onFrameV: ((parts: Uint8Array[], flags: number, gso: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  flushOut: (() => void) | null = null;
  private open = true;
  constructor(private readonly sw: VirtualSwitch, readonly mtu: number) {}
  send(frame: Uint8Array, flags = 0, gso = 0): void {
    if (!this.open) return;
    if (this.sw.monitor !== null && this.sw.monitor(frame) === false) { this.sw.drop(); return; }
    if (frame.length > this.mtu + 14 && !fits(frame, flags, gso, this.mtu)) { this.sw.tooBig(); return; }
    this.sw.forward(this, frame, flags, gso);
  }
  sendv(parts: Uint8Array[], flags = 0, gso = 0): void {
    if (!this.open) return;
    if (this.sw.monitor !== null && this.sw.monitor(parts[0]) === false) { this.sw.drop(); return; }
    let len = 0;
    for (const p of parts) len += p.length;
    if (len > this.mtu + 14 && !fits(parts[0], flags, gso, this.mtu, len)) { this.sw.tooBig(); return; }
    this.sw.forwardParts(this, parts, len, flags, gso);
  }
  flush(): void { this.sw.flushAll(); }
  claimMac(mac: string): void { if (this.open) this.sw.claim(this, mac); }
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.sw.remove(this);
    this.onDown?.();
  }
}

function mac(f: Uint8Array, at: number): number {
  return (f[at] * 0x10000000000) + (f[at + 1] * 0x100000000) + ((f[at + 2] << 24) >>> 0) + (f[at + 3] << 16) + (f[at + 4] << 8) + f[at + 5];
}

function checkMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw argError(RangeError, 'ERR_OUT_OF_RANGE', `switch MTU must be an integer in 576..65535, got ${mtu}`);
  return mtu;
}
