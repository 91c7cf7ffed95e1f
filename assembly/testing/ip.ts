// Test-only entry points into IP (build/shoal.testing.wasm, beside the whole
// core): what the cluster layer will call, reached before it exists.
import { pktClaim, pktFree, txSync, PKT_DATA, PKT_LEN } from '../base/mem';
import { Route, ROUTE_SLOT } from '../iface/iface';
import { ipRoute, ipEncap } from '../iface/ip';
import { E_INVAL, E_NETUNREACH } from '../base/errno';

const rt = changetype<Route>(memory.data(ROUTE_SLOT));

/** Claims the free buffer holding the IPv4 datagram the test wrote at
 * [p, p + len) and sends it IP-in-IP to dst, from src (0: the route's), in place. */
export function t_encap(p: usize, len: u32, src: u32, dst: u32): i32 {
  txSync();
  let b = pktClaim(p, len);
  if (!b) return E_INVAL;
  store<u32>(b, <u32>p, PKT_DATA);
  store<u32>(b, len, PKT_LEN);
  if (!ipRoute(dst, rt)) { pktFree(b); return E_NETUNREACH; }
  return ipEncap(rt, b, src ? src : rt.src, dst);
}
