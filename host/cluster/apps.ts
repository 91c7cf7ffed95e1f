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

/** Starts an app on one stack; resolves once it listens, rejects with the listen error. */
export function startApp(stack: Stack, app: AppConfig, make: () => ConnectionHandler): Promise<RunningApp> {
  const address = formatIPv4(app.address);
  const ctx: AppContext = { name: stack.name, stack, address, port: app.port };
  const handler = make();
  const server: Server = stack.net.createServer((s) => {
    try { handler(s, ctx); } catch (e) { s.destroy(e as Error); }
  });
  return new Promise((resolveApp, reject) => {
    server.once('error', reject);
    server.listen(app.port, app.address === 0 ? undefined : address, () => {
      server.off('error', reject);
      resolveApp({
        stack: stack.name, serve: app.serve, listen: `${app.address === 0 ? '' : address}:${app.port}`,
        close: () => { if (server.listening) server.close(); },
      });
    });
  });
}
