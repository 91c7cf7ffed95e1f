// A cluster's counters in the Prometheus text exposition format (version
// 0.0.4): every counter of every running stack, labelled {stack="t1"}, and
// the DPT (quiesced targets among it) labelled {vipa,port,target}. A process
// that runs some of a config's stacks (`shoal up --only`) says nothing of
// the others: their process serves their counters, and the DPT and CRT of a
// VIPA whose owner runs there.
// `shoal up --metrics PORT` serves it on 127.0.0.1 only: the counters say
// much about the traffic.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatIPv4 } from '../addr.ts';
import type { Cluster, ClusterDptRow } from './cluster.ts';

/** stats() entries that are levels, not running totals. */
const GAUGES = new Set(['neighbours', 'reassemblyBuffers', 'tcpSockets', 'tcpTimeWait', 'tcpChunksUsed', 'tcpChunks',
  'tcpTimers', 'buffers', 'buffersFree', 'largeBuffers', 'largeBuffersFree', 'memoryBytes']);

/** DPT columns as metrics: name, type, help, value. */
const DPT: [string, 'gauge' | 'counter', string, (r: ClusterDptRow) => number][] = [
  ['dpt_ready', 'gauge', 'Whether the target is a current actual target for the port (1) or not (0)', (r) => (r.ready ? 1 : 0)],
  ['dpt_quiesced', 'gauge', 'Whether the target is quiesced on the port: no new connections, its established ones go on (1) or not (0)', (r) => (r.quiesced ? 1 : 0)],
  ['dpt_listeners', 'gauge', 'Listeners the target reported on the port', (r) => r.listeners],
  ['dpt_weight', 'gauge', 'The target\'s configured weight', (r) => r.weight],
  ['dpt_active_connections', 'gauge', 'Connections to the target through the routing stack now', (r) => r.active],
  ['dpt_connections_total', 'counter', 'Connections routed to the target', (r) => r.total],
  ['dpt_syns_forwarded_total', 'counter', 'SYNs forwarded to the target', (r) => r.synsForwarded],
  ['dpt_established_total', 'counter', 'Forwarded SYNs whose handshake completed', (r) => r.established],
  ['dpt_accept_overflows_total', 'counter', 'Accept-queue overflows the target reported', (r) => r.acceptOverflows],
  ['dpt_healthy', 'gauge', 'Whether the target completes its handshakes (1) or is unresponsive (0)', (r) => (r.health === 'ok' ? 1 : 0)],
];

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string | number>) => `{${Object.entries(l).map(([k, v]) => `${k}="${esc(String(v))}"`).join(',')}}`;

/** The exposition text: one HELP and TYPE per metric, then its samples. */
export function metricsText(cluster: Cluster): string {
  const families = new Map<string, { type: string; help: string; samples: string[] }>();
  const add = (name: string, type: string, help: string, l: Record<string, string | number>, v: number) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { type, help, samples: [] });
    f.samples.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`);
  };
  for (const name of cluster.stackNames) {
    if (!cluster.isLocal(name)) continue;
    const up = cluster.isUp(name);
    add('shoal_stack_up', 'gauge', 'Whether the stack is running (1) or down (0)', { stack: name }, up ? 1 : 0);
    if (!up) continue;
    for (const [k, v] of Object.entries(cluster.stack(name).stats())) {
      const gauge = GAUGES.has(k);
      add(`shoal_${snake(k)}${gauge ? '' : '_total'}`, gauge ? 'gauge' : 'counter', `The stack's ${k} ${gauge ? 'level' : 'counter'} (Stack.stats())`, { stack: name }, v);
    }
  }
  for (const v of cluster.config.vipas) {
    const vipa = formatIPv4(v.address);
    const owner = cluster.owner(vipa);
    if (owner === null || cluster.isLocal(owner)) {
      for (const r of cluster.portTable(vipa)) {
        for (const [n, type, help, get] of DPT) add(`shoal_${n}`, type, help, { vipa, port: r.port, target: r.stack || r.target }, get(r));
      }
      add('shoal_crt_entries', 'gauge', 'Entries in the VIPA\'s connection routing table', { vipa }, cluster.routingTable(vipa).length);
    }
    // Which stack routes the VIPA now: 1 for its owner (after a takeover, a backup), 0 for the other candidates.
    for (const name of [v.routing, ...v.backups]) if (cluster.isLocal(name)) add('shoal_vipa_owner', 'gauge', 'Whether the stack routes the VIPA now (1) or not (0)', { vipa, stack: name }, owner === name ? 1 : 0);
  }
  let out = '';
  for (const [name, f] of families) out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n${f.samples.join('\n')}\n`;
  return out;
}

/** Serves metricsText on 127.0.0.1:port (0: any free port) at /metrics; resolves with the server once it listens. */
export function serveMetrics(cluster: Cluster, port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    if (req.url !== '/metrics' && req.url !== '/') { res.writeHead(404).end('not found: try /metrics\n'); return; }
    let body: string;
    try { body = metricsText(cluster); } catch (e) { res.writeHead(500).end(`${(e as Error).message}\n`); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => { srv.off('error', reject); resolve(srv); });
  });
}

/** The port a server listens on. */
export const portOf = (srv: http.Server) => (srv.address() as AddressInfo).port;
