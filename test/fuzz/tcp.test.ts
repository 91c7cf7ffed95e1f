// The TCP fuzz test (issue 3): connections on a raw core driven into every
// state (LISTEN, SYN-SENT, SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT,
// CLOSING, LAST-ACK, TIME-WAIT) by a scripted peer that answers with correct
// numbers (it reads them with tcp_info), then seeded segments against them:
// valid ones, ones near the window edges (seq, ack), random flags, options and
// lengths, truncated options, bad checksums, byte-level mutations, ICMP errors
// quoting the connection — interleaved with host calls (send, recv, shutdown,
// close, abort, setopt, accept) and time passing. Oracles:
//  - no trap (the release build, and the debug build for a share, assertions live);
//  - after every call: memory never grows, the IP-level counter identities hold, every
//    frame sent parses with valid checksums and fits its link (FuzzCore.afterCall);
//  - every tcp_recv record and tcp_send_space address lies inside memory;
//  - at checkpoints: every descriptor closed or aborted, the peer falls silent, time runs
//    past every timeout (short MSL, FIN timeout, retries, keep-alive): tcp_tables must show
//    no TCB, no TIME-WAIT, no chunk and no timer in use, and the packet pool must be whole.
// Every state must have been reached at least once. One of the two lanes runs
// with every offload on the peer's link (partial checksums, 64 KiB segments,
// scatter-gather): its frames are checked joined and completed, as a link
// would send them, and it must have sent gathered frames.
//
// Replay: FUZZ_SEED=<seed> [FUZZ_LANE=release|debug] [FUZZ_FRAMES=<segments>] [FUZZ_TRACE=1] node test/run.mjs fuzz/tcp
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Random } from '../../host/random.ts';
import { FrameGen, defaultTopology, tcpOptions } from './gen.ts';
import { ether, arp, ipv4, icmp, tcpSegment, put16, get16, get32,
  ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_TCP, PROTO_ICMP, TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK, TH_URG,
  type TcpSeg } from '../helpers/frames.ts';
import { FuzzCore, FuzzFailure, Place, Fill, type TxSink } from './harness.ts';
import { CFG, TCP_INFO, TCP_STATE } from '../../host/core-abi.ts';

const env = process.env;
const SEED = env.FUZZ_SEED !== undefined ? Number(env.FUZZ_SEED) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
const SEGMENTS = Number(env.FUZZ_FRAMES ?? 500_000);
const LANE = env.FUZZ_LANE ?? 'both';
const DEBUG_SHARE = 0.25;
const CHECK_EVERY = Number(env.FUZZ_CHECK_EVERY ?? 20_000);

// States as tcp_info reports them.
const { CLOSED, LISTEN, SYN_SENT, SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT } = TCP_STATE;
const NAMES: string[] = [];
for (const [k, v] of Object.entries(TCP_STATE)) NAMES[v] = k;
/** tcp_info's word index of each field. */
const I = Object.fromEntries(Object.entries(TCP_INFO).map(([k, v]) => [k, v >>> 2])) as Record<keyof typeof TCP_INFO, number>;
const TARGETS = [LISTEN, SYN_SENT, SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT];

const topo = defaultTopology();
const US = topo.ifaces[0].addrs[0].ip, US_MAC = topo.ifaces[0].mac;
const PEER = topo.peers[0].ip, PEER_MAC = topo.peers[0].mac;
const LPORT = 80;
const MAX_FRAME = 1514;
const BUF = (128 + MAX_FRAME + 63) & ~63;
const SOCKS = 48;
const pick = <T>(r: Random, a: readonly T[]): T => a[r.int(a.length)];

function config(seed: number) {
  return {
    poolBytes: 384 * BUF, maxFrame: MAX_FRAME, icmpRate: 1_000_000, seed: [seed, 7, 8, 9],
    words: [[CFG.TCP_SOCKS, SOCKS], [CFG.TCP_SNDBUF, 16384], [CFG.TCP_RCVBUF, 16384], [CFG.TCP_CHUNKS, 48],
      [CFG.TCP_MSL, 500], [CFG.TCP_FIN_TIMEOUT, 3000], [CFG.TCP_SYN_RETRIES, 3], [CFG.TCP_MIN_RTO, 50],
      [CFG.TCP_INIT_RTO, 200], [CFG.TCP_CHALLENGE, 100_000]] as [number, number][],
  };
}

interface Conn {
  /** Descriptor the host holds, or -1 (passive child not accepted, or orphaned by tcp_close). */
  sd: number;
  idx: number;
  lport: number; rport: number;
  passive: boolean;
  ts: boolean;
  tsv: number;
  budget: number;
  target: number;
}

interface Info { state: number; flags: number; una: number; nxt: number; rcvNxt: number; sndWnd: number; mss: number;
  smax: number; rwnd: number; lport: number; rport: number }

