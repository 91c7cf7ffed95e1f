// A raw core instance for fuzzing: the exports of build/shoal*.wasm driven
// directly (no Stack), with frames placed anywhere in a buffer — at the start,
// flush against the buffer's end, or flush against the end of linear memory
// in the pool's last buffer, where any read past the frame traps.
import { instantiateCore, type CoreExports, type CoreKind } from '../../host/wasm.ts';
import { Random } from '../../host/random.ts';
import { SCB as S, CFG, EV, FRAME } from '../../host/core-abi.ts';
import { DESC_WORDS } from '../../host/core-view.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_ICMP, PROTO_TCP, PROTO_UDP, arp, ether, fmtIp, get16, get32, sum16, fold16,
  pseudo } from '../helpers/frames.ts';
import type { Topology } from './gen.ts';

export { S, CFG };

const COUNTERS = ['rxFrames', 'rxBytes', 'rxBadDesc', 'txFrames', 'txBytes', 'arpTx', 'rxBadIface', 'rxRunt', 'rxNotForUs',
  'rxEthertype', 'arpRx', 'ipRx', 'reasmOk', 'ipBadLen', 'ipBadVersion', 'ipBadHlen', 'ipBadChecksum', 'ipMartian', 'ipNotLocal',
  'ipMulticast', 'ipFragRx', 'udpRx', 'tcpRx', 'icmpRx', 'ipBadProto', 'icmpBad', 'icmpEchoRx', 'icmpEchoReplyRx', 'icmpUnreachRx',
  'icmpOtherRx', 'rxChainBad', 'ipChainBad', 'loopback', 'ipBadOption', 'ipSourceRoute'] as const;
type CounterName = typeof COUNTERS[number];

export const { UDP_READABLE: EV_UDP_READABLE, ECHO_REPLY: EV_ECHO_REPLY, UNREACHABLE: EV_UNREACHABLE, UDP_ERROR: EV_UDP_ERROR, ADDR_CONFLICT: EV_ADDR_CONFLICT, TCP: EV_TCP } = EV;
const { MORE, CSUM_PARTIAL, GSO } = FRAME;

export interface CoreConfig {
  poolBytes?: number; maxFrame?: number; rxRing?: number; txArena?: number; txRing?: number; events?: number;
  neigh?: number; arpQlen?: number; reasm?: number; reasmBufs?: number; reasmMs?: number; udpSocks?: number;
  udpQlen?: number; icmpRate?: number; neighTtl?: number; seed?: number[]; largeBytes?: number;
  /** Any other config words, by SCB offset (e.g. CFG.TCP_MSL). */
  words?: [number, number][];
}

/** Where a frame goes in its buffer. */
export const enum Place {
  /** At BUF_DATA. */
  Start = 0,
  /** Flush against the end of its buffer. */
  End = 1,
  /** In the pool's last buffer, flush against the end of linear memory (End if that buffer is taken). */
  MemEnd = 2,
  /** Anywhere it fits. */
  Random = 3,
  /** In a large buffer, anywhere it fits (Random if none is free). */
  Large = 4,
}

/** What fills the rest of the buffer around a frame. */
export const enum Fill { Keep = 0, Zero = 1, Junk = 2 }

export class FuzzFailure extends Error {}

export class FuzzCore {
  readonly ex: CoreExports;
  u8: Uint8Array;
  u32: Uint32Array;
  readonly scb: number;
  readonly names: string[];
  readonly idx: Record<string, number> = {};
  /** Indices of the counters the oracles read. */
  readonly ix: Record<CounterName, number>;
  bufSize = 0; bufData = 0; pool = 0; nbufs = 0; memEnd = 0; lastBuf = 0; room = 0;
  rxDesc = 0; rxCap = 0; freeAddr = 0; countersAt = 0; io = 0; ioCap = 0;
  largeSize = 0; nlarge = 0; largePool = 0; largeFreeAddr = 0;
  socks: number[] = [];
  /** TCP sockets are in use (TCP events expected). */
  tcp = false;
  /** Named in failure messages. */
  label = '';
  /** Logs every frame in and out (FUZZ_TRACE). */
  trace = false;
  mtus: number[] = [];
  bcastSock = -1;
  /** Frames the core accepted (good descriptors) and their bytes, for the counter oracle. */
  accepted = 0;
  acceptedBytes = 0;
  badDescs = 0;
  /** The last frame handed over said FRAME_MORE; chainBytes: the open chain's bytes so far. */
  private chainOpen = false;
  private chainBytes = 0;
  /** Frames that went flush against the end of linear memory; in large buffers. */
  atMemEnd = 0;
  inLarge = 0;
  txSeen = 0;
  txBytesSeen = 0;
  arpTxSeen = 0;
  udpRecords = 0;
  private junk: Uint8Array;

