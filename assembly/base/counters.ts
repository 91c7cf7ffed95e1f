// One counter for every frame the core takes in, sends, or drops, by reason.
// The names below are exported to the host in the same order: keep the two
// lists in step (a test checks that their lengths agree).
import { SCB, SCB_COUNTERS, SCB_NCOUNTERS, SCB_NAMES, SCB_NAMES_BYTES } from './scb';

export const C_RX_FRAMES = 0;
export const C_RX_BYTES = 1;
export const C_TX_FRAMES = 2;
export const C_TX_BYTES = 3;
export const C_RX_BAD_DESC = 4;       // host passed a descriptor outside the pool or a buffer the core owns
export const C_RX_RUNT = 5;           // shorter than an Ethernet header
export const C_RX_NOT_FOR_US = 6;     // unicast to another MAC
export const C_RX_ETHERTYPE = 7;      // neither IPv4 nor ARP
export const C_RX_BAD_IFACE = 8;      // no such interface
export const C_ARP_RX = 9;
export const C_ARP_BAD = 10;          // malformed or not Ethernet/IPv4
export const C_ARP_NOT_FOR_US = 11;
export const C_ARP_TX = 12;
export const C_ARP_RETRY = 13;
export const C_ARP_FAILED = 14;       // resolution gave up
export const C_ARP_QUEUE_FULL = 15;   // packet dropped: too many waiting for one neighbour
export const C_ARP_DROPPED = 16;      // queued packets dropped when resolution failed
export const C_NEIGH_EVICTED = 17;
export const C_IP_RX = 18;
export const C_IP_BAD_VERSION = 19;
export const C_IP_BAD_HLEN = 20;
export const C_IP_BAD_LEN = 21;
export const C_IP_BAD_CSUM = 22;
export const C_IP_MARTIAN = 23;
export const C_IP_NOT_LOCAL = 24;
export const C_IP_BAD_PROTO = 25;
export const C_IP_TX = 26;
export const C_IP_NO_ROUTE = 27;
export const C_IP_FRAG_TX = 28;
export const C_IP_FRAG_DF = 29;       // too big for the link with DF set
export const C_IP_FRAG_RX = 30;
export const C_REASM_OK = 31;
export const C_REASM_TIMEOUT = 32;
export const C_REASM_OVERLAP = 33;
export const C_REASM_DUP = 34;
export const C_REASM_NOMEM = 35;      // a cap on datagrams, fragments or buffers was hit
export const C_REASM_BAD = 36;        // inconsistent lengths, beyond 65535
export const C_ICMP_RX = 37;
export const C_ICMP_BAD = 38;
export const C_ICMP_ECHO_RX = 39;
export const C_ICMP_ECHO_REPLY_RX = 40;
export const C_ICMP_UNREACH_RX = 41;
export const C_ICMP_OTHER_RX = 42;
export const C_ICMP_TX = 43;
export const C_ICMP_RATE_LIMITED = 44;
export const C_UDP_RX = 45;
export const C_UDP_BAD_CSUM = 46;
export const C_UDP_BAD_LEN = 47;
export const C_UDP_NO_PORT = 48;
export const C_UDP_RCVBUF = 49;       // receive queue full
export const C_UDP_TX = 50;
export const C_POOL_EMPTY = 51;       // no packet buffer when the core needed one
export const C_TX_ARENA_FULL = 52;
export const C_EV_LOST = 53;
export const C_IP_MCAST = 54;         // multicast we have not joined
export const C_TCP_RX = 55;
export const C_TCP_BAD = 56;
export const C_TCP_RST_TX = 57;
export const C_TCP_TX = 58;                    // segments sent
export const C_TCP_RETRANS = 59;               // segments sent again
export const C_TCP_RTO = 60;                   // retransmission timeouts
export const C_TCP_FAST_RETRANS = 61;          // loss recoveries entered (dup ACKs or SACK)
export const C_TCP_OOO = 62;                   // segments queued out of order
export const C_TCP_OOO_DROP = 63;              // out-of-order segments dropped: queue cap or pool low
export const C_TCP_DUP = 64;                   // unacceptable or duplicate segments
export const C_TCP_PAWS = 65;                  // rejected by PAWS
export const C_TCP_CHALLENGE_ACK = 66;         // RFC 5961 challenge ACKs sent
export const C_TCP_CHALLENGE_LIMITED = 67;     // challenge ACKs suppressed by the rate limit
export const C_TCP_NO_PORT = 68;               // segments for no connection or listener (RST sent)
export const C_TCP_COOKIE_TX = 69;             // SYN cookies sent
export const C_TCP_COOKIE_OK = 70;             // connections made from a valid cookie
export const C_TCP_COOKIE_BAD = 71;            // ACKs to a listener with no valid cookie
export const C_TCP_LISTEN_DROP = 72;           // SYNs dropped: accept queue full
export const C_TCP_TABLE_FULL = 73;            // no free TCB
export const C_TCP_TW_RECLAIM = 74;            // TIME-WAIT blocks reclaimed early
export const C_TCP_ZWP = 75;                   // zero-window probes sent
export const C_TCP_KA = 76;                    // keep-alive probes sent
export const C_TCP_TIMEOUT = 77;               // connections given up (retries exhausted)
export const C_TCP_RST_RX = 78;                // resets accepted
export const C_TCP_BAD_CSUM = 79;
export const C_TCP_ACK_UNSENT = 80;            // ACK for data never sent
export const C_TCP_WND_DROP = 81;              // data beyond the receive window
export const C_TCP_ACCEPT = 82;
export const C_TCP_CONNECT = 83;               // active opens completed
export const C_TCP_DELACK = 84;                // delayed-ACK timer fired
export const C_TCP_RX_BYTES = 85;              // payload bytes received
export const C_TCP_TX_BYTES = 86;              // payload bytes sent (retransmissions included)
export const C_RX_CHAIN_BAD = 87;             // a frame over several buffers (FRAME_MORE) that is not IPv4
export const C_IP_CHAIN_BAD = 88;             // an IPv4 packet over several buffers that is a fragment or not TCP/UDP
export const C_TX_GSO_DROP = 89;              // a GSO frame that could not wait for ARP (too big for a buffer); TCP resends it
export const C_NEIGH_PROBE_FAILED = 90;       // a neighbour past its lifetime that ignored 3 unicast requests (dropped, resolved anew)
export const C_TCP_TLP = 91;                   // tail-loss probes sent (RFC 8985 7)
export const C_LOOPBACK = 92;                  // frames to our own addresses taken in through the loopback (not rxFrames)
export const C_TX_GATHERED = 93;               // frames sent with their payload left in place (scatter-gather, if_offload)
export const C_IP_BAD_OPTION = 94;            // malformed IPv4 options (answered with a Parameter Problem)
export const C_IP_SOURCE_ROUTE = 95;           // a source route with hops left: not for us (RFC 1122 3.3.5)
export const C_ARP_CONFLICT = 96;              // ARP from another host claiming one of our addresses (RFC 5227 2.4; EV_ADDR_CONFLICT)
// The cluster (assembly/cluster/cluster.ts).
export const C_CLU_FORWARDED = 97;             // datagrams the routing stack sent on to a target, IP-in-IP
export const C_CLU_LOCAL = 98;                 // datagrams for a routed VIPA this stack serves itself
export const C_CLU_NO_TARGET = 99;             // SYNs to a routed port with no ready target (RST sent)
export const C_CLU_CRT_FULL = 100;             // SYNs refused: the CRT, or the VIPA's share of it, is full (RST sent)
export const C_CLU_TOO_BIG = 101;              // datagrams too large to forward once encapsulated (DF: ICMP fragmentation needed)
export const C_CLU_FWD_DROP = 102;             // datagrams not forwarded: no route to the target, or over several buffers
export const C_CLU_DECAP = 103;                // IP-in-IP datagrams a target took in for a VIPA it serves
export const C_CLU_IPIP_REFUSED = 104;         // IP-in-IP from a stack that does not route that VIPA, or for a VIPA not served
export const C_CLU_CTL_RX = 105;               // control messages accepted
export const C_CLU_CTL_TX = 106;               // control messages sent
export const C_CLU_CTL_SHORT = 107;            // control messages refused, by reason (in ctlParse's order) ...
export const C_CLU_CTL_NO_ROOM = 114;          // ... to here
export const C_CLU_CTL_STRANGER = 115;         // authentic, but from a stack with no standing for it (not the routing stack, not a target)
export const C_CLU_VIPA_FULL = 116;            // VIPAs not learned: the table is full
export const C_CLU_END_LOST = 117;             // connection ends not reported: the queue was full
export const C_CLU_EXPIRED = 118;              // CRT entries removed by idle expiry
export const C_CLU_ENDED = 119;                // CRT entries removed by a target's end message
export const C_COUNT = 120;

