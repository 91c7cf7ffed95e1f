// One stack: one wasm instance. With core-view.ts, the only module that touches wasm memory.
// Frames arrive from links and are copied once into buffers the core posted
// on its free stack; a poll (deferred, so many frames share one call) hands
// them over with the time, and everything the core produced — frames and
// events — is drained right after every call.
import { webcrypto } from 'node:crypto';
import type { Link } from './link/link.ts';
import { joined } from './link/offload.ts';
import { realClock, type Clock, type Timer } from './clock.ts';
import { instantiateCore, type CoreExports } from './wasm.ts';
import { parseCidr, parseIPv4, parseMac, formatIPv4, formatMac } from './addr.ts';
import { shoalError } from './errors.ts';
import { DgramFactory, type UdpSocket } from './net/dgram.ts';
import { NetFactory, TCP_RESCAN, type TcpHandle } from './net/net.ts';
import { SCB as S, ABI_VERSION, CFG, EV, ERRNO, FRAME, TCP_CC, TCP_CHUNK } from './core-abi.ts';
import { CoreView, DESC_WORDS, type PieceSink, type TcpInfoWords } from './core-view.ts';

const { CSUM_OK: FRAME_CSUM_OK, CSUM_PARTIAL: FRAME_CSUM_PARTIAL, MORE: FRAME_MORE } = FRAME;
/** TCP event types run from EV.TCP to below this. */
const EV_TCP_END = EV.TCP + 16;
/** The largest IPv4 packet with an Ethernet header and a VLAN tag. */
const MAX_FRAME = 65535 + 18;
const LARGE_POOL_BYTES = 4 << 20;

export interface InterfaceOptions {
  link: Link;
  /** "10.0.0.1/24", or several. */
  address: string | string[];
  /** Default: derived from the stack's name and the interface index (locally administered). */
  mac?: string;
  /** Use the link's offloads (partial checksums, large TCP segments) where it has any (default true). */
  offload?: boolean;
}

export interface StackLimits {
  /** Bytes of packet buffers (default 8 MiB). */
  poolBytes?: number;
  /** Bytes of large receive buffers, each holding a 64 KiB segment whole, where
   * a link merges segments (GSO) and the MTU is below 65535 (default 4 MiB; 0: none). */
  largePoolBytes?: number;
  rxRing?: number;
  txArena?: number;
  neighbours?: number;
  arpQueue?: number;
  reassembly?: number;
  reassemblyBuffers?: number;
  reassemblyTimeoutMs?: number;
  udpSockets?: number;
  udpQueue?: number;
  icmpErrorsPerSecond?: number;
  neighbourTtlMs?: number;
  /** init fails if the core would need more linear memory than this. */
  memoryBytes?: number;
  /** TCBs: connections, listeners and TIME-WAIT entries together (default 4096). */
  tcpSockets?: number;
  /** Default per-socket send / receive buffer in bytes (default 1 MiB each). */
  tcpSendBuffer?: number;
  tcpReceiveBuffer?: number;
  /** Bytes of send-buffer chunks shared by every socket (default 16 MiB, in 16 KiB chunks). */
  tcpSendPoolBytes?: number;
  /** Maximum segment lifetime; TIME-WAIT lasts twice this (default 30000 ms). */
  tcpMslMs?: number;
  /** Out-of-order segments kept per connection (default: as many as the receive buffer holds). */
  tcpOutOfOrder?: number;
  tcpFinTimeoutMs?: number;
  /** Default congestion control (default 'cubic'). */
  tcpCongestion?: 'cubic' | 'newreno';
  tcpMinRtoMs?: number;
  tcpInitialRtoMs?: number;
  tcpDelayedAckMs?: number;
  tcpChallengeAcksPerSecond?: number;
  tcpSynRetries?: number;
  /** Initial congestion window in segments (default 10, RFC 6928). */
  tcpInitialCwnd?: number;
}

/** Every limit's name, so that a misspelt one is an error, not silently ignored. */
const LIMIT_NAMES: Record<keyof StackLimits, true> = {
  poolBytes: true, largePoolBytes: true, rxRing: true, txArena: true, neighbours: true, arpQueue: true, reassembly: true,
  reassemblyBuffers: true, reassemblyTimeoutMs: true, udpSockets: true, udpQueue: true, icmpErrorsPerSecond:
  true, neighbourTtlMs: true, memoryBytes: true, tcpSockets: true, tcpSendBuffer: true, tcpReceiveBuffer: true,
  tcpSendPoolBytes: true, tcpMslMs: true, tcpOutOfOrder: true, tcpFinTimeoutMs: true, tcpCongestion: true,
  tcpMinRtoMs: true, tcpInitialRtoMs: true, tcpDelayedAckMs: true, tcpChallengeAcksPerSecond: true,
  tcpSynRetries: true, tcpInitialCwnd: true,
};

