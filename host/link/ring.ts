/**
 * Frames across threads (DESIGN.md §4 "Past one process"): a lock-free
 * single-producer single-consumer ring in a SharedArrayBuffer, and a
 * RingLink, a pair of them (one per direction) that is a Link at each end.
 * A stack in a worker thread sends into one ring and the switch's port on
 * the main thread reads it; nothing is posted per frame.
 *
 * A record is an 8-byte header (length; flags and gso) and the frame,
 * padded to 8 bytes. A record never wraps: where one does not fit before
 * the end, a WRAP mark sends the reader back to the start. Head (what the
 * consumer has read) and tail (what the producer has written) are byte
 * positions that only grow, modulo 2^32, so full and empty differ.
 *
 * Batches: the producer publishes its tail once per batch (ring()), and
 * rings the bell (Atomics.notify) then only if the consumer sleeps; the
 * consumer, woken, reads everything there is and publishes its head once,
 * then sleeps with Atomics.waitAsync (the main thread cannot block, and a
 * worker runs a stack's timers and sockets on its event loop). An atomic
 * per batch, not per frame: they are the ring's dearest instructions.
 *
 * A full ring drops the frame and counts it (`dropped`), as a NIC's full
 * transmit ring does: the producer never waits, and TCP retransmits.
 *
 * A stack's small frames arrive already in this record format (the core
 * packs them: Link.sendPacked, docs/ABI.md FRAME_PACKED), a run a batch,
 * and go in with one copy per run (writePacked) instead of one per frame.
 */
import type { Link, LinkOffload } from './link.ts';
import { argError } from '../errors.ts';

// Header words (Int32Array indices); head and tail on cache lines of their own.
const HEAD = 0;
const TAIL = 16;
/** Bumped by the producer once per batch; the consumer sleeps on it. */
const BELL = 17;
/** 1 while the consumer sleeps (or is about to). */
const SLEEPING = 1;
/** 1 once either end closed: the link is down for good. */
const CLOSED = 18;
/** What the consumer's end takes (LinkOffload): csum 0/1, gso bytes, ipip 0/1; set by whoever attaches to it. */
const TAKES_CSUM = 2;
const TAKES_GSO = 3;
const TAKES_IPIP = 4;
// Producer's counters (the consumer's end reads them too).
const FRAMES = 19;
const DROPPED = 20;
const TOO_BIG = 21;
/** Consumer's: records it refused as malformed (the ring is then closed). */
const BROKEN = 5;
const HEADER_BYTES = 128;
const RECORD_HEADER = 8;
const WRAP = 0xffffffff;
/** ES2024's Atomics.waitAsync (Node 16+), which the compiler's ES2022 library does not declare. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

export interface RingCounters {
  /** Frames written. */
  frames: number;
  /** Frames dropped because the ring was full (back-pressure), or closed. */
  dropped: number;
  /** Frames larger than half the ring, never carried. */
  tooBig: number;
}

