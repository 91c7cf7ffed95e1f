/**
 * Packet capture: a Link that records every frame, both directions, into a
 * classic libpcap file that tshark, tcpdump and Wireshark read.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Link } from './link.ts';
import type { Clock } from '../clock.ts';
import { realClock } from '../clock.ts';

const LINKTYPE_ETHERNET = 1;
const DEFAULT_SNAPLEN = 262144;
/** Buffered bytes that trigger a write: few syscalls, bounded memory. */
const FLUSH_AT = 256 * 1024;
const RECORD_HEADER = 16;

/** Writes a pcap file (microsecond timestamps, Ethernet). Several links may
 * share one writer, e.g. every port of a switch; whoever opened it closes it. */
export class PcapWriter {
  readonly snaplen: number;
  private fd: number | null;
  // Room for FLUSH_AT plus one largest record, so a record never straddles a flush.
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private pos = 0;

  constructor(path: string, opts: { snaplen?: number | undefined } = {}) {
    const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isSafeInteger(snaplen) || snaplen < 1 || snaplen > DEFAULT_SNAPLEN) {
      throw new RangeError(`PcapWriter: snaplen must be an integer in [1, ${DEFAULT_SNAPLEN}], got ${snaplen}`);
    }
    this.snaplen = snaplen;
    this.buf = new Uint8Array(FLUSH_AT + RECORD_HEADER + snaplen);
    this.view = new DataView(this.buf.buffer);
    this.fd = openSync(path, 'w');
    // Global header, little-endian (as every field here); readers detect the
    // byte order from the magic.
    const v = this.view;
    v.setUint32(0, 0xa1b2c3d4, true); // microsecond timestamps
    v.setUint16(4, 2, true);          // version 2.4
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);           // thiszone: timestamps are UTC
    v.setUint32(12, 0, true);         // sigfigs
    v.setUint32(16, snaplen, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.pos = 24;
  }

  /** Records one frame seen at timeMs (ms since the Unix epoch, >= 0). */
  write(frame: Uint8Array, timeMs: number): void {
    if (this.fd === null) throw new Error('PcapWriter: write after close');
    if (!(timeMs >= 0 && timeMs < 2 ** 32 * 1000)) throw new RangeError(`PcapWriter: bad timestamp ${timeMs} ms`);
    let sec = Math.floor(timeMs / 1000);
    let usec = Math.round((timeMs - sec * 1000) * 1000);
    if (usec === 1_000_000) { sec++; usec = 0; }
    const incl = Math.min(frame.length, this.snaplen);
    const v = this.view;
    let p = this.pos;
    v.setUint32(p, sec, true);
    v.setUint32(p + 4, usec, true);
    v.setUint32(p + 8, incl, true);
    v.setUint32(p + 12, frame.length, true); // orig_len keeps the truncated frame's size
    p += RECORD_HEADER;
    this.buf.set(incl === frame.length ? frame : frame.subarray(0, incl), p);
    this.pos = p + incl;
    if (this.pos >= FLUSH_AT) this.flush();
  }

  /** Writes out everything buffered. */
  flush(): void {
    if (this.fd === null) return;
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}

export interface PcapOptions {
  /** Time source for timestamps (default realClock). */
  clock?: Clock;
  /** Added to clock.now() to make the timestamp. Default: for realClock, the
   * offset to wall-clock time (so captures line up with tcpdump's); for any
   * other clock 0, so a VirtualClock's ms appear as seconds since 1970. */
  epochMs?: number;
  /** Bytes kept of each frame when withPcap opens the file itself (default 262144). */
  snaplen?: number;
}

// No `offload`, and no rxOffload set on the inner link: only plain frames
// pass, segmented and with complete checksums, so the file shows what a
// wire would carry.
class PcapLink implements Link {
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  private readonly clock: Clock;
  private readonly epochMs: number;

  constructor(
    private readonly inner: Link,
    private readonly writer: PcapWriter,
    /** Whether close() closes the writer (it does when withPcap opened the file). */
    private readonly ownsWriter: boolean,
    opts: PcapOptions,
  ) {
    this.clock = opts.clock ?? realClock;
    this.epochMs = opts.epochMs ?? (this.clock === realClock ? Date.now() - realClock.now() : 0);
    inner.onFrame = (f, fl) => {
      this.writer.write(f, this.epochMs + this.clock.now());
      this.onFrame?.(f, fl, 0);
    };
    inner.onDown = (err) => this.onDown?.(err);
  }

  get mtu(): number { return this.inner.mtu; }

  send(frame: Uint8Array, flags?: number): void {
    this.writer.write(frame, this.epochMs + this.clock.now());
    this.inner.send(frame, flags);
  }

  flush(): void { this.inner.flush?.(); }

  close(): void {
    this.inner.close();
    if (this.ownsWriter) this.writer.close();
  }
}

/** Wraps inner so that every frame sent or received is captured. Given a path,
 * it opens (truncates) that file and closes it with the link; given a
 * PcapWriter, it shares it and leaves closing to its owner. */
export function withPcap(inner: Link, path: string | PcapWriter, opts: PcapOptions = {}): Link {
  if (typeof path === 'string') return new PcapLink(inner, new PcapWriter(path, { snaplen: opts.snaplen }), true, opts);
  return new PcapLink(inner, path, false, opts);
}