  constructor(readonly kind: CoreKind, cfg: CoreConfig, junkSeed = 1) {
    this.ex = instantiateCore(kind);
    this.scb = this.ex.scb();
    this.u8 = new Uint8Array(this.ex.memory.buffer);
    this.u32 = new Uint32Array(this.ex.memory.buffer);
    const put = (off: number, v: number | undefined) => { if (v !== undefined) this.u32[(this.scb + off) >>> 2] = v >>> 0; };
    put(CFG.POOL_BYTES, cfg.poolBytes); put(CFG.MAX_FRAME, cfg.maxFrame); put(CFG.RX_RING, cfg.rxRing);
    put(CFG.TX_ARENA, cfg.txArena); put(CFG.TX_RING, cfg.txRing); put(CFG.EVENTS, cfg.events);
    put(CFG.NEIGH, cfg.neigh); put(CFG.ARP_QLEN, cfg.arpQlen); put(CFG.REASM, cfg.reasm); put(CFG.REASM_BUFS, cfg.reasmBufs);
    put(CFG.REASM_MS, cfg.reasmMs); put(CFG.UDP_SOCKS, cfg.udpSocks); put(CFG.UDP_QLEN, cfg.udpQlen);
    put(CFG.ICMP_RATE, cfg.icmpRate); put(CFG.NEIGH_TTL, cfg.neighTtl); put(CFG.LARGE_BYTES, cfg.largeBytes);
    (cfg.seed ?? [1, 2, 3, 4]).forEach((w, i) => put(CFG.SEED0 + 4 * i, w));
    for (const [off, v] of cfg.words ?? []) put(off, v);
    const r = this.ex.init();
    if (r < 0) throw new Error(`init failed: ${r}`);
    this.u8 = new Uint8Array(this.ex.memory.buffer);
    this.u32 = new Uint32Array(this.ex.memory.buffer);
    this.bufSize = this.w(S.BUF_SIZE); this.bufData = this.w(S.BUF_DATA); this.pool = this.w(S.POOL);
    this.nbufs = this.w(S.NBUFS); this.memEnd = this.w(S.MEM_END);
    this.lastBuf = this.pool + (this.nbufs - 1) * this.bufSize;
    this.room = this.bufSize - this.bufData;
    this.largeSize = this.w(S.LARGE_SIZE); this.nlarge = this.w(S.LARGE_NBUFS);
    this.largePool = this.w(S.LARGE_POOL); this.largeFreeAddr = this.w(S.LARGE_FREE);
    if (this.nlarge && this.largePool + this.nlarge * this.largeSize !== this.pool) throw new FuzzFailure('the large buffers do not end where the pool starts');
    this.rxDesc = this.w(S.RX_DESC); this.rxCap = this.w(S.RX_CAP); this.freeAddr = this.w(S.FREE);
    this.countersAt = this.w(S.COUNTERS) >>> 2; this.io = this.w(S.IO); this.ioCap = this.w(S.IO_CAP);
    if (this.memEnd !== this.ex.memory.buffer.byteLength) throw new FuzzFailure(`SCB_MEM_END ${this.memEnd} != memory size ${this.ex.memory.buffer.byteLength}`);
    if (this.lastBuf + this.bufSize !== this.memEnd) throw new FuzzFailure('the pool does not end at the end of memory');
    const at = this.w(S.NAMES);
    this.names = String.fromCharCode(...this.u8.subarray(at, at + this.w(S.NAMES_BYTES))).split(',');
    if (this.names.length !== this.w(S.NCOUNTERS)) throw new FuzzFailure(`${this.names.length} counter names for ${this.w(S.NCOUNTERS)} counters`);
    this.names.forEach((n, i) => { this.idx[n] = i; });
    for (const n of COUNTERS) if (this.idx[n] === undefined) throw new FuzzFailure(`the core has no counter ${n}`);
    this.ix = Object.fromEntries(COUNTERS.map((n) => [n, this.idx[n]])) as Record<CounterName, number>;
    const jr = new Random(junkSeed);
    this.junk = new Uint8Array(this.room * 2 + 64);
    for (let i = 0; i < this.junk.length; i++) this.junk[i] = jr.u32() & 255;
  }

  w(off: number): number { return this.u32[(this.scb + off) >>> 2]; }
  setW(off: number, v: number): void { this.u32[(this.scb + off) >>> 2] = v; }
  c(name: string): number {
    const i = this.idx[name];
    if (i === undefined) throw new Error(`no counter ${name}`);
    return this.u32[this.countersAt + i];
  }
  counters(): Uint32Array { return this.u32.slice(this.countersAt, this.countersAt + this.names.length); }
  get free(): number { return this.w(S.FREE_COUNT); }
  get largeFree(): number { return this.w(S.LARGE_FREE_COUNT); }
  /** The lowest buffer address of either pool. */
  get buffersStart(): number { return this.nlarge ? this.largePool : this.pool; }

