// TCP settings the host gives at init (tcp_config), read by every part of TCP.
import { ms } from '../base/time';
import { CC_CUBIC } from './tcb';

export let msl2: i64 = 0;           // µs in TIME-WAIT
export let finTimeout: i64 = 0;     // µs an orphaned FIN-WAIT-2 waits
export let minRto: u32 = 200;
export let initRto: u32 = 1000;
export let delack: i64 = 0;
export let defCc: u32 = CC_CUBIC;
export let defSndbuf: u32 = 0;
export let defRcvbuf: u32 = 0;
export let oooMax: u32 = 64;
export let synRetries: u32 = 6;
export let initCwndSegs: u32 = 10;

/** The stack's TCP settings (tcpConfig's, less those other modules keep). */
export function configure(mslMs: u32, finMs: u32, minRtoMs: u32, delackMs: u32, cc: u32, sndbuf: u32, rcvbuf: u32,
    ooo: u32, syn: u32, icw: u32, initRtoMs: u32): void {
  msl2 = ms(<i64>mslMs) * 2;
  finTimeout = ms(<i64>finMs);
  minRto = minRtoMs;
  initRto = max<u32>(initRtoMs, minRtoMs);
  delack = ms(<i64>delackMs);
  defCc = cc;
  defSndbuf = max<u32>(sndbuf, 4096);
  defRcvbuf = max<u32>(rcvbuf, 4096);
  // 0: bounded only by the receive buffer (the window) and the pool.
  oooMax = ooo ? ooo : 0xffffffff;
  synRetries = syn;
  initCwndSegs = icw;
}
