// Scripted tests of the rest of issue 3: keep-alive, ICMP (path MTU, port
// unreachable in SYN-SENT), CUBIC vs NewReno after a loss, TIME-WAIT reclaim
// when the table is full, and sender silly-window avoidance never stalling.
// One stack, a hand-driven peer, the virtual clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer, PEER_IP, STACK_IP } from './peer.ts';
import { SYN, ACK, FIN, RST, type Seg, segStr } from './helpers.ts';
import type { Congestion, Socket } from '../../host/net/net.ts';
import type { StackLimits } from '../../host/stack.ts';
import { TCP_OPT } from '../../host/core-abi.ts';
import { ether, ipv4, icmp, ip4, macBytes as mac, tcpSegment, ETHERTYPE_IPV4, PROTO_ICMP, PROTO_TCP } from '../helpers/frames.ts';

const show = (segs: Seg[]) => segs.map((s) => segStr(s)).join('\n');
const one = (segs: Seg[], what: string): Seg => {
  assert.is(segs.length, 1, `${what}: expected one segment, got:\n${show(segs)}`);
  return segs[0];
};
const PEER_MAC = mac('02:00:00:00:00:99');
const sdOf = (s: Socket) => (s as unknown as { sd: number }).sd;

/** A passive connection on port 80, established by hand (no timestamps unless asked). */
async function established(limits?: StackLimits, opts: { ts?: boolean; mss?: number } = {}) {
  const p = new Peer({ limits });
  const conns: Socket[] = [];
  p.stack.net.createServer({ allowHalfOpen: true }, (s: Socket) => conns.push(s)).listen(80);
  await p.settle();
  const ts = opts.ts === true;
  p.send({ seq: 1000, flags: SYN, mss: opts.mss ?? 1460, ws: 7, sackOk: true, ts: ts ? [100, 0] : undefined });
  const sa = one(p.take(), 'SYN-ACK');
  const c = {
    p, sock: null as unknown as Socket, pseq: 1001, sseq: (sa.seq + 1) >>> 0, iss: sa.seq, tsv: 101,
    send(o: { flags: number; data?: string | Uint8Array; seq?: number; ack?: number; win?: number; sack?: [number, number][] }) {
      p.send({ seq: o.seq ?? c.pseq, ack: o.ack ?? c.sseq, flags: o.flags, win: o.win ?? 65535, sack: o.sack,
        data: typeof o.data === 'string' ? Buffer.from(o.data) : o.data, ts: ts ? [c.tsv++, 0] : undefined });
    },
  };
  c.send({ flags: ACK });
  await p.settle();
  assert.is(conns.length, 1, 'accepted');
  c.sock = conns[0];
  p.take();
  return c;
}

/** An ICMP error from the peer quoting a segment the stack sent (its IP header and the first bytes of TCP). */
function icmpAbout(p: Peer, type: number, code: number, rest: number, s: { sport: number; dport: number; seq: number; ack?: number; flags: number }, quote = 28): void {
  const src = ip4(STACK_IP), dst = ip4(PEER_IP);
  const d = ipv4({ src, dst, proto: PROTO_TCP, id: 7, df: true, payload: tcpSegment({ src, dst, ...s, ack: s.ack ?? 0 }) });
  const stackMac = mac(p.stack.macs[0]);
  const f = ether(stackMac, PEER_MAC, ETHERTYPE_IPV4,
    ipv4({ src: dst, dst: src, proto: PROTO_ICMP, id: 9, payload: icmp({ type, code, rest, data: d.slice(0, quote) }) }));
  p.link.onFrame?.(f, 0);
  p.clock.advance(0);
}

// ---------------------------------------------------------------- keep-alive

