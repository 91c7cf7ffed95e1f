/**
 * Network namespaces for interop tests: the Linux kernel as a peer, fenced
 * off so test traffic never touches the machine's own interfaces.
 *
 *   maybe(test, netnsUnavailable(), 'the kernel pings…', async () => {
 *     await withNetns(async (ns) => {
 *       ns.moveIn('sht123a'); ns.addAddress('sht123a', '10.77.0.1/24'); ns.up('sht123a');
 *       await ns.exec(['ping', '-c1', '10.77.0.2']);
 *     });
 *   });
 *
 * Every namespace made here is deleted by destroy(), by withNetns() even when
 * the body throws, and, as a last resort, when the process exits or is
 * interrupted. Names carry the process id, so parallel runs do not collide.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { TapLink } from '../../host/link/tap.ts';
import type { TapOptions } from '../../host/link/tap.ts';
import type { Link } from '../../host/link/link.ts';
import { Stack } from '../../host/stack.ts';
import type { StackLimits } from '../../host/stack.ts';
import { lacks } from '../helpers/needs.ts';

export interface ExecResult { code: number | null; signal: string | null; stdout: string; stderr: string }

let counter = 0;
const live = new Set<Netns>();

let netnsWhy: string | null | undefined;
/** Why network namespaces cannot be made here, or null: probed with the
 * `ip` command and a real `ip netns add` (unprivileged users and some
 * containers are refused), not guessed from the uid. */
export function netnsUnavailable(): string | null {
  if (netnsWhy !== undefined) return netnsWhy;
  if (process.platform !== 'linux') return (netnsWhy = `needs Linux for network namespaces (this is ${process.platform})`);
  const tool = lacks('ip');
  if (tool) return (netnsWhy = tool);
  const probe = `shoalprobe${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) {
    return (netnsWhy = `needs network namespaces, and \`ip netns add\` fails here (${add.stderr.trim() || add.error?.message}): run as root`);
  }
  spawnSync('ip', ['netns', 'del', probe]);
  return (netnsWhy = null);
}

let tapWhy: string | null | undefined;
/** Why a TAP device cannot be opened here, or null: the addon built and
 * loaded, and a probe device really created (TUNSETIFF on /dev/net/tun). */
export async function tapUnavailable(): Promise<string | null> {
  if (tapWhy !== undefined) return tapWhy;
  const avail = TapLink.available();
  if (!avail.ok) return (tapWhy = `needs a TAP device: ${avail.reason}`);
  try {
    (await TapLink.open(`shtprobe${process.pid % 100000}`)).close();
    return (tapWhy = null);
  } catch (e) {
    const err = e as Error & { code?: string };
    return (tapWhy = `needs a TAP device, and opening one fails here (${err.code ?? err.message})` +
      (err.code === 'EPERM' || err.code === 'EACCES' ? ': run as root (CAP_NET_ADMIN)' : ''));
  }
}

/** Why a test cannot have the kernel as a peer over a TAP in a namespace, or null. */
export async function kernelPeerUnavailable(): Promise<string | null> {
  return netnsUnavailable() ?? await tapUnavailable();
}

/** Runs `ip args…` synchronously; throws with ip's message on failure. */
export function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