  /** Interfaces, addresses, routes and sockets from the topology. */
  setup(t: Topology): void {
    for (const itf of t.ifaces) {
      const m = itf.mac;
      const ifx = this.ex.if_add((m[0] << 8) | m[1], get32(m, 2), itf.mtu);
      if (ifx < 0) throw new Error(`if_add: ${ifx}`);
      this.mtus[ifx] = itf.mtu;
      for (const a of itf.addrs) { const r = this.ex.addr_add(ifx, a.ip, a.plen); if (r < 0) throw new Error(`addr_add ${fmtIp(a.ip)}: ${r}`); }
    }
    for (const r of t.routes) { const x = this.ex.route_add(r.dst, r.plen, r.gw, r.ifx); if (x < 0) throw new Error(`route_add: ${x}`); }
    for (const u of t.udp) {
      const sd = this.ex.udp_open();
      if (sd < 0) throw new Error(`udp_open: ${sd}`);
      let r = this.ex.udp_bind(sd, u.addr, u.port);
      if (r < 0) throw new Error(`udp_bind ${fmtIp(u.addr)}:${u.port}: ${r}`);
      if (u.connect) { r = this.ex.udp_connect(sd, u.connect.addr, u.connect.port); if (r < 0) throw new Error(`udp_connect: ${r}`); }
      if (u.broadcast) { this.ex.udp_broadcast(sd, 1); if (this.bcastSock < 0) this.bcastSock = sd; }
      this.socks.push(sd);
    }
  }

  /** ARP replies from every peer, so output to them goes straight out. */
  announcePeers(t: Topology, now: number, sink: TxSink | null = null): void {
    for (const p of t.peers) {
      const itf = t.ifaces[p.ifx];
      const f = ether(itf.mac, p.mac, ETHERTYPE_ARP, arp({ op: 2, sha: p.mac, spa: p.ip, tha: itf.mac, tpa: itf.addrs[0].ip }));
      if (this.rx(f, p.ifx, 0, Place.Start, Fill.Keep) < 0) throw new FuzzFailure('no free buffer to announce peers');
    }
    this.poll(now, sink);
  }

  // ------------------------------------------------------------ rx

  /** Pops a buffer from the free stack: the pool's last one (moved to the top first) if wanted and free;
   * otherwise any but that one, so it stays free for the next frame that wants it. */
  pop(wantLast: boolean): number {
    let n = this.w(S.FREE_COUNT);
    if (n === 0) return 0;
    const base = this.freeAddr >>> 2;
    if (wantLast) {
      for (let i = n - 1; i >= 0; i--) {
        if (this.u32[base + i] === this.lastBuf) {
          this.u32[base + i] = this.u32[base + n - 1];
          this.u32[base + n - 1] = this.lastBuf;
          break;
        }
      }
    } else if (n > 1 && this.u32[base + n - 1] === this.lastBuf) {
      // Keep the last buffer for a frame that wants it.
      this.u32[base + n - 1] = this.u32[base + n - 2];
      this.u32[base + n - 2] = this.lastBuf;
    }
    n--;
    this.setW(S.FREE_COUNT, n);
    return this.u32[base + n];
  }

  push(b: number): void {
    const n = this.w(S.FREE_COUNT);
    this.u32[(this.freeAddr >>> 2) + n] = b;
    this.setW(S.FREE_COUNT, n + 1);
  }

  /** Pops a large buffer, or 0 when none is free. */
  popLarge(): number {
    const n = this.w(S.LARGE_FREE_COUNT);
    if (n === 0) return 0;
    this.setW(S.LARGE_FREE_COUNT, n - 1);
    return this.u32[(this.largeFreeAddr >>> 2) + n - 1];
  }

  pushLarge(b: number): void {
    const n = this.w(S.LARGE_FREE_COUNT);
    this.u32[(this.largeFreeAddr >>> 2) + n] = b;
    this.setW(S.LARGE_FREE_COUNT, n + 1);
  }

  desc(p: number, len: number, word: number): void {
    const n = this.w(S.RX_COUNT);
    if (n >= this.rxCap) throw new Error('rx ring full');
    const d = (this.rxDesc >>> 2) + n * DESC_WORDS;
    this.u32[d] = p; this.u32[d + 1] = len; this.u32[d + 2] = word >>> 0; this.u32[d + 3] = 0;
    this.setW(S.RX_COUNT, n + 1);
  }

  get rxQueued(): number { return this.w(S.RX_COUNT); }

