// The live view of a running cluster, as `ipvsadm -L` or z/OS's netstat
// VDPT / VCRT show theirs: per VIPA its routing stack, CRT size and DPT rows
// (port, target, ready, listeners, weight, active and total connections,
// handshakes, health); then each stack with its frames, forwarded frames and
// drops.
import { formatIPv4 } from '../addr.ts';
import type { Cluster } from './cluster.ts';

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

/** The table as lines of text. */
export function renderTable(cluster: Cluster): string[] {
  const out: string[] = [];
  for (const v of cluster.config.vipas) {
    const vipa = formatIPv4(v.address);
    const ports = v.ports.map((p) => (p.lo === p.hi ? `${p.lo}` : `${p.lo}-${p.hi}`)).join(',');
    const up = cluster.isUp(v.routing);
    const crt = up ? cluster.routingTable(vipa).length : 0;
    out.push(`VIPA ${vipa}  ports ${ports}  routing ${v.routing}${up ? '' : ' (down)'}  method ${v.method}  CRT ${crt}/${v.crtSize}`);
    const rows = cluster.portTable(vipa);
    if (rows.length === 0) { out.push('  (no DPT rows: no target listens yet)'); continue; }
    out.push(...columns([
      ['PORT', 'TARGET', 'READY', 'LISTENERS', 'WEIGHT', 'ACTIVE', 'TOTAL', 'SYNS', 'ESTABLISHED', 'HEALTH'],
      ...rows.map((r) => [r.port, `${r.stack || '?'} ${r.target}`, r.ready ? 'yes' : 'no', r.listeners, r.weight, r.active,
        r.total, r.synsForwarded, r.established, r.health]),
    ], '  '));
  }
  out.push('', ...columns([
    ['STACK', 'ADDRESS', 'STATE', 'RX FRAMES', 'TX FRAMES', 'FORWARDED', 'DROPS'],
    ...cluster.config.stacks.map((s) => {
      const address = `${formatIPv4(s.address)}/${s.prefix}`;
      if (!cluster.isUp(s.name)) return [s.name, address, 'down', '-', '-', '-', '-'];
      const st = cluster.stack(s.name).stats();
      return [s.name, address, 'up', st.rxFrames, st.txFrames, st[FORWARDED] ?? 0, drops(st)];
    }),
  ]));
  return out;
}
