// A cluster from one config (DESIGN.md §7): a network (an in-process
// switch, optionally with a TAP uplink), one Stack per config stack, each
// joined to the cluster; each VIPA routed by its routing stack; the apps
// listening on their stacks. The routing itself (DPT, CRT, forwarding,
// control messages) is the core's: this class only builds, starts, stops and
// reconfigures the stacks and reads their tables.
import { EventEmitter } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { Stack, type StackLimits, type DptRow, type CrtRow, type VipaRoute, type ClusterEvent } from '../stack.ts';
import { VirtualSwitch } from '../link/switch.ts';
import { TapLink } from '../link/tap.ts';
import type { Link } from '../link/link.ts';
import type { Clock } from '../clock.ts';
import { formatIPv4, formatMac } from '../addr.ts';
import {
  parseClusterConfig, clusterKey, ClusterConfigError,
  type AppConfig, type ClusterConfig, type StackConfig, type VipaConfig,
} from './config.ts';
import { loadHandler, startApp, type ConnectionHandler, type RunningApp } from './apps.ts';
import { StackThread, WorkerStack } from './worker.ts';
import type { Worker } from 'node:worker_threads';

/** A DPT row with its target's stack name. */
export interface ClusterDptRow extends DptRow { stack: string }
/** A CRT row with its target's stack name. */
export interface ClusterCrtRow extends CrtRow { stack: string }

export interface ClusterOptions {
  /** Where apps' module paths start from (default: the current directory; `shoal up`: the config file's). */
  baseDir?: string;
  clock?: Clock;
  /** Makes every stack reproducible (each mixes in its name); default random. */
  seed?: number;
  limits?: StackLimits;
  debug?: boolean;
  /** Runs only these config stacks here (`shoal up --only`); the others run in other processes or on other
   * hosts, met through the network (a TAP bridged onto their LAN). They need a shared `key` or `keyFile`. */
  only?: string[];
  /** Attaches the stacks to this TAP device, whatever the config's `network` says (`shoal up --device`). */
  device?: string;
  /** Worker threads for the stacks: the config's `"worker": true` stacks (all of them if none says so) spread over
   * this many threads, several to a thread. Unset: each `"worker": true` stack gets a thread of its own. */
  workers?: number;
}

/** Emitted as 'stack-up' and 'stack-down' (reason: 'killed', 'removed', 'closed', 'crashed': its worker thread ended). */
export interface StackEvent { stack: string; reason?: string }
/** Emitted as 'takeover' (a backup took the VIPA over: its owner died, or two owners met) and 'takeback' (a
 * better-ranked routing stack took it back) once the new owner routes again, with the connections it rebuilt
 * from the targets' reports and how long that took. */
export interface TakeoverEvent {
  vipa: string;
  /** The new owner. */
  stack: string;
  /** The owner before, '' if none was heard. */
  from: string;
  reason: 'dead' | 'start' | 'split-brain' | 'takeback';
  /** From the claim to routing again, ms (the detection before it is the dead interval). */
  ms: number;
  connections: number;
}
/** Emitted as 'role' whenever a stack's part in a VIPA changes. */
export interface RoleEvent { vipa: string; stack: string; role: 'routing' | 'target' | 'none'; reason: string }
/** Emitted as 'target-lost': the VIPA's owner stopped hearing a target; its connections got RSTs. */
export interface TargetLostEvent { vipa: string; stack: string; by: string; connections: number }

/** Emitted as 'reconfigured': stacks and VIPAs by name and address. */
export interface ReconfigureEvent { stacksAdded: string[]; stacksRemoved: string[]; vipasAdded: string[]; vipasRemoved: string[]; vipasChanged: string[] }

interface Node {
  config: StackConfig;
  mac: string;
  stack: Stack | WorkerStack | null;
  port: Link | null;
  /** Keyed by appKey. */
  apps: Map<string, RunningApp>;
}