  /** Writes a frame into a free buffer and posts it. Returns where the frame went, or -1 when no buffer is free. */
  rx(bytes: Uint8Array, ifx: number, flags: number, place: Place, fill: Fill, r: Random | null = null, off = -1): number {
    const len = bytes.length;
    let b = place === Place.Large ? this.popLarge() : 0;
    const size = b ? this.largeSize : this.bufSize, room = size - this.bufData;
    if (place === Place.Large && !b) place = Place.Random;
    if (len > room) throw new Error(`frame of ${len} bytes does not fit a buffer (${room})`);
    if (!b) b = this.pop(place === Place.MemEnd);
    if (!b) return -1;
    let at: number;
    if (place === Place.Start) at = b + this.bufData;
    else if (place === Place.Random || place === Place.Large) at = b + this.bufData + (off >= 0 ? off % (room - len + 1) : r ? r.int(room - len + 1) : 0);
    else at = b + size - len;
    // An empty frame still needs a pointer inside its buffer: at its end it would name the next one.
    if (len === 0 && at === b + size) at--;
    if (fill === Fill.Zero) this.u8.fill(0, b + this.bufData, b + size);
    else if (fill === Fill.Junk) {
      const o = r ? r.int(this.junk.length - this.room + 1) : 0;
      this.u8.set(this.junk.subarray(o, o + this.room), b + this.bufData);
    }
    this.u8.set(bytes, at);
    if (this.trace) console.log(`${this.label} rx @${at} len ${len} ifx ${ifx} flags ${flags} ${hexAt(this.u8, at, len)}`);
    if (at + len === this.memEnd) this.atMemEnd++;
    if (place === Place.Large) this.inLarge++;
    this.desc(at, len, (ifx & 0xffff) | ((flags & 0xffff) << 16));
    // FRAME_MORE chains the next descriptor to this one: one frame for the counters.
    if (!this.chainOpen) { this.accepted++; this.chainBytes = 0; }
    this.acceptedBytes += len;
    this.chainBytes += len;
    this.chainOpen = (flags & MORE) !== 0;
    return at;
  }

  // ------------------------------------------------------------ poll and outputs

  poll(now: number, sink: TxSink | null): number {
    if (this.trace) console.log(`${this.label} poll ${now}`);
    if (this.chainOpen) {
      // A chain still open at the end of the batch is refused as a bad descriptor.
      this.accepted--;
      this.acceptedBytes -= this.chainBytes;
      this.badDescs++;
      this.chainOpen = false;
    }
    const d = this.ex.poll(now);
    this.afterCall(sink);
    return d;
  }

  /** After every call: memory unchanged, tx frames checked (and handed to sink), events checked. */
  afterCall(sink: TxSink | null): void {
    if (this.ex.memory.buffer.byteLength !== this.memEnd || this.u8.byteLength !== this.memEnd) {
      throw new FuzzFailure(`linear memory changed size: ${this.memEnd} -> ${this.ex.memory.buffer.byteLength}`);
    }
    if (this.w(S.RX_COUNT) !== 0) throw new FuzzFailure(`SCB_RX_COUNT is ${this.w(S.RX_COUNT)} after a call`);
    const n = this.w(S.TX_COUNT);
    if (n > this.w(S.TX_CAP)) throw new FuzzFailure(`SCB_TX_COUNT ${n} > cap ${this.w(S.TX_CAP)}`);
    const base = this.w(S.TX_DESC) >>> 2;
    for (let i = 0; i < n; i++) {
      const d = base + i * DESC_WORDS;
      const p = this.u32[d], len = this.u32[d + 1], word = this.u32[d + 2], ifx = word & 0xffff;
      if (this.trace) console.log(`${this.label} tx @${p} len ${len} word ${word.toString(16)} ${hexAt(this.u8, p, len)}`);
      const fail = (err: string, u: Uint8Array, at: number, l: number) =>
        new FuzzFailure(`${this.label ? `[${this.label}] ` : ''}tx frame ${i}/${n} (ptr ${p}, len ${l}, ifx ${ifx}): ${err}\n  bytes: ${hexAt(u, at, Math.min(l, 256))}`);
      if (word >>> 16 || this.u32[d + 3]) {
        const f = this.offloaded(base, i, n);
        if (typeof f === 'string') throw fail(f, this.u8, p, len);
        const err = this.checkTx(f.frame, 0, f.frame.length, ifx, f.maxTot);
        if (err) throw fail(err, f.frame, 0, f.frame.length);
        i = f.last;
        this.txSeen++;
        this.txBytesSeen += f.frame.length;
        if (sink) sink(f.frame, 0, f.frame.length, ifx);
        continue;
      }
      if (p + len > this.memEnd || p + len < p) throw fail('outside memory', this.u8, p, 0);
      if (len > this.bufSize) throw fail(`longer than a buffer (${this.bufSize})`, this.u8, p, len);
      const err = this.checkTx(this.u8, p, len, ifx, this.mtus[ifx] ?? 0);
      if (err) throw fail(err, this.u8, p, len);
      this.txSeen++;
      this.txBytesSeen += len;
      if (sink) sink(this.u8, p, len, ifx);
    }
    this.setW(S.TX_COUNT, 0);
    const ne = this.w(S.EV_COUNT);
    const eb = this.w(S.EV) >>> 2;
    for (let i = 0; i < ne; i++) {
      const t = this.u32[eb + 4 * i], a = this.u32[eb + 4 * i + 1];
      if (t !== EV_UDP_READABLE && t !== EV_ECHO_REPLY && t !== EV_UNREACHABLE && t !== EV_UDP_ERROR && t !== EV_ADDR_CONFLICT &&
        !(t >= EV_TCP && this.tcp)) {
        throw new FuzzFailure(`event of unexpected type ${t}`);
      }
      if ((t === EV_UDP_READABLE || t === EV_UDP_ERROR) && !this.socks.includes(a)) throw new FuzzFailure(`event ${t} for UDP socket ${a}, not open`);
    }
    if (sink && sink.events) sink.events(this.u32.slice(eb, eb + 4 * ne));
    this.setW(S.EV_COUNT, 0);
    this.setW(S.EV_LOST, 0);
  }