class Run {
  readonly c: FuzzCore;
  readonly r: Random;
  readonly gen: FrameGen;
  now = 1000;
  ipId = 1;
  nextPort = 20000;
  conns: Conn[] = [];
  listener = -1;
  /** ARP answers and other frames waiting to go in. */
  pending: Uint8Array[] = [];
  /** TCP segments the stack sent since the last take(): [sport, dport, seq, ack, flags, len, tsval]. */
  out: number[][] = [];
  lastTs = new Map<number, number>();
  sink: TxSink;
  segments = 0;
  noBuffer = 0;
  reached = new Map<number, number>();
  driveMiss = 0;
  kinds = new Map<string, number>();
  checkpoints = 0;
  readonly offload: boolean;

  constructor(readonly kind: 'release' | 'debug', readonly seed: number) {
    this.r = new Random(seed);
    this.c = new FuzzCore(kind, config(seed), seed ^ 0x5a5a);
    this.c.tcp = true;
    this.c.label = kind;
    this.c.trace = env.FUZZ_TRACE === '1';
    this.c.setup(topo);
    // Half the runs, the peer's link takes every offload: partial checksums,
    // 64 KiB segments, payloads left in the send buffer (scatter-gather).
    this.offload = (seed & 1) === 1;
    if (this.offload) this.c.offload(0, true, true, 65535);
    this.gen = new FrameGen(new Random(seed ^ 0x1234567), topo, MAX_FRAME);
    this.sink = ((u8: Uint8Array, p: number, len: number) => this.onTx(u8, p, len)) as TxSink;
    this.c.announcePeers(topo, this.now, this.sink);
    this.listen();
  }

  // ------------------------------------------------------------ plumbing

  onTx(u: Uint8Array, p: number, _len: number): void {
    const type = (u[p + 12] << 8) | u[p + 13];
    if (type === ETHERTYPE_ARP) {
      if (u[p + 21] !== 1) return;
      const spa = get32(u, p + 28), tpa = get32(u, p + 38);
      const ours = u.slice(p + 6, p + 12);
      const peer = topo.peers.find((x) => x.ip === tpa);
      const m = peer ? peer.mac : new Uint8Array([0x02, 0xdd, tpa >>> 24, (tpa >>> 16) & 255, (tpa >>> 8) & 255, tpa & 255]);
      this.pending.push(ether(ours, m, ETHERTYPE_ARP, arp({ op: 2, sha: m, spa: tpa, tha: ours, tpa: spa })));
      return;
    }
    if (type !== ETHERTYPE_IPV4 || u[p + 23] !== PROTO_TCP || get32(u, p + 30) !== PEER) return;
    const t = p + 14 + ((u[p + 14] & 15) << 2);
    const hl = (u[t + 12] >> 4) << 2;
    const tot = get16(u, p + 16);
    let tsv = -1;
    for (let o = t + 20; o < t + hl;) {
      const k = u[o];
      if (k === 0) break;
      if (k === 1) { o++; continue; }
      if (k === 8) { tsv = get32(u, o + 2); break; }
      if (u[o + 1] < 2) break;
      o += u[o + 1];
    }
    const sport = get16(u, t), dport = get16(u, t + 2);
    if (tsv >= 0) this.lastTs.set((sport << 16) | dport, tsv);
    if (this.out.length < 256) this.out.push([sport, dport, get32(u, t + 4), get32(u, t + 8), u[t + 13], tot - (t - p - 14) - hl, tsv]);
  }

  take(): number[][] { const o = this.out; this.out = []; return o; }

  /** One frame in, one poll. */
  inject(f: Uint8Array): void {
    if (f.length > MAX_FRAME) f = f.subarray(0, MAX_FRAME);
    const place = this.r.int(8) === 0 ? Place.MemEnd : Place.Start;
    if (this.c.rx(f, 0, 0, place, Fill.Keep) < 0) {
      this.noBuffer++;
      this.drainAll();
    }
    this.pollNow();
  }

  pollNow(): number {
    while (this.pending.length) {
      const f = this.pending.shift()!;
      if (this.c.rx(f, 0, 0, Place.Start, Fill.Keep) < 0) break;
    }
    const d = this.c.poll(this.now, this.sink);
    this.c.checkCounters();
    this.checkTables();
    // A timer is armed: poll must name a deadline, or the host would never come back for it.
    if (d < 0 && this.c.u32[(this.c.io >>> 2) + 5] > 0) throw new FuzzFailure('poll returned no deadline with TCP timers armed');
    return d;
  }

  /** Table invariants after every poll: no more timers, TIME-WAIT entries or TCBs than the table holds. */
  checkTables(): void {
    this.c.ex.tcp_tables();
    const io = this.c.io >>> 2, u = this.c.u32;
    const used = u[io], tw = u[io + 1], chunks = u[io + 2], nchunks = u[io + 3], n = u[io + 4], timers = u[io + 5];
    if (used > n || tw > used || chunks > nchunks || timers > used) {
      throw new FuzzFailure(`tcp_tables: ${used} TCBs in use of ${n}, ${tw} TIME-WAIT, ${chunks}/${nchunks} chunks, ${timers} timers`);
    }
  }