// The core's defaults for the cluster's tables (StackLimits), and caps on
// what a config's port ranges may ask for: a DPT row per VIPA:port, a 64 KiB
// Maglev table per `hash` VIPA:port (rows past the tables go round, counted).
const DEFAULT_CRT_ENTRIES = 4096;
const DEFAULT_DPT_ROWS = 64;
const MAX_DPT_ROWS = 4096;
const DEFAULT_DPT_TARGETS = 16;
const DEFAULT_MAGLEV = 2;
const MAX_MAGLEV = 64;
const DEFAULT_CLUSTER_STACKS = 64;

const appKey = (a: AppConfig) => `${a.serve} ${a.address}:${a.port}`;

/** A VIPA's route as its routing stack takes it; a target's id (its CRT number) is its place in the config's
 * stacks, the same on every stack that may route the VIPA. */
function routeOf(v: VipaConfig, addressOf: (name: string) => string, idOf: (name: string) => number): VipaRoute {
  return {
    vipa: formatIPv4(v.address),
    ports: v.ports.map((p) => ({ lo: p.lo, hi: p.hi })),
    method: v.method,
    targets: v.targets.map((t) => ({ address: addressOf(t.stack), weight: t.weight, id: idOf(t.stack) })),
    backups: v.backups.map(addressOf),
    affinitySeconds: v.affinity,
    idleTimeoutSeconds: v.idleTimeout,
    crtSize: v.crtSize,
    takeback: v.takeback,
  };
}

/** The config with its network replaced by the TAP `device`, if one is given. */
function onDevice(config: unknown, device: string | undefined): unknown {
  if (device === undefined || typeof config !== 'object' || config === null || Array.isArray(config)) return config;
  return { ...config, network: { type: 'tap', device } };
}

/** Refuses an `only` that names no stack, or one the config lacks, and a cluster across processes without a
 * shared key (each process would make up its own). */
function checkOnly(cfg: ClusterConfig, only: string[]): void {
  if (only.length === 0) throw new RangeError('cluster: only names no stack');
  const names = cfg.stacks.map((s) => s.name);
  for (const name of only) if (!names.includes(name)) throw new RangeError(`cluster: only: no stack "${name}" in the config (its stacks: ${names.join(', ')})`);
  if (cfg.key === null && cfg.keyFile === null) throw new ClusterConfigError('key', 'stacks in several processes (only) need a shared "key" or "keyFile"');
}

/** A stack's MAC in a cluster across processes: locally administered, from its name and own address, so every
 * process gives it the same one and a restarted process the one the kernels' neighbour entries hold. */
function macFor(s: StackConfig): string {
  const h = createHash('sha256').update(`${s.name} ${formatIPv4(s.address)}`).digest();
  return formatMac(0x0200 | h[0], h.readUInt32BE(1));
}

function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

export class Cluster extends EventEmitter {
  /** The cluster's network: connect more stacks (clients, say) with `cluster.switch.connect()`. */
  readonly switch: VirtualSwitch;
  private cfg: ClusterConfig;
  private readonly key: Uint8Array;
  private readonly opts: ClusterOptions;
  private readonly nodes = new Map<string, Node>();
  private handlers = new Map<string, () => ConnectionHandler>();
  private tap: TapLink | null = null;
  private unplugTap: (() => void) | null = null;
  /** MACs in one process: 02:xx:xx (random per cluster, so two clusters on one LAN differ), then a counter;
   * with `only`, derived from each stack's name and address instead (macFor). */
  private readonly macHi: number;
  private readonly macLo: number;
  private macNext = 1;
  private closed = false;
  /** Set once the first config is up: a routing stack that starts later may find a backup holding its VIPA. */
  private running = false;
  /** Per stack and VIPA, the reason of its last claim, until its takeover is complete. */
  private claims = new Map<string, ClusterEvent>();
  private readonly ids = new Map<string, number>();
  /** The config stacks that run here, or null for all of them. */
  private readonly only: Set<string> | null;
  /** Worker threads: the pool (options.workers), or one per stack by name. */
  private readonly pool: (StackThread | null)[] = [];
  private readonly threads = new Map<string, StackThread>();

  private constructor(cfg: ClusterConfig, key: Uint8Array, opts: ClusterOptions) {
    super();
    this.cfg = cfg;
    this.key = key;
    this.opts = opts;
    this.switch = new VirtualSwitch();
    const r = opts.seed === undefined ? randomBytes(2) : [opts.seed & 0xff, (opts.seed >>> 8) & 0xff];
    this.macHi = 0x0200 | r[0];
    this.macLo = r[1];
    this.only = opts.only ? new Set(opts.only) : null;
  }