test('keep-alive: probes at idle then every interval; a silent peer is dropped with ETIMEDOUT after the count', async () => {
  const c = await established();
  let err: (Error & { code?: string }) | null = null;
  c.sock.on('error', (e) => { err = e; });
  const core = c.p.stack.core, sd = sdOf(c.sock);
  assert.is(core.tcp_setopt(sd, TCP_OPT.KEEPINTVL, 300), 0);
  assert.is(core.tcp_setopt(sd, TCP_OPT.KEEPCNT, 3), 0);
  c.sock.setKeepAlive(true, 2000);
  await c.p.settle();
  const t0 = c.p.clock.now();
  const probes: number[] = [];
  let rst: Seg | null = null;
  for (let t = 0; t < 5000 && !err; t += 10) {
    c.p.advance(10);
    for (const x of c.p.take()) {
      if (x.flags & RST) { rst = x; continue; }
      assert.is(x.flags, ACK, segStr(x));
      assert.is(x.len, 0);
      assert.is(x.seq, (c.sseq - 1) >>> 0, 'a probe carries snd.una - 1');
      probes.push(Math.round(c.p.clock.now() - t0));
    }
    await c.p.settle();
  }
  assert.is(probes.length, 3, `probes at ${probes}`);
  assert.ok(Math.abs(probes[0] - 2000) <= 10, `first probe after the idle time: ${probes}`);
  assert.ok(Math.abs(probes[1] - probes[0] - 300) <= 10 && Math.abs(probes[2] - probes[1] - 300) <= 10, `interval: ${probes}`);
  assert.ok(err, 'dropped');
  assert.is(err!.code, 'ETIMEDOUT');
  assert.ok(rst, 'a RST when giving up');
  assert.is(c.p.stack.stats().tcpKeepalive, 3);
  assert.is(c.p.stack.stats().tcpTimeout, 1);
});

test('keep-alive: a peer that answers keeps the connection', async () => {
  const c = await established();
  let err: Error | null = null;
  c.sock.on('error', (e) => { err = e; });
  const core = c.p.stack.core, sd = sdOf(c.sock);
  core.tcp_setopt(sd, TCP_OPT.KEEPINTVL, 300);
  core.tcp_setopt(sd, TCP_OPT.KEEPCNT, 2);
  c.sock.setKeepAlive(true, 1000);
  await c.p.settle();
  let probes = 0;
  for (let t = 0; t < 20_000; t += 10) {
    c.p.advance(10);
    for (const x of c.p.take()) {
      assert.is(x.flags & RST, 0, 'no RST');
      probes++;
      c.send({ flags: ACK });   // the answer to a probe: an ACK of what we have
    }
  }
  await c.p.settle();
  assert.is(err, null);
  assert.is(c.sock.info()!.state, 'ESTABLISHED');
  // Each answer restarts the idle time: one probe per idle period, never the interval.
  assert.ok(probes >= 15 && probes <= 21, `${probes} probes in 20 s with a 1 s idle time`);
  assert.is(c.p.stack.stats().tcpTimeout, 0);
});

// ---------------------------------------------------------------- ICMP

test('ICMP fragmentation needed lowers the MSS (path MTU) and resends in smaller segments', async () => {
  const c = await established();
  assert.is(c.sock.info()!.mss, 1460);
  c.sock.write(Buffer.alloc(1460 * 4, 3));
  await c.p.settle();
  const segs = c.p.take();
  assert.equal(segs.map((x) => x.len), [1460, 1460, 1460, 1460]);
  // A router says the first one was too big for a 1000-byte link.
  icmpAbout(c.p, 3, 4, 1000, { sport: 80, dport: 40000, seq: segs[0].seq, ack: c.pseq, flags: ACK });
  await c.p.settle();
  assert.is(c.sock.info()!.mss, 1000 - 40, 'MSS from the next-hop MTU');
  const again = c.p.take();
  assert.ok(again.length >= 1, 'resent at once');
  assert.is(again[0].seq, segs[0].seq, 'from snd.una');
  for (const x of again) assert.ok(x.len <= 960, `segment of ${x.len} bytes after PMTU 1000`);
  // An MTU below 576 (RFC 1191's floor) and one for data never sent are ignored.
  icmpAbout(c.p, 3, 4, 300, { sport: 80, dport: 40000, seq: segs[0].seq, flags: ACK });
  icmpAbout(c.p, 3, 4, 600, { sport: 80, dport: 40000, seq: (segs[0].seq + 100000) >>> 0, flags: ACK });
  await c.p.settle();
  assert.is(c.sock.info()!.mss, 960);
});

