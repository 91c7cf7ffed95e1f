// Send buffers: a shared pool of fixed-size chunks, each socket's buffer a
// chain of them (the host writes straight into it; segments and their
// retransmissions are built from it), and the FIFO of sockets waiting for one.
import { arenaReserve, txGathered } from '../base/mem';
import { Tcb, CHUNK, CHUNK_SHIFT, EV_TCP_WRITABLE, F_CHUNKWAIT, F_WR_WANT, clrF, hasF, idx, notify, setF,
  tcb } from './tcb';

let chunkBase: usize = 0;
let chunkNext: usize = 0;   // u32 per chunk: next chunk (index + 1)
let chunkFree: usize = 0;   // stack of free chunk indices
export let nChunks: u32 = 0;
export let nChunksFree: u32 = 0;
let waitHead: u32 = 0;      // sockets waiting for a chunk (index + 1), FIFO through waitNext
let waitTail: u32 = 0;

export function chunkLayout(chunks: u32): void {
  nChunks = chunks;
  chunkBase = arenaReserve(<usize>chunks << CHUNK_SHIFT);
  chunkNext = arenaReserve(<usize>chunks << 2);
  chunkFree = arenaReserve(<usize>chunks << 2);
}

export function chunkInit(): void {
  for (let i: u32 = 0; i < nChunks; i++) store<u32>(chunkFree + (<usize>i << 2), nChunks - 1 - i);
  nChunksFree = nChunks;
}

// @ts-ignore: decorator
@inline export function chunkAddr(c: u32): usize { return chunkBase + (<usize>(c - 1) << CHUNK_SHIFT); }
// @ts-ignore: decorator
@inline export function chunkNextOf(c: u32): u32 { return load<u32>(chunkNext + (<usize>(c - 1) << 2)); }

/** A free chunk (index + 1), or 0. */
export function chunkAlloc(): u32 {
  if (nChunksFree == 0) return 0;
  nChunksFree--;
  let c = load<u32>(chunkFree + (<usize>nChunksFree << 2)) + 1;
  store<u32>(chunkNext + (<usize>(c - 1) << 2), 0);
  return c;
}

export function chunkSetNext(c: u32, n: u32): void { store<u32>(chunkNext + (<usize>(c - 1) << 2), n); }

// Chunks released while the host still holds descriptors that may point into
// them (scatter-gather transmit) wait here, linked by chunkNext, until it has
// sent them: were one handed out again and written first, a frame would go
// out with the new bytes.
let chunkDeferred: u32 = 0;
export let nChunksDeferred: u32 = 0;

export function chunkRelease(c: u32): void {
  if (txGathered) {
    store<u32>(chunkNext + (<usize>(c - 1) << 2), chunkDeferred);
    chunkDeferred = c;
    nChunksDeferred++;
    return;
  }
  store<u32>(chunkFree + (<usize>nChunksFree << 2), c - 1);
  nChunksFree++;
  if (waitHead) {
    let k = tcb(waitHead - 1);
    waitRemove(k);
    // It may try again.
    if (hasF(k, F_WR_WANT)) { clrF(k, F_WR_WANT); notify(k, EV_TCP_WRITABLE, 0); }
  }
}

/** The host has sent every descriptor: the chunks they may have pointed into are free. */
export function chunksSent(): void {
  nChunksDeferred = 0;
  while (chunkDeferred) {
    let c = chunkDeferred;
    chunkDeferred = load<u32>(chunkNext + (<usize>(c - 1) << 2));
    chunkRelease(c);
  }
}

export function waitAppend(k: Tcb): void {
  if (hasF(k, F_CHUNKWAIT)) return;
  setF(k, F_CHUNKWAIT);
  let me = idx(k) + 1;
  k.waitNext = 0;
  k.waitPrev = waitTail;
  if (waitTail) tcb(waitTail - 1).waitNext = me; else waitHead = me;
  waitTail = me;
}

export function waitRemove(k: Tcb): void {
  if (!hasF(k, F_CHUNKWAIT)) return;
  clrF(k, F_CHUNKWAIT);
  let n = k.waitNext, p = k.waitPrev;
  if (p) tcb(p - 1).waitNext = n; else waitHead = n;
  if (n) tcb(n - 1).waitPrev = p; else waitTail = p;
  k.waitNext = 0;
  k.waitPrev = 0;
}

// ---- a socket's buffer ----
export let sbContig: u32 = 0;

/** Address of the byte at offset off from sbSeq; sbContig: bytes that follow it in the same chunk. */
export function sbAddr(k: Tcb, off: u32): usize {
  let pos = k.sbOff + off;
  let n = pos >> CHUNK_SHIFT;
  let within = pos & (CHUNK - 1);
  let cn = k.sbcN, cc = k.sbcCh;
  if (cc == 0 || n < cn) { cc = k.sbHead; cn = 0; }
  while (cn < n) { cc = chunkNextOf(cc); cn++; }
  k.sbcN = cn;
  k.sbcCh = cc;
  sbContig = CHUNK - within;
  return chunkAddr(cc) + within;
}

/** Drops n acknowledged bytes from the front of the send buffer. */
export function sbDrop(k: Tcb, n: u32): void {
  if (n == 0) return;
  k.sbSeq += n;
  let len = k.sbLen - n;
  k.sbLen = len;
  let off = k.sbOff + n;
  while (off >= CHUNK || (len == 0 && k.sbChunks != 0)) {
    let c = k.sbHead;
    let next = chunkNextOf(c);
    k.sbHead = next;
    if (!next) k.sbTail = 0;
    k.sbChunks--;
    let cc = k.sbcCh;
    if (cc) { if (k.sbcN == 0) k.sbcCh = 0; else k.sbcN--; }
    chunkRelease(c);
    if (off >= CHUNK) off -= CHUNK; else off = 0;
    if (k.sbChunks == 0) { off = 0; break; }
  }
  k.sbOff = off;
}

export function sbFreeAll(k: Tcb): void {
  while (k.sbChunks) {
    let c = k.sbHead;
    k.sbHead = chunkNextOf(c);
    k.sbChunks--;
    chunkRelease(c);
  }
  k.sbTail = 0;
  k.sbLen = 0;
  k.sbOff = 0;
  k.sbcCh = 0;
  waitRemove(k);
}
