// One stack: one wasm instance. With core-view.ts, the only module that touches wasm memory.
// Frames arrive from links and are copied once into buffers the core posted
// on its free stack; a poll (deferred, so many frames share one call) hands
// them over with the time, and everything the core produced — frames and
// events — is drained right after every call.
import { webcrypto } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Link } from './link/link.ts';
import { joined } from './link/offload.ts';
import { realClock, type Clock, type Timer } from './clock.ts';
import { instantiateCore, type CoreExports } from './wasm.ts';
import { parseCidr, parseIPv4, parseMac, formatIPv4, formatMac } from './addr.ts';
import { ShoalError, argError, optionError, stackClosed, sysError } from './errors.ts';
import { DgramFactory, type UdpSocket } from './net/dgram.ts';
import { NetFactory, TCP_RESCAN, ccCode, type Congestion, type TcpHandle } from './net/net.ts';
import { StackFetch, StackHttp } from './http.ts';
import type { RequestInfo, RequestInit, Response } from 'undici';
import { SCB as S, ABI_VERSION, CFG, EV, ERRNO, FRAME, TCP_CHUNK, CLUSTER_METHOD, VIPA_ROLE, CRT_STATE,
  CLUSTER_EVENT, CLUSTER_REASON, ANNOUNCE_FLAG,
  CRT_ORIGIN, DPT_REC, DPT_REC_BYTES, CRT_REC, CRT_REC_BYTES, type CounterName } from './core-abi.ts';
import { CoreView, DESC_WORDS, type PieceSink, type TcpInfoWords } from './core-view.ts';

const { CSUM_OK: FRAME_CSUM_OK, CSUM_PARTIAL: FRAME_CSUM_PARTIAL, MORE: FRAME_MORE, PACKED: FRAME_PACKED } = FRAME;
/** An EV_CLUSTER event's kind (c & 255) and reason (c >> 8 & 255), as a 'cluster' event names them. */
const CLUSTER_KINDS: Record<number, ClusterEvent['kind']> = { [CLUSTER_EVENT.CLAIM]: 'claim', [CLUSTER_EVENT.READY]: 'ready',
  [CLUSTER_EVENT.YIELD]: 'yield', [CLUSTER_EVENT.OWNER]: 'owner', [CLUSTER_EVENT.TARGET_LOST]: 'target-lost' };
const CLUSTER_REASONS: Record<number, ClusterEvent['reason']> = { [CLUSTER_REASON.CONFIG]: 'config', [CLUSTER_REASON.START]: 'start',
  [CLUSTER_REASON.DEAD]: 'dead', [CLUSTER_REASON.TAKEBACK]: 'takeback', [CLUSTER_REASON.SPLIT]: 'split-brain', [CLUSTER_REASON.IDLE]: 'idle' };
/** A VIPA's route as vipa_route takes it and cluster_view writes it (docs/ABI.md §13): the fixed part's bytes,
 * before its ports, backups and targets; cluster_view's header (role, owner, rank and state) before it. */
const ANN_FIXED = 28;
const VIEW_HEAD = 16;
/** TCP event types run from EV.TCP to below this. */
const EV_TCP_END = EV.TCP + 16;
/** The largest IPv4 packet with an Ethernet header and a VLAN tag. */
const MAX_FRAME = 65535 + 18;

export interface InterfaceOptions {
  /** The link this interface sends and receives on (a switch port, a TAP, middleware around one). Required. */
  link: Link;
  /** Its address(es) with prefix length: "10.0.0.1/24", or several. Required. */
  address: string | string[];
  /** Default: derived from the stack's name, the interface index and the seed (or, without one, a random
   * number), locally administered; a switch refuses a MAC another of its ports uses. */
  mac?: string;
  /** Use the link's offloads (partial checksums, large TCP segments) where it has any (default true). */
  offload?: boolean;
}

/** Limits on what a stack holds; its memory is laid out once, at creation.
 * The defaults keep a stack to about 4.1 MiB of linear memory and still fill
 * the pipe for a few connections at a time; `Stack.BULK` is the preset for
 * many parallel bulk transfers (about 32 MiB). */
