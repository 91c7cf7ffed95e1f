/**
 * Software offloads: what a NIC, or the kernel behind a TAP, does with
 * virtio-net frames (link.ts), for the places where the next hop cannot take
 * them. `normalize` hands a frame on as it is when the receiver takes it,
 * else cuts a FRAME_GSO frame into segments (as Linux's tcp_gso_segment, and
 * its ipip GSO for a routing stack's IP-in-IP one, RFC 2003) and completes
 * partial checksums (as skb_checksum_help).
 *
 * Pure (counts nothing; callers count what it refuses) and allocation-free:
 * segments are built in a scratch buffer and, like every frame, lent to
 * `emit` for the call only.
 */
import type { LinkOffload } from './link.ts';
import { FRAME_CSUM_PARTIAL, FRAME_GSO } from './link.ts';

export type Emit = (frame: Uint8Array, flags: number, gso: number) => void;

const ETH = 14;
const IPIP = 4, TCP = 6, UDP = 17;
const TCP_FIN = 0x01, TCP_PSH = 0x08, TCP_CWR = 0x80;
const MAX_FRAME = ETH + 65535;

// Segments and completed frames are built here. A normalize re-entered from
// inside `emit` (a stack that answers at once) gets a buffer of its own, so it
// cannot overwrite the frame the outer call has lent out.
const scratch = new Uint8Array(MAX_FRAME);
let busy = false;

/** Offset of the L4 header (14 + IHL*4) of an untagged IPv4 frame whose
 * header and total length are consistent with the frame, else 0. */
export function l4Start(f: Uint8Array, len = f.length): number {
  if (f[12] !== 0x08 || f[13] !== 0x00) return 0;
  const ihl = ipHeader(f, ETH);
  return ihl !== 0 && ETH + ((f[16]! << 8) | f[17]!) <= len ? ETH + ihl : 0;
}

/** The IHL*4 of a consistent IPv4 header at `at` (in f, its total length
 * not below it), else 0. */
function ipHeader(f: Uint8Array, at: number): number {
  if (f.length < at + 20 || f[at]! >> 4 !== 4) return 0;
  const ihl = (f[at]! & 15) * 4;
  return ihl >= 20 && ihl <= ((f[at + 2]! << 8) | f[at + 3]!) ? ihl : 0;
}

/** Offset of the IPv4 header over the transport: 14, or the inner header
 * of an IP-in-IP frame that fills the outer datagram exactly (0 if it does
 * not). f may be the first piece of a frame of len bytes. */
function innerIp(f: Uint8Array, len = f.length): number {
  const l4 = l4Start(f, len);
  if (l4 === 0 || f[23] !== IPIP) return ETH;
  return ipHeader(f, l4) !== 0 && l4 + ((f[l4 + 2]! << 8) | f[l4 + 3]!) === ETH + ((f[16]! << 8) | f[17]!) ? l4 : 0;
}

/** Where the checksum field of a partial-checksum frame sits relative to
 * its L4 header at l4 (l4Start, or inside the IP-in-IP header at ip): 16 for
 * TCP, 6 for UDP; -1 if the frame is no IPv4 TCP/UDP. */
export function csumOffset(f: Uint8Array, l4: number, ip = ETH): number {
  const len = ETH + ((f[16]! << 8) | f[17]!) - l4;
  if (f[ip + 9] === TCP) return len >= 20 ? 16 : -1;
  if (f[ip + 9] === UDP) return len >= 8 ? 6 : -1;
  return -1;
}

/** End of the Ethernet+IPv4+TCP headers (options included) of an IPv4 TCP
 * frame, or 0 if it is not one or is truncated. f may be the first piece
 * of a frame of len bytes, as long as it holds the headers. */
