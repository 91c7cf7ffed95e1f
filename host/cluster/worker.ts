// Stacks in worker threads (DESIGN.md §4 "Past one process"). A worker
// thread runs one or more Stacks, each on a RingLink whose other end the
// main thread plugs into the cluster's switch, and the apps of each beside
// it: frames cross in shared memory, only control (start, route, quiesce,
// stop) and the stack's view (counters, tables, cluster events) go by
// postMessage. Nothing in the core knows the difference.
//
// The worker's script is the bundle this module is in (build/shoal.js, the
// CLI, a test's bundle): started with MARK in its workerData, the module
// serves the main thread and never finishes loading, so nothing after it in
// that bundle (a CLI's main, a test file's body) runs in the worker.
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Stack, type StackLimits, type StackStats, type VipaRoute, type ClusterJoin, type ClusterEvent, type ClusterVipa,
  type DptRow, type CrtRow } from '../stack.ts';
import { RingLink, type RingPair } from '../link/ring.ts';
import { realClock, type Clock } from '../clock.ts';
import { ShoalError, sysError } from '../errors.ts';
import { ERRNO } from '../core-abi.ts';
import type { AppConfig } from './config.ts';
import { loadHandler, startApp, type ConnectionHandler, type RunningApp } from './apps.ts';

const MARK = 'shoal-stack-worker';
/** How often a worker posts each stack's view, besides right after each cluster event and call. */
export const SNAPSHOT_MS = 100;
/** The CRT, a row per connection, goes in every tenth view unless the main thread reads it: asked for within
 * CRT_WANTED_MS, it goes in every view. A busy routing stack's CRT is the bulk of its view. */
const CRT_EVERY = 10;
const CRT_WANTED_MS = 2000;

/** What the main thread needs to start a stack in a worker: the options Cluster gives an in-thread one. */
export interface WorkerStackSpec {
  name: string;
  /** "10.0.0.11/24" */
  address: string;
  mac: string;
  seed?: number;
  limits: StackLimits;
  debug?: boolean;
  mtu: number;
  join: ClusterJoin;
  routes: VipaRoute[];
  apps: AppConfig[];
  /** Where apps' module paths start from. */
  baseDir: string;
}

/** A stack's view as the worker posts it: what the main thread's sync calls answer from. */
interface Snapshot {
  stats: StackStats;
  view: ClusterVipa[];
  dpt: Record<string, DptRow[]>;
  /** Absent: unchanged since the last view that had it. */
  crt?: Record<string, CrtRow[]>;
}

/** A request to the worker, without the id it goes with. */
type Request =
  | { op: 'up'; spec: WorkerStackSpec; pair: RingPair }
  | { op: 'call'; name: string; method: 'vipaRoute' | 'vipaUnroute' | 'clusterQuiesce' | 'clusterResume'; arg: unknown }
  | { op: 'apps'; name: string; apps: AppConfig[] }
  | { op: 'down'; name: string }
  /** No answer: the main thread reads this stack's CRT. */
  | { op: 'crt'; name: string };
type ToWorker = Request & { id: number };
type FromWorker =
  | { op: 'reply'; id: number; name: string; snap?: Snapshot; error?: { message: string; code?: string } }
  | { op: 'snapshot'; name: string; snap: Snapshot }
  | { op: 'cluster'; name: string; event: ClusterEvent; snap: Snapshot };

// ---- the main thread's side ----

/** One worker thread and the stacks it runs. `onCrash` hears of a thread that ended without being asked to
 * (an uncaught exception, terminate()): its stacks died with it. */
export class StackThread {
  readonly worker: Worker;
  private readonly stacks = new Map<string, WorkerStack>();
  private readonly waiting = new Map<number, { resolve: (m: FromWorker & { op: 'reply' }) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private ending = false;
  private alive = true;

  constructor(private readonly onCrash: (stacks: string[], err: Error) => void) {
    this.worker = new Worker(fileURLToPath(import.meta.url), { workerData: { [MARK]: true } });
    let why: Error | null = null;
    this.worker.on('message', (m: FromWorker) => this.message(m));
    this.worker.on('error', (e) => { why = e; });
    this.worker.on('exit', (code) => {
      this.alive = false;
      const err = why ?? new Error(`the worker thread exited (code ${code})`);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      const names = [...this.stacks.keys()];
      for (const s of this.stacks.values()) s.died();
      this.stacks.clear();
      if (!this.ending && names.length) this.onCrash(names, err);
    });
  }

  get size(): number { return this.stacks.size; }
  get isAlive(): boolean { return this.alive; }

  /** Starts a stack in this thread; its link's near end is plugged in by `plug` (returns the unplug). */
  async start(spec: WorkerStackSpec, plug: (link: RingLink) => () => void): Promise<WorkerStack> {
    const link = new RingLink({ mtu: spec.mtu });
    const unplug = plug(link);
    const s = new WorkerStack(spec, this, link, unplug);
    this.stacks.set(spec.name, s);
    try {
      const r = await this.request({ op: 'up', spec, pair: link.pair });
      s.update(r.snap!);
    } catch (e) {
      this.stacks.delete(spec.name);
      s.died();
      throw e;
    }
    return s;
  }

  /** Ends the thread, as asked: no crash is reported for what it still held (Cluster stops it once it holds none, and on close). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.ending = true;
    await this.worker.terminate();
  }

  /** @internal */
  request(m: Request): Promise<FromWorker & { op: 'reply' }> {
    if (!this.alive) return Promise.reject(new ShoalError('the stack\'s worker thread is gone', 'ERR_STACK_CLOSED'));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...m, id });
    });
  }

  /** @internal A request that gets no answer. */
  tell(m: Request): void {
    if (this.alive) this.worker.postMessage({ ...m, id: 0 });
  }

  /** @internal A stack that went down. */
  forget(name: string): void { this.stacks.delete(name); }

  private message(m: FromWorker): void {
    const s = this.stacks.get(m.name);
    if (m.op === 'reply') {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.snap) s?.update(m.snap);
      if (m.error) w?.reject(Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {}));
      else w?.resolve(m);
    } else if (m.op === 'snapshot') s?.update(m.snap);
    else if (m.op === 'cluster') {
      s?.update(m.snap);
      s?.emit('cluster', m.event);
    }
  }
}