export interface StackLimits {
  /** Bytes of packet buffers (default 1 MiB; `Stack.BULK`: 8 MiB). */
  poolBytes?: number;
  /** Bytes of large receive buffers, each holding a 64 KiB segment whole, where
   * a link merges segments (GSO) and the MTU is below 65535 (default 512 KiB;
   * `Stack.BULK`: 4 MiB; 0: none). */
  largePoolBytes?: number;
  /** Receive descriptors: frames handed over in one poll at most (default 1024). */
  rxRing?: number;
  /** Bytes of the transmit arena frames are built in (default 1 MiB, or 8 frames if larger). */
  txArena?: number;
  /** Neighbour (ARP) cache entries (default 256). */
  neighbours?: number;
  /** Frames waiting for one neighbour's ARP resolution (default 64, at most 255). */
  arpQueue?: number;
  /** Datagrams reassembled at once (default 16). */
  reassembly?: number;
  /** Packet buffers reassembly may hold (default 0: a share of the pool). */
  reassemblyBuffers?: number;
  /** How long a partly reassembled datagram waits for its fragments (default 30000 ms). */
  reassemblyTimeoutMs?: number;
  /** UDP sockets (default 64). */
  udpSockets?: number;
  /** Datagrams queued per UDP socket (default 256). */
  udpQueue?: number;
  /** ICMP errors sent per second at most (default 100). */
  icmpErrorsPerSecond?: number;
  /** How long a neighbour entry stays reachable before it is revalidated (default 60000 ms). */
  neighbourTtlMs?: number;
  /** init fails if the core would need more linear memory than this (default: no limit). */
  memoryBytes?: number;
  /** TCBs: connections, listeners and TIME-WAIT entries together (default 1024; `Stack.BULK`: 4096). */
  tcpSockets?: number;
  /** Default per-socket send buffer in bytes (default 256 KiB; `Stack.BULK`: 1 MiB). */
  tcpSendBuffer?: number;
  /** Default per-socket receive buffer in bytes: the window it offers (default 256 KiB; `Stack.BULK`: 1 MiB). */
  tcpReceiveBuffer?: number;
  /** Bytes of send-buffer chunks shared by every socket, in 16 KiB chunks
   * (default 512 KiB; `Stack.BULK`: 16 MiB). */
  tcpSendPoolBytes?: number;
  /** Maximum segment lifetime; TIME-WAIT lasts twice this (default 30000 ms). */
  tcpMslMs?: number;
  /** Out-of-order segments kept per connection (default: as many as the receive buffer holds). */
  tcpOutOfOrder?: number;
  /** How long FIN-WAIT-2 waits for the peer's FIN once the socket is closed (default 60000 ms). */
  tcpFinTimeoutMs?: number;
  /** Default congestion control: 'cubic', 'newreno' or 'bbr' (default 'cubic'). */
  tcpCongestion?: Congestion;
  /** Lower bound of the retransmission timeout (default 200 ms). */
  tcpMinRtoMs?: number;
  /** Retransmission timeout before any RTT is measured (default 1000 ms, RFC 6298). */
  tcpInitialRtoMs?: number;
  /** Delayed-ACK timeout (default 40 ms). */
  tcpDelayedAckMs?: number;
  /** RFC 5961 challenge ACKs per second at most (default 1000). */
  tcpChallengeAcksPerSecond?: number;
  /** SYN retransmissions before a connect fails with ETIMEDOUT (default 6). */
  tcpSynRetries?: number;
  /** Initial congestion window in segments (default 10, RFC 6928). */
  tcpInitialCwnd?: number;
  /** CRT entries of all the VIPAs this stack routes together (default 1024; 36.6 bytes each). */
  crtEntries?: number;
  /** DPT rows: VIPA:port pairs with a listening target (default 64). */
  dptRows?: number;
  /** Targets per DPT row (default 16, at most 255). */
  dptTargets?: number;
  /** Maglev tables (64 KiB each) for DPT rows of the `hash` method (default 1). */
  maglevTables?: number;
  /** Stacks of the cluster whose control messages the replay guard follows (default 64). */
  clusterStacks?: number;
}

export type ClusterMethod = 'roundrobin' | 'weighted' | 'leastconn' | 'hotstandby' | 'hash';

/** stack.clusterJoin's options. */
export interface ClusterJoin {
  /** The cluster key (HMAC-SHA-256 of every control message), at least 16 bytes. */
  key: Uint8Array;
  /** UDP port of the control messages (default 7310). */
  controlPort?: number;
  /** Heartbeat interval, ms (default 20): a backup takes a VIPA over after 3 of them plus its rank's skew. */
  heartbeatInterval?: number;
  /** How long a returning better-ranked routing stack waits before it takes a VIPA back, ms (default 1000). */
  holdDown?: number;
}

/** stack.vipaRoute's config of one VIPA. */
export interface VipaRoute {
  vipa: string;
  ports: { lo: number; hi: number }[];
  method: ClusterMethod;
  /** Candidate targets' own addresses, in rank order (hotstandby); id: the target's number in the CRT (1-255),
   * the same on every stack that may route the VIPA (default: the routing stack numbers them). */
  targets: { address: string; weight: number; id?: number }[];
  /** Ranked backup routing stacks' own addresses. */
  backups: string[];
  /** Timed affinity, seconds (0: none). */
  affinitySeconds: number;
  /** Established CRT entries idle this long go. */
  idleTimeoutSeconds: number;
  /** The most CRT entries this VIPA may hold. */
  crtSize: number;
  /** When a returning better-ranked routing stack takes the VIPA back: at once (after its hold-down, the
   * default, as VRRP's preemption) or once the owner has no connections left. */
  takeback?: 'immediate' | 'whenidle';
  /** A routing stack that restarts: listen first for a backup holding the VIPA, and take it back as takeback
   * says, instead of claiming it at once. */
  wait?: boolean;
}

/** What a stack's 'cluster' event says (the EV_CLUSTER event of docs/ABI.md §13). */
export interface ClusterEvent {
  kind: 'claim' | 'ready' | 'yield' | 'owner' | 'target-lost';
  vipa: string;
  /** claim: the owner it took the VIPA from; yield: to whom; owner: the new owner; target-lost: the target. */
  address: string;
  reason?: 'config' | 'start' | 'dead' | 'takeback' | 'split-brain' | 'idle';
  /** ready: how long the takeover took, ms. */
  ms?: number;
  /** ready: CRT entries rebuilt; target-lost: entries dropped. */
  entries?: number;
}

