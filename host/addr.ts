// IPv4 addresses as the core sees them: host-order unsigned 32-bit numbers.
import { argError } from './errors.ts';

export function parseIPv4(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) throw argError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IPv4 address: ${JSON.stringify(s)}`);
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) throw argError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IPv4 address: ${JSON.stringify(s)}`);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function formatIPv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** "10.0.0.1/24" → [address, prefix length]. */
export function parseCidr(s: string): [number, number] {
  const [a, p, ...rest] = String(s).split('/');
  if (rest.length || p === undefined || !/^\d{1,2}$/.test(p) || Number(p) > 32) {
    throw argError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid address with prefix length (like "10.0.0.1/24"): ${JSON.stringify(s)}`);
  }
  return [parseIPv4(a), Number(p)];
}

export function parseMac(s: string): [number, number] {
  const m = /^([0-9a-f]{2})(?::([0-9a-f]{2})){5}$/i.test(s) ? s.split(':').map((x) => parseInt(x, 16)) : null;
  if (!m) throw argError(TypeError, 'ERR_INVALID_MAC_ADDRESS', `Invalid MAC address: ${JSON.stringify(s)}`);
  if (m[0] & 1) throw argError(TypeError, 'ERR_INVALID_MAC_ADDRESS', `MAC address is a group address: ${s}`);
  return [(m[0] << 8) | m[1], ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0];
}

export function formatMac(hi: number, lo: number): string {
  return [hi >> 8, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255]
    .map((x) => x.toString(16).padStart(2, '0')).join(':');
}
