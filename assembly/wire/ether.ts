// Ethernet II (IEEE 802.3 type field >= 0x0600). No FCS: links hand us frames without it.
export const ETH_DST: usize = 0;
export const ETH_SRC: usize = 6;
export const ETH_TYPE: usize = 12;
export const ETH_HLEN: u32 = 14;
/** The shortest frame on the wire, without FCS: shorter ones are padded by the sender. */
export const ETH_MIN: u32 = 60;
export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_ARP: u32 = 0x0806;

/** True for a group (multicast or broadcast) destination address. */
// @ts-ignore: decorator
@inline export function isGroup(mac: usize): bool { return (load<u8>(mac) & 1) != 0; }
// @ts-ignore: decorator
@inline export function isBroadcast(mac: usize): bool {
  return load<u32>(mac) == 0xffffffff && load<u16>(mac, 4) == 0xffff;
}
// @ts-ignore: decorator
@inline export function macEq(a: usize, b: usize): bool {
  return load<u32>(a) == load<u32>(b) && load<u16>(a, 4) == load<u16>(b, 4);
}