/** What a stack knows of one VIPA (stack.clusterView). */
export interface ClusterVipa {
  vipa: string; routing: string; backups: string[]; targets: string[];
  ports: { lo: number; hi: number }[]; role: 'routing' | 'target' | 'none';
  /** The stack that routes the VIPA now, as far as this one knows ('' while it has heard none). */
  owner: string;
  /** This stack's rank among the routing stack (0) and its backups, or null. */
  rank: number | null;
  /** Taking the VIPA over: waiting for the targets' reports. */
  taking: boolean;
  /** Waiting to take the VIPA back from a worse-ranked owner. */
  wanting: boolean;
}

/** One DPT row: a target of VIPA:port. */
export interface DptRow {
  vipa: string; port: number; target: string; ready: boolean; listeners: number; weight: number; total: number;
  active: number; synsForwarded: number; established: number; acceptOverflows: number; health: 'ok' | 'unresponsive';
  /** The target quiesced its listeners on this port: it keeps its connections but gets no new ones. */
  quiesced: boolean;
}

/** One CRT entry: a connection and its target. */
export interface CrtRow {
  client: string; clientPort: number; vipa: string; port: number; target: string;
  state: 'syn' | 'established' | 'closing'; idleMs: number; frames: number; origin: 'syn' | 'outbound' | 'report';
}

/** What a stack gets unless its options say otherwise: a few MiB. */
const DEFAULT_LIMITS: Readonly<StackLimits> = Object.freeze({
  poolBytes: 1 << 20, largePoolBytes: 512 << 10, tcpSockets: 1024,
  tcpSendBuffer: 256 << 10, tcpReceiveBuffer: 256 << 10, tcpSendPoolBytes: 512 << 10,
  crtEntries: 1024, maglevTables: 1,
});

/** The preset for bulk transfer (`limits: Stack.BULK`, or spread into your
 * own): buffers for many connections each filling a 1 MiB window, 4096 TCBs;
 * about 32 MiB per stack. */
const BULK_LIMITS: Readonly<StackLimits> = Object.freeze({
  poolBytes: 8 << 20, largePoolBytes: 4 << 20, tcpSockets: 4096,
  tcpSendBuffer: 1 << 20, tcpReceiveBuffer: 1 << 20, tcpSendPoolBytes: 16 << 20,
});

/** Every limit's name, so that a misspelt one is an error, not silently ignored. */
const LIMIT_NAMES: Record<keyof StackLimits, true> = {
  poolBytes: true, largePoolBytes: true, rxRing: true, txArena: true, neighbours: true, arpQueue: true, reassembly: true,
  reassemblyBuffers: true, reassemblyTimeoutMs: true, udpSockets: true, udpQueue: true, icmpErrorsPerSecond:
  true, neighbourTtlMs: true, memoryBytes: true, tcpSockets: true, tcpSendBuffer: true, tcpReceiveBuffer: true,
  tcpSendPoolBytes: true, tcpMslMs: true, tcpOutOfOrder: true, tcpFinTimeoutMs: true, tcpCongestion: true,
  tcpMinRtoMs: true, tcpInitialRtoMs: true, tcpDelayedAckMs: true, tcpChallengeAcksPerSecond: true,
  tcpSynRetries: true, tcpInitialCwnd: true, crtEntries: true, dptRows: true, dptTargets: true, maglevTables: true,
  clusterStacks: true,
};

export interface StackOptions {
  /** Names the stack in messages and derives its MACs (default "stack1", "stack2", …). */
  name?: string;
  /** One interface: its link (with `address`; or give `interfaces`). */
  link?: Link;
  /** With `link`: its address(es) with prefix length, "10.0.0.1/24" (required with `link`). */
  address?: string | string[];
  /** With `link`: its MAC (default: derived, see InterfaceOptions.mac). */
  mac?: string;
  /** With `link`: use its offloads (default true); see InterfaceOptions. */
  offload?: boolean;
  /** Several interfaces, instead of `link`/`address` (default none). */
  interfaces?: InterfaceOptions[];
  /** Default route's next hop: an address on one of the interfaces' subnets (default: no default route). */
  gateway?: string;
  /** Timers and time (default real time; VirtualClock for deterministic tests). */
  clock?: Clock;
  /** Secret for ISNs and port choice; a number gives a reproducible stack. Default: random. */
  seed?: number;
  /** Default: a few MiB (see StackLimits); `Stack.BULK` for bulk transfer. */
  limits?: StackLimits;
  /** Run the debug core, assertions on (default false). */
  debug?: boolean;
  /** Probe for each address as it is added (RFC 5227 2.1.1), so that a silent holder elsewhere shows as
   * 'addressConflict' at once (default false: the stack sends nothing until used; a conflict still shows
   * as soon as the other holder sends ARP, which it defends against). */
  probeAddresses?: boolean;
}

export interface PingOptions {
  /** How long to wait for the reply before rejecting with ETIMEDOUT (default 5000 ms). */
  timeout?: number;
  /** Payload bytes of the echo request (default 56). */
  size?: number;
}

/** What the host adds to the core's counters in stats(): its own drops, table and pool sizes. */
type HostStat = 'rxNoBuffer' | 'rxTooBig' | 'rxAfterClose' | 'rxLarge' | 'linksDown' | 'neighbours' | 'reassemblyBuffers' |
  'tcpSockets' | 'tcpTimeWait' | 'tcpChunksUsed' | 'tcpChunks' | 'tcpTimers' | 'buffers' | 'buffersFree' | 'largeBuffers' |
  'largeBuffersFree' | 'memoryBytes';

