// The smallest complete embedding of the Shoal core, in plain JavaScript:
// no code from host/, no dependencies, the same file in Node and in a
// browser. It follows docs/ABI.md step by step — config words, init(), the
// rx free-stack protocol, draining tx frames and events after every call, and
// poll() deadlines on a virtual clock; ping, UDP and TCP (listen, connect,
// accept, the zero-copy send buffer, received-data records) — and works with either artifact:
// build/shoal.wasm (no imports) or build/shoal.wasi.wasm (after the WASI
// runtime has called _initialize).

// SCB word offsets and config words (include/shoal.h, docs/ABI.md §3).
export const S = {
  RX_COUNT: 0, TX_COUNT: 4, EV_COUNT: 8, FREE_COUNT: 12, RX_DESC: 16, RX_CAP: 20, TX_DESC: 24, TX_CAP: 28,
  EV: 32, EV_CAP: 36, FREE: 40, BUF_SIZE: 44, BUF_DATA: 48, IO: 52, IO_CAP: 56, COUNTERS: 60, NCOUNTERS: 64,
  NAMES: 68, NAMES_BYTES: 72, EV_LOST: 76, POOL: 80, NBUFS: 84, MEM_END: 88, ABI_VERSION: 92,
};
export const CFG = {
  POOL_BYTES: 128, MAX_FRAME: 132, UDP_SOCKS: 172, SEED0: 180,
  TCP_SOCKS: 208, TCP_SNDBUF: 212, TCP_RCVBUF: 216, TCP_CHUNKS: 228,
};
export const EV = {
  UDP_READABLE: 1, ECHO_REPLY: 2, UNREACHABLE: 3, UDP_ERROR: 4,
  // TCP (docs/ABI.md §9); a: the socket (for TCP_ACCEPT: the listener), b: errno for TCP_ERROR.
  TCP_CONNECTED: 16, TCP_ACCEPT: 17, TCP_READABLE: 18, TCP_WRITABLE: 19, TCP_FIN: 20, TCP_CLOSED: 21, TCP_ERROR: 22,
};
const EAGAIN = 11;
// Rx and tx descriptors (docs/ABI.md §6): 4 words: ptr, len, ifindex | flags << 16, gso.
export const DESC_BYTES = 16;
const DW = DESC_BYTES >>> 2;
// tcp_info's io words, in order (include/shoal.h shoal_tcp_info_t, docs/ABI.md §9).
export const TCP_INFO = ['state', 'laddr', 'lport', 'raddr', 'rport', 'flags', 'sndUna', 'sndNxt', 'rcvNxt', 'sndWnd',
  'cwnd', 'ssthresh', 'srttUs', 'rtoMs', 'mss', 'sndQueued', 'rcvQueued', 'oooQueued', 'wscale', 'sndMax', 'rcvWnd',
  'acceptQ', 'synQ', 'softError', 'chunks', 'cc'];
export const TCP_STATE = ['FREE', 'CLOSED', 'LISTEN', 'SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1',
  'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT'];

export const ip4 = (s) => s.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
export const ipStr = (a) => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');

function check(r, what) {
  if (r < 0) throw new Error(`${what}: errno ${-r}`);
  return r;
}

/** One stack: one instance of the core, one interface with one address. */
export class MiniStack {
  /** ex: the instance's exports (memory, scb, init, …). */
  constructor(ex, name = 'stack') {
    this.ex = ex;
    this.name = name;
    this.tx = [];        // frames the core sent, copied out, waiting for the wire
    this.events = [];    // { type, a, b, c }, oldest first
    this.eventsLost = 0;
    this.deadline = -1;
  }

