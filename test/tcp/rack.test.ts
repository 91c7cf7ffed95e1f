// Scripted loss repair without the retransmission timeout (RFC 8985): a
// tail-loss probe after about two round trips, and a lost retransmission
// sent again once a later one arrives. One stack, a hand-driven peer with a
// 20 ms round trip, the virtual clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer } from './peer.ts';
import { SYN, ACK, type Seg, segStr } from './helpers.ts';
import type { Socket } from '../../host/net/net.ts';
import type { StackLimits } from '../../host/stack.ts';

const MSS = 1448;
const RTT = 20;
const show = (segs: Seg[]) => segs.map((s) => segStr(s)).join('\n');

/** A passive connection (SACK, timestamps) whose handshake took one RTT, so SRTT is 20 ms. */
async function established(limits?: StackLimits) {
  const p = new Peer({ limits });
  const conns: Socket[] = [];
  p.stack.net.createServer((s: Socket) => conns.push(s)).listen(80);
  await p.settle();
  p.send({ seq: 1000, flags: SYN, mss: 1460, ws: 7, sackOk: true, ts: [100, 0] });
  const sa = p.take()[0];
  p.advance(RTT);
  const c = {
    p, sock: null as unknown as Socket, iss: (sa.seq + 1) >>> 0, tsv: 101, tsEcr: sa.ts![0],
    /** An ACK from the peer: ack and SACK blocks in segments from the first byte we send; its window. */
    ack(segs: number, sack?: [number, number][], win = 65535) {
      p.send({ seq: 1001, ack: c.iss + segs * MSS, flags: ACK, win, ts: [c.tsv++, c.tsEcr],
        sack: sack?.map(([a, b]) => [c.iss + a * MSS, c.iss + b * MSS] as [number, number]) });
    },
    /** What the stack sent; the peer echoes the newest timestamp (RFC 7323), so RTT samples stay 20 ms. */
    take(): Seg[] {
      const segs = p.take();
      for (const x of segs) if (x.ts) c.tsEcr = x.ts[0];
      return segs;
    },
    /** Segment number of a data segment we sent. */
    n: (s: Seg) => ((s.seq - c.iss) >>> 0) / MSS,
  };
  c.ack(0);
  await p.settle();
  c.sock = conns[0];
  p.stack.syncTime();   // the core's clock, for what the socket writes next
  assert.is(c.sock.info()!.srttUs, RTT * 1000);
  return c;
}

/** Advances 1 ms at a time until the stack sends; returns what it sent and the ms waited. */
function waitSend(c: Awaited<ReturnType<typeof established>>, limit = 1000): { segs: Seg[]; ms: number } {
  for (let t = 1; t <= limit; t++) {
    c.p.advance(1);
    const segs = c.take();
    if (segs.length) return { segs, ms: t };
  }
  return { segs: [], ms: limit };
}

/** Ten segments out, 0 lost and 1-3 SACKed: the fast retransmit of 0. */
async function fastRetransmit(c: Awaited<ReturnType<typeof established>>): Promise<void> {
  c.sock.write(Buffer.alloc(10 * MSS, 1));
  await c.p.settle();
  assert.is(c.take().length, 10);
  c.p.advance(RTT);
  c.ack(0, [[1, 2]]); c.ack(0, [[1, 3]]); c.ack(0, [[1, 4]]);
  const rx = c.take();
  assert.equal(rx.map(c.n), [0], `fast retransmit of the first hole:\n${show(rx)}`);
}

test('tail loss: a probe after two round trips, not the RTO, then the lost segment again', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(4 * MSS, 1));
  await c.p.settle();
  assert.equal(c.take().map(c.n), [0, 1, 2, 3]);
  // Segments 0 and 1 arrive; 2 and 3, the tail, are lost: no duplicate ACK will come.
  c.p.advance(RTT);
  c.ack(2);
  assert.is(c.take().length, 0);
  const { segs, ms } = waitSend(c);
  const rto = c.sock.info()!.rtoMs;
  assert.is(segs.length, 1, show(segs));
  assert.is(c.n(segs[0]), 3, 'the probe resends the last segment (nothing new to send)');
  assert.ok(ms >= 2 * RTT && ms <= 2 * RTT + 5, `probe ${ms} ms after the last ACK (2 × SRTT + 2 ms)`);
  assert.ok(ms < rto / 2, `well before the RTO (${rto} ms)`);
  // The probe arrives and is SACKed: it was sent after segment 2, which is lost (RACK).
  c.p.advance(RTT);
  c.ack(2, [[3, 4]]);
  const rx = c.take();
  assert.equal(rx.map(c.n), [2], `the hole at once:\n${show(rx)}`);
  c.p.advance(RTT);
  c.ack(4);
  c.p.advance(1000);
  assert.is(c.take().length, 0, 'nothing more to repair');
  const st = c.p.stack.stats();
  assert.is(st.tcpTlp, 1);
  assert.is(st.tcpRto, 0);
  assert.is(st.tcpFastRetrans, 1, 'the repair counts as a recovery (congestion response)');
});