export interface StackOptions {
  name?: string;
  link?: Link;
  address?: string | string[];
  mac?: string;
  /** For `link`: use its offloads (default true); see InterfaceOptions. */
  offload?: boolean;
  interfaces?: InterfaceOptions[];
  gateway?: string;
  clock?: Clock;
  /** Secret for ISNs and port choice; a number gives a reproducible stack. Default: random. */
  seed?: number;
  limits?: StackLimits;
  /** Run the debug core (assertions on). */
  debug?: boolean;
}

export interface PingOptions { timeout?: number; size?: number }

type PendingPing = { resolve: (ms: number) => void; reject: (e: Error) => void; t0: number; timer: Timer; dst: number };

let stackCount = 0;

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

function seedWords(seed: number | undefined): number[] {
  if (seed === undefined) return Array.from(webcrypto.getRandomValues(new Uint32Array(4)));
  let x = seed >>> 0;
  return [0, 1, 2, 3].map(() => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  });
}

export class Stack {
  readonly name: string;
  readonly clock: Clock;
  readonly dgram: DgramFactory;
  readonly net: NetFactory;
  /** @internal */ readonly core: CoreExports;
  /** @internal */ readonly view: CoreView;
  private readonly links: Link[] = [];
  private readonly interfaces: { mac: string; mtu: number; addresses: string[] }[] = [];
  private counterNames: string[] = [];
  private pollTimer: Timer | null = null;
  private kickTimer: Timer | null = null;
  private deadline = -1;
  private busy = false;
  private closed = false;
  private pingId: number;
  private pingSeq = 0;
  private pings = new Map<number, PendingPing>();
  /** @internal */ readonly udp = new Map<number, UdpSocket>();
  /** @internal */ readonly tcp = new Map<number, TcpHandle>();
  private host = { rxNoBuffer: 0, rxTooBig: 0, rxAfterClose: 0, rxLarge: 0, linksDown: 0 };

  private constructor(opts: StackOptions) {
    this.name = opts.name ?? `stack${++stackCount}`;
    this.clock = opts.clock ?? realClock;
    this.core = instantiateCore(opts.debug ? 'debug' : 'release');
    this.view = new CoreView(this.core);
    this.pingId = fnv(this.name) & 0xffff;
    this.dgram = new DgramFactory(this);
    this.net = new NetFactory(this);
  }

  static async create(opts: StackOptions): Promise<Stack> {
    return Stack.createSync(opts);
  }

  /** The same as create(), for callers that cannot await (tests on a virtual clock). */
  static createSync(opts: StackOptions): Stack {
    if (!opts || typeof opts !== 'object') throw new TypeError('Stack.create: options object required');
    const ifaces: InterfaceOptions[] = opts.interfaces ? [...opts.interfaces] : [];
    if (opts.link) {
      if (opts.interfaces) throw new TypeError('Stack.create: give either link/address or interfaces, not both');
      if (opts.address === undefined) throw new TypeError('Stack.create: link given without address');
      ifaces.push({ link: opts.link, address: opts.address, mac: opts.mac, offload: opts.offload });
    }
    const s = new Stack(opts);
    s.setup(opts, ifaces);
    return s;
  }