const NAMES = "rxFrames,rxBytes,txFrames,txBytes,rxBadDesc,rxRunt,rxNotForUs,rxEthertype,rxBadIface," +
  "arpRx,arpBad,arpNotForUs,arpTx,arpRetry,arpFailed,arpQueueFull,arpDropped,neighEvicted," +
  "ipRx,ipBadVersion,ipBadHlen,ipBadLen,ipBadChecksum,ipMartian,ipNotLocal,ipBadProto,ipTx,ipNoRoute," +
  "ipFragTx,ipFragDf,ipFragRx,reasmOk,reasmTimeout,reasmOverlap,reasmDup,reasmNoMem,reasmBad," +
  "icmpRx,icmpBad,icmpEchoRx,icmpEchoReplyRx,icmpUnreachRx,icmpOtherRx,icmpTx,icmpRateLimited," +
  "udpRx,udpBadChecksum,udpBadLen,udpNoPort,udpRcvbufFull,udpTx," +
  "poolEmpty,txArenaFull,eventsLost,ipMulticast," +
  "tcpRx,tcpBad,tcpRstTx," +
  "tcpTx,tcpRetrans,tcpRto,tcpFastRetrans,tcpOoo,tcpOooDrop,tcpDup,tcpPaws,tcpChallengeAck,tcpChallengeLimited,tcpNoPort,tcpCookieTx,tcpCookieOk,tcpCookieBad,tcpListenDrop,tcpTableFull,tcpTwReclaim,tcpZeroWindowProbe,tcpKeepalive,tcpTimeout,tcpRstRx,tcpBadChecksum,tcpAckUnsent,tcpWindowDrop,tcpAccept,tcpConnect,tcpDelayedAck,tcpRxBytes,tcpTxBytes,rxChainBad,ipChainBad,txGsoDrop,neighProbeFailed,tcpTlp,loopback,txGathered,ipBadOption,ipSourceRoute,arpConflict," +
  "clusterForwarded,clusterLocal,clusterNoTarget,clusterCrtFull,clusterTooBig,clusterForwardDrop,clusterDecap,clusterIpipRefused," +
  "clusterCtlRx,clusterCtlTx,clusterCtlShort,clusterCtlBadVersion,clusterCtlUnknownType,clusterCtlBadLength,clusterCtlBadMac," +
  "clusterCtlReplay,clusterCtlBadBody,clusterCtlNoRoom,clusterCtlStranger,clusterVipaFull,clusterEndLost,clusterCrtExpired,clusterEnded";

const COUNTERS: usize = memory.data(C_COUNT << 2, 8);

// @ts-ignore: decorator
@inline export function count(c: i32): void {
  let p = COUNTERS + (<usize>c << 2);
  store<u32>(p, load<u32>(p) + 1);
}
// @ts-ignore: decorator
@inline export function countN(c: i32, n: u32): void {
  let p = COUNTERS + (<usize>c << 2);
  store<u32>(p, load<u32>(p) + n);
}

/** Counter c's value. */
export function counterGet(c: i32): u32 { return load<u32>(COUNTERS + (<usize>c << 2)); }

export function countersInit(): void {
  store<u32>(SCB + SCB_COUNTERS, <u32>COUNTERS);
  store<u32>(SCB + SCB_NCOUNTERS, C_COUNT);
  store<u32>(SCB + SCB_NAMES, <u32>changetype<usize>(NAMES));
  store<u32>(SCB + SCB_NAMES_BYTES, <u32>(NAMES.length << 1));
}