test('ICMP port unreachable in SYN-SENT refuses the connection (ECONNREFUSED); a wrong sequence number is ignored', async () => {
  const p = new Peer();
  let err: (Error & { code?: string }) | null = null;
  const s = p.stack.net.connect({ port: 81, host: PEER_IP });
  s.on('error', (e) => { err = e; });
  await p.settle();
  const syn = one(p.take(), 'SYN');
  icmpAbout(p, 3, 3, 0, { sport: syn.sport, dport: 81, seq: (syn.seq + 12345) >>> 0, flags: SYN });
  await p.settle();
  assert.is(err, null, 'not for our SYN');
  icmpAbout(p, 3, 3, 0, { sport: syn.sport, dport: 81, seq: syn.seq, flags: SYN });
  await p.settle();
  assert.ok(err, 'refused');
  assert.is((err as (Error & { code?: string }) | null)?.code, 'ECONNREFUSED');
  assert.is(p.stack.stats().tcpSockets, 0);
});

test('ICMP host unreachable is a soft error: the connection times out with EHOSTUNREACH', async () => {
  const p = new Peer({ limits: { tcpSynRetries: 2 } });
  let err: (Error & { code?: string }) | null = null;
  p.stack.net.connect({ port: 81, host: PEER_IP }).on('error', (e) => { err = e; });
  await p.settle();
  const syn = one(p.take(), 'SYN');
  icmpAbout(p, 3, 1, 0, { sport: syn.sport, dport: 81, seq: syn.seq, flags: SYN });
  await p.settle();
  assert.is(err, null, 'not at once');
  for (let t = 0; t < 20_000 && !err; t += 100) { p.advance(100); await p.settle(); }
  assert.is(err!.code, 'EHOSTUNREACH');
});

// ---------------------------------------------------------------- congestion control

/** Grows cwnd over a few ACKed rounds, loses one segment (SACK recovery), then ACKs rounds again; cwnd and ssthresh as they go. */
async function lossRun(cc: Congestion) {
  const c = await established({ tcpCongestion: cc, tcpInitialCwnd: 10 });
  assert.is(c.sock.info()!.congestion, cc);
  c.sock.write(Buffer.alloc(8 << 20, 1));
  await c.p.settle();
  let high = c.sseq;
  const round = async () => {
    const segs = c.p.take();
    for (let i = 0; i < segs.length; i++) {
      const end = (segs[i].seq + segs[i].len) >>> 0;
      if (((end - high) | 0) > 0) high = end;
      if (i % 2 === 1 || i === segs.length - 1) c.send({ flags: ACK, ack: high });
    }
    c.p.advance(20);
    await c.p.settle();
    return segs.length;
  };
  for (let i = 0; i < 4; i++) await round();
  const before = c.sock.info()!;
  // Lose the first segment of the next flight: three duplicate ACKs with SACK.
  const segs = c.p.take();
  assert.ok(segs.length >= 8, `a flight of ${segs.length}`);
  const una = segs[0].seq;
  for (let i = 1; i <= 3; i++) c.send({ flags: ACK, ack: una, sack: [[segs[1].seq, (segs[i].seq + segs[i].len) >>> 0]] });
  await c.p.settle();
  const rx = c.p.take();
  assert.ok(rx.length >= 1 && rx[0].seq === una, `retransmission of the hole:\n${show(rx)}`);
  const last = segs[segs.length - 1];
  high = (last.seq + last.len) >>> 0;
  for (const x of rx) { const e = (x.seq + x.len) >>> 0; if (((e - high) | 0) > 0) high = e; }
  c.send({ flags: ACK, ack: high });
  c.p.advance(20);
  await c.p.settle();
  const after = c.sock.info()!;
  const growth: number[] = [];
  for (let i = 0; i < 12; i++) { await round(); growth.push(c.sock.info()!.cwnd); }
  assert.is(c.p.stack.stats().tcpFastRetrans, 1);
  return { before, after, growth, mss: before.mss };
}