  private setup(opts: StackOptions, ifaces: InterfaceOptions[]): void {
    const c = this.core, v = this.view;
    const l = opts.limits ?? {};
    for (const k of Object.keys(l)) if (!(k in LIMIT_NAMES)) throw new RangeError(`Stack.create: unknown limit "${k}"`);
    const maxMtu = Math.max(1500, ...ifaces.map((i) => i.link.mtu));
    const put = (off: number, val: number | undefined) => {
      if (val === undefined) return;
      if (!Number.isInteger(val) || val < 0 || val > 0xffffffff) throw new RangeError(`Stack.create: bad limit ${val}`);
      v.setW(off, val);
    };
    put(CFG.MAX_FRAME, maxMtu + 14);
    put(CFG.POOL_BYTES, l.poolBytes);
    put(CFG.LARGE_BYTES, l.largePoolBytes ?? LARGE_POOL_BYTES);
    put(CFG.RX_RING, l.rxRing);
    put(CFG.TX_ARENA, l.txArena);
    put(CFG.NEIGH, l.neighbours);
    put(CFG.ARP_QLEN, l.arpQueue);
    put(CFG.REASM, l.reassembly);
    put(CFG.REASM_BUFS, l.reassemblyBuffers);
    put(CFG.REASM_MS, l.reassemblyTimeoutMs);
    put(CFG.UDP_SOCKS, l.udpSockets);
    put(CFG.UDP_QLEN, l.udpQueue);
    put(CFG.ICMP_RATE, l.icmpErrorsPerSecond);
    put(CFG.NEIGH_TTL, l.neighbourTtlMs);
    put(CFG.MEM_LIMIT, l.memoryBytes);
    put(CFG.TCP_SOCKS, l.tcpSockets);
    put(CFG.TCP_SNDBUF, l.tcpSendBuffer);
    put(CFG.TCP_RCVBUF, l.tcpReceiveBuffer);
    put(CFG.TCP_CHUNKS, l.tcpSendPoolBytes === undefined ? undefined : Math.max(1, Math.ceil(l.tcpSendPoolBytes / TCP_CHUNK)));
    put(CFG.TCP_MSL, l.tcpMslMs);
    put(CFG.TCP_OOO, l.tcpOutOfOrder);
    put(CFG.TCP_FIN_TIMEOUT, l.tcpFinTimeoutMs);
    if (l.tcpCongestion !== undefined) {
      if (l.tcpCongestion !== 'cubic' && l.tcpCongestion !== 'newreno') throw new RangeError(`Stack.create: tcpCongestion must be 'cubic' or 'newreno'`);
      put(CFG.TCP_CC, (l.tcpCongestion === 'cubic' ? TCP_CC.CUBIC : TCP_CC.NEWRENO) + 1);
    }
    put(CFG.TCP_MIN_RTO, l.tcpMinRtoMs);
    put(CFG.TCP_INIT_RTO, l.tcpInitialRtoMs);
    put(CFG.TCP_DELACK, l.tcpDelayedAckMs);
    put(CFG.TCP_CHALLENGE, l.tcpChallengeAcksPerSecond);
    put(CFG.TCP_SYN_RETRIES, l.tcpSynRetries);
    put(CFG.TCP_INIT_CWND, l.tcpInitialCwnd);
    seedWords(opts.seed).forEach((w, i) => put(CFG.SEED0 + 4 * i, w));
    const r = c.init();
    if (r < 0) throw shoalError(r, 'init', r === ERRNO.NOMEM ? '(memory limit too small for the configured pools)' : '');
    v.refresh();
    if (v.w(S.ABI_VERSION) !== ABI_VERSION) {
      throw new Error(`Stack.create: the core speaks ABI ${v.w(S.ABI_VERSION)}, this host ${ABI_VERSION}: rebuild them together ("npm run build")`);
    }
    this.ioCap = v.w(S.IO_CAP);
    this.rxRoom = v.w(S.BUF_SIZE) - v.w(S.BUF_DATA);
    this.largeMin = v.w(S.LARGE_NBUFS) ? v.w(S.LARGE_SIZE) >>> 2 : Infinity;
    this.counterNames = v.counterNames();
    ifaces.forEach((itf, i) => this.addInterface(itf, i));
    if (opts.gateway !== undefined) this.addRoute('0.0.0.0/0', opts.gateway);
  }

