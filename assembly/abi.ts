// The one surface the host sees (docs/ABI.md): numeric exports over linear
// memory. Frames cross in batches through the rings the SCB describes; time
// comes in with poll() and the next deadline goes back out.
import { SCB, SCB_RX_COUNT, SCB_RX_DESC, SCB_RX_CAP, SCB_IO, SCB_IO_CAP, SCB_ABI_VERSION, ABI_VERSION, DESC_BYTES, FRAME_MORE,
  scbGet, scbSet, cfg,
  CFG_POOL_BYTES, CFG_MAX_FRAME, CFG_RX_RING, CFG_TX_ARENA, CFG_TX_RING, CFG_EVENTS, CFG_IO_BYTES, CFG_NEIGH,
  CFG_ARP_QLEN, CFG_REASM, CFG_REASM_BUFS, CFG_UDP_SOCKS, CFG_UDP_QLEN, CFG_SEED0, CFG_SEED1, CFG_SEED2, CFG_SEED3,
  CFG_ICMP_RATE, CFG_NEIGH_TTL, CFG_REASM_MS, CFG_MEM_LIMIT, CFG_TCP_SOCKS, CFG_TCP_SNDBUF, CFG_TCP_RCVBUF, CFG_LARGE_BYTES,
  CFG_TCP_MSL, CFG_TCP_CHUNKS, CFG_TCP_OOO, CFG_TCP_FIN_TIMEOUT, CFG_TCP_CC, CFG_TCP_MIN_RTO, CFG_TCP_DELACK,
  CFG_TCP_CHALLENGE, CFG_TCP_SYN_RETRIES, CFG_TCP_INIT_CWND, CFG_TCP_INIT_RTO, CFG_CRT_ENTRIES, CFG_DPT_ROWS, CFG_DPT_TARGETS,
  CFG_MAGLEV, CFG_CLUSTER_STACKS } from './base/scb';
import { arenaBegin, arenaReserve, arenaCommit, pktClaim, pktFree, pktFreeChain, txLayout, txInit, txSync, txFreeSent, setInPoll,
  PKT_DATA, PKT_LEN, PKT_NEXT } from './base/mem';
import { count, countersInit, C_RX_BAD_DESC } from './base/counters';
import { eventsLayout, eventsInit } from './base/events';
import { setNow, resetDeadline, deadline, NEVER } from './base/time';
import { randomInit } from './base/random';
import { ETH_HLEN } from './wire/ether';
import { ifAdd, ifOffload, ifUp, addrAdd, addrDel, arpIface, routeAdd, routeDel, setMaxFrame, ADDR_ANNOUNCE } from './iface/iface';
import { neighLayout, neighCount, arpAnnounce, arpProbe } from './iface/neigh';
import { reasmLayout, reasmHeld } from './iface/reasm';
import { ipInit } from './iface/ip';
import { icmpInit, icmpEcho } from './iface/icmp';
import { frameInput, loopbackInput, lowerTimers, deliver } from './net/demux';
import { udpLayout, udpReleaseLoans, udpOpen, udpBind, udpConnect, udpSend, udpRecv, udpClose, udpLocal,
  udpSetBroadcast } from './udp/udp';
import { tcpTimers } from './tcp/timeouts';
import { tcpFlush } from './tcp/output';
import { tcpReleaseLoans } from './tcp/rcvbuf';
import { CC_BBR } from './tcp/tcb';
import { tcpLayout, tcpConfig, tcpOpen, tcpListen, tcpConnect, tcpAccept,
  tcpSendSpace, tcpSendCommit, tcpRecv, tcpShutdown, tcpClose, tcpAbort, tcpSetopt, tcpInfo, tcpTcbInfo,
  tcpTables } from './tcp/tcp';
import { chunksSent } from './tcp/sndbuf';
import { E_ALREADY, E_INVAL, E_NOMEM } from './base/errno';
import { clusterLayout, clusterInit, clusterPrefetch, clusterPoll, clusterJoin, clusterConnect, clusterQuiesce, clusterHeld, vipaRoute, vipaUnroute, clusterView, dptRows,
  crtRows, DptRec, CrtRec } from './cluster/cluster';


let ready = false;
let rxDesc: usize = 0;

