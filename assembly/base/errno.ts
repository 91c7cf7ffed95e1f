// Errors every export returns: negative Linux errno values (docs/ABI.md §10).
export const E_NOENT: i32 = -2;
export const E_BADF: i32 = -9;
export const E_AGAIN: i32 = -11;
export const E_NOMEM: i32 = -12;
export const E_ACCES: i32 = -13;
export const E_EXIST: i32 = -17;
export const E_INVAL: i32 = -22;
export const E_MFILE: i32 = -24;
export const E_NOSPC: i32 = -28;
export const E_PIPE: i32 = -32;
export const E_MSGSIZE: i32 = -90;
export const E_ADDRINUSE: i32 = -98;
export const E_ADDRNOTAVAIL: i32 = -99;
export const E_NETUNREACH: i32 = -101;
export const E_NOBUFS: i32 = -105;
export const E_ISCONN: i32 = -106;
export const E_NOTCONN: i32 = -107;
export const E_ALREADY: i32 = -114;
// Errors TCP reports, positive, in EV_TCP_ERROR (b) and tcp_info's softError.
export const E_CONNABORTED: i32 = -103;
export const E_CONNRESET: i32 = -104;
export const E_TIMEDOUT: i32 = -110;
export const E_CONNREFUSED: i32 = -111;
export const E_HOSTUNREACH: i32 = -113;
