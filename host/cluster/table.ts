// The live view of a running cluster, as `ipvsadm -L` or z/OS's netstat
// VDPT / VCRT show theirs: per VIPA the stack that routes it now, CRT size and DPT rows
// (port, target, ready or quiesced, listeners, weight, active and total
// connections, handshakes, health); then each stack with its frames,
// forwarded frames and drops; then the recent cluster events. A process that
// runs some of a config's stacks (`shoal up --only`) shows the others as
// remote, and a VIPA another process routes by its owner's name only: its
// DPT and CRT are in that process's table.
import { formatIPv4 } from '../addr.ts';
import type { Cluster, ClusterDptRow } from './cluster.ts';

/** The counter of frames the routing stack forwarded to targets (IP-in-IP). */
const FORWARDED = 'clusterForwarded';
/** Counters that count a drop, by reason (Stack.stats() names each reason). */
const DROP = /Bad|Runt|Ethertype|Martian|NotLocal|NoRoute|NoPort|Full|Drop|NoMem|Lost|Empty|NoBuffer|TooBig|NoTarget|Refused|Short|UnknownType|Replay|NoRoom|Stranger/;

const drops = (stats: Record<string, number>) => Object.entries(stats).reduce((a, [k, v]) => (DROP.test(k) ? a + v : a), 0);

/** Left-aligned columns, two spaces apart. */
function columns(rows: (string | number)[][], indent = ''): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => indent + r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd());
}

/** A cluster event as the table lists it: a role change, takeover,
 * takeback, target loss, a drain; `vipa` and `detail` may be empty. */
export interface ClusterEventRecord { time: number; kind: string; vipa: string; stack: string; detail: string }

/** How many recent events the table lists. */
export const RECENT_EVENTS = 10;

/** The events as lines, oldest first (none: no lines). */
export function renderEvents(events: readonly ClusterEventRecord[]): string[] {
  if (events.length === 0) return [];
  return ['', ...columns([
    ['TIME', 'EVENT', 'VIPA', 'STACK', 'DETAIL'],
    ...events.map((e) => [new Date(e.time).toISOString().slice(11, 23), e.kind, e.vipa || '-', e.stack || '-', e.detail]),
  ])];
}

/** What the table shows, as data (`shoal status --json`): per VIPA its DPT
 * and its CRT's size by target and state; per stack whether it runs. What
 * runs in another process is null here: `up` and `routingUp` of a remote
 * stack, `crt` of a VIPA a remote stack routes (whose `dpt` is empty). */
export interface ClusterSummary {
  vipas: { vipa: string; ports: string; routing: string; routingUp: boolean | null; owner: string | null; method: string;
    dpt: ClusterDptRow[]; crt: { entries: number; size: number; byTarget: Record<string, number>; byState: Record<string, number> } | null }[];
  stacks: { name: string; address: string; up: boolean | null }[];
}

const portsText = (ports: { lo: number; hi: number }[]) => ports.map((p) => (p.lo === p.hi ? `${p.lo}` : `${p.lo}-${p.hi}`)).join(',');
const count = (keys: string[]) => keys.reduce((a: Record<string, number>, k) => { a[k] = (a[k] ?? 0) + 1; return a; }, {});
/** Whether a stack is up, or null when it runs in another process. */
const upHere = (cluster: Cluster, name: string) => (cluster.isLocal(name) ? cluster.isUp(name) : null);
/** Whether a VIPA's owner runs in another process: its DPT and CRT are there. */
const routedElsewhere = (cluster: Cluster, owner: string | null) => owner !== null && !cluster.isLocal(owner);

/** The cluster's state now, as a ClusterSummary. */
export function summarize(cluster: Cluster): ClusterSummary {
  return {
    vipas: cluster.config.vipas.map((v) => {
      const vipa = formatIPv4(v.address);
      const owner = cluster.owner(vipa);
      const crt = cluster.routingTable(vipa);
      return {
        vipa, ports: portsText(v.ports), routing: v.routing, routingUp: upHere(cluster, v.routing), owner, method: v.method,
        dpt: cluster.portTable(vipa),
        crt: routedElsewhere(cluster, owner) ? null
          : { entries: crt.length, size: v.crtSize, byTarget: count(crt.map((e) => e.stack || e.target)), byState: count(crt.map((e) => e.state)) },
      };
    }),
    stacks: cluster.config.stacks.map((s) => ({ name: s.name, address: `${formatIPv4(s.address)}/${s.prefix}`, up: upHere(cluster, s.name) })),
  };
}

/** The table as lines of text; `events`, the recent ones, at its end. */
export function renderTable(cluster: Cluster, events: readonly ClusterEventRecord[] = []): string[] {
  const out: string[] = [];
  for (const v of cluster.config.vipas) {
    const vipa = formatIPv4(v.address);
    const ports = portsText(v.ports);
    const owner = cluster.owner(vipa);
    const elsewhere = routedElsewhere(cluster, owner);
    const crt = elsewhere ? '-' : owner ? cluster.routingTable(vipa).length : 0;
    // After a takeover the backup routes it: say whose it is by the config too.
    const state = (name: string) => (!cluster.isLocal(name) ? ' remote' : cluster.isUp(name) ? '' : ' down');
    const by = owner === null ? `none (${v.routing}${state(v.routing)})`
      : `${owner}${elsewhere ? ' remote' : ''}${owner === v.routing ? '' : ` (backup of ${v.routing})`}`;
    out.push(`VIPA ${vipa}  ports ${ports}  routing ${by}  method ${v.method}  CRT ${crt}/${v.crtSize}`);
    if (elsewhere) { out.push(`  (the DPT and CRT are ${owner}'s, in another process)`); continue; }
    const rows = cluster.portTable(vipa);
    if (rows.length === 0) { out.push('  (no DPT rows: no target listens yet)'); continue; }
    out.push(...columns([
      ['PORT', 'TARGET', 'READY', 'LISTENERS', 'WEIGHT', 'ACTIVE', 'TOTAL', 'SYNS', 'ESTABLISHED', 'HEALTH'],
      ...rows.map((r) => [r.port, `${r.stack || '?'} ${r.target}`, r.quiesced ? 'quiesced' : r.ready ? 'yes' : 'no', r.listeners, r.weight, r.active,
        r.total, r.synsForwarded, r.established, r.health]),
    ], '  '));
  }
  out.push('', ...columns([
    ['STACK', 'ADDRESS', 'STATE', 'RX FRAMES', 'TX FRAMES', 'FORWARDED', 'DROPS'],
    ...cluster.config.stacks.map((s) => {
      const address = `${formatIPv4(s.address)}/${s.prefix}`;
      if (!cluster.isUp(s.name)) return [s.name, address, cluster.isLocal(s.name) ? 'down' : 'remote', '-', '-', '-', '-'];
      const st = cluster.stack(s.name).stats();
      return [s.name, address, 'up', st.rxFrames, st.txFrames, st[FORWARDED] ?? 0, drops(st)];
    }),
  ]), ...renderEvents(events));
  return out;
}