/** Address of the shared control block. */
export function scb(): usize { return SCB; }

/** On entry to every export that may transmit or hand out send-buffer space: takes back what the host has sent. */
function sync(): void {
  if (txSync()) chunksSent();
}

/** Lays out all memory from the config words in the SCB. Call once. */
export function init(): i32 {
  if (!arenaBegin()) return E_ALREADY;
  let maxFrame = cfg(CFG_MAX_FRAME, 1514);
  if (maxFrame < 590 || maxFrame > 65535 + ETH_HLEN) return E_INVAL;
  setMaxFrame(maxFrame);
  // As tcp_setopt's OPT_CC; zero, the word left alone, is CUBIC, the default.
  let cc = scbGet(CFG_TCP_CC);
  if (cc > CC_BBR) return E_INVAL;
  let rxRing = cfg(CFG_RX_RING, 1024);
  rxDesc = arenaReserve(<usize>rxRing * DESC_BYTES);
  txLayout(cfg(CFG_TX_ARENA, max<u32>(1 << 20, maxFrame * 8)), cfg(CFG_TX_RING, 2048));
  eventsLayout(cfg(CFG_EVENTS, 1024));
  let ioBytes = max<u32>(cfg(CFG_IO_BYTES, 128 << 10), 65536 + 64);
  let io = arenaReserve(ioBytes);
  neighLayout(cfg(CFG_NEIGH, 256), cfg(CFG_ARP_QLEN, 64), cfg(CFG_NEIGH_TTL, 60_000));
  let poolBytes = cfg(CFG_POOL_BYTES, 8 << 20);
  reasmLayout(cfg(CFG_REASM, 16), cfg(CFG_REASM_BUFS, 0), cfg(CFG_REASM_MS, 30_000));
  udpLayout(cfg(CFG_UDP_SOCKS, 64), cfg(CFG_UDP_QLEN, 256));
  tcpLayout(cfg(CFG_TCP_SOCKS, 4096), cfg(CFG_TCP_CHUNKS, 1024));
  clusterLayout(cfg(CFG_CRT_ENTRIES, 4096), cfg(CFG_DPT_ROWS, 64), cfg(CFG_DPT_TARGETS, 16), cfg(CFG_MAGLEV, 2),
    cfg(CFG_CLUSTER_STACKS, 64));
  if (!arenaCommit(poolBytes, cfg(CFG_LARGE_BYTES, 0), maxFrame, cfg(CFG_MEM_LIMIT, 0))) return E_NOMEM;
  scbSet(SCB_RX_DESC, <u32>rxDesc);
  scbSet(SCB_RX_CAP, rxRing);
  scbSet(SCB_RX_COUNT, 0);
  scbSet(SCB_IO, <u32>io);
  scbSet(SCB_IO_CAP, ioBytes);
  scbSet(SCB_ABI_VERSION, ABI_VERSION);
  txInit();
  eventsInit();
  countersInit();
  randomInit(cfg(CFG_SEED0, 0), cfg(CFG_SEED1, 0), cfg(CFG_SEED2, 0), cfg(CFG_SEED3, 0));
  ipInit();
  clusterInit();
  icmpInit(cfg(CFG_ICMP_RATE, 100));
  tcpConfig(cfg(CFG_TCP_MSL, 30_000), cfg(CFG_TCP_FIN_TIMEOUT, 60_000), cfg(CFG_TCP_MIN_RTO, 200),
    cfg(CFG_TCP_DELACK, 40), cc, cfg(CFG_TCP_SNDBUF, 1 << 20), cfg(CFG_TCP_RCVBUF, 1 << 20),
    cfg(CFG_TCP_OOO, 0), cfg(CFG_TCP_SYN_RETRIES, 6), cfg(CFG_TCP_INIT_CWND, 10), cfg(CFG_TCP_CHALLENGE, 2),
    cfg(CFG_TCP_INIT_RTO, 1000));
  ready = true;
  return 0;
}

/** Adds an interface; returns its index. mac: the top 16 bits in macHi, the rest in macLo. */
export function if_add(macHi: u32, macLo: u32, mtu: u32): i32 { return ready ? ifAdd(macHi, macLo, mtu) : E_INVAL; }
/** What the link under interface ifx takes (docs/ABI.md §4): csum 1 lets TCP
 * leave checksums partial (FRAME_CSUM_PARTIAL); gsoMax > 0 lets it send
 * segments of up to gsoMax bytes of IP packet whole (FRAME_GSO; needs csum). */