  private addInterface(itf: InterfaceOptions, i: number): void {
    if (!itf || !itf.link) throw new TypeError(`Stack.create: interface ${i} has no link`);
    const mac = itf.mac ?? formatMac(0x0200 | ((fnv(this.name) >>> 24) & 0xff), fnv(`${this.name}/${i}`));
    const [hi, lo] = parseMac(mac);
    const ifx = this.core.if_add(hi, lo, itf.link.mtu);
    if (ifx < 0) throw shoalError(ifx, 'if_add', `(mtu ${itf.link.mtu})`);
    const addrs = Array.isArray(itf.address) ? itf.address : [itf.address];
    for (const a of addrs) {
      const [ip, plen] = parseCidr(a);
      const r = this.core.addr_add(ifx, ip, plen);
      if (r < 0) throw shoalError(r, 'addr_add', a);
    }
    this.interfaces.push({ mac, mtu: itf.link.mtu, addresses: [...addrs] });
    this.links[ifx] = itf.link;
    // Offloads the link takes let TCP leave checksums and segmenting to it;
    // anything the link hands up, large segments included, the stack takes.
    // A link that takes frames in pieces (sendv) gets large TCP payloads
    // straight from the send buffers, uncopied (scatter-gather).
    const off = itf.offload === false ? undefined : itf.link.offload;
    if (off && (off.csum || off.gso)) {
      const sg = off.csum && typeof itf.link.sendv === 'function' ? 2 : 0;
      this.check(this.core.if_offload(ifx, (off.csum ? 1 : 0) | sg, off.gso >>> 0), 'if_offload',
        `(link offload ${JSON.stringify(off)}: gso needs csum and is at most 65535)`);
    }
    itf.link.rxOffload = { csum: true, gso: 65535 };
    itf.link.onFrame = (frame, flags) => this.deliver(frame, null, frame.length, ifx, flags);
    itf.link.onFrameV = (parts, flags) => {
      let len = 0;
      for (const p of parts) len += p.length;
      this.deliver(null, parts, len, ifx, flags);
    };
    // A link that goes away on its own (a deleted TAP, an unplugged port) is counted, and the
    // core stops routing over it: what needs it fails with ENETUNREACH instead of vanishing.
    itf.link.onDown = () => {
      this.host.linksDown++;
      if (!this.closed) this.core.if_up(ifx, 0);
    };
  }

  /** Adds an address to interface ifx (default 0): "10.0.0.100/24". */
  addAddress(cidr: string, ifx = 0): void {
    const [ip, plen] = parseCidr(cidr);
    const r = this.core.addr_add(ifx, ip, plen);
    if (r < 0) throw shoalError(r, 'addr_add', cidr);
    this.interfaces[ifx]?.addresses.push(cidr);
  }

  removeAddress(address: string): void {
    const ip = parseIPv4(address.split('/')[0]);
    const r = this.core.addr_del(ip);
    if (r < 0) throw shoalError(r, 'addr_del', address);
    for (const i of this.interfaces) i.addresses = i.addresses.filter((a) => a.split('/')[0] !== address.split('/')[0]);
  }

  /** Adds a route: "0.0.0.0/0" via "10.0.0.254"; without a gateway, directly on interface ifx. */
  addRoute(dest: string, via?: string, ifx = 0): void {
    const [dst, plen] = parseCidr(dest);
    const gw = via ? parseIPv4(via) : 0;
    const r = this.core.route_add(dst, plen, gw, ifx);
    if (r < 0) throw shoalError(r, 'route_add', `${dest}${via ? ' via ' + via : ''}`);
  }

  get addresses(): string[] { return this.interfaces.flatMap((i) => i.addresses); }
  /** @internal What "localhost" (and no address at all) means to this stack's sockets: its first address, reached through the loopback. */
  get localhost(): string { return this.addresses[0]?.split('/')[0] ?? '127.0.0.1'; }
  get macs(): string[] { return this.interfaces.map((i) => i.mac); }

  /** @internal Gives the core the time before a call that may start timers. */
  syncTime(): void { this.core.time(this.clock.now()); }

  private w(off: number): number { return this.view.w(off); }
  private setW(off: number, v: number): void { this.view.setW(off, v); }
  /** Fixed by init: the io area's size, a packet buffer's room for a frame, and the smallest frame worth a large buffer. */
  private ioCap = 0;
  private rxRoom = 0;
  private largeMin = Infinity;