  /** What offload() allowed per interface. */
  private offloads: { csum: boolean; sg: boolean; gso: number }[] = [];

  /** if_offload(ifx, csum | sg << 1, gso): what the host's link takes; afterCall then checks the flags. */
  offload(ifx: number, csum: boolean, sg: boolean, gso: number): void {
    const r = this.ex.if_offload(ifx, (csum ? 1 : 0) | (sg ? 2 : 0), gso);
    if (r < 0) throw new Error(`if_offload: ${r}`);
    this.offloads[ifx] = { csum, sg, gso };
  }

  /** A tx frame with offload flags starting at descriptor i: only flags its
   * interface allows; its pieces (FRAME_MORE) joined, each inside memory and
   * the chain ended within the ring; a partial TCP checksum completed, as a
   * link would. A copy, so the core's bytes stay as they are. */
  private offloaded(base: number, i: number, n: number): { frame: Uint8Array; last: number; maxTot: number } | string {
    const u32 = this.u32, d0 = base + i * DESC_WORDS, word = u32[d0 + 2], ifx = word & 0xffff, flags = word >>> 16, gso = u32[d0 + 3];
    const off = this.offloads[ifx];
    if (!off) return `flags ${flags} and gso ${gso} on an interface without if_offload`;
    if (flags & ~(MORE | CSUM_PARTIAL | GSO)) return `tx flags ${flags}`;
    if ((flags & MORE) && !off.sg) return 'FRAME_MORE without scatter-gather';
    if ((flags & CSUM_PARTIAL) && !off.csum) return 'FRAME_CSUM_PARTIAL without csum';
    if (flags & GSO ? !(flags & CSUM_PARTIAL) || gso === 0 || off.gso === 0 : gso !== 0) return `FRAME_GSO ${flags & GSO} with gso ${gso}`;
    const pieces: Uint8Array[] = [];
    let j = i, total = 0;
    for (;;) {
      const d = base + j * DESC_WORDS, p = u32[d], len = u32[d + 1], w = u32[d + 2];
      if (p + len > this.memEnd || p + len < p) return `piece ${j - i} outside memory`;
      if (j > i && ((w & 0xffff) !== ifx || (w >>> 16) & ~MORE || u32[d + 3] !== 0)) return `piece ${j - i}: word ${w.toString(16)}, gso ${u32[d + 3]}`;
      pieces.push(this.u8.subarray(p, p + len));
      total += len;
      if (!((w >>> 16) & MORE)) break;
      if (++j >= n) return 'a chain of pieces open at the end of the ring';
    }
    if (pieces.length > 1 && pieces[0].length < 54) return `first piece of ${pieces[0].length} bytes: not the headers`;
    if (total > 14 + 65535) return `frame of ${total} bytes`;
    const frame = new Uint8Array(total);
    let o = 0;
    for (const q of pieces) { frame.set(q, o); o += q.length; }
    if (flags & CSUM_PARTIAL) {
      if (total < 54 || get16(frame, 12) !== ETHERTYPE_IPV4 || frame[23] !== PROTO_TCP) return 'a partial checksum on a frame that is not IPv4 TCP';
      const l4 = 14 + ((frame[14] & 15) << 2), end = 14 + get16(frame, 16);
      if (end > total || l4 + 20 > end) return 'a partial checksum over a bad IP header';
      const sum = fold16(sum16(frame.subarray(l4, end)));
      frame[l4 + 16] = ~sum >> 8 & 255;
      frame[l4 + 17] = ~sum & 255;
    }
    const mtu = this.mtus[ifx] ?? 0;
    if (flags & GSO) {
      const l4 = 14 + ((frame[14] & 15) << 2), hdrs = l4 - 14 + ((frame[l4 + 12] >> 4) << 2);
      if (hdrs + gso > mtu) return `GSO segments of ${gso} bytes behind ${hdrs} bytes of headers on MTU ${mtu}`;
    }
    return { frame, last: j, maxTot: flags & GSO ? Math.max(mtu, off.gso) : mtu };
  }