/** One direction: a SharedArrayBuffer of a header and `capacity` bytes of records. */
export class FrameRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  private readonly ctl: Int32Array;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly mask: number;
  /** The producer's own tail, and the consumer's own head: each end owns one, and only publishes it. */
  private tail: number;
  private head: number;
  /** The producer's: room it knows of without looking at the head again; frames written since the last ring(). */
  private room = 0;
  private batch = 0;

  /** A new ring of `capacity` bytes (a power of two, 4 KiB..1 GiB), or the far end of an existing one (its `sab`). */
  constructor(capacityOrSab: number | SharedArrayBuffer) {
    if (typeof capacityOrSab === 'number') {
      const c = capacityOrSab;
      if (!Number.isInteger(c) || c < 4096 || c > 1 << 30 || (c & (c - 1)) !== 0) {
        throw argError(RangeError, 'ERR_OUT_OF_RANGE', `FrameRing: capacity must be a power of two in 4096..2^30, got ${c}`);
      }
      this.sab = new SharedArrayBuffer(HEADER_BYTES + c);
    } else {
      const c = capacityOrSab.byteLength - HEADER_BYTES;
      if (c < 4096 || (c & (c - 1)) !== 0) throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', 'FrameRing: not a ring\'s SharedArrayBuffer');
      this.sab = capacityOrSab;
    }
    this.capacity = this.sab.byteLength - HEADER_BYTES;
    this.mask = this.capacity - 1;
    this.ctl = new Int32Array(this.sab, 0, HEADER_BYTES >> 2);
    this.u8 = new Uint8Array(this.sab, HEADER_BYTES);
    this.u32 = new Uint32Array(this.sab, HEADER_BYTES);
    this.tail = Atomics.load(this.ctl, TAIL) >>> 0;
    this.head = Atomics.load(this.ctl, HEAD) >>> 0;
  }

  get closed(): boolean { return Atomics.load(this.ctl, CLOSED) !== 0; }

  counters(): RingCounters {
    return { frames: Atomics.load(this.ctl, FRAMES) >>> 0, dropped: Atomics.load(this.ctl, DROPPED) >>> 0, tooBig: Atomics.load(this.ctl, TOO_BIG) >>> 0 };
  }

  /** Records the consumer refused as malformed. */
  get broken(): number { return Atomics.load(this.ctl, BROKEN); }

  /** Bytes written and not yet read (records, padding and marks). */
  get used(): number { return (Atomics.load(this.ctl, TAIL) - Atomics.load(this.ctl, HEAD)) >>> 0; }

  // ---- producer ----

  /** Writes one frame, to be read once the batch ends (ring()); false if it was dropped (full, closed, too big). */
  write(frame: Uint8Array, flags: number, gso: number): boolean {
    const at = this.reserve(frame.length, flags, gso);
    if (at < 0) return false;
    this.u8.set(frame, at);
    return true;
  }

  /** write() of a frame given in pieces, their lengths adding up to len. */
  writev(parts: Uint8Array[], len: number, flags: number, gso: number): boolean {
    let at = this.reserve(len, flags, gso);
    if (at < 0) return false;
    for (const p of parts) { this.u8.set(p, at); at += p.length; }
    return true;
  }

  /** Writes records already in the ring's format (a stack's packed frames: Link.sendPacked), copying as many
   * whole ones at a time as fit before the ring's end; those with no room are dropped and counted, as is the
   * rest of a run from a record that does not parse (counted once). Returns the records written. */
  writePacked(rec: Uint8Array): number {
    const c = this.ctl, half = this.capacity >>> 1;
    let total = rec.length;
    let off = 0, written = 0;
    while (off < total) {
      const tail = this.tail, at = tail & this.mask, fit = this.capacity - at;
      // Whole records from off, up to where the ring ends or the room known ends.
      let end = off, n = 0;
      const limit = Math.min(fit, this.room);
      for (;;) {
        if (end === total) break;
        const len = rec[end] | (rec[end + 1] << 8) | (rec[end + 2] << 16) | (rec[end + 3] << 24);
        const need = RECORD_HEADER + ((len + 7) & ~7);
        if (len < 0 || len > half || end + need > total) { Atomics.add(c, DROPPED, 1); total = end; break; }
        if (end - off + need > limit) break;
        end += need;
        n++;
      }
      if (n === 0) {
        if (off === total || c[CLOSED] !== 0) break;
        const len = rec[off] | (rec[off + 1] << 8) | (rec[off + 2] << 16) | (rec[off + 3] << 24);
        const need = RECORD_HEADER + ((len + 7) & ~7);
        if (need > this.room) this.room = this.capacity - ((tail - Atomics.load(c, HEAD)) >>> 0);
        if (need <= Math.min(fit, this.room)) continue;
        if (fit < need && fit <= this.room) {
          // The next record does not fit before the end: a wrap mark, and on from the start.
          this.u32[at >>> 2] = WRAP;
          this.tail = (tail + fit) >>> 0;
          this.room -= fit;
          continue;
        }
        break;
      }
      if (c[CLOSED] !== 0) break;
      this.u8.set(off === 0 && end === rec.length ? rec : rec.subarray(off, end), at);
      this.tail = (tail + end - off) >>> 0;
      this.room -= end - off;
      this.batch += n;
      written += n;
      off = end;
    }
    // What found no room: counted record by record, as write() counts a frame (up to one that does not parse).
    for (let k = off; k < total;) {
      Atomics.add(c, DROPPED, 1);
      const len = rec[k] | (rec[k + 1] << 8) | (rec[k + 2] << 16) | (rec[k + 3] << 24);
      if (len < 0 || len > half) break;
      k += RECORD_HEADER + ((len + 7) & ~7);
    }
    return written;
  }

  /** Room for a record of len bytes, its header written: where its bytes go, or -1 (dropped and counted). */
  private reserve(len: number, flags: number, gso: number): number {
    const c = this.ctl;
    if (c[CLOSED] !== 0) { Atomics.add(c, DROPPED, 1); return -1; }
    const need = RECORD_HEADER + ((len + 7) & ~7);
    if (need > this.capacity >>> 1) { Atomics.add(c, TOO_BIG, 1); return -1; }
    let tail = this.tail, off = tail & this.mask;
    const pad = off + need > this.capacity ? this.capacity - off : 0;
    if (pad + need > this.room) this.room = this.capacity - ((tail - Atomics.load(c, HEAD)) >>> 0);
    if (pad) {
      if (pad > this.room) { Atomics.add(c, DROPPED, 1); return -1; }
      // Marked even when the frame itself is then dropped: the next one starts at 0, so a ring never sticks.
      this.u32[off >>> 2] = WRAP;
      tail = this.tail = (tail + pad) >>> 0;
      this.room -= pad;
      off = 0;
    }
    if (need > this.room) { Atomics.add(c, DROPPED, 1); return -1; }
    const w = off >>> 2;
    this.u32[w] = len;
    this.u32[w + 1] = (flags & 0xffff) | ((gso & 0xffff) << 16);
    this.tail = (tail + need) >>> 0;
    this.room -= need;
    this.batch++;
    return off + RECORD_HEADER;
  }

  /** Ends a batch: publishes what was written since the last ring, and wakes the consumer if it sleeps. */
  ring(): void {
    const c = this.ctl;
    if (this.batch === 0) {
      // Only a wrap mark (its frame dropped) moved the tail: published, no wake needed.
      if ((Atomics.load(c, TAIL) >>> 0) !== this.tail) Atomics.store(c, TAIL, this.tail);
      return;
    }
    Atomics.store(c, TAIL, this.tail);
    Atomics.add(c, FRAMES, this.batch);
    this.batch = 0;
    Atomics.add(c, BELL, 1);
    if (Atomics.load(c, SLEEPING) !== 0) Atomics.notify(c, BELL);
  }

  // ---- consumer ----

  /** Hands every frame of the batches rung so far to fn (borrowed: valid during the call), in order; returns how
   * many. A malformed record (a broken producer) closes the ring and is counted. */
  read(fn: (frame: Uint8Array, flags: number, gso: number) => void): number {
    const c = this.ctl;
    const tail = Atomics.load(c, TAIL) >>> 0;
    let head = this.head, n = 0;
    while (head !== tail && c[CLOSED] === 0) {
      const off = head & this.mask;
      const len = this.u32[off >>> 2];
      if (len === WRAP) { head = (head + this.capacity - off) >>> 0; continue; }
      const need = RECORD_HEADER + ((len + 7) & ~7);
      if (len > this.capacity >>> 1 || off + need > this.capacity || need > ((tail - head) >>> 0)) {
        Atomics.add(c, BROKEN, 1);
        this.close();
        break;
      }
      const w = this.u32[(off >>> 2) + 1];
      // A view made on the buffer: half the cost of subarray's.
      fn(new Uint8Array(this.sab, HEADER_BYTES + off + RECORD_HEADER, len), w & 0xffff, w >>> 16);
      head = (head + need) >>> 0;
      this.head = head;
      // Room back to a producer on another thread now and then in a long batch, not per frame.
      if ((++n & 255) === 0) Atomics.store(c, HEAD, head);
    }
    this.head = head;
    Atomics.store(c, HEAD, head);
    return n;
  }

  /** Whether there is something to read. */
  get pending(): boolean { return (Atomics.load(this.ctl, TAIL) >>> 0) !== this.head; }

  /** Resolves once something may be there to read, or the ring closed; at once if it already is. */
  wait(): Promise<void> | null {
    const c = this.ctl;
    // Read the bell before looking: a producer that writes after the look also rings after the read, so the
    // wait sees the bell moved and returns at once.
    const bell = Atomics.load(c, BELL);
    Atomics.store(c, SLEEPING, 1);
    if (this.pending || c[CLOSED] !== 0) { Atomics.store(c, SLEEPING, 0); return null; }
    const r = waitAsync(c, BELL, bell);
    if (!r.async) { Atomics.store(c, SLEEPING, 0); return null; }
    return r.value.then(() => { Atomics.store(c, SLEEPING, 0); });
  }

  /** What the consumer's end takes; written by the consumer's side, read by the producer's. */
  setTakes(o: LinkOffload | undefined): void {
    Atomics.store(this.ctl, TAKES_CSUM, o?.csum ? 1 : 0);
    Atomics.store(this.ctl, TAKES_GSO, o?.gso ?? 0);
    Atomics.store(this.ctl, TAKES_IPIP, o?.ipip ? 1 : 0);
  }

  /** What the consumer's end takes, read live: it may change while frames flow (a stack routing a VIPA narrows its gso). */
  takes(): LinkOffload {
    const c = this.ctl;
    return {
      get csum() { return Atomics.load(c, TAKES_CSUM) !== 0; },
      get gso() { return Atomics.load(c, TAKES_GSO); },
      get ipip() { return Atomics.load(c, TAKES_IPIP) !== 0; },
    };
  }

  /** Closes the ring for both ends and wakes a sleeping consumer. */
  close(): void {
    Atomics.store(this.ctl, CLOSED, 1);
    Atomics.add(this.ctl, BELL, 1);
    Atomics.notify(this.ctl, BELL);
  }
}

