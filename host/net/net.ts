// TCP sockets in node:net's shape over a Shoal stack: Server and Socket (a
// stream.Duplex with real backpressure). Writes go straight into the core's
// send buffer (tcp_send_space / tcp_send_commit); reads copy each received
// segment out once (tcp_recv); a paused reader stops reading, so the
// receive window closes on its own.
import { Duplex, addAbortSignal } from 'node:stream';
import { EventEmitter } from 'node:events';
import { lookup as dnsLookup } from 'node:dns';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { Stack } from '../stack.ts';
import type { Timer } from '../clock.ts';
import { parseIPv4, formatIPv4 } from '../addr.ts';
import { ShoalError, argError, listensForErrors, stackClosed, sysError } from '../errors.ts';
import { EV, TCP_CC, TCP_OPT } from '../core-abi.ts';

/** Not a core event: the core lost events, so every socket looks at its state again. */
export const TCP_RESCAN = -1;
/** Connection states as tcp_info reports them, by number (core-abi.ts TCP_STATE; test/embed/header-abi.test.ts checks them). */
export const TCP_STATES = ['FREE', 'CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED', 'FIN_WAIT_1',
  'FIN_WAIT_2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT'] as const;

/** Congestion controls by name, as Linux's TCP_CONGESTION names them. */
export const CONGESTION = { cubic: TCP_CC.CUBIC, newreno: TCP_CC.NEWRENO, bbr: TCP_CC.BBR } as const;
export type Congestion = keyof typeof CONGESTION;

/** @internal What the stack dispatches TCP events to. */
export interface TcpHandle { _tcpEvent(type: number, b: number): void; _stackClosing(err: Error): void }

export interface TcpInfo {
  state: (typeof TCP_STATES)[number]; localAddress: string; localPort: number; remoteAddress: string; remotePort: number;
  flags: number; sndUna: number; sndNxt: number; rcvNxt: number; sndWnd: number; cwnd: number; ssthresh: number;
  srttUs: number; rtoMs: number; mss: number; sendQueued: number; recvQueued: number; oooQueued: number;
  sndWscale: number; rcvWscale: number; sndMax: number; rcvWnd: number; acceptQueue: number; synQueue: number;
  softError: number; chunks: number; congestion: Congestion;
}

export interface SocketOptions {
  /** Keep the writable side open once the peer has ended its side (default false). */
  allowHalfOpen?: boolean;
  /** Congestion control for this socket: 'cubic', 'newreno' or 'bbr' (default: the stack's, 'cubic' unless configured). */
  congestion?: Congestion;
  /** Send buffer in bytes (default: the stack's limit tcpSendBuffer, 256 KiB; `Stack.BULK`: 1 MiB). */
  sendBufferSize?: number;
  /** Receive buffer in bytes (default: the stack's limit tcpReceiveBuffer, 256 KiB; `Stack.BULK`: 1 MiB). */
  receiveBufferSize?: number;
  /** Turn Nagle's algorithm off (default false). */
  noDelay?: boolean;
  /** Send keep-alive probes when idle (default false). */
  keepAlive?: boolean;
  /** Idle time before the first keep-alive probe, in ms (default 7200000, two hours). */
  keepAliveInitialDelay?: number;
  /** Aborting it destroys the socket with an AbortError (code ABORT_ERR), as in node:net (default none). */
  signal?: AbortSignal;
}

/** Resolves a host name, as node:net's `lookup` option (default dns.lookup, asked for IPv4). */
export type LookupFunction = (hostname: string, options: { family: 4 },
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void) => void;

export interface ConnectOptions extends SocketOptions {
  /** The port to connect to (required). */
  port: number;
  /** An IPv4 address or a name to look up (default 'localhost': the stack's first address). */
  host?: string;
  /** Resolves `host` when it is a name (default dns.lookup, IPv4). */
  lookup?: LookupFunction;
  /** The local address to connect from (default: chosen by the route). */
  localAddress?: string;
  /** The local port (default: an ephemeral port, RFC 6056). */
  localPort?: number;
  /** Idle timeout in ms, as setTimeout() (default none). */
  timeout?: number;
}

