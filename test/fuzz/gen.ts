// Seeded frame generator for fuzzing the core: a corpus of valid frames
// drawn from a topology (Ethernet, ARP, IPv4 with options and fragments, ICMP
// with quoted datagrams, UDP, TCP with options, built by test/helpers/frames.ts),
// mutations of them, and random bytes. Everything comes from one Random, so a
// seed replays the same stream.
//
// Reuse: new FrameGen(rng, topology, maxLen) then gen.next() for a frame;
// gen.addKind(name, weight, fn) adds a valid-frame kind (TCP fuzzing: segments
// against connections in every state), and tcpOptions()/ipOptions() draw
// options, well-formed or not.
import { Random } from '../../host/random.ts';
import {
  BROADCAST, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_ICMP, PROTO_IPIP, PROTO_TCP, PROTO_UDP, TH_ACK, TH_FIN, TH_PSH,
  TH_RST, TH_SYN, arp, concat, ether, fixIpChecksum, fixL4Checksum, get16, icmp, ip4, ipv4, macBytes, put16, put32, tcpSegment, udp,
  type IpFields,
} from '../helpers/frames.ts';

const BCAST_MAC = macBytes(BROADCAST);

/** One frame as it arrives: bytes, the interface index and the descriptor flags. */
export interface Frame { bytes: Uint8Array; ifx: number; flags: number; kind: string }

/** TCP options in any combination, some malformed; at most 40 bytes. */
export function tcpOptions(r: Random): Uint8Array {
  const out: number[] = [];
  const n = r.int(5);
  for (let i = 0; i < n; i++) {
    switch (r.int(9)) {
      case 0: out.push(2, 4, r.int(256), r.int(256)); break;                         // MSS
      case 1: out.push(3, 3, r.int(16)); break;                                       // window scale
      case 2: out.push(4, 2); break;                                                  // SACK permitted
      case 3: { out.push(8, 10); for (let k = 0; k < 8; k++) out.push(r.int(256)); break; }  // timestamps
      case 4: { const nb = 1 + r.int(4); out.push(5, 2 + 8 * nb); for (let k = 0; k < 8 * nb; k++) out.push(r.int(256)); break; }
      case 5: out.push(1); break;                                                     // NOP
      case 6: out.push(0); break;                                                     // EOL
      case 7: out.push(r.int(256), r.int(3)); break;                                  // length 0..2: malformed
      default: { const len = r.int(41); out.push(r.int(256), len); for (let k = 2; k < len; k++) out.push(r.int(256)); }
    }
  }
  return new Uint8Array(out.slice(0, 40));
}

/** IP options: record route and timestamp (every flag, empty to full, now
 * and then a pointer or overflow count off by a little), loose and strict
 * source routes pending or complete, NOP/EOL, lengths 0 and 1, garbage. */
export function ipOptions(r: Random): Uint8Array {
  const out: number[] = [];
  const n = 1 + r.int(3);
  const skew = () => (r.int(8) === 0 ? r.int(9) - 4 : 0);
  for (let i = 0; i < n; i++) {
    switch (r.int(8)) {
      case 0: { const slots = 1 + r.int(9); out.push(7, 3 + 4 * slots, 4 + 4 * r.int(slots + 1) + skew()); for (let k = 0; k < 4 * slots; k++) out.push(r.int(256)); break; }
      case 1: {
        const flag = [0, 1, 3, r.int(16)][r.int(4)], size = flag === 0 ? 4 : 8, slots = 1 + r.int(flag === 0 ? 9 : 4);
        out.push(68, 4 + size * slots, 5 + size * r.int(slots + 1) + skew(), (r.int(16) << 4) | flag);
        for (let k = 0; k < size * slots; k++) out.push(r.int(256));
        break;
      }
      case 2: { const hops = 1 + r.int(4); out.push(r.int(2) ? 131 : 137, 3 + 4 * hops, 4 + 4 * r.int(hops + 1) + skew()); for (let k = 0; k < 4 * hops; k++) out.push(r.int(256)); break; }
      case 3: out.push(1); break;
      case 4: out.push(0); break;
      case 5: out.push(r.int(256), r.int(2)); break;
      default: { const len = r.int(41); out.push(r.int(256), len); for (let k = 2; k < len; k++) out.push(r.int(256)); }
    }
  }
  return new Uint8Array(out.slice(0, 40));
}

// ---------------------------------------------------------------- topology

