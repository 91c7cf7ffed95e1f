// UDP header (RFC 768).
export const UDP_SPORT: usize = 0;
export const UDP_DPORT: usize = 2;
export const UDP_LEN: usize = 4;
export const UDP_CSUM: usize = 6;
export const UDP_HLEN: u32 = 8;