export function tcpHeaderEnd(f: Uint8Array, len = f.length): number {
  const l4 = l4Start(f, len), ip = innerIp(f, len);
  if (l4 === 0 || ip === 0) return 0;
  const th = ip + (f[ip]! & 15) * 4, end = ETH + ((f[16]! << 8) | f[17]!);
  if (f[ip + 9] !== TCP || end < th + 20 || f.length < th + 20) return 0;
  const h = th + (f[th + 12]! >> 4) * 4;
  return h >= th + 20 && h <= end && h <= f.length ? h : 0;
}

/** Whether a frame of len bytes (f: it, or its first piece) fits a link of
 * this mtu: whole, or (FRAME_GSO) once cut into segments of `gso` payload bytes. */
export function fits(f: Uint8Array, flags: number, gso: number, mtu: number, len = f.length): boolean {
  if (len <= mtu + ETH) return true;
  if (!(flags & FRAME_GSO) || len > MAX_FRAME) return false;
  const h = tcpHeaderEnd(f, len);
  return h !== 0 && gso > 0 && h - ETH + gso <= mtu;
}

/** Whether a receiver that takes `take` takes this frame's partial checksum
 * (f: the frame or its first piece): an IP-in-IP one only if it says so. */
export function takesPartial(take: LinkOffload | undefined, f: Uint8Array): take is LinkOffload {
  return take !== undefined && take.csum && (f[23] !== IPIP || take.ipip === true || l4Start(f, Infinity) === 0);
}

/** Joins a frame's pieces and hands it to `use`, in the scratch buffer
 * (or a fresh one if the scratch is in use further up the call stack). */
export function joined(parts: Uint8Array[], len: number, use: (frame: Uint8Array) => void): void {
  const buf = borrow(len);
  try {
    let o = 0;
    for (const p of parts) { buf.set(p, o); o += p.length; }
    use(buf.subarray(0, len));
  } finally {
    giveBack(buf);
  }
}

/**
 * Hands `frame` to `emit` in a form `take` accepts (undefined: plain frames
 * only, at most mtu + 14 bytes with complete checksums). Returns false, having
 * emitted nothing, for a frame it cannot handle: FRAME_GSO on anything but an
 * IPv4 TCP frame (bare or IP-in-IP) with FRAME_CSUM_PARTIAL and a gso in
 * 1..65535, or a partial checksum that is not IPv4 TCP/UDP (bare or IP-in-IP).
 * Never throws (unless emit does).
 */
export function normalize(frame: Uint8Array, flags: number, gso: number, take: LinkOffload | undefined,
                          mtu: number, emit: Emit): boolean {
  const csum = takesPartial(take, frame);
  if (flags & FRAME_GSO) {
    const h = tcpHeaderEnd(frame);
    if (h === 0 || gso !== (gso & 0xffff) || gso === 0 || !(flags & FRAME_CSUM_PARTIAL)) return false;
    const ipLen = (frame[16]! << 8) | frame[17]!;
    if (ipLen > mtu) {
      if (csum && ipLen <= take.gso) emit(frame, flags, gso);
      else {
        const buf = borrow(frame.length);
        try { segment(frame, flags & ~FRAME_GSO, gso, h, csum, buf, emit); } finally { giveBack(buf); }
      }
      return true;
    }
    flags &= ~FRAME_GSO; // one segment that fits as it is
  }
  if (!(flags & FRAME_CSUM_PARTIAL) || csum) {
    emit(frame, flags, 0);
    return true;
  }
  const ip = innerIp(frame);
  const l4 = l4Start(frame) && ip && ip + (frame[ip]! & 15) * 4;
  const at = l4 === 0 ? -1 : csumOffset(frame, l4, ip);
  if (at < 0) return false;
  const buf = borrow(frame.length);
  try {
    buf.set(frame);
    completeChecksum(buf, l4, ETH + ((frame[16]! << 8) | frame[17]!), l4 + at); // not over Ethernet padding
    emit(buf.subarray(0, frame.length), flags & ~FRAME_CSUM_PARTIAL, 0);
  } finally {
    giveBack(buf);
  }
  return true;
}

