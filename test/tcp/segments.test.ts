// Scripted segment tests, clause by clause: one stack, hand-built segments in,
// the segments it sends checked field by field (RFC 9293, 5961, 7323, 2018).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer, PEER_IP } from './peer.ts';
import { SYN, ACK, FIN, RST, PSH, URG, type Seg, segStr } from './helpers.ts';
import type { Socket } from '../../host/net/net.ts';
import type { StackLimits } from '../../host/stack.ts';

const show = (segs: Seg[]) => segs.map((s) => segStr(s)).join('\n');
const one = (segs: Seg[], what: string): Seg => {
  assert.is(segs.length, 1, `${what}: expected one segment, got:\n${show(segs)}`);
  return segs[0];
};

/** A passive connection on port 80, established by hand. */
async function established(limits?: StackLimits, opts: { ts?: boolean; sack?: boolean; ws?: number | null; isn?: number; seed?: number } = {}) {
  const p = new Peer({ limits, seed: opts.seed });
  const conns: Socket[] = [];
  const srv = p.stack.net.createServer({ allowHalfOpen: true }, (s: Socket) => conns.push(s));
  srv.listen(80);
  await p.settle();
  const ts = opts.ts !== false;
  const isn = opts.isn ?? 1000;
  p.send({ seq: isn, flags: SYN, mss: 1460, ws: opts.ws === null ? undefined : opts.ws ?? 7, sackOk: opts.sack !== false, ts: ts ? [100, 0] : undefined });
  const sa = one(p.take(), 'SYN-ACK');
  const c = {
    p, srv, sock: null as unknown as Socket,
    /** next sequence number the peer sends */ pseq: (isn + 1) >>> 0,
    /** next sequence number the stack sends */ sseq: (sa.seq + 1) >>> 0,
    tsv: 101, tsEcr: sa.ts ? sa.ts[0] : 0,
    data: [] as Buffer[],
    ts,
    /** Sends from the peer with the current numbers. */
    send(o: { flags: number; data?: string | Uint8Array; seq?: number; ack?: number; win?: number; ts?: [number, number]; sack?: [number, number][]; urp?: number }) {
      const data = typeof o.data === 'string' ? Buffer.from(o.data) : o.data;
      p.send({ seq: o.seq ?? c.pseq, ack: o.ack ?? c.sseq, flags: o.flags, win: o.win ?? 65535, data, sack: o.sack, urp: o.urp,
        ts: o.ts ?? (ts ? [c.tsv++, c.tsEcr] : undefined) });
    },
  };
  c.send({ flags: ACK });
  await p.settle();
  assert.is(conns.length, 1, 'accepted');
  c.sock = conns[0];
  assert.is(p.take().length, 0, 'nothing answers the final ACK');
  // One byte in: the first read opens the window past the SYN-ACK's 64 KiB (a window update).
  c.send({ flags: ACK | PSH, data: '!' });
  c.pseq = (c.pseq + 1) >>> 0;
  c.sock.once('data', () => {});
  await p.settle();
  p.advance(50);
  p.take();
  // The core last ran at the delayed ACK (40 ms): bring it to the clock's time, or what the
  // test writes next goes out stamped 10 ms ago, and a tail-loss probe 2 ms after that is due at once.
  p.stack.syncTime();
  c.sock.on('data', (d: Buffer) => c.data.push(d));
  return c;
}

test('passive open: SYN-ACK carries MSS, SACK-permitted, timestamps, window scale', async () => {
  const p = new Peer({ limits: { tcpReceiveBuffer: 1 << 20 } });
  p.stack.net.createServer(() => {}).listen(80);
  await p.settle();
  p.send({ seq: 1000, flags: SYN, mss: 1400, ws: 7, sackOk: true, ts: [100, 0] });
  const sa = one(p.take(), 'SYN-ACK');
  assert.is(sa.flags, SYN | ACK);
  assert.is(sa.ack, 1001);
  assert.is(sa.mss, 1460, 'our MSS from the interface MTU');
  assert.ok(sa.sackOk);
  assert.equal(sa.ts![1], 100);
  assert.is(sa.ws, 5, 'window scale for a 1 MiB receive buffer');
  // Without the peer's options, none of ours.
  p.send({ seq: 5000, sport: 40001, flags: SYN });
  const sb = one(p.take(), 'plain SYN-ACK');
  assert.is(sb.ws, undefined);
  assert.is(sb.sackOk, undefined);
  assert.is(sb.ts, undefined);
  assert.is(sb.mss, 1460);
});

