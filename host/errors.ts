// The core returns negative Linux errno values; the host turns them into
// Node-style errors (err.code), as node:net and node:dgram users expect.
const NAMES: Record<number, string> = {
  2: 'ENOENT', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 17: 'EEXIST', 22: 'EINVAL', 24: 'EMFILE',
  28: 'ENOSPC', 32: 'EPIPE', 90: 'EMSGSIZE', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH',
  103: 'ECONNABORTED', 104: 'ECONNRESET', 105: 'ENOBUFS', 107: 'ENOTCONN', 110: 'ETIMEDOUT',
  111: 'ECONNREFUSED', 113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS',
};

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

export const ERR = {
  EINVAL: -22, EHOSTUNREACH: -113, ETIMEDOUT: -110, ECONNREFUSED: -111,
} as const;