  /** Every frame the core sends: well formed, an IP datagram of at most maxTot bytes (the MTU, or the GSO limit). */
  checkTx(u: Uint8Array, p: number, len: number, ifx: number, maxTot: number): string | null {
    if (ifx >= this.mtus.length) return 'no such interface';
    if (len < 14) return 'shorter than an Ethernet header';
    if (u[p + 6] & 1) return 'group source MAC';
    const type = (u[p + 12] << 8) | u[p + 13];
    if (type === ETHERTYPE_ARP) {
      this.arpTxSeen++;
      if (len < 42) return 'short ARP';
      const a = p + 14;
      if (get16(u, a) !== 1 || get16(u, a + 2) !== 0x0800 || u[a + 4] !== 6 || u[a + 5] !== 4) return 'bad ARP header';
      const op = get16(u, a + 6);
      if (op !== 1 && op !== 2) return `ARP op ${op}`;
      for (let i = 0; i < 6; i++) if (u[a + 8 + i] !== u[p + 6 + i]) return 'ARP sender MAC != Ethernet source';
      return null;
    }
    if (type !== ETHERTYPE_IPV4) return `ethertype ${type.toString(16)}`;
    const ip = p + 14;
    if (len < 34) return 'short IPv4';
    // Options only on an echo reply, reflecting the request's (RFC 1122 3.2.2.6).
    const hlen = (u[ip] & 15) * 4;
    if (u[ip] !== 0x45 && ((u[ip] >> 4) !== 4 || hlen < 20 || u[ip + 9] !== PROTO_ICMP || u[ip + hlen] !== 0)) {
      return `IPv4 version/IHL byte ${u[ip].toString(16)}`;
    }
    const tot = get16(u, ip + 2);
    if (tot !== len - 14) return `IP total length ${tot} != frame length - 14 (${len - 14})`;
    if (tot < hlen + 8 && hlen > 20) return 'options and no room for the echo reply';
    if (fold16(sum16(u.subarray(ip, ip + hlen))) !== 0xffff) return 'bad IP header checksum';
    if (tot > maxTot) return `IP datagram of ${tot} bytes on a link with a smaller MTU`;
    if (u[ip + 8] === 0) return 'TTL 0';
    const src = get32(u, ip + 12), dst = get32(u, ip + 16);
    if (src === 0 || src === 0xffffffff || (src >>> 28) === 14) return `source ${fmtIp(src)}`;
    if (dst === 0) return 'destination 0.0.0.0';
    const frag = get16(u, ip + 6);
    if (frag & 0x8000) return 'reserved fragment bit set';
    const mf = (frag & 0x2000) !== 0, off = (frag & 0x1fff) << 3;
    if (mf && ((tot - 20) & 7) !== 0) return 'a fragment with MF whose length is not a multiple of 8';
    if (off + tot - 20 > 65535) return 'fragment beyond 65535';
    if (mf || off) return hlen > 20 ? 'a fragment with options' : this.fragment(src, dst, get16(u, ip + 4), u[ip + 9], off, mf, u.subarray(ip + 20, ip + tot));
    return checkL4(u, ip + hlen, tot - hlen, src, dst, u[ip + 9]);
  }

  /** Outgoing fragments, put back together: the whole datagram must carry a valid L4 checksum. */
  private frags = new Map<string, { parts: [number, Uint8Array][]; total: number }>();
  private fragment(src: number, dst: number, id: number, proto: number, off: number, mf: boolean, data: Uint8Array): string | null {
    const key = `${src},${dst},${id},${proto}`;
    let e = this.frags.get(key);
    if (!e || off === 0) {
      if (this.frags.size > 4096) this.frags.clear();
      e = { parts: [], total: -1 };
      this.frags.set(key, e);
    }
    e.parts.push([off, data.slice()]);
    if (!mf) e.total = off + data.length;
    if (e.total < 0) return null;
    e.parts.sort((a, b) => a[0] - b[0]);
    let have = 0;
    for (const [o, d] of e.parts) {
      if (o > have) return null;                 // a gap: more to come
      if (o < have) return `fragments overlap at ${o} (datagram ${key})`;
      have += d.length;
    }
    if (have !== e.total) return have > e.total ? 'fragments run past the last one' : null;
    this.frags.delete(key);
    const whole = new Uint8Array(e.total);
    for (const [o, d] of e.parts) whole.set(d, o);
    const err = checkL4(whole, 0, whole.length, src, dst, proto);
    return err ? `reassembled datagram of ${e.total} bytes in ${e.parts.length} fragments: ${err}` : null;
  }