test('passive open: for each of the 16 sets of options a SYN offers, the SYN-ACK answers exactly those, parsed as Linux parses', async () => {
  const p = new Peer({ limits: { tcpReceiveBuffer: 1 << 20 } });
  const conns: Socket[] = [];
  p.stack.net.createServer((s: Socket) => conns.push(s)).listen(80);
  await p.settle();
  for (let set = 0; set < 16; set++) {
    const mss = (set & 1) !== 0, sack = (set & 2) !== 0, ts = (set & 4) !== 0, ws = (set & 8) !== 0;
    const what = `offered${mss ? ' mss' : ''}${sack ? ' sackOK' : ''}${ts ? ' ts' : ''}${ws ? ' wscale' : ''}`;
    const sport = 41000 + set;
    p.send({ sport, seq: 1000, flags: SYN, mss: mss ? 1400 : undefined, sackOk: sack, ts: ts ? [100, 0] : undefined, ws: ws ? 3 : undefined });
    const sa = one(p.take(), what);
    // decode() stops at the end-of-list option, as Linux's tcp_parse_options does.
    assert.is(sa.mss, 1460, `${what}: MSS`);
    assert.is(sa.sackOk, sack ? true : undefined, `${what}: SACK-permitted`);
    assert.equal(sa.ts, ts ? [sa.ts![0], 100] : undefined, `${what}: timestamps`);
    assert.is(sa.ws, ws ? 5 : undefined, `${what}: window scale (for a 1 MiB receive buffer)`);
    assert.is(sa.hlen, 20 + 4 + (ts ? 12 : sack ? 4 : 0) + (ws ? 4 : 0), `${what}: Linux's layout, no padding to spare`);
    p.send({ sport, seq: 1001, ack: sa.seq + 1, flags: ACK, ts: ts ? [101, sa.ts![0]] : undefined });
    await p.settle();
    const i = conns[set].info()!;
    assert.is(i.sndWscale, ws ? 3 : 0, `${what}: the peer's shift applies`);
    assert.is(i.rcvWscale, ws ? 5 : 0, `${what}: ours applies`);
    assert.is(i.mss, (mss ? 1400 : 536) - (ts ? 12 : 0), `${what}: MSS agreed`);
  }
});

test('a SYN with FIN or RST is dropped, counted, and makes nothing: at a listener and in SYN-SENT', async () => {
  const p = new Peer();
  p.stack.net.createServer(() => {}).listen(80);
  await p.settle();
  const bad0 = p.stack.stats().tcpBad;
  p.send({ seq: 1000, flags: SYN | FIN, mss: 1460 });
  p.send({ sport: 40001, seq: 1000, flags: SYN | RST, mss: 1460 });
  p.send({ sport: 40002, seq: 1000, flags: SYN | FIN | RST | PSH, mss: 1460 });
  await p.settle();
  assert.is(p.take().length, 0, 'no SYN-ACK, no RST');
  assert.is(p.stack.stats().tcpSockets, 1, 'only the listener');
  assert.is(p.stack.stats().tcpBad, bad0 + 3);
  let connected = false, err: Error | null = null;
  const s = p.stack.net.connect({ port: 80, host: PEER_IP }, () => { connected = true; });
  s.on('error', (e) => { err = e; });
  await p.settle();
  const syn = one(p.take(), 'SYN');
  const answer = { sport: 80, dport: syn.sport, seq: 7000, ack: syn.seq + 1, mss: 1460 };
  p.send({ ...answer, flags: SYN | ACK | FIN });
  p.send({ ...answer, flags: SYN | ACK | RST });
  p.send({ ...answer, flags: SYN | RST });
  await p.settle();
  assert.is(p.take().length, 0, 'nothing answers them');
  assert.is(s.info()!.state, 'SYN_SENT');
  assert.is(p.stack.stats().tcpBad, bad0 + 6);
  p.send({ ...answer, flags: SYN | ACK });
  await p.settle();
  assert.is(one(p.take(), 'ACK').ack, 7001);
  assert.ok(connected);
  assert.is(err, null);
});

test('passive open: a repeated SYN gets the SYN-ACK again; an ACK for another ISN gets a RST', async () => {
  const p = new Peer();
  p.stack.net.createServer(() => {}).listen(80);
  await p.settle();
  p.send({ seq: 1000, flags: SYN, mss: 1460 });
  const sa = one(p.take(), 'SYN-ACK');
  p.send({ seq: 1000, flags: SYN, mss: 1460 });
  const again = one(p.take(), 'SYN-ACK again');
  assert.is(again.flags, SYN | ACK);
  assert.is(again.seq, sa.seq);
  p.send({ seq: 1001, ack: sa.seq + 5, flags: ACK });
  const r = one(p.take(), 'RST');
  assert.is(r.flags & RST, RST);
  assert.is(r.seq, (sa.seq + 5) >>> 0);
});

test('active open: SYN options, then ACK of the SYN-ACK and connect', async () => {
  const p = new Peer({ limits: { tcpReceiveBuffer: 1 << 20 } });
  let connected = false;
  const s = p.stack.net.connect({ port: 80, host: PEER_IP }, () => { connected = true; });
  await p.settle();
  const syn = one(p.take(), 'SYN');
  assert.is(syn.flags, SYN);
  assert.is(syn.mss, 1460);
  assert.ok(syn.sackOk);
  assert.ok(syn.ts);
  assert.is(syn.ws, 5, 'window scale for a 1 MiB receive buffer');
  assert.ok(syn.sport >= 49152, 'an ephemeral port');
  p.send({ sport: 80, dport: syn.sport, seq: 7000, ack: syn.seq + 1, flags: SYN | ACK, mss: 1460, ws: 2, sackOk: true, ts: [9, syn.ts![0]] });
  await p.settle();
  const a = one(p.take(), 'ACK');
  assert.is(a.flags, ACK);
  assert.is(a.ack, 7001);
  assert.is(a.seq, (syn.seq + 1) >>> 0);
  assert.ok(connected);
  assert.is(s.info()!.state, 'ESTABLISHED');
  assert.is(s.info()!.sndWscale, 2);
});

