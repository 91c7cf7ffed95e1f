/**
 * Fault injection: a Link that wraps any Link and loses, duplicates,
 * reorders, delays and corrupts frames, per direction, from a seed. The
 * kernel here has no netem, so impairments live in this layer (RECIPES.md).
 *
 * Every decision about a frame is drawn from the direction's own generator
 * when the frame enters, so the same seed and the same input sequence give
 * the same outcome, whatever the timing of timers, and traffic in one
 * direction never shifts the decisions of the other.
 */
import type { Link } from './link.ts';
import { FRAME_CSUM_OK } from './link.ts';
import type { Clock, Timer } from '../clock.ts';
import { realClock } from '../clock.ts';
import { Random } from '../random.ts';

/** Impairments of one direction. Probabilities are in [0, 1]; times in ms. */
export interface FaultDirection {
  /** Probability that a frame is dropped. */
  loss?: number;
  /** Probability that a frame is sent twice. */
  duplicate?: number;
  /** Probability that a frame is held back and released right after the next
   * frame of the same direction, or after reorderDelayMs if none comes first. */
  reorder?: number;
  /** Longest a reordered frame waits for a successor (default 10). */
  reorderDelayMs?: number;
  /** Fixed delay added to every frame. */
  delayMs?: number;
  /** Extra delay, uniform in [0, jitterMs). Frames keep their order (the
   * delay line is FIFO), so `reorder` stays the only source of reordering. */
  jitterMs?: number;
  /** Probability that a frame has 1..corruptBits distinct bits flipped. */
  corrupt?: number;
  /** Most bits flipped in a corrupted frame (default 1). */
  corruptBits?: number;
}

export interface FaultOptions {
  tx?: FaultDirection;
  rx?: FaultDirection;
  /** Every decision derives from this; print it in tests so a run can replay. */
  seed: number;
  /** Time source for delays (default realClock). */
  clock?: Clock;
  /** Most frames held (delayed or reordered) per direction; more are dropped
   * and counted in heldDropped (default 4096). */
  maxHeld?: number;
}

export interface FaultStats {
  txFrames: number; txLost: number; txDuplicated: number; txReordered: number; txCorrupted: number; txDelayed: number;
  rxFrames: number; rxLost: number; rxDuplicated: number; rxReordered: number; rxCorrupted: number; rxDelayed: number;
  /** Frames dropped because a direction already held maxHeld frames. */
  heldDropped: number;
}

const PROBS = ['loss', 'duplicate', 'reorder', 'corrupt'] as const;
const TIMES = ['delayMs', 'jitterMs', 'reorderDelayMs'] as const;
const DIR_KEYS = new Set<string>([...PROBS, ...TIMES, 'corruptBits']);
const TOP_KEYS = new Set<string>(['tx', 'rx', 'seed', 'clock', 'maxHeld']);

/** Throws RangeError on anything but sane values, and on unknown keys: a typo
 * such as `los: 0.1` would otherwise silently run without faults. */
function validate(opts: FaultOptions): void {
  const bad = (msg: string): never => { throw new RangeError(`withFaults: ${msg}`); };
  for (const k of Object.keys(opts)) if (!TOP_KEYS.has(k)) bad(`unknown option '${k}'`);
  if (!Number.isSafeInteger(opts.seed)) bad(`seed must be a safe integer, got ${String(opts.seed)}`);
  if (opts.maxHeld !== undefined && !(Number.isSafeInteger(opts.maxHeld) && opts.maxHeld >= 0)) {
    bad(`maxHeld must be an integer >= 0, got ${String(opts.maxHeld)}`);
  }
  validateDirections(opts, bad);
}

function validateDirections(opts: Pick<FaultOptions, 'tx' | 'rx'>, bad: (msg: string) => never): void {
  for (const side of ['tx', 'rx'] as const) {
    const d = opts[side];
    if (d === undefined) continue;
    for (const k of Object.keys(d)) if (!DIR_KEYS.has(k)) bad(`unknown option '${side}.${k}'`);
    for (const k of PROBS) {
      const v: unknown = d[k];
      if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) {
        bad(`${side}.${k} must be a probability in [0, 1], got ${String(v)}`);
      }
    }
    for (const k of TIMES) {
      const v: unknown = d[k];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
        bad(`${side}.${k} must be a finite number of ms >= 0, got ${String(v)}`);
      }
    }
    const bits: unknown = d.corruptBits;
    if (bits !== undefined && !(typeof bits === 'number' && Number.isSafeInteger(bits) && bits >= 1)) {
      bad(`${side}.corruptBits must be an integer >= 1, got ${String(bits)}`);
    }
  }
}

/** A frame the middleware owns (copied), with its flags. */
interface Held { frame: Uint8Array; flags: number | undefined }

