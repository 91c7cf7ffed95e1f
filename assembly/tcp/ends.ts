// Ends of connections on a cluster address (a VIPA this stack routes or
// serves), kept for the cluster layer above TCP, which drains them at each
// poll into end messages, without TCP importing it. Bounded: an end that
// finds the queue full is counted as lost, and the routing stack's idle
// expiry and the targets' reconciliation reports remove its entry instead.
import { count, C_CLU_END_LOST } from '../base/counters';

const CAP: u32 = 256;
/** Records of 12 bytes: local address, remote address, local port | remote port << 16. */
export const ENDS: usize = memory.data(<i32>CAP * 12, 4);
export let endsN: u32 = 0;
/** Set once the cluster layer runs: until then nothing is kept. */
export let vipaEnds = false;

export function endsOn(): void { vipaEnds = true; }
export function endsClear(): void { endsN = 0; }

export function endPush(laddr: u32, lport: u32, raddr: u32, rport: u32): void {
  if (endsN >= CAP) { count(C_CLU_END_LOST); return; }
  let p = ENDS + <usize>endsN * 12;
  store<u32>(p, laddr);
  store<u32>(p, raddr, 4);
  store<u32>(p, lport | (rport << 16), 8);
  endsN++;
}