test('active open: RST|ACK to the SYN refuses; a RST without ACK is ignored', async () => {
  const p = new Peer();
  let err: (Error & { code?: string }) | null = null;
  const s = p.stack.net.connect({ port: 80, host: PEER_IP });
  s.on('error', (e) => { err = e; });
  await p.settle();
  const syn = one(p.take(), 'SYN');
  p.send({ sport: 80, dport: syn.sport, seq: 0, flags: RST });
  await p.settle();
  assert.is(err, null);
  p.send({ sport: 80, dport: syn.sport, seq: 0, ack: syn.seq + 1, flags: RST | ACK });
  await p.settle();
  assert.is(err!.code, 'ECONNREFUSED');
});

test('active open: SYN retransmitted with exponential backoff, then ETIMEDOUT', async () => {
  const p = new Peer({ limits: { tcpSynRetries: 3 } });
  let err: (Error & { code?: string }) | null = null;
  p.stack.net.connect({ port: 80, host: PEER_IP }).on('error', (e) => { err = e; });
  await p.settle();
  one(p.take(), 'SYN');
  const times: number[] = [p.clock.now()];
  for (let t = 0; t < 20_000 && !err; t += 50) {
    p.advance(50);
    for (const x of p.take()) if (x.flags === SYN) times.push(p.clock.now());
    await p.settle();
  }
  assert.is(times.length, 4, `first SYN and retransmissions at ${times}`);
  assert.ok(times[1] - times[0] >= 950 && times[2] - times[1] >= 1900 && times[3] - times[2] >= 3900, `backoff ${times}`);
  assert.is(err!.code, 'ETIMEDOUT');
});

test('simultaneous open (RFC 9293 figure 8)', async () => {
  const p = new Peer();
  let connected = false;
  p.stack.net.connect({ port: 80, host: PEER_IP, localPort: 5555 }, () => { connected = true; });
  await p.settle();
  const syn = one(p.take(), 'SYN');
  p.send({ sport: 80, dport: 5555, seq: 300, flags: SYN, mss: 1460 });
  const sa = one(p.take(), 'SYN-ACK in SYN-RECEIVED');
  assert.is(sa.flags, SYN | ACK);
  assert.is(sa.seq, syn.seq);
  assert.is(sa.ack, 301);
  p.send({ sport: 80, dport: 5555, seq: 300, ack: syn.seq + 1, flags: SYN | ACK, mss: 1460 });
  await p.settle();
  // Their SYN-ACK repeats a SYN we already have: challenge ACK, and the ACK completes the open.
  p.send({ sport: 80, dport: 5555, seq: 301, ack: syn.seq + 1, flags: ACK });
  await p.settle();
  assert.ok(connected);
});

test('closed port: SYN gets RST|ACK, an ACK gets RST with its number', async () => {
  const p = new Peer();
  p.send({ dport: 81, seq: 500, flags: SYN });
  const r = one(p.take(), 'RST');
  assert.is(r.flags, RST | ACK);
  assert.is(r.ack, 501);
  assert.is(r.seq, 0);
  p.send({ dport: 81, seq: 500, ack: 12345, flags: ACK });
  const r2 = one(p.take(), 'RST');
  assert.is(r2.flags, RST);
  assert.is(r2.seq, 12345);
  p.send({ dport: 81, seq: 500, flags: RST });
  assert.is(p.take().length, 0, 'never a RST for a RST');
  assert.is(p.stack.stats().tcpNoPort, 3);
});

test('bad checksum is dropped and counted', async () => {
  const c = await established();
  c.p.send({ seq: c.pseq, ack: c.sseq, flags: ACK | PSH, data: 'x', badChecksum: true, ts: [c.tsv++, c.tsEcr] });
  await c.p.settle();
  c.p.advance(100);
  assert.is(c.p.take().length, 0);
  assert.is(c.data.length, 0);
  assert.is(c.p.stack.stats().tcpBadChecksum, 1);
});

test('delayed ACK: one small segment waits 40 ms; two full segments are ACKed at once', async () => {
  const c = await established();
  c.send({ flags: ACK | PSH, data: 'hello' });
  c.pseq += 5;
  await c.p.settle();
  assert.is(c.p.take().length, 0, 'no immediate ACK');
  c.p.advance(39);
  assert.is(c.p.take().length, 0);
  c.p.advance(2);
  const a = one(c.p.take(), 'delayed ACK');
  assert.is(a.ack, c.pseq);
  assert.is(Buffer.concat(c.data).toString(), 'hello');
  const full = Buffer.alloc(1448, 7);
  c.send({ flags: ACK, data: full }); c.pseq += 1448;
  assert.is(c.p.take().length, 0);
  c.send({ flags: ACK, data: full }); c.pseq += 1448;
  const b = one(c.p.take(), 'ACK after two full segments');
  assert.is(b.ack, c.pseq);
});