/** stats(): every counter of the core (drop reasons among them, core-abi.ts COUNTERS) and the host's, by name. */
export type StackStats = Record<CounterName | HostStat, number> & { readonly [name: string]: number };

/** Events of a Stack. */
export interface StackEvents {
  /** Another host on a link claims one of the stack's addresses (RFC 5227): an error with code
   * ERR_ADDRESS_CONFLICT, `address` (ours) and `mac` (the other host's); also counted, `arpConflict`. */
  addressConflict: [err: ShoalError];
  /** A change in this stack's part in a VIPA, or in who routes it (takeover, takeback, a target lost). */
  cluster: [event: ClusterEvent];
}

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

export class Stack extends EventEmitter<StackEvents> {
  /** Limits for bulk transfer: `Stack.create({ …, limits: Stack.BULK })` (see StackLimits). */
  static readonly BULK = BULK_LIMITS;
  readonly name: string;
  readonly clock: Clock;
  readonly dgram: DgramFactory;
  readonly net: NetFactory;
  /** node:http over this stack: `new stack.http.Agent({ keepAlive })`. */
  readonly http: StackHttp;
  private readonly fetcher: StackFetch;
  /** @internal */ readonly core: CoreExports;
  /** @internal */ readonly view: CoreView;
  private readonly links: Link[] = [];
  /** Per interface: the largest IP packet the core sends on it merged (GSO) and in pieces (scatter-gather, as a
   * routing stack forwards a merged segment that came over a chain of buffers); 0 for none. */
  private readonly gsoOut: number[] = [];
  private readonly interfaces: { mac: string; mtu: number; addresses: string[] }[] = [];
  private counterNames: string[] = [];
  private pollTimer: Timer | null = null;
  private kickTimer: Timer | null = null;
  private deadline = -1;
  private busy = false;
  private closed = false;
  private pingId: number;
  /** Part of every derived MAC: the seed, or a random number. */
  private readonly macSalt: number;
  private readonly probe: boolean;
  private pingSeq = 0;
  private pings = new Map<number, PendingPing>();
  /** @internal */ readonly udp = new Map<number, UdpSocket>();
  /** @internal */ readonly tcp = new Map<number, TcpHandle>();
  private host = { rxNoBuffer: 0, rxTooBig: 0, rxAfterClose: 0, rxLarge: 0, linksDown: 0 };

  private constructor(opts: StackOptions) {
    super();
    this.name = opts.name ?? `stack${++stackCount}`;
    this.clock = opts.clock ?? realClock;
    this.core = instantiateCore(opts.debug ? 'debug' : 'release');
    this.view = new CoreView(this.core);
    this.pingId = fnv(this.name) & 0xffff;
    this.macSalt = opts.seed ?? seedWords(undefined)[0];
    this.probe = opts.probeAddresses === true;
    this.dgram = new DgramFactory(this);
    this.net = new NetFactory(this);
    this.http = new StackHttp(this);
    this.fetcher = new StackFetch(this);
  }

  static async create(opts: StackOptions): Promise<Stack> {
    return Stack.createSync(opts);
  }

