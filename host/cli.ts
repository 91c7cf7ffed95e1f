// The shoal command: `shoal up cluster.json` runs a cluster from its config
// until SIGINT or SIGTERM (SIGHUP re-reads the file); `shoal status`,
// `quiesce` and `resume` talk to a running one over its control socket;
// `shoal demo`, the default, runs the embedded in-process cluster once. Exit
// codes: 0 done, 1 a failure (a bad config, a failed demo request, no
// running `shoal up`, a refused request), 2 a usage error.
import { readFileSync } from 'node:fs';
import { up } from './cluster/up.ts';
import { runDemo, DEMO_DEFAULTS } from './cluster/demo.ts';
import { METHODS, type Method } from './cluster/config.ts';
import { controlRequest, defaultControlPath } from './cluster/control.ts';

const HELP = `usage: shoal [command] [options]

Shoal: a cluster of WebAssembly TCP/IP stacks that answers as one IP address (the VIPA).

commands:
  demo                  (the default) an in-process cluster: a client, a routing stack, three targets;
                        HTTP requests to the VIPA, then who served them, the DPT and the CRT
  up FILE               runs the cluster FILE describes until SIGINT or SIGTERM; SIGHUP re-reads FILE
  status                the live table of a running shoal up (--json: the DPT and CRT summary as JSON)
  quiesce STACK [PORT]  drains a target of a running shoal up: no new connections on PORT (default
                        every port), its established ones run to their end
  resume STACK [PORT]   undoes quiesce
                        (status, quiesce and resume find shoal up by FILE [--only NAMES] or --control PATH:
                        see their --help)

options:
  -h, --help            this text (shoal up --help, shoal demo --help: the command's own)
  -V, --version         the version
`;

const UP_HELP = `usage: shoal up FILE [--only NAMES] [--device NAME] [--metrics PORT] [--no-table] [--control PATH|none]

Runs the cluster FILE (JSON; README "Cluster") describes: its stacks, VIPAs and apps.
SIGINT or SIGTERM closes it and exits 0; SIGHUP re-reads FILE and applies it without
dropping established connections (a bad file is reported and the config in force kept).

options:
  --only NAMES          runs only these stacks of FILE (comma-separated, e.g. r1,t1) and their
                        apps; the others run in other processes or on other hosts, each a
                        shoal up of the same FILE, met through the TAP device (README "Across
                        hosts"). FILE needs a shared "key" or "keyFile"
  --device NAME         attaches the stacks to TAP device NAME (created if missing), in place of
                        FILE's network
  --metrics PORT        serves every stack's counters and the DPT in the Prometheus text
                        format at http://127.0.0.1:PORT/metrics (127.0.0.1 only; 0: a free port)
  --no-table            no live table (on a terminal it is redrawn every second; otherwise
                        printed every 5 s when it changed)
  --control PATH        the control socket that shoal status, quiesce and resume use (a Unix
                        socket for this user only; default $TMPDIR/shoal-<FILE's name without
                        .json>.sock, with --only …/shoal-<name>@<NAMES sorted>.sock; removed on
                        exit; none: no control socket)
  -h, --help            this text
`;

const CONTROL_HELP = `usage: shoal status [FILE | --control PATH] [--json]
       shoal quiesce STACK [PORT] [FILE | --control PATH]
       shoal resume STACK [PORT] [FILE | --control PATH]

Talk to a running shoal up over its control socket: FILE is its config file (the socket
is then the default one, $TMPDIR/shoal-<FILE's name without .json>.sock; FILE --only
NAMES: that of shoal up FILE --only NAMES), or --control PATH names the socket.

  status                prints the live table; --json: the DPT and CRT summary as JSON
  quiesce STACK [PORT]  the target STACK takes no new connections on PORT (default: every
                        port); its established connections run to their end. A restarted
                        stack has forgotten it, as on z/OS
  resume STACK [PORT]   undoes quiesce

Exits 1 when no shoal up answers at the socket or it refuses the request (an unknown
stack, a bad port), with the reason; 2 on a usage error.

options:
  --control PATH        the control socket
  --only NAMES          the --only of the shoal up to talk to (for its default socket)
  --json                (status) JSON instead of the table
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

/** --only's comma-separated stack names. */
function names(flags: Map<string, string>): string[] | undefined {
  const v = flags.get('--only');
  if (v === undefined) return undefined;
  const list = v.split(',').map((x) => x.trim());
  if (list.some((x) => x === '')) throw new UsageError(`--only needs stack names separated by commas, not '${v}'`);
  return list;
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function cmdUp(args: string[]): Promise<number> {
  const { pos, flags } = parse(args, ['--metrics', '--control', '--only', '--device'], ['--no-table', '--help', '-h']);
  if (flags.has('--help') || flags.has('-h')) { process.stdout.write(UP_HELP); return 0; }
  if (pos.length !== 1) throw new UsageError(pos.length ? `up takes one config file, not ${pos.length}` : 'up needs a config file');
  const table = flags.has('--no-table') ? 'off' : process.stdout.isTTY ? 'tty' : 'log';
  const c = flags.get('--control');
  if (c === '') throw new UsageError('--control needs a path, or none');
  const only = names(flags);
  const device = flags.get('--device');
  if (device === '') throw new UsageError('--device needs a TAP device name');
  const control = c === 'none' ? null : c ?? defaultControlPath(pos[0], only);
  const run = await up(pos[0], { metrics: int(flags, '--metrics', 0, 65535), table, out: process.stdout, control, only, device });
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

/** status, quiesce, resume: a request to the control socket of a running `shoal up`. */
async function cmdControl(op: 'status' | 'quiesce' | 'resume', args: string[]): Promise<number> {
  const { pos, flags } = parse(args, ['--control', '--only'], op === 'status' ? ['--json', '--help', '-h'] : ['--help', '-h']);
  if (flags.has('--help') || flags.has('-h')) { process.stdout.write(CONTROL_HELP); return 0; }
  let path = flags.get('--control');
  if (path === '' || path === 'none') throw new UsageError('--control needs the path of a control socket');
  if (path === undefined) {
    // Without --control, the last argument is the config file of the shoal up to talk to.
    const file = pos.pop();
    if (file === undefined || /^\d+$/.test(file)) throw new UsageError(`${op} needs the config file of a running shoal up, or --control PATH`);
    path = defaultControlPath(file, names(flags));
  } else if (flags.has('--only')) throw new UsageError('give --only with the config file, not with --control');
  const most = op === 'status' ? 0 : 2;
  if (pos.length > most) throw new UsageError(`${op}: unexpected argument '${pos[most]}'`);
  if (op === 'status') {
    const { table, vipas, stacks } = await controlRequest(path, { op });
    process.stdout.write(flags.has('--json') ? `${JSON.stringify({ vipas, stacks }, null, 2)}\n` : `${table}\n`);
    return 0;
  }
  const [stack, portText] = pos;
  if (stack === undefined) throw new UsageError(`${op} needs a stack name`);
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new Error(`port must be an integer from 1 to 65535, not '${portText}'`);
  }
  await controlRequest(path, port === undefined ? { op, stack } : { op, stack, port });
  console.log(`shoal: ${stack} ${op === 'quiesce' ? 'quiesced' : 'resumed'} on ${port === undefined ? 'every port' : `port ${port}`}`);
  return 0;
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
  if (first === 'status' || first === 'quiesce' || first === 'resume') return cmdControl(first, rest);
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