  /** A frame from link ifx, whole or in pieces (parts), copied once into
   * buffers the core posted: one packet buffer; one large buffer for a large
   * segment the link merged (GSO); or, when no large buffer is free, several
   * packet buffers in a chain. */
  private deliver(frame: Uint8Array | null, parts: Uint8Array[] | null, len: number, ifx: number, flags: number): void {
    if (this.closed) { this.host.rxAfterClose++; return; }
    if (len > MAX_FRAME) { this.host.rxTooBig++; return; }
    const room = this.rxRoom;
    let n = this.placement(len);
    // Ring or pool full: hand over what we have now, unless we are inside our own call.
    if (n === 0 && !this.busy) { this.poll(); n = this.placement(len); }
    if (n === 0) { this.host.rxNoBuffer++; return; }
    const large = n < 0;
    if (large) { n = 1; this.host.rxLarge++; }
    // Pieces go one after another into one buffer; over a chain they are joined first.
    if (parts && n > 1) { joined(parts, len, (f) => this.deliver(f, null, len, ifx, flags)); return; }
    const step = large ? len : room;
    // A partial checksum came through memory or from the local kernel: nothing could corrupt it.
    const word = ifx | (flags & (FRAME_CSUM_OK | FRAME_CSUM_PARTIAL) ? FRAME_CSUM_OK << 16 : 0);
    const u8 = this.view.u8, u32 = this.view.u32, bufData = this.w(S.BUF_DATA);
    const freeAt = this.w(large ? S.LARGE_FREE : S.FREE) >>> 2, freeCount = large ? S.LARGE_FREE_COUNT : S.FREE_COUNT;
    let free = this.w(freeCount);
    const rx = this.w(S.RX_COUNT);
    let d = (this.w(S.RX_DESC) >>> 2) + rx * DESC_WORDS;
    for (let i = 0, off = 0; i < n; i++, off += step, d += DESC_WORDS) {
      const at = u32[freeAt + --free] + bufData;
      const end = Math.min(off + step, len);
      if (parts) {
        let o = at;
        for (const p of parts) { u8.set(p, o); o += p.length; }
      } else u8.set(n === 1 ? frame! : frame!.subarray(off, end), at);
      u32[d] = at;
      u32[d + 1] = end - off;
      u32[d + 2] = end < len ? word | (FRAME_MORE << 16) : word;
      u32[d + 3] = 0;
    }
    this.setW(freeCount, free);
    this.setW(S.RX_COUNT, rx + n);
    this.kick();
  }

  /** How a frame of len bytes goes to the core now: 0, no room; -1, whole in
   * a large buffer (a merged segment big enough to fill a good part of one);
   * else the number of small buffers it takes, chained (FRAME_MORE). */
  private placement(len: number): number {
    const room = this.rxRoom;
    const ring = this.w(S.RX_CAP) - this.w(S.RX_COUNT);
    if (len > room && len >= this.largeMin && this.w(S.LARGE_FREE_COUNT) > 0) return ring > 0 ? -1 : 0;
    const parts = len <= room ? 1 : Math.ceil(len / room);
    return ring >= parts && this.w(S.FREE_COUNT) >= parts ? parts : 0;
  }

  /** Schedules a poll as soon as the current work is done. */
  /** @internal */ kick(): void {
    if (this.kickTimer || this.closed) return;
    this.kickTimer = this.clock.setTimer(() => { this.kickTimer = null; this.poll(); }, 0);
  }

  private poll(): void {
    if (this.closed || this.busy) return;
    this.busy = true;
    let next: number;
    try {
      next = this.core.poll(this.clock.now());
      this.flushTx();
    } finally {
      this.busy = false;
    }
    this.dispatchEvents();
    this.schedule(next);
  }

  private schedule(next: number): void {
    if (this.closed || next === this.deadline) return;
    if (this.pollTimer) { this.clock.clearTimer(this.pollTimer); this.pollTimer = null; }
    this.deadline = next;
    if (next < 0) return;
    this.pollTimer = this.clock.setTimer(() => { this.pollTimer = null; this.deadline = -1; this.poll(); },
      Math.max(0, next - this.clock.now()));
  }

  /** Sends what the core queued and reads its events; after every call into the core. */
  /** @internal */ drain(): void {
    // Frames from a socket call go out with the links' own batching (a TAP
    // writes them on the next turn); only a poll pushes links at once.
    this.flushTx(false);
    this.dispatchEvents();
    this.kick();
  }