  /** The same as create(), for callers that cannot await (tests on a virtual clock). */
  static createSync(opts: StackOptions): Stack {
    if (!opts || typeof opts !== 'object') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', 'Stack.create: options object required');
    const ifaces: InterfaceOptions[] = opts.interfaces ? [...opts.interfaces] : [];
    if (opts.link) {
      if (opts.interfaces) throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'Stack.create: give either "link" (with "address") or "interfaces", not both');
      if (opts.address === undefined) throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'Stack.create: the option "link" needs an "address"');
      ifaces.push({ link: opts.link, address: opts.address, mac: opts.mac, offload: opts.offload });
    } else {
      // Without a link these would be silently ignored.
      for (const k of ['address', 'mac', 'offload'] as const) {
        if (opts[k] !== undefined) throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `Stack.create: the option "${k}" needs a "link" (or give "interfaces")`);
      }
    }
    const s = new Stack(opts);
    s.setup(opts, ifaces);
    return s;
  }

  private setup(opts: StackOptions, ifaces: InterfaceOptions[]): void {
    const c = this.core, v = this.view;
    const given = opts.limits ?? {};
    for (const k of Object.keys(given)) if (!(k in LIMIT_NAMES)) throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `Stack.create: unknown limit "${k}"`);
    const l: StackLimits = { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
    const maxMtu = Math.max(1500, ...ifaces.map((i) => i.link.mtu));
    const put = (off: number, val: number | undefined) => {
      if (val === undefined) return;
      if (!Number.isInteger(val) || val < 0 || val > 0xffffffff) throw argError(RangeError, 'ERR_OUT_OF_RANGE', `Stack.create: a limit must be an integer in 0..2^32-1, got ${val}`);
      v.setW(off, val);
    };
    put(CFG.MAX_FRAME, maxMtu + 14);
    put(CFG.POOL_BYTES, l.poolBytes);
    put(CFG.LARGE_BYTES, l.largePoolBytes);
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
    if (l.tcpCongestion !== undefined) put(CFG.TCP_CC, ccCode(l.tcpCongestion, 'Stack.create: the limit "tcpCongestion"'));
    put(CFG.TCP_MIN_RTO, l.tcpMinRtoMs);
    put(CFG.TCP_INIT_RTO, l.tcpInitialRtoMs);
    put(CFG.TCP_DELACK, l.tcpDelayedAckMs);
    put(CFG.TCP_CHALLENGE, l.tcpChallengeAcksPerSecond);
    put(CFG.TCP_SYN_RETRIES, l.tcpSynRetries);
    put(CFG.TCP_INIT_CWND, l.tcpInitialCwnd);
    put(CFG.CRT_ENTRIES, l.crtEntries);
    put(CFG.DPT_ROWS, l.dptRows);
    put(CFG.DPT_TARGETS, l.dptTargets);
    put(CFG.MAGLEV, l.maglevTables);
    put(CFG.CLUSTER_STACKS, l.clusterStacks);
    seedWords(opts.seed).forEach((w, i) => put(CFG.SEED0 + 4 * i, w));
    const r = c.init();
    if (r < 0) {
      throw r === ERRNO.NOMEM ? optionError('limits.memoryBytes', l.memoryBytes, 'too small to initialise the configured pools', r)
        : optionError('limits', l, 'the core refused them', r);
    }
    v.refresh();
    if (v.w(S.ABI_VERSION) !== ABI_VERSION) {
      throw new Error(`Stack.create: the core speaks ABI ${v.w(S.ABI_VERSION)}, this host ${ABI_VERSION}: rebuild them together ("npm run build")`);
    }
    this.ioCap = v.w(S.IO_CAP);
    this.rxRoom = v.w(S.BUF_SIZE) - v.w(S.BUF_DATA);
    this.largeMin = v.w(S.LARGE_NBUFS) ? v.w(S.LARGE_SIZE) >>> 2 : Infinity;
    this.counterNames = v.counterNames();
    ifaces.forEach((itf, i) => this.addInterface(itf, i, opts.interfaces ? `interfaces[${i}].` : ''));
    if (opts.gateway !== undefined) {
      const gw = parseIPv4(opts.gateway);
      const ifx = this.connectedIface(gw);
      if (ifx < 0) throw optionError('gateway', opts.gateway, `not on a connected subnet (${this.addresses.join(', ') || 'no addresses'})`);
      this.addRoute('0.0.0.0/0', opts.gateway, ifx);
    }
  }

  /** opt: how the options name this interface ("" or "interfaces[i]."), for errors. */
  private addInterface(itf: InterfaceOptions, i: number, opt: string): void {
    if (!itf || !itf.link) throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `Stack.create: the option "interfaces[${i}].link" is missing`);
    if (itf.address === undefined) throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `Stack.create: the option "${opt}address" is missing`);
    // Two stacks of one name must not share a MAC: the salt (the seed, else a random number) tells
    // them apart, and a switch refuses what still collides (the same name and seed).
    const mac = itf.mac ?? formatMac(0x0200 | ((fnv(this.name) >>> 24) & 0xff), fnv(`${this.name}/${i}/${this.macSalt}`));
    const [hi, lo] = parseMac(mac);
    itf.link.claimMac?.(mac);
    const ifx = this.core.if_add(hi, lo, itf.link.mtu);
    if (ifx < 0) throw optionError(`${opt}link`, undefined, `its MTU ${itf.link.mtu} is outside 576..65535, or too many interfaces`, ifx);
    const addrs = Array.isArray(itf.address) ? itf.address : [itf.address];
    for (const a of addrs) this.addAddressOn(ifx, a, `${opt}address`);
    this.interfaces.push({ mac, mtu: itf.link.mtu, addresses: [...addrs] });
    this.links[ifx] = itf.link;
    // Offloads the link takes let TCP leave checksums and segmenting to it;
    // anything the link hands up, large segments included, the stack takes.
    // A link that takes frames in pieces (sendv) gets large TCP payloads
    // straight from the send buffers, uncopied (scatter-gather).
    // A link that takes frames packed (sendPacked: a ring to another thread) gets the small ones as one run of
    // records a batch, copied once, not one by one.
    const off = itf.offload === false ? undefined : itf.link.offload;
    const packed = typeof itf.link.sendPacked === 'function' ? 4 : 0;
    this.gsoOut[ifx] = 0;
    if ((off && (off.csum || off.gso)) || packed) {
      const sg = off?.csum && typeof itf.link.sendv === 'function' ? 2 : 0;
      const r = this.core.if_offload(ifx, (off?.csum ? 1 : 0) | sg | packed, (off?.gso ?? 0) >>> 0);
      if (r < 0) throw optionError(`${opt}offload`, off, 'the link\'s offload is not usable: gso needs csum and is at most 65535', r);
      if (sg) this.gsoOut[ifx] = off!.gso;
    }
    itf.link.rxOffload = { csum: true, gso: 65535, ipip: true };
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

  /** Adds an address to interface ifx (default 0): "10.0.0.100/24" (probed for with probeAddresses). */
  addAddress(cidr: string, ifx = 0): void {
    this.live('addAddress');
    if (!this.interfaces[ifx]) throw argError(RangeError, 'ERR_OUT_OF_RANGE', `addAddress: no interface ${ifx}`);
    this.addAddressOn(ifx, cidr, 'cidr');
    this.interfaces[ifx].addresses.push(cidr);
    this.drain();
  }

  /** Adds an address and sends its probe; opt names where it came from, for errors. */
  private addAddressOn(ifx: number, cidr: string, opt: string): void {
    const [ip, plen] = parseCidr(cidr);
    const r = this.core.addr_add(ifx, ip, plen);
    if (r < 0) {
      const why = r === ERRNO.EXIST ? 'the stack has this address already' : r === ERRNO.NOSPC ? 'too many addresses' : 'not a unicast host address';
      throw optionError(opt, cidr, why, r);
    }
    if (this.probe) { this.syncTime(); this.core.arp_probe(ifx, ip); }
  }

  removeAddress(address: string): void {
    this.live('removeAddress');
    const ip = parseIPv4(address.split('/')[0]);
    const r = this.core.addr_del(ip);
    if (r < 0) throw optionError('address', address, 'not an address of this stack', r);
    for (const i of this.interfaces) i.addresses = i.addresses.filter((a) => a.split('/')[0] !== address.split('/')[0]);
  }

  /** Adds a route: "0.0.0.0/0" via "10.0.0.254"; without a gateway, directly on interface ifx. */
  addRoute(dest: string, via?: string, ifx = 0): void {
    this.live('addRoute');
    const [dst, plen] = parseCidr(dest);
    const gw = via ? parseIPv4(via) : 0;
    if (via && this.connectedIface(gw) < 0) throw optionError('via', via, `not on a connected subnet (${this.addresses.join(', ') || 'no addresses'})`);
    const r = this.core.route_add(dst, plen, gw, ifx);
    if (r < 0) throw optionError('dest', `${dest}${via ? ' via ' + via : ''}`, r === ERRNO.NOSPC ? 'too many routes' : `no such route possible on interface ${ifx}`, r);
  }

  /** The interface with a subnet (prefix below /32) that holds address a, or -1. */
  private connectedIface(a: number): number {
    return this.interfaces.findIndex((itf) => itf.addresses.some((c) => {
      const [ip, plen] = parseCidr(c);
      const mask = plen === 0 ? 0 : (~0 << (32 - plen)) >>> 0;
      return plen < 32 && a !== ip && ((a ^ ip) & mask) === 0;
    }));
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
    const u8 = this.view.u8, u32 = this.view.u32, links = this.links, mem = u8.buffer;
    let used = 0;   // bit per interface index (the first 31), the rest flushed together
    for (let i = 0; i < n; i++) {
      const d = base + i * DESC_WORDS;
      const p = u32[d], len = u32[d + 1], word = u32[d + 2], ifx = word & 0xffff, gso = u32[d + 3];
      // What the core built went through no wire: its checksums (complete or left to the link) are good.
      const flags = FRAME_CSUM_OK | ((word >>> 16) & ~FRAME_MORE);
      const link = links[ifx];
      if (word & (FRAME_PACKED << 16)) {
        // A run of records, each a frame with its flags (FRAME_CSUM_OK set by the core) and gso.
        if (!link) continue;
        link.sendPacked!(new Uint8Array(mem, p, len));
      } else if (word & (FRAME_MORE << 16)) {
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
        // A view made on the buffer: half the cost of subarray's.
        link.send(new Uint8Array(mem, p, len), flags, gso);
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
      case EV.CLUSTER: {
        const kind = CLUSTER_KINDS[c & 255];
        if (!kind) break;
        const e: ClusterEvent = { kind, vipa: formatIPv4(a), address: kind === 'ready' ? '' : b ? formatIPv4(b) : '' };
        if (kind === 'claim' || kind === 'yield') e.reason = CLUSTER_REASONS[(c >>> 8) & 255];
        if (kind === 'ready') { e.ms = c >>> 16; e.entries = b; }
        if (kind === 'target-lost') e.entries = c >>> 16;
        this.emit('cluster', e);
        break;
      }
      case EV.ADDR_CONFLICT: {
        const address = formatIPv4(a), mac = formatMac(b & 0xffff, c), ifx = b >>> 16;
        this.emit('addressConflict', new ShoalError(`address conflict: ${address} (interface ${ifx}) is also claimed by ${mac}`,
          'ERR_ADDRESS_CONFLICT', { address, mac }));
        break;
      }
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
      if (this.closed) return reject(stackClosed('ping'));
      const dst = parseIPv4(address);
      this.pingSeq = (this.pingSeq + 1) & 0xffff;
      const key = ((this.pingId << 16) | this.pingSeq) >>> 0;
      this.syncTime();
      const r = this.core.ping(dst, this.pingId, this.pingSeq, size);
      if (r < 0) { this.drain(); return reject(sysError(r, 'ping', address)); }
      const timer = this.clock.setTimer(() => {
        this.settlePing(key, sysError(ERRNO.TIMEDOUT, 'ping', address, undefined, `no reply within ${timeout} ms`));
      }, timeout);
      this.pings.set(key, { resolve, reject, t0: this.clock.now(), timer, dst });
      this.drain();
    });
  }

  /** WHATWG fetch (http:) over this stack, through undici: `await stack.fetch('http://10.0.0.2/')`. */
  fetch(input: RequestInfo, init?: RequestInit): Promise<Response> { return this.fetcher.fetch(input, init); }

  /** Every counter of the core (drop reasons among them), the host's own, and the pool. */
  stats(): StackStats {
    this.live('stats');
    const out = {} as Record<string, number>;
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
    return out as StackStats;
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

  // ---- the cluster (docs/ABI.md, Cluster) ----

  /** Joins the cluster: this stack takes authenticated control messages on
   * its own address (its first) at the control port, learns VIPAs from
   * announcements and, where one names it a candidate target, holds the VIPA
   * without answering ARP for it, reports its listeners on the VIPA's ports
   * and takes IP-in-IP for it from its routing stack and backups only. */
  clusterJoin(opts: ClusterJoin): void {
    const key = opts.key;
    if (!(key instanceof Uint8Array) || key.length < 16 || key.length > this.ioCap) {
      throw optionError('key', undefined, 'a Uint8Array of at least 16 bytes is needed', ERRNO.INVAL);
    }
    this.view.putIo(key);
    // The epoch grows from one start to the next (seconds), and so does the first sequence number within a second.
    const t = Date.now();
    this.syncTime();
    const interval = opts.heartbeatInterval ?? 20, hold = opts.holdDown ?? 1000;
    if (!Number.isInteger(interval) || interval < 3 || interval > 10000) throw optionError('heartbeatInterval', interval, 'an integer from 3 to 10000 ms is needed', ERRNO.INVAL);
    if (!Number.isInteger(hold) || hold < 0 || hold > 0xffffffff) throw optionError('holdDown', hold, 'a number of ms is needed', ERRNO.INVAL);
    const r = this.core.cluster_join(parseIPv4(this.localhost), opts.controlPort ?? 7310, key.length,
      Math.floor(t / 1000) >>> 0, ((t % 1000) * 0x100000) >>> 0, interval, hold);
    this.drain();
    this.check(r, 'clusterJoin');
  }

  /** Makes this stack the VIPA's routing stack: it takes the VIPA (answered
   * in ARP, a gratuitous ARP now), announces it at once and every second, and
   * routes each new connection to a ready target by the method. Again for
   * the same VIPA: the new config for new connections; established ones run
   * to their end, a target left out draining (weight 0) until its last. */
  vipaRoute(r: VipaRoute): void {
    const method = (CLUSTER_METHOD as Record<string, number>)[String(r.method).toUpperCase()];
    const bad = (why: string) => sysError(ERRNO.INVAL, 'vipaRoute', undefined, undefined, why);
    if (method === undefined) throw bad(`method ${r.method}`);
    const { ports, backups, targets } = r;
    if (!ports.length || !targets.length) throw bad('no ports or no targets');
    for (const p of ports) if (!(p.lo >= 1 && p.lo <= p.hi && p.hi <= 65535)) throw bad(`ports ${p.lo}-${p.hi}`);
    const len = ANN_FIXED + 4 * ports.length + 4 * backups.length + 12 * targets.length;
    if (len > this.ioCap) throw bad('too large');
    const d = this.view.ioData(len);
    d.setUint32(0, parseIPv4(r.vipa));
    d.setUint32(4, 0);
    d.setUint8(8, method);
    d.setUint8(9, ports.length);
    d.setUint8(10, backups.length);
    d.setUint8(11, targets.length);
    d.setUint32(12, r.affinitySeconds >>> 0);
    d.setUint32(24, 0);
    d.setUint8(24, r.takeback === 'whenidle' ? ANNOUNCE_FLAG.WHENIDLE : 0);
    let o = ANN_FIXED;
    for (const p of ports) { d.setUint16(o, p.lo); d.setUint16(o + 2, p.hi); o += 4; }
    for (const b of backups) { d.setUint32(o, parseIPv4(b)); o += 4; }
    for (const t of targets) {
      d.setUint32(o, parseIPv4(t.address));
      if (t.id !== undefined && !(Number.isInteger(t.id) && t.id >= 1 && t.id <= 255)) throw bad(`target id ${t.id}`);
      d.setUint32(o + 4, (t.id ?? 0) << 16);
      d.setUint16(o + 6, Math.min(Math.max(t.weight | 0, 1), 65535));
      d.setUint32(o + 8, 0);
      o += 12;
    }
    // A merged (GSO) segment is forwarded whole, and merged (so every link must send GSO and pieces) with room for
    // the outer header; larger ones, or all on other links (a TAP), the link cuts first, as for a router with GRO off.
    const room = Math.min(...this.gsoOut) - 20;
    for (const l of this.links) if (l?.rxOffload?.gso) l.rxOffload = { ...l.rxOffload, gso: room > l.mtu ? Math.min(l.rxOffload.gso, room) : 0 };
    this.syncTime();
    const res = this.core.vipa_route(len, Math.min(r.idleTimeoutSeconds * 1000, 0xffffffff) >>> 0, r.crtSize >>> 0, r.wait ? 1 : 0);
    this.drain();
    this.check(res, 'vipaRoute', r.vipa);
  }

  /** Withdraws the VIPA: new connections are refused, established ones run to
   * their end; the address and DPT go with the last (docs/ABI.md §13). */
  vipaUnroute(vipa: string): void {
    this.check(this.core.vipa_unroute(parseIPv4(vipa)), 'vipaUnroute', vipa);
  }

  /** As a cluster target: quiesces this stack's listeners on a port (all ports when none is given), so the routing
   * stack gives it no new connections there while its established ones run to their end; the DPT shows it. */
  clusterQuiesce(port?: number): void { this.quiesce(port, 1, 'clusterQuiesce'); }

  /** Undoes clusterQuiesce for a port; with none, for every port. */
  clusterResume(port?: number): void { this.quiesce(port, 0, 'clusterResume'); }

  private quiesce(port: number | undefined, on: number, syscall: string): void {
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      throw sysError(ERRNO.INVAL, syscall, undefined, undefined, 'port must be an integer from 1 to 65535');
    }
    this.check(this.core.cluster_quiesce(port ?? 0, on), syscall);
    this.kick();
  }

  /** What this stack knows of each VIPA: from its own config or the announcements it heard. */
  clusterView(): ClusterVipa[] {
    const out: ClusterVipa[] = [];
    const roles: Record<number, ClusterVipa['role']> = { [VIPA_ROLE.ROUTING]: 'routing', [VIPA_ROLE.TARGET]: 'target', [VIPA_ROLE.NONE]: 'none' };
    for (let i = 0, n = 0; (n = this.core.cluster_view(i)) >= 0; i++) {
      if (n === 0) continue;
      const d = this.view.ioData(n);
      const a = VIEW_HEAD;
      const nr = d.getUint8(a + 9), nb = d.getUint8(a + 10), nt = d.getUint8(a + 11);
      let o = a + ANN_FIXED;
      const ports = [], backups = [], targets = [];
      for (let k = 0; k < nr; k++, o += 4) ports.push({ lo: d.getUint16(o), hi: d.getUint16(o + 2) });
      for (let k = 0; k < nb; k++, o += 4) backups.push(formatIPv4(d.getUint32(o)));
      for (let k = 0; k < nt; k++, o += 12) targets.push(formatIPv4(d.getUint32(o)));
      const owner = d.getUint32(8, true), st = d.getUint32(12, true);
      out.push({ vipa: formatIPv4(d.getUint32(a)), routing: formatIPv4(d.getUint32(a + 4)), backups, targets, ports,
        role: roles[d.getUint32(0, true)] ?? 'none', owner: owner ? formatIPv4(owner) : '', rank: (st & 255) === 255 ? null : st & 255,
        taking: (st & 0x100) !== 0, wanting: (st & 0x200) !== 0 });
    }
    return out;
  }

  /** The DPT of a VIPA this stack routes: a row per port and target ([] elsewhere). */
  portTable(vipa: string): DptRow[] {
    const n = this.core.dpt_rows(parseIPv4(vipa));
    const d = this.view.ioData(Math.max(n, 0) * DPT_REC_BYTES);
    const out: DptRow[] = [];
    for (let i = 0; i < n; i++) {
      const w = (f: keyof typeof DPT_REC) => d.getUint32(i * DPT_REC_BYTES + DPT_REC[f], true);
      out.push({ vipa, port: w('port'), target: formatIPv4(w('target')), ready: w('ready') !== 0, listeners: w('listeners'),
        weight: w('weight'), total: w('total'), active: w('active'), synsForwarded: w('synsForwarded'),
        established: w('established'), acceptOverflows: w('acceptOverflows'), health: w('healthy') ? 'ok' : 'unresponsive',
        quiesced: w('quiesced') !== 0 });
    }
    return out;
  }

  /** The CRT entries of a VIPA this stack routes ([] elsewhere). */
  routingTable(vipa: string): CrtRow[] {
    const states: Record<number, CrtRow['state']> = { [CRT_STATE.SYN]: 'syn', [CRT_STATE.ESTABLISHED]: 'established', [CRT_STATE.CLOSING]: 'closing' };
    const origins: Record<number, CrtRow['origin']> = { [CRT_ORIGIN.SYN]: 'syn', [CRT_ORIGIN.OUTBOUND]: 'outbound', [CRT_ORIGIN.REPORT]: 'report' };
    const out: CrtRow[] = [];
    const a = parseIPv4(vipa), cap = Math.floor((this.ioCap - 16) / CRT_REC_BYTES);
    this.syncTime();
    for (let start = 0, n = cap; n === cap;) {
      n = this.core.crt_rows(a, start);
      const d = this.view.ioData(16 + n * CRT_REC_BYTES);
      start = d.getUint32(0, true);
      for (let i = 0; i < n; i++) {
        const w = (f: keyof typeof CRT_REC) => d.getUint32(16 + i * CRT_REC_BYTES + CRT_REC[f], true);
        out.push({ client: formatIPv4(w('client')), clientPort: w('clientPort'), vipa: formatIPv4(w('vipa')), port: w('port'),
          target: formatIPv4(w('target')), state: states[w('state')], idleMs: w('idleMs'), frames: w('frames'),
          origin: origins[w('origin')] });
      }
    }
    return out;
  }

  /** @internal Raises a core error as a Node-style error. */
  check(r: number, syscall: string, address?: string, port?: number, why?: string): number {
    if (r < 0) throw sysError(r, syscall, address, port, why);
    return r;
  }

  /** @internal Throws ERR_STACK_CLOSED once the stack is closed. */
  live(op: string): void {
    if (this.closed) throw stackClosed(op);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.fetcher.close();
    // What is open ends with ERR_STACK_CLOSED: an error for whoever listens for one, then 'close'.
    for (const s of [...this.udp.values()]) s._stackClosing(stackClosed('close'));
    for (const h of [...this.tcp.values()]) h._stackClosing(stackClosed('close'));
    for (const k of [...this.pings.keys()]) this.settlePing(k, stackClosed('ping'));
    this.closed = true;
    if (this.pollTimer) this.clock.clearTimer(this.pollTimer);
    if (this.kickTimer) this.clock.clearTimer(this.kickTimer);
    for (const l of this.links) if (l) { l.onFrame = null; l.onDown = null; l.close(); }
  }

  get isClosed(): boolean { return this.closed; }
}

function unreachable(addr: number, why: string): Error {
  return sysError(ERRNO.HOSTUNREACH, 'ping', formatIPv4(addr), undefined, why);
}