  // ------------------------------------------------------------ sockets

  /** Reads every queued datagram of one socket; checks each record. Returns the datagrams read. */
  recv(sd: number, sink: ((src: number, sport: number, data: Uint8Array) => void) | null = null): number {
    let total = 0;
    for (;;) {
      const n = this.ex.udp_recv(sd, 64);
      if (n < 0) throw new FuzzFailure(`udp_recv(${sd}): ${n}`);
      this.afterCall(null);
      if (n === 0) return total;
      let at = this.io >>> 2;
      for (let i = 0; i < n; i++) {
        const src = this.u32[at], sport = this.u32[at + 1], length = this.u32[at + 2], nseg = this.u32[at + 3];
        at += 4;
        if (sport > 65535 || length > 65507 || nseg === 0 || nseg > 256) throw new FuzzFailure(`udp_recv record: sport ${sport} length ${length} nseg ${nseg}`);
        let sum = 0;
        const data = sink ? new Uint8Array(length) : null;
        for (let k = 0; k < nseg; k++) {
          const a = this.u32[at], l = this.u32[at + 1];
          at += 2;
          if (a < this.buffersStart || a + l > this.memEnd) throw new FuzzFailure(`udp_recv segment [${a}, +${l}) outside the pool`);
          if (data) { if (sum + l > length) throw new FuzzFailure('udp_recv segments longer than the datagram'); data.set(this.u8.subarray(a, a + l), sum); }
          sum += l;
        }
        if (sum !== length) throw new FuzzFailure(`udp_recv: segments hold ${sum} bytes, record says ${length}`);
        if (sink) sink(src, sport, data!);
      }
      this.udpRecords += n;
      total += n;
      if (n < 64) return total;
    }
  }

  /** Reads every socket, then gives back the buffers the datagrams were lent in. */
  recvAll(sink: ((sd: number, src: number, sport: number, data: Uint8Array) => void) | null = null): number {
    let n = 0;
    for (const sd of this.socks) n += this.recv(sd, sink ? (a, b, c) => sink(sd, a, b, c) : null);
    if (n && this.ex.udp_recv(this.socks[0], 0) !== 0) throw new FuzzFailure('udp_recv(sd, 0) returned records');
    this.afterCall(null);
    return n;
  }

  /** A 0-byte broadcast datagram: it makes the core reuse its tx space, which frees the buffers of frames it
   * posted from packet buffers (queued behind ARP). */
  txKick(now: number, sink: TxSink | null): void {
    if (this.bcastSock < 0) return;
    void now;
    const r = this.ex.udp_send(this.bcastSock, 0xffffffff, 9, 0);
    if (r < 0) throw new FuzzFailure(`udp_send (broadcast kick): ${r}`);
    this.afterCall(sink);
  }

  // ------------------------------------------------------------ oracles

  /** Counter identities that hold after every call. */
  checkCounters(): void {
    const u = this.u32, o = this.countersAt, k = this.ix;
    const c = (i: number) => u[o + i];
    const eq = (a: number, b: number, what: string) => {
      if ((a >>> 0) !== (b >>> 0)) throw new FuzzFailure(`counters: ${what}: ${a >>> 0} != ${b >>> 0}`);
    };
    eq(c(k.rxFrames), this.accepted, 'rxFrames vs frames handed over');
    eq(c(k.rxBytes), this.acceptedBytes, 'rxBytes vs bytes handed over');
    eq(c(k.rxBadDesc), this.badDescs, 'rxBadDesc vs bad descriptors handed over');
    eq(c(k.txFrames), this.txSeen, 'txFrames vs tx descriptors read');
    eq(c(k.txBytes), this.txBytesSeen, 'txBytes vs tx bytes read');
    eq(c(k.arpTx), this.arpTxSeen, 'arpTx vs ARP frames sent');
    eq(c(k.rxFrames) + c(k.loopback), c(k.rxBadIface) + c(k.rxRunt) + c(k.rxNotForUs) + c(k.rxEthertype) + c(k.arpRx) + c(k.ipRx) + c(k.rxChainBad),
      'rxFrames + loopback vs the sum of their outcomes');
    eq(c(k.ipRx) + c(k.reasmOk), c(k.ipBadLen) + c(k.ipBadVersion) + c(k.ipBadHlen) + c(k.ipBadChecksum) + c(k.ipMartian) +
      c(k.ipNotLocal) + c(k.ipMulticast) + c(k.ipFragRx) + c(k.udpRx) + c(k.tcpRx) + c(k.icmpRx) + c(k.ipBadProto) + c(k.ipChainBad) +
      c(k.ipBadOption) + c(k.ipSourceRoute),
      'ipRx + reasmOk vs the sum of its outcomes');
    eq(c(k.icmpRx), c(k.icmpBad) + c(k.icmpEchoRx) + c(k.icmpEchoReplyRx) + c(k.icmpUnreachRx) + c(k.icmpOtherRx), 'icmpRx vs its outcomes');
    if (c(k.reasmOk) > c(k.ipFragRx)) throw new FuzzFailure('more datagrams reassembled than fragments received');
  }