/** The copies of one held-back frame, each with the delay it drew. */
type Slot = (Held & { delay: number })[];

interface Counters { frames: number; lost: number; duplicated: number; reordered: number; corrupted: number; delayed: number }

/** One direction: decision stages, the reorder slot and the FIFO delay line. */
class Direction {
  readonly n: Counters = { frames: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0, delayed: 0 };
  private loss = 0;
  private duplicate = 0;
  private reorder = 0;
  private reorderDelayMs = 10;
  private delayMs = 0;
  private jitterMs = 0;
  private corrupt = 0;
  private corruptBits = 1;
  // The reorder slot: the copies of one held-back frame.
  private slot: Slot | null = null;
  private slotTimer: Timer | null = null;
  // The delay line: due times never decrease, so a FIFO (array + head) suffices.
  private line: (Held & { due: number })[] = [];
  private head = 0;
  private lineTimer: Timer | null = null;
  private lastDue = -Infinity;
  private stopped = false;

  constructor(
    d: FaultDirection,
    private readonly rng: Random,
    private readonly clock: Clock,
    private readonly maxHeld: number,
    private readonly owner: { heldDropped: number },
    /** Hands a frame on (into the inner link, or up to onFrame). */
    private readonly out: (frame: Uint8Array, flags: number | undefined) => void,
    /** Called after frames released by a timer, so batching links send them. */
    private readonly afterBatch: () => void,
  ) {
    this.set(d);
  }

  /** The impairments from now on; frames already delayed keep their place (the delay line stays in order). */
  set(d: FaultDirection): void {
    this.loss = d.loss ?? 0;
    this.duplicate = d.duplicate ?? 0;
    this.reorder = d.reorder ?? 0;
    this.reorderDelayMs = d.reorderDelayMs ?? 10;
    this.delayMs = d.delayMs ?? 0;
    this.jitterMs = d.jitterMs ?? 0;
    this.corrupt = d.corrupt ?? 0;
    this.corruptBits = d.corruptBits ?? 1;
  }

  private get held(): number {
    return this.line.length - this.head + (this.slot ? this.slot.length : 0);
  }

  input(frame: Uint8Array, flags: number | undefined): void {
    this.n.frames++;
    // Draw only for enabled stages, so a fault-free direction costs no draws.
    if (this.loss > 0 && this.rng.next() < this.loss) { this.n.lost++; return; }
    const copies = this.duplicate > 0 && this.rng.next() < this.duplicate ? 2 : 1;
    if (copies === 2) this.n.duplicated++;
    // A frame waiting in the slot is overtaken by this one. Take it out before
    // anything is sent: sending may re-enter input() (a peer that answers
    // synchronously), and the re-entrant call must not release it a second time.
    const prev = this.slot;
    if (prev !== null) {
      this.slot = null;
      this.clock.clearTimer(this.slotTimer!);
      this.slotTimer = null;
      this.n.reordered++;
    }
    const hold: Slot | null = prev === null && this.reorder > 0 && this.rng.next() < this.reorder ? [] : null;
    for (let i = 0; i < copies; i++) {
      let f = frame, fl = flags, owned = false;
      if (this.corrupt > 0 && this.rng.next() < this.corrupt && f.length > 0) {
        f = this.flipBits(f);
        fl = (fl ?? 0) & ~FRAME_CSUM_OK;
        owned = true;
        this.n.corrupted++;
      }
      const delay = this.delayMs + (this.jitterMs > 0 ? this.rng.next() * this.jitterMs : 0);
      if (hold === null) this.pass(f, fl, owned, delay);
      else if (this.held + hold.length >= this.maxHeld) this.owner.heldDropped++;
      else hold.push({ frame: owned ? f : f.slice(), flags: fl, delay });
    }
    if (prev !== null) this.release(prev);
    else if (hold !== null && hold.length > 0) {
      this.slot = hold;
      this.slotTimer = this.clock.setTimer(() => {
        const s = this.slot!;
        this.slot = null;
        this.slotTimer = null;
        this.release(s);
        this.afterBatch();
      }, this.reorderDelayMs);
    }
  }

  private release(s: Slot): void {
    for (const h of s) this.pass(h.frame, h.flags, true, h.delay);
  }

  /** Into the delay line, or straight out when there is neither delay nor queue. */
  private pass(frame: Uint8Array, flags: number | undefined, owned: boolean, delay: number): void {
    if (this.stopped) return; // closed from inside an earlier out()
    if (delay === 0 && this.head === this.line.length) { this.out(frame, flags); return; }
    if (this.held >= this.maxHeld) { this.owner.heldDropped++; return; }
    const due = Math.max(this.clock.now() + delay, this.lastDue);
    this.lastDue = due;
    this.line.push({ frame: owned ? frame : frame.slice(), flags, due });
    if (delay > 0) this.n.delayed++;
    if (this.lineTimer === null) this.armLine();
  }