test('tail loss: the probe is new data when there is more to send', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(20 * MSS, 1));
  await c.p.settle();
  assert.equal(c.take().map(c.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the initial window');
  // Nothing comes back: all ten are lost.
  const { segs, ms } = waitSend(c);
  assert.equal(segs.map(c.n), [10], 'one new segment beyond the window');
  assert.ok(ms >= 2 * RTT && ms <= 2 * RTT + 5, `probe after ${ms} ms`);
  // Its SACK shows the whole window lost; recovery resends from the first.
  c.p.advance(RTT);
  c.ack(0, [[10, 11]]);
  const rx = c.take();
  assert.ok(rx.length >= 1 && c.n(rx[0]) === 0, show(rx));
  assert.is(c.p.stack.stats().tcpRto, 0);
});

test('a lost retransmission is sent again once a later one is SACKed, without the RTO', async () => {
  const c = await established();
  // Segments 0 and 4 are lost; the rest arrive and are SACKed.
  await fastRetransmit(c);
  for (let i = 5; i < 10; i++) c.ack(0, [[5, i + 1], [1, 4]]);
  let rx = c.take();
  assert.equal(rx.map(c.n), [4], 'then the second hole');
  // The retransmission of 0 is lost too; that of 4, sent after it, arrives.
  c.p.advance(RTT);
  c.ack(0, [[1, 10]]);
  rx = c.take();
  assert.equal(rx.map(c.n), [0], `segment 0 a third time, at once:\n${show(rx)}`);
  c.p.advance(RTT);
  c.ack(10);
  c.p.advance(1000);
  assert.is(c.take().length, 0);
  assert.is(c.p.stack.stats().tcpRto, 0);
  assert.is(c.p.stack.stats().tcpFastRetrans, 1);
});

test('a hole below one SACKed segment is resent a quarter RTT later (RACK reordering window), not after the probe timeout', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(3 * MSS, 1));
  await c.p.settle();
  assert.equal(c.take().map(c.n), [0, 1, 2]);
  // Segment 0 is lost and 2 as well: only 1 is SACKed, short of three duplicates.
  c.p.advance(RTT);
  c.ack(0, [[1, 2]]);
  assert.is(c.take().length, 0, 'not at once: it may only be reordered');
  const { segs, ms } = waitSend(c);
  assert.equal(segs.map(c.n).slice(0, 1), [0], show(segs));
  assert.ok(ms >= RTT / 4 && ms <= RTT / 4 + 2, `resent ${ms} ms after the SACK (SRTT / 4 = ${RTT / 4})`);
  assert.is(c.p.stack.stats().tcpTlp, 0);
  assert.is(c.p.stack.stats().tcpFastRetrans, 1);
});

test('a lost retransmission is seen on ACKs whose window changes (a receiver growing its window)', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(10 * MSS, 1));
  await c.p.settle();
  assert.is(c.take().length, 10);
  c.p.advance(RTT);
  let win = 30000;
  c.ack(0, [[1, 2]], win++); c.ack(0, [[1, 3]], win++); c.ack(0, [[1, 4]], win++);
  assert.equal(c.take().map(c.n), [0], 'fast retransmit of the hole');
  c.sock.write(Buffer.alloc(4 * MSS, 1));
  await c.p.settle();
  for (let i = 4; i < 10; i++) c.ack(0, [[1, i + 1]], win++);
  const sent = c.take().map(c.n);
  assert.ok(sent.length > 0 && sent.every((n) => n >= 10), `new data after the retransmission: ${sent}`);
  // The retransmission of 0 is lost; new data sent after it arrives.
  c.p.advance(RTT);
  c.ack(0, [[1, 10 + sent.length]], win++);
  const rx = c.take();
  assert.equal(rx.map(c.n).slice(0, 1), [0], `segment 0 again, at once:\n${show(rx)}`);
  assert.is(c.p.stack.stats().tcpRto, 0);
});