export interface ServerOptions extends Omit<SocketOptions, 'signal'> {
  /** Accepted sockets start paused (default false). */
  pauseOnConnect?: boolean;
}

export interface ListenOptions {
  /** The port (default 0: an ephemeral port). */
  port?: number;
  /** The local address to listen on (default: every address of the stack). */
  host?: string;
  /** Connections waiting to be accepted at most (default 511). */
  backlog?: number;
  /** Aborting it closes the server, as in node:net (default none). */
  signal?: AbortSignal;
}

/** The most bytes one tcp_recv hands over. */
const RECV_MAX = 256 * 1024;
/** The largest Buffer a reader gets: what one tcp_recv hands over is cut into
 * pieces this size, as Node's own sockets read 64 KiB at a time. Not larger:
 * bursts of large Buffers freed together by the GC make glibc trim its heap,
 * and then every new Buffer page-faults afresh (measured, MTU 1500: 256 KiB
 * Buffers ≈ 1 fault per 4 KiB received). Not smaller: each piece is an
 * allocation (16 KiB pieces cost about 15 % of bulk throughput). */
const PIECE = 64 * 1024;

function hostAddr(host: string | undefined): number {
  if (host === undefined || host === '' || host === 'localhost') return 0;
  return parseIPv4(host);
}

/** A stack's constructor for cls: `instanceof` it holds for cls's instances, and it can be subclassed. */
function bound<T, A extends unknown[]>(cls: abstract new (...a: never[]) => T, fn: (this: unknown, ...a: A) => T): new (...a: A) => T {
  fn.prototype = cls.prototype;
  return fn as unknown as new (...a: A) => T;
}

/** new cls(...args), or with a subclass's prototype when called through one (as super()). */
function construct<T>(cls: new (...a: never[]) => T, args: unknown[], target: unknown): T {
  return target && (target as { prototype: unknown }).prototype !== cls.prototype
    ? Reflect.construct(cls, args, target as new () => unknown) as T
    : new (cls as unknown as new (...a: unknown[]) => T)(...args);
}

export class NetFactory {
  /** `new stack.net.Socket([options])`, as `new net.Socket()`: a socket of this stack, to connect later. */
  readonly Socket: new (opts?: SocketOptions) => Socket;
  /** `new stack.net.Server([options][, listener])`, as `new net.Server()`. */
  readonly Server: new (opts?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void) => Server;
  readonly isIP = isIP;
  readonly isIPv4 = isIPv4;
  readonly isIPv6 = isIPv6;

  constructor(stack: Stack) {
    // Constructors bound to this stack, not subclasses made per stack: every
    // stack's sockets share one hidden class, so the stream and socket paths
    // stay monomorphic however many stacks a process makes.
    this.Socket = bound(Socket, function (this: unknown, opts?: SocketOptions) {
      return construct(Socket, [stack, opts ?? {}], new.target);
    });
    this.Server = bound(Server, function (this: unknown, opts?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void) {
      if (typeof opts === 'function') { listener = opts; opts = {}; }
      const srv = construct(Server, [stack, opts ?? {}], new.target);
      if (listener) srv.on('connection', listener);
      return srv;
    });
  }

  createServer(opts?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void): Server {
    return new this.Server(opts, listener);
  }

  /** connect(options[, cb]) | connect(port[, host][, cb]) as in node:net. */
  connect(options: ConnectOptions, connectionListener?: () => void): Socket;
  connect(port: number, host?: string, connectionListener?: () => void): Socket;
  connect(port: number, connectionListener?: () => void): Socket;
  connect(...args: unknown[]): Socket {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    let opts: ConnectOptions;
    if (args[0] !== null && typeof args[0] === 'object') opts = { ...(args[0] as ConnectOptions) };
    else opts = { port: Number(args[0]), host: typeof args[1] === 'string' ? args[1] : undefined };
    const s = new this.Socket(opts);
    if (opts.timeout) s.setTimeout(opts.timeout);
    s.connect(opts, cb!);
    return s;
  }