export interface IfaceSpec { mac: Uint8Array; mtu: number; addrs: { ip: number; plen: number }[] }
export interface PeerSpec { ip: number; mac: Uint8Array; ifx: number }
export interface UdpSpec { addr: number; port: number; connect?: { addr: number; port: number }; broadcast?: boolean }
export interface Topology {
  ifaces: IfaceSpec[];
  routes: { dst: number; plen: number; gw: number; ifx: number }[];
  /** Neighbours that answer ARP (the harness announces them) and send traffic. */
  peers: PeerSpec[];
  /** On-link addresses the core may send to that never answer unless the fuzzer says so. */
  strangers: PeerSpec[];
  /** Off-link sources (reached through the gateway). */
  remotes: number[];
  udp: UdpSpec[];
  /** Ports segments are aimed at (the core fuzz test opens no listener: a TCP fuzzer adds its own). */
  tcpPorts: number[];
  /** ICMP echo identifiers the host uses for its pings. */
  pingIds: number[];
}

export function defaultTopology(): Topology {
  const A = ip4('10.0.0.1'), B = ip4('192.168.7.1');
  return {
    ifaces: [
      { mac: macBytes('02:00:00:00:00:01'), mtu: 1500, addrs: [{ ip: A, plen: 24 }, { ip: ip4('10.1.0.1'), plen: 16 }] },
      { mac: macBytes('02:00:00:00:01:01'), mtu: 576, addrs: [{ ip: B, plen: 24 }] },
    ],
    routes: [{ dst: 0, plen: 0, gw: ip4('10.0.0.254'), ifx: 0 }],
    peers: [
      { ip: ip4('10.0.0.2'), mac: macBytes('02:aa:00:00:00:02'), ifx: 0 },
      { ip: ip4('10.0.0.3'), mac: macBytes('02:aa:00:00:00:03'), ifx: 0 },
      { ip: ip4('10.0.0.254'), mac: macBytes('02:aa:00:00:00:fe'), ifx: 0 },
      { ip: ip4('10.1.2.3'), mac: macBytes('02:aa:00:01:02:03'), ifx: 0 },
      { ip: ip4('192.168.7.2'), mac: macBytes('02:bb:00:00:00:02'), ifx: 1 },
      { ip: ip4('192.168.7.3'), mac: macBytes('02:bb:00:00:00:03'), ifx: 1 },
    ],
    strangers: [
      { ip: ip4('10.0.0.77'), mac: macBytes('02:cc:00:00:00:77'), ifx: 0 },
      { ip: ip4('10.1.99.1'), mac: macBytes('02:cc:00:01:99:01'), ifx: 0 },
      { ip: ip4('192.168.7.99'), mac: macBytes('02:cc:00:07:00:99'), ifx: 1 },
    ],
    remotes: [ip4('8.8.8.8'), ip4('203.0.113.9'), ip4('172.16.5.4')],
    udp: [
      { addr: 0, port: 7 },
      { addr: A, port: 53 },
      { addr: 0, port: 5000, connect: { addr: ip4('10.0.0.2'), port: 6000 } },
      { addr: 0xffffffff, port: 67, broadcast: true },
      { addr: B, port: 9 },
    ],
    tcpPorts: [80],
    pingIds: [0x1234],
  };
}

// ---------------------------------------------------------------- generator

export type KindFn = (g: FrameGen) => void;

const INTERESTING8 = [0, 1, 0x7f, 0x80, 0xff, 0x40, 0x45, 0x08, 0x06, 0x11];
const INTERESTING16 = [0, 1, 7, 8, 19, 20, 21, 0x7fff, 0x8000, 0xffff, 0xfffe, 576, 1480, 1500, 65515];

/**
 * A stream of frames: valid ones from a weighted set of kinds (some kinds emit
 * a burst, e.g. the fragments of one datagram), mutated ones, and random bytes.
 */
export class FrameGen {
  /** Shares of the three sources; the rest after valid+mutated is random bytes. */
  pValid = 0.42;
  pMutated = 0.40;
  /** Share of frames sent with the "checksum known good" descriptor flag. */
  pCsumOk = 0.08;
  readonly kinds: { name: string; weight: number; fn: KindFn }[] = [];
  private total = 0;
  private queue: Frame[] = [];
  private prev: Uint8Array = new Uint8Array(60);
  private junk: Uint8Array;
  /** Frames per kind label (for coverage output). */
  readonly stats = new Map<string, number>();

