// What tcp_info(sd) writes into the io area: one connection's state for the
// host. The host's reader takes its offsets from this class (offsetof), so the
// two cannot drift apart.
@unmanaged
export class TcpInfo {
  state: u32;
  laddr: u32;
  lport: u32;
  raddr: u32;
  rport: u32;
  flags: u32;
  sndUna: u32;
  sndNxt: u32;
  rcvNxt: u32;
  sndWnd: u32;
  cwnd: u32;
  ssthresh: u32;
  srttUs: u32;
  rtoMs: u32;
  mss: u32;
  sendQueued: u32;
  recvQueued: u32;
  oooQueued: u32;
  wscale: u32;      // byte 0: the peer's shift (send), byte 1: ours (receive)
  sndMax: u32;
  rcvWnd: u32;
  acceptQueue: u32;
  synQueue: u32;
  softError: u32;
  chunks: u32;
  congestion: u32;  // CC_CUBIC, CC_NEWRENO or CC_BBR
}