test('CUBIC and NewReno differ after a loss: β 0.7 vs 0.5, and cwnd grows differently', async () => {
  const cu = await lossRun('cubic');
  const nr = await lossRun('newreno');
  const rc = cu.after.ssthresh / cu.before.cwnd, rn = nr.after.ssthresh / nr.before.cwnd;
  assert.is(cu.before.cwnd, nr.before.cwnd, 'the same slow start before the loss');
  assert.ok(rc > 0.6 && rc < 0.8, `CUBIC ssthresh ${cu.after.ssthresh} after cwnd ${cu.before.cwnd} (β ${rc.toFixed(2)})`);
  assert.ok(rn > 0.4 && rn < 0.6, `NewReno ssthresh ${nr.after.ssthresh} after cwnd ${nr.before.cwnd} (β ${rn.toFixed(2)})`);
  assert.not.equal(cu.growth, nr.growth, 'cwnd after the loss');
  assert.ok(cu.growth[cu.growth.length - 1] > nr.growth[nr.growth.length - 1], `CUBIC ${cu.growth} vs NewReno ${nr.growth}`);
});

test('BBR keeps its window through a loss: recovery goes on at the window it had', async () => {
  const bb = await lossRun('bbr');
  assert.ok(bb.after.ssthresh >= bb.before.cwnd, `ssthresh ${bb.after.ssthresh} after cwnd ${bb.before.cwnd}`);
  assert.ok(bb.after.cwnd >= bb.before.cwnd, `cwnd ${bb.after.cwnd} after the loss, ${bb.before.cwnd} before`);
});

/** A bulk sender behind a bottleneck that delivers `perRound` segments each 20 ms round trip, the rest
 * queued in front of it (a FIFO, no loss), for `rounds` rounds; cwnd at the end, in segments. */
async function bottleneck(cc: Congestion, perRound: number, rounds: number): Promise<number> {
  const c = await established({ tcpCongestion: cc, tcpSendBuffer: 64 << 20 });
  c.sock.write(Buffer.alloc(48 << 20, 1));
  await c.p.settle();
  const queue: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const x of c.p.take()) if (x.len) queue.push((x.seq + x.len) >>> 0);
    const delivered = queue.splice(0, perRound);
    for (const end of delivered) c.send({ flags: ACK, ack: end });
    c.p.advance(20);
    await c.p.settle();
  }
  const i = c.sock.info()!;
  return i.cwnd / i.mss;
}

test('BBR behind a bottleneck holds its window near twice the bandwidth-delay product; CUBIC without loss fills the queue', async () => {
  const PER = 10;
  const bbr = await bottleneck('bbr', PER, 40);
  const cubic = await bottleneck('cubic', PER, 40);
  // BDP: PER segments. BBR's window: twice that plus the ACK aggregation (the round's ACKs come together).
  assert.ok(bbr >= PER && bbr <= 4 * PER, `BBR's cwnd ${bbr.toFixed(1)} segments, BDP ${PER}`);
  assert.ok(cubic > 20 * PER, `CUBIC's cwnd ${cubic.toFixed(1)} segments: no loss, no limit`);
});

// ---------------------------------------------------------------- table full: TIME-WAIT reclaim

