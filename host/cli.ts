// The shoal command: `shoal up cluster.json` runs a cluster from its config
// until SIGINT or SIGTERM (SIGHUP re-reads the file); `shoal demo`, the
// default, runs the embedded in-process cluster once. Exit codes: 0 done,
// 1 a failure (a bad config, a failed demo request), 2 a usage error.
import { readFileSync } from 'node:fs';
import { up } from './cluster/up.ts';
import { runDemo, DEMO_DEFAULTS } from './cluster/demo.ts';
import { METHODS, type Method } from './cluster/config.ts';

const HELP = `usage: shoal [command] [options]

Shoal: a cluster of WebAssembly TCP/IP stacks that answers as one IP address (the VIPA).

commands:
  demo                  (the default) an in-process cluster: a client, a routing stack, three targets;
                        HTTP requests to the VIPA, then who served them, the DPT and the CRT
  up FILE               runs the cluster FILE describes until SIGINT or SIGTERM; SIGHUP re-reads FILE

options:
  -h, --help            this text (shoal up --help, shoal demo --help: the command's own)
  -V, --version         the version
`;

const UP_HELP = `usage: shoal up FILE [--metrics PORT] [--no-table]

Runs the cluster FILE (JSON; README "Cluster") describes: its stacks, VIPAs and apps.
SIGINT or SIGTERM closes it and exits 0; SIGHUP re-reads FILE and applies it without
dropping established connections (a bad file is reported and the config in force kept).

options:
  --metrics PORT        serves every stack's counters and the DPT in the Prometheus text
                        format at http://127.0.0.1:PORT/metrics (127.0.0.1 only; 0: a free port)
  --no-table            no live table (on a terminal it is redrawn every second; otherwise
                        printed every 5 s when it changed)
  -h, --help            this text
`;

const DEMO_HELP = `usage: shoal demo [--requests N] [--parallel N] [--method METHOD]

A client stack, a routing stack (r1) and three targets (t1-t3) in this process on a virtual
switch; http-hello on the targets; the client sends HTTP requests to the VIPA 10.0.0.100,
each on a new connection. Prints how many each target served, the DPT, and the CRT's size
before, during and after. Exits 0 when every request was answered, 1 otherwise.

options:
  --requests N          requests to make (default ${DEMO_DEFAULTS.requests})
  --parallel N          requests in flight at once (default ${DEMO_DEFAULTS.parallel})
  --method METHOD       the VIPA's method: ${METHODS.join(', ')} (default ${DEMO_DEFAULTS.method})
  -h, --help            this text
`;

class UsageError extends Error {}

/** Splits argv into positionals and --flags (--x=v or --x v for those in `valued`). */
function parse(args: string[], valued: string[], bare: string[]): { pos: string[]; flags: Map<string, string> } {
  const pos: string[] = [], flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-') || a === '-') { pos.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (valued.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`option ${name} needs a value`);
      flags.set(name, v);
    } else if (bare.includes(name) && eq < 0) flags.set(name, '');
    else throw new UsageError(`unknown option '${a}'`);
  }
  return { pos, flags };
}

function int(flags: Map<string, string>, name: string, lo: number, hi: number, dflt?: number): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new UsageError(`${name} must be an integer from ${lo} to ${hi}, not '${v}'`);
  return Number(v);
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function cmdUp(args: string[]): Promise<number> {
  const { pos, flags } = parse(args, ['--metrics'], ['--no-table', '--help', '-h']);
  if (flags.has('--help') || flags.has('-h')) { process.stdout.write(UP_HELP); return 0; }
  if (pos.length !== 1) throw new UsageError(pos.length ? `up takes one config file, not ${pos.length}` : 'up needs a config file');
  const table = flags.has('--no-table') ? 'off' : process.stdout.isTTY ? 'tty' : 'log';
  const run = await up(pos[0], { metrics: int(flags, '--metrics', 0, 65535), table, out: process.stdout });
  return new Promise((resolve) => {
    let reloading = Promise.resolve();
    process.on('SIGHUP', () => { reloading = reloading.then(async () => { await run.reload(); }); });
    const stop = async (sig: string) => {
      process.stdout.write(`shoal: ${sig}, closing\n`);
      await reloading;
      await run.close();
      resolve(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}

async function cmdDemo(args: string[]): Promise<number> {
  const { pos, flags } = parse(args, ['--requests', '--parallel', '--method'], ['--help', '-h']);
  if (flags.has('--help') || flags.has('-h')) { process.stdout.write(DEMO_HELP); return 0; }
  if (pos.length) throw new UsageError(`demo takes no arguments, not '${pos[0]}'`);
  const method = flags.get('--method') ?? DEMO_DEFAULTS.method;
  if (!(METHODS as readonly string[]).includes(method)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}, not '${method}'`);
  const r = await runDemo({
    requests: int(flags, '--requests', 1, 10_000_000, DEMO_DEFAULTS.requests)!,
    parallel: int(flags, '--parallel', 1, 1000, DEMO_DEFAULTS.parallel)!,
    method: method as Method,
    log: (l) => console.log(l),
  });
  return r.failed ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h') { process.stdout.write(HELP); return 0; }
  if (first === '--version' || first === '-V') { console.log(version()); return 0; }
  if (first === undefined || first === 'demo') return cmdDemo(rest);
  if (first.startsWith('-')) return cmdDemo(argv);
  if (first === 'up') return cmdUp(rest);
  throw new UsageError(`unknown command '${first}'`);
}

try {
  process.exitCode = await main(process.argv.slice(2));
  process.exit();
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`shoal: ${e.message} (see shoal --help)`);
    process.exitCode = 2;
  } else {
    console.error(`shoal: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