test('urgent data (URG) is read inline and in order, as RFC 6093 advises; nothing is dropped', async () => {
  const c = await established();
  c.send({ flags: ACK | PSH, data: 'before ' }); c.pseq += 7;
  c.send({ flags: ACK | PSH | URG, data: 'urgent!', urp: 7 }); c.pseq += 7;
  c.send({ flags: ACK | PSH, data: ' after' }); c.pseq += 6;
  await c.p.settle();
  c.p.advance(50);
  assert.is(Buffer.concat(c.data).toString(), 'before urgent! after');
  assert.is(c.p.take().pop()?.ack, c.pseq, 'every byte acknowledged');
});

test('out of order: immediate ACK with a SACK block; filling the hole ACKs all', async () => {
  const c = await established();
  c.send({ seq: c.pseq + 100, flags: ACK, data: Buffer.alloc(100, 2) });
  const d = one(c.p.take(), 'dup ACK');
  assert.is(d.ack, c.pseq);
  assert.equal(d.sack, [[c.pseq + 100, c.pseq + 200]]);
  c.send({ seq: c.pseq + 300, flags: ACK, data: Buffer.alloc(100, 3) });
  const d2 = one(c.p.take(), 'second dup ACK');
  assert.equal(d2.sack, [[c.pseq + 300, c.pseq + 400], [c.pseq + 100, c.pseq + 200]], 'latest block first');
  c.send({ seq: c.pseq, flags: ACK, data: Buffer.alloc(100, 1) });
  const a = one(c.p.take(), 'ACK');
  assert.is(a.ack, c.pseq + 200);
  assert.equal(a.sack, [[c.pseq + 300, c.pseq + 400]]);
  c.send({ seq: c.pseq + 200, flags: ACK, data: Buffer.alloc(100, 4) });
  const a2 = one(c.p.take(), 'ACK all');
  assert.is(a2.ack, c.pseq + 400);
  assert.is(a2.sack, undefined);
  await c.p.settle();
  const got = Buffer.concat(c.data);
  assert.is(got.length, 400);
  const want = Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(100, 2), Buffer.alloc(100, 4), Buffer.alloc(100, 3)]);
  assert.ok(got.equals(want), 'bytes in sequence order');
});

/** 100 bytes from the peer at `off` past the next expected sequence number. */
const hundredAt = (c: Awaited<ReturnType<typeof established>>, off: number) =>
  c.send({ seq: c.pseq + off, flags: ACK, data: Buffer.alloc(100, off / 100) });

test('out of order in one batch: an ACK as each new block starts, so every block is reported; a segment that extends one adds none', async () => {
  const c = await established();
  c.p.batch(() => { for (const off of [100, 200, 400, 600, 700]) hundredAt(c, off); });
  const acks = c.p.take();
  const blk = (a: number, b: number): [number, number] => [c.pseq + a, c.pseq + b];
  assert.equal(acks.map((x) => [x.ack - c.pseq, x.sack]), [
    [0, [blk(100, 300)]],
    [0, [blk(400, 500), blk(100, 300)]],
    [0, [blk(600, 800), blk(400, 500), blk(100, 300)]],
  ], show(acks));
});

test('in order, then a hole, in one batch: the in-order data is acknowledged in an ACK of its own before the SACK', async () => {
  const c = await established();
  c.p.batch(() => { for (const off of [0, 100, 300, 400]) hundredAt(c, off); });
  const acks = c.p.take();
  assert.equal(acks.map((x) => [x.ack - c.pseq, x.sack]), [
    [200, undefined],
    [200, [[c.pseq + 300, c.pseq + 500]]],
  ], show(acks));
});

test('without SACK, each out-of-order segment of a batch is a duplicate ACK of its own (RFC 5681 4.2)', async () => {
  const c = await established(undefined, { sack: false });
  c.p.batch(() => { for (const off of [100, 200, 300]) hundredAt(c, off); });
  const acks = c.p.take();
  assert.equal(acks.map((x) => [x.ack - c.pseq, x.len, x.sack]), [[0, 0, undefined], [0, 0, undefined], [0, 0, undefined]], show(acks));
});

test('filling a hole draws exactly one ACK: the read that follows sends no second identical one (RFC 5681 4.2)', async () => {
  for (const [size, ws] of [[100, 7], [1448, 7], [100, null], [1448, null]] as const) {
    const c = await established(undefined, { ws });
    c.send({ seq: c.pseq + size, flags: ACK, data: Buffer.alloc(size, 2) });
    one(c.p.take(), 'dup ACK');
    c.send({ seq: c.pseq, flags: ACK, data: Buffer.alloc(size, 1) });
    const a = one(c.p.take(), 'the ACK of the filled hole');
    assert.is(a.ack, (c.pseq + 2 * size) >>> 0);
    await c.p.settle();
    c.p.advance(500);
    await c.p.settle();
    assert.is(Buffer.concat(c.data).length, 2 * size);
    const after = c.p.take();
    const same = after.filter((x) => x.len === 0 && x.ack === a.ack && x.win === a.win);
    assert.is(same.length, 0, `${size} bytes, window scale ${ws}: a second identical ACK:\n${show(after)}`);
    await c.p.stack.close();
  }
});

