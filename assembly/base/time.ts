// Explicit time: the host passes now (ms) into every call; the core never
// reads a clock. Internally microseconds in an i64. Modules lower `deadline`
// to ask for the next call.
export let now: i64 = 0;
export const NEVER: i64 = i64.MAX_VALUE;
export let deadline: i64 = NEVER;

export function setNow(ms: f64): void {
  let t = <i64>(ms * 1000.0);
  if (t > now) now = t;   // time never runs backwards for the core
}

/** Asks to be called again at t (µs). */
// @ts-ignore: decorator
@inline export function wakeAt(t: i64): void { if (t < deadline) deadline = t; }

export function resetDeadline(): void { deadline = NEVER; }

// @ts-ignore: decorator
@inline export function ms(n: i64): i64 { return n * 1000; }