  /** Builds and starts the cluster `config` describes (DESIGN.md §7); throws ClusterConfigError for a bad one. */
  static async create(config: unknown, opts: ClusterOptions = {}): Promise<Cluster> {
    const cfg = parseClusterConfig(onDevice(config, opts.device));
    if (opts.only) checkOnly(cfg, opts.only);
    if (opts.workers !== undefined && (!Number.isInteger(opts.workers) || opts.workers < 1)) {
      throw new RangeError(`cluster: workers must be a positive integer, got ${opts.workers}`);
    }
    if (opts.clock && (opts.workers !== undefined || cfg.stacks.some((s) => s.worker))) {
      throw new RangeError('cluster: a stack in a worker thread runs on the real clock; give no clock with workers');
    }
    const c = new Cluster(cfg, clusterKey(cfg), opts);
    // Every process numbers the targets alike (their place in the config), so any of them may route a VIPA.
    if (opts.only) for (const s of cfg.stacks) c.idOf(s.name);
    try {
      if (cfg.network.type === 'tap') {
        c.tap = await TapLink.open(cfg.network.device);
        c.unplugTap = c.switch.attach(c.tap);
      }
      await c.apply(null, cfg);
      c.running = true;
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** The config in force, normalized (config.ts). */
  get config(): ClusterConfig { return this.cfg; }

  /** Every config stack's name, in config order. */
  get stackNames(): string[] { return this.cfg.stacks.map((s) => s.name); }

  /** A running stack by name; throws if the name is unknown, the stack runs in another process (code
   * 'ESTACKREMOTE') or is down. A stack in a worker thread is a WorkerStack standing in for it: its view calls
   * (stats, portTable, routingTable, clusterView, clusterQuiesce/Resume, 'cluster' events) work, its sockets throw
   * ERR_STACK_IN_WORKER. */
  stack(name: string): Stack {
    const n = this.node(name);
    if (!n.stack) throw Object.assign(new Error(`cluster: stack "${name}" is down`), { code: 'ESTACKDOWN' });
    return n.stack as Stack;
  }

  /** The worker thread a running stack is in; null for a stack on this thread. Terminating it is a crash. */
  worker(name: string): Worker | null {
    const s = this.node(name).stack;
    return s instanceof WorkerStack ? s.worker : null;
  }

  /** Whether a config stack is running (not killed) in this process. */
  isUp(name: string): boolean { return this.nodes.get(name)?.stack != null; }

  /** Whether a config stack runs in this process: all of them, unless `only` names some. */
  isLocal(name: string): boolean { return this.only === null || this.only.has(name); }

  /** The DPT of a VIPA, from the stack that routes it now ([] while none does). */
  portTable(vipa: string): ClusterDptRow[] {
    const r = this.routingStackOf(vipa);
    return r ? r.portTable(vipa).map((row) => ({ ...row, stack: this.nameOf(row.target) })) : [];
  }

  /** The CRT of a VIPA, from the stack that routes it now ([] while none does). */
  routingTable(vipa: string): ClusterCrtRow[] {
    const r = this.routingStackOf(vipa);
    return r ? r.routingTable(vipa).map((row) => ({ ...row, stack: this.nameOf(row.target) })) : [];
  }

  /** The name of the stack that routes a VIPA now: its routing stack or, after a takeover, a backup; null while
   * none does. With `only`, an owner in another process as this one's stacks last heard it (isLocal tells). */
  owner(vipa: string): string | null { return this.ownerOf(this.vipaConfig(vipa)); }

  private ownerOf(v: VipaConfig): string | null {
    const vipa = formatIPv4(v.address);
    for (const name of [v.routing, ...v.backups]) {
      const s = this.nodes.get(name)?.stack;
      if (s?.clusterView().some((x) => x.vipa === vipa && x.role === 'routing')) return name;
    }
    return this.only === null ? null : this.remoteOwner(vipa);
  }

  /** The owner of a VIPA that the local stacks have heard, when it is not one of them. */
  private remoteOwner(vipa: string): string | null {
    for (const n of this.nodes.values()) {
      const heard = n.stack?.clusterView().find((x) => x.vipa === vipa)?.owner;
      const name = heard ? this.nameOf(heard) : '';
      if (name && !this.isLocal(name)) return name;
    }
    return null;
  }

  /** Stops a stack abruptly, as a crash would: its link goes down first, so it says no goodbye. */
  async kill(name: string): Promise<void> {
    const n = this.node(name);
    if (!n.stack) throw Object.assign(new Error(`cluster: stack "${name}" is already down`), { code: 'ESTACKDOWN' });
    n.port?.close();
    await this.stop(n, 'killed');
  }

  /** Brings a stopped stack back as the config in force describes it. */
  async start(name: string): Promise<void> {
    const n = this.node(name);
    if (n.stack) throw Object.assign(new Error(`cluster: stack "${name}" is already up`), { code: 'ESTACKUP' });
    await this.up(n);
  }

  /** Drains a target, as z/OS's VARY TCPIP,,SYSPLEX,QUIESCE does: its
   * listeners on `port` (none: every port) take no new connections through
   * the routing stack, its established ones run to their end, the DPT shows
   * it quiesced. Emits 'quiesce' ({ stack, port? }). Like z/OS, a stack
   * forgets it on restart: after `kill` and `start` it serves again. Throws
   * RangeError for an unknown name, code 'ESTACKDOWN' for a stack that is down. */
  async quiesce(name: string, port?: number): Promise<void> {
    this.stack(name).clusterQuiesce(port);
    this.emit('quiesce', port === undefined ? { stack: name } : { stack: name, port });
  }

  /** Undoes `quiesce` on `port` (none: every port). Emits 'resume' ({ stack, port? }). */
  async resume(name: string, port?: number): Promise<void> {
    this.stack(name).clusterResume(port);
    this.emit('resume', port === undefined ? { stack: name } : { stack: name, port });
  }

  /** Applies a new config to the running cluster: stacks, VIPAs, ports,
   * targets and apps are added, changed or removed; established connections
   * keep going (a VIPA's routing stack takes its new route in place). The
   * network, the key and the control port cannot change while it runs.
   * A bad config throws and changes nothing. */
  async reconfigure(config: unknown): Promise<void> {
    if (this.closed) throw new Error('cluster: closed');
    const next = parseClusterConfig(onDevice(config, this.opts.device));
    const old = this.cfg;
    if (JSON.stringify(next.network) !== JSON.stringify(old.network)) throw new ClusterConfigError('network', 'cannot change while the cluster runs');
    if (next.controlPort !== old.controlPort) throw new ClusterConfigError('controlPort', 'cannot change while the cluster runs');
    if (JSON.stringify(next.heartbeat) !== JSON.stringify(old.heartbeat)) throw new ClusterConfigError('heartbeat', 'cannot change while the cluster runs');
    if (next.key !== null || next.keyFile !== null || old.key !== null || old.keyFile !== null) {
      const k = clusterKey(next);
      if (k.length !== this.key.length || k.some((b, i) => b !== this.key[i])) throw new ClusterConfigError(next.keyFile !== null ? 'keyFile' : 'key', 'the cluster key cannot change while the cluster runs');
    }
    await this.apply(old, next);
  }

  /** Stops every stack (listeners first) and the network. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const n of this.nodes.values()) if (n.stack) await this.stop(n, 'closed');
    for (const t of [...this.pool, ...this.threads.values()]) await t?.stop();
    this.unplugTap?.();
    this.tap?.close();
    this.tap = null;
  }

  private node(name: string): Node {
    const n = this.nodes.get(name);
    if (n) return n;
    if (!this.isLocal(name) && this.cfg.stacks.some((s) => s.name === name)) {
      throw Object.assign(new Error(`cluster: stack "${name}" runs in another process (this one runs ${[...this.only!].join(', ')})`),
        { code: 'ESTACKREMOTE' });
    }
    throw new RangeError(`cluster: no stack "${name}"`);
  }

  /** A config stack's own address, from the config in force (its stack may not have started yet). */
  private addressOf = (name: string): string => {
    const s = this.cfg.stacks.find((x) => x.name === name);
    if (!s) throw new RangeError(`cluster: no stack "${name}"`);
    return formatIPv4(s.address);
  };

  private nameOf(address: string): string {
    for (const n of this.nodes.values()) if (formatIPv4(n.config.address) === address) return n.config.name;
    return this.cfg.stacks.find((s) => formatIPv4(s.address) === address)?.name ?? '';
  }

  private vipaConfig(vipa: string): VipaConfig {
    const v = this.cfg.vipas.find((x) => formatIPv4(x.address) === vipa);
    if (!v) throw new RangeError(`cluster: no VIPA ${vipa} in the config`);
    return v;
  }

  /** The local stack that routes a VIPA now, or null. */
  private routingStackOf(vipa: string): Stack | WorkerStack | null {
    const name = this.owner(vipa);
    return name === null ? null : this.nodes.get(name)?.stack ?? null;
  }

  /** A stack's CRT number (1-255), given at first sight and kept for the cluster's life, so a reconfigure never
   * gives a target's number to another while entries carry it. */
  private idOf = (name: string): number => {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.ids.size + 1;
      if (id > 255) throw new ClusterConfigError('stacks', 'more than 255 stacks over the cluster\'s life');
      this.ids.set(name, id);
    }
    return id;
  };

  /** Loads every app's handler before anything changes, so a bad module leaves the cluster as it was. */
  private async loadHandlers(cfg: ClusterConfig): Promise<Map<string, () => ConnectionHandler>> {
    const out = new Map<string, () => ConnectionHandler>();
    for (const [i, a] of cfg.apps.entries()) {
      if (!out.has(a.serve) && a.stacks.some((s) => this.isLocal(s))) out.set(a.serve, await loadHandler(a.serve, this.opts.baseDir ?? process.cwd(), `apps[${i}].serve`));
    }
    return out;
  }

  private async apply(old: ClusterConfig | null, next: ClusterConfig): Promise<void> {
    this.handlers = await this.loadHandlers(next);
    const before = new Map((old?.vipas ?? []).map((v) => [formatIPv4(v.address), v]));
    const after = new Map(next.vipas.map((v) => [formatIPv4(v.address), v]));
    const oldAddresses = new Map([...this.nodes.values()].map((n) => [n.config.name, formatIPv4(n.config.address)]));
    this.cfg = next;
    const ev: ReconfigureEvent = { stacksAdded: [], stacksRemoved: [], vipasAdded: [], vipasRemoved: [], vipasChanged: [] };

    // A VIPA that goes, or moves to another routing stack, is released first,
    // so two stacks never answer ARP for it at once.
    for (const [vipa, v] of before) {
      const w = after.get(vipa);
      if (w && w.routing === v.routing) continue;
      // Its owner withdraws it: after a takeover, the backup that routes it.
      const owner = this.ownerOf(v);
      const s = owner === null ? null : this.nodes.get(owner)?.stack;
      if (s) s.vipaUnroute(vipa);
      if (!w) ev.vipasRemoved.push(vipa);
    }
    // Stacks that left the config or changed their own address stop; new ones start.
    for (const n of [...this.nodes.values()]) {
      const s = next.stacks.find((x) => x.name === n.config.name);
      if (s && s.address === n.config.address && s.prefix === n.config.prefix && s.worker === n.config.worker) continue;
      if (n.stack) await this.stop(n, 'removed');
      this.nodes.delete(n.config.name);
      ev.stacksRemoved.push(n.config.name);
    }
    for (const s of next.stacks) {
      if (this.nodes.has(s.name) || !this.isLocal(s.name)) continue;
      const n: Node = { config: s, mac: this.only ? macFor(s) : this.mac(), stack: null, port: null, apps: new Map() };
      this.nodes.set(s.name, n);
      ev.stacksAdded.push(s.name);
      await this.up(n);
    }
    // Stacks that stayed: routes and apps brought to the new config.
    for (const n of this.nodes.values()) {
      if (!n.stack || ev.stacksAdded.includes(n.config.name)) continue;
      await this.startApps(n);
      const want = new Set(this.appsOf(n.config.name).map(appKey));
      for (const [k, a] of n.apps) if (!want.has(k)) { a.close(); n.apps.delete(k); }
    }
    for (const [vipa, v] of after) {
      const r = this.nodes.get(v.routing);
      if (!r?.stack || ev.stacksAdded.includes(v.routing)) continue;
      const was = before.get(vipa);
      const route = routeOf(v, this.addressOf, this.idOf);
      const oldRoute = was && routeOf(was, (name) => oldAddresses.get(name) ?? this.addressOf(name), this.idOf);
      if (was && was.routing === v.routing && JSON.stringify(oldRoute) === JSON.stringify(route)) continue;
      r.stack.vipaRoute(route);
      (was ? ev.vipasChanged : ev.vipasAdded).push(vipa);
    }
    if (old) this.emit('reconfigured', ev);
  }

  private appsOf(name: string): AppConfig[] { return this.cfg.apps.filter((a) => a.stacks.includes(name)); }

  private async startApps(n: Node): Promise<void> {
    const s = n.stack!;
    if (s instanceof WorkerStack) { await s.apps(this.appsOf(n.config.name)); return; }
    for (const a of this.appsOf(n.config.name)) {
      const k = appKey(a);
      if (!n.apps.has(k)) n.apps.set(k, await startApp(s, a, this.handlers.get(a.serve)!));
    }
  }

  /** Starts a node's stack: its own address on a new switch port, the cluster key, its VIPAs, its apps. */
  private async up(n: Node): Promise<void> {
    const c = n.config;
    const seed = this.opts.seed === undefined ? undefined : (this.opts.seed ^ hashName(c.name)) >>> 0;
    const address = `${formatIPv4(c.address)}/${c.prefix}`, limits = { ...this.clusterLimits(c.name), ...this.opts.limits };
    const join = { key: this.key, controlPort: this.cfg.controlPort, heartbeatInterval: this.cfg.heartbeat.interval,
      holdDown: this.cfg.heartbeat.holdDown };
    // Restarted, it listens first: a backup may hold the VIPA, and takes it back as the VIPA's takeback says.
    // A process of a cluster across processes (only) cannot know whether it is the first: it always listens.
    const wait = this.running || this.only !== null;
    const routes = this.cfg.vipas.filter((v) => v.routing === c.name).map((v) => ({ ...routeOf(v, this.addressOf, this.idOf), wait }));
    if (this.inWorker(c)) {
      const s = await this.threadFor(c.name).start({
        name: c.name, address, mac: n.mac, seed, limits, debug: this.opts.debug, mtu: this.switch.mtu, join, routes,
        apps: this.appsOf(c.name), baseDir: this.opts.baseDir ?? process.cwd(),
      }, (link) => this.switch.attach(link));
      n.stack = s;
      n.port = s.link;
      s.on('cluster', (e) => this.clusterEvent(c.name, e));
      this.emit('stack-up', { stack: c.name } satisfies StackEvent);
      return;
    }
    const port = this.switch.connect();
    const s = await Stack.create({ name: c.name, link: port, address, mac: n.mac, clock: this.opts.clock, seed, limits, debug: this.opts.debug });
    n.stack = s;
    n.port = port;
    s.on('cluster', (e) => this.clusterEvent(c.name, e));
    s.clusterJoin(join);
    for (const r of routes) s.vipaRoute(r);
    await this.startApps(n);
    this.emit('stack-up', { stack: c.name } satisfies StackEvent);
  }

  /** Whether a stack runs in a worker thread (ClusterOptions.workers). */
  private inWorker(c: StackConfig): boolean {
    return c.worker || (this.opts.workers !== undefined && !this.cfg.stacks.some((s) => s.worker));
  }

  /** The thread a stack goes to: its place among the worker stacks, round the pool; or its own. A thread that
   * ended is replaced. */
  private threadFor(name: string): StackThread {
    const make = () => new StackThread((names) => this.crashed(names));
    if (this.opts.workers === undefined) {
      let t = this.threads.get(name);
      if (!t?.isAlive) this.threads.set(name, (t = make()));
      return t;
    }
    const i = this.cfg.stacks.filter((s) => this.inWorker(s)).findIndex((s) => s.name === name) % this.opts.workers;
    let t = this.pool[i];
    if (!t?.isAlive) this.pool[i] = t = make();
    return t;
  }

  /** A worker thread ended on its own: its stacks died, as killed ones do. */
  private crashed(names: string[]): void {
    for (const name of names) {
      const n = this.nodes.get(name);
      if (n?.stack) void this.stop(n, 'crashed');
    }
  }

  /** A stack's cluster event, as the Cluster's: 'role' at once, 'takeover' or 'takeback' once the new owner
   * routes again, 'target-lost'. */
  private clusterEvent(name: string, e: ClusterEvent): void {
    const key = `${name} ${e.vipa}`;
    if (e.kind === 'claim') {
      this.claims.set(key, e);
      this.emit('role', { vipa: e.vipa, stack: name, role: 'routing', reason: e.reason ?? '' } satisfies RoleEvent);
    } else if (e.kind === 'yield') {
      const role = this.cfg.vipas.find((v) => formatIPv4(v.address) === e.vipa)?.targets.some((t) => t.stack === name) ? 'target' : 'none';
      this.emit('role', { vipa: e.vipa, stack: name, role, reason: e.reason ?? '' } satisfies RoleEvent);
    } else if (e.kind === 'ready') {
      const claim = this.claims.get(key);
      this.claims.delete(key);
      // A claim's reason is never 'idle' (a yield's): what is left is a TakeoverEvent's.
      if (!claim || claim.reason === undefined || claim.reason === 'config' || claim.reason === 'idle') return;
      const reason = claim.reason;
      this.emit(reason === 'takeback' ? 'takeback' : 'takeover', { vipa: e.vipa, stack: name, from: claim.address ? this.nameOf(claim.address) : '',
        reason, ms: e.ms ?? 0, connections: e.entries ?? 0 } satisfies TakeoverEvent);
    } else if (e.kind === 'target-lost') {
      this.emit('target-lost', { vipa: e.vipa, stack: this.nameOf(e.address), by: name, connections: e.entries ?? 0 } satisfies TargetLostEvent);
    }
  }

  /** The cluster's tables are laid out when a stack starts: room for the
   * VIPAs it routes or backs up in the config in force (kill and start
   * picks up a larger one); other stacks keep the core's small defaults. */
  private clusterLimits(name: string): StackLimits {
    const mine = this.cfg.vipas.filter((v) => v.routing === name || v.backups.includes(name));
    const clusterStacks = Math.max(DEFAULT_CLUSTER_STACKS, this.cfg.stacks.length);
    if (mine.length === 0) return { clusterStacks };
    const ports = (v: VipaConfig) => v.ports.reduce((k, p) => k + p.hi - p.lo + 1, 0);
    const sum = (f: (v: VipaConfig) => number) => mine.reduce((k, v) => k + f(v), 0);
    return {
      crtEntries: Math.max(DEFAULT_CRT_ENTRIES, sum((v) => v.crtSize)),
      dptRows: Math.min(Math.max(DEFAULT_DPT_ROWS, sum(ports)), MAX_DPT_ROWS),
      dptTargets: Math.max(DEFAULT_DPT_TARGETS, ...mine.map((v) => v.targets.length)),
      maglevTables: Math.min(Math.max(DEFAULT_MAGLEV, sum((v) => (v.method === 'hash' ? ports(v) : 0))), MAX_MAGLEV),
      clusterStacks,
    };
  }

  private async stop(n: Node, reason: string): Promise<void> {
    const s = n.stack!;
    n.stack = null;
    for (const a of n.apps.values()) a.close();
    n.apps.clear();
    await s.close();
    n.port = null;
    // A thread that holds no stacks ends (the pool's too: the next start makes it again).
    if (s instanceof WorkerStack && s.thread.size === 0) await s.thread.stop();
    this.emit('stack-down', { stack: n.config.name, reason } satisfies StackEvent);
  }

  /** A new stack's MAC, kept across kill and start. */
  private mac(): string {
    return formatMac(this.macHi, ((this.macLo << 24) | this.macNext++) >>> 0);
  }
}
