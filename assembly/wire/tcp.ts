// TCP header (RFC 9293 3.1) and the options we speak (MSS, window scale,
// SACK-permitted, SACK, timestamps).
export const TCP_SPORT: usize = 0;
export const TCP_DPORT: usize = 2;
export const TCP_SEQ: usize = 4;
export const TCP_ACK: usize = 8;
export const TCP_OFF: usize = 12;
export const TCP_FLAGS: usize = 13;
export const TCP_WIN: usize = 14;
export const TCP_CSUM: usize = 16;
export const TCP_URP: usize = 18;
export const TCP_HLEN: u32 = 20;

export const TH_FIN: u32 = 0x01;
export const TH_SYN: u32 = 0x02;
export const TH_RST: u32 = 0x04;
export const TH_PSH: u32 = 0x08;
export const TH_ACK: u32 = 0x10;

export const TCPOPT_EOL: u32 = 0;
export const TCPOPT_NOP: u32 = 1;
export const TCPOPT_MSS: u32 = 2;
export const TCPOPT_WSCALE: u32 = 3;
export const TCPOPT_SACK_PERMITTED: u32 = 4;
export const TCPOPT_SACK: u32 = 5;
export const TCPOPT_TIMESTAMP: u32 = 8;

/** Header length in bytes from the data offset field. */
// @ts-ignore: decorator
@inline export function tcpHlen(th: usize): u32 { return (<u32>load<u8>(th, TCP_OFF) >> 4) << 2; }
