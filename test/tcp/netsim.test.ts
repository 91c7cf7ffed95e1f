// A deterministic network simulation, after smoltcp's tests/netsim.rs: two
// stacks over a link with delay and seeded loss (both directions) on a
// virtual clock, one bulk sender, for every receive buffer × loss rate.
// Each cell must deliver every byte it was given, intact and in order, and
// its goodput must obey the bounds a correct TCP cannot escape or fall below:
// never above the receive window per round trip, near it without loss, not
// far under the loss-limited rate of Mathis et al. (the Reno response
// function, which CUBIC meets or beats at these windows), never stalled for
// an RTO backoff; more loss never helps and a larger buffer never hurts.
// BBR, whose window no loss shrinks, goes far past that rate under loss.
// The table is printed for the reader, not compared byte for byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { pair, settle } from './helpers.ts';
import { withFaults } from '../../host/link/faults.ts';
import { VirtualClock } from '../../host/clock.ts';
import { Stack } from '../../host/stack.ts';
import type { Congestion, Socket } from '../../host/net/net.ts';
import type { Link } from '../../host/link/link.ts';

const DELAY_MS = 10;          // each way: RTT 20 ms
const RTT_S = (2 * DELAY_MS) / 1000;
const RUN_MS = 3000;          // virtual time the sender keeps the pipe full
const BUFS = [64 << 10, 256 << 10, 1 << 20];
const LOSSES = [0, 0.001, 0.01, 0.05];
const SEED = 20240601;
const MSS = 1448;             // MTU 1500 with timestamps
const CHUNK = 64 << 10;
/** The longest a cell may go without delivering a byte: an RTO backoff (≥ 2 s) is a stall. */
const MAX_GAP_MS = 1000;

interface Cell { mbps: number; rto: number; retrans: number; maxGapMs: number; sent: number; received: number; intact: boolean; dupShare: number }

/** Chunk n of the sender's stream: its bytes depend on n, so a lost, repeated
 * or misplaced chunk changes the receiver's digest. */
function chunk(n: number): Buffer {
  const b = Buffer.allocUnsafe(CHUNK);
  for (let i = 0; i < CHUNK; i += 4) b.writeUInt32BE((Math.imul(n, 0x9e3779b1) ^ Math.imul(i, 0x85ebca6b)) >>> 0, i);
  return b;
}

/** Bulk transfer for RUN_MS of virtual time after the handshake; then the
 * sender ends and everything it wrote must arrive. */
async function cell(rcvbuf: number, loss: number, cc: Congestion = 'cubic'): Promise<Cell> {
  const clock = new VirtualClock();
  const wrap = (l: Link, side: 'a' | 'b') => withFaults(l, { seed: SEED + (side === 'a' ? 1 : 2), clock, tx: { loss, delayMs: DELAY_MS } });
  const { a, b } = pair({ clock, wrap, seed: SEED, limits: { ...Stack.BULK, tcpReceiveBuffer: rcvbuf, tcpSendBuffer: 1 << 20, tcpCongestion: cc } });
  const rx = createHash('sha256'), tx = createHash('sha256');
  let inWindow = 0, received = 0, sent = 0, ended = false, t0 = -1, last = -1, maxGapMs = 0;
  b.net.createServer((s: Socket) => {
    s.on('data', (d: Buffer) => {
      const now = clock.now();
      if (now - t0 <= RUN_MS) {
        inWindow += d.length;
        maxGapMs = Math.max(maxGapMs, Math.round(now - last));
        last = now;
      }
      received += d.length;
      rx.update(d);
    });
    s.on('end', () => { ended = true; });
  }).listen(5001);
  const c = a.net.connect({ port: 5001, host: '10.0.0.2' });
  let stop = false, n = 0;
  const pump = () => {
    while (!stop) {
      const d = chunk(n++);
      tx.update(d);
      sent += d.length;
      if (!c.write(d)) { c.once('drain', pump); return; }
    }
  };
  c.on('connect', () => { t0 = last = clock.now(); pump(); });
  await settle(clock, () => t0 >= 0 && clock.now() - t0 >= RUN_MS, 60_000, `netsim ${cc} ${rcvbuf}/${loss}`);
  stop = true;
  maxGapMs = Math.max(maxGapMs, Math.round(t0 + RUN_MS - last));
  c.end();
  await settle(clock, () => ended, 120_000, `netsim ${cc} ${rcvbuf}/${loss}: the rest of the stream`);
  const st = a.stats(), rs = b.stats();
  await a.close(); await b.close();
  return {
    mbps: (inWindow * 8) / (RUN_MS / 1000) / 1e6, rto: st.tcpRto!, retrans: st.tcpRetrans!, maxGapMs,
    sent, received, intact: rx.digest('hex') === tx.digest('hex'), dupShare: rs.tcpDup! / rs.tcpRx!,
  };
}

const pct = (x: number) => `${+(x * 100).toFixed(1)}%`;
/** The receive window's rate: at most rcvbuf bytes per round trip. */
const windowMbps = (rcvbuf: number) => (rcvbuf * 8) / RTT_S / 1e6;
/** Mathis et al.: MSS/RTT × √(3/2p), the loss-limited rate of a Reno flow. */
const mathisMbps = (loss: number) => ((MSS * 8) / RTT_S / 1e6) * Math.sqrt(1.5 / loss);