  advance(ms: number): void { this.now += ms; this.pollNow(); }

  /** A host call: time first, then the checks every call gets. */
  call<T>(fn: () => T): T {
    this.c.ex.time(this.now);
    const v = fn();
    this.c.afterCall(this.sink);
    return v;
  }

  info(i: number): Info | null {
    if (this.c.ex.tcp_tcb_info(i) < 0) return null;
    const u = this.c.u32, o = this.c.io >>> 2;
    return { state: u[o + I.state], lport: u[o + I.lport], rport: u[o + I.rport], flags: u[o + I.flags], una: u[o + I.sndUna],
      nxt: u[o + I.sndNxt], rcvNxt: u[o + I.rcvNxt], sndWnd: u[o + I.sndWnd], mss: u[o + I.mss], smax: u[o + I.sndMax], rwnd: u[o + I.rcvWnd] };
  }

  describe(j: number, x: Info): string {
    const u = this.c.u32, o = this.c.io >>> 2;
    this.c.ex.tcp_tcb_info(j);
    return `${j}:${NAMES[x.state]} ports ${x.lport}/${x.rport} flags 0x${x.flags.toString(16)} una ${x.una} nxt ${x.nxt} smax ${x.smax} ` +
      `sndWnd ${x.sndWnd} cwnd ${u[o + I.cwnd]} rto ${u[o + I.rtoMs]} mss ${x.mss} sendQueued ${u[o + I.sendQueued]} ` +
      `recvQueued ${u[o + I.recvQueued]} ooo ${u[o + I.oooQueued]} rcvNxt ${x.rcvNxt} rwnd ${x.rwnd} err ${u[o + I.softError]}`;
  }

  /** The TCB of a tuple, by scanning (children have no descriptor). */
  find(lport: number, rport: number): number {
    for (let i = 0; i < SOCKS; i++) {
      const x = this.info(i);
      if (x && x.state >= SYN_SENT && x.lport === lport && x.rport === rport) return i;
    }
    return -1;
  }

  /** The connection's info, or null when its TCB is gone or now another connection's. */
  connInfo(cn: Conn): Info | null {
    const x = this.info(cn.idx);
    if (!x || x.lport !== cn.lport || x.rport !== cn.rport) return null;
    return x;
  }

  frame(s: TcpSeg): Uint8Array {
    return ether(US_MAC, PEER_MAC, ETHERTYPE_IPV4,
      ipv4({ src: PEER, dst: US, proto: PROTO_TCP, id: this.ipId++ & 0xffff, payload: tcpSegment({ src: PEER, dst: US, ...s }) }));
  }

  tsOpt(cn: Conn, tsv?: number): number[] {
    const v = tsv ?? (cn.tsv = (cn.tsv + 1) >>> 0), e = this.lastTs.get((cn.lport << 16) | cn.rport) ?? 0;
    return [1, 1, 8, 10, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255, e >>> 24, (e >>> 16) & 255, (e >>> 8) & 255, e & 255];
  }

  synOpts(cn: Conn): Uint8Array {
    const o: number[] = [2, 4, 0x05, 0xb4];
    if (this.r.int(2)) o.push(1, 3, 3, this.r.int(15));
    if (this.r.int(2)) o.push(1, 1, 4, 2);
    if (cn.ts) o.push(...this.tsOpt(cn));
    return new Uint8Array(o);
  }

  /** A correct segment from the peer of cn. */
  valid(cn: Conn, x: Info, flags: number, data = 0, seq = x.rcvNxt, ack = x.smax): Uint8Array {
    return this.frame({ sport: cn.rport, dport: cn.lport, seq, ack, flags, win: 65535,
      options: cn.ts ? new Uint8Array(this.tsOpt(cn)) : undefined, payload: this.gen.bytes(data) });
  }

  // ------------------------------------------------------------ driving a connection into a state

  listen(): void {
    const sd = this.call(() => this.c.ex.tcp_open());
    if (sd < 0) throw new FuzzFailure(`tcp_open for the listener: ${sd}`);
    const r = this.call(() => this.c.ex.tcp_listen(sd, 0, LPORT, 8));
    if (r < 0) throw new FuzzFailure(`tcp_listen: ${r}`);
    this.listener = sd;
  }

  port(): number {
    const p = this.nextPort;
    this.nextPort = this.nextPort >= 60000 ? 20000 : this.nextPort + 1;
    return p;
  }

  expect(cn: Conn, st: number, what: string): Info {
    const x = this.connInfo(cn);
    if (!x || x.state !== st) {
      throw new FuzzFailure(`driving ${NAMES[cn.target]}: ${what}: state ${x ? NAMES[x.state] : 'gone'}, expected ${NAMES[st]} ` +
        `(${cn.passive ? 'passive' : 'active'}, ports ${cn.lport}/${cn.rport})`);
    }
    return x;
  }

