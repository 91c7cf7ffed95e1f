// ICMPv4 (RFC 792).
export const ICMP_TYPE: usize = 0;
export const ICMP_CODE: usize = 1;
export const ICMP_CSUM: usize = 2;
export const ICMP_ID: usize = 4;
export const ICMP_SEQ: usize = 6;
export const ICMP_HLEN: u32 = 8;

export const ICMP_ECHO_REPLY: u32 = 0;
export const ICMP_UNREACH: u32 = 3;
export const ICMP_ECHO: u32 = 8;
export const ICMP_TIME_EXCEEDED: u32 = 11;
export const ICMP_PARAM_PROBLEM: u32 = 12;

export const UNREACH_PROTO: u32 = 2;
export const UNREACH_PORT: u32 = 3;
export const UNREACH_NEEDFRAG: u32 = 4;
/** Time exceeded code 1: fragment reassembly time exceeded. */
export const TIMXCEED_REASS: u32 = 1;