/** The two rings of a RingLink, as posted to the thread of the other end. */
export interface RingPair { tx: SharedArrayBuffer; rx: SharedArrayBuffer }

export interface RingLinkOptions {
  /** The largest IP packet carried, 576..65535 (default 1500). */
  mtu?: number;
  /** Bytes of each ring, a power of two (default 4 MiB: sixty-odd 64 KiB GSO frames). */
  capacity?: number;
}

/**
 * A Link over two FrameRings, one per direction. `new RingLink()` makes
 * both rings; `link.pair` goes to another thread (postMessage), where
 * `RingLink.from(pair)` is the other end. Frames go through whole, offloads
 * and all, as far as the far end's consumer takes them (its rxOffload);
 * whoever attaches to the near end gets frames from a read loop that drains
 * the ring per wake and yields between batches.
 */
export class RingLink implements Link {
  readonly mtu: number;
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  readonly offload: LinkOffload;
  private readonly tx: FrameRing;
  private readonly rx: FrameRing;
  private takes: LinkOffload | undefined = undefined;
  private open = true;
  private flushQueued = false;
  private reading = false;

  constructor(opts: RingLinkOptions & { pair?: RingPair } = {}) {
    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw argError(RangeError, 'ERR_OUT_OF_RANGE', `RingLink: mtu must be an integer in 576..65535, got ${mtu}`);
    this.mtu = mtu;
    const cap = opts.capacity ?? 4 << 20;
    this.tx = new FrameRing(opts.pair ? opts.pair.rx : cap);
    this.rx = new FrameRing(opts.pair ? opts.pair.tx : cap);
    this.offload = this.tx.takes();
  }

