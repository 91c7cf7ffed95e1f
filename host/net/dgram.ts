// UDP sockets in node:dgram's shape over a Shoal stack.
import { EventEmitter } from 'node:events';
import type { Stack } from '../stack.ts';
import { parseIPv4, formatIPv4 } from '../addr.ts';
import { argError, listensForErrors, sysError } from '../errors.ts';
import { ERRNO } from '../core-abi.ts';

export interface RemoteInfo { address: string; family: 'IPv4'; port: number; size: number }
export interface BindOptions {
  /** The local port (default 0: an ephemeral port). */
  port?: number;
  /** The local address (default '0.0.0.0': every address of the stack). */
  address?: string;
}

type SendCallback = (err: Error | null, bytes?: number) => void;
type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void;

export interface DgramSocketOptions {
  /** The only type Shoal speaks (required). */
  type: 'udp4';
  /** Aborting it closes the socket, as in node:dgram (default none). */
  signal?: AbortSignal;
}

const BATCH = 64;

export class DgramFactory {
  constructor(private readonly stack: Stack) {}
  /** createSocket('udp4' | options[, listener]), as in node:dgram: a socket of this stack. */
  createSocket(type: 'udp4' | DgramSocketOptions, listener?: MessageListener): UdpSocket {
    const t = typeof type === 'string' ? type : type?.type;
    if (t !== 'udp4') throw argError(TypeError, 'ERR_SOCKET_BAD_TYPE', `Bad socket type specified. Valid types are: udp4 (got ${String(t)})`);
    this.stack.live('createSocket');
    const s = new UdpSocket(this.stack);
    if (listener) s.on('message', listener);
    const signal = typeof type === 'object' ? type.signal : undefined;
    if (signal) {
      const abort = () => s.close();
      if (signal.aborted) abort();
      else {
        signal.addEventListener('abort', abort, { once: true });
        s.once('close', () => signal.removeEventListener('abort', abort));
      }
    }
    return s;
  }
}

/** Events of a UDP socket, as node:dgram's. */
export interface UdpSocketEvents {
  message: [msg: Buffer, rinfo: RemoteInfo];
  listening: [];
  connect: [];
  close: [];
  error: [err: Error & { code?: string }];
}

export class UdpSocket extends EventEmitter<UdpSocketEvents> {
  private sd: number;
  private bound = false;
  private closed = false;
  private connected: { address: string; port: number } | null = null;

  constructor(private readonly stack: Stack) {
    super();
    this.sd = stack.check(stack.core.udp_open(), 'socket');
    stack.udp.set(this.sd, this);
  }

  /** bind([port][, address][, cb]) | bind(options[, cb]), as in node:dgram (default port 0, address 0.0.0.0). */
  bind(port?: number, address?: string, callback?: () => void): this;
  bind(port?: number, callback?: () => void): this;
  bind(callback?: () => void): this;
  bind(options: BindOptions, callback?: () => void): this;
  bind(...args: unknown[]): this {
    let port = 0, address = '0.0.0.0';
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    if (args[0] && typeof args[0] === 'object') {
      const o = args[0] as BindOptions;
      port = o.port ?? 0; address = o.address ?? address;
    } else {
      if (args[0] !== undefined) port = Number(args[0]);
      if (typeof args[1] === 'string') address = args[1];
    }
    this.live('bind');
    if (this.bound) throw Object.assign(new Error('Socket is already bound'), { code: 'ERR_SOCKET_ALREADY_BOUND' });
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw argError(RangeError, 'ERR_SOCKET_BAD_PORT', `Port should be >= 0 and < 65536. Received ${port}.`);
    const r = this.stack.core.udp_bind(this.sd, parseIPv4(address), port);
    if (r < 0) {
      const err = sysError(r, 'bind', address, port);
      queueMicrotask(() => this.emit('error', err));
      return this;
    }
    this.bound = true;
    if (cb) this.once('listening', cb);
    queueMicrotask(() => this.emit('listening'));
    return this;
  }

  /** No address, or "localhost": the stack's own first address (as node:dgram's default of localhost). */
  private hostAddress(a: string | undefined): string {
    return a === undefined || a === 'localhost' ? this.stack.localhost : a;
  }

  /** connect(port[, address][, cb]), as in node:dgram (default address: the stack's first). */
  connect(port: number, address?: string, callback?: () => void): void;
  connect(port: number, callback: () => void): void;
  connect(port: number, address?: string | (() => void), cb?: () => void): void {
    if (typeof address === 'function') { cb = address; address = undefined; }
    const host = this.hostAddress(address as string | undefined);
    this.live('connect');
    const r = this.stack.core.udp_connect(this.sd, parseIPv4(host), port);
    if (r < 0) throw sysError(r, 'connect', host, port);
    this.bound = true;
    this.connected = { address: host, port };
    if (cb) this.once('connect', cb);
    queueMicrotask(() => this.emit('connect'));
  }