test('table full of TIME-WAIT: new connections reclaim the oldest (tcpTwReclaim)', async () => {
  const p = new Peer({ limits: { tcpSockets: 4, tcpMslMs: 60_000 } });
  const conns: Socket[] = [];
  // The sockets read (so they see the peer's FIN) and let go of their descriptors once closed.
  p.stack.net.createServer((s: Socket) => { conns.push(s); s.resume(); }).listen(80);
  await p.settle();
  // Three connections, each closed by us first: three TIME-WAIT entries plus the listener fill the table.
  const open = async (sport: number) => {
    p.send({ sport, seq: 1000, flags: SYN, mss: 1460 });
    const sa = p.take().find((x) => x.dport === sport && x.flags === (SYN | ACK));
    assert.ok(sa, `SYN-ACK for ${sport}`);
    p.send({ sport, seq: 1001, ack: sa!.seq + 1, flags: ACK });
    await p.settle();
    return sa!;
  };
  for (const sport of [41001, 41002, 41003]) {
    const sa = await open(sport);
    const s = conns[conns.length - 1];
    s.end();
    await p.settle();
    const fin = p.take().find((x) => x.flags & FIN);
    assert.ok(fin, 'our FIN');
    p.send({ sport, seq: 1001, ack: sa.seq + 2, flags: ACK | FIN });
    await p.settle();
    p.take();
    p.advance(10);
  }
  let st = p.stack.stats();
  assert.is(st.tcpTimeWait, 3);
  assert.is(st.tcpSockets, 4, 'table full');
  // A new passive connection: the oldest TIME-WAIT (41001) goes.
  await open(41004);
  st = p.stack.stats();
  assert.is(conns.length, 4, 'accepted');
  assert.is(st.tcpTwReclaim, 1);
  assert.is(st.tcpTimeWait, 2);
  // 41001's TIME-WAIT is gone: a segment for it now finds no connection (RST); 41002's is still there (ACK).
  p.send({ sport: 41001, seq: 1002, ack: 5, flags: ACK | FIN });
  assert.is(one(p.take(), 'no connection').flags & RST, RST);
  p.send({ sport: 41002, seq: 1001, ack: 5, flags: ACK | FIN });
  const re = one(p.take(), 'TIME-WAIT re-ACK');
  assert.is(re.flags, ACK);
  // An active open reclaims too.
  let connected = false;
  p.stack.net.connect({ port: 9, host: PEER_IP }, () => { connected = true; });
  await p.settle();
  const syn = p.take().find((x) => x.flags === SYN);
  assert.ok(syn, 'SYN sent');
  p.send({ sport: 9, dport: syn!.sport, seq: 7, ack: syn!.seq + 1, flags: SYN | ACK, mss: 1460 });
  await p.settle();
  assert.ok(connected);
  st = p.stack.stats();
  assert.is(st.tcpTwReclaim, 2);
  assert.is(st.tcpTimeWait, 1);
  assert.is(st.tcpTableFull, 0, 'nothing refused');
});

test('table full of TIME-WAIT entries the host still holds: nothing is reclaimed, the new connection is refused', async () => {
  const p = new Peer({ limits: { tcpSockets: 4, tcpMslMs: 60_000 } });
  const conns: Socket[] = [];
  // These sockets never read, so they never see the peer's FIN and keep their descriptors.
  p.stack.net.createServer((s: Socket) => { conns.push(s); s.pause(); }).listen(80);
  await p.settle();
  for (const sport of [42001, 42002, 42003]) {
    p.send({ sport, seq: 1000, flags: SYN, mss: 1460 });
    const sa = p.take().find((x) => x.dport === sport && x.flags === (SYN | ACK))!;
    p.send({ sport, seq: 1001, ack: sa.seq + 1, flags: ACK });
    await p.settle();
    conns[conns.length - 1].end();
    await p.settle();
    p.take();
    p.send({ sport, seq: 1001, ack: sa.seq + 2, flags: ACK | FIN });
    await p.settle();
    p.take();
  }
  let st = p.stack.stats();
  assert.is(st.tcpTimeWait, 3);
  p.send({ sport: 42004, seq: 1000, flags: SYN, mss: 1460 });
  await p.settle();
  st = p.stack.stats();
  assert.is(st.tcpTwReclaim, 0, 'held entries are not reclaimed');
  assert.is(st.tcpTimeWait, 3, 'every held TIME-WAIT entry is still there');
  assert.is(conns.length, 3, 'no fourth connection');
});