  constructor(readonly r: Random, readonly topo: Topology, readonly maxLen: number) {
    this.junk = new Uint8Array(4096 + maxLen);
    for (let i = 0; i < this.junk.length; i++) this.junk[i] = r.u32() & 255;
    this.addKind('arp', 10, (g) => g.arpFrame());
    this.addKind('echo', 10, (g) => g.echoFrame());
    this.addKind('echo-reply', 3, (g) => g.emitIp(g.peerSrc(), g.localDst(), PROTO_ICMP,
      icmp({ type: 0, code: 0, rest: (g.pick(g.topo.pingIds) << 16) | g.r.int(65536), data: g.bytes(g.r.int(64)) }), 'echo-reply'));
    this.addKind('icmp-error', 8, (g) => g.icmpErrorFrame());
    this.addKind('icmp-other', 2, (g) => g.emitIp(g.peerSrc(), g.localDst(), PROTO_ICMP,
      icmp({ type: g.pick([5, 13, 14, 15, 17, 9, 10, 42, 255]), code: g.r.int(4), rest: g.r.u32(), data: g.bytes(g.r.int(40)) }), 'icmp-other'));
    this.addKind('udp', 14, (g) => g.udpFrame());
    this.addKind('tcp', 10, (g) => g.tcpFrame());
    this.addKind('frag', 9, (g) => g.fragBurst());
    this.addKind('ip-options', 4, (g) => g.ipOptionsFrame());
    this.addKind('ip-proto', 2, (g) => g.emitIp(g.peerSrc(), g.localDst(), g.pick([0, 2, 4, 41, 47, 50, 132, 255]),
      g.bytes(g.r.int(200)), 'ip-proto'));
    this.addKind('not-for-us', 4, (g) => g.otherFrame());
  }

  addKind(name: string, weight: number, fn: KindFn): void {
    this.kinds.push({ name, weight, fn });
    this.total += weight;
  }

  // ------------------------------------------------------------ helpers for kinds

  int(n: number): number { return this.r.int(n); }
  chance(p: number): boolean { return this.r.next() < p; }
  pick<T>(a: readonly T[]): T { return a[this.r.int(a.length)]; }
  /** n random bytes (a window of a pre-filled pool, copied). */
  bytes(n: number): Uint8Array {
    if (n <= 0) return new Uint8Array(0);
    if (n > this.junk.length) { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = this.r.u32() & 255; return b; }
    const o = this.r.int(this.junk.length - n + 1);
    return this.junk.slice(o, o + n);
  }
  /** A payload size: mostly small, sometimes up to max. */
  size(max: number): number {
    const k = this.r.int(10);
    return k < 6 ? this.r.int(Math.min(max, 64) + 1) : k < 9 ? this.r.int(Math.min(max, 600) + 1) : this.r.int(max + 1);
  }

  /** Queues a frame (valid kinds call this; bursts call it several times). */
  emit(bytes: Uint8Array, ifx: number, kind: string): void {
    this.queue.push({ bytes, ifx, flags: 0, kind });
  }

  ifaceOf(ifx: number): IfaceSpec { return this.topo.ifaces[ifx]; }

  /** A source for IP traffic: a peer (mostly), a remote via the gateway, a stranger, sometimes odd. */
  peerSrc(): { ip: number; mac: Uint8Array; ifx: number } {
    const k = this.r.int(20);
    if (k < 12) return this.pick(this.topo.peers);
    if (k < 15) { const gw = this.topo.peers.find((p) => p.ip === this.topo.routes[0]?.gw) ?? this.topo.peers[0]; return { ip: this.pick(this.topo.remotes), mac: gw.mac, ifx: gw.ifx }; }
    if (k < 17) return this.pick(this.topo.strangers);
    if (k < 18) {  // a new neighbour in an on-link subnet
      const itf = this.pick(this.topo.ifaces), a = this.pick(itf.addrs);
      const host = (a.ip & maskOf(a.plen)) | (this.r.u32() & ~maskOf(a.plen));
      return { ip: host >>> 0, mac: this.randMac(), ifx: this.topo.ifaces.indexOf(itf) };
    }
    // odd sources: martian, broadcast, ours, multicast, random
    const p = this.pick(this.topo.peers);
    const ip = this.pick([0, 0x7f000001, 0xe0000001, 0xffffffff, this.topo.ifaces[0].addrs[0].ip, ip4('10.0.0.255'), this.r.u32()]);
    return { ip: ip >>> 0, mac: p.mac, ifx: p.ifx };
  }

  /** A destination on interface ifx's side: mostly one of our addresses, sometimes broadcast or odd. */
  localDst(ifx = -1): number {
    const k = this.r.int(20);
    const itf = ifx >= 0 ? this.ifaceOf(ifx) : this.pick(this.topo.ifaces);
    if (k < 15) return this.pick(itf.addrs).ip;
    if (k < 16) return 0xffffffff;
    if (k < 17) { const a = this.pick(itf.addrs); return ((a.ip & maskOf(a.plen)) | ~maskOf(a.plen)) >>> 0; }
    if (k < 18) return this.pick(this.topo.ifaces).addrs[0].ip;   // maybe another interface's address
    return this.pick([0xe0000001, 0xe00000fb, ip4('10.0.0.9'), 0, this.r.u32()]) >>> 0;
  }

  randMac(): Uint8Array {
    const m = this.bytes(6);
    m[0] = (m[0] & 0xfe) | 2;
    return m;
  }

