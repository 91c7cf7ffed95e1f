// The kernel's view of a cluster, for the takeover tests through a TAP: a
// cluster whose switch has a TAP uplink, the kernel side of it in a network
// namespace of its own, and curl there requesting the VIPA again and again,
// a new connection each time, reporting every request that failed (curl's
// exit code, when). Everything made here is removed afterwards, also when
// the body throws.
import { Cluster, type ClusterOptions } from '../../host/cluster/cluster.ts';
import { kernelSide, withNetns, type Netns } from '../interop/netns.ts';

export interface TapClusterOptions extends ClusterOptions {
  /** The TAP device (default "shl<pid><n>", unique in this process). */
  device?: string;
  /** The kernel side's address on the cluster's subnet (default "10.0.0.254/24"). */
  kernel?: string;
}

let devices = 0;

/** Runs fn with the cluster `config` describes on a TAP uplink, the kernel side up in a fresh namespace (IPv6 off: nothing unasked on the wire); closes and removes both whatever happens. */
export async function withTapCluster(config: Record<string, unknown>, opts: TapClusterOptions,
  fn: (c: Cluster, ns: Netns) => Promise<void>): Promise<void> {
  const { device = `shl${process.pid % 100000}${devices++}`, kernel = '10.0.0.254/24', ...clusterOpts } = opts;
  const c = await Cluster.create({ ...config, network: { type: 'tap', device } }, clusterOpts);
  try {
    await withNetns(async (ns) => {
      ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
      kernelSide(ns, device, kernel);
      await fn(c, ns);
    }, 'shoalload');
  } finally {
    await c.close();
  }
}

export interface CurlLoopOptions {
  /** What curl requests, e.g. "http://10.0.0.100/". */
  url: string;
  /** Stop starting requests after this long (ms)… */
  durationMs?: number;
  /** …or after this many (default: no limit; give one of the two). */
  count?: number;
  /** Each curl's --max-time in seconds (default 5). */
  maxTimeS?: number;
  /** Requests at once (default 1). */
  parallel?: number;
  /** An answer's body must match this (default: anything); else the request fails. */
  expect?: RegExp;
}

export interface CurlFailure {
  index: number;
  /** When it started and how long it took, ms (atMs since the loop started). */
  atMs: number;
  ms: number;
  /** curl's exit code (7: could not connect, 28: timed out, 56: reset…; 0 with a body that did not match), null if killed. */
  code: number | null;
  /** curl's own message, or what was wrong with the body. */
  message: string;
}

export interface CurlLoopResult {
  requests: number;
  failures: CurlFailure[];
  /** Bodies of the answers, trimmed, with their counts ("hello from t1": 4). */
  answers: Record<string, number>;
  /** performance.now() when the loop started: atMs + startedAt is on the clock the tests' marks use. */
  startedAt: number;
  elapsedMs: number;
}

export interface CurlLoop {
  /** Starts no more requests; done resolves once those running end. */
  stop(): void;
  done: Promise<CurlLoopResult>;
}

/** Runs curl in ns in a loop, each request a new process and connection. */
export function curlLoop(ns: Netns, o: CurlLoopOptions): CurlLoop {
  if (o.durationMs === undefined && o.count === undefined) throw new TypeError('curlLoop: give durationMs or count');
  const startedAt = performance.now();
  const failures: CurlFailure[] = [];
  const answers: Record<string, number> = {};
  let started = 0, stopped = false;
  const more = () => !stopped && (o.count === undefined || started < o.count) &&
    (o.durationMs === undefined || performance.now() - startedAt < o.durationMs);
  const one = async (index: number) => {
    const t = performance.now();
    const fail = (code: number | null, message: string) =>
      failures.push({ index, atMs: t - startedAt, ms: performance.now() - t, code, message });
    try {
      const r = await ns.exec(['curl', '-sS', '--fail', '--max-time', String(o.maxTimeS ?? 5), o.url],
        { check: false, timeoutMs: ((o.maxTimeS ?? 5) + 5) * 1000 });
      const body = r.stdout.trim();
      if (r.code !== 0) fail(r.code, r.signal ? `killed by ${r.signal}` : r.stderr.trim());
      else if (o.expect && !o.expect.test(body)) fail(0, `unexpected answer ${JSON.stringify(body.slice(0, 100))}`);
      else answers[body] = (answers[body] ?? 0) + 1;
    } catch (e) {
      fail(null, (e as Error).message);
    }
  };
  const worker = async () => { while (more()) await one(started++); };
  const done = Promise.all(Array.from({ length: o.parallel ?? 1 }, worker))
    .then((): CurlLoopResult => ({ requests: started, failures, answers, startedAt, elapsedMs: performance.now() - startedAt }));
  return { stop: () => { stopped = true; }, done };
}

/** One line per loop for a test's message: requests, answers, and each failure. */
export function describeCurl(res: CurlLoopResult): string {
  const head = `${res.requests} requests in ${(res.elapsedMs / 1000).toFixed(2)} s, ${res.failures.length} failed; answers ` +
    Object.entries(res.answers).sort().map(([k, v]) => `${JSON.stringify(k)} ${v}`).join(', ');
  return [head, ...res.failures.map((f) =>
    `  #${f.index} at ${(f.atMs / 1000).toFixed(3)} s (${f.ms.toFixed(0)} ms): curl exit ${f.code}: ${f.message}`)].join('\n');
}
