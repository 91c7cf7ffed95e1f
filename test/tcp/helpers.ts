// Shared rigs for TCP tests: two stacks on a switch, on a virtual clock.
import { Stack, type StackLimits } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { VirtualClock } from '../../host/clock.ts';
import type { Link } from '../../host/link/link.ts';

export interface Pair { clock: VirtualClock; sw: VirtualSwitch; a: Stack; b: Stack }

export function pair(opts: { mtu?: number; limits?: StackLimits; wrap?: (l: Link, side: 'a' | 'b') => Link; seed?: number } = {}): Pair {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch({ mtu: opts.mtu ?? 1500 });
  const wrap = opts.wrap ?? ((l: Link) => l);
  const a = Stack.createSync({ name: 'a', link: wrap(sw.connect(), 'a'), address: '10.0.0.1/24', clock, seed: opts.seed ?? 1, limits: opts.limits });
  const b = Stack.createSync({ name: 'b', link: wrap(sw.connect(), 'b'), address: '10.0.0.2/24', clock, seed: (opts.seed ?? 1) + 1, limits: opts.limits });
  return { clock, sw, a, b };
}

/** Runs the virtual clock until cond holds (throws after limit virtual ms). */
export function until(clock: VirtualClock, cond: () => boolean, limit = 600_000): void {
  clock.runUntil(cond, limit);
}

/** Lets microtasks and nextTicks run (stream internals use them). */
export const tick = () => new Promise<void>((r) => setImmediate(r));

/** Runs exactly one timer of the virtual clock; false if none is queued. */
export function stepOne(clock: VirtualClock): boolean {
  if (!clock.pending) return false;
  let n = 0;
  clock.runUntil(() => n++ > 0);
  return true;
}

/** When the next timer of the virtual clock is due (Infinity: none). */
export function nextAt(clock: VirtualClock): number {
  const q = (clock as unknown as { queue: { at: number }[] }).queue;
  return q.length ? q[0].at : Infinity;
}

/** Drives the virtual clock and Node's own queues (streams use nextTick) until
 * cond holds. Timers due now run in batches; time moves on only once Node's
 * queues are empty. Throws after limitMs of virtual time, or when idle. */
export async function settle(clock: VirtualClock, cond: () => boolean, limitMs = 600_000, what = 'condition', batch = 512): Promise<void> {
  const start = clock.now();
  for (;;) {
    if (cond()) return;
    await tick();
    if (cond()) return;
    let ran = 0;
    while (ran < batch && nextAt(clock) <= clock.now()) {
      stepOne(clock);
      ran++;
      if (cond()) return;
    }
    if (ran) continue;
    if (!clock.pending) {
      await tick();
      if (!clock.pending && !cond()) throw new Error(`settle: ${what}: everything idle and not met`);
      continue;
    }
    if (nextAt(clock) - start > limitMs) throw new Error(`settle: ${what} not met within ${limitMs} virtual ms`);
    stepOne(clock);
  }
}