  /** The same as connect(). */
  createConnection(options: ConnectOptions, connectionListener?: () => void): Socket;
  createConnection(port: number, host?: string, connectionListener?: () => void): Socket;
  createConnection(port: number, connectionListener?: () => void): Socket;
  createConnection(...args: unknown[]): Socket { return (this.connect as (...a: unknown[]) => Socket)(...args); }
}

/** The core's code for a congestion control's name; what names one not. */
export function ccCode(c: unknown, what: string): number {
  if (typeof c === 'string' && Object.hasOwn(CONGESTION, c)) return CONGESTION[c as Congestion];
  throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `${what} must be ${Object.keys(CONGESTION).map((n) => `'${n}'`).join(', ')}; got ${String(c)}`);
}

/** Refuses, at the call, an option applyOptions could not apply. */
function checkOptions(o: SocketOptions): void {
  if (o.congestion !== undefined) ccCode(o.congestion, 'congestion');
}

function applyOptions(stack: Stack, sd: number, o: SocketOptions): void {
  const c = stack.core;
  if (o.congestion !== undefined) c.tcp_setopt(sd, TCP_OPT.CC, ccCode(o.congestion, 'congestion'));
  if (o.sendBufferSize) stack.check(c.tcp_setopt(sd, TCP_OPT.SNDBUF, o.sendBufferSize), 'setsockopt', undefined, undefined, 'sendBufferSize');
  if (o.receiveBufferSize) stack.check(c.tcp_setopt(sd, TCP_OPT.RCVBUF, o.receiveBufferSize), 'setsockopt', undefined, undefined, 'receiveBufferSize');
  if (o.noDelay) c.tcp_setopt(sd, TCP_OPT.NODELAY, 1);
  if (o.keepAlive) c.tcp_setopt(sd, TCP_OPT.KEEPALIVE, o.keepAliveInitialDelay || 7_200_000);
}

/** @internal Reads a socket's tcp_info. */
function tcpInfo(stack: Stack, sd: number): TcpInfo | null {
  const w = stack.tcpInfo(sd);
  if (!w) return null;
  return {
    state: TCP_STATES[w.state] ?? 'CLOSED', localAddress: formatIPv4(w.laddr), localPort: w.lport,
    remoteAddress: formatIPv4(w.raddr), remotePort: w.rport, flags: w.flags, sndUna: w.sndUna, sndNxt: w.sndNxt,
    rcvNxt: w.rcvNxt, sndWnd: w.sndWnd, cwnd: w.cwnd, ssthresh: w.ssthresh, srttUs: w.srttUs, rtoMs: w.rtoMs,
    mss: w.mss, sendQueued: w.sendQueued, recvQueued: w.recvQueued, oooQueued: w.oooQueued,
    sndWscale: w.wscale & 255, rcvWscale: (w.wscale >> 8) & 255, sndMax: w.sndMax, rcvWnd: w.rcvWnd,
    acceptQueue: w.acceptQueue, synQueue: w.synQueue, softError: w.softError, chunks: w.chunks,
    congestion: (Object.keys(CONGESTION) as Congestion[]).find((n) => CONGESTION[n] === w.congestion) ?? 'cubic',
  };
}

/** Events of a Socket, beside a Duplex's own ('data', 'end', 'drain', …), as node:net's. */
export interface SocketEvents {
  connect: [];
  ready: [];
  timeout: [];
  close: [hadError: boolean];
  error: [err: Error & { code?: string }];
  lookup: [err: Error | null, address: string, family: number, host: string];
}

type SocketEvent = keyof SocketEvents;
type Listener<E extends SocketEvent> = (...args: SocketEvents[E]) => void;