  private flushTx(pushLinks = true): void {
    const n = this.w(S.TX_COUNT);
    if (n === 0) return;
    const base = this.w(S.TX_DESC) >>> 2;
    const u8 = this.view.u8, u32 = this.view.u32, links = this.links;
    let used = 0;   // bit per interface index (the first 31), the rest flushed together
    for (let i = 0; i < n; i++) {
      const d = base + i * DESC_WORDS;
      const p = u32[d], len = u32[d + 1], word = u32[d + 2], ifx = word & 0xffff, gso = u32[d + 3];
      // What the core built went through no wire: its checksums (complete or left to the link) are good.
      const flags = FRAME_CSUM_OK | ((word >>> 16) & ~FRAME_MORE);
      const link = links[ifx];
      if (word & (FRAME_MORE << 16)) {
        // A frame in pieces (scatter-gather): headers here, the payload in the send buffer.
        const parts = [u8.subarray(p, p + len)];
        let total = len;
        while (i + 1 < n && (u32[base + i * DESC_WORDS + 2] & (FRAME_MORE << 16))) {
          i++;
          const q = u32[base + i * DESC_WORDS], l = u32[base + i * DESC_WORDS + 1];
          parts.push(u8.subarray(q, q + l));
          total += l;
        }
        if (!link) continue;
        if (link.sendv) link.sendv(parts, flags, gso);
        else joined(parts, total, (f) => link.send(f, flags, gso));
      } else {
        if (!link) continue;
        link.send(u8.subarray(p, p + len), flags, gso);
      }
      used |= 1 << Math.min(ifx, 31);
    }
    this.setW(S.TX_COUNT, 0);
    for (let i = 0; pushLinks && used !== 0 && i < links.length; i++) {
      if (used & (1 << Math.min(i, 31))) links[i]?.flush?.();
    }
  }

  private dispatchEvents(): void {
    const n = this.w(S.EV_COUNT);
    const lost = this.w(S.EV_LOST);
    if (n === 0 && lost === 0) return;
    const base = this.w(S.EV) >>> 2;
    const evs = this.view.u32.slice(base, base + n * 4);   // a copy: handlers call the core, which reuses the ring
    this.setW(S.EV_COUNT, 0);
    this.setW(S.EV_LOST, 0);
    for (let i = 0; i < evs.length; i += 4) this.event(evs[i], evs[i + 1], evs[i + 2], evs[i + 3]);
    if (lost) {
      for (const s of this.udp.values()) s._readable();
      for (const h of [...this.tcp.values()]) h._tcpEvent(TCP_RESCAN, 0);
    }
  }

  private event(type: number, a: number, b: number, c: number): void {
    if (type >= EV.TCP && type < EV_TCP_END) { this.tcp.get(a)?._tcpEvent(type, b); return; }
    switch (type) {
      case EV.UDP_READABLE: this.udp.get(a)?._readable(); break;
      case EV.ECHO_REPLY: {
        const p = this.pings.get(a);
        if (p && p.dst === b) this.settlePing(a, null, this.clock.now() - p.t0);
        break;
      }
      case EV.UNREACHABLE: {
        const why = b === 0 ? 'no ARP reply' : `ICMP type ${b >> 8} code ${b & 255}`;
        if (b === 0) {
          for (const [k, p] of this.pings) if (p.dst === a) this.settlePing(k, unreachable(a, why));
        } else {
          this.settlePing(c, unreachable(a, why));
        }
        break;
      }
      case EV.UDP_ERROR: this.udp.get(a)?._unreachable(c, b); break;
    }
  }

  private settlePing(key: number, err: Error | null, ms = 0): void {
    const p = this.pings.get(key);
    if (!p) return;
    this.pings.delete(key);
    this.clock.clearTimer(p.timer);
    if (err) p.reject(err); else p.resolve(ms);
  }

