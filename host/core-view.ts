// The view over one core's linear memory: with stack.ts, the only host code
// that reads or writes it. SCB words, the io area's records (tcp_info,
// tcp_recv, tcp_send_space, udp_recv, udp_local, the tables) and counters,
// at the offsets the core's sources give (core-abi.ts). The typed arrays are
// cached: memory grows only in init(), after which the owner calls refresh().
import { DESC_BYTES, SCB, TCP_INFO } from './core-abi.ts';
import type { CoreExports } from './wasm.ts';

/** Descriptor words (ptr, len, ifindex | flags << 16, gso). */
export const DESC_WORDS = DESC_BYTES >>> 2;

/** tcp_info's words, by field name. */
export type TcpInfoWords = Record<keyof typeof TCP_INFO, number>;

/** Takes what a tcp_recv copy-out produced, piece by piece. */
export type PieceSink = (piece: Buffer) => void;

/** An AssemblyScript string at p (UTF-16LE, its byte length in the word before it), as the debug core's abort passes it. */
export function stringAt(memory: WebAssembly.Memory, p: number): string {
  if (!p) return '';
  const len = new Uint32Array(memory.buffer, p - 4, 1)[0] >>> 1;
  return String.fromCharCode(...new Uint16Array(memory.buffer, p, len));
}

export class CoreView {
  u8!: Uint8Array;
  u32!: Uint32Array;
  readonly scb: number;
  /** Word index of the io area (fixed by init). */
  io = 0;

  constructor(readonly core: CoreExports) {
    this.scb = core.scb();
    this.refresh();
  }

  /** New views over memory, after init() grew it; the io area's place. */
  refresh(): void {
    this.u8 = new Uint8Array(this.core.memory.buffer);
    this.u32 = new Uint32Array(this.core.memory.buffer);
    this.io = this.w(SCB.IO) >>> 2;
  }

  /** An SCB or CFG word. */
  w(off: number): number { return this.u32[(this.scb + off) >>> 2]; }
  setW(off: number, v: number): void { this.u32[(this.scb + off) >>> 2] = v; }

  /** Word i of the io area (what tables(), tcp_tables() and udp_local() write). */
  ioWord(i: number): number { return this.u32[this.io + i]; }

  /** The counter names, as the core lists them at SCB_NAMES. */
  counterNames(): string[] {
    const names = this.u8.subarray(this.w(SCB.NAMES), this.w(SCB.NAMES) + this.w(SCB.NAMES_BYTES));
    return String.fromCharCode(...names).split(',');
  }

  /** Counter i. */
  counter(i: number): number { return this.u32[(this.w(SCB.COUNTERS) >>> 2) + i]; }

  /** The record tcp_info() just wrote. */
  tcpInfo(): TcpInfoWords {
    // Spelt out, not a loop over the fields: one object shape, built once a
    // connection at least (a keyed loop cost a third of a connection's host time).
    const m = this.u32, b = this.io, I = TCP_INFO;
    return {
      state: m[b + (I.state >>> 2)], laddr: m[b + (I.laddr >>> 2)], lport: m[b + (I.lport >>> 2)],
      raddr: m[b + (I.raddr >>> 2)], rport: m[b + (I.rport >>> 2)], flags: m[b + (I.flags >>> 2)],
      sndUna: m[b + (I.sndUna >>> 2)], sndNxt: m[b + (I.sndNxt >>> 2)], rcvNxt: m[b + (I.rcvNxt >>> 2)],
      sndWnd: m[b + (I.sndWnd >>> 2)], cwnd: m[b + (I.cwnd >>> 2)], ssthresh: m[b + (I.ssthresh >>> 2)],
      srttUs: m[b + (I.srttUs >>> 2)], rtoMs: m[b + (I.rtoMs >>> 2)], mss: m[b + (I.mss >>> 2)],
      sendQueued: m[b + (I.sendQueued >>> 2)], recvQueued: m[b + (I.recvQueued >>> 2)],
      oooQueued: m[b + (I.oooQueued >>> 2)], wscale: m[b + (I.wscale >>> 2)], sndMax: m[b + (I.sndMax >>> 2)],
      rcvWnd: m[b + (I.rcvWnd >>> 2)], acceptQueue: m[b + (I.acceptQueue >>> 2)], synQueue: m[b + (I.synQueue >>> 2)],
      softError: m[b + (I.softError >>> 2)], chunks: m[b + (I.chunks >>> 2)], congestion: m[b + (I.congestion >>> 2)],
    };
  }

  /** The bytes in tcp_recv's n (address, bytes) records. */
  recordBytes(n: number): number {
    const m32 = this.u32, io = this.io;
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += m32[io + 2 * i + 1];
    return bytes;
  }

  /** Copies tcp_recv's n records, `left` bytes in all, out of memory (they are
   * loans until the next call) into Buffers of at most `piece` bytes. */
  copyRecords(n: number, left: number, piece: number, sink: PieceSink): void {
    const m8 = this.u8, m32 = this.u32, io = this.io;
    let buf = Buffer.allocUnsafe(Math.min(left, piece)), off = 0;
    for (let i = 0; i < n; i++) {
      let p = m32[io + 2 * i], l = m32[io + 2 * i + 1];
      while (l > 0) {
        const take = Math.min(l, buf.length - off);
        buf.set(m8.subarray(p, p + take), off);
        off += take; p += take; l -= take; left -= take;
        if (off === buf.length) {
          sink(buf);
          if (left > 0) { buf = Buffer.allocUnsafe(Math.min(left, piece)); off = 0; }
        }
      }
    }
  }

  /** Writes bytes where tcp_send_space() said (io word 0). */
  putSendSpace(bytes: Uint8Array): void { this.u8.set(bytes, this.u32[this.io]); }

  /** The io area's first len bytes: the cluster's bodies (big-endian) and records (little-endian words). */
  ioData(len: number): DataView { return new DataView(this.u8.buffer, this.io << 2, len); }

  /** Writes a datagram's payload at the io area, for udp_send(). */
  putIo(bytes: Uint8Array): void { this.u8.set(bytes, this.io << 2); }

  /** n udp_recv records copied out: (payload, source address, source port) each, into `got`. */
  udpRecords(n: number, got: [Buffer, number, number][]): void {
    const m8 = this.u8, m32 = this.u32;
    let at = this.io;
    for (let i = 0; i < n; i++) {
      const src = m32[at], port = m32[at + 1], len = m32[at + 2], nseg = m32[at + 3];
      at += 4;
      const msg = Buffer.allocUnsafe(len);
      let off = 0;
      for (let s = 0; s < nseg; s++, at += 2) {
        const p = m32[at], l = m32[at + 1];
        msg.set(m8.subarray(p, p + l), off);
        off += l;
      }
      got.push([msg, src, port]);
    }
  }
}