  /** The TCP defaults (4096 TCBs, 1024 16-KiB send chunks) take 18 MiB; a
   * small embedding asks for less: tcpSocks TCBs, tcpChunks × 16 KiB of send buffers. */
  setup({ mac, address, prefix = 24, mtu = 1500, seed = 1, poolBytes = 1 << 20, tcpSocks = 64, tcpChunks = 256 }) {
    this.scb = this.ex.scb();
    this.view();
    this.set(CFG.POOL_BYTES, poolBytes);
    this.set(CFG.MAX_FRAME, mtu + 14);
    this.set(CFG.TCP_SOCKS, tcpSocks);
    this.set(CFG.TCP_CHUNKS, tcpChunks);
    for (let i = 0; i < 4; i++) this.set(CFG.SEED0 + 4 * i, Math.imul(seed + i, 0x9e3779b9));
    check(this.ex.init(), 'init');
    this.view();         // init() grew memory once; it never grows again
    this.ifx = check(this.ex.if_add(mac[0], mac[1], mtu), 'if_add');
    check(this.ex.addr_add(this.ifx, ip4(address), prefix), 'addr_add');
    return this;
  }

  view() {
    this.u8 = new Uint8Array(this.ex.memory.buffer);
    this.u32 = new Uint32Array(this.ex.memory.buffer);
  }
  get(off) { return this.u32[(this.scb + off) >>> 2]; }
  set(off, v) { this.u32[(this.scb + off) >>> 2] = v >>> 0; }

  /** A frame from the wire: pop a buffer off the free stack, copy the frame
   * in at BUF_DATA, post an rx descriptor. The core takes it on the next poll. */
  deliver(frame) {
    if (this.get(S.RX_COUNT) >= this.get(S.RX_CAP) || this.get(S.FREE_COUNT) === 0) this.poll(this.now ?? 0);
    const n = this.get(S.RX_COUNT), free = this.get(S.FREE_COUNT);
    if (n >= this.get(S.RX_CAP) || free === 0) return false;
    if (frame.length > this.get(S.BUF_SIZE) - this.get(S.BUF_DATA)) return false;
    const buf = this.u32[(this.get(S.FREE) >>> 2) + free - 1];
    this.set(S.FREE_COUNT, free - 1);
    const at = buf + this.get(S.BUF_DATA);
    this.u8.set(frame, at);
    const d = (this.get(S.RX_DESC) >>> 2) + DW * n;
    this.u32[d] = at;
    this.u32[d + 1] = frame.length;
    this.u32[d + 2] = this.ifx;    // flags 0: the core verifies every checksum
    this.u32[d + 3] = 0;           // gso: reserved on rx
    this.set(S.RX_COUNT, n + 1);
    return true;
  }

  /** Time goes in, the next deadline (ms, -1: none) comes out. */
  poll(now) {
    this.now = now;
    this.deadline = this.ex.poll(now);
    this.drain();
    return this.deadline;
  }

  /** After every call: copy out what the core sent, read its events, hand both rings back.
   * This embedding never calls if_offload, so every tx frame is plain: flags 0,
   * complete checksums, at most the MTU (no FRAME_CSUM_PARTIAL or FRAME_GSO). */
  drain() {
    const n = this.get(S.TX_COUNT), td = this.get(S.TX_DESC) >>> 2;
    for (let i = 0; i < n; i++) {
      const p = this.u32[td + DW * i], len = this.u32[td + DW * i + 1];
      this.tx.push(this.u8.slice(p, p + len));
    }
    this.set(S.TX_COUNT, 0);
    const m = this.get(S.EV_COUNT), ev = this.get(S.EV) >>> 2;
    for (let i = 0; i < m; i++) {
      const e = ev + 4 * i;
      this.events.push({ type: this.u32[e], a: this.u32[e + 1], b: this.u32[e + 2], c: this.u32[e + 3] });
    }
    this.set(S.EV_COUNT, 0);
    this.eventsLost += this.get(S.EV_LOST);
    this.set(S.EV_LOST, 0);
  }

  /** Calls an export, then drains (any call may send frames or raise events). */
  call(name, ...args) {
    const r = this.ex[name](...args);
    this.drain();
    return r;
  }

  ping(dst, id, seq, len = 56) { return check(this.call('ping', ip4(dst), id, seq, len), 'ping'); }

  udpOpen(port = 0, addr = '0.0.0.0') {
    const sd = check(this.call('udp_open'), 'udp_open');
    check(this.call('udp_bind', sd, ip4(addr), port), 'udp_bind');
    return sd;
  }

