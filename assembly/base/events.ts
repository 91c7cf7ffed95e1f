// Events from core to host: socket readiness, ping replies, unreachable
// neighbours. The host drains the ring after every call. A full ring loses the
// event but counts it; the host then rescans its sockets (SCB_EV_LOST).
import { SCB_EV, SCB_EV_CAP, SCB_EV_COUNT, SCB_EV_LOST, scbGet, scbSet } from './scb';
import { count, C_EV_LOST } from './counters';
import { arenaReserve } from './mem';

export const EV_UDP_READABLE = 1;   // a: socket
export const EV_ECHO_REPLY = 2;     // a: id << 16 | seq, b: source address, c: payload bytes
export const EV_UNREACHABLE = 3;    // a: address that did not resolve or was reported unreachable, b: ICMP type << 8 | code (0: ARP failed), c: id << 16 | seq of the echo, or 0
export const EV_UDP_ERROR = 4;      // a: UDP socket, b: ICMP type << 8 | code, c: the address it was about
export const EV_ADDR_CONFLICT = 5;  // a: our address another host claims, b: ifx << 16 | its MAC's first 2 bytes, c: its last 4 (big-endian)
export const EV_CLUSTER = 6;        // a: VIPA, b: an address (as c says), c: CE_* | CR_* << 8 | a count << 16 (cluster/cluster.ts)
export const EV_TCP = 16;           // TCP events start here (see tcp/)

let ring: usize = 0;
let cap: u32 = 0;

export function eventsLayout(n: u32): void {
  cap = n;
  ring = arenaReserve(<usize>n << 4);
}

export function eventsInit(): void {
  scbSet(SCB_EV, <u32>ring);
  scbSet(SCB_EV_CAP, cap);
  scbSet(SCB_EV_COUNT, 0);
  scbSet(SCB_EV_LOST, 0);
}

export function emit(type: u32, a: u32, b: u32, c: u32): void {
  let n = scbGet(SCB_EV_COUNT);
  if (n >= cap) {
    count(C_EV_LOST);
    scbSet(SCB_EV_LOST, scbGet(SCB_EV_LOST) + 1);
    return;
  }
  let p = ring + (<usize>n << 4);
  store<u32>(p, type);
  store<u32>(p, a, 4);
  store<u32>(p, b, 8);
  store<u32>(p, c, 12);
  scbSet(SCB_EV_COUNT, n + 1);
}