  /** The Ethernet destination for traffic to dst on ifx: our MAC (broadcast for broadcasts), sometimes odd. */
  dstMac(ifx: number, dst: number): Uint8Array {
    const k = this.r.int(40);
    if (k === 0) return this.randMac();
    if (k === 1) return BCAST_MAC;
    if (k === 2) return macBytes('01:00:5e:00:00:01');
    if (dst === 0xffffffff || (dst & 0xff) === 0xff) return this.chance(0.8) ? BCAST_MAC : this.ifaceOf(ifx).mac;
    return this.ifaceOf(ifx).mac;
  }

  /** An IP frame from src to dst, with the right Ethernet header; arrives on src's interface. */
  emitIp(src: { ip: number; mac: Uint8Array; ifx: number }, dst: number, proto: number, l4: Uint8Array, kind: string,
    extra: Partial<IpFields> = {}): void {
    const p = ipv4({ src: src.ip, dst, proto, id: this.r.int(65536), ttl: this.chance(0.05) ? this.r.int(3) : 64,
      df: this.chance(0.3), tos: this.chance(0.1) ? this.r.int(256) : 0, ...extra, payload: l4 });
    const ifx = this.chance(0.03) ? this.r.int(this.topo.ifaces.length) : src.ifx;
    this.emit(ether(this.dstMac(ifx, dst), src.mac, ETHERTYPE_IPV4, p), ifx, kind);
  }

  // ------------------------------------------------------------ kinds

  arpFrame(): void {
    const k = this.r.int(10);
    const pool = this.chance(0.7) ? this.topo.peers : this.topo.strangers;
    const p = this.pick(pool);
    const itf = this.ifaceOf(p.ifx);
    const ours = this.pick(itf.addrs).ip;
    let f: Uint8Array;
    if (k < 4) {        // reply to us (resolves a pending neighbour)
      f = ether(this.chance(0.9) ? itf.mac : BCAST_MAC, p.mac, ETHERTYPE_ARP, arp({ op: 2, sha: p.mac, spa: p.ip, tha: itf.mac, tpa: ours }));
    } else if (k < 7) { // request for our address
      f = ether(BCAST_MAC, p.mac, ETHERTYPE_ARP, arp({ op: 1, sha: p.mac, spa: p.ip, tha: new Uint8Array(6), tpa: this.chance(0.9) ? ours : this.localDst(p.ifx) }));
    } else if (k < 8) { // gratuitous / probe
      f = ether(BCAST_MAC, p.mac, ETHERTYPE_ARP, arp({ op: this.chance(0.5) ? 1 : 2, sha: p.mac, spa: this.chance(0.5) ? 0 : p.ip, tha: new Uint8Array(6), tpa: p.ip }));
    } else if (k < 9) { // for someone else
      f = ether(BCAST_MAC, p.mac, ETHERTYPE_ARP, arp({ op: 1, sha: p.mac, spa: p.ip, tha: new Uint8Array(6), tpa: this.peerSrc().ip }));
    } else {            // odd fields
      const a = arp({ op: this.r.int(4), sha: this.chance(0.3) ? this.randMac() : p.mac, spa: this.peerSrc().ip, tha: this.bytes(6), tpa: this.localDst(p.ifx) });
      if (this.chance(0.3)) a[this.r.int(6)] = this.r.int(256);
      f = ether(this.dstMac(p.ifx, 0), p.mac, ETHERTYPE_ARP, a);
    }
    if (this.chance(0.5)) { const g = new Uint8Array(Math.max(60, f.length)); g.set(f); f = g; }  // padded as on a wire
    this.emit(f, this.chance(0.03) ? this.r.int(this.topo.ifaces.length) : p.ifx, 'arp');
  }

  echoFrame(): void {
    const src = this.peerSrc();
    const n = this.size(1400);
    this.emitIp(src, this.localDst(src.ifx), PROTO_ICMP, icmp({ type: 8, code: 0, rest: this.r.u32(), data: this.bytes(n) }), 'echo');
  }

