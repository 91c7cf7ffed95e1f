// Frames by hand, for tests and fuzzers: builders for Ethernet, ARP, IPv4
// (options, fragments), ICMP, UDP and TCP (options) with correct checksums
// unless told otherwise, checksum fixers for mutated frames, a parser that
// checks every checksum it can, and the small rigs tests drive stacks with: a
// Link the test controls, a sniffer, a driver for promises on a VirtualClock.
// Addresses are dotted quads or 32-bit numbers, MACs strings or bytes (the
// fuzzers pass numbers and bytes: no parsing per frame). Independent of the
// core: nothing here imports assembly/.
import type { Link } from '../../host/link/link.ts';
import type { VirtualClock } from '../../host/clock.ts';

export const ETH_HLEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const PROTO_ICMP = 1;
export const PROTO_IPIP = 4;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10, TH_URG = 0x20;
export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/** An IPv4 address: dotted quad or 32-bit number. */
export type Addr = string | number;
/** A MAC address: 'aa:bb:…' or 6 bytes. */
export type Mac = string | Uint8Array;

// ------------------------------------------------------------------ bytes

export function ip4(s: string): number {
  const p = s.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new TypeError(`bad IPv4 ${s}`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}
export function addr(a: Addr): number { return typeof a === 'number' ? a >>> 0 : ip4(a); }
export function fmtIp(a: number): string { return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`; }
export function macBytes(s: Mac): Uint8Array {
  if (typeof s !== 'string') return s;
  const b = s.split(':').map((x) => parseInt(x, 16));
  if (b.length !== 6 || b.some((x) => !(x >= 0 && x <= 255))) throw new TypeError(`bad MAC ${s}`);
  return new Uint8Array(b);
}
export function fmtMac(b: Uint8Array, at = 0): string {
  return Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}
export function hex(b: Uint8Array): string { return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex'); }
export function unhex(s: string): Uint8Array { return new Uint8Array(Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex')); }
export function get16(b: Uint8Array, o: number): number { return (b[o] << 8) | b[o + 1]; }
export function get32(b: Uint8Array, o: number): number { return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0; }
export function put16(b: Uint8Array, o: number, v: number): void { b[o] = (v >>> 8) & 255; b[o + 1] = v & 255; }
export function put32(b: Uint8Array, o: number, v: number): void { put16(b, o, v >>> 16); put16(b, o + 2, v & 0xffff); }
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// --------------------------------------------------------------- checksum

/** One's complement sum of big-endian 16-bit words (an odd last byte padded with zero), not folded. */
export function sum16(b: Uint8Array, init = 0): number {
  let s = init;
  const end = b.length & ~1;
  for (let i = 0; i < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[end] << 8;
  return s;
}
export function fold16(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
/** The Internet checksum (RFC 1071) of bytes, as the field value. */
export function cksum(b: Uint8Array, init = 0): number { return ~fold16(sum16(b, init)) & 0xffff; }
/** The TCP/UDP pseudo-header sum (unfolded). */
export function pseudo(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

// --------------------------------------------------------------- builders

export function ether(dst: Mac, src: Mac, type: number, payload: Uint8Array, padTo60 = false): Uint8Array {
  const len = Math.max(14 + payload.length, padTo60 ? 60 : 0);
  const f = new Uint8Array(len);
  f.set(macBytes(dst), 0);
  f.set(macBytes(src), 6);
  put16(f, 12, type);
  f.set(payload, 14);
  return f;
}

export interface ArpFields { op: number; sha: Mac; spa: Addr; tha?: Mac; tpa: Addr; htype?: number; ptype?: number; hlen?: number; plen?: number }
/** An ARP packet (28 bytes, RFC 826, Ethernet/IPv4). */
export function arp(a: ArpFields): Uint8Array {
  const p = new Uint8Array(28);
  put16(p, 0, a.htype ?? 1);
  put16(p, 2, a.ptype ?? ETHERTYPE_IPV4);
  p[4] = a.hlen ?? 6;
  p[5] = a.plen ?? 4;
  put16(p, 6, a.op);
  p.set(macBytes(a.sha), 8);
  put32(p, 14, addr(a.spa));
  p.set(macBytes(a.tha ?? '00:00:00:00:00:00'), 18);
  put32(p, 24, addr(a.tpa));
  return p;
}
/** A broadcast ARP request frame, padded to 60 bytes as on the wire. */
export function arpRequest(sha: Mac, spa: Addr, tpa: Addr): Uint8Array {
  return ether(BROADCAST, sha, ETHERTYPE_ARP, arp({ op: 1, sha, spa, tpa }), true);
}
export function arpReply(sha: Mac, spa: Addr, tha: Mac, tpa: Addr): Uint8Array {
  return ether(tha, sha, ETHERTYPE_ARP, arp({ op: 2, sha, spa, tha, tpa }), true);
}

export interface IpFields {
  src: Addr; dst: Addr; proto: number; payload: Uint8Array;
  id?: number; ttl?: number; tos?: number; df?: boolean; mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  offset?: number;
  /** Options, padded with end-of-list to whole words (at most 40 bytes). */
  options?: Uint8Array;
  version?: number;
  /** Overrides: the IHL field (words), the total length field, the checksum field. */
  ihl?: number; totalLength?: number; checksum?: number;
}
/** An IPv4 packet with a correct header checksum unless `checksum` is given. */
export function ipv4(f: IpFields): Uint8Array {
  const opts = f.options ?? new Uint8Array(0);
  const hlen = 20 + ((opts.length + 3) & ~3);
  const p = new Uint8Array(hlen + f.payload.length);
  p[0] = ((f.version ?? 4) << 4) | (f.ihl ?? hlen / 4);
  p[1] = f.tos ?? 0;
  put16(p, 2, f.totalLength ?? p.length);
  put16(p, 4, f.id ?? 0x1234);
  const off = f.offset ?? 0;
  if (off % 8) throw new RangeError('fragment offset must be a multiple of 8');
  put16(p, 6, (f.df ? 0x4000 : 0) | (f.mf ? 0x2000 : 0) | (off / 8));
  p[8] = f.ttl ?? 64;
  p[9] = f.proto;
  put32(p, 12, addr(f.src));
  put32(p, 16, addr(f.dst));
  p.set(opts, 20);
  put16(p, 10, f.checksum ?? cksum(p.subarray(0, hlen)));
  p.set(f.payload, hlen);
  return p;
}

export interface UdpFields { src: Addr; dst: Addr; sport: number; dport: number; payload: Uint8Array; length?: number; checksum?: number }
/** A UDP datagram (header + payload) with the checksum over the pseudo-header, unless given (0: none). */
export function udp(u: UdpFields): Uint8Array {
  const d = new Uint8Array(8 + u.payload.length);
  put16(d, 0, u.sport);
  put16(d, 2, u.dport);
  put16(d, 4, u.length ?? d.length);
  d.set(u.payload, 8);
  let c = u.checksum;
  if (c === undefined) {
    c = cksum(d, pseudo(addr(u.src), addr(u.dst), PROTO_UDP, d.length & 0xffff));
    if (c === 0) c = 0xffff;
  }
  put16(d, 6, c);
  return d;
}

export interface IcmpFields { type: number; code?: number; id?: number; seq?: number; rest?: number; data?: Uint8Array; checksum?: number }
/** An ICMP message. For echo, id and seq fill the rest-of-header word; else `rest`. */
export function icmp(m: IcmpFields): Uint8Array {
  const data = m.data ?? new Uint8Array(0);
  const p = new Uint8Array(8 + data.length);
  p[0] = m.type;
  p[1] = m.code ?? 0;
  if (m.id !== undefined || m.seq !== undefined) { put16(p, 4, m.id ?? 0); put16(p, 6, m.seq ?? 0); }
  else put32(p, 4, m.rest ?? 0);
  p.set(data, 8);
  put16(p, 2, m.checksum ?? cksum(p));
  return p;
}

export interface TcpSeg {
  sport: number; dport: number; seq: number; ack: number; flags: number;
  win?: number; urp?: number;
  /** Options, padded with end-of-list to whole words. */
  options?: Uint8Array; payload?: Uint8Array;
  /** Data offset override (header words); default from the options. */
  doff?: number;
  badCsum?: boolean;
}
export interface TcpFields extends TcpSeg { src: Addr; dst: Addr }
/** A TCP segment (header + payload) with the checksum over the pseudo-header, unless badCsum. */
export function tcpSegment(s: TcpFields): Uint8Array {
  const hlen = 20 + (s.options ? (s.options.length + 3) & ~3 : 0);
  const pl = s.payload ?? new Uint8Array(0);
  const t = new Uint8Array(hlen + pl.length);
  put16(t, 0, s.sport); put16(t, 2, s.dport); put32(t, 4, s.seq); put32(t, 8, s.ack);
  t[12] = (s.doff ?? hlen >> 2) << 4;
  t[13] = s.flags;
  put16(t, 14, s.win ?? 65535);
  put16(t, 18, s.urp ?? 0);
  if (s.options) t.set(s.options, 20);
  t.set(pl, hlen);
  let c = cksum(t, pseudo(addr(s.src), addr(s.dst), PROTO_TCP, t.length));
  if (s.badCsum) c ^= 0x0101;
  put16(t, 16, c);
  return t;
}

/** Ethernet + IPv4 + UDP in one go. */
export function udpFrame(o: { dstMac: Mac; srcMac: Mac; src: Addr; dst: Addr; sport: number; dport: number; payload: Uint8Array; id?: number; df?: boolean }): Uint8Array {
  const u = udp(o);
  return ether(o.dstMac, o.srcMac, ETHERTYPE_IPV4, ipv4({ src: o.src, dst: o.dst, proto: PROTO_UDP, payload: u, id: o.id, df: o.df }));
}
/** Ethernet + IPv4 + ICMP echo request. */
export function pingFrame(o: { dstMac: Mac; srcMac: Mac; src: Addr; dst: Addr; id: number; seq: number; data: Uint8Array }): Uint8Array {
  return ether(o.dstMac, o.srcMac, ETHERTYPE_IPV4,
    ipv4({ src: o.src, dst: o.dst, proto: PROTO_ICMP, payload: icmp({ type: 8, id: o.id, seq: o.seq, data: o.data }) }));
}

/** Splits the payload of an IP packet (no options) into fragments whose
 * payloads have the given sizes (all but the last a multiple of 8). */
export function fragment(f: Omit<IpFields, 'offset' | 'mf'>, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  sizes.forEach((n, i) => {
    const last = i === sizes.length - 1;
    if (!last && n % 8) throw new RangeError('non-final fragments carry a multiple of 8 bytes');
    out.push(ipv4({ ...f, payload: f.payload.subarray(off, off + n), offset: off, mf: !last }));
    off += n;
  });
  if (off !== f.payload.length) throw new RangeError(`fragment sizes add up to ${off}, payload is ${f.payload.length}`);
  return out;
}

/** Recomputes the IPv4 header checksum of a frame in place (if the header fits). */
export function fixIpChecksum(f: Uint8Array): void {
  if (f.length < ETH_HLEN + 20 || get16(f, 12) !== ETHERTYPE_IPV4) return;
  const hlen = (f[ETH_HLEN] & 15) << 2;
  if (hlen < 20 || ETH_HLEN + hlen > f.length) return;
  put16(f, ETH_HLEN + 10, 0);
  put16(f, ETH_HLEN + 10, cksum(f.subarray(ETH_HLEN, ETH_HLEN + hlen)));
}

/** Recomputes the UDP/TCP/ICMP checksum of an unfragmented IPv4 frame in place,
 * over what the IP total length covers (clamped to the frame). */
export function fixL4Checksum(f: Uint8Array): void {
  if (f.length < ETH_HLEN + 20 || get16(f, 12) !== ETHERTYPE_IPV4) return;
  const ip = ETH_HLEN;
  const hlen = (f[ip] & 15) << 2;
  if (hlen < 20) return;
  const end = Math.min(f.length, ip + get16(f, ip + 2));
  const l4 = ip + hlen;
  const len = end - l4;
  if (len < 0) return;
  const proto = f[ip + 9];
  const src = get32(f, ip + 12), dst = get32(f, ip + 16);
  if (proto === PROTO_UDP && len >= 8) {
    const ulen = get16(f, l4 + 4);
    put16(f, l4 + 6, 0);
    put16(f, l4 + 6, cksum(f.subarray(l4, l4 + Math.min(ulen, len)), pseudo(src, dst, PROTO_UDP, ulen)) || 0xffff);
  } else if (proto === PROTO_TCP && len >= 20) {
    put16(f, l4 + 16, 0);
    put16(f, l4 + 16, cksum(f.subarray(l4, end), pseudo(src, dst, PROTO_TCP, len)));
  } else if (proto === PROTO_ICMP && len >= 8) {
    put16(f, l4 + 2, 0);
    put16(f, l4 + 2, cksum(f.subarray(l4, end)));
  }
}

// ----------------------------------------------------------------- parser

export interface ParsedArp { htype: number; ptype: number; hlen: number; plen: number; op: number; sha: string; spa: string; tha: string; tpa: string }
export interface ParsedIp {
  version: number; ihl: number; tos: number; totalLength: number; id: number; df: boolean; mf: boolean; offset: number;
  ttl: number; proto: number; checksum: number; checksumOk: boolean; src: string; dst: string;
  header: Uint8Array; payload: Uint8Array;
}
export interface ParsedUdp { sport: number; dport: number; length: number; checksum: number; checksumOk: boolean; payload: Uint8Array }
export interface ParsedIcmp { type: number; code: number; checksum: number; checksumOk: boolean; id: number; seq: number; rest: number; data: Uint8Array }
export interface Parsed {
  bytes: Uint8Array; dst: string; src: string; type: number;
  arp?: ParsedArp; ip?: ParsedIp; udp?: ParsedUdp; icmp?: ParsedIcmp;
}

/** Parses what it can; checksums are checked, not trusted. UDP and ICMP are
 * parsed only in unfragmented packets. */
export function parse(frame: Uint8Array): Parsed {
  if (frame.length < 14) throw new RangeError(`runt frame (${frame.length} bytes)`);
  const out: Parsed = { bytes: frame, dst: fmtMac(frame, 0), src: fmtMac(frame, 6), type: get16(frame, 12) };
  const l3 = frame.subarray(14);
  if (out.type === ETHERTYPE_ARP && l3.length >= 28) {
    out.arp = {
      htype: get16(l3, 0), ptype: get16(l3, 2), hlen: l3[4], plen: l3[5], op: get16(l3, 6),
      sha: fmtMac(l3, 8), spa: fmtIp(get32(l3, 14)), tha: fmtMac(l3, 18), tpa: fmtIp(get32(l3, 24)),
    };
  } else if (out.type === ETHERTYPE_IPV4 && l3.length >= 20) {
    const ihl = l3[0] & 15, hlen = ihl * 4, tot = get16(l3, 2);
    const header = l3.subarray(0, hlen);
    const ip: ParsedIp = {
      version: l3[0] >> 4, ihl, tos: l3[1], totalLength: tot, id: get16(l3, 4),
      df: !!(l3[6] & 0x40), mf: !!(l3[6] & 0x20), offset: (get16(l3, 6) & 0x1fff) * 8,
      ttl: l3[8], proto: l3[9], checksum: get16(l3, 10), checksumOk: hlen >= 20 && fold16(sum16(header)) === 0xffff,
      src: fmtIp(get32(l3, 12)), dst: fmtIp(get32(l3, 16)), header, payload: l3.subarray(hlen, Math.max(hlen, tot)),
    };
    out.ip = ip;
    const whole = !ip.mf && ip.offset === 0;
    const pl = ip.payload;
    if (whole && ip.proto === PROTO_UDP && pl.length >= 8) {
      const c = get16(pl, 6);
      const len = get16(pl, 4);
      const seg = pl.subarray(0, Math.min(len, pl.length));
      out.udp = {
        sport: get16(pl, 0), dport: get16(pl, 2), length: len, checksum: c,
        checksumOk: c === 0 || fold16(sum16(seg, pseudo(get32(l3, 12), get32(l3, 16), PROTO_UDP, len))) === 0xffff,
        payload: seg.subarray(8),
      };
    } else if (whole && ip.proto === PROTO_ICMP && pl.length >= 8) {
      out.icmp = {
        type: pl[0], code: pl[1], checksum: get16(pl, 2), checksumOk: fold16(sum16(pl)) === 0xffff,
        id: get16(pl, 4), seq: get16(pl, 6), rest: get32(pl, 4), data: pl.subarray(8),
      };
    }
  }
  return out;
}

/** Reassembles IP fragments (parsed, one datagram) into its payload, for checking a stack's output. */
export function reassemble(frags: ParsedIp[]): Uint8Array {
  const sorted = [...frags].sort((a, b) => a.offset - b.offset);
  const last = sorted[sorted.length - 1];
  if (last.mf) throw new Error('last fragment missing');
  const out = new Uint8Array(last.offset + last.payload.length);
  let at = 0;
  for (const f of sorted) {
    if (f.offset !== at) throw new Error(`gap or overlap at ${at} (fragment at ${f.offset})`);
    out.set(f.payload, f.offset);
    at += f.payload.length;
  }
  return out;
}

// ------------------------------------------------------------------ links

/** A link the test holds the other end of: every frame the stack sends is
 * kept (copied) in `sent`; `inject` hands a frame to the stack. With `arp`,
 * it answers ARP requests for those addresses at once, as hosts would. */
export class TestLink implements Link {
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  sent: Uint8Array[] = [];
  closed = false;
  /** address → MAC this link answers ARP for. */
  readonly arp = new Map<string, string>();
  constructor(readonly mtu = 1500) {}
  send(frame: Uint8Array, _flags?: number): void {
    const f = frame.slice();
    this.sent.push(f);
    if (this.arp.size && get16(f, 12) === ETHERTYPE_ARP && f.length >= 42 && get16(f, 20) === 1) {
      const p = parse(f).arp!;
      const mac = this.arp.get(p.tpa);
      if (mac) this.inject(arpReply(mac, p.tpa, p.sha, p.spa));
    }
  }
  inject(frame: Uint8Array, flags = 0, gso = 0): void {
    if (!this.onFrame) throw new Error('TestLink: nothing attached');
    this.onFrame(frame, flags, gso);
  }
  /** The frames sent since the last take(), parsed. */
  take(): Parsed[] {
    const out = this.sent.map(parse);
    this.sent = [];
    return out;
  }
  close(): void { this.closed = true; }
}

/** Wraps a link and records (copies of) every frame in each direction. */
export class Sniff implements Link {
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  tx: Uint8Array[] = [];
  rx: Uint8Array[] = [];
  constructor(private readonly inner: Link) {
    inner.onFrame = (f, fl, gso) => { this.rx.push(f.slice()); this.onFrame?.(f, fl, gso); };
    inner.onDown = (e) => this.onDown?.(e);
  }
  get mtu(): number { return this.inner.mtu; }
  send(frame: Uint8Array, flags?: number, gso?: number): void { this.tx.push(frame.slice()); this.inner.send(frame, flags, gso); }
  flush(): void { this.inner.flush?.(); }
  close(): void { this.inner.close(); }
  clear(): void { this.tx = []; this.rx = []; }
  /** Sent ARP requests (parsed). */
  arpRequests(): ParsedArp[] { return this.tx.map(parse).filter((p) => p.arp?.op === 1).map((p) => p.arp!); }
}

// ----------------------------------------------------------------- timing

/** Runs a VirtualClock one timer at a time until the promise settles, and
 * returns it (so `await drive(clock, p)` resolves or rejects as p does). */
export async function drive<T>(clock: VirtualClock, p: Promise<T>, limitMs = 120_000): Promise<T> {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  const start = clock.now();
  for (;;) {
    await Promise.resolve();
    await Promise.resolve();
    if (done) return p;
    if (clock.pending === 0) throw new Error(`drive: nothing left to run at ${clock.now()} ms and the promise is still pending`);
    if (clock.now() - start > limitMs) throw new Error(`drive: not settled within ${limitMs} ms of virtual time`);
    let stepped = false;
    clock.runUntil(() => { if (stepped) return true; stepped = true; return false; }, limitMs);
  }
}

/** Lets queued microtasks (socket events emitted through queueMicrotask) run. */
export async function ticks(n = 3): Promise<void> { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); }

/** A reproducible seed: from the environment variable if set, else random. Printed. */
export function seedFrom(envName: string, what: string): number {
  const env = process.env[envName];
  const seed = env !== undefined ? Number(env) : Math.floor(Math.random() * 2 ** 32);
  console.log(`${what}: seed ${seed} (replay: ${envName}=${seed})`);
  return seed;
}

/** A 32-bit FNV-1a hash, for checking payloads end to end. */
export function fnv32(b: Uint8Array, from = 0): number {
  let h = 0x811c9dc5;
  for (let i = from; i < b.length; i++) { h ^= b[i]; h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}