  /** The payload goes into the io area first; udp_send copies it into a frame. */
  udpSend(sd, dst, port, bytes) {
    if (bytes.length > this.get(S.IO_CAP)) throw new Error('udpSend: larger than the io area');
    this.u8.set(bytes, this.get(S.IO));
    return check(this.call('udp_send', sd, ip4(dst), port, bytes.length), 'udp_send');
  }

  /** Datagram records from the io area: [src, sport, length, nseg, (addr, bytes) × nseg]. */
  udpRecv(sd, max = 64) {
    const n = check(this.call('udp_recv', sd, max), 'udp_recv');
    const out = [];
    let w = this.get(S.IO) >>> 2;
    for (let i = 0; i < n; i++) {
      const [src, port, length, nseg] = this.u32.subarray(w, w + 4);
      const data = new Uint8Array(length);
      let off = 0;
      for (let j = 0; j < nseg; j++) {
        const p = this.u32[w + 4 + 2 * j], len = this.u32[w + 5 + 2 * j];
        data.set(this.u8.subarray(p, p + len), off);
        off += len;
      }
      out.push({ from: ipStr(src), port, data });
      w += 4 + 2 * nseg;
    }
    return out;
  }

  /** Every counter by name (the names live in memory in ASCII, comma separated). */
  counters() {
    const names = new Uint8Array(this.ex.memory.buffer, this.get(S.NAMES), this.get(S.NAMES_BYTES));
    const base = this.get(S.COUNTERS) >>> 2;
    const out = {};
    String.fromCharCode(...names).split(',').forEach((k, i) => { out[k] = this.u32[base + i]; });
    return out;
  }

  // ---- TCP (docs/ABI.md §9). Descriptors are small numbers; errors are -errno.
  get hasTcp() { return 'tcp_connect' in this.ex; }

  /** Tells the core the time before a call that may start timers (connects, sends). */
  time() { if (this.ex.time) this.ex.time(this.now ?? 0); }

  /** A listening socket on addr:port. */
  tcpListen(port, addr = '0.0.0.0', backlog = 16) {
    const sd = check(this.call('tcp_open'), 'tcp_open');
    check(this.call('tcp_listen', sd, ip4(addr), port, backlog), 'tcp_listen');
    return sd;
  }

  /** Active open; completes with EV.TCP_CONNECTED (or EV.TCP_ERROR) for the returned socket. */
  tcpConnect(dst, port, laddr = '0.0.0.0', lport = 0) {
    const sd = check(this.call('tcp_open'), 'tcp_open');
    this.time();
    check(this.call('tcp_connect', sd, ip4(dst), port, ip4(laddr), lport), 'tcp_connect');
    return sd;
  }

  /** A connection from the listener's accept queue, or -1 when it is empty. */
  tcpAccept(lsd) {
    const r = this.call('tcp_accept', lsd);
    return r === -EAGAIN ? -1 : check(r, 'tcp_accept');
  }

  /** Copies as much of bytes as fits into the send buffer: tcp_send_space
   * gives (address, contiguous bytes) in io words 0 and 1, the bytes go
   * there, tcp_send_commit publishes them. Returns how many went in (0: the
   * buffer is full; EV.TCP_WRITABLE follows when it drains). */
  tcpSend(sd, bytes) {
    this.time();
    let off = 0;
    while (off < bytes.length) {
      const room = check(this.call('tcp_send_space', sd), 'tcp_send_space');
      if (room === 0) break;
      const at = this.u32[this.get(S.IO) >>> 2];
      const take = Math.min(room, bytes.length - off);
      this.u8.set(bytes.subarray(off, off + take), at);
      check(this.call('tcp_send_commit', sd, take, 0), 'tcp_send_commit');   // more 0: may go out now
      off += take;
    }
    return off;
  }