  /** A datagram the core sent (to quote in an ICMP error). */
  private quoted(): Uint8Array {
    const us = this.pick(this.topo.ifaces).addrs[0].ip;
    const peer = this.peerSrc().ip;
    const k = this.r.int(4);
    let l4: Uint8Array, proto: number;
    if (k === 0 || k === 1) {
      const s = this.pick(this.topo.udp);
      proto = PROTO_UDP;
      l4 = udp({ src: s.addr && s.addr !== 0xffffffff ? s.addr : us, dst: peer, sport: this.chance(0.8) ? s.port : this.r.int(65536), dport: this.r.int(65536), payload: this.bytes(this.r.int(20)) });
    } else if (k === 2) {
      proto = PROTO_TCP;
      l4 = tcpSegment({ src: us, dst: peer, sport: this.r.int(65536), dport: this.pick([80, 443, this.r.int(65536)]), seq: this.r.u32(), ack: 0, flags: TH_SYN });
    } else {
      proto = PROTO_ICMP;
      l4 = icmp({ type: this.chance(0.8) ? 8 : this.r.int(20), code: 0, rest: (this.pick(this.topo.pingIds) << 16) | this.r.int(65536), data: this.bytes(16) });
    }
    const d = ipv4({ src: us, dst: peer, proto, id: this.r.int(65536), options: this.chance(0.1) ? ipOptions(this.r) : undefined, payload: l4 });
    const hlen = (d[0] & 15) << 2;
    // RFC 792 quotes the header and 8 bytes; RFC 1812 routers quote more.
    const q = this.r.int(4) === 0 ? this.r.int(d.length + 1) : this.chance(0.7) ? hlen + 8 : d.length;
    return d.slice(0, Math.min(q, d.length));
  }

  icmpErrorFrame(): void {
    const type = this.pick([3, 3, 3, 11, 12, 4, 5]);
    const code = type === 3 ? this.pick([0, 1, 2, 3, 3, 4, 13]) : this.r.int(3);
    const rest = type === 3 && code === 4 ? this.r.int(1500) : type === 12 ? this.r.int(256) << 24 : 0;
    const src = this.peerSrc();
    this.emitIp(src, this.localDst(src.ifx), PROTO_ICMP, icmp({ type, code, rest, data: this.quoted() }), 'icmp-error');
  }

  udpFrame(): void {
    const k = this.r.int(10);
    let src = this.peerSrc();
    let dst: number, sport = this.r.int(65536), dport: number;
    const s = this.pick(this.topo.udp);
    if (k < 7) {  // to a bound socket
      dport = s.port;
      dst = s.addr === 0 ? this.localDst(src.ifx) : s.addr === 0xffffffff ? 0xffffffff : s.addr;
      if (s.connect && this.chance(0.7)) {
        const p = this.topo.peers.find((x) => x.ip === s.connect!.addr);
        if (p) { src = p; sport = s.connect.port; }
      }
      if (s.addr !== 0 && s.addr !== 0xffffffff) {
        const itf = this.topo.ifaces.findIndex((i) => i.addrs.some((a) => a.ip === s.addr));
        if (itf >= 0 && src.ifx !== itf) src = this.topo.peers.find((x) => x.ifx === itf) ?? src;
      }
    } else {      // to a port nobody has
      dst = this.localDst(src.ifx);
      dport = this.chance(0.5) ? this.pick([1, 137, 161, 4000, 65535]) : this.r.int(65536);
    }
    const mode = this.r.int(10) < 7 ? 'good' : this.chance(0.7) ? 'zero' : 'bad';
    const u = udp({ src: src.ip, dst, sport, dport, payload: this.bytes(this.size(1472)), checksum: mode === 'zero' ? 0 : undefined });
    if (mode === 'bad') put16(u, 6, (get16(u, 6) % 0xffff) + 1);  // wrong, and not 0 (no checksum)
    this.emitIp(src, dst, PROTO_UDP, u, 'udp');
  }

  tcpFrame(): void {
    const src = this.peerSrc();
    const dst = this.localDst(src.ifx);
    const flagSets = [TH_SYN, TH_SYN | TH_ACK, TH_ACK, TH_ACK | TH_PSH, TH_FIN | TH_ACK, TH_RST, TH_RST | TH_ACK, 0, TH_SYN | TH_FIN];
    const flags = this.chance(0.8) ? this.pick(flagSets) : this.r.int(256);
    const opts = this.chance(0.5) ? tcpOptions(this.r) : undefined;
    const seg = tcpSegment({ src: src.ip, dst, sport: this.r.int(65536), dport: this.chance(0.5) ? this.pick(this.topo.tcpPorts) : this.r.int(65536),
      seq: this.r.u32(), ack: this.r.u32(), flags, win: this.r.int(65536), urp: this.chance(0.1) ? this.r.int(65536) : 0,
      options: opts, payload: this.bytes(this.size(1400)), badCsum: this.chance(0.05), });
    this.emitIp(src, dst, PROTO_TCP, seg, 'tcp');
  }

  ipOptionsFrame(): void {
    const src = this.peerSrc();
    const dst = this.localDst(src.ifx);
    const opts = ipOptions(this.r);
    const k = this.r.int(3);
    const l4 = k === 0 ? icmp({ type: 8, code: 0, rest: this.r.u32(), data: this.bytes(this.r.int(100)) })
      : k === 1 ? udp({ src: src.ip, dst, sport: this.r.int(65536), dport: this.pick(this.topo.udp).port, payload: this.bytes(this.r.int(100)) })
      : tcpSegment({ src: src.ip, dst, sport: this.r.int(65536), dport: 80, seq: this.r.u32(), ack: 0, flags: TH_SYN });
    this.emitIp(src, dst, k === 0 ? PROTO_ICMP : k === 1 ? PROTO_UDP : PROTO_TCP, l4, 'ip-options', { options: opts });
  }

