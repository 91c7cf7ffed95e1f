// A load generator over an in-process Cluster, for the takeover tests and
// benchmark: client stacks on the cluster's switch open many connections to
// VIPA:port, each one transfer to or from the load-app.mjs server (which a
// config names with `serve: LOAD_APP`), every byte checked with sha256 on
// the receiving side. The content follows a seed the caller prints, so a
// failing run replays. A connection that is reset, stalls, ends short or
// delivers other bytes is a failure with its reason; nothing is retried.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, type StackLimits } from '../../host/stack.ts';
import type { Cluster } from '../../host/cluster/cluster.ts';
import type { Socket } from '../../host/net/net.ts';
import type { Clock } from '../../host/clock.ts';
import { formatIPv4, parseIPv4 } from '../../host/addr.ts';
import { MAX_LINE, PIECE, streamOf } from './load-app.mjs';

/** The server module's path, for a config's `apps[].serve`. Found from the
 * package root, since this file runs from a bundle in build/. */
export const LOAD_APP = (() => {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return join(d, 'test/cluster/load-app.mjs');
  }
  throw new Error('load.ts: no package.json above this file');
})();

export type Direction = 'download' | 'upload';

export interface LoadOptions {
  vipa: string;
  port: number;
  /** Connections in all. */
  connections: number;
  /** Bytes each connection moves. */
  bytes: number;
  direction: Direction;
  /** Names the content: connection i moves stream "<seed>/<i>". */
  seed: number;
  /** Client stacks, each with its own address on the cluster's subnet (default 1); connection i uses client i mod clients. */
  clients?: number;
  /** Connections open at once (default: all of them); a finished one makes room for the next. */
  parallel?: number;
  /** A connection that moves nothing for this long fails with ETIMEDOUT (default 10000 ms). */
  idleTimeoutMs?: number;
  /** The client stacks' limits (default Stack.BULK). */
  limits?: StackLimits;
}

export interface ConnectionResult {
  index: number;
  ok: boolean;
  /** The client's "address:port" ('' if it never connected). */
  client: string;
  /** The stack that served it, as the server named itself ('' before its first line). */
  target: string;
  /** Bytes the receiving side got (upload: bytes the client wrote). */
  bytes: number;
  /** expected: of the bytes the sender should send; got: of what the receiver got (upload: the server's answer, '' if none). */
  sha256: { expected: string; got: string };
  /** A download's first byte that differs from the stream (-1: none seen). */
  diffAt: number;
  /** Why it failed: a socket error's code (ECONNRESET, ECONNREFUSED, ETIMEDOUT…), or
   * ESHORT (ended early), ELONG (more bytes than asked), EHASH (bytes differ), EPROTO (a bad or error line). */
  error: { code: string; message: string } | null;
  /** ms since the load started (the cluster's clock). */
  startMs: number;
  endMs: number;
}

export interface LoadResult {
  ok: boolean;
  seed: number;
  direction: Direction;
  /** Every connection, by index. */
  connections: ConnectionResult[];
  failed: ConnectionResult[];
  /** Bytes moved by the connections that succeeded. */
  bytes: number;
  elapsedMs: number;
}

export interface LoadProgress {
  /** Bytes moved so far (download: received; upload: written and no longer queued in the client's send buffer). */
  bytes: number;
  /** Bytes the load moves in all. */
  total: number;
  done: number;
  failed: number;
  /** Connections open now. */
  running: number;
}

export interface Load {
  readonly seed: number;
  progress(): LoadProgress;
  /** Resolves once progress().bytes reaches this share (0..1) of the total, or the load ends. */
  reached(fraction: number): Promise<void>;
  /** The client "address:port" of every connection open now. */
  established(): Set<string>;
  /** Resolves when every connection has ended, ok or not, and the client stacks are closed; never rejects. */
  done: Promise<LoadResult>;
  /** Fails what is still open (EABORTED) and closes the clients; resolves with done. */
  close(): Promise<LoadResult>;
}

/** Client addresses handed out per cluster, so loads running at once do not collide. */
const taken = new WeakMap<Cluster, Set<number>>();

/** Free addresses ("10.0.0.200/24") on the subnet of the stack that routes `vipa`, from host number 200 up. */
function clientAddresses(cluster: Cluster, vipa: string, n: number): string[] {
  const cfg = cluster.config;
  const v = cfg.vipas.find((x) => formatIPv4(x.address) === vipa);
  if (!v) throw new RangeError(`load: no VIPA ${vipa} in the cluster's config`);
  const r = cfg.stacks.find((s) => s.name === v.routing)!;
  const mask = r.prefix === 0 ? 0 : (~0 << (32 - r.prefix)) >>> 0;
  const net = (r.address & mask) >>> 0, last = (net | ~mask) >>> 0;
  let used = taken.get(cluster);
  if (!used) taken.set(cluster, (used = new Set()));
  const busy = new Set([...cfg.stacks.map((s) => s.address), ...cfg.vipas.map((x) => x.address), ...used]);
  const out: string[] = [];
  for (let a = net + 200; out.length < n; a++) {
    if (a >= last) throw new RangeError(`load: no room for ${n} clients on ${formatIPv4(net)}/${r.prefix} above host 200`);
    if (busy.has(a)) continue;
    used.add(a);
    out.push(`${formatIPv4(a)}/${r.prefix}`);
  }
  return out;
}

