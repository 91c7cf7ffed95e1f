// `shoal up cluster.json`: a cluster from a config file, its live table,
// its metrics and its control socket (control.ts), reloaded on request. The
// command line (cli.ts) adds the signals; tests drive this directly. With
// `only`, this process runs those stacks of the config and meets the others,
// in other processes or on other hosts, through its TAP device.
import { readFileSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type http from 'node:http';
import { Cluster, type TakeoverEvent, type RoleEvent, type TargetLostEvent } from './cluster.ts';
import { ClusterConfigError, parseClusterConfig } from './config.ts';
import { serveMetrics, portOf } from './metrics.ts';
import { renderTable, summarize, RECENT_EVENTS, type ClusterEventRecord } from './table.ts';
import { claimControlPath, serveControl, type ControlRequest, type ControlServer } from './control.ts';

export interface UpOptions {
  /** Serve metrics on 127.0.0.1 at this port (0: any free one); default none. */
  metrics?: number;
  /** 'tty': redraw ~1/s; 'log': print every few seconds when it changed; 'off'. */
  table: 'tty' | 'log' | 'off';
  out: NodeJS.WritableStream;
  /** The control socket's path (control.ts), or null for none; default none. */
  control?: string | null;
  /** Runs only these config stacks (ClusterOptions.only); needs a TAP: the config's network or `device`. */
  only?: string[];
  /** The TAP device, in place of the config's network. */
  device?: string;
}

export interface Up {
  readonly cluster: Cluster;
  /** The metrics port, or null. */
  readonly metricsPort: number | null;
  /** The control socket's path, or null. */
  readonly controlPath: string | null;
  /** Re-reads the file and reconfigures; on an error says so and keeps the config in force. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

const TTY_MS = 1000;
const LOG_MS = 5000;

/** The config file's JSON; a ClusterConfigError names what is wrong with the file itself. */
function readConfig(file: string): unknown {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new ClusterConfigError(file, `cannot read: ${(e as Error).message}`); }
  try { return JSON.parse(text); } catch (e) { throw new ClusterConfigError(file, `not JSON: ${(e as Error).message}`); }
}

export async function up(file: string, opts: UpOptions): Promise<Up> {
  const path = resolve(file);
  const t0 = Date.now();
  const config = readConfig(path);
  if (opts.only && opts.device === undefined && parseClusterConfig(config).network.type !== 'tap') {
    throw new Error('only some of the stacks here: they meet the others through a TAP device, so give the config a "tap" network or --device NAME');
  }
  // Refused before the cluster starts: a second `shoal up` of one config would contend for its TAP device too.
  if (opts.control) await claimControlPath(opts.control);
  const cluster = await Cluster.create(config, { baseDir: dirname(path), only: opts.only, device: opts.device });
  const say = (s: string) => opts.out.write(`${s}\n`);

  // The recent events the table lists, oldest first; role changes and
  // takeovers join the drains here as the cluster emits them.
  const events: ClusterEventRecord[] = [];
  const note = (kind: string, vipa: string, stack: string, detail: string) => {
    events.push({ time: Date.now(), kind, vipa, stack, detail });
    if (events.length > RECENT_EVENTS) events.shift();
  };
  for (const kind of ['quiesce', 'resume'] as const) {
    cluster.on(kind, (e: { stack: string; port?: number }) => note(kind, '', e.stack, e.port === undefined ? 'every port' : `port ${e.port}`));
  }
  for (const kind of ['takeover', 'takeback'] as const) {
    cluster.on(kind, (e: TakeoverEvent) => note(kind, e.vipa, e.stack, `from ${e.from || 'nobody'} (${e.reason}): ${e.connections} connections rebuilt in ${e.ms} ms`));
  }
  cluster.on('role', (e: RoleEvent) => note('role', e.vipa, e.stack, `${e.role} (${e.reason})`));
  cluster.on('target-lost', (e: TargetLostEvent) => note('target-lost', e.vipa, e.stack, `silent: ${e.connections} connections reset by ${e.by}`));

  /** Re-reads the file and reconfigures; resolves with why it failed, or null. */
  const reloadFile = async (): Promise<string | null> => {
    try {
      await cluster.reconfigure(readConfig(path));
      say(`shoal: reloaded ${path}`);
      return null;
    } catch (e) {
      say(`shoal: reload failed, keeping the config in force: ${(e as Error).message}`);
      return (e as Error).message;
    }
  };

  const serve = async (req: ControlRequest): Promise<Record<string, unknown>> => {
    switch (req.op) {
      case 'status': return { table: renderTable(cluster, events).join('\n'), ...summarize(cluster) };
      case 'quiesce': await cluster.quiesce(req.stack, req.port); return {};
      case 'resume': await cluster.resume(req.stack, req.port); return {};
      case 'reload': {
        const why = await reloadFile();
        if (why !== null) throw new Error(`reload failed, keeping the config in force: ${why}`);
        return {};
      }
    }
  };

  let metrics: http.Server | null = null;
  let control: ControlServer | null = null;
  try {
    if (opts.metrics !== undefined) metrics = await serveMetrics(cluster, opts.metrics);
    if (opts.control) control = await serveControl(opts.control, serve);
  } catch (e) {
    if (metrics) metrics.close();
    await cluster.close();
    throw e;
  }
  // A process that ends without close() (an uncaught error) leaves no socket file behind.
  const unlinkControl = () => { try { unlinkSync(control!.path); } catch { /* gone */ } };
  if (control) process.on('exit', unlinkControl);

  const n = cluster.config;
  const count = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  const here = opts.only ? `${count(opts.only.length, 'stack')} here (${opts.only.join(', ')}) of ${n.stacks.length}` : count(n.stacks.length, 'stack');
  const tap = n.network.type === 'tap' ? ` on TAP ${n.network.device}` : '';
  say(`shoal: ${here}, ${count(n.vipas.length, 'VIPA')} from ${path}${tap}` +
    (metrics ? `; metrics on http://127.0.0.1:${portOf(metrics)}/metrics` : '') +
    (control ? `; control socket ${control.path}` : ''));

  let last = '';
  const draw = () => {
    let text: string;
    try { text = renderTable(cluster, events).join('\n'); } catch (e) { text = `(table: ${(e as Error).message})`; }
    if (opts.table === 'tty') {
      const secs = Math.floor((Date.now() - t0) / 1000);
      const age = `${Math.floor(secs / 3600)}:${String(Math.floor(secs / 60) % 60).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
      opts.out.write(`\x1b[H\x1b[2Jshoal up ${file}  (up ${age}; Ctrl-C stops, SIGHUP reloads)\n\n${text}\n`);
    } else if (text !== last) {
      say(`--- ${new Date().toISOString()}\n${text}`);
    }
    last = text;
  };
  const timer = opts.table === 'off' ? null : setInterval(draw, opts.table === 'tty' ? TTY_MS : LOG_MS);
  if (opts.table !== 'off') draw();

  return {
    cluster,
    metricsPort: metrics ? portOf(metrics) : null,
    controlPath: control ? control.path : null,
    async reload() { return (await reloadFile()) === null; },
    async close() {
      if (timer) clearInterval(timer);
      if (control) {
        process.off('exit', unlinkControl);
        await control.close();
      }
      if (metrics) await new Promise<void>((r) => { metrics!.closeAllConnections(); metrics!.close(() => r()); });
      await cluster.close();
    },
  };
}