  /** Frames the core must drop early: another MAC, other ethertypes, not our IP, multicast. */
  otherFrame(): void {
    const p = this.pick(this.topo.peers);
    const k = this.r.int(5);
    if (k === 0) this.emit(ether(this.randMac(), p.mac, ETHERTYPE_IPV4, ipv4({ src: p.ip, dst: this.localDst(p.ifx), proto: PROTO_UDP, payload: this.bytes(30) })), p.ifx, 'not-for-us');
    else if (k === 1) this.emit(ether(this.ifaceOf(p.ifx).mac, p.mac, this.pick([0x86dd, 0x8100, 0x88cc, 0x0842, 0x05dc, 0]), this.bytes(this.size(200))), p.ifx, 'not-for-us');
    else if (k === 2) this.emitIp(p, this.pick([ip4('10.0.0.50'), ip4('1.2.3.4'), ip4('192.168.7.200')]), PROTO_UDP, udp({ src: p.ip, dst: 1, sport: 1, dport: 2, payload: this.bytes(10) }), 'not-for-us');
    else if (k === 3) this.emitIp(p, this.pick([0xe0000001, 0xe00000fb, 0xefffffff]), PROTO_UDP, udp({ src: p.ip, dst: 1, sport: 5353, dport: 5353, payload: this.bytes(20) }), 'not-for-us');
    else this.emit(ether(macBytes('01:00:5e:00:00:fb'), p.mac, ETHERTYPE_IPV4, ipv4({ src: p.ip, dst: 0xe00000fb, proto: PROTO_UDP, payload: this.bytes(30) })), p.ifx, 'not-for-us');
  }

  /** The fragments of one datagram: in order, shuffled, reversed, with duplicates, overlaps or gaps. */
  fragBurst(): void {
    const src = this.peerSrc();
    const dst = this.chance(0.95) ? this.pick(this.ifaceOf(src.ifx).addrs).ip : this.localDst(src.ifx);
    // Mostly a few fragments; sometimes a datagram near 64 KiB; sometimes many tiny fragments.
    const tiny = this.r.int(10) === 0;
    const unit0 = tiny ? 8 * (1 + this.r.int(8)) : this.pick([1480, 552, 1472, 1000, 1200, 256]);
    const big = this.r.int(50);
    const n = tiny ? 16 + this.r.int(unit0 * (4 + this.r.int(40))) :
      big === 0 ? 20000 + this.r.int(45480) : big < 5 ? 4000 + this.r.int(16000) : 16 + this.r.int(4000);
    const k = this.r.int(5);
    let proto = PROTO_ICMP, l4: Uint8Array;
    if (k < 2) l4 = icmp({ type: 8, code: 0, rest: this.r.u32(), data: this.bytes(n) });
    else if (k < 4) { proto = PROTO_UDP; l4 = udp({ src: src.ip, dst, sport: this.r.int(65536), dport: this.pick(this.topo.udp).port, payload: this.bytes(n), checksum: this.chance(0.9) ? undefined : 0 }); }
    else { proto = PROTO_TCP; l4 = tcpSegment({ src: src.ip, dst, sport: 1234, dport: 80, seq: this.r.u32(), ack: this.r.u32(), flags: TH_ACK, payload: this.bytes(n) }); }
    // Fragment unit: a multiple of 8; at most ~150 pieces.
    const u = Math.max(unit0, Math.ceil(l4.length / 150 / 8) * 8);
    const pieces: [number, number][] = [];
    for (let off = 0; off < l4.length; off += u) pieces.push([off, Math.min(u, l4.length - off)]);
    const last = (i: number) => pieces[i][0] + pieces[i][1] >= l4.length;
    const v = this.r.int(20);
    let kind = 'frag';
    if (v < 6) { /* in order */ }
    else if (v < 9) pieces.reverse();
    else if (v < 13) shuffle(this.r, pieces);
    else if (v < 15) { pieces.push(pieces[this.r.int(pieces.length)]); shuffle(this.r, pieces); kind = 'frag-dup'; }
    else if (v < 17 && pieces.length > 1) {  // overlap: one piece starts earlier or ends later
      const i = this.r.int(pieces.length);
      const [o, l] = pieces[i];
      const lo = Math.max(0, o - 8 * (1 + this.r.int(4)));
      const hi = Math.min(l4.length, o + l + (this.chance(0.5) && !last(i) ? 8 : 0));
      pieces.push([lo, hi - lo]);
      shuffle(this.r, pieces);
      kind = 'frag-overlap';
    } else if (v < 19 && pieces.length > 1) { pieces.splice(this.r.int(pieces.length), 1); kind = 'frag-gap'; }
    else { kind = 'frag-lie'; }  // a middle piece claims to be last, or the last claims more
    const id = this.r.int(65536);
    const opts = this.chance(0.05) ? ipOptions(this.r) : undefined;
    for (let i = 0; i < pieces.length; i++) {
      const [off, len] = pieces[i];
      let more = off + len < l4.length;
      if (kind === 'frag-lie' && this.chance(0.3)) more = !more;
      const p = ipv4({ src: src.ip, dst, proto, id, offset: off, mf: more, options: opts, payload: l4.subarray(off, off + len) });
      this.emit(ether(this.dstMac(src.ifx, dst), src.mac, ETHERTYPE_IPV4, p), src.ifx, kind);
    }
  }