  /** The other end of a link another thread made (its `pair`). */
  static from(pair: RingPair, opts: RingLinkOptions = {}): RingLink { return new RingLink({ ...opts, pair }); }

  /** This end's rings, for the thread of the other end. */
  get pair(): RingPair { return { tx: this.tx.sab, rx: this.rx.sab }; }

  get rxOffload(): LinkOffload | undefined { return this.takes; }
  /** Set by whoever attaches: published to the far end, whose `offload` it is. Starts the read loop. */
  set rxOffload(o: LinkOffload | undefined) {
    this.takes = o;
    this.rx.setTakes(o);
    this.startReading();
  }

  /** Frames carried out and in, and what was dropped on the way out (full ring) or refused coming in. */
  stats(): { out: RingCounters; in: RingCounters; broken: number } {
    return { out: this.tx.counters(), in: this.rx.counters(), broken: this.rx.broken };
  }

  send(frame: Uint8Array, flags = 0, gso = 0): void {
    if (!this.open) return;
    this.tx.write(frame, flags, gso);
    this.queueFlush();
  }

  sendv(parts: Uint8Array[], flags = 0, gso = 0): void {
    if (!this.open) return;
    let len = 0;
    for (const p of parts) len += p.length;
    this.tx.writev(parts, len, flags, gso);
    this.queueFlush();
  }

  /** Records in the ring's own format go in with one copy per run (Link.sendPacked). */
  sendPacked(records: Uint8Array): void {
    if (!this.open) return;
    this.tx.writePacked(records);
    this.queueFlush();
  }

  /** Ends a batch: one wake-up for the far end. Called by a stack after each burst, else after the current task. */
  flush(): void {
    this.flushQueued = false;
    this.tx.ring();
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.tx.close();
    this.rx.close();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => { if (this.flushQueued) this.flush(); });
  }

  private startReading(): void {
    if (this.reading || !this.open) return;
    this.reading = true;
    // After the current task: whoever attaches sets onFrame right after rxOffload.
    queueMicrotask(() => void this.readLoop());
  }

  private readonly deliver = (frame: Uint8Array, flags: number, gso: number): void => { this.onFrame?.(frame, flags, gso); };

  private async readLoop(): Promise<void> {
    const rx = this.rx;
    while (this.open) {
      rx.read(this.deliver);
      if (rx.closed) break;
      const w = rx.wait();
      // Something came while reading: let the stack (and everything else on this thread) run before the next batch.
      if (w === null) await new Promise<void>((r) => setImmediate(r));
      else await w;
    }
    this.reading = false;
    if (this.open) {
      this.open = false;
      this.onDown?.();
    }
  }
}
