// Shared by the Cluster tests: a small cluster config (a client, a routing
// stack r1, targets t1-t3 on VIPA 10.0.0.100:80), a "whoami" app module
// that names its stack first and then echoes, and waits on the real clock.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from '../../host/stack.ts';
import { Cluster } from '../../host/cluster/cluster.ts';
import type { Server, Socket } from '../../host/net/net.ts';

export const VIPA = '10.0.0.100';
export const TARGETS = ['t1', 't2', 't3'];

/** A Cluster from cfg (seeded; bulk limits and a short MSL, so that ports come free again in a long test),
 * closed whatever fn does. */
export async function withCluster(cfg: unknown, opts: { seed: number; workers?: number }, fn: (c: Cluster) => Promise<void>): Promise<void> {
  const c = await Cluster.create(cfg, { ...opts, limits: { ...Stack.BULK, tcpMslMs: 250 } });
  try { await fn(c); } finally { await c.close(); }
}

/** The events of one name a Cluster emits from now on. */
export function record<T>(c: Cluster, name: string): T[] {
  const out: T[] = [];
  c.on(name, (e: T) => out.push(e));
  return out;
}

/** An app module: writes "<stack name>\n" on each connection, then echoes. */
export const WHOAMI = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-apps-'));
  const p = join(dir, 'whoami.mjs');
  writeFileSync(p, `export default (s, ctx) => { s.on('error', () => {}); s.write(ctx.name + '\\n'); s.pipe(s); };\n`);
  return p;
})();

type Json = Record<string, any>;

/** client 10.0.0.2, r1 10.0.0.1, t1-t3 10.0.0.11-13; the VIPA routed by r1 to `targets`; whoami on t1-t3 unless apps are given. */
export function smallConfig(method = 'roundrobin', over: { targets?: string[]; apps?: Json[]; vipa?: Json } = {}): Json {
  return {
    stacks: [
      { name: 'client', address: '10.0.0.2/24' },
      { name: 'r1', address: '10.0.0.1/24' },
      ...TARGETS.map((name, i) => ({ name, address: `10.0.0.${11 + i}/24` })),
    ],
    vipas: [{ address: VIPA, ports: [80], routing: 'r1', targets: over.targets ?? TARGETS, method, ...over.vipa }],
    apps: over.apps ?? [{ stacks: TARGETS, listen: ':80', serve: WHOAMI }],
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once ok() holds; rejects after ms, saying what it waited for. */
export async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  for (const t0 = Date.now(); !ok(); await sleep(10)) if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
}

/** Waits until these targets (and only these) are ready in the VIPA's DPT. */
export function ready(cluster: Cluster, names: string[], port = 80): Promise<void> {
  const want = [...names].sort().join(',');
  return until(`ready targets ${want}`, () => cluster.portTable(VIPA).filter((r) => r.ready && r.port === port).map((r) => r.stack).sort().join(',') === want);
}

/** What the whoami module does, as a server the test holds: listens on port 80 (any address) of `stack`. */
export function whoamiServer(stack: Stack): Server {
  return stack.net.createServer((s) => { s.on('error', () => {}); s.write(`${stack.name}\n`); s.pipe(s); }).listen(80);
}

/** A connection to VIPA:80 from `client` to a whoami app: resolves with the serving stack's name and the open socket. */
export function whoami(client: Stack, localAddress?: string): Promise<{ name: string; sock: Socket }> {
  return new Promise((resolve, reject) => {
    const sock = client.net.connect({ host: VIPA, port: 80, localAddress });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.off('data', onData);
      sock.off('error', reject);
      resolve({ name: buf.slice(0, nl), sock });
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
}

/** Sends a line on a whoami connection and resolves when it comes back. */
export function echo(sock: Socket, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(line)) { sock.off('data', onData); sock.off('error', reject); resolve(); }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(line);
  });
}

/** Closes a connection and waits for it to be gone both ways. */
export function hangUp(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    sock.once('close', () => resolve());
    sock.resume();
    sock.end();
  });
}

/** Counts by name. */
export function tally(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}