test('acceptability: old and beyond-window segments get an ACK and are dropped', async () => {
  const c = await established();
  c.send({ seq: c.pseq - 200, flags: ACK, data: Buffer.alloc(100) });
  const a = one(c.p.take(), 'ACK for old');
  assert.is(a.ack, c.pseq);
  c.send({ seq: c.pseq + 5_000_000, flags: ACK, data: Buffer.alloc(100) });
  const b = one(c.p.take(), 'ACK for beyond window');
  assert.is(b.ack, c.pseq);
  assert.is(c.data.length, 0);
  assert.ok(c.p.stack.stats().tcpDup >= 2);
});

test('acceptability: an old duplicate still acknowledges (both ends back at snd.una after timeouts)', async () => {
  const c = await established();
  c.sock.write('hello');
  await c.p.settle();
  const d = one(c.p.take(), 'data');
  // The peer went back to retransmit what we already have; its ACK covers our data.
  c.send({ seq: c.pseq - 100, ack: (d.seq + 5) >>> 0, flags: ACK, data: Buffer.alloc(100) });
  const a = one(c.p.take(), 'ACK for the old duplicate');
  assert.is(a.ack, c.pseq);
  assert.is(c.data.length, 0, 'its data was dropped');
  c.p.advance(3000);
  assert.is(c.p.take().length, 0, 'nothing retransmitted: the old segment acknowledged the data');
  assert.is(c.p.stack.stats().tcpRto, 0);
  // Older than a receive buffer below rcv.nxt: dropped, ACK and all.
  c.sock.write('again');
  await c.p.settle();
  const e = one(c.p.take(), 'data');
  c.send({ seq: c.pseq - 2_000_000, ack: (e.seq + 5) >>> 0, flags: ACK });
  one(c.p.take(), 'ACK for the ancient segment');
  c.p.advance(1000);
  assert.ok(c.p.take().some((x) => x.seq === e.seq), 'its ACK did not count: the data is resent');
});

test('active open: the window we offer closes when the reader stops, whatever the peer\'s ISN', async () => {
  for (const isn of [7000, 0x7fff0000, 0x90000000, 0xfffff000]) {
    const p = new Peer({ limits: { tcpReceiveBuffer: 16384 } });
    const s = p.stack.net.connect({ port: 80, host: PEER_IP });
    await p.settle();
    const syn = one(p.take(), 'SYN');
    p.send({ sport: 80, dport: syn.sport, seq: isn, ack: syn.seq + 1, flags: SYN | ACK, mss: 1460, sackOk: true });
    await p.settle();
    p.take();
    s.pause();
    let seq = (isn + 1) >>> 0, last: Seg | null = null;
    for (let i = 0; i < 40 && !(last && last.win === 0); i++) {
      p.send({ sport: 80, dport: syn.sport, seq, ack: syn.seq + 1, flags: ACK, data: Buffer.alloc(1448, 1) });
      seq = (seq + 1448) >>> 0;
      p.advance(50);
      for (const x of p.take()) last = x;
    }
    assert.ok(last && last.win === 0, `ISN ${isn}: window closed (last ${last && segStr(last)})`);
    s.destroy();
    await p.stack.close();
  }
});

test('RST: outside the window ignored, inside but not exact gets a challenge ACK, exact resets', async () => {
  const c = await established();
  let err: (Error & { code?: string }) | null = null;
  c.sock.on('error', (e) => { err = e; });
  c.p.send({ seq: c.pseq + 10_000_000, flags: RST });
  assert.is(c.p.take().length, 0);
  c.p.send({ seq: c.pseq + 1000, flags: RST });
  const ch = one(c.p.take(), 'challenge ACK');
  assert.is(ch.flags, ACK);
  assert.is(ch.ack, c.pseq);
  assert.is(c.p.stack.stats().tcpChallengeAck, 1);
  await c.p.settle();
  assert.is(err, null);
  c.p.send({ seq: c.pseq, flags: RST });
  await c.p.settle();
  assert.is(err!.code, 'ECONNRESET');
  assert.is(c.p.stack.stats().tcpSockets, 1, 'only the listener is left');
});

test('SYN on an established connection gets a challenge ACK (rate-limited)', async () => {
  const c = await established({ tcpChallengeAcksPerSecond: 2 });
  for (let i = 0; i < 5; i++) c.p.send({ seq: c.pseq + 77 + i, flags: SYN });
  const acks = c.p.take();
  assert.is(acks.length, 2, show(acks));
  for (const a of acks) { assert.is(a.flags, ACK); assert.is(a.ack, c.pseq); }
  assert.is(c.p.stack.stats().tcpChallengeLimited, 3);
  assert.is(c.sock.info()!.state, 'ESTABLISHED');
});