test('after a timeout, data SACKed beyond what was out then starts SACK recovery, not another timeout', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(2 * MSS, 1));
  await c.p.settle();
  assert.equal(c.take().map(c.n), [0, 1]);
  // Both and the probe are lost: the RTO resends 0.
  let rx: Seg[] = [];
  for (let t = 0; t < 2000 && !rx.some((s) => c.n(s) === 0); t++) { c.p.advance(1); rx = c.take(); }
  assert.is(c.p.stack.stats().tcpRto, 1);
  c.sock.write(Buffer.alloc(4 * MSS, 1));
  await c.p.settle();
  c.p.advance(RTT);
  c.ack(1);
  rx = c.take();
  assert.equal(rx.map(c.n).slice(0, 1), [1], `go-back-N goes on: ${show(rx)}`);
  // 1 is lost again; what follows it, sent after the timeout beyond its recover point (2), arrives.
  c.p.advance(1);
  rx.push(...c.take());
  const beyond = rx.map(c.n).filter((n) => n >= 2);
  assert.ok(beyond.length > 0, `data beyond the recover point went out: ${show(rx)}`);
  c.p.advance(RTT);
  c.ack(1, [[2, 1 + rx.length]]);
  rx = c.take();
  assert.equal(rx.map(c.n).slice(0, 1), [1], `segment 1 again, at once:\n${show(rx)}`);
  assert.is(c.p.stack.stats().tcpRto, 1, 'no second timeout');
});

test('a timeout within a recovery episode (the retransmission lost) reduces the window once, not again', async () => {
  const c = await established();
  await fastRetransmit(c);
  const ssthresh = c.sock.info()!.ssthresh;
  // The retransmission and everything after 3 are lost: only the RTO repairs it.
  const { segs } = waitSend(c);
  assert.equal(segs.map(c.n), [0], show(segs));
  assert.is(c.p.stack.stats().tcpRto, 1);
  assert.is(c.sock.info()!.ssthresh, ssthresh, 'ssthresh as the episode set it');
  assert.is(c.sock.info()!.cwnd, MSS);
});

test('twenty holes in one window: recovery resends each hole once and nothing the peer SACKed', async () => {
  const c = await established();
  c.sock.write(Buffer.alloc(200 * MSS, 1));
  await c.p.settle();
  // Slow start, nothing lost, until a flight of 40 or more.
  let una = 0, flight = c.take();
  while (flight.length < 40) {
    una = c.n(flight[flight.length - 1]) + 1;
    c.p.advance(RTT);
    c.ack(una);
    await c.p.settle();
    flight = c.take();
  }
  // Every other segment of the flight is lost. The peer SACKs the others as
  // they arrive, each ACK with the three latest blocks, as Linux: the sender
  // hears of each block once or a few times, and must remember all twenty.
  c.p.advance(RTT);
  for (let j = 1; j < 40; j += 2) {
    c.ack(una, [j, j - 2, j - 4].filter((x) => x >= 1).map((x) => [una + x, una + x + 1] as [number, number]));
  }
  // Then each resent hole arrives and is acknowledged at once, the SACK
  // blocks naming the three highest runs: the sender must remember the
  // rest from before.
  const got = new Set<number>();
  for (let j = 1; j < 40; j += 2) got.add(j);
  const sent: number[] = [];
  for (let t = 0; t < 10 * RTT; t++) {
    for (const n of c.take().map((x) => c.n(x) - una).filter((n) => n < 40)) {
      sent.push(n);
      got.add(n);
      let cum = 0;
      while (got.has(cum)) cum++;
      const runs: [number, number][] = [];
      for (let i = cum; i < 40; i++) {
        if (!got.has(i)) continue;
        if (runs.length && runs[runs.length - 1][1] === i) runs[runs.length - 1][1] = i + 1;
        else runs.push([i, i + 1]);
      }
      c.ack(una + cum, runs.slice(-3).reverse().map(([a, b]) => [una + a, una + b] as [number, number]));
    }
    c.p.advance(1);
  }
  const sacked = sent.filter((n) => n % 2 === 1);
  assert.equal(sacked, [], `segments the peer SACKed, sent again: ${sacked}`);
  assert.equal([...new Set(sent)].sort((a, b) => a - b), sent.slice().sort((a, b) => a - b), `a hole sent twice: ${sent}`);
  assert.is(sent.length, 20, `every hole resent once: ${sent}`);
});

test('our SACK blocks start with the latest arrival even beyond the eighth block, then the blocks just below it', async () => {
  const c = await established();
  const L = 1000;
  // The peer's segments 1, 3, 5, … 23 arrive; 0, 2, 4, … are lost: twelve blocks.
  let last: Seg | undefined;
  for (let i = 1; i < 24; i += 2) {
    c.p.send({ seq: 1001 + i * L, ack: c.iss, flags: ACK, win: 65535, ts: [c.tsv++, c.tsEcr], data: Buffer.alloc(L, 7) });
    await c.p.settle();
    last = c.take().at(-1) ?? last;
  }
  const blocks = last!.sack!.map(([a, b]) => [(a - 1001) / L, (b - 1001) / L]);
  assert.equal(blocks, [[23, 24], [21, 22], [19, 20]], 'the latest, then the nearest below (3 blocks beside timestamps)');
});

test.run();