  // ------------------------------------------------------------ mutation

  /** Mutates a frame: 1..3 of bit flips, interesting bytes, header field tweaks (then mostly
   * checksums fixed so the frame gets past them), truncation, extension, splice. */
  mutate(f: Uint8Array): Uint8Array {
    const n = 1 + (this.chance(0.3) ? this.r.int(3) : 0);
    let fixIp = this.chance(0.8), fixL4 = this.chance(0.5);
    for (let i = 0; i < n; i++) {
      const k = this.r.int(16);
      if (k < 2) {              // bit flips
        const nb = 1 + this.r.int(8);
        for (let j = 0; j < nb && f.length; j++) f[this.r.int(f.length)] ^= 1 << this.r.int(8);
      } else if (k < 4) {       // interesting bytes
        const nb = 1 + this.r.int(3);
        for (let j = 0; j < nb && f.length; j++) f[this.r.int(f.length)] = this.pick(INTERESTING8);
      } else if (k < 10) {      // a header field
        f = this.tweakField(f);
      } else if (k < 12) {      // truncate
        f = f.slice(0, this.r.int(f.length + 1));
        if (this.chance(0.5)) fixL4 = false;
      } else if (k < 13) {      // extend with junk
        f = concat(f, this.bytes(1 + this.r.int(this.chance(0.8) ? 32 : 1500)));
      } else if (k < 14) {      // splice with the previous frame
        const a = this.r.int(f.length + 1), b = this.r.int(this.prev.length + 1);
        f = concat(f.subarray(0, a), this.prev.subarray(b));
      } else if (k < 15) {      // insert or delete bytes
        const at = this.r.int(f.length + 1);
        if (this.chance(0.5)) f = concat(f.subarray(0, at), this.bytes(1 + this.r.int(8)), f.subarray(at));
        else f = concat(f.subarray(0, at), f.subarray(Math.min(f.length, at + 1 + this.r.int(8))));
      } else {                  // overwrite a run with random bytes
        if (f.length) { const at = this.r.int(f.length); const run = this.bytes(Math.min(f.length - at, 1 + this.r.int(16))); f.set(run, at); }
        fixIp = fixIp && this.chance(0.5);
      }
    }
    if (fixL4) fixL4Checksum(f);
    if (fixIp) fixIpChecksum(f);
    return f;
  }