  /** Up to max received bytes, copied out of the (address, bytes) records
   * tcp_recv writes into the io area (loans, valid until the next call into
   * the core). An empty array: nothing queued (the stream ended if
   * EV.TCP_FIN came for sd). */
  tcpRecv(sd, max = 1 << 20) {
    const n = check(this.ex.tcp_recv(sd, max), 'tcp_recv');
    const io = this.get(S.IO) >>> 2;
    let total = 0;
    for (let i = 0; i < n; i++) total += this.u32[io + 2 * i + 1];
    const out = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const p = this.u32[io + 2 * i], len = this.u32[io + 2 * i + 1];
      out.set(this.u8.subarray(p, p + len), off);
      off += len;
    }
    this.drain();   // only now: the records are copied out
    return out;
  }

  /** Half-close: a FIN follows the queued data. */
  tcpShutdown(sd) { this.time(); return check(this.call('tcp_shutdown', sd), 'tcp_shutdown'); }
  /** Lets go of the socket; the connection finishes on its own. Every socket
   * is closed (or aborted) once, even after EV.TCP_CLOSED or EV.TCP_ERROR. */
  tcpClose(sd) { this.time(); return check(this.call('tcp_close', sd), 'tcp_close'); }
  /** Sends a RST and lets go of the socket. */
  tcpAbort(sd) { return check(this.call('tcp_abort', sd), 'tcp_abort'); }
  tcpSetopt(sd, opt, val) { return check(this.call('tcp_setopt', sd, opt, val), 'tcp_setopt'); }

  /** tcp_info's words by name (TCP_INFO), plus stateName and dotted local/remote addresses. */
  tcpInfo(sd) {
    check(this.call('tcp_info', sd), 'tcp_info');
    const io = this.get(S.IO) >>> 2, info = {};
    TCP_INFO.forEach((k, i) => { info[k] = this.u32[io + i]; });
    return { ...info, stateName: TCP_STATE[info.state], local: ipStr(info.laddr), localPort: info.lport,
      remote: ipStr(info.raddr), remotePort: info.rport };
  }

  /** TCP table occupancy (tcp_tables, io words 0..5). */
  tcpTables() {
    check(this.call('tcp_tables'), 'tcp_tables');
    const [tcbsUsed, timeWait, chunksUsed, chunks, tcbs, timers] = this.u32.subarray(this.get(S.IO) >>> 2, (this.get(S.IO) >>> 2) + 6);
    return { tcbsUsed, timeWait, chunksUsed, chunks, tcbs, timers };
  }

  /** Removes and returns the events that match (type, and socket in a when given). */
  take(type, sd) {
    const hit = [], rest = [];
    for (const e of this.events) ((e.type === type && (sd === undefined || e.a === sd)) ? hit : rest).push(e);
    this.events = rest;
    return hit;
  }
}

/** Stacks on one wire (a hub: every frame goes to every other stack; each
 * core drops unicast frames for other MACs) and a virtual clock. */
export class Net {
  constructor(...stacks) {
    this.stacks = stacks;
    this.now = 0;
    this.frames = 0;
  }

  /** Moves every waiting frame; returns how many moved. */
  relay() {
    let moved = 0;
    for (const s of this.stacks) {
      const out = s.tx;
      s.tx = [];
      for (const f of out) for (const t of this.stacks) if (t !== s) t.deliver(f);
      moved += out.length;
    }
    this.frames += moved;
    return moved;
  }

  /** Polls and relays until until() holds; when the wire is quiet, jumps the
   * clock to the earliest deadline. Returns whether until() held within maxMs. */
  run(until, maxMs = 10000) {
    const end = this.now + maxMs;
    for (let i = 0; i < 100000; i++) {
      for (const s of this.stacks) s.poll(this.now);
      const moved = this.relay();
      if (until()) return true;
      // Frames until() made the cores send go on the wire before the clock moves.
      if (moved || this.stacks.some((s) => s.tx.length > 0)) continue;
      const next = Math.min(...this.stacks.map((s) => (s.deadline < 0 ? Infinity : s.deadline)));
      if (next > end) return false;
      this.now = Math.max(this.now, next);
    }
    return false;
  }
}