const inWorker = (what: string) => new ShoalError(`${what}: this stack runs in a worker thread; its sockets are its apps' (a module exporting the connection handler)`,
  'ERR_STACK_IN_WORKER');

/**
 * A stack in a worker, as the main thread sees it: what Cluster and its
 * users call on a Stack (stats, portTable, routingTable, clusterView,
 * clusterQuiesce/Resume, vipaRoute/Unroute, 'cluster' events, close). The
 * sync calls answer from the view the worker posts every SNAPSHOT_MS and
 * right after each cluster event; calls that change the stack are posted in
 * order. Sockets (net, dgram, http, fetch) live in the worker: here they
 * throw ERR_STACK_IN_WORKER.
 */
export class WorkerStack extends EventEmitter<{ cluster: [ClusterEvent] }> {
  readonly name: string;
  /** Worker stacks run on the real clock. */
  readonly clock: Clock = realClock;
  readonly macs: string[];
  readonly addresses: string[];
  private snap: Snapshot = { stats: {} as StackStats, view: [], dpt: {} };
  private crt: Record<string, CrtRow[]> = {};
  private crtAsked = -Infinity;
  private closed = false;

  /** @internal */
  constructor(spec: WorkerStackSpec, readonly thread: StackThread, readonly link: RingLink, private readonly unplug: () => void) {
    super();
    this.name = spec.name;
    this.macs = [spec.mac];
    this.addresses = [spec.address];
  }

  /** The thread it runs in. */
  get worker(): Worker { return this.thread.worker; }
  get isClosed(): boolean { return this.closed; }

  /** The stack's counters as last posted, with the ring's drops: ringTxDropped (the stack's frames the ring to
   * the switch had no room for), ringRxDropped (the switch's frames the ring to the stack had no room for). */
  stats(): StackStats {
    const r = this.link.stats();
    return { ...this.snap.stats, ringTxDropped: r.in.dropped, ringRxDropped: r.out.dropped, ringBroken: r.broken };
  }
  clusterView(): ClusterVipa[] { return this.snap.view; }
  portTable(vipa: string): DptRow[] { return this.snap.dpt[vipa] ?? []; }
  /** As last posted: within SNAPSHOT_MS while it is read, else within SNAPSHOT_MS × CRT_EVERY. */
  routingTable(vipa: string): CrtRow[] {
    const now = Date.now();
    if (now - this.crtAsked > CRT_WANTED_MS / 4 && !this.closed) {
      this.crtAsked = now;
      this.thread.tell({ op: 'crt', name: this.name });
    }
    return this.crt[vipa] ?? [];
  }

  clusterQuiesce(port?: number): void { this.post('clusterQuiesce', checkPort(port, 'clusterQuiesce')); }
  clusterResume(port?: number): void { this.post('clusterResume', checkPort(port, 'clusterResume')); }
  vipaRoute(r: VipaRoute): void { this.post('vipaRoute', r); }
  vipaUnroute(vipa: string): void { this.post('vipaUnroute', vipa); }

  /** Starts the apps listed that do not run yet, and stops those no longer listed. */
  async apps(apps: AppConfig[]): Promise<void> {
    if (!this.closed) await this.thread.request({ op: 'apps', name: this.name, apps });
  }

  get net(): never { throw inWorker('net'); }
  get dgram(): never { throw inWorker('dgram'); }
  get http(): never { throw inWorker('http'); }
  get fetch(): never { throw inWorker('fetch'); }

  /** Stops the stack in its worker; its link first, so it says no goodbye. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.link.close();
    this.died();
    await this.thread.request({ op: 'down', name: this.name }).catch(() => {});
    this.thread.forget(this.name);
  }

  /** @internal */
  update(snap: Snapshot): void {
    this.snap = snap;
    if (snap.crt) this.crt = snap.crt;
  }

  /** @internal Its thread is gone (or it was closed): unplugged from the switch. */
  died(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.close();
    this.unplug();
  }