test('challenge ACKs are limited per connection: a RST flood at one draws at most its limit, another keeps its own', async () => {
  const c = await established();
  const p = c.p;
  // A second connection on the same listener.
  p.send({ sport: 40001, seq: 5000, flags: SYN, mss: 1460 });
  const sa = one(p.take(), 'SYN-ACK');
  p.send({ sport: 40001, seq: 5001, ack: sa.seq + 1, flags: ACK });
  await p.settle();
  p.take();
  // A blind flood: in the window, never exact.
  for (let i = 1; i <= 200; i++) c.send({ seq: c.pseq + 13 * i, flags: RST });
  const ch = p.take();
  assert.is(ch.length, 2, `two at once (the default: 2 a second per connection):\n${show(ch)}`);
  for (const a of ch) { assert.is(a.dport, 40000); assert.is(a.ack, c.pseq); }
  assert.is(p.stack.stats().tcpChallengeLimited, 198);
  // The other connection's budget is untouched.
  p.send({ sport: 40001, seq: 5001 + 77, ack: sa.seq + 1, flags: RST });
  const other = one(p.take(), 'challenge ACK on the other connection');
  assert.is(other.dport, 40001);
  assert.is(other.ack, 5001);
  // Half a second refills one.
  p.advance(500);
  p.take();
  for (let i = 1; i <= 10; i++) c.send({ seq: c.pseq + 7 * i, flags: RST });
  assert.is(p.take().length, 1, 'one more after 500 ms');
  assert.is(c.sock.info()!.state, 'ESTABLISHED');
});

test('ACK for data never sent: answered with an ACK and dropped', async () => {
  const c = await established();
  c.send({ ack: c.sseq + 1000, flags: ACK, data: 'zzz' });
  const a = one(c.p.take(), 'ACK');
  assert.is(a.ack, c.pseq);
  assert.is(c.data.length, 0);
  assert.is(c.p.stack.stats().tcpAckUnsent, 1);
});

test('PAWS: an old timestamp is rejected with an ACK', async () => {
  const c = await established();
  c.send({ flags: ACK | PSH, data: 'new', ts: [500, c.tsEcr] }); c.pseq += 3;
  c.p.advance(50); c.p.take();
  c.send({ flags: ACK | PSH, data: 'old', ts: [400, c.tsEcr] });
  const a = one(c.p.take(), 'ACK for PAWS reject');
  assert.is(a.ack, c.pseq);
  assert.is(a.ts![1], 500, 'echoes the newest timestamp');
  await c.p.settle();
  assert.is(Buffer.concat(c.data).toString(), 'new');
  assert.is(c.p.stack.stats().tcpPaws, 1);
});

test('send: segments of MSS, timestamps echoed, PSH on the last', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(4000, 9));
  await c.p.settle();
  const segs = c.p.take();
  assert.equal(segs.map((x) => x.len), [1448, 1448, 1104]);
  assert.equal(segs.map((x) => (x.seq - c.sseq) >>> 0), [0, 1448, 2896]);
  assert.is(segs[2].flags & PSH, PSH);
  for (const x of segs) assert.is(x.ts![1], c.tsv - 1);
});

test('Nagle holds a small segment while data is in flight; setNoDelay sends it', async () => {
  const c = await established();
  c.sock.write('a');
  await c.p.settle();
  assert.is(one(c.p.take(), 'first byte').len, 1);
  c.sock.write('b');
  await c.p.settle();
  assert.is(c.p.take().length, 0, 'held by Nagle');
  c.send({ flags: ACK, ack: c.sseq + 1 });
  await c.p.settle();
  const x = one(c.p.take(), 'sent once acked');
  assert.is(x.len, 1);
  c.sseq += 2;
  c.send({ flags: ACK });
  c.sock.setNoDelay(true);
  c.sock.write('c');
  c.sock.write('d');
  await c.p.settle();
  assert.is(c.p.take().length, 2);
});

test('retransmission timeout with backoff; an ACK resets it', async () => {
  const c = await established();
  c.sock.write('hello');
  await c.p.settle();
  const first = one(c.p.take(), 'data');
  const times: number[] = [];
  const t0 = c.p.clock.now();
  for (let t = 0; t < 3000; t += 10) {
    c.p.advance(10);
    for (const x of c.p.take()) { assert.is(x.seq, first.seq); times.push(c.p.clock.now() - t0); }
  }
  assert.ok(times.length >= 2, `retransmitted at ${times}`);
  assert.ok(times[0] >= 180 && times[0] <= 1000, `first RTO ${times[0]}`);
  assert.ok(times[1] - times[0] >= 1.9 * times[0] - 20, `backoff ${times}`);
  assert.ok(c.p.stack.stats().tcpRto >= 2);
});

test('fast retransmit on SACK from the peer (RFC 6675)', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(1448 * 8, 1));
  await c.p.settle();
  const segs = c.p.take();
  assert.is(segs.length, 8);
  // The first segment is lost: three ACKs SACKing what follows.
  for (let i = 1; i <= 3; i++) c.send({ flags: ACK, sack: [[c.sseq + 1448, c.sseq + 1448 * (1 + i)]] });
  await c.p.settle();
  const rx = c.p.take();
  assert.ok(rx.length >= 1, 'a retransmission');
  assert.is(rx[0].seq, c.sseq, 'the hole first');
  assert.is(rx[0].len, 1448);
  assert.is(c.p.stack.stats().tcpFastRetrans, 1);
});