// ---------------------------------------------------------------- persist: giving up on a silent peer

test('zero-window persist: a silent peer is dropped (ETIMEDOUT) after the probes run out, an orphan too; an answering one is kept', async () => {
  for (const mode of ['silent', 'answer', 'orphan'] as const) {
    const answer = mode === 'answer';
    const c = await established();
    let err: (Error & { code?: string }) | null = null;
    c.sock.on('error', (e) => { err = e; });
    c.send({ flags: ACK, win: 0 });
    c.sock.write(Buffer.alloc(3000, 5));
    await c.p.settle();
    let probes = 0;
    if (mode === 'orphan') {
      // The peer ends its side, and we close: LAST-ACK with data still to send into the zero window.
      c.send({ flags: ACK | FIN, win: 0 });
      c.pseq++;
      await c.p.settle();
      c.sock.destroySoon();
      await c.p.settle();
      c.p.take();
    }
    for (let t = 0; t < 3600 && !err && !(mode === 'orphan' && c.p.stack.stats().tcpSockets === 1); t++) {
      c.p.advance(1000);
      for (const x of c.p.take()) {
        if (x.flags & RST) continue;
        probes++;
        if (answer) c.send({ flags: ACK, win: 0 });
      }
      if (t % 60 === 0) await c.p.settle();
    }
    await c.p.settle();
    if (mode === 'orphan') {
      assert.is(c.p.stack.stats().tcpSockets, 1, `the orphan is gone after ${probes} probes (only the listener is left)`);
    } else if (answer) {
      assert.is(err, null, 'kept while the peer answers');
      assert.is(c.sock.info()!.state, 'ESTABLISHED');
      assert.ok(probes >= 20, `${probes} probes in an hour`);
    } else {
      assert.ok(err, `dropped (after ${probes} probes)`);
      assert.is(err!.code, 'ETIMEDOUT');
      assert.ok(probes >= 15, `${probes} probes first`);
    }
  }
});

// ---------------------------------------------------------------- sender SWS avoidance

test('a window smaller than a segment with nothing in flight does not stall the sender (SWS override)', async () => {
  // Found by the TCP fuzz test (FUZZ_SEED=1 node test/run.mjs fuzz/tcp): RFC 9293 3.8.6.2.1 wants an
  // override timeout so a short segment the window cuts is sent eventually; with nothing in flight
  // no timer ran, so the connection (and an orphan in LAST-ACK) waited forever.
  const c = await established();
  c.sock.write(Buffer.alloc(4000, 1));
  await c.p.settle();
  let segs = c.p.take();
  assert.equal(segs.map((x) => x.len), [1460, 1460, 1080]);
  // Everything ACKed, but the peer's window shrinks to 512 bytes (its reader is slow).
  c.send({ flags: ACK, ack: (c.sseq + 1460 * 2 + 1080) >>> 0, win: 4 });   // 4 << 7 = 512 bytes
  await c.p.settle();
  c.sock.write(Buffer.alloc(4000, 2));
  await c.p.settle();
  segs = c.p.take();
  for (let t = 0; t < 10_000 && segs.length === 0; t += 50) { c.p.advance(50); segs = c.p.take(); }
  assert.ok(segs.length > 0 && segs[0].len > 0 && segs[0].len <= 512, `sent into the small window: ${show(segs)}`);
});

test.run();
