// The options of the segment being processed (RFC 9293 3.1, RFC 7323, RFC 2018),
// parsed once per segment into one small record that input reads.
import { ld16, ld32 } from '../wire/bytes';
import { TCPOPT_EOL, TCPOPT_NOP, TCPOPT_MSS, TCPOPT_WSCALE, TCPOPT_SACK_PERMITTED, TCPOPT_SACK,
  TCPOPT_TIMESTAMP } from '../wire/tcp';

/** SACK blocks kept from one segment (at most 4 fit in the option space). */
const SACK_BLOCKS_MAX: u32 = 4;

@unmanaged
export class TcpOptions {
  mss: u32;       // 0: none
  ws: i32;        // shift, -1: none
  sackOk: bool;
  ts: bool;
  tsVal: u32;
  tsEcr: u32;
  nsack: u32;     // SACK blocks in sacks
  sacks: u64;     // SACK_BLOCKS_MAX (start, end) pairs from here, the last field

  @inline sackStart(i: u32): u32 { return load<u32>(changetype<usize>(this) + offsetof<TcpOptions>('sacks') + (<usize>i << 3)); }
  @inline sackEnd(i: u32): u32 { return load<u32>(changetype<usize>(this) + offsetof<TcpOptions>('sacks') + (<usize>i << 3), 4); }
}

const OPTIONS_BYTES: usize = offsetof<TcpOptions>() + (<usize>SACK_BLOCKS_MAX - 1) * 8;
/** The current segment's options. */
export const opt = changetype<TcpOptions>(memory.data(<i32>OPTIONS_BYTES, 8));

/** Parses the options in [p, end); those that only a SYN may carry count only when syn. */
export function parseOptions(p: usize, end: usize, syn: bool): void {
  opt.mss = 0; opt.ws = -1; opt.sackOk = false; opt.ts = false; opt.nsack = 0;
  let sacks = changetype<usize>(opt) + offsetof<TcpOptions>('sacks');
  while (p < end) {
    let kind = <u32>load<u8>(p);
    if (kind == TCPOPT_EOL) break;
    if (kind == TCPOPT_NOP) { p++; continue; }
    if (p + 1 >= end) break;
    let len = <u32>load<u8>(p, 1);
    if (len < 2 || p + len > end) break;
    if (kind == TCPOPT_MSS && len == 4 && syn) opt.mss = ld16(p + 2);
    else if (kind == TCPOPT_WSCALE && len == 3 && syn) opt.ws = <i32>min<u32>(<u32>load<u8>(p, 2), 14);
    else if (kind == TCPOPT_SACK_PERMITTED && len == 2 && syn) opt.sackOk = true;
    else if (kind == TCPOPT_TIMESTAMP && len == 10) { opt.ts = true; opt.tsVal = ld32(p + 2); opt.tsEcr = ld32(p + 6); }
    else if (kind == TCPOPT_SACK && len >= 10 && ((len - 2) & 7) == 0 && !syn) {
      let n = (len - 2) >> 3;
      for (let i: u32 = 0; i < n && opt.nsack < SACK_BLOCKS_MAX; i++) {
        let at = sacks + (<usize>opt.nsack << 3);
        store<u32>(at, ld32(p + 2 + (<usize>i << 3)));
        store<u32>(at, ld32(p + 6 + (<usize>i << 3)), 4);
        opt.nsack++;
      }
    }
    p += len;
  }
}