  /** With every socket drained: each UDP datagram received is accounted for. */
  checkUdpAccounting(): void {
    const delivered = this.c('udpRx') - this.c('udpBadLen') - this.c('udpBadChecksum') - this.c('udpNoPort') - this.c('udpRcvbufFull');
    if (delivered !== this.udpRecords) throw new FuzzFailure(`UDP: ${delivered} datagrams queued, ${this.udpRecords} read by the host`);
  }

  /** Runs time forward until nothing is pending, drains sockets, then checks the pool is whole and the tables are empty. */
  quiesce(now: number, sink: TxSink | null): number {
    // Every link back up: what a down one kept from going out (ARP, retries) runs out now too.
    for (let ifx = 0; ifx < this.mtus.length; ifx++) this.ex.if_up(ifx, 1);
    this.recvAll();
    let t = now;
    for (let i = 0; ; i++) {
      if (i > 2000) throw new FuzzFailure('timers still pending after 2000 polls');
      const d = this.poll(t, sink);
      this.recvAll();
      if (d < 0) break;
      t = Math.max(t + 1, Math.ceil(d));
    }
    t += 61_000;                 // past every neighbour's lifetime
    this.poll(t, sink);          // also releases the datagrams udp_recv lent out
    this.txKick(t, sink);
    // The kick is a broadcast, so a copy loops back to us at the next poll, where a socket may queue it.
    this.poll(t, sink);
    this.recvAll();
    this.poll(t, sink);
    this.checkUdpAccounting();
    this.ex.tables();
    const neigh = this.u32[this.io >>> 2], reasm = this.u32[(this.io >>> 2) + 1];
    if (reasm !== 0) throw new FuzzFailure(`reassembly still holds ${reasm} buffers after its timeout`);
    if (neigh !== 0) throw new FuzzFailure(`${neigh} neighbour entries still in use after every lifetime ran out`);
    if (this.free !== this.nbufs) throw new FuzzFailure(`buffer leak: ${this.nbufs - this.free} of ${this.nbufs} buffers not back on the free stack`);
    if (this.largeFree !== this.nlarge) throw new FuzzFailure(`large buffer leak: ${this.nlarge - this.largeFree} of ${this.nlarge} not back on their free stack`);
    this.checkCounters();
    return t;
  }
}

/** An L4 header and payload: length fields and checksums. */
function checkL4(u: Uint8Array, l4: number, l4len: number, src: number, dst: number, proto: number): string | null {
  if (proto === PROTO_UDP) {
    if (l4len < 8 || get16(u, l4 + 4) !== l4len) return 'UDP length';
    if (get16(u, l4 + 6) !== 0 && fold16(sum16(u.subarray(l4, l4 + l4len), pseudo(src, dst, PROTO_UDP, l4len))) !== 0xffff) return 'bad UDP checksum';
  } else if (proto === PROTO_TCP) {
    if (l4len < 20) return 'short TCP';
    if (fold16(sum16(u.subarray(l4, l4 + l4len), pseudo(src, dst, PROTO_TCP, l4len))) !== 0xffff) return 'bad TCP checksum';
  } else if (proto === PROTO_ICMP) {
    if (l4len < 8) return 'short ICMP';
    if (fold16(sum16(u.subarray(l4, l4 + l4len))) !== 0xffff) return 'bad ICMP checksum';
  } else return `IP protocol ${proto}`;
  return null;
}

export type TxSink = ((u8: Uint8Array, p: number, len: number, ifx: number) => void) & { events?: (ev: Uint32Array) => void };

export function hexAt(u8: Uint8Array, p: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += (u8[p + i] < 16 ? '0' : '') + u8[p + i].toString(16);
  return s;
}