  /** A new connection in the target state, or null (the listener's queues were full of fuzz). */
  open(target: number): Conn | null {
    const r = this.r;
    const cn: Conn = { sd: -1, idx: -1, lport: 0, rport: 0, passive: r.int(2) === 0, ts: r.int(3) !== 0, tsv: r.u32() >>> 1,
      budget: 10 + r.int(r.int(4) === 0 ? 600 : 120), target };
    if (target === SYN_SENT) cn.passive = false;
    const pisn = r.u32();
    this.take();
    if (!cn.passive) {
      const sd = this.call(() => this.c.ex.tcp_open());
      if (sd < 0) return null;
      cn.sd = sd;
      cn.idx = sd;
      cn.rport = 1000 + r.int(9000);
      this.setopts(cn);
      const e = this.call(() => this.c.ex.tcp_connect(sd, PEER, cn.rport, 0, 0));
      if (e < 0) throw new FuzzFailure(`tcp_connect: ${e}`);
      const x0 = this.info(sd)!;
      cn.lport = x0.lport;
      const x = this.expect(cn, SYN_SENT, 'after tcp_connect');
      if (target === SYN_SENT) return cn;
      const iss = x.una;
      if (target === SYN_RCVD) {
        this.inject(this.frame({ sport: cn.rport, dport: cn.lport, seq: pisn, ack: 0, flags: TH_SYN, options: this.synOpts(cn) }));
        this.expect(cn, SYN_RCVD, 'after the peer\'s SYN (simultaneous open)');
        return cn;
      }
      this.inject(this.frame({ sport: cn.rport, dport: cn.lport, seq: pisn, ack: (iss + 1) >>> 0, flags: TH_SYN | TH_ACK, options: this.synOpts(cn) }));
      this.expect(cn, ESTABLISHED, 'after SYN-ACK');
    } else {
      cn.lport = LPORT;
      cn.rport = this.port();
      this.inject(this.frame({ sport: cn.rport, dport: LPORT, seq: pisn, ack: 0, flags: TH_SYN, options: this.synOpts(cn) }));
      const sa = this.take().find((s) => s[0] === LPORT && s[1] === cn.rport && (s[4] & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK));
      if (!sa) { this.driveMiss++; return null; }
      cn.idx = this.find(LPORT, cn.rport);
      if (target === SYN_RCVD) {
        if (cn.idx < 0) { this.driveMiss++; return null; }   // a SYN cookie: no state to fuzz
        this.expect(cn, SYN_RCVD, 'after SYN');
        return cn;
      }
      // Timestamps: the SYN-ACK says whether they are on.
      cn.ts = cn.ts && sa[6] >= 0;
      this.inject(this.frame({ sport: cn.rport, dport: LPORT, seq: (pisn + 1) >>> 0, ack: (sa[2] + 1) >>> 0, flags: TH_ACK,
        options: cn.ts ? new Uint8Array(this.tsOpt(cn)) : undefined }));
      this.acceptAll(cn);
      if (cn.sd < 0) { this.driveMiss++; if (cn.idx >= 0 && this.connInfo(cn)) return cn; return null; }
      cn.idx = cn.sd;
      this.setopts(cn);
      this.expect(cn, ESTABLISHED, 'after the final ACK');
    }
    if (target === ESTABLISHED) return cn;
    if (target === FIN_WAIT_1 || target === FIN_WAIT_2 || target === TIME_WAIT || target === CLOSING) {
      this.call(() => this.c.ex.tcp_shutdown(cn.sd));
      let x = this.expect(cn, FIN_WAIT_1, 'after tcp_shutdown');
      if (target === FIN_WAIT_1) return cn;
      if (target === CLOSING) {
        this.inject(this.valid(cn, x, TH_FIN | TH_ACK, 0, x.rcvNxt, x.una));
        this.expect(cn, CLOSING, 'after the peer\'s FIN not ACKing ours');
        return cn;
      }
      this.inject(this.valid(cn, x, TH_ACK));
      x = this.expect(cn, FIN_WAIT_2, 'after the ACK of our FIN');
      if (target === FIN_WAIT_2) return cn;
      this.inject(this.valid(cn, x, TH_FIN | TH_ACK));
      this.expect(cn, TIME_WAIT, 'after the peer\'s FIN');
      return cn;
    }
    let x = this.expect(cn, ESTABLISHED, 'before the peer\'s FIN');
    this.inject(this.valid(cn, x, TH_FIN | TH_ACK));
    x = this.expect(cn, CLOSE_WAIT, 'after the peer\'s FIN');
    if (target === CLOSE_WAIT) return cn;
    this.call(() => this.c.ex.tcp_shutdown(cn.sd));
    this.expect(cn, LAST_ACK, 'after tcp_shutdown in CLOSE-WAIT');
    return cn;
  }

