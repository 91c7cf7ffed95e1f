// The control socket of `shoal up` (issue 14): a Unix domain socket, for its
// owner only, carrying one JSON object per line each way. Requests: status,
// quiesce {stack, port?}, resume {stack, port?}, reload. Each answer is
// {"ok": true, …} or {"ok": false, "error": "…", "code"?: "…"}. The
// `shoal status / quiesce / resume` commands are its clients.
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';

export type ControlRequest =
  | { op: 'status' }
  | { op: 'quiesce' | 'resume'; stack: string; port?: number }
  | { op: 'reload' };

/** Answers a checked request with the fields of an ok answer; throws for an error answer. */
export type ControlHandler = (req: ControlRequest) => Promise<Record<string, unknown>>;

export interface ControlServer {
  readonly path: string;
  /** Stops listening, ends open connections and removes the socket file. */
  close(): Promise<void>;
}

/** A refused request or an unreachable `shoal up`, with a code for programs. */
export class ControlError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'ControlError';
  }
}

/** `${tmpdir}/shoal-<config file name without .json>.sock`: where `shoal up FILE` listens unless told otherwise;
 * `shoal up FILE --only r1,t1` at `…/shoal-<name>@r1,t1.sock` (the names sorted), so two processes of one config
 * on one host each have their own. */
export function defaultControlPath(configFile: string, only?: string[]): string {
  const part = only ? `@${[...new Set(only)].sort().join(',')}` : '';
  return join(tmpdir(), `shoal-${basename(configFile).replace(/\.json$/, '')}${part}.sock`);
}

/** A request line longer than this ends the connection: nothing legitimate comes near it. */
const MAX_LINE = 64 * 1024;
/** sun_path's size less its terminating NUL: a longer path would be cut short without a word. */
const MAX_PATH = 107;
/** How long a client waits for `shoal up` to answer. */
const TIMEOUT_MS = 10_000;

const NOT_RUNNING = (path: string) => `no shoal up is running with control socket ${path}`;

/** Checks a parsed request line; throws ControlError. */
export function checkRequest(v: unknown): ControlRequest {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ControlError('a request must be a JSON object', 'EBADREQUEST');
  const r = v as Record<string, unknown>;
  if (r.op === 'status' || r.op === 'reload') return { op: r.op };
  if (r.op !== 'quiesce' && r.op !== 'resume') throw new ControlError(`unknown op ${JSON.stringify(r.op)} (one of status, quiesce, resume, reload)`, 'EBADREQUEST');
  if (typeof r.stack !== 'string' || r.stack === '') throw new ControlError(`${r.op} needs a stack name`, 'EBADREQUEST');
  if (r.port === undefined) return { op: r.op, stack: r.stack };
  if (typeof r.port !== 'number' || !Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
    throw new ControlError(`port must be an integer from 1 to 65535, not ${JSON.stringify(r.port)}`, 'EBADPORT');
  }
  return { op: r.op, stack: r.stack, port: r.port };
}

/** Connects to path; resolves with the socket, or rejects with the connect error. */
function connect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

/** Makes path free for a new socket: nothing there, or a stale socket nobody
 * listens on (removed); throws ControlError for a live one or another file. */
export async function claimControlPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_PATH) throw new ControlError(`control socket ${path}: longer than ${MAX_PATH} bytes, the most a Unix socket's path holds`, 'ENAMETOOLONG');
  let st;
  try { st = lstatSync(path); } catch { return; }
  if (!st.isSocket()) throw new ControlError(`control socket ${path}: the path exists and is not a socket`, 'EEXIST');
  try {
    (await connect(path)).destroy();
  } catch {
    unlinkSync(path);
    return;
  }
  throw new ControlError(`control socket ${path}: another shoal up is running there (stop it, or give --control PATH)`, 'EADDRINUSE');
}

function answer(sock: net.Socket, body: object): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(body)}\n`);
}

/** Listens on path (a stale socket file is replaced, a live one refused) and answers each request line with handler, in order. */
export async function serveControl(path: string, handler: ControlHandler): Promise<ControlServer> {
  await claimControlPath(path);
  const open = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.on('error', () => {});
    sock.setEncoding('utf8');
    let buf = '';
    let queue = Promise.resolve();
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        answer(sock, { ok: false, error: `request line longer than ${MAX_LINE} bytes`, code: 'EBADREQUEST' });
        sock.removeAllListeners('data');
        sock.end();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        queue = queue.then(async () => {
          try {
            let parsed: unknown;
            try { parsed = JSON.parse(line); } catch { throw new ControlError('a request must be one line of JSON', 'EBADREQUEST'); }
            answer(sock, { ok: true, ...(await handler(checkRequest(parsed))) });
          } catch (e) {
            const code = (e as { code?: unknown }).code;
            answer(sock, { ok: false, error: (e as Error).message, ...(typeof code === 'string' ? { code } : {}) });
          }
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  // The socket drains and reloads the cluster: only its owner may connect.
  chmodSync(path, 0o600);
  return {
    path,
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => {
        try { unlinkSync(path); } catch { /* already gone */ }
        resolve();
      });
    }),
  };
}

/** Sends one request to the `shoal up` at path; resolves with its ok answer, rejects with a ControlError. */
export async function controlRequest(path: string, req: ControlRequest): Promise<Record<string, unknown>> {
  let sock: net.Socket;
  try {
    sock = await connect(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK') throw new ControlError(NOT_RUNNING(path), 'ENOTRUNNING');
    throw new ControlError(`control socket ${path}: ${(e as Error).message}`, code ?? 'ECONTROL');
  }
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new ControlError(`control socket ${path}: no answer within ${TIMEOUT_MS / 1000} s`, 'ETIMEDOUT')); }, TIMEOUT_MS);
    const done = (f: () => void) => { clearTimeout(timer); sock.destroy(); f(); };
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let res: Record<string, unknown>;
      try { res = JSON.parse(buf.slice(0, nl)); } catch { done(() => reject(new ControlError(`control socket ${path}: not a shoal answer`, 'EBADANSWER'))); return; }
      if (res.ok === true) done(() => resolve(res));
      else done(() => reject(new ControlError(String(res.error), typeof res.code === 'string' ? res.code : 'EREFUSED')));
    });
    sock.on('error', (e) => done(() => reject(new ControlError(`control socket ${path}: ${e.message}`, 'ECONTROL'))));
    sock.on('end', () => done(() => reject(new ControlError(`control socket ${path}: closed without an answer`, 'EBADANSWER'))));
    sock.write(`${JSON.stringify(req)}\n`);
  });
}
