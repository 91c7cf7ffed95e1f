// The cluster config (DESIGN.md §7, issue 13 item 1): the JSON that
// `shoal up` reads and Cluster.create takes, checked field by field and
// turned into a normalized, typed form. Every refusal names the field path
// (`vipas[0].targets[1]`) and the reason, so a user can fix the file.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseIPv4, parseCidr, formatIPv4 } from '../addr.ts';

export const METHODS = ['roundrobin', 'weighted', 'leastconn', 'hotstandby', 'hash'] as const;
export type Method = typeof METHODS[number];

/** UDP port of the control messages between stacks' own addresses, unless the config sets one. */
export const CONTROL_PORT = 7310;
/** CRT entries per VIPA, unless the config sets `crtSize`. */
export const CRT_SIZE = 65536;
/** Seconds a CRT entry of an established connection lives without traffic (IPVS's TCP established timeout). */
export const IDLE_TIMEOUT = 900;
/** Heartbeat interval, ms: a backup declares the routing stack dead after 3
 * intervals plus a rank skew, so a crash is detected in well under 300 ms. */
export const HEARTBEAT_INTERVAL = 20;
/** Ms a returning better-ranked stack waits before it takes a VIPA back, so a flapping one does not. */
export const HOLD_DOWN = 1000;

/** When a VIPA's original routing stack takes it back from a backup (z/OS MOVEABLE IMMEDIATE / WHENIDLE). */
export const TAKEBACKS = ['immediate', 'whenidle'] as const;
export type Takeback = typeof TAKEBACKS[number];

export interface StackConfig {
  name: string; address: number; prefix: number;
  /** Runs in a worker thread of its own (or of the pool `Cluster.create`'s `workers` sets), meeting the switch
   * through shared-memory rings (default false). */
  worker: boolean;
}
export interface PortRange { lo: number; hi: number }
export interface TargetConfig { stack: string; weight: number }
export interface VipaConfig {
  address: number;
  ports: PortRange[];
  routing: string;
  /** Ranked: the first takes the VIPA over first. */
  backups: string[];
  /** In the order given: for hotstandby, the first is preferred and the rest are ranked standbys. */
  targets: TargetConfig[];
  method: Method;
  /** Seconds a client address stays with its target after its last connection ends (0: none). */
  affinity: number;
  crtSize: number;
  idleTimeout: number;
  /** 'immediate' (default, as VRRP's preemption): at once; 'whenidle': once the backup has no connections. */
  takeback: Takeback;
}
export interface AppConfig { stacks: string[]; address: number; port: number; serve: string }
export interface HeartbeatConfig { interval: number; holdDown: number }
export type NetworkConfig = { type: 'switch' } | { type: 'tap'; device: string };
export interface ClusterConfig {
  network: NetworkConfig;
  stacks: StackConfig[];
  vipas: VipaConfig[];
  /** The cluster key as given (`key`), or null: then `keyFile`, or a random key for an in-process cluster. */
  key: string | null;
  keyFile: string | null;
  controlPort: number;
  heartbeat: HeartbeatConfig;
  apps: AppConfig[];
}

export class ClusterConfigError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`cluster config: ${path}: ${reason}`);
    this.name = 'ClusterConfigError';
  }
}

type Obj = Record<string, unknown>;

function fail(path: string, reason: string): never { throw new ClusterConfigError(path, reason); }

function object(v: unknown, path: string, fields: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  for (const k of Object.keys(v)) if (!fields.includes(k)) fail(path ? `${path}.${k}` : k, `unknown field (known: ${fields.join(', ')})`);
  return v as Obj;
}

function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, 'must be an array');
  return v;
}

function string(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, 'must be a non-empty string');
  return v;
}

function integer(v: unknown, path: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail(path, `must be an integer from ${lo} to ${hi}`);
  return v;
}

function ipv4(v: unknown, path: string): number {
  try { return parseIPv4(string(v, path)); } catch (e) { if (e instanceof ClusterConfigError) throw e; fail(path, `not an IPv4 address: ${JSON.stringify(v)}`); }
}

/** 80, "80" or "8000-8010". */
function portRange(v: unknown, path: string): PortRange {
  if (typeof v === 'number') { const p = integer(v, path, 1, 65535); return { lo: p, hi: p }; }
  const m = typeof v === 'string' ? /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v) : null;
  if (!m) fail(path, 'must be a port (1-65535) or a range "lo-hi"');
  const lo = integer(Number(m[1]), path, 1, 65535), hi = m[2] === undefined ? lo : integer(Number(m[2]), path, 1, 65535);
  if (hi < lo) fail(path, `range ${v} runs backwards`);
  return { lo, hi };
}

