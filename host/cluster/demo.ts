// `shoal demo` (and `npm start`): a client stack, a routing stack, its
// backup and three targets in one process on a VirtualSwitch; http-hello on
// the targets; the client makes HTTP requests to the VIPA, each on a new
// connection, a few at a time. Halfway the routing stack is killed (a crash)
// and its backup takes the VIPA over; after the last request the routing
// stack comes back and takes it back. Then it shows who served how many, the
// DPT, and the CRT's size before, during and after.
import http from 'node:http';
import { Cluster, type TakeoverEvent } from './cluster.ts';
import type { Method } from './config.ts';
import { renderTable } from './table.ts';

export interface DemoOptions {
  requests: number;
  parallel: number;
  method: Method;
  /** Kill the routing stack halfway, and start it again at the end (default true). */
  takeover?: boolean;
  log: (line: string) => void;
}

export interface DemoResult {
  served: Record<string, number>; failed: number; crt: { before: number; during: number; after: number };
  /** The takeover and the takeback, as the cluster reported them. */
  moves: TakeoverEvent[];
}

export const DEMO_DEFAULTS = { requests: 1000, parallel: 8, method: 'roundrobin' as Method };

const VIPA = '10.0.0.100';
const TARGETS = ['t1', 't2', 't3'];
/** How long the targets take to become ready, and the CRT to empty, at most. */
const SETTLE_MS = 10_000;
const CRT_SAMPLE = 25;

export function demoConfig(method: Method): object {
  return {
    stacks: [
      { name: 'client', address: '10.0.0.2/24' },
      { name: 'r1', address: '10.0.0.1/24' },
      { name: 'r2', address: '10.0.0.3/24' },
      ...TARGETS.map((name, i) => ({ name, address: `10.0.0.${11 + i}/24` })),
    ],
    vipas: [{ address: VIPA, ports: [80], routing: 'r1', backups: ['r2'], targets: TARGETS, method }],
    apps: [{ stacks: TARGETS, listen: `${VIPA}:80`, serve: 'http-hello' }],
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !ok(); await sleep(20)) {
    if (Date.now() - t0 > SETTLE_MS) throw new Error(`demo: ${what} within ${SETTLE_MS} ms`);
  }
}

/** GET / on the VIPA over a new connection from `client` (no agent: `Connection: close`); resolves with the body. */
function get(cluster: Cluster): Promise<string> {
  const client = cluster.stack('client');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: VIPA, port: 80, path: '/', createConnection: () => client.net.connect({ host: VIPA, port: 80 }) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body)).on('error', reject);
    });
    req.on('error', reject).end();
  });
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  // A short TIME-WAIT (2 × MSL): the targets close first, and each connection's CRT entry goes when its TIME-WAIT ends.
  const cluster = await Cluster.create(demoConfig(o.method), { limits: { tcpMslMs: 500 } });
  try {
    const crtSize = () => cluster.routingTable(VIPA).length;
    const takeover = o.takeover ?? true;
    o.log(`cluster: client 10.0.0.2, routing stack r1 10.0.0.1 (backup r2 10.0.0.3), targets t1-t3 10.0.0.11-13; ` +
      `VIPA ${VIPA}:80, method ${o.method}`);
    await until('three targets ready', () => cluster.portTable(VIPA).filter((r) => r.ready).length === TARGETS.length);
    await until('the backup ready', () => cluster.stack('r2').clusterView().some((v) => v.rank === 1));
    const result: DemoResult = {
      served: Object.fromEntries(TARGETS.map((t) => [t, 0])), failed: 0, crt: { before: crtSize(), during: 0, after: 0 }, moves: [],
    };
    const moved = (e: TakeoverEvent) => {
      result.moves.push(e);
      o.log(`${e.reason === 'takeback' ? 'takeback' : 'takeover'}: ${e.stack} routes ${e.vipa} (from ${e.from || 'nobody'}, ` +
        `${e.connections} connections rebuilt from the targets' reports in ${e.ms} ms)`);
    };
    cluster.on('takeover', moved).on('takeback', moved);
    let next = 0;
    let killing: Promise<void> | null = null;
    const errors = new Map<string, number>();
    const worker = async () => {
      while (next < o.requests) {
        next++;
        if (takeover && next === Math.ceil(o.requests / 2)) {
          o.log(`after ${next - 1} requests: r1 killed (a crash, no goodbye)`);
          killing = cluster.kill('r1');
        }
        try {
          const m = /^hello from (\S+)\n$/.exec(await get(cluster));
          if (m && m[1] in result.served) result.served[m[1]]++; else result.failed++;
        } catch (e) {
          result.failed++;
          const k = (e as Error & { code?: string }).code ?? (e as Error).message;
          errors.set(k, (errors.get(k) ?? 0) + 1);
        }
        // Reading the CRT walks it all: a sample every CRT_SAMPLE requests.
        if (next % CRT_SAMPLE === 0) result.crt.during = Math.max(result.crt.during, crtSize());
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: o.parallel }, worker));
    const secs = (performance.now() - t0) / 1000;
    o.log(`${o.requests} requests (${o.parallel} at a time, a new connection each) in ${secs.toFixed(2)} s: ${(o.requests / secs).toFixed(0)}/s`);
    o.log(`served: ${TARGETS.map((t) => `${t} ${result.served[t]}`).join(', ')}; failed: ${result.failed}` +
      (errors.size ? ` (${[...errors].map(([k, n]) => `${k} ×${n}`).join(', ')})` : ''));
    if (killing) {
      await killing;
      await cluster.start('r1');
      o.log('r1 started again');
      await until('r1 taking the VIPA back', () => result.moves.length === 2);
    }
    try { await until('the CRT empty', () => crtSize() === 0); } catch { /* shown below as it is */ }
    result.crt.after = crtSize();
    o.log('');
    for (const l of renderTable(cluster)) o.log(l);
    o.log('');
    o.log(`CRT entries: ${result.crt.before} before, at most ${result.crt.during} during, ${result.crt.after} after`);
    return result;
  } finally {
    await cluster.close();
  }
}