test('fast retransmit on three duplicate ACKs whatever the ISNs (RFC 6582 recover starts at the ISS)', async () => {
  // Our ISS and the peer's ISN each below and at or above 2^31.
  const seen = new Set<string>();
  for (let seed = 1; seen.size < 4 && seed < 64; seed++) {
    for (const isn of [1000, 0x8000_0000 + 1000]) {
      const c = await established(undefined, { ts: false, sack: false, isn, seed });
      const key = `ours ${c.sseq >= 0x8000_0000 ? '>=' : '<'} 2^31, theirs ${isn >= 0x8000_0000 ? '>=' : '<'} 2^31`;
      if (seen.has(key)) { await c.p.stack.close(); continue; }
      seen.add(key);
      c.sock.write(Buffer.alloc(1460 * 8, 1));
      await c.p.settle();
      assert.is(c.p.take().length, 8, key);
      // The first segment is lost: three duplicate ACKs, and no time passes.
      for (let i = 0; i < 3; i++) c.send({ flags: ACK });
      const rx = one(c.p.take(), `${key}: the retransmission`);
      assert.is(rx.seq, c.sseq, key);
      assert.is(rx.len, 1460, key);
      assert.is(c.p.stack.stats().tcpFastRetrans, 1, key);
      assert.is(c.p.stack.stats().tcpRto, 0, key);
      await c.p.stack.close();
    }
  }
  assert.is(seen.size, 4, [...seen].join('; '));
});

test('zero window: data waits, persist probes back off, opening the window resumes', async () => {
  const c = await established();
  c.send({ flags: ACK, win: 0 });
  c.sock.write(Buffer.alloc(3000, 5));
  await c.p.settle();
  assert.is(c.p.take().length, 0, 'nothing into a zero window');
  const probes: number[] = [];
  const t0 = c.p.clock.now();
  for (let t = 0; t < 4000; t += 10) {
    c.p.advance(10);
    for (const x of c.p.take()) {
      assert.is(x.len, 1, 'a one-byte probe');
      probes.push(c.p.clock.now() - t0);
      c.send({ flags: ACK, win: 0 });   // still closed (the probe byte is not taken)
    }
  }
  assert.ok(probes.length >= 2, `probes at ${probes}`);
  assert.ok(probes[1] - probes[0] > probes[0] * 1.5, `backoff ${probes}`);
  assert.ok(c.p.stack.stats().tcpZeroWindowProbe >= 2);
  c.send({ flags: ACK, win: 65535 });
  await c.p.settle();
  const segs = c.p.take();
  assert.is(segs.reduce((n, x) => n + x.len, 0) + 0, 3000, show(segs));
});

test('we advertise a zero window when the reader stops, and reopen it when it reads', async () => {
  const c = await established({ tcpReceiveBuffer: 16384 });
  c.sock.pause();
  const chunk = Buffer.alloc(1448, 1);
  const start = c.pseq;
  let last: Seg | null = null;
  for (let i = 0; i < 40; i++) {
    c.send({ flags: ACK, data: chunk }); c.pseq += 1448;
    c.p.advance(50);
    for (const x of c.p.take()) last = x;
    if (last && last.win === 0) break;
  }
  assert.ok(last && last.win === 0, `window closed (last ${last && segStr(last)})`);
  c.sock.resume();
  await c.p.settle();
  const up = c.p.take();
  assert.ok(up.length >= 1 && up[up.length - 1].win > 0, 'window update');
  await c.p.settle();
  // Everything it acknowledged reaches the reader; what lay beyond the window was dropped.
  assert.is(Buffer.concat(c.data).length, (last!.ack - start) >>> 0);
  assert.ok(c.p.stack.stats().tcpWindowDrop >= 1);
});

test('active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT (RST ignored, FIN re-ACKed), then gone', async () => {
  const c = await established({ tcpMslMs: 1000 });
  c.sock.end();
  await c.p.settle();
  const fin = one(c.p.take(), 'FIN');
  assert.is(fin.flags & FIN, FIN);
  assert.is(c.sock.info()!.state, 'FIN_WAIT_1');
  c.send({ flags: ACK, ack: c.sseq + 1 });
  await c.p.settle();
  assert.is(c.sock.info()!.state, 'FIN_WAIT_2');
  c.send({ flags: ACK | FIN, ack: c.sseq + 1 });
  const a = one(c.p.take(), 'ACK of FIN');
  assert.is(a.ack, c.pseq + 1);
  c.pseq += 1;
  await c.p.settle();
  assert.is(c.p.stack.stats().tcpTimeWait, 1);
  // RFC 1337: a RST does not end TIME-WAIT.
  c.p.send({ seq: c.pseq, flags: RST });
  assert.is(c.p.stack.stats().tcpTimeWait, 1);
  // A retransmitted FIN is ACKed again.
  c.send({ seq: c.pseq - 1, flags: ACK | FIN, ack: c.sseq + 1 });
  assert.is(one(c.p.take(), 're-ACK').ack, c.pseq);
  c.p.advance(2100);
  await c.p.settle();
  assert.is(c.p.stack.stats().tcpTimeWait, 0);
  assert.is(c.p.stack.stats().tcpSockets, 1, 'only the listener');
});