function stackNames(v: unknown, path: string, known: Map<string, StackConfig>, allowEmpty: boolean): string[] {
  const a = array(v, path);
  if (!allowEmpty && a.length === 0) fail(path, 'must name at least one stack');
  const seen = new Set<string>();
  return a.map((x, i) => {
    const n = string(x, `${path}[${i}]`);
    if (!known.has(n)) fail(`${path}[${i}]`, `unknown stack "${n}"`);
    if (seen.has(n)) fail(`${path}[${i}]`, `stack "${n}" named twice`);
    seen.add(n);
    return n;
  });
}

const TOP = ['network', 'stacks', 'vipas', 'key', 'keyFile', 'controlPort', 'heartbeat', 'apps'] as const;
const VIPA = ['address', 'ports', 'routing', 'backups', 'targets', 'method', 'weights', 'affinity', 'crtSize', 'idleTimeout', 'takeback'] as const;

/** Checks a parsed JSON cluster config and returns its normalized form; throws ClusterConfigError. */
export function parseClusterConfig(input: unknown): ClusterConfig {
  const c = object(input, '', TOP);

  let network: NetworkConfig = { type: 'switch' };
  if (c.network !== undefined) {
    const n = object(c.network, 'network', ['type', 'device']);
    const type = string(n.type, 'network.type');
    if (type === 'switch') {
      if (n.device !== undefined) fail('network.device', 'only a "tap" network has a device');
    } else if (type === 'tap') {
      const device = string(n.device, 'network.device');
      if (device.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(device)) fail('network.device', `not an interface name (at most 15 of A-Z a-z 0-9 _ . -): ${JSON.stringify(device)}`);
      network = { type: 'tap', device };
    } else fail('network.type', `must be "switch" or "tap", not ${JSON.stringify(type)}`);
  }

  const stacks = new Map<string, StackConfig>();
  const byAddress = new Map<number, string>();
  const sl = array(c.stacks, 'stacks');
  if (sl.length === 0) fail('stacks', 'must list at least one stack');
  sl.forEach((x, i) => {
    const p = `stacks[${i}]`;
    const s = object(x, p, ['name', 'address', 'worker']);
    const name = string(s.name, `${p}.name`);
    if (stacks.has(name)) fail(`${p}.name`, `duplicate stack name "${name}"`);
    let address: number, prefix: number;
    try { [address, prefix] = parseCidr(string(s.address, `${p}.address`)); } catch (e) {
      if (e instanceof ClusterConfigError) throw e;
      fail(`${p}.address`, `must be an address with prefix length, like "10.0.0.1/24": ${JSON.stringify(s.address)}`);
    }
    const other = byAddress.get(address);
    if (other !== undefined) fail(`${p}.address`, `address ${formatIPv4(address)} is also stack "${other}"'s`);
    byAddress.set(address, name);
    if (s.worker !== undefined && typeof s.worker !== 'boolean') fail(`${p}.worker`, `must be true or false, not ${JSON.stringify(s.worker)}`);
    stacks.set(name, { name, address, prefix, worker: s.worker === true });
  });

  const vipas: VipaConfig[] = [];
  const vl = c.vipas === undefined ? [] : array(c.vipas, 'vipas');
  vl.forEach((x, i) => {
    const p = `vipas[${i}]`;
    const v = object(x, p, VIPA);
    const address = ipv4(v.address, `${p}.address`);
    const owner = byAddress.get(address);
    if (owner !== undefined) fail(`${p}.address`, `VIPA ${formatIPv4(address)} is stack "${owner}"'s own address`);
    const prev = vipas.findIndex((o) => o.address === address);
    if (prev >= 0) fail(`${p}.address`, `VIPA ${formatIPv4(address)} is also vipas[${prev}]`);

    const pl = array(v.ports, `${p}.ports`);
    if (pl.length === 0) fail(`${p}.ports`, 'must list at least one port');
    const ports = pl.map((r, j) => portRange(r, `${p}.ports[${j}]`));
    ports.forEach((r, j) => {
      const k = ports.findIndex((o, m) => m < j && o.lo <= r.hi && r.lo <= o.hi);
      if (k >= 0) fail(`${p}.ports[${j}]`, `overlaps ports[${k}]`);
    });

    const routing = string(v.routing, `${p}.routing`);
    if (!stacks.has(routing)) fail(`${p}.routing`, `unknown stack "${routing}"`);
    const backups = v.backups === undefined ? [] : stackNames(v.backups, `${p}.backups`, stacks, true);
    const self = backups.indexOf(routing);
    if (self >= 0) fail(`${p}.backups[${self}]`, `"${routing}" is the routing stack itself`);
    const names = stackNames(v.targets, `${p}.targets`, stacks, false);

    const method = v.method === undefined ? 'roundrobin' : string(v.method, `${p}.method`);
    if (!(METHODS as readonly string[]).includes(method)) fail(`${p}.method`, `unknown method "${method}" (one of ${METHODS.join(', ')})`);

    let weights = names.map(() => 1);
    if (v.weights !== undefined) {
      if (Array.isArray(v.weights)) {
        if (v.weights.length !== names.length) fail(`${p}.weights`, `has ${v.weights.length} weights for ${names.length} targets`);
        weights = v.weights.map((w, j) => integer(w, `${p}.weights[${j}]`, 1, 65535));
      } else {
        const wo = object(v.weights, `${p}.weights`, names);
        weights = names.map((n) => (wo[n] === undefined ? 1 : integer(wo[n], `${p}.weights.${n}`, 1, 65535)));
      }
    }

    const takeback = v.takeback === undefined ? 'immediate' : string(v.takeback, `${p}.takeback`);
    if (!(TAKEBACKS as readonly string[]).includes(takeback)) fail(`${p}.takeback`, `must be ${TAKEBACKS.map((t) => `"${t}"`).join(' or ')}, not ${JSON.stringify(takeback)}`);

    vipas.push({
      address, ports, routing, backups,
      targets: names.map((stack, j) => ({ stack, weight: weights[j] })),
      method: method as Method,
      affinity: v.affinity === undefined ? 0 : integer(v.affinity, `${p}.affinity`, 0, 86400),
      crtSize: v.crtSize === undefined ? CRT_SIZE : integer(v.crtSize, `${p}.crtSize`, 1, 1 << 24),
      idleTimeout: v.idleTimeout === undefined ? IDLE_TIMEOUT : integer(v.idleTimeout, `${p}.idleTimeout`, 1, 86400 * 7),
      takeback: takeback as Takeback,
    });
  });

  if (c.key !== undefined && c.keyFile !== undefined) fail('keyFile', 'give either "key" or "keyFile", not both');
  const key = c.key === undefined ? null : string(c.key, 'key');
  if (key !== null && Buffer.byteLength(key) < KEY_MIN) fail('key', `must be at least ${KEY_MIN} bytes`);
  const keyFile = c.keyFile === undefined ? null : string(c.keyFile, 'keyFile');
  const controlPort = c.controlPort === undefined ? CONTROL_PORT : integer(c.controlPort, 'controlPort', 1, 65535);
  const hb = c.heartbeat === undefined ? {} : object(c.heartbeat, 'heartbeat', ['interval', 'holdDown']);
  const heartbeat = {
    interval: hb.interval === undefined ? HEARTBEAT_INTERVAL : integer(hb.interval, 'heartbeat.interval', 5, 10000),
    holdDown: hb.holdDown === undefined ? HOLD_DOWN : integer(hb.holdDown, 'heartbeat.holdDown', 0, 600000),
  };

  const apps = (c.apps === undefined ? [] : array(c.apps, 'apps')).map((x, i) => {
    const p = `apps[${i}]`;
    const a = object(x, p, ['stacks', 'listen', 'serve']);
    const on = stackNames(a.stacks, `${p}.stacks`, stacks, false);
    const listen = string(a.listen, `${p}.listen`);
    const m = /^(.*):(\d{1,5})$/.exec(listen);
    if (!m) fail(`${p}.listen`, `must be "address:port", like "10.0.0.100:80": ${JSON.stringify(listen)}`);
    const address = m[1] === '' || m[1] === '*' ? 0 : ipv4(m[1], `${p}.listen`);
    return { stacks: on, address, port: integer(Number(m[2]), `${p}.listen`, 1, 65535), serve: string(a.serve, `${p}.serve`) };
  });

  return { network, stacks: [...stacks.values()], vipas, key, keyFile, controlPort, heartbeat, apps };
}

/** The smallest cluster key accepted, in bytes. */
export const KEY_MIN = 16;

/** The cluster key's bytes: `key` as UTF-8, the contents of `keyFile` (one
 * trailing newline dropped), or, when the config names neither, a random key,
 * which only stacks in this process share. */
export function clusterKey(c: ClusterConfig, read: (path: string) => Uint8Array = readFileSync): Uint8Array {
  if (c.key !== null) return new TextEncoder().encode(c.key);
  if (c.keyFile === null) return new Uint8Array(randomBytes(32));
  let k: Uint8Array;
  try { k = read(c.keyFile); } catch (e) { fail('keyFile', `cannot read ${c.keyFile}: ${(e as Error).message}`); }
  if (k.length && k[k.length - 1] === 10) k = k.subarray(0, k.length - 1);
  if (k.length < KEY_MIN) fail('keyFile', `${c.keyFile} holds ${k.length} bytes, fewer than ${KEY_MIN}`);
  return k;
}