/** The scratch buffer, or a fresh one if it is in use further up the call stack. */
function borrow(len: number): Uint8Array {
  if (busy) return new Uint8Array(len);
  busy = true;
  return scratch;
}

function giveBack(buf: Uint8Array): void {
  if (buf === scratch) busy = false;
}

/** Cuts frame (headers end at h) into segments of gso payload bytes, built
 * one at a time in buf. flags: the segments' flags, partial or not. Each
 * IPv4 header (the outer one of IP-in-IP too) gets its length, the next id
 * and its checksum; the TCP header its sequence number, flags and checksum. */
function segment(frame: Uint8Array, flags: number, gso: number, h: number, partial: boolean,
                 buf: Uint8Array, emit: Emit): void {
  const ip = innerIp(frame);
  const l4 = (frame[ip]! & 15) * 4 + ip;
  const end = ETH + ((frame[16]! << 8) | frame[17]!);
  const id = (frame[18]! << 8) | frame[19]!, innerId = (frame[ip + 4]! << 8) | frame[ip + 5]!;
  const seq = ((frame[l4 + 4]! << 24) | (frame[l4 + 5]! << 16) | (frame[l4 + 6]! << 8) | frame[l4 + 7]!) >>> 0;
  const tcpFlags = frame[l4 + 13]!;
  // The pseudo-header without its length: addresses and protocol.
  const pseudo = sum(frame, ip + 12, ip + 20, TCP);
  if (!partial) flags &= ~FRAME_CSUM_PARTIAL;
  buf.set(frame.subarray(0, h)); // the headers, options included; per-segment fields are rewritten below
  for (let i = 0, off = h; ; i++, off += gso) {
    const len = Math.min(gso, end - off);
    const last = off + len >= end;
    const segEnd = h + len;
    buf.set(frame.subarray(off, off + len), h);
    ipFix(buf, ETH, segEnd, id + i);
    if (ip !== ETH) ipFix(buf, ip, segEnd, innerId + i);
    const s = (seq + i * gso) >>> 0;
    put16(buf, l4 + 4, s >>> 16);
    put16(buf, l4 + 6, s & 0xffff);
    buf[l4 + 13] = tcpFlags & ~(last ? 0 : TCP_FIN | TCP_PSH) & ~(i === 0 ? 0 : TCP_CWR);
    const ph = pseudo + segEnd - l4;
    if (partial) put16(buf, l4 + 16, fold(ph));
    else {
      put16(buf, l4 + 16, 0);
      put16(buf, l4 + 16, ~fold(sum(buf, l4, segEnd, ph)) & 0xffff);
    }
    emit(buf.subarray(0, segEnd), flags, 0);
    if (last) return;
  }
}

/** Rewrites the IPv4 header at `at` for a datagram ending at `end`, with this id. */
function ipFix(b: Uint8Array, at: number, end: number, id: number): void {
  put16(b, at + 2, end - at);
  put16(b, at + 4, id & 0xffff);
  put16(b, at + 10, 0);
  put16(b, at + 10, ~fold(sum(b, at, at + (b[at]! & 15) * 4, 0)) & 0xffff);
}

/** Completes a partial checksum as the kernel's skb_checksum_help does: the
 * field at `at` holds the pseudo-header sum; b[from, to) is folded into it. */
export function completeChecksum(b: Uint8Array, from: number, to: number, at: number): void {
  // 0 means "no checksum" to UDP; 0xffff is the same value in one's complement.
  put16(b, at, ~fold(sum(b, from, to, 0)) & 0xffff || 0xffff);
}

/** Sum of the big-endian 16-bit words of b[from, to) (a last odd byte padded), plus acc; unfolded. */
function sum(b: Uint8Array, from: number, to: number, acc: number): number {
  let i = from;
  for (; i + 1 < to; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (i < to) acc += b[i]! << 8;
  return acc;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}