test('passive close: CLOSE-WAIT then LAST-ACK', async () => {
  const c = await established();
  let ended = false;
  c.sock.on('end', () => { ended = true; });
  c.send({ flags: ACK | FIN });
  c.pseq += 1;
  const a = one(c.p.take(), 'ACK of FIN');
  assert.is(a.ack, c.pseq);
  await c.p.settle();
  assert.ok(ended);
  assert.is(c.sock.info()!.state, 'CLOSE_WAIT');
  c.sock.end();
  await c.p.settle();
  const fin = one(c.p.take(), 'our FIN');
  assert.is(fin.flags & FIN, FIN);
  c.send({ flags: ACK, ack: c.sseq + 1 });
  await c.p.settle();
  assert.is(c.p.stack.stats().tcpSockets, 1);
  assert.is(c.p.stack.stats().tcpTimeWait, 0);
});

test('simultaneous close: CLOSING then TIME-WAIT', async () => {
  const c = await established();
  c.sock.end();
  await c.p.settle();
  one(c.p.take(), 'FIN');
  c.send({ flags: ACK | FIN });   // their FIN, not yet ACKing ours
  c.pseq += 1;
  const a = one(c.p.take(), 'ACK');
  assert.is(a.ack, c.pseq);
  await c.p.settle();
  assert.is(c.p.stack.stats().tcpTimeWait, 0);
  c.send({ flags: ACK, ack: c.sseq + 1 });
  await c.p.settle();
  assert.is(c.p.stack.stats().tcpTimeWait, 1);
});

test('half-close: the peer ends, we keep sending (allowHalfOpen)', async () => {
  const c = await established();
  c.send({ flags: ACK | FIN });
  c.pseq += 1;
  c.p.take();
  await c.p.settle();
  c.sock.write('still here');
  await c.p.settle();
  const d = one(c.p.take(), 'data after their FIN');
  assert.is(Buffer.from(d.payload).toString(), 'still here');
});

test('resetAndDestroy sends a RST; close with unread data sends a RST', async () => {
  const c = await established();
  c.sock.resetAndDestroy();
  await c.p.settle();
  const r = one(c.p.take(), 'RST');
  assert.is(r.flags & RST, RST);
  assert.is(r.seq, c.sseq);
  const d = await established();
  d.sock.pause();
  // More than the stream's high-water mark, so some stays unread in the core.
  for (let i = 0; i < 30; i++) { d.send({ flags: ACK, data: Buffer.alloc(1448) }); d.pseq += 1448; }
  await d.p.settle();
  d.p.take();
  d.sock.destroy();
  await d.p.settle();
  assert.is(one(d.p.take(), 'RST').flags & RST, RST);
});

/** A listener whose SYN queue (backlog 1) one SYN has filled: the next SYN gets a cookie. */
async function synQueueFull() {
  const p = new Peer();
  const conns: Socket[] = [];
  p.stack.net.createServer((s: Socket) => conns.push(s)).listen(80, undefined, 1);
  await p.settle();
  p.send({ sport: 1111, seq: 100, flags: SYN, mss: 1460 });
  one(p.take(), 'SYN-ACK');
  return { p, conns };
}

test('SYN cookies when the SYN queue is full; the cookie ACK makes a connection', async () => {
  const { p, conns } = await synQueueFull();
  p.send({ sport: 2222, seq: 200, flags: SYN, mss: 1460, ws: 3, sackOk: true, ts: [50, 0] });
  const ck = one(p.take(), 'cookie SYN-ACK');
  assert.is(ck.flags, SYN | ACK);
  assert.is(p.stack.stats().tcpCookieTx, 1);
  assert.is(p.stack.stats().tcpSockets, 2, 'no state for the cookie');
  p.send({ sport: 2222, seq: 201, ack: ck.seq + 1, flags: ACK, ts: [51, ck.ts![0]] });
  await p.settle();
  assert.is(p.stack.stats().tcpCookieOk, 1);
  assert.is(conns.length, 1);
  const i = conns[0].info()!;
  assert.is(i.remotePort, 2222);
  assert.is(i.sndWscale, 3, 'window scale recovered from the timestamp');
  // A forged ACK is refused.
  p.send({ sport: 3333, seq: 301, ack: 0xdeadbeef, flags: ACK });
  assert.is(one(p.take(), 'RST').flags & RST, RST);
  assert.is(p.stack.stats().tcpCookieBad, 1);
});

test('a SYN cookie answers a SYN without timestamps with no window scale or SACK (only a timestamp could carry them back)', async () => {
  const { p, conns } = await synQueueFull();
  p.send({ sport: 2222, seq: 200, flags: SYN, mss: 1460, ws: 3, sackOk: true });
  const ck = one(p.take(), 'cookie SYN-ACK');
  assert.is(p.stack.stats().tcpCookieTx, 1);
  assert.equal([ck.mss, ck.ws, ck.sackOk, ck.ts], [1460, undefined, undefined, undefined]);
  assert.is(ck.hlen, 24);
  p.send({ sport: 2222, seq: 201, ack: ck.seq + 1, flags: ACK });
  await p.settle();
  assert.is(conns.length, 1);
  assert.is(conns[0].info()!.sndWscale, 0, 'both ends unscaled, as the SYN-ACK said');
  assert.is(conns[0].info()!.rcvWscale, 0);
});

test.run();