  setopts(cn: Conn): void {
    const r = this.r, ex = this.c.ex;
    if (r.int(4) === 0) {
      this.call(() => { ex.tcp_setopt(cn.sd, 3, 20 + r.int(200)); ex.tcp_setopt(cn.sd, 4, 1 + r.int(4)); return ex.tcp_setopt(cn.sd, 2, 50 + r.int(1000)); });
    }
    if (r.int(3) === 0) this.call(() => ex.tcp_setopt(cn.sd, 5, r.int(2)));
    if (r.int(4) === 0) this.call(() => ex.tcp_setopt(cn.sd, 1, 1));
    if (r.int(6) === 0) this.call(() => ex.tcp_setopt(cn.sd, 7, 2048 + r.int(60000)));
    if (r.int(6) === 0) this.call(() => ex.tcp_setopt(cn.sd, 6, 2048 + r.int(60000)));
  }

  /** Accepts everything queued on the listener: ours becomes cn.sd, the rest (made by fuzz) are closed or aborted. */
  acceptAll(cn: Conn | null): void {
    for (;;) {
      const sd = this.call(() => this.c.ex.tcp_accept(this.listener));
      if (sd < 0) return;
      const x = this.info(sd)!;
      if (cn && x.rport === cn.rport) { cn.sd = sd; continue; }
      if (this.r.int(2)) this.call(() => this.c.ex.tcp_close(sd)); else this.call(() => this.c.ex.tcp_abort(sd));
    }
  }

  // ------------------------------------------------------------ fuzzing a connection

  count(k: string): void { this.kinds.set(k, (this.kinds.get(k) ?? 0) + 1); }

  pickFlags(): number {
    const r = this.r;
    if (r.int(3) === 0) return r.int(256);
    return pick(r, [TH_ACK, TH_ACK | TH_PSH, TH_ACK | TH_FIN, TH_RST, TH_RST | TH_ACK, TH_SYN, TH_SYN | TH_ACK, 0,
      TH_SYN | TH_FIN, TH_ACK | TH_URG, TH_FIN, TH_SYN | TH_RST, TH_ACK | TH_FIN | TH_PSH]);
  }

