// Types for shoal-min.js (plain JavaScript so a browser loads it as is).
export declare const S: Record<
  'RX_COUNT' | 'TX_COUNT' | 'EV_COUNT' | 'FREE_COUNT' | 'RX_DESC' | 'RX_CAP' | 'TX_DESC' | 'TX_CAP' | 'EV' | 'EV_CAP' |
  'FREE' | 'BUF_SIZE' | 'BUF_DATA' | 'IO' | 'IO_CAP' | 'COUNTERS' | 'NCOUNTERS' | 'NAMES' | 'NAMES_BYTES' | 'EV_LOST' |
  'POOL' | 'NBUFS' | 'MEM_END' | 'ABI_VERSION', number>;
export declare const CFG: Record<'POOL_BYTES' | 'MAX_FRAME' | 'UDP_SOCKS' | 'SEED0' | 'TCP_SOCKS' | 'TCP_SNDBUF' |
  'TCP_RCVBUF' | 'TCP_CHUNKS', number>;
export declare const EV: Record<'UDP_READABLE' | 'ECHO_REPLY' | 'UNREACHABLE' | 'UDP_ERROR' | 'TCP_CONNECTED' | 'TCP_ACCEPT' |
  'TCP_READABLE' | 'TCP_WRITABLE' | 'TCP_FIN' | 'TCP_CLOSED' | 'TCP_ERROR', number>;
/** Bytes per rx or tx descriptor (SHOAL_DESC_BYTES). */
export declare const DESC_BYTES: number;
/** tcp_info's word names, in order (shoal_tcp_info_t in include/shoal.h). */
export declare const TCP_INFO: string[];
/** State names by number (index 1: CLOSED … 11: TIME-WAIT). */
export declare const TCP_STATE: string[];
export declare function ip4(s: string): number;
export declare function ipStr(a: number): string;

/** The core's exports: functions over numbers, and its memory. */
export type CoreExports = { memory: WebAssembly.Memory } & Record<string, any>;
export interface MiniEvent { type: number; a: number; b: number; c: number }
export interface Datagram { from: string; port: number; data: Uint8Array }
export interface TcpInfo {
  state: number; laddr: number; lport: number; raddr: number; rport: number; flags: number; sndUna: number;
  sndNxt: number; rcvNxt: number; sndWnd: number; cwnd: number; ssthresh: number; srttUs: number; rtoMs: number;
  mss: number; sndQueued: number; rcvQueued: number; oooQueued: number; wscale: number; sndMax: number; rcvWnd: number;
  acceptQ: number; synQ: number; softError: number; chunks: number; cc: number;
  stateName: string; local: string; localPort: number; remote: string; remotePort: number;
}
export interface TcpTables { tcbsUsed: number; timeWait: number; chunksUsed: number; chunks: number; tcbs: number; timers: number }
export interface SetupOptions {
  mac: [number, number];
  address: string;
  prefix?: number;
  mtu?: number;
  seed?: number;
  poolBytes?: number;
  /** CFG.TCP_SOCKS (default here 64) */
  tcpSocks?: number;
  /** CFG.TCP_CHUNKS, 16 KiB each (default here 256) */
  tcpChunks?: number;
}

export declare class MiniStack {
  constructor(ex: CoreExports, name?: string);
  readonly ex: CoreExports;
  readonly name: string;
  tx: Uint8Array[];
  events: MiniEvent[];
  eventsLost: number;
  deadline: number;
  now?: number;
  scb: number;
  ifx: number;
  u8: Uint8Array;
  u32: Uint32Array;
  setup(opts: SetupOptions): this;
  view(): void;
  get(off: number): number;
  set(off: number, v: number): void;
  deliver(frame: Uint8Array): boolean;
  poll(now: number): number;
  drain(): void;
  call(name: string, ...args: number[]): number;
  ping(dst: string, id: number, seq: number, len?: number): number;
  udpOpen(port?: number, addr?: string): number;
  udpSend(sd: number, dst: string, port: number, bytes: Uint8Array): number;
  udpRecv(sd: number, max?: number): Datagram[];
  counters(): Record<string, number>;
  readonly hasTcp: boolean;
  time(): void;
  tcpListen(port: number, addr?: string, backlog?: number): number;
  tcpConnect(dst: string, port: number, laddr?: string, lport?: number): number;
  /** -1 when the accept queue is empty. */
  tcpAccept(lsd: number): number;
  /** Bytes taken into the send buffer (0: full). */
  tcpSend(sd: number, bytes: Uint8Array): number;
  tcpRecv(sd: number, max?: number): Uint8Array;
  tcpShutdown(sd: number): number;
  tcpClose(sd: number): number;
  tcpAbort(sd: number): number;
  tcpSetopt(sd: number, opt: number, val: number): number;
  tcpInfo(sd: number): TcpInfo;
  tcpTables(): TcpTables;
  /** Removes and returns the events of this type (for socket sd when given). */
  take(type: number, sd?: number): MiniEvent[];
}

export declare class Net {
  constructor(...stacks: MiniStack[]);
  stacks: MiniStack[];
  now: number;
  frames: number;
  relay(): number;
  run(until: () => boolean, maxMs?: number): boolean;
}
