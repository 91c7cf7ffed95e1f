// What a test needs from the machine, found by probing (the tool on PATH, the
// device, the kernel call), never by uid: a test that cannot run here is
// registered as skipped and prints why, in the line test/run.mjs collects.
//
//   maybe(test, lacks('tshark'), 'tshark reads the capture', () => { … });
import type { Callback, Test } from 'uvu';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Prefix of the line a skipped test prints; test/run.mjs reads it. */
export const SKIP_MARK = '[skip] ';

/** Debian packages of the tools tests run (.ci/run installs them). */
const PACKAGE: Record<string, string> = {
  cc: 'gcc', nc: 'netcat-openbsd', ping: 'iputils-ping', nft: 'nftables', ip: 'iproute2', ss: 'iproute2', wasm2c: 'wabt',
};

/** The executable `cmd` resolves to on PATH, as spawn would find it, or null. */
export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* not in this directory */ }
  }
  return null;
}

/** Why these tools cannot be run ("needs curl (Debian package curl)"), or null. */
export function lacks(...tools: string[]): string | null {
  const miss = tools.filter((t) => !which(t));
  if (!miss.length) return null;
  return `needs ${miss.map((t) => `${t} (Debian package ${PACKAGE[t] ?? t})`).join(', ')} on PATH`;
}

/** The first reason given, or null when there is none. */
export function firstReason(...reasons: (string | null | undefined)[]): string | null {
  return reasons.find((r) => r) ?? null;
}

/** Registers fn as test `name`, or, given a reason, as a skipped test that says why. */
export function maybe<T>(t: Test<T>, reason: string | null | undefined, name: string, fn: Callback<T>): void {
  if (!reason) { t(name, fn); return; }
  console.log(`${SKIP_MARK}${name}: ${reason}`);
  t.skip(name, fn);
}