  /** One segment (or ICMP error) against a live connection. */
  fuzzConn(cn: Conn, x: Info): void {
    const r = this.r;
    const k = r.int(100);
    const mss = Math.max(1, Math.min(x.mss || 536, 1400));
    if (k < 28) {          // valid: in-window data, ACKs of what was sent, sometimes a FIN
      this.count('valid');
      const room = Math.min(x.rwnd, mss);
      const data = r.int(3) === 0 ? 0 : r.int(room + 1);
      const ack = r.int(3) === 0 ? (x.una + r.int(((x.smax - x.una) >>> 0) + 1)) >>> 0 : x.smax;
      this.inject(this.valid(cn, x, TH_ACK | (r.int(8) === 0 ? TH_FIN : 0) | (data && r.int(2) ? TH_PSH : 0), data, x.rcvNxt, ack));
      return;
    }
    const edgeSeq = () => (pick(r, [x.rcvNxt, x.rcvNxt - 1, x.rcvNxt + 1, x.rcvNxt + x.rwnd, x.rcvNxt + x.rwnd - 1, x.rcvNxt + x.rwnd + 1,
      x.rcvNxt - 65536, x.rcvNxt + 0x80000000, x.rcvNxt - 1448, r.u32()]) >>> 0);
    const edgeAck = () => (pick(r, [x.una, x.una - 1, x.una + 1, x.smax, x.smax + 1, x.nxt, x.una - 0x40000000, x.una + 0x80000000,
      x.smax + 65536, 0, r.u32()]) >>> 0);
    const edge = (): TcpSeg => {
      let options: Uint8Array | undefined;
      const o = r.int(4);
      if (o === 0) options = tcpOptions(r);
      else if (o === 1 && cn.ts) options = new Uint8Array(this.tsOpt(cn, pick(r, [cn.tsv, cn.tsv - 1, 0, cn.tsv + 0x80000000, r.u32()]) >>> 0));
      else if (o === 2 && cn.ts) options = new Uint8Array(this.tsOpt(cn));
      else if (o === 3) {  // SACK blocks near the send window
        const n = 1 + r.int(4), b: number[] = [1, 1, 5, 2 + 8 * n];
        for (let i = 0; i < n; i++) {
          const a = (x.una + r.int(((x.smax - x.una) >>> 0) + 3000) - 1000) >>> 0, e = (a + r.int(3000)) >>> 0;
          for (const v of r.int(5) ? [a, e] : [e, a]) b.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
        }
        options = new Uint8Array(b.slice(0, 40));
      }
      const len = pick(r, [0, 0, 1, mss, x.rwnd, x.rwnd + 1, r.int(1400), r.int(64)]);
      return { sport: cn.rport, dport: cn.lport, seq: r.int(2) ? edgeSeq() : x.rcvNxt, ack: r.int(2) ? edgeAck() : x.smax,
        flags: this.pickFlags(), win: pick(r, [0, 0, 1, 65535, r.int(65536), 512]), urp: r.int(8) === 0 ? r.int(65536) : 0,
        options, payload: this.gen.bytes(Math.min(len, 1400)) };
    };
    if (k < 62) { this.count('edge'); this.inject(this.frame(edge())); return; }
    if (k < 80) {          // byte-level mutation of a plausible segment (checksums mostly fixed after)
      this.count('mutated');
      this.inject(this.gen.mutate(this.frame(edge())));
      return;
    }
    if (k < 85) { this.count('bad-checksum'); this.inject(this.frame({ ...edge(), badCsum: true })); return; }
    if (k < 92) {          // options cut short: the data offset claims more than the options hold, or an option runs past the header
      this.count('truncated-options');
      const s = edge();
      const opts = s.options && s.options.length ? s.options : tcpOptions(r);
      const f = this.frame({ ...s, options: opts });
      const t = 14 + 20;
      const hl = (f[t + 12] >> 4) << 2;
      if (r.int(2) && hl > 20) {
        // Shorten the segment to cut into the options, keep the data offset; fix IP length and checksums.
        const cut = t + 20 + r.int(hl - 20);
        const g = f.slice(0, cut);
        put16(g, 16, cut - 14);
        this.fixSums(g);
        this.inject(g);
      } else {
        f[t + 12] = (Math.min(15, (hl >> 2) + 1 + r.int(4)) << 4) | (f[t + 12] & 15);
        if (r.int(2)) f[t + 20 + 1 < f.length ? t + 21 : t + 12] = 40 + r.int(200);
        this.fixSums(f);
        this.inject(f);
      }
      return;
    }
    // ICMP errors quoting a segment of this connection.
    this.count('icmp');
    const seq = pick(r, [x.una, x.una, x.nxt, x.smax, (x.una - 1) >>> 0, r.u32()]) >>> 0;
    const quoted = ipv4({ src: US, dst: PEER, proto: PROTO_TCP, id: r.int(65536), df: true,
      payload: tcpSegment({ src: US, dst: PEER, sport: cn.lport, dport: cn.rport, seq, ack: x.rcvNxt, flags: TH_ACK }) });
    const ql = r.int(4) === 0 ? r.int(quoted.length + 1) : 28;
    const type = pick(r, [3, 3, 3, 11, 4, 12]);
    const code = type === 3 ? pick(r, [0, 1, 2, 3, 4, 4, 4, 13]) : 0;
    const rest = type === 3 && code === 4 ? pick(r, [0, 68, 296, 575, 576, 1000, 1280, 1400, 1500, 9000, r.int(65536)]) : 0;
    this.inject(ether(US_MAC, PEER_MAC, ETHERTYPE_IPV4, ipv4({ src: PEER, dst: US, proto: PROTO_ICMP, id: this.ipId++ & 0xffff,
      payload: icmp({ type, code, rest, data: quoted.slice(0, ql) }) })));
  }