export function if_offload(ifx: u32, csum: u32, gsoMax: u32): i32 { return ready ? ifOffload(ifx, csum, gsoMax) : E_INVAL; }
/** The link under ifx went down (up 0; it starts up) or came back (1): routes over it are skipped while it is down. */
export function if_up(ifx: u32, up: u32): i32 { return ready ? ifUp(ifx, up) : E_INVAL; }
export function addr_add(ifx: u32, addr: u32, prefixLen: u32): i32 { return ready ? addrAdd(ifx, addr, prefixLen, 0) : E_INVAL; }
/** addr_add with flags (docs/ABI.md): 1 noarp, local but never answered in ARP
 * nor chosen as a source (a target holding a VIPA); 2 announce, a gratuitous
 * ARP goes out as it is added (the routing stack taking a VIPA). */
export function addr_add_flags(ifx: u32, addr: u32, prefixLen: u32, flags: u32): i32 {
  if (!ready) return E_INVAL;
  let r = addrAdd(ifx, addr, prefixLen, flags);
  if (r == 0 && (flags & ADDR_ANNOUNCE)) { sync(); arpAnnounce(ifx, addr); }
  return r;
}
/** An RFC 5227 probe for addr, one of ifx's: its holder elsewhere answers, an EV_ADDR_CONFLICT. */
export function arp_probe(ifx: u32, addr: u32): i32 {
  if (!ready || arpIface(addr) != <i32>ifx) return E_INVAL;
  sync();
  arpProbe(ifx, addr);
  return 0;
}
export function addr_del(addr: u32): i32 { return ready ? addrDel(addr) : E_INVAL; }
/** gw 0: a directly connected route. */
export function route_add(dst: u32, prefixLen: u32, gw: u32, ifx: u32): i32 { return ready ? routeAdd(dst, prefixLen, gw, ifx) : E_INVAL; }
export function route_del(dst: u32, prefixLen: u32, gw: u32): i32 { return ready ? routeDel(dst, prefixLen, gw) : E_INVAL; }

/** Tells the core the time (ms) before a call other than poll that may start
 * timers (ping, sends, connects), so they start from now, not the last poll. */
export function time(nowMs: f64): void { setNow(nowMs); }

/** Takes the rx ring, runs timers, and returns the next deadline in ms (-1: none). */
export function poll(nowMs: f64): f64 {
  if (!ready) return -1;
  setNow(nowMs);
  resetDeadline();
  setInPoll(true);
  sync();
  tcpReleaseLoans();
  let n = min<u32>(scbGet(SCB_RX_COUNT), scbGet(SCB_RX_CAP));
  // A frame may span several descriptors (FRAME_MORE on all but its last):
  // its buffers are chained behind the first, which holds the headers.
  let head: usize = 0, tail: usize = 0, hp: usize = 0, hlen: u32 = 0, hword: u32 = 0, more: u32 = 0;
  let inFrame = false, bad = false;
  clusterPrefetch(rxDesc, n, <u32>DESC_BYTES);
  for (let i: u32 = 0; i < n; i++) {
    let d = rxDesc + <usize>i * DESC_BYTES;
    let p = <usize>load<u32>(d), len = load<u32>(d, 4), word = load<u32>(d, 8);
    let cont = (word & (FRAME_MORE << 16)) != 0;
    if (!inFrame && !cont) { frameInput(p, len, word, 0, 0); continue; }
    let b = pktClaim(p, len);
    if (!b) { count(C_RX_BAD_DESC); bad = true; }
    else if (!inFrame) { head = b; tail = b; hp = p; hlen = len; hword = word; more = 0; }
    else if (head) {
      store<u32>(b, <u32>p, PKT_DATA);
      store<u32>(b, len, PKT_LEN);
      store<u32>(tail, <u32>b, PKT_NEXT);
      tail = b;
      more += len;
    } else pktFree(b);
    inFrame = true;
    if (!cont) {
      if (bad) { if (head) pktFreeChain(head); }
      else frameInput(hp, hlen, hword, head, more);
      head = 0; inFrame = false; bad = false;
    }
  }
  // A frame still open at the end of the batch was never finished: refuse it.
  if (inFrame) { count(C_RX_BAD_DESC); if (head) pktFreeChain(head); }
  loopbackInput();
  scbSet(SCB_RX_COUNT, 0);
  setInPoll(false);
  // Buffers the host held on loan or had to send are freed only now: a descriptor
  // naming one of them in this batch was refused as a buffer the core holds.
  udpReleaseLoans();
  txFreeSent();
  lowerTimers();
  tcpTimers();
  clusterPoll();
  for (let b = clusterHeld(); b; b = clusterHeld()) deliver(b);
  tcpFlush();
  return deadline == NEVER ? -1 : <f64>deadline / 1000.0;
}