function releaseAddresses(cluster: Cluster, addresses: string[]): void {
  const used = taken.get(cluster);
  for (const a of addresses) used?.delete(parseIPv4(a.split('/')[0]));
}

/** One connection's state while it runs. */
interface Conn {
  r: ConnectionResult;
  sock: Socket | null;
  /** Bytes that count as moved (see LoadProgress.bytes). */
  moved: () => number;
  abort: () => void;
}

export function startLoad(cluster: Cluster, o: LoadOptions): Load {
  const clientCount = o.clients ?? 1;
  const parallel = Math.min(o.parallel ?? o.connections, o.connections);
  const idleMs = o.idleTimeoutMs ?? 10_000;
  const clock: Clock = cluster.stack(cluster.stackNames.find((n) => cluster.isUp(n))!).clock;
  const addresses = clientAddresses(cluster, o.vipa, clientCount);
  const t0 = clock.now();
  const results: ConnectionResult[] = [];
  const open = new Set<Conn>();
  let finishedBytes = 0, finished = 0, failed = 0, aborted = false;
  const clients: Stack[] = [];

  const one = (index: number, client: Stack): Promise<void> => new Promise((resolve) => {
    const r: ConnectionResult = {
      index, ok: false, client: '', target: '', bytes: 0, sha256: { expected: '', got: '' }, diffAt: -1, error: null,
      startMs: clock.now() - t0, endMs: 0,
    };
    results[index] = r;
    const stream = streamOf(`${o.seed}/${index}`);
    const expected = createHash('sha256');
    let generated = 0;
    /** The stream's next n bytes, counted into the expected hash. */
    const next = (n: number): Buffer => { const b = stream(n); expected.update(b); generated += n; return b; };
    const received = o.direction === 'download' ? createHash('sha256') : null;
    let written = 0;
    const sock = client.net.connect({ host: o.vipa, port: o.port, timeout: idleMs });
    const c: Conn = {
      r, sock,
      moved: () => (o.direction === 'download' ? r.bytes : Math.max(0, written - sock.writableLength - (sock.info()?.sendQueued ?? 0))),
      abort: () => finish({ code: 'EABORTED', message: 'the load was closed' }),
    };
    open.add(c);

    const finish = (error: ConnectionResult['error']) => {
      if (!open.delete(c)) return;
      while (generated < o.bytes) next(Math.min(PIECE, o.bytes - generated));
      r.sha256.expected = expected.digest('hex');
      if (received) r.sha256.got = received.digest('hex');
      if (!error && r.sha256.got !== r.sha256.expected) {
        error = { code: 'EHASH', message: received
          ? `sha256 of the ${r.bytes} bytes received differs from the sender's` + (r.diffAt >= 0 ? ` (first difference at byte ${r.diffAt})` : '')
          : `the server's sha256 of the ${r.bytes} bytes differs from the client's` };
      }
      r.error = error;
      r.ok = error === null;
      r.endMs = clock.now() - t0;
      finished++;
      if (r.ok) finishedBytes += o.bytes; else failed++;
      sock.destroy();
      resolve();
    };
    const fail = (code: string, message: string) => finish({ code, message: `${message} (at ${r.bytes} of ${o.bytes} bytes)` });

    sock.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? 'ERROR', e.message));
    sock.on('timeout', () => fail('ETIMEDOUT', `nothing moved for ${idleMs} ms`));
    sock.on('connect', () => {
      r.client = `${sock.localAddress}:${sock.localPort}`;
      if (o.direction === 'download') { sock.write(`get ${o.bytes} ${o.seed}/${index}\n`); return; }
      sock.write(`put ${o.bytes}\n`);
      const pump = () => {
        while (written < o.bytes && open.has(c)) {
          const b = next(Math.min(PIECE, o.bytes - written));
          written += b.length;
          r.bytes = written;
          if (!sock.write(b)) { sock.once('drain', pump); return; }
        }
      };
      pump();
    });

    // Lines from the server: "ok <name>" first, then for an upload "ok <hash>".
    let line = '';
    let lines = 0;
    const onLine = (text: string): boolean => {
      if (!text.startsWith('ok ')) { fail('EPROTO', `the server says ${JSON.stringify(text)}`); return false; }
      if (lines++ === 0) { r.target = text.slice(3); return true; }
      r.sha256.got = text.slice(3);
      if (written < o.bytes) fail('EPROTO', 'the server answered before it had every byte');
      else finish(null);
      return false;
    };
    const onBody = (d: Buffer) => {
      const want = o.bytes - r.bytes;
      const mine = d.length > want ? d.subarray(0, want) : d;
      const exp = next(mine.length);
      received!.update(mine);
      if (r.diffAt < 0 && !mine.equals(exp)) r.diffAt = r.bytes + firstDifference(mine, exp);
      r.bytes += mine.length;
      if (d.length > want) fail('ELONG', `the server sent more than the ${o.bytes} bytes asked for`);
    };
    sock.on('data', (d: Buffer) => {
      if (lines > 0 && o.direction === 'download') { onBody(d); return; }
      let at = 0;
      while (open.has(c)) {
        const nl = d.indexOf(10, at);
        if (nl < 0) {
          line += d.toString('latin1', at);
          if (line.length > MAX_LINE) fail('EPROTO', 'a line from the server is too long');
          return;
        }
        const more = onLine(line + d.toString('latin1', at, nl));
        line = '';
        at = nl + 1;
        if (more && o.direction === 'download') { if (at < d.length) onBody(d.subarray(at)); return; }
      }
    });
    sock.on('end', () => {
      if (o.direction === 'download' && lines > 0 && r.bytes === o.bytes) finish(null);
      else fail('ESHORT', o.direction === 'download' ? 'the server ended early' : 'the server ended before it answered with the hash');
    });
  });

  const run = async (): Promise<LoadResult> => {
    try {
      for (const a of addresses) {
        clients.push(await Stack.create({ name: `load-${a.split('/')[0]}`, link: cluster.switch.connect(), address: a, clock, limits: o.limits ?? Stack.BULK }));
      }
      let nextIndex = 0;
      const worker = async () => {
        while (nextIndex < o.connections && !aborted) {
          const i = nextIndex++;
          await one(i, clients[i % clients.length]);
        }
      };
      await Promise.all(Array.from({ length: parallel }, worker));
    } finally {
      for (const s of clients) await s.close();
      releaseAddresses(cluster, addresses);
    }
    const failedList = results.filter((r) => !r.ok);
    return { ok: failedList.length === 0 && results.length === o.connections, seed: o.seed, direction: o.direction,
      connections: results, failed: failedList, bytes: finishedBytes, elapsedMs: clock.now() - t0 };
  };
  const done = run();

  const progress = (): LoadProgress => {
    let bytes = finishedBytes;
    for (const c of open) bytes += c.moved();
    for (const r of results) if (r.error) bytes += r.bytes;
    return { bytes, total: o.connections * o.bytes, done: finished, failed, running: open.size };
  };

  return {
    seed: o.seed,
    progress,
    reached: (fraction) => new Promise((resolve) => {
      let over = false;
      void done.then(() => { over = true; });
      const look = () => {
        if (over || progress().bytes >= fraction * o.connections * o.bytes) resolve();
        else clock.setTimer(look, 5);
      };
      look();
    }),
    established: () => new Set([...open].map((c) => c.r.client).filter((a) => a !== '')),
    done,
    close: () => {
      aborted = true;
      for (const c of [...open]) c.abort();
      return done;
    },
  };
}

