// Errors as Node's own look: a system error (the core returns negative Linux
// errno values) has `code` ("ECONNREFUSED"), a negative `errno`, `syscall`,
// and `address`/`port` where node:net and node:dgram set them; misuse of the
// API has a Shoal or Node `ERR_…` code. No name of a core export reaches the user.
import type { EventEmitter } from 'node:events';
import { ERRNO } from './core-abi.ts';

const NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(ERRNO)) NAMES[-v] = `E${k}`;

/** Codes of Shoal's own errors, beside the errno names (`ERRNO_CODES`). */
export const ERROR_CODES = [
  /** The stack was closed: every call on it and its sockets fails with this. */
  'ERR_STACK_CLOSED',
  /** Not a dotted-quad IPv4 address, or not one with a prefix length where that is asked for. */
  'ERR_INVALID_IP_ADDRESS',
  /** Not a unicast MAC address like "02:00:00:00:00:01". */
  'ERR_INVALID_MAC_ADDRESS',
  /** An option, or a combination of options, that cannot work; the message names it. */
  'ERR_INVALID_ARG_VALUE',
  /** A switch port's stack chose a MAC another port of the switch already uses. */
  'ERR_DUPLICATE_MAC',
  /** Another host on the link claims one of the stack's addresses (RFC 5227). */
  'ERR_ADDRESS_CONFLICT',
  /** An AbortSignal ended the operation (as Node's AbortError). */
  'ABORT_ERR',
  /** A call the stand-in of a stack in a worker thread cannot make (sockets): make it in the worker, from its app. */
  'ERR_STACK_IN_WORKER',
] as const;

/** Every errno code a system error may carry: "E" and the Linux name. */
export const ERRNO_CODES = Object.keys(ERRNO).map((k) => `E${k}`) as `E${keyof typeof ERRNO}`[];

export type ShoalErrorCode = (typeof ERROR_CODES)[number] | (typeof ERRNO_CODES)[number];

/** The error class of the stack, its sockets and its options (invalid
 * arguments are TypeError or RangeError with a `code`, as Node's are). */
export class ShoalError extends Error {
  /** "ECONNREFUSED", "ERR_STACK_CLOSED", …: one of ERROR_CODES or ERRNO_CODES. */
  code: ShoalErrorCode | string;
  /** A system error's negative Linux errno (as Node's `err.errno`). */
  errno?: number;
  /** The operation a system error came from: connect, listen, bind, send, …. */
  syscall?: string;
  address?: string;
  port?: number;
  /** ERR_ADDRESS_CONFLICT: the MAC of the other host claiming `address`. */
  mac?: string;

  constructor(message: string, code: ShoalErrorCode | string,
    fields: { errno?: number; syscall?: string; address?: string; port?: number; mac?: string } = {}) {
    super(message);
    this.code = code;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) (this as Record<string, unknown>)[k] = v;
  }
}

export function errnoName(r: number): string { return NAMES[-r] ?? `E${-r}`; }

/** A system error from the core's -errno r: "connect ECONNREFUSED 10.0.0.2:80", as Node words it. */
export function sysError(r: number, syscall: string, address?: string, port?: number, why = ''): ShoalError {
  const code = errnoName(r);
  const where = address === undefined ? '' : port === undefined ? ` ${address}` : ` ${address}:${port}`;
  return new ShoalError(`${syscall} ${code}${where}${why ? ` (${why})` : ''}`, code, { errno: r, syscall, address, port });
}

/** A refused option: the message names it; the code is the core's errno (EEXIST, EINVAL, …) or one of ours. */
export function optionError(option: string, value: unknown, why: string, r?: number): ShoalError {
  const code = r === undefined ? 'ERR_INVALID_ARG_VALUE' : errnoName(r);
  return new ShoalError(`The option "${option}" ${value === undefined ? '' : `(${JSON.stringify(value)}) `}is invalid: ${why}`, code,
    { errno: r });
}

/** An invalid argument, as Node throws one: a TypeError or RangeError with a code. */
export function argError<E extends Error>(cls: new (m: string) => E, code: string, message: string): E & { code: string } {
  return Object.assign(new cls(message), { code });
}

export function stackClosed(op: string): ShoalError {
  return new ShoalError(`${op}: the stack is closed`, 'ERR_STACK_CLOSED');
}


/** Whether someone handles an 'error' from e, so that the stack's closing may
 * end it with one. Readable.pipe's own listener (onerror) does not count:
 * alone, it rethrows, and `sock.pipe(sock)` would bring the process down. */
export function listensForErrors(e: EventEmitter): boolean {
  return e.listeners('error').some((l) => l.name !== 'onerror');
}