  /** Sends an ICMP echo request; resolves with the round-trip time in ms. */
  ping(address: string, opts: PingOptions = {}): Promise<number> {
    const timeout = opts.timeout ?? 5000;
    const size = opts.size ?? 56;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('ping: stack is closed'));
      const dst = parseIPv4(address);
      this.pingSeq = (this.pingSeq + 1) & 0xffff;
      const key = ((this.pingId << 16) | this.pingSeq) >>> 0;
      this.syncTime();
      const r = this.core.ping(dst, this.pingId, this.pingSeq, size);
      if (r < 0) { this.drain(); return reject(shoalError(r, 'ping', address)); }
      const timer = this.clock.setTimer(() => {
        this.settlePing(key, Object.assign(new Error(`ping ${address}: no reply within ${timeout} ms`), { code: 'ETIMEDOUT' }));
      }, timeout);
      this.pings.set(key, { resolve, reject, t0: this.clock.now(), timer, dst });
      this.drain();
    });
  }

  /** Every counter of the core (drop reasons among them), the host's own, and the pool. */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.closed) return out;
    const v = this.view;
    this.counterNames.forEach((n, i) => { out[n] = v.counter(i); });
    Object.assign(out, this.host);
    this.syncTime();
    this.core.tables();
    out.neighbours = v.ioWord(0);
    out.reassemblyBuffers = v.ioWord(1);
    this.core.tcp_tables();
    out.tcpSockets = v.ioWord(0);
    out.tcpTimeWait = v.ioWord(1);
    out.tcpChunksUsed = v.ioWord(2);
    out.tcpChunks = v.ioWord(3);
    out.tcpTimers = v.ioWord(5);
    out.buffers = this.w(S.NBUFS);
    out.buffersFree = this.w(S.FREE_COUNT);
    out.largeBuffers = this.w(S.LARGE_NBUFS);
    out.largeBuffersFree = this.w(S.LARGE_FREE_COUNT);
    out.memoryBytes = this.core.memory.buffer.byteLength;
    return out;
  }

  /** @internal A socket's tcp_info, or null when there is none. */
  tcpInfo(sd: number): TcpInfoWords | null {
    if (sd < 0 || this.closed || this.core.tcp_info(sd) < 0) return null;
    return this.view.tcpInfo();
  }

  /** @internal Takes up to max received bytes of sd; returns them (0: none
   * queued; < 0: -errno). They are loans: tcpCopyOut them before the next call. */
  tcpRecv(sd: number, max: number): number {
    const n = this.core.tcp_recv(sd, max);
    if (n <= 0) return n;
    this.recvRecords = n;
    return this.recvBytes = this.view.recordBytes(n);
  }

  /** @internal Copies out what tcpRecv took, in pieces of at most `piece` bytes. */
  tcpCopyOut(piece: number, sink: PieceSink): void {
    this.view.copyRecords(this.recvRecords, this.recvBytes, piece, sink);
  }
  private recvRecords = 0;
  private recvBytes = 0;

  /** @internal Puts as much of chunk from off on as fits into sd's send buffer;
   * more: the caller has more to write at once (MSG_MORE). Returns the bytes
   * taken (0: full; < 0: -errno). */
  tcpWrite(sd: number, chunk: Uint8Array, off: number, more: boolean): number {
    const n = this.core.tcp_send_space(sd);
    if (n <= 0) return n;
    const take = Math.min(n, chunk.length - off);
    this.view.putSendSpace(take === chunk.length ? chunk : chunk.subarray(off, off + take));
    this.core.tcp_send_commit(sd, take, more || off + take < chunk.length ? 1 : 0);
    return take;
  }

  /** @internal Sends a datagram from sd (addr and port 0 on a connected socket); returns its length or -errno. */
  udpSend(sd: number, data: Uint8Array, addr: number, port: number): number {
    if (data.length > this.ioCap) return ERRNO.MSGSIZE;
    this.view.putIo(data);
    this.syncTime();
    return this.core.udp_send(sd, addr, port, data.length);
  }

  /** @internal Up to max datagrams of sd, copied out into got as (payload, source, port); returns how many or -errno. */
  udpRecv(sd: number, max: number, got: [Buffer, number, number][]): number {
    const n = this.core.udp_recv(sd, max);
    if (n > 0) this.view.udpRecords(n, got);
    return n;
  }

  /** @internal sd's local address and port. */
  udpLocal(sd: number): [number, number] {
    this.check(this.core.udp_local(sd), 'getsockname');
    return [this.view.ioWord(0), this.view.ioWord(1)];
  }

  /** @internal Raises a core error as a Node-style error. */
  check(r: number, syscall: string, detail = ''): number {
    if (r < 0) throw shoalError(r, syscall, detail);
    return r;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const s of [...this.udp.values()]) s.close();
    for (const h of [...this.tcp.values()]) h._stackClosing();
    for (const k of [...this.pings.keys()]) this.settlePing(k, new Error('ping: stack closed'));
    this.closed = true;
    if (this.pollTimer) this.clock.clearTimer(this.pollTimer);
    if (this.kickTimer) this.clock.clearTimer(this.kickTimer);
    for (const l of this.links) if (l) { l.onFrame = null; l.onDown = null; l.close(); }
  }

  get isClosed(): boolean { return this.closed; }
}

function unreachable(addr: number, why: string): Error {
  return Object.assign(new Error(`${formatIPv4(addr)}: host unreachable (${why})`), { code: 'EHOSTUNREACH' });
}
