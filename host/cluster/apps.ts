// The applications a cluster config starts on its stacks (`apps` in
// DESIGN.md §7): each listens on VIPA:port (or any address at a port) on
// every stack it names, so those stacks become current actual targets.
// Built in: echo, discard, http-hello; anything else is a module path whose
// default (or `handler`) export takes each connection.
import http from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Stack } from '../stack.ts';
import type { Server, Socket } from '../net/net.ts';
import { formatIPv4 } from '../addr.ts';
import { ClusterConfigError, type AppConfig } from './config.ts';

/** What a user's handler gets beside the socket. */
export interface AppContext {
  /** The serving stack's name ("t1"). */
  name: string;
  stack: Stack;
  /** The address and port listened on ("10.0.0.100", 80; "0.0.0.0" for any address). */
  address: string;
  port: number;
}

export type ConnectionHandler = (socket: Socket, ctx: AppContext) => void;

/** One app on one stack. */
export interface RunningApp {
  readonly stack: string;
  readonly serve: string;
  readonly listen: string;
  /** False while it waits for its VIPA. */
  readonly listening: boolean;
  /** Stops listening; its connections run to their end. */
  close(): void;
}

export const BUILTIN_APPS = ['echo', 'discard', 'http-hello'] as const;

/** A built-in's handler factory: one per stack it runs on (http-hello keeps one http.Server each). */
const builtins: Record<(typeof BUILTIN_APPS)[number], () => ConnectionHandler> = {
  echo: () => (s) => { s.on('error', () => {}); s.pipe(s); },
  discard: () => (s) => { s.on('error', () => {}); s.resume(); s.on('end', () => s.end()); },
  'http-hello': () => {
    let web: http.Server | null = null;
    return (s, ctx) => {
      web ??= http.createServer((_req, res) => { res.setHeader('content-type', 'text/plain'); res.end(`hello from ${ctx.name}\n`); });
      s.on('error', () => {});
      web.emit('connection', s);
    };
  },
};

/** Finds the handler `serve` names: a built-in, or a module path resolved
 * against `baseDir` (the config file's directory). `where` names the config
 * field in errors. */
export async function loadHandler(serve: string, baseDir: string, where: string): Promise<() => ConnectionHandler> {
  if (serve in builtins) return builtins[serve as keyof typeof builtins];
  const path = isAbsolute(serve) ? serve : resolve(baseDir, serve);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(path).href) as Record<string, unknown>;
  } catch (e) {
    throw new ClusterConfigError(where, `not a built-in app (${BUILTIN_APPS.join(', ')}) and cannot load module ${path}: ${(e as Error).message}`);
  }
  const h = typeof mod.default === 'function' ? mod.default : mod.handler;
  if (typeof h !== 'function') throw new ClusterConfigError(where, `module ${path} exports no connection handler (a function as default or "handler")`);
  return () => h as ConnectionHandler;
}

/** How often an app bound to a VIPA its stack does not hold yet tries again. */
const RETRY_MS = 20;

/** Starts an app on one stack. Resolves once it listens, or, for an app on a
 * VIPA the stack does not hold yet (a target holds it once the routing
 * stack's announcement arrives), once it is waiting for it: it listens as
 * soon as it can, until closed. Rejects with any other listen error. */
export function startApp(stack: Stack, app: AppConfig, make: () => ConnectionHandler): Promise<RunningApp> {
  const address = formatIPv4(app.address);
  const ctx: AppContext = { name: stack.name, stack, address, port: app.port };
  const handler = make();
  let server: Server | null = null;
  let retry: NodeJS.Timeout | null = null;
  let closed = false;
  const running: RunningApp = {
    stack: stack.name, serve: app.serve, listen: `${app.address === 0 ? '' : address}:${app.port}`,
    get listening() { return server?.listening ?? false; },
    close: () => {
      closed = true;
      if (retry) clearTimeout(retry);
      if (server?.listening) server.close();
    },
  };
  return new Promise((resolveApp, reject) => {
    const attempt = () => {
      retry = null;
      if (closed || stack.isClosed) return;
      const srv = stack.net.createServer((s) => {
        try { handler(s, ctx); } catch (e) { s.destroy(e as Error); }
      });
      srv.once('error', (e: Error & { code?: string }) => {
        if (e.code !== 'EADDRNOTAVAIL') { reject(e); return; }
        resolveApp(running);
        retry = setTimeout(attempt, RETRY_MS);
      });
      srv.listen(app.port, app.address === 0 ? undefined : address, () => {
        server = srv;
        resolveApp(running);
      });
    };
    attempt();
  });
}