  private armLine(): void {
    const wait = Math.max(0, this.line[this.head].due - this.clock.now());
    this.lineTimer = this.clock.setTimer(() => this.drainLine(), wait);
  }

  private drainLine(): void {
    // lineTimer stays set while draining, so frames sent re-entrantly from
    // out() join the line without arming a second timer.
    const now = this.clock.now();
    while (this.head < this.line.length && this.line[this.head].due <= now) {
      const h = this.line[this.head++];
      this.out(h.frame, h.flags);
      if (this.stopped) return; // closed from inside out()
    }
    this.lineTimer = null;
    if (this.head === this.line.length) { this.line = []; this.head = 0; }
    else {
      // Compact now and then so a long-busy line does not keep delivered frames alive.
      if (this.head > 1024 && this.head * 2 > this.line.length) { this.line = this.line.slice(this.head); this.head = 0; }
      this.armLine();
    }
    this.afterBatch();
  }

  /** A copy of frame with 1..corruptBits distinct bits flipped. */
  private flipBits(frame: Uint8Array): Uint8Array {
    const f = frame.slice();
    const nbits = f.length * 8;
    const count = 1 + this.rng.int(Math.min(this.corruptBits, nbits));
    const chosen = new Set<number>();
    while (chosen.size < count) {
      const bit = this.rng.int(nbits);
      if (chosen.has(bit)) continue;
      chosen.add(bit);
      f[bit >>> 3] ^= 1 << (bit & 7);
    }
    return f;
  }

  /** Cancels timers and forgets every held frame. */
  stop(): void {
    this.stopped = true;
    if (this.slotTimer) this.clock.clearTimer(this.slotTimer);
    if (this.lineTimer) this.clock.clearTimer(this.lineTimer);
    this.slotTimer = this.lineTimer = null;
    this.slot = null;
    this.line = [];
    this.head = 0;
  }
}

// No `offload`, and no rxOffload set on the inner link: only plain frames
// (complete checksums, no GSO) pass through here, so corrupting one is seen
// by the receiver's checksum, and no frame carries a gso size to keep.
export class FaultLink implements Link {
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  onDown: ((err?: Error) => void) | null = null;
  private readonly tx: Direction;
  private readonly rx: Direction;
  private readonly dropped = { heldDropped: 0 };
  private closed = false;

  constructor(private readonly inner: Link, opts: FaultOptions) {
    validate(opts);
    const clock = opts.clock ?? realClock;
    const maxHeld = opts.maxHeld ?? 4096;
    // One generator per direction, both derived from the seed.
    const master = new Random(opts.seed);
    this.tx = new Direction(opts.tx ?? {}, new Random(master.u32()), clock, maxHeld, this.dropped,
      (f, fl) => inner.send(f, fl), () => inner.flush?.());
    this.rx = new Direction(opts.rx ?? {}, new Random(master.u32()), clock, maxHeld, this.dropped,
      (f, fl) => this.onFrame?.(f, fl ?? 0, 0), () => {});
    inner.onFrame = (f, fl) => { if (!this.closed) this.rx.input(f, fl); };
    inner.onDown = (err) => this.onDown?.(err);
  }

  get mtu(): number { return this.inner.mtu; }

  /** Changes the impairments while frames flow (a burst of loss or delay); a direction left out has none. */
  set(opts: Pick<FaultOptions, 'tx' | 'rx'>): void {
    for (const k of Object.keys(opts)) if (k !== 'tx' && k !== 'rx') throw new RangeError(`withFaults: unknown option '${k}'`);
    validateDirections(opts, (msg) => { throw new RangeError(`withFaults: ${msg}`); });
    this.tx.set(opts.tx ?? {});
    this.rx.set(opts.rx ?? {});
  }

  send(frame: Uint8Array, flags?: number): void {
    if (!this.closed) this.tx.input(frame, flags);
  }

  flush(): void { this.inner.flush?.(); }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tx.stop();
    this.rx.stop();
    this.inner.close();
  }

  stats(): FaultStats {
    const t = this.tx.n, r = this.rx.n;
    return {
      txFrames: t.frames, txLost: t.lost, txDuplicated: t.duplicated, txReordered: t.reordered, txCorrupted: t.corrupted, txDelayed: t.delayed,
      rxFrames: r.frames, rxLost: r.lost, rxDuplicated: r.duplicated, rxReordered: r.reordered, rxCorrupted: r.corrupted, rxDelayed: r.delayed,
      heldDropped: this.dropped.heldDropped,
    };
  }
}

export function withFaults(inner: Link, opts: FaultOptions): FaultLink {
  return new FaultLink(inner, opts);
}
