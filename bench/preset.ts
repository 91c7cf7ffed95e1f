// Which limits a benchmark's stacks get: BENCH_PRESET=bulk for Stack.BULK,
// anything else (or nothing) for the defaults. Throughput depends on them,
// so every bench prints the preset and the memory each stack took.
import { Stack, type StackLimits } from '../host/stack.ts';

export const PRESET = process.env.BENCH_PRESET === 'bulk' ? 'Stack.BULK' : 'default';
/** The limits for Stack.create (undefined: the defaults). */
export const LIMITS: StackLimits | undefined = PRESET === 'Stack.BULK' ? Stack.BULK : undefined;

/** "limits: default (4.1 MiB of linear memory per stack)", for the bench's output. */
export function presetNote(s: Stack): string {
  return `limits: ${PRESET} (${(s.stats().memoryBytes / 2 ** 20).toFixed(1)} MiB of linear memory per stack; BENCH_PRESET=bulk for Stack.BULK)`;
}