// Typed listeners on top of the Duplex's, as @types/node declares node:net's.
export interface Socket {
  on<E extends SocketEvent>(event: E, listener: Listener<E>): this;
  on(event: 'data', listener: (data: Buffer) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<E extends SocketEvent>(event: E, listener: Listener<E>): this;
  once(event: 'data', listener: (data: Buffer) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  addListener<E extends SocketEvent>(event: E, listener: Listener<E>): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** Events of a Server, as node:net's. */
export interface ServerEvents {
  listening: [];
  connection: [socket: Socket];
  close: [];
  error: [err: Error & { code?: string }];
}

type PendingWrite = { chunks: Uint8Array[]; i: number; off: number; cb: (err?: Error | null) => void };

export class Socket extends Duplex {
  /** @internal */ sd = -1;
  connecting = false;
  pending = true;
  bytesRead = 0;
  private written = 0;
  private readonly stack: Stack;
  private readonly opts: SocketOptions;
  private reading = false;
  private finSeen = false;
  private ended = false;
  private pendingWrite: PendingWrite | null = null;
  private finalCb: ((err?: Error | null) => void) | null = null;
  private idleMs = 0;
  private idleTimer: Timer | null = null;
  private local: { address: string; port: number } | null = null;
  private remote: { address: string; port: number } | null = null;
  /** Where a connect goes, for its errors. */
  private target: { address: string; port: number } = { address: '', port: 0 };
  /** @internal */ server: Server | null = null;

  constructor(stack: Stack, opts: SocketOptions = {}, sd = -1) {
    checkOptions(opts);
    super({ allowHalfOpen: opts.allowHalfOpen ?? false, emitClose: false, autoDestroy: true });
    this.stack = stack;
    this.opts = opts;
    if (sd >= 0) {
      this.sd = sd;
      this.pending = false;
      stack.tcp.set(sd, this);
      this.addresses();
    }
    if (opts.signal) addAbortSignal(opts.signal, this);
  }

  /** connect(options[, cb]) | connect(port[, host][, cb]), as in node:net. */
  connect(options: ConnectOptions, connectionListener?: () => void): this;
  connect(port: number, host?: string, connectionListener?: () => void): this;
  connect(port: number, connectionListener?: () => void): this;
  connect(...args: unknown[]): this {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    const o: ConnectOptions = args[0] !== null && typeof args[0] === 'object'
      ? (args[0] as ConnectOptions) : { port: Number(args[0]), host: typeof args[1] === 'string' ? args[1] : undefined };
    if (this.sd >= 0 || this.connecting) throw Object.assign(new Error('Socket is already connected'), { code: 'ERR_SOCKET_CONNECTING' });
    const port = Number(o.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      throw Object.assign(new RangeError(`Port should be > 0 and < 65536. Received ${String(o.port)}.`), { code: 'ERR_SOCKET_BAD_PORT' });
    }
    checkOptions(o);
    const host = o.host ?? 'localhost';
    if (cb) this.once('connect', cb);
    if (this.stack.isClosed) {
      process.nextTick(() => this.destroy(stackClosed('connect')));
      return this;
    }
    this.connecting = true;
    this.target = { address: host, port };
    if (host === 'localhost') this.open(this.stack.localhost, port, o);
    else if (isIPv4(host)) this.open(host, port, o);
    else {
      // A name, as node:net: looked up first (o.lookup, else dns.lookup), then connected.
      (o.lookup ?? dnsLookup)(host, { family: 4 }, (err, address, family) => {
        this.emit('lookup', err, address, family, host);
        if (!this.connecting || this.destroyed) return;
        if (!err && !isIPv4(address)) {
          err = new ShoalError(`connect EAFNOSUPPORT ${address}:${port} (Shoal speaks IPv4)`, 'EAFNOSUPPORT',
            { errno: -97, syscall: 'connect', address, port });
        }
        if (err) this.destroy(err);
        else this.open(address, port, o);
      });
    }
    return this;
  }

  private open(address: string, port: number, o: ConnectOptions): void {
    this.target = { address, port };
    const c = this.stack.core;
    try {
      const raddr = parseIPv4(address);
      const sd = this.stack.check(c.tcp_open(), 'socket');
      this.sd = sd;
      this.stack.tcp.set(sd, this);
      applyOptions(this.stack, sd, { ...this.opts, ...o });
      this.stack.syncTime();
      const r = c.tcp_connect(sd, raddr, port, hostAddr(o.localAddress), o.localPort ?? 0);
      if (r < 0) throw sysError(r, 'connect', address, port);
    } catch (e) {
      this.stack.drain();
      process.nextTick(() => this.destroy(e as Error));
      return;
    }
    this.addresses();
    this.stack.drain();
  }

  /** @internal An event from the core. */
  _tcpEvent(type: number, b: number): void {
    if (this.sd < 0) return;
    switch (type) {
      case EV.TCP_CONNECTED:
        this.connecting = false;
        this.pending = false;
        this.addresses();
        this.emit('connect');
        this.emit('ready');
        this.resumeWrites();
        if (this.reading) this.pull();
        break;
      case EV.TCP_READABLE:
        this.touch();
        if (this.reading) this.pull();
        break;
      case EV.TCP_WRITABLE:
        this.resumeWrites();
        break;
      case EV.TCP_FIN:
        this.finSeen = true;
        if (this.reading) this.pull();
        break;
      case EV.TCP_CLOSED:
        break;
      case EV.TCP_ERROR: {
        const syscall = this.connecting ? 'connect' : 'read';
        const err = this.connecting ? sysError(-b, syscall, this.target.address, this.target.port) : sysError(-b, syscall);
        this.failPending(err);
        this.destroy(err);
        break;
      }
      case TCP_RESCAN:
        if (this.reading) this.pull();
        this.resumeWrites();
        break;
    }
  }

  private addresses(): void {
    const w = this.stack.tcpInfo(this.sd);
    if (!w || w.lport === 0) return;
    this.local = { address: formatIPv4(w.laddr), port: w.lport };
    this.remote = { address: formatIPv4(w.raddr), port: w.rport };
  }

  // ---- reading ----
  override _read(): void {
    this.reading = true;
    if (!this.connecting && this.sd >= 0) this.pull();
  }

  /** Hands one piece of received data to the reader. */
  private readonly piece = (buf: Buffer): void => { if (!this.push(buf)) this.reading = false; };

  private pull(): void {
    const stack = this.stack;
    let any = false;
    stack.syncTime();   // a read may send a window update and arm timers
    while (this.reading && this.sd >= 0 && !this.ended) {
      const n = stack.tcpRecv(this.sd, RECV_MAX);
      if (n <= 0) {
        if (n === 0 && this.finSeen) { this.ended = true; this.push(null); }
        break;
      }
      this.bytesRead += n;
      any = true;
      // Every record is a loan until the next call into the core: copy them all out now.
      stack.tcpCopyOut(PIECE, this.piece);
    }
    if (any) { this.touch(); stack.drain(); }
  }

  // ---- writing ----
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.startWrite({ chunks: [chunk], i: 0, off: 0, cb });
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.startWrite({ chunks: chunks.map((c) => c.chunk), i: 0, off: 0, cb });
  }

  private startWrite(w: PendingWrite): void {
    this.pendingWrite = w;
    if (this.connecting || this.sd < 0) return;
    this.resumeWrites();
  }

  private resumeWrites(): void {
    const w = this.pendingWrite;
    if (w && this.sd >= 0 && !this.connecting) {
      const stack = this.stack;
      let err: Error | null = null;
      let moved = 0;
      stack.syncTime();   // segments sent now arm their timers from the real time
      while (w.i < w.chunks.length) {
        const chunk = w.chunks[w.i];
        if (w.off >= chunk.length) { w.i++; w.off = 0; continue; }
        // More of this write to come: let the core send it in whole segments (MSG_MORE).
        const take = stack.tcpWrite(this.sd, chunk, w.off, w.i + 1 < w.chunks.length);
        if (take < 0) { err = sysError(take, 'write'); break; }
        if (take === 0) break;
        w.off += take;
        moved += take;
      }
      this.written += moved;
      if (moved) this.touch();
      stack.drain();
      if (err || w.i >= w.chunks.length) {
        this.pendingWrite = null;
        w.cb(err);
      }
    }
    if (!this.pendingWrite && this.finalCb && !this.connecting) this.doFinal();
  }

  private failPending(err: Error): void {
    const w = this.pendingWrite;
    this.pendingWrite = null;
    if (w) w.cb(err);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finalCb = cb;
    if (!this.connecting && !this.pendingWrite) this.doFinal();
  }

  private doFinal(): void {
    const cb = this.finalCb!;
    this.finalCb = null;
    if (this.sd >= 0) {
      this.stack.syncTime();
      this.stack.core.tcp_shutdown(this.sd);
      this.stack.drain();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdle();
    this.connecting = false;
    const sd = this.sd;
    if (sd >= 0) {
      this.sd = -1;
      this.stack.tcp.delete(sd);
      if (!this.stack.isClosed) {
        this.stack.core.tcp_close(sd);
        this.stack.drain();
      }
    }
    const w = this.pendingWrite;
    this.pendingWrite = null;
    if (w) w.cb(err ?? Object.assign(new Error('Socket closed'), { code: 'ERR_SOCKET_CLOSED' }));
    cb(err);
    process.nextTick(() => this.emit('close', !!err));
  }

  /** @internal */
  _stackClosing(err: Error): void { this.destroy(listensForErrors(this) ? err : undefined); }

  /** Closes with a RST (node:net resetAndDestroy). */
  resetAndDestroy(): this {
    const sd = this.sd;
    if (sd >= 0) {
      this.sd = -1;
      this.stack.tcp.delete(sd);
      if (!this.stack.isClosed) { this.stack.core.tcp_abort(sd); this.stack.drain(); }
    }
    this.destroy();
    return this;
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  // ---- options ----
  setNoDelay(noDelay = true): this {
    if (this.sd >= 0) this.stack.core.tcp_setopt(this.sd, TCP_OPT.NODELAY, noDelay ? 1 : 0);
    else this.opts.noDelay = noDelay;
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    const ms = enable ? (initialDelay > 0 ? initialDelay : 7_200_000) : 0;
    if (this.sd >= 0) this.stack.core.tcp_setopt(this.sd, TCP_OPT.KEEPALIVE, ms);
    else { this.opts.keepAlive = enable; this.opts.keepAliveInitialDelay = initialDelay; }
    return this;
  }

  /** Idle timeout on this side (as node:net): emits 'timeout', does not close. */
  setTimeout(ms: number, cb?: () => void): this {
    this.idleMs = ms > 0 ? ms : 0;
    if (cb) { if (ms > 0) this.once('timeout', cb); else this.removeListener('timeout', cb); }
    this.touch();
    return this;
  }

  private touch(): void {
    this.clearIdle();
    if (this.idleMs > 0 && !this.destroyed) {
      this.idleTimer = this.stack.clock.setTimer(() => { this.idleTimer = null; this.emit('timeout'); }, this.idleMs);
    }
  }

  private clearIdle(): void {
    if (this.idleTimer) { this.stack.clock.clearTimer(this.idleTimer); this.idleTimer = null; }
  }

  get timeout(): number | undefined { return this.idleMs || undefined; }

  // ---- addresses and state ----
  address(): { address: string; family: 'IPv4'; port: number } | Record<string, never> {
    if (!this.local) this.addresses();
    return this.local ? { address: this.local.address, family: 'IPv4', port: this.local.port } : {};
  }
  get localAddress(): string | undefined { return this.local?.address; }
  get localPort(): number | undefined { return this.local?.port; }
  get remoteAddress(): string | undefined { return this.remote?.address; }
  get remotePort(): number | undefined { return this.remote?.port; }
  get remoteFamily(): string | undefined { return this.remote ? 'IPv4' : undefined; }
  get localFamily(): string | undefined { return this.local ? 'IPv4' : undefined; }
  get bytesWritten(): number { return this.written; }
  get bufferSize(): number { return this.writableLength; }
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }
  /** TCP state and numbers from the core (for tests and diagnostics). */
  info(): TcpInfo | null { return tcpInfo(this.stack, this.sd); }
  ref(): this { return this; }
  unref(): this { return this; }
}

export class Server extends EventEmitter<ServerEvents> {
  /** @internal */ sd = -1;
  maxConnections = 0;
  private readonly stack: Stack;
  private readonly opts: ServerOptions;
  private conns = new Set<Socket>();
  private closing = false;
  private closeCbs: ((err?: Error) => void)[] = [];

  constructor(stack: Stack, opts: ServerOptions) {
    checkOptions(opts);
    super();
    this.stack = stack;
    this.opts = opts;
  }

  /** listen(port[, host][, backlog][, cb]) | listen(options[, cb]), as in node:net. */
  listen(port?: number, host?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number, host?: string, listeningListener?: () => void): this;
  listen(port?: number, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    let port = 0, host: string | undefined, backlog = 511, signal: AbortSignal | undefined;
    if (args[0] !== null && typeof args[0] === 'object') {
      const o = args[0] as ListenOptions;
      port = o.port ?? 0; host = o.host; backlog = o.backlog ?? backlog; signal = o.signal;
    } else {
      if (args[0] !== undefined) port = Number(args[0]);
      if (typeof args[1] === 'string') host = args[1];
      else if (typeof args[1] === 'number') backlog = args[1];
      if (typeof args[2] === 'number') backlog = args[2];
    }
    if (this.sd >= 0) throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw Object.assign(new RangeError(`options.port should be >= 0 and < 65536. Received ${port}.`), { code: 'ERR_SOCKET_BAD_PORT' });
    }
    if (cb) this.once('listening', cb);
    if (this.stack.isClosed) {
      process.nextTick(() => this.emit('error', stackClosed('listen')));
      return this;
    }
    if (signal) {
      const abort = () => { if (this.sd >= 0) this.close(); };
      if (signal.aborted) process.nextTick(abort);
      else {
        signal.addEventListener('abort', abort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', abort));
      }
    }
    const c = this.stack.core;
    let sd = -1;
    try {
      sd = this.stack.check(c.tcp_open(), 'socket');
      applyOptions(this.stack, sd, this.opts);
      const r = c.tcp_listen(sd, hostAddr(host), port, backlog);
      if (r < 0) throw sysError(r, 'listen', host ?? '0.0.0.0', port);
    } catch (e) {
      if (sd >= 0) c.tcp_close(sd);
      process.nextTick(() => this.emit('error', e as Error));
      return this;
    }
    this.sd = sd;
    this.closing = false;
    this.stack.tcp.set(sd, this);
    // A poll soon: a cluster target reports its new listener at once.
    this.stack.drain();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  /** @internal */
  _tcpEvent(type: number): void {
    if (type !== EV.TCP_ACCEPT && type !== TCP_RESCAN) return;
    const c = this.stack.core;
    const got: Socket[] = [];
    while (this.sd >= 0) {
      const sd = c.tcp_accept(this.sd);
      if (sd < 0) break;
      if (this.maxConnections > 0 && this.conns.size >= this.maxConnections) { c.tcp_abort(sd); continue; }
      const s = new Socket(this.stack, { allowHalfOpen: this.opts.allowHalfOpen }, sd);
      s.server = this;
      if (this.opts.pauseOnConnect) s.pause();
      this.conns.add(s);
      s.once('close', () => { this.conns.delete(s); this.maybeClosed(); });
      got.push(s);
    }
    this.stack.drain();
    for (const s of got) this.emit('connection', s);
  }

  address(): { address: string; family: 'IPv4'; port: number } | null {
    const i = tcpInfo(this.stack, this.sd);
    return i ? { address: i.localAddress, family: 'IPv4', port: i.localPort } : null;
  }

  get listening(): boolean { return this.sd >= 0; }

  /** @internal */
  _stackClosing(err: Error): void {
    if (this.sd < 0) return;
    if (listensForErrors(this)) this.emit('error', err);
    this.close();
  }

  /** Stops accepting; 'close' once every connection has closed. */
  close(cb?: (err?: Error) => void): this {
    if (this.sd < 0) {
      if (cb) process.nextTick(() => cb(Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' })));
      return this;
    }
    if (cb) this.closeCbs.push(cb);
    const sd = this.sd;
    this.sd = -1;
    this.closing = true;
    this.stack.tcp.delete(sd);
    if (!this.stack.isClosed) { this.stack.core.tcp_close(sd); this.stack.drain(); }
    this.maybeClosed();
    return this;
  }

  private maybeClosed(): void {
    if (!this.closing || this.conns.size) return;
    this.closing = false;
    const cbs = this.closeCbs.splice(0);
    process.nextTick(() => { for (const cb of cbs) cb(); this.emit('close'); });
  }

  getConnections(cb: (err: Error | null, n: number) => void): this {
    const n = this.conns.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this { return this; }
  unref(): this { return this; }
}
