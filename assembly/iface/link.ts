// Ethernet input: the frames the host took off a link, claimed from the
// pool, filtered by destination MAC and split by EtherType into ARP (handled
// here, below IP) and IPv4 (given back whole for the demultiplexer).
import { ld16 } from '../wire/bytes';
import { ETH_DST, ETH_TYPE, ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_ARP, isBroadcast, isGroup, macEq } from '../wire/ether';
import { pktClaim, pktFree, pktFreeChain, PKT_NEXT } from '../base/mem';
import { count, countN, C_RX_FRAMES, C_RX_BYTES, C_RX_BAD_DESC, C_RX_RUNT, C_RX_NOT_FOR_US, C_RX_ETHERTYPE,
  C_RX_BAD_IFACE, C_RX_CHAIN_BAD } from '../base/counters';
import { ifMac, nIfaces } from './iface';
import { arpInput } from './neigh';
import { ipInput } from './ip';

/** Takes one frame: p, len in the first buffer (claimed already as b when
 * the frame spans several, with more bytes in the buffers chained to it);
 * word is its rx descriptor's ifx | flags << 16. Returns an IPv4 datagram
 * to deliver (see ipInput), or 0. */
export function linkInput(p: usize, len: u32, word: u32, b: usize, more: u32): usize {
  if (!b) {
    b = pktClaim(p, len);
    if (!b) { count(C_RX_BAD_DESC); return 0; }
  }
  count(C_RX_FRAMES);
  countN(C_RX_BYTES, len + more);
  let ifx = word & 0xffff;
  if (ifx >= nIfaces) { count(C_RX_BAD_IFACE); pktFreeChain(b); return 0; }
  if (len < ETH_HLEN) { count(C_RX_RUNT); pktFreeChain(b); return 0; }
  if (isGroup(p + ETH_DST) ? !isBroadcast(p + ETH_DST) : !macEq(p + ETH_DST, ifMac(ifx))) {
    count(C_RX_NOT_FOR_US); pktFreeChain(b); return 0;
  }
  let type = ld16(p + ETH_TYPE);
  if (type == ETHERTYPE_IPV4) return ipInput(b, p + ETH_HLEN, len - ETH_HLEN, ifx, word >> 16, more);
  if (load<u32>(b, PKT_NEXT)) { count(C_RX_CHAIN_BAD); pktFreeChain(b); }
  else if (type == ETHERTYPE_ARP) arpInput(b, p, len, ifx);
  else { count(C_RX_ETHERTYPE); pktFree(b); }
  return 0;
}