  /** send(msg[, offset, length][, port][, address][, callback]) as in node:dgram (address default: the stack's first). */
  send(msg: Message, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Message, port?: number, callback?: SendCallback): void;
  send(msg: Message, callback?: SendCallback): void;
  send(msg: Uint8Array | string, offset: number, length: number, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Uint8Array | string, offset: number, length: number, port?: number, callback?: SendCallback): void;
  send(msg: Uint8Array | string, offset: number, length: number, callback?: SendCallback): void;
  send(msg: Message, ...args: unknown[]): void {
    let cb: SendCallback | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as SendCallback;
    let data = toBytes(msg);
    if (typeof args[0] === 'number' && typeof args[1] === 'number' && args.length >= 2 && (args.length > 2 || this.connected)) {
      data = data.subarray(args[0], args[0] + args[1]);
      args = args.slice(2);
    }
    let port = 0, address = 0;
    if (!this.connected) {
      port = Number(args[0]);
      address = parseIPv4(this.hostAddress(args[1] as string | undefined));
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw argError(RangeError, 'ERR_SOCKET_BAD_PORT', `Port should be > 0 and < 65536. Received ${String(args[0])}.`);
    }
    this.live('send');
    const r = this.stack.udpSend(this.sd, data, address, port);
    const wasBound = this.bound;
    if (r >= 0) this.bound = true;
    this.stack.drain();
    if (!wasBound && this.bound) queueMicrotask(() => this.emit('listening'));
    const err = r < 0 ? (this.connected ? sysError(r, 'send') : sysError(r, 'send', formatIPv4(address), port)) : null;
    if (cb) queueMicrotask(() => cb!(err, err ? undefined : r));
    else if (err) queueMicrotask(() => this.emit('error', err));
  }

  address(): { address: string; family: 'IPv4'; port: number } {
    this.live('address');
    const [addr, port] = this.stack.udpLocal(this.sd);
    return { address: formatIPv4(addr), family: 'IPv4', port };
  }

  remoteAddress(): { address: string; family: 'IPv4'; port: number } {
    if (!this.connected) throw Object.assign(new Error('Not connected'), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    return { ...this.connected, family: 'IPv4' };
  }

  setBroadcast(flag: boolean): void { this.live('setBroadcast'); this.stack.core.udp_broadcast(this.sd, flag ? 1 : 0); }
  ref(): this { return this; }
  unref(): this { return this; }

  close(cb?: () => void): this {
    if (this.closed) return this;
    this.closed = true;
    this.stack.udp.delete(this.sd);
    if (!this.stack.isClosed) this.stack.core.udp_close(this.sd);
    if (cb) this.once('close', cb);
    queueMicrotask(() => this.emit('close'));
    return this;
  }

  /** @internal Datagrams are waiting: copy them out (the one copy to the application) and emit them. */
  _readable(): void {
    for (;;) {
      if (this.closed) return;
      const got: [Buffer, number, number][] = [];
      const n = this.stack.udpRecv(this.sd, BATCH, got);
      if (n <= 0) return;
      for (const [msg, src, port] of got) this.emit('message', msg, { address: formatIPv4(src), family: 'IPv4', port, size: msg.length });
      if (n < BATCH) return;
    }
  }

  /** @internal An ICMP error about a datagram we sent; node:dgram reports it only on connected sockets. */
  _unreachable(addr: number, what: number): void {
    if (!this.connected || formatIPv4(addr) !== this.connected.address) return;
    const code = what === 0x303 ? ERRNO.CONNREFUSED : ERRNO.HOSTUNREACH;   // ICMP port unreachable, or any other
    this.emit('error', sysError(code, 'recv', this.connected.address, this.connected.port));
  }

  /** @internal The stack closes: an error for whoever listens for one, then closed. */
  _stackClosing(err: Error): void {
    if (listensForErrors(this)) this.emit('error', err);
    this.close();
  }

  private live(op: string): void {
    if (this.closed) throw Object.assign(new Error(`${op}: Not running`), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  }
}

type Message = Uint8Array | string | readonly (Uint8Array | string)[];

function toBytes(msg: Message): Uint8Array {
  if (typeof msg === 'string') return Buffer.from(msg);
  if (Array.isArray(msg)) return Buffer.concat((msg as (Uint8Array | string)[]).map((m) => (typeof m === 'string' ? Buffer.from(m) : m)));
  return msg as Uint8Array;
}
