/**
 * Time for the host. The core never reads a clock: the host passes `now` in
 * and gets the next deadline back. Tests use VirtualClock so that runs are
 * deterministic; everything else uses realClock.
 */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs fn after ms (0: as soon as the current work is done). */
  setTimer(fn: () => void, ms: number): Timer;
  clearTimer(t: Timer): void;
}

export type Timer = { readonly id: number };

class RealClock implements Clock {
  private origin = performance.now();
  private handles = new Map<number, { kind: 'imm' | 'tmo'; h: any }>();
  private seq = 0;
  now(): number { return performance.now() - this.origin; }
  setTimer(fn: () => void, ms: number): Timer {
    const id = ++this.seq;
    const run = () => { this.handles.delete(id); fn(); };
    if (ms <= 0) this.handles.set(id, { kind: 'imm', h: setImmediate(run) });
    else this.handles.set(id, { kind: 'tmo', h: setTimeout(run, ms) });
    return { id };
  }
  clearTimer(t: Timer): void {
    const e = this.handles.get(t.id);
    if (!e) return;
    this.handles.delete(t.id);
    if (e.kind === 'imm') clearImmediate(e.h); else clearTimeout(e.h);
  }
}

export const realClock: Clock = new RealClock();

/** A clock that moves only when told to. Timers due at the same instant run in
 * the order they were set. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private queue: { at: number; id: number; fn: () => void }[] = [];
  now(): number { return this.t; }
  setTimer(fn: () => void, ms: number): Timer {
    const id = ++this.seq;
    const e = { at: this.t + Math.max(0, ms), id, fn };
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1].at > e.at)) i--;
    this.queue.splice(i, 0, e);
    return { id };
  }
  clearTimer(t: Timer): void {
    const i = this.queue.findIndex((e) => e.id === t.id);
    if (i >= 0) this.queue.splice(i, 1);
  }
  /** Runs every timer due within the next ms, advancing time as it goes. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.queue.length && this.queue[0].at <= end) {
      const e = this.queue.shift()!;
      this.t = Math.max(this.t, e.at);
      e.fn();
    }
    this.t = end;
  }
  /** Runs timers until none is left or `limit` ms have passed; returns the time spent. */
  runUntilIdle(limit = 3_600_000): number {
    const start = this.t;
    while (this.queue.length && this.queue[0].at - start <= limit) {
      const e = this.queue.shift()!;
      this.t = Math.max(this.t, e.at);
      e.fn();
    }
    return this.t - start;
  }
  /** Runs timers until cond() holds; throws if it does not within limit ms. */
  runUntil(cond: () => boolean, limit = 600_000): void {
    const start = this.t;
    while (!cond()) {
      const e = this.queue[0];
      // Refused timers stay queued, so a caller that catches this can go on.
      if (!e || e.at - start > limit) throw new Error(`VirtualClock.runUntil: condition not met within ${limit} ms`);
      this.queue.shift();
      this.t = Math.max(this.t, e.at);
      e.fn();
    }
  }
  get pending(): number { return this.queue.length; }
}