export class Netns {
  readonly name: string;
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  /** Makes a fresh namespace `<prefix>-<pid>-<n>` with its loopback up. */
  constructor(prefix = 'shoal') {
    this.name = `${prefix}-${process.pid}-${++counter}`;
    ip('netns', 'add', this.name);
    live.add(this);
    installExitHook();
    try {
      ip('-n', this.name, 'link', 'set', 'lo', 'up');
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Runs cmd inside the namespace; resolves with its output, rejects on a
   * non-zero exit unless `check: false`; killed after `timeoutMs` (10 s). */
  exec(cmd: string[], opts: { check?: boolean; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    const { check = true, timeoutMs = 10_000 } = opts;
    return new Promise((resolve, reject) => {
      const child = this.spawn(cmd, { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '', stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      // A command that exits without reading its input closes the pipe first: EPIPE there is no failure of
      // the command (its exit status says how it went), and unhandled it would end the test process.
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input ?? '');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => { clearTimeout(timer); reject(e); });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const r = { code, signal, stdout, stderr };
        if (check && code !== 0) {
          reject(new Error(`in ${this.name}: ${cmd.join(' ')}: ${signal ? `killed by ${signal}` : `exit ${code}`}` +
            (stderr.trim() ? `: ${stderr.trim()}` : '')));
        } else resolve(r);
      });
    });
  }

  /** Runs cmd synchronously inside the namespace (setup steps); throws on failure. */
  execSync(cmd: string[]): string {
    const r = spawnSync('ip', ['netns', 'exec', this.name, ...cmd], { encoding: 'utf8', timeout: 10_000 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`in ${this.name}: ${cmd.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
    return r.stdout;
  }

  /** Starts a long-running process inside the namespace; destroy() kills it. */
  spawn(cmd: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error(`netns ${this.name} is destroyed`);
    const child = spawn('ip', ['netns', 'exec', this.name, ...cmd], opts);
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Moves a device of the root namespace in (it arrives down). */
  moveIn(dev: string): void {
    ip('link', 'set', 'dev', dev, 'netns', this.name);
  }

  up(dev: string): void {
    ip('-n', this.name, 'link', 'set', 'dev', dev, 'up');
  }

  /** e.g. addAddress('tap0', '10.77.0.1/24'). */
  addAddress(dev: string, cidr: string): void {
    ip('-n', this.name, 'addr', 'add', cidr, 'dev', dev);
  }

  /** e.g. addRoute('default', { via: '10.77.0.2' }) or addRoute('10.9.0.0/16', { dev: 'tap0' }). */
  addRoute(dst: string, r: { via?: string; dev?: string }): void {
    ip('-n', this.name, 'route', 'add', dst, ...(r.via ? ['via', r.via] : []), ...(r.dev ? ['dev', r.dev] : []));
  }

  setMtu(dev: string, mtu: number): void {
    ip('-n', this.name, 'link', 'set', 'dev', dev, 'mtu', String(mtu));
  }

  /** sysctl -w key=value inside the namespace (net.* keys are per namespace). */
  sysctl(key: string, value: string | number): void {
    this.execSync(['sysctl', '-q', '-w', `${key}=${value}`]);
  }

  /** Kills our processes in it and deletes it (its virtual devices go with it). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    live.delete(this);
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

/** Runs fn with a fresh namespace and deletes it afterwards, whatever happens. */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T> | T, prefix?: string): Promise<T> {
  const ns = new Netns(prefix);
  try {
    return await fn(ns);
  } finally {
    ns.destroy();
  }
}

/** The kernel side of a TAP: moved into the namespace, addressed (cidr), up. */
export function kernelSide(ns: Netns, dev: string, cidr: string, mtu = 1500): void {
  ns.moveIn(dev);
  ns.addAddress(dev, cidr);
  if (mtu !== 1500) ns.setMtu(dev, mtu);
  ns.up(dev);
}

export interface StackPeer { ns: Netns; tap: TapLink; link: Link; stack: Stack }
export interface StackPeerOptions {
  /** The TAP device's name, and the namespace's prefix. */
  dev: string; prefix: string;
  /** The kernel's and the stack's addresses on the TAP, e.g. '10.79.0.1/24' and '10.79.0.2/24'. */
  kernel: string; address: string;
  seed: number;
  tap?: TapOptions | undefined;
  /** Link middleware between the TAP and the stack (faults, captures). */
  wrap?: ((tap: TapLink) => Link) | undefined;
  /** The kernel side's MTU (default: the TAP's). */
  kernelMtu?: number | undefined;
  limits?: StackLimits | undefined;
}

/** One stack on a TAP whose kernel side is in a fresh namespace (IPv6 off:
 * no router solicitations on the wire); all of it removed afterwards, also on failure. */
export async function withStackPeer(o: StackPeerOptions, fn: (p: StackPeer) => Promise<void>): Promise<void> {
  await withNetns(async (ns) => {
    ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
    const tap = await TapLink.open(o.dev, o.tap ?? {});
    let stack: Stack | null = null;
    try {
      kernelSide(ns, tap.name, o.kernel, o.kernelMtu ?? tap.mtu);
      const link = o.wrap ? o.wrap(tap) : tap;
      stack = await Stack.create({ name: `peer-${tap.name}`, link, address: o.address, seed: o.seed, limits: o.limits });
      await fn({ ns, tap, link, stack });
    } finally {
      await stack?.close();
      tap.close();
    }
  }, o.prefix);
}

let hooked = false;
function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  const cleanup = () => { for (const ns of [...live]) ns.destroy(); };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      process.kill(process.pid, sig); // our listener is gone now: die of the signal as usual
    });
  }
}