/** Sends an ICMP echo request with len payload bytes. */
export function ping(dst: u32, id: u32, seq: u32, len: u32): i32 {
  if (!ready) return E_INVAL;
  if (len > 65507 || id > 0xffff || seq > 0xffff) return E_INVAL;
  sync();
  return icmpEcho(dst, id, seq, len);
}

export function udp_open(): i32 { return ready ? udpOpen() : E_INVAL; }
export function udp_bind(sd: i32, addr: u32, port: u32): i32 { return udpBind(sd, addr, port); }
export function udp_connect(sd: i32, addr: u32, port: u32): i32 { return udpConnect(sd, addr, port); }
export function udp_broadcast(sd: i32, on: u32): i32 { return udpSetBroadcast(sd, on != 0); }
/** Sends len bytes from the io area; dst 0 and port 0 on a connected socket. */
export function udp_send(sd: i32, dst: u32, port: u32, len: u32): i32 { sync(); return udpSend(sd, dst, port, len); }
/** Writes up to max datagram records into the io area (see udpRecv). */
export function udp_recv(sd: i32, max: u32): i32 { return udpRecv(sd, max); }
export function udp_local(sd: i32): i32 { return udpLocal(sd); }
export function udp_close(sd: i32): i32 { return udpClose(sd); }

/** Neighbour entries in use and buffers held by reassembly, into io words 0 and 1 (for tests and stats). */
export function tables(): i32 {
  if (!ready) return E_INVAL;
  let io = <usize>scbGet(SCB_IO);
  store<u32>(io, neighCount());
  store<u32>(io, reasmHeld(), 4);
  return 0;
}

// TCP. Descriptors are TCB indices; errors are negative errno values.
export function tcp_open(): i32 { return ready ? tcpOpen() : E_INVAL; }
/** Listens on addr:port (addr 0: any; port 0: an ephemeral one, read it with tcp_info). */
export function tcp_listen(sd: i32, addr: u32, port: u32, backlog: u32): i32 { return tcpListen(sd, addr, port, backlog); }
/** Active open to raddr:rport from laddr:lport (0: chosen; RFC 6056). Completion: EV_TCP_CONNECTED or EV_TCP_ERROR. */
export function tcp_connect(sd: i32, raddr: u32, rport: u32, laddr: u32, lport: u32): i32 {
  sync();
  // From a VIPA: a port of the range its routing stack assigned, registered before the SYN leaves.
  let p = clusterConnect(laddr, lport, raddr, rport);
  return p < 0 ? p : tcpConnect(sd, raddr, rport, laddr, p ? <u32>p : lport);
}
/** A connection from the listener's accept queue, or -EAGAIN. */
export function tcp_accept(lsd: i32): i32 { sync(); return tcpAccept(lsd); }
/** Free send-buffer space: io words 0, 1 = (address, contiguous bytes); returns the bytes (0: full). */
export function tcp_send_space(sd: i32): i32 { sync(); return tcpSendSpace(sd); }
/** Publishes n bytes written where tcp_send_space said; more != 0: the host has more to
 * write at once (MSG_MORE), so segments wait for it, or for the next poll, and go out whole. */
