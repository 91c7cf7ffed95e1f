// A deterministic network simulation, after smoltcp's tests/netsim.rs: two
// stacks over a link with delay and seeded loss (both directions) on a
// virtual clock, one bulk sender, and a receive-buffer × loss-rate table of
// the throughput delivered. The table is checked in (netsim.expected.txt)
// and must match exactly; UPDATE_NETSIM=1 rewrites it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pair, settle } from './helpers.ts';
import { withFaults } from '../../host/link/faults.ts';
import { VirtualClock } from '../../host/clock.ts';
import type { Socket } from '../../host/net/net.ts';
import type { Link } from '../../host/link/link.ts';

const DELAY_MS = 10;          // each way: RTT 20 ms
const RUN_MS = 3000;          // virtual time the sender keeps the pipe full
const BUFS = [64 << 10, 256 << 10, 1 << 20];
const LOSSES = [0, 0.001, 0.01, 0.05];
const SEED = 20240601;

/** Bytes delivered in RUN_MS of virtual time after the handshake. */
async function cell(rcvbuf: number, loss: number): Promise<{ bytes: number; rto: number; retrans: number }> {
  const clock = new VirtualClock();
  const wrap = (l: Link, side: 'a' | 'b') => withFaults(l, { seed: SEED + (side === 'a' ? 1 : 2), clock, tx: { loss, delayMs: DELAY_MS } });
  const { a, b } = pair({ clock, wrap, seed: SEED, limits: { tcpReceiveBuffer: rcvbuf, tcpSendBuffer: 1 << 20 } });
  let got = 0, t0 = -1;
  b.net.createServer((s: Socket) => { s.on('data', (d: Buffer) => { if (clock.now() - t0 <= RUN_MS) got += d.length; }); }).listen(5001);
  const c = a.net.connect({ port: 5001, host: '10.0.0.2' });
  const chunk = Buffer.alloc(64 << 10, 0x6e);
  let stop = false;
  const pump = () => { while (!stop) if (!c.write(chunk)) { c.once('drain', pump); return; } };
  c.on('connect', () => { t0 = clock.now(); pump(); });
  await settle(clock, () => t0 >= 0 && clock.now() - t0 >= RUN_MS, 60_000, `netsim ${rcvbuf}/${loss}`);
  stop = true;
  const st = a.stats();
  c.destroy();
  await a.close(); await b.close();
  return { bytes: got, rto: st.tcpRto, retrans: st.tcpRetrans };
}

function pct(x: number): string { return `${+(x * 100).toFixed(1)}%`; }

test('netsim: receive buffer × loss throughput table matches netsim.expected.txt', async () => {
  const t0 = Date.now();
  const lines = [
    `# test/tcp/netsim.test.ts: two stacks, ${DELAY_MS} ms each way (RTT ${2 * DELAY_MS} ms), seeded loss both ways,`,
    `# MTU 1500, CUBIC, ${RUN_MS} ms of virtual time; Mbit/s delivered (sender RTOs, retransmitted segments)`,
    ['rcvbuf \\ loss', ...LOSSES.map(pct)].map((s) => s.padStart(22)).join(''),
  ];
  for (const buf of BUFS) {
    const row = [`${buf >> 10} KiB`];
    for (const loss of LOSSES) {
      const r = await cell(buf, loss);
      row.push(`${((r.bytes * 8) / (RUN_MS / 1000) / 1e6).toFixed(2)} (${r.rto}, ${r.retrans})`);
    }
    lines.push(row.map((s) => s.padStart(22)).join(''));
  }
  const table = lines.join('\n') + '\n';
  console.log(table + `(${Date.now() - t0} ms real)`);
  const file = join(process.cwd(), 'test/tcp/netsim.expected.txt');
  if (process.env.UPDATE_NETSIM === '1' || !existsSync(file)) {
    writeFileSync(file, table);
    console.log(`wrote ${file}`);
  }
  assert.fixture(table, readFileSync(file, 'utf8'));
});

test.run();