  private post(method: 'vipaRoute' | 'vipaUnroute' | 'clusterQuiesce' | 'clusterResume', arg: unknown): void {
    if (this.closed) throw new ShoalError(`${method}: stack ${this.name} is closed`, 'ERR_STACK_CLOSED');
    // An in-thread stack would throw; this one's answer comes later, so a failure is a process warning.
    void this.thread.request({ op: 'call', name: this.name, method, arg })
      .catch((e: Error) => { if (!this.closed) process.emitWarning(`stack ${this.name}: ${method} failed in its worker: ${e.message}`); });
  }
}

/** A bad port throws here, at once, as it does on a Stack, rather than later in the worker. */
function checkPort(port: number | undefined, syscall: string): number | undefined {
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw sysError(ERRNO.INVAL, syscall, undefined, undefined, 'port must be an integer from 1 to 65535');
  }
  return port;
}

// ---- the worker's side ----

interface Hosted {
  stack: Stack; apps: Map<string, RunningApp>; timer: NodeJS.Timeout; baseDir: string;
  /** Views posted by the timer; until when the main thread reads the CRT (Date.now()). */
  ticks: number; crtUntil: number;
}

const appKey = (a: AppConfig) => `${a.serve} ${a.address}:${a.port}`;

function snapshot(s: Stack, withCrt: boolean): Snapshot {
  const view = s.clusterView();
  const dpt: Record<string, DptRow[]> = {}, crt: Record<string, CrtRow[]> = {};
  for (const v of view) {
    if (v.role !== 'routing') continue;
    dpt[v.vipa] = s.portTable(v.vipa);
    if (withCrt) crt[v.vipa] = s.routingTable(v.vipa);
  }
  return withCrt ? { stats: s.stats(), view, dpt, crt } : { stats: s.stats(), view, dpt };
}

async function serve(port: MessagePort): Promise<never> {
  const hosted = new Map<string, Hosted>();
  const handlers = new Map<string, () => ConnectionHandler>();
  const post = (m: FromWorker) => port.postMessage(m);

  const syncApps = async (h: Hosted, apps: AppConfig[]) => {
    for (const [i, a] of apps.entries()) {
      const k = appKey(a);
      if (h.apps.has(k)) continue;
      let make = handlers.get(a.serve);
      if (!make) handlers.set(a.serve, (make = await loadHandler(a.serve, h.baseDir, `apps[${i}].serve`)));
      h.apps.set(k, await startApp(h.stack, a, make));
    }
    const want = new Set(apps.map(appKey));
    for (const [k, a] of h.apps) if (!want.has(k)) { a.close(); h.apps.delete(k); }
  };

  const up = async (spec: WorkerStackSpec, pair: RingPair): Promise<Stack> => {
    const link = RingLink.from(pair, { mtu: spec.mtu });
    const s = await Stack.create({ name: spec.name, link, address: spec.address, mac: spec.mac, seed: spec.seed, limits: spec.limits, debug: spec.debug });
    const h: Hosted = { stack: s, apps: new Map(), baseDir: spec.baseDir, ticks: 0, crtUntil: 0,
      timer: setInterval(() => {
        const withCrt = ++h.ticks % CRT_EVERY === 0 || Date.now() < h.crtUntil;
        post({ op: 'snapshot', name: spec.name, snap: snapshot(s, withCrt) });
      }, SNAPSHOT_MS) };
    hosted.set(spec.name, h);
    s.on('cluster', (event) => post({ op: 'cluster', name: spec.name, event, snap: snapshot(s, true) }));
    s.clusterJoin(spec.join);
    for (const r of spec.routes) s.vipaRoute(r);
    await syncApps(h, spec.apps);
    return s;
  };

  const down = async (name: string) => {
    const h = hosted.get(name);
    if (!h) return;
    hosted.delete(name);
    clearInterval(h.timer);
    for (const a of h.apps.values()) a.close();
    await h.stack.close();
  };

  port.on('message', async (m: ToWorker) => {
    const name = m.op === 'up' ? m.spec.name : m.name;
    const of = (): Hosted => {
      const h = hosted.get(name);
      if (!h) throw new ShoalError(`no stack "${name}" in this worker`, 'ERR_STACK_CLOSED');
      return h;
    };
    if (m.op === 'crt') {
      if (hosted.has(name)) of().crtUntil = Date.now() + CRT_WANTED_MS;
      return;
    }
    try {
      if (m.op === 'up') await up(m.spec, m.pair);
      else if (m.op === 'down') await down(name);
      else if (m.op === 'apps') await syncApps(of(), m.apps);
      else (of().stack[m.method] as (arg: unknown) => void)(m.arg);
      const h = hosted.get(name);
      post({ op: 'reply', id: m.id, name, snap: h ? snapshot(h.stack, true) : undefined });
    } catch (e) {
      const err = e as Error & { code?: string };
      post({ op: 'reply', id: m.id, name, error: { message: err.message, code: err.code } });
    }
  });
  return new Promise<never>(() => {});
}

// Top-level await: in a worker, this bundle stops loading here for good (see the top of this file).
if (!isMainThread && (workerData as Record<string, unknown> | null)?.[MARK] === true) await serve(parentPort!);
