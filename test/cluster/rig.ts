// A cluster on one switch and a virtual clock, for the routing stack's
// tests: a client c (not in the cluster), a routing stack r, targets and,
// for frames written by hand, a raw port that answers ARP for its address.
import { Stack, type VipaRoute, type StackLimits } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { VirtualClock } from '../../host/clock.ts';
import type { Link } from '../../host/link/link.ts';
import { withFaults } from '../../host/link/faults.ts';
import { arpReply, parse, ether, ETHERTYPE_IPV4, type Parsed } from '../helpers/frames.ts';
import { settle } from '../tcp/helpers.ts';

export const VIPA = '10.0.0.100';
export const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
export const RAW_IP = '10.0.0.50', RAW_MAC = '02:00:00:00:00:50';

export interface Rig {
  clock: VirtualClock; sw: VirtualSwitch; c: Stack; r: Stack; t: Stack[];
  raw: { link: Link; rx: Parsed[]; send(f: Uint8Array): void; ip(dstMac: string, ip: Uint8Array): void };
  route(over?: Partial<VipaRoute>): void;
  settle(cond: () => boolean, what: string, ms?: number): Promise<void>;
  stack(name: string, address: string, limits?: StackLimits): Stack;
  /** Cuts a stack off the switch, as a crash would: it sends nothing more, not even a RST. */
  unplug(s: Stack): void;
  /** Drops the control messages (UDP to the control port) for which drop(source address, message type) says so; null: none. */
  cutControl(drop: ((src: string, type: number) => boolean) | null): void;
  /** Delays every frame the routing stack r sends by ms from now on (0: none), its order kept. */
  delayRouting(ms: number): void;
}

/** The source address and message type of a frame if it is a control message (IPv4, UDP to port 7310), else null. */
export function controlMessage(f: Uint8Array): { src: string; type: number } | null {
  if (f.length < 42 || f[12] !== 8 || f[13] !== 0 || f[23] !== 17) return null;
  const u = 14 + (f[14] & 15) * 4;
  if (f.length < u + 10 || ((f[u + 2] << 8) | f[u + 3]) !== 7310) return null;
  return { src: `${f[26]}.${f[27]}.${f[28]}.${f[29]}`, type: f[u + 9] };
}

export function rig(n = 2, opts: { mtu?: number; limits?: StackLimits; delayable?: boolean } = {}): Rig {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch({ mtu: opts.mtu ?? 1500 });
  let seed = 1;
  const ports = new Map<Stack, Link>();
  const stack = (name: string, address: string, limits = opts.limits) => {
    const link = sw.connect();
    const s = Stack.createSync({ name, link, address: address + '/24', clock, seed: seed++, limits });
    ports.set(s, link);
    return s;
  };
  const c = stack('c', '10.0.0.9');
  // Only where a test delays it: the wrapper hides the switch port's offloads.
  const rLink = opts.delayable ? withFaults(sw.connect(), { seed: 1, clock }) : null;
  const r = rLink ? Stack.createSync({ name: 'r', link: rLink, address: '10.0.0.1/24', clock, seed: seed++, limits: opts.limits })
    : stack('r', '10.0.0.1');
  if (rLink) ports.set(r, rLink);
  const t = Array.from({ length: n }, (_, i) => stack(`t${i + 1}`, `10.0.0.${11 + i}`));
  for (const s of [r, ...t]) s.clusterJoin({ key: KEY });
  const link = sw.connect();
  const rx: Parsed[] = [];
  link.onFrame = (f) => {
    const p = parse(f.slice());
    if (p.arp?.op === 1 && p.arp.tpa === RAW_IP) link.send(arpReply(RAW_MAC, RAW_IP, p.arp.sha, p.arp.spa));
    else rx.push(p);
  };
  const raw = {
    link, rx,
    send: (f: Uint8Array) => link.send(f),
    ip: (dstMac: string, ip: Uint8Array) => link.send(ether(dstMac, RAW_MAC, ETHERTYPE_IPV4, ip)),
  };
  const route = (over: Partial<VipaRoute> = {}) => r.vipaRoute({
    vipa: VIPA, ports: [{ lo: 80, hi: 80 }], method: 'roundrobin', backups: [], affinitySeconds: 0,
    idleTimeoutSeconds: 900, crtSize: 1000, targets: t.map((s) => ({ address: s.localhost, weight: 1 })), ...over,
  });
  return {
    clock, sw, c, r, t, raw, route, stack,
    unplug: (s) => ports.get(s)!.close(),
    delayRouting: (ms) => {
      if (!rLink) throw new Error('rig: delayRouting needs rig(n, { delayable: true })');
      rLink.set({ tx: { delayMs: ms } });
    },
    cutControl: (drop) => {
      sw.monitor = drop && ((f: Uint8Array) => { const m = controlMessage(f); return m === null || !drop(m.src, m.type); });
    },
    settle: (cond, what, ms = 10_000) => settle(clock, cond, ms, what),
  };
}

/** The ready targets of port 80, by address. */
export function ready(r: Stack, port = 80): string[] {
  return r.portTable(VIPA).filter((d) => d.port === port && d.ready).map((d) => d.target).sort();
}