/** The offset of the first byte where a and b (same length) differ. */
function firstDifference(a: Buffer, b: Buffer): number {
  let lo = 0, hi = a.length;
  // Halves by native compares: the per-byte loop runs over 64 bytes at most.
  while (hi - lo > 64) {
    const mid = (lo + hi) >>> 1;
    if (a.subarray(lo, mid).equals(b.subarray(lo, mid))) lo = mid; else hi = mid;
  }
  while (lo < hi && a[lo] === b[lo]) lo++;
  return lo;
}

/** One line for a test's message: counts, throughput, targets, and each failure with its reason. */
export function describe(res: LoadResult, limit = 20): string {
  const tally: Record<string, number> = {};
  for (const r of res.connections) tally[r.target || '?'] = (tally[r.target || '?'] ?? 0) + 1;
  const mb = res.bytes / 1e6;
  const head = `${res.direction} seed ${res.seed}: ${res.connections.length - res.failed.length}/${res.connections.length} ok, ` +
    `${mb.toFixed(1)} MB in ${(res.elapsedMs / 1000).toFixed(2)} s (${(mb * 8 / Math.max(res.elapsedMs, 1)).toFixed(2)} Gbit/s); ` +
    `targets ${Object.entries(tally).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`;
  const lines = res.failed.slice(0, limit).map((r) =>
    `  #${r.index} ${r.client || '(not connected)'} → ${r.target || '?'}: ${r.error?.code} ${r.error?.message} ` +
    `[${(r.startMs / 1000).toFixed(2)}–${(r.endMs / 1000).toFixed(2)} s]`);
  if (res.failed.length > limit) lines.push(`  … and ${res.failed.length - limit} more`);
  return [head, ...lines].join('\n');
}
