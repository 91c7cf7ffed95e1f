// The core returns negative Linux errno values; the host turns them into
// Node-style errors (err.code), as node:net and node:dgram users expect.
import { ERRNO } from './core-abi.ts';

const NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(ERRNO)) NAMES[-v] = `E${k}`;

export interface ShoalError extends Error { code: string; errno: number; syscall?: string }

export function errnoName(r: number): string { return NAMES[-r] ?? `E${-r}`; }

export function shoalError(r: number, syscall: string, detail = ''): ShoalError {
  const code = errnoName(r);
  const e = new Error(`${syscall} ${code}${detail ? ' ' + detail : ''}`) as ShoalError;
  e.code = code;
  e.errno = r;
  e.syscall = syscall;
  return e;
}