  fixSums(f: Uint8Array): void {
    put16(f, 24, 0);
    let s = 0;
    for (let i = 14; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    put16(f, 24, ~s & 0xffff);
    const t = 34, len = f.length - t;
    put16(f, t + 16, 0);
    s = (PEER >>> 16) + (PEER & 0xffff) + (US >>> 16) + (US & 0xffff) + PROTO_TCP + len;
    for (let i = t; i < f.length; i += 2) s += (f[i] << 8) | (i + 1 < f.length ? f[i + 1] : 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    put16(f, t + 16, ~s & 0xffff);
  }

  /** Segments against the listener: SYNs (with data, with FIN), ACKs guessing cookies, RSTs, junk. */
  fuzzListener(): void {
    const r = this.r;
    this.count('listener');
    const sport = r.int(8) === 0 ? r.int(65536) : this.port();
    const flags = r.int(2) ? TH_SYN : this.pickFlags();
    const s: TcpSeg = { sport, dport: LPORT, seq: r.u32(), ack: r.u32(), flags, win: r.int(65536),
      options: r.int(2) ? tcpOptions(r) : undefined, payload: this.gen.bytes(r.int(4) === 0 ? r.int(600) : 0), badCsum: r.int(30) === 0 };
    const f = this.frame(s);
    this.inject(r.int(5) === 0 ? this.gen.mutate(f) : f);
  }

  // ------------------------------------------------------------ host calls

  hostAction(cn: Conn): void {
    const r = this.r, ex = this.c.ex;
    const k = r.int(100);
    if (cn.sd < 0) return;
    if (k < 35) this.recv(cn.sd);
    else if (k < 65) {
      const n = this.call(() => ex.tcp_send_space(cn.sd));
      if (n > 0) {
        const io = this.c.io >>> 2;
        const a = this.c.u32[io], room = this.c.u32[io + 1];
        if (room !== n || a < this.c.pool - 0 && a < 1024 || a + room > this.c.memEnd) throw new FuzzFailure(`tcp_send_space: [${a}, +${room}) for ${n}`);
        const w = 1 + r.int(Math.min(room, r.int(3) === 0 ? room : 3000));
        this.c.u8.fill(r.int(256), a, a + w);
        const c = this.call(() => ex.tcp_send_commit(cn.sd, w, 0));
        if (c !== w) throw new FuzzFailure(`tcp_send_commit(${w}) after send_space ${n}: ${c}`);
      }
    } else if (k < 70) this.call(() => ex.tcp_shutdown(cn.sd));
    else if (k < 75) this.setopts(cn);
    else if (k < 80) this.acceptAll(null);
  }

  recv(sd: number): void {
    const n = this.call(() => this.c.ex.tcp_recv(sd, this.r.int(4) === 0 ? 1 + this.r.int(3000) : 1 << 20));
    if (n < 0) return;
    const io = this.c.io >>> 2;
    for (let i = 0; i < n; i++) {
      const a = this.c.u32[io + 2 * i], l = this.c.u32[io + 2 * i + 1];
      if (a < this.c.pool || a + l > this.c.memEnd || l === 0) throw new FuzzFailure(`tcp_recv record ${i}/${n}: [${a}, +${l})`);
    }
  }

  drainAll(): void { for (const cn of this.conns) if (cn.sd >= 0) this.recv(cn.sd); }

  /** Lets go of a connection: abort, close, or the peer closes it properly too. */
  finish(cn: Conn): void {
    const r = this.r, ex = this.c.ex;
    const k = r.int(4);
    if (cn.sd >= 0) {
      if (k === 0) this.call(() => ex.tcp_abort(cn.sd));
      else {
        if (k === 1) this.recv(cn.sd);
        this.call(() => ex.tcp_close(cn.sd));
        if (k === 1) {   // the peer closes too, correctly
          for (let i = 0; i < 3; i++) {
            const x = this.connInfo(cn);
            if (!x || x.state === TIME_WAIT) break;
            this.inject(this.valid(cn, x, TH_ACK | (x.state === FIN_WAIT_2 || x.state === FIN_WAIT_1 ? TH_FIN : 0)));
          }
        }
      }
    } else if (k === 0) {
      const x = this.connInfo(cn);
      if (x) this.inject(this.valid(cn, x, TH_RST));
    }
    cn.sd = -1;
  }

  // ------------------------------------------------------------ checkpoints

  /** Everything closed, the peer silent, time past every timeout: nothing may be left. */
  checkpoint(): void {
    this.checkpoints++;
    const ex = this.c.ex;
    this.acceptAll(null);
    for (const cn of this.conns) {
      if (cn.sd >= 0) { const sd = cn.sd; if (this.r.int(2)) this.call(() => ex.tcp_abort(sd)); else this.call(() => ex.tcp_close(sd)); }
    }
    this.conns = [];
    this.call(() => ex.tcp_close(this.listener));
    this.listener = -1;
    const start = this.now;
    for (let i = 0; ; i++) {
      const d = this.pollNow();
      if (d < 0) break;
      if (i > 20_000 || this.now - start > 6 * 3600_000) {
        ex.tcp_tables();
        const io = this.c.io >>> 2, u = this.c.u32;
        const nTcb = u[io], nTimers = u[io + 5];
        const left: string[] = [];
        for (let j = 0; j < SOCKS; j++) { const x = this.info(j); if (x) left.push(this.describe(j, x)); }
        throw new FuzzFailure(`stuck: deadlines still pending ${((this.now - start) / 1000).toFixed(0)} s after everything was closed ` +
          `(${nTcb} TCBs, ${nTimers} timers): ${left.join('; ')}`);
      }
      this.now = Math.max(this.now + 1, Math.ceil(d));
    }
    this.now += 61_000;       // past every neighbour lifetime
    this.pollNow();
    this.c.txKick(this.now, this.sink);
    this.pollNow();
    ex.tcp_tables();
    const io = this.c.io >>> 2, u = this.c.u32;
    const [used, tw, chunks, , , timers] = [u[io], u[io + 1], u[io + 2], u[io + 3], u[io + 4], u[io + 5]];
    if (used || tw || chunks || timers) {
      const left: string[] = [];
      for (let j = 0; j < SOCKS; j++) { const x = this.info(j); if (x) left.push(this.describe(j, x)); }
      throw new FuzzFailure(`after every timeout: ${used} TCBs, ${tw} TIME-WAIT, ${chunks} chunks, ${timers} timers in use: ${left.join('; ')}`);
    }
    if (this.c.free !== this.c.nbufs) throw new FuzzFailure(`buffer leak: ${this.c.nbufs - this.c.free} of ${this.c.nbufs} buffers not free`);
    this.listen();
  }

  // ------------------------------------------------------------ the loop

  run(n: number): void {
    const r = this.r;
    let nextCheck = CHECK_EVERY;
    while (this.segments < n) {
      // Keep a few connections alive, each in the state it was driven to.
      while (this.conns.length < 6) {
        const target = pick(r, TARGETS);
        if (target === LISTEN) { for (let i = 0; i < 20; i++) { this.fuzzListener(); this.segments++; } this.reach(LISTEN); continue; }
        const cn = this.open(target);
        if (!cn) continue;
        this.reach(target);
        this.conns.push(cn);
      }
      const i = r.int(this.conns.length);
      const cn = this.conns[i];
      const x = this.connInfo(cn);
      if (!x || x.state === CLOSED || cn.budget-- <= 0) {
        if (x && x.state === CLOSED && cn.sd >= 0) { this.call(() => this.c.ex.tcp_close(cn.sd)); cn.sd = -1; }
        else if (x) this.finish(cn);
        this.conns.splice(i, 1);
        continue;
      }
      this.fuzzConn(cn, x);
      this.segments++;
      if (r.int(5) === 0) this.hostAction(cn);
      if (r.int(12) === 0) this.fuzzListener();
      const t = r.int(100);
      if (t < 60) this.now += r.int(3);
      else if (t < 95) this.advance(r.int(60));
      else this.advance(pick(r, [200, 500, 1000, 3000, 10_000]));
      if (this.segments >= nextCheck) { nextCheck += CHECK_EVERY; this.checkpoint(); }
    }
    this.checkpoint();
  }

  reach(st: number): void { this.reached.set(st, (this.reached.get(st) ?? 0) + 1); }
}

function lane(kind: 'release' | 'debug', seed: number, n: number): Run {
  const run = new Run(kind, seed);
  try {
    run.run(n);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const trap = e instanceof WebAssembly.RuntimeError || (e instanceof Error && /shoal core:/.test(e.message));
    console.error(`\nTCP FUZZ FAILURE${trap ? ' (trap)' : ''} [${kind}]: ${msg}\n  seed ${seed}, after ${run.segments} segments, ` +
      `virtual time ${run.now} ms\n  replay: FUZZ_SEED=${SEED} FUZZ_LANE=${kind} FUZZ_FRAMES=${SEGMENTS} node test/run.mjs fuzz/tcp`);
    if (e instanceof Error && e.stack && !(e instanceof FuzzFailure)) console.error(e.stack);
    throw e;
  }
  return run;
}

function summary(run: Run, ms: number): string {
  const st = TARGETS.map((s) => `${NAMES[s]} ${run.reached.get(s) ?? 0}`).join(', ');
  const c = run.c;
  return `${run.kind}: ${run.segments} segments in ${ms} ms, ${run.checkpoints} checkpoints, virtual ${(run.now / 1000).toFixed(0)} s; ` +
    `states reached: ${st}; kinds: ${[...run.kinds].map(([k, v]) => `${k} ${v}`).join(', ')}; no buffer ${run.noBuffer}, ` +
    `drive misses ${run.driveMiss}; tcpRx ${c.c('tcpRx')}, rstRx ${c.c('tcpRstRx')}, challenge ${c.c('tcpChallengeAck')}, ` +
    `paws ${c.c('tcpPaws')}, badCsum ${c.c('tcpBadChecksum')}, bad ${c.c('tcpBad')}, timeouts ${c.c('tcpTimeout')}, ` +
    `ka ${c.c('tcpKeepalive')}, zwp ${c.c('tcpZeroWindowProbe')}, cookies ${c.c('tcpCookieTx')}; ` +
    (run.offload ? `offloads: ${c.c('txGathered')} frames gathered` : 'no offloads');
}

console.log(`TCP fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} node test/run.mjs fuzz/tcp)`);

for (const kind of ['release', 'debug'] as const) {
  if (LANE !== 'both' && LANE !== kind) continue;
  const n = LANE === 'both' ? Math.round(SEGMENTS * (kind === 'debug' ? DEBUG_SHARE : 1 - DEBUG_SHARE)) : SEGMENTS;
  test(`TCP fuzz, ${kind} build: ${n} segments against connections in every state`, () => {
    const t0 = Date.now();
    const run = lane(kind, kind === 'debug' ? (SEED ^ 0x9e3779b9) >>> 0 : SEED, n);
    console.log(summary(run, Date.now() - t0));
    for (const s of TARGETS) assert.ok((run.reached.get(s) ?? 0) > 0, `state ${NAMES[s]} never reached`);
    if (run.offload) assert.ok(run.c.c('txGathered') > 0, 'the offload lane sent no gathered frame');
  });
}

test.run();
