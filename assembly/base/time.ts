// Explicit time: the host passes now (ms) into every call; the core never
// reads a clock. Internally microseconds in an i64. Modules lower `deadline`
// to ask for the next call.
export let now: i64 = 0;
export const NEVER: i64 = i64.MAX_VALUE;
export let deadline: i64 = NEVER;

export function setNow(ms: f64): void {
  // Nearest µs: ms * 1000 in floating point can land just below a whole µs
  // (8193.344 * 1000 = 8193343.999…), and a deadline then never comes due.
  let t = <i64>Math.round(ms * 1000.0);
  if (t > now) now = t;   // time never runs backwards for the core
}

/** Asks to be called again at t (µs). */
// @ts-ignore: decorator
@inline export function wakeAt(t: i64): void { if (t < deadline) deadline = t; }

export function resetDeadline(): void { deadline = NEVER; }

// @ts-ignore: decorator
@inline export function ms(n: i64): i64 { return n * 1000; }
