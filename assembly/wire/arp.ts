// ARP over Ethernet for IPv4 (RFC 826): the only form we accept.
export const ARP_HTYPE: usize = 0;
export const ARP_PTYPE: usize = 2;
export const ARP_HLEN: usize = 4;
export const ARP_PLEN: usize = 5;
export const ARP_OPER: usize = 6;
export const ARP_SHA: usize = 8;
export const ARP_SPA: usize = 14;
export const ARP_THA: usize = 18;
export const ARP_TPA: usize = 24;
export const ARP_LEN: u32 = 28;
export const ARP_REQUEST: u32 = 1;
export const ARP_REPLY: u32 = 2;
