// HTTP over a stack, without tricks: an http.Agent whose connections are the
// stack's own TCP sockets (keep-alive and all), and WHATWG fetch through
// undici's Agent with a `connect` hook that opens them. Nothing goes through
// the host's own network: a request reaches what the stack reaches.
import * as http from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import type { Dispatcher, RequestInfo, RequestInit, Response } from 'undici';
import type { Stack } from './stack.ts';
import { argError, stackClosed } from './errors.ts';

/** `stack.http`: node:http's pieces bound to a stack. */
export class StackHttp {
  /** `new stack.http.Agent([options])`: an http.Agent (options as node:http's, keepAlive default false)
   * whose connections go over the stack; give it as `agent` to http.request and http.get. */
  readonly Agent: new (options?: http.AgentOptions) => http.Agent;

  constructor(stack: Stack) {
    this.Agent = class StackAgent extends http.Agent {
      // node:http asks its agent for every new connection; the stack makes them.
      override createConnection(o: { host?: string; hostname?: string; port?: number | string; localAddress?: string }): NetSocket {
        const host = o.hostname || o.host || 'localhost';
        return stack.net.connect({ host, port: Number(o.port) || 80, localAddress: o.localAddress }) as unknown as NetSocket;
      }
    } as unknown as new (options?: http.AgentOptions) => http.Agent;
  }
}

/** @internal fetch(input, init) over the stack, through one undici Agent per stack (keep-alive pooled). */
export class StackFetch {
  private dispatcher: Dispatcher | null = null;

  constructor(private readonly stack: Stack) {}

  async fetch(input: RequestInfo, init: RequestInit = {}): Promise<Response> {
    if (this.stack.isClosed) throw stackClosed('fetch');
    const undici = await import('undici');
    this.dispatcher ??= new undici.Agent({
      connect: (o, cb) => {
        if (o.protocol !== 'http:') {
          cb(argError(TypeError, 'ERR_INVALID_ARG_VALUE', `fetch over the stack speaks http:, not ${o.protocol}`), null);
          return;
        }
        const s = this.stack.net.connect({ host: o.hostname, port: Number(o.port) || 80, localAddress: o.localAddress ?? undefined });
        const failed = (err: Error) => cb(err, null);
        s.once('error', failed);
        s.once('connect', () => { s.off('error', failed); cb(null, s as unknown as NetSocket); });
      },
    });
    return undici.fetch(input, { ...init, dispatcher: this.dispatcher });
  }

  /** Closes the pooled connections (the stack closes them anyway as it closes). */
  close(): void {
    const d = this.dispatcher;
    this.dispatcher = null;
    d?.destroy().catch(() => {});
  }
}