export function tcp_send_commit(sd: i32, n: u32, more: u32): i32 { sync(); return tcpSendCommit(sd, n, more != 0); }
/** Up to max bytes of received data as (address, bytes) records in the io area, valid until the next call. */
export function tcp_recv(sd: i32, max: u32): i32 { sync(); return tcpRecv(sd, max); }
/** Half-close: a FIN follows the queued data. */
export function tcp_shutdown(sd: i32): i32 { sync(); return tcpShutdown(sd); }
/** Lets go of the descriptor; the connection finishes on its own (RST if unread data remains). */
export function tcp_close(sd: i32): i32 { sync(); return tcpClose(sd); }
/** Sends a RST and lets go of the descriptor. */
export function tcp_abort(sd: i32): i32 { sync(); return tcpAbort(sd); }
/** Options: 1 nodelay, 2 keep-alive idle ms (0 off), 3 keep-alive interval ms, 4 probes, 5 CC (0 CUBIC, 1 NewReno), 6 sndbuf, 7 rcvbuf. */
export function tcp_setopt(sd: i32, opt: u32, val: u32): i32 { sync(); return tcpSetopt(sd, opt, val); }
/** State, addresses and counters of a socket into io words 0..25. */
export function tcp_info(sd: i32): i32 { return tcpInfo(sd); }
/** tcp_info's record for TCB i, whether or not the host holds it (diagnostics: orphans, SYN-RECEIVED, TIME-WAIT). */
export function tcp_tcb_info(i: u32): i32 { return tcpTcbInfo(i); }
/** TCBs in use, TIME-WAIT, chunks in use, chunks, TCBs, timers into io words 0..5. */
export function tcp_tables(): i32 { return tcpTables(); }

// The cluster (docs/ABI.md, Cluster). Variable data goes through the io area.
/** Joins the cluster as own address me (one of this stack's), control port port, with the key's keyLen bytes
 * in the io area; epoch and seq0 must grow from one start of the stack to the next (the replay guard). Heartbeats
 * every intervalMs (0: 20); a returning routing stack waits holdMs before it takes a VIPA back. */
export function cluster_join(me: u32, port: u32, keyLen: u32, epoch: u32, seq0: u32, intervalMs: u32, holdMs: u32): i32 {
  if (!ready || keyLen > scbGet(SCB_IO_CAP)) return E_INVAL;
  sync();
  return clusterJoin(me, port, <usize>scbGet(SCB_IO), keyLen, epoch, seq0, intervalMs, holdMs);
}
/** Routes the VIPA an announcement body (len bytes in the io area, docs/ABI.md) describes: established
 * entries idle out after idleMs; the VIPA may hold up to crtMax CRT entries. Again for a VIPA: reconfigures it.
 * With wait 1 (a routing stack that restarts), it first listens for a backup that holds the VIPA. */
export function vipa_route(len: u32, idleMs: u32, crtMax: u32, wait: u32): i32 {
  if (!ready || len > scbGet(SCB_IO_CAP)) return E_INVAL;
  sync();
  return vipaRoute(<usize>scbGet(SCB_IO), len, idleMs, crtMax, wait != 0);
}
export function vipa_unroute(vipa: u32): i32 { return ready ? vipaUnroute(vipa) : E_INVAL; }
/** Quiesces (on 1) or resumes (on 0) this stack's listeners on port as a cluster target (port 0: all). */
export function cluster_quiesce(port: u32, on: u32): i32 { return ready ? clusterQuiesce(port, on != 0) : E_INVAL; }
/** The i-th VIPA this stack knows, into the io area: role, body length, the announcement body. Its bytes (0: a
 * free entry), or -1 past the last. */
export function cluster_view(i: u32): i32 { return ready ? clusterView(i, <usize>scbGet(SCB_IO)) : E_INVAL; }
/** The DPT of a VIPA into the io area, one DptRec per target and port; how many. */
export function dpt_rows(vipa: u32): i32 {
  return ready ? dptRows(vipa, <usize>scbGet(SCB_IO), scbGet(SCB_IO_CAP) / offsetof<DptRec>()) : E_INVAL;
}
/** CRT entries of a VIPA (0: every VIPA) from slot start on: io word 0 gets the slot to go on from (the
 * table's size at the end), CrtRec records follow from byte 16; how many. */
export function crt_rows(vipa: u32, start: u32): i32 {
  if (!ready) return E_INVAL;
  let io = <usize>scbGet(SCB_IO);
  return crtRows(vipa, start, io + 16, (scbGet(SCB_IO_CAP) - 16) / offsetof<CrtRec>(), io);
}