test('netsim: every receive buffer × loss cell delivers its stream intact, at a goodput within its bounds', async () => {
  const t0 = Date.now();
  const cells = new Map<string, Cell>();
  const lines = [
    `two stacks, ${DELAY_MS} ms each way (RTT ${2 * DELAY_MS} ms), seeded loss both ways, MTU 1500, CUBIC, ${RUN_MS} ms of virtual time;`,
    'Mbit/s delivered (sender RTOs, retransmitted segments, longest gap in ms)',
    ['rcvbuf \\ loss', ...LOSSES.map(pct)].map((s) => s.padStart(24)).join(''),
  ];
  for (const buf of BUFS) {
    const row = [`${buf >> 10} KiB`];
    for (const loss of LOSSES) {
      const r = await cell(buf, loss);
      cells.set(`${buf}/${loss}`, r);
      row.push(`${r.mbps.toFixed(2)} (${r.rto}, ${r.retrans}, ${r.maxGapMs})`);
    }
    lines.push(row.map((s) => s.padStart(24)).join(''));
  }
  console.log(`${lines.join('\n')}\n(${Date.now() - t0} ms real)`);

  for (const buf of BUFS) {
    for (const loss of LOSSES) {
      const r = cells.get(`${buf}/${loss}`)!;
      const at = `${buf >> 10} KiB, ${pct(loss)} loss`;
      assert.is(r.received, r.sent, `${at}: every byte written arrived`);
      assert.ok(r.intact, `${at}: the stream arrived intact and in order`);
      const win = windowMbps(buf);
      assert.ok(r.mbps <= win * 1.05, `${at}: ${r.mbps.toFixed(2)} Mbit/s is more than the window allows (${win.toFixed(2)})`);
      const floor = loss === 0 ? 0.7 * win : 0.5 * Math.min(win, mathisMbps(loss));
      assert.ok(r.mbps >= floor, `${at}: ${r.mbps.toFixed(2)} Mbit/s, under the ${floor.toFixed(2)} a working TCP reaches`);
      if (loss === 0) assert.is(r.retrans, 0, `${at}: nothing retransmitted on a clean link`);
      assert.ok(r.maxGapMs <= MAX_GAP_MS, `${at}: ${r.maxGapMs} ms without delivering a byte`);
    }
  }
  // Same seeds everywhere: the cells differ only in the parameter, so allow
  // only a small wobble against the expected direction.
  for (const buf of BUFS) {
    for (let i = 1; i < LOSSES.length; i++) {
      const more = cells.get(`${buf}/${LOSSES[i]}`)!.mbps, less = cells.get(`${buf}/${LOSSES[i - 1]}`)!.mbps;
      assert.ok(more <= less * 1.1, `${buf >> 10} KiB: ${pct(LOSSES[i])} loss (${more.toFixed(2)}) beats ${pct(LOSSES[i - 1])} (${less.toFixed(2)})`);
    }
  }
  for (const loss of LOSSES) {
    for (let i = 1; i < BUFS.length; i++) {
      const big = cells.get(`${BUFS[i]}/${loss}`)!.mbps, small = cells.get(`${BUFS[i - 1]}/${loss}`)!.mbps;
      assert.ok(big >= small * 0.9, `${pct(loss)} loss: ${BUFS[i] >> 10} KiB (${big.toFixed(2)}) under ${BUFS[i - 1] >> 10} KiB (${small.toFixed(2)})`);
    }
  }
});

test('netsim with BBR: under loss the window holds, many times CUBIC\'s goodput, with few segments sent twice', async () => {
  const lines = [`the same links, BBR; the receiver's share of duplicate segments in brackets`];
  for (const buf of [256 << 10, 1 << 20]) {
    const row = [`${buf >> 10} KiB`];
    for (const loss of [0, 0.01, 0.05]) {
      const at = `BBR, ${buf >> 10} KiB, ${pct(loss)} loss`;
      const r = await cell(buf, loss, 'bbr');
      row.push(`${r.mbps.toFixed(2)} (${r.rto}, ${r.retrans}, ${r.maxGapMs}) [${pct(r.dupShare)}]`);
      assert.is(r.received, r.sent, `${at}: every byte written arrived`);
      assert.ok(r.intact, `${at}: the stream arrived intact and in order`);
      const win = windowMbps(buf);
      assert.ok(r.mbps <= win * 1.05, `${at}: ${r.mbps.toFixed(2)} Mbit/s is more than the window allows (${win.toFixed(2)})`);
      assert.ok(r.maxGapMs <= MAX_GAP_MS, `${at}: ${r.maxGapMs} ms without delivering a byte`);
      if (loss === 0) {
        assert.ok(r.mbps >= 0.7 * win, `${at}: ${r.mbps.toFixed(2)} Mbit/s, under 0.7 of the window's ${win.toFixed(2)}`);
        assert.is(r.retrans, 0, `${at}: nothing retransmitted on a clean link`);
        continue;
      }
      // CUBIC's cell with the same seeds, measured above: 9 and 3.5 Mbit/s.
      const cubic = (await cell(buf, loss)).mbps;
      assert.ok(r.mbps >= 3 * cubic, `${at}: ${r.mbps.toFixed(2)} Mbit/s, under 3× CUBIC's ${cubic.toFixed(2)}`);
      // The receiver reports every SACK block, so little arrives twice.
      assert.ok(r.dupShare <= 0.05, `${at}: ${pct(r.dupShare)} of the segments received were duplicates`);
    }
    lines.push(row.map((x) => x.padStart(34)).join(''));
  }
  console.log(lines.join('\n'));
});

test.run();
