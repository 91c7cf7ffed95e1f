/**
 * A link over a byte stream: frames cross a process boundary without root
 * (a child's stdin/stdout, a Unix socket, a socketpair), each one prefixed
 * with its length as 4 bytes big-endian. Plain frames only (complete
 * checksums, at most mtu + 14 bytes), as a wire carries them; the far end
 * speaks the same framing (examples/c-host/target.c does, in C).
 *
 * Frames sent in one burst are written as one chunk (the stack calls flush
 * after each burst; a frame sent outside one is flushed on the next turn of
 * the event loop). While the stream pushes back, frames wait, up to
 * `maxQueued` bytes; past that they are dropped and counted, as a full
 * transmit ring drops them, and TCP retransmits.
 */
import type { Readable, Writable, Duplex } from 'node:stream';
import type { Link } from './link.ts';
import { argError } from '../errors.ts';

export interface PipeLinkOptions {
  /** The largest IP packet carried, 576..65535 (default 1500). */
  mtu?: number;
  /** Bytes that may wait while the stream pushes back (default 1 MiB). */
  maxQueued?: number;
}

const HEADER = 4;

export class PipeLink implements Link {
  readonly mtu: number;
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  readonly counters = { framesIn: 0, framesOut: 0, dropped: 0, tooBig: 0 };
  private readonly input: Readable;
  private readonly output: Writable;
  private readonly maxQueued: number;
  /** Frames sent since the last write, each with its header. */
  private batch: Buffer[] = [];
  private queued = 0;
  private blocked = false;
  private scheduled = false;
  /** Received bytes that do not yet make a whole frame. */
  private rest: Buffer | null = null;
  private open = true;

  /** A Duplex (a socket) carries both directions; or input and output apart (a child's stdout and stdin). */
  constructor(input: Readable | Duplex, output: Writable = input as Duplex, opts: PipeLinkOptions = {}) {
    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw argError(RangeError, 'ERR_OUT_OF_RANGE', `PipeLink: mtu must be an integer in 576..65535, got ${mtu}`);
    this.mtu = mtu;
    this.maxQueued = opts.maxQueued ?? 1 << 20;
    this.input = input;
    this.output = output;
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('error', this.down);
    output.on('error', this.down);
    output.on('drain', this.onDrain);
  }

  send(frame: Uint8Array): void {
    if (!this.open) return;
    if (frame.length > this.mtu + 14) { this.counters.tooBig++; return; }
    // Shorter than an Ethernet header: the far end would take it for a broken framing.
    if (frame.length < 14) { this.counters.dropped++; return; }
    if (this.queued + HEADER + frame.length > this.maxQueued) { this.counters.dropped++; return; }
    const b = Buffer.allocUnsafe(HEADER + frame.length);
    b.writeUInt32BE(frame.length, 0);
    b.set(frame, HEADER);
    this.batch.push(b);
    this.queued += b.length;
    this.counters.framesOut++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (!this.open || this.blocked || !this.batch.length) return;
    const chunk = this.batch.length === 1 ? this.batch[0] : Buffer.concat(this.batch, this.queued);
    this.batch = [];
    this.queued = 0;
    if (!this.output.write(chunk)) this.blocked = true;
  }

  close(): void {
    if (!this.open) return;
    this.flush();
    this.open = false;
    this.detach();
    this.output.end();
  }

  private onDrain = (): void => {
    this.blocked = false;
    this.flush();
  };

  private onData = (chunk: Buffer): void => {
    let b = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let at = 0;
    while (this.open && b.length - at >= HEADER) {
      const len = b.readUInt32BE(at);
      if (len < 14 || len > this.mtu + 14) {
        // The stream's framing is lost: nothing after this can be trusted.
        this.down(new Error(`PipeLink: a frame of ${len} bytes, outside 14..${this.mtu + 14}: the stream is not this framing`));
        return;
      }
      if (b.length - at < HEADER + len) break;
      this.counters.framesIn++;
      this.onFrame?.(b.subarray(at + HEADER, at + HEADER + len), 0, 0);
      at += HEADER + len;
    }
    if (at < b.length) this.rest = Buffer.from(b.subarray(at));
  };

  private onEnd = (): void => { this.down(); };

  /** The far end went away (or broke the framing): the link is down for good. */
  private down = (err?: Error): void => {
    if (!this.open) return;
    this.open = false;
    this.detach();
    this.output.destroy();
    this.onDown?.(err);
  };

  private detach(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.down);
    this.output.off('drain', this.onDrain);
    // Errors after close (EPIPE from a child that exited) are expected and ignored.
    this.output.off('error', this.down);
    this.output.on('error', () => {});
    this.batch = [];
    this.queued = 0;
  }
}