  /** Sets one length/offset/type field of the IPv4 (and L4) header to an interesting value. */
  tweakField(f: Uint8Array): Uint8Array {
    if (f.length < ETH_HLEN + 20) return f;
    const type = get16(f, 12);
    if (type === ETHERTYPE_ARP) {
      const o = ETH_HLEN + this.pick([0, 2, 4, 5, 6, 8, 14, 18, 24]);
      if (o < f.length) f[o] = this.pick(INTERESTING8);
      return f;
    }
    if (type !== ETHERTYPE_IPV4) { put16(f, 12, this.pick([ETHERTYPE_IPV4, ETHERTYPE_ARP, 0x86dd])); return f; }
    const ip = ETH_HLEN;
    const hlen = (f[ip] & 15) << 2;
    const tot = get16(f, ip + 2);
    const l4 = ip + Math.max(20, hlen);
    const near = (v: number) => (v + this.r.int(17) - 8) & 0xffff;
    switch (this.r.int(14)) {
      case 0: case 1: put16(f, ip + 2, this.pick([near(tot), this.pick(INTERESTING16), f.length - ETH_HLEN, this.r.int(65536), tot + 100])); break;
      case 2: f[ip] = (f[ip] & 0xf0) | this.r.int(16); break;
      case 3: f[ip] = (this.pick([4, 4, 4, 0, 6, 15]) << 4) | (f[ip] & 15); break;
      case 4: put16(f, ip + 6, this.pick([0x2000, 0x2000 | this.r.int(0x2000), this.r.int(0x2000), 0x1fff, 0x3fff, 0x4000, 0x8000, this.r.int(65536)])); break;
      case 5: f[ip + 9] = this.pick([PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_IPIP, 0, 255]); break;
      case 6: put32(f, ip + 12, this.pick([0, 0xffffffff, 0x7f000001, 0xe0000001, this.topo.ifaces[0].addrs[0].ip, this.r.u32()])); break;
      case 7: put32(f, ip + 16, this.pick([0, 0xffffffff, 0xe0000001, ip4('10.0.0.255'), ip4('10.1.255.255'), this.topo.ifaces[1].addrs[0].ip, this.r.u32()])); break;
      case 8: f[ip + 8] = this.pick([0, 1, 255]); break;
      default: {  // L4 fields
        if (l4 + 8 > f.length) break;
        const proto = f[ip + 9];
        if (proto === PROTO_UDP) put16(f, l4 + 4, this.pick([near(get16(f, l4 + 4)), this.pick(INTERESTING16), this.r.int(65536)]));
        else if (proto === PROTO_TCP && l4 + 14 <= f.length) f[l4 + 12] = (this.r.int(16) << 4) | (f[l4 + 12] & 15);
        else if (proto === PROTO_ICMP) {
          if (this.chance(0.5)) { f[l4] = this.pick([0, 3, 8, 11, 12, 4, 5, 13, this.r.int(256)]); f[l4 + 1] = this.r.int(16); }
          else if (l4 + 9 <= f.length) f[l4 + 8] = this.pick([0x45, 0x40, 0x4f, 0x46, this.r.int(256)]);  // quoted IHL
        } else f[l4 + this.r.int(8)] = this.pick(INTERESTING8);
      }
    }
    return f;
  }

  // ------------------------------------------------------------ random bytes

  random(): Frame {
    const k = this.r.int(10);
    const len = this.size(this.maxLen);
    const b = this.bytes(len);
    const p = this.pick(this.topo.peers);
    if (k < 5 && len >= ETH_HLEN) {  // a plausible Ethernet header, then garbage (maybe a plausible IP header)
      b.set(this.chance(0.8) ? this.ifaceOf(p.ifx).mac : BCAST_MAC, 0);
      put16(b, 12, this.chance(0.8) ? ETHERTYPE_IPV4 : ETHERTYPE_ARP);
      if (k < 3 && len >= ETH_HLEN + 20 && get16(b, 12) === ETHERTYPE_IPV4) {
        b[ETH_HLEN] = 0x45 + (this.chance(0.2) ? this.r.int(11) : 0);
        if (this.chance(0.7)) put16(b, ETH_HLEN + 2, Math.min(len - ETH_HLEN, this.r.int(65536)));
        if (this.chance(0.7)) put16(b, ETH_HLEN + 6, this.chance(0.5) ? 0 : this.r.int(65536));
        b[ETH_HLEN + 9] = this.pick([1, 6, 17, this.r.int(256)]);
        put32(b, ETH_HLEN + 12, this.peerSrc().ip);
        put32(b, ETH_HLEN + 16, this.localDst(p.ifx));
        fixIpChecksum(b);
      }
    }
    return { bytes: b, ifx: this.chance(0.02) ? this.pick([2, 7, 0xffff]) : p.ifx, flags: 0, kind: 'random' };
  }

  // ------------------------------------------------------------ the stream

  /** The next valid frame (unmutated). */
  nextValid(): Frame {
    while (this.queue.length === 0) {
      let x = this.r.int(this.total);
      for (const kd of this.kinds) {
        if (x < kd.weight) { kd.fn(this); break; }
        x -= kd.weight;
      }
    }
    return this.queue.shift()!;
  }

  next(): Frame {
    let fr: Frame;
    const x = this.r.next();
    if (x < this.pValid + this.pMutated) {
      fr = this.nextValid();
      if (x >= this.pValid) {
        const orig = fr.bytes;
        fr.bytes = this.mutate(orig.slice());
        this.prev = orig;
        fr.kind = fr.kind + '*';
      } else this.prev = fr.bytes;
    } else fr = this.random();
    if (fr.bytes.length > this.maxLen) fr.bytes = fr.bytes.subarray(0, this.maxLen);
    if (this.chance(this.pCsumOk)) fr.flags = this.chance(0.9) ? 1 : this.r.int(65536);
    this.stats.set(fr.kind, (this.stats.get(fr.kind) ?? 0) + 1);
    return fr;
  }
}

export function maskOf(plen: number): number { return plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0; }

export function shuffle<T>(r: Random, a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    const t = a[i]; a[i] = a[j]; a[j] = t;
  }
}
