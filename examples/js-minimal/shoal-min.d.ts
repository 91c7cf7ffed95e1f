// Types for shoal-min.js (plain JavaScript so a browser loads it as is).
export declare const S: Record<
  'RX_COUNT' | 'TX_COUNT' | 'EV_COUNT' | 'FREE_COUNT' | 'RX_DESC' | 'RX_CAP' | 'TX_DESC' | 'TX_CAP' | 'EV' | 'EV_CAP' |
  'FREE' | 'BUF_SIZE' | 'BUF_DATA' | 'IO' | 'IO_CAP' | 'COUNTERS' | 'NCOUNTERS' | 'NAMES' | 'NAMES_BYTES' | 'EV_LOST' |
  'POOL' | 'NBUFS' | 'MEM_END' | 'ABI_VERSION', number>;
export declare const CFG: Record<'POOL_BYTES' | 'MAX_FRAME' | 'UDP_SOCKS' | 'SEED0', number>;
export declare const EV: Record<'UDP_READABLE' | 'ECHO_REPLY' | 'UNREACHABLE' | 'UDP_ERROR', number>;
export declare function ip4(s: string): number;
export declare function ipStr(a: number): string;

/** The core's exports: functions over numbers, and its memory. */
export type CoreExports = { memory: WebAssembly.Memory } & Record<string, any>;
export interface MiniEvent { type: number; a: number; b: number; c: number }
export interface Datagram { from: string; port: number; data: Uint8Array }
export interface SetupOptions {
  mac: [number, number];
  address: string;
  prefix?: number;
  mtu?: number;
  seed?: number;
  poolBytes?: number;
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
}

export declare class Net {
  constructor(...stacks: MiniStack[]);
  stacks: MiniStack[];
  now: number;
  frames: number;
  relay(): number;
  run(until: () => boolean, maxMs?: number): boolean;
}
