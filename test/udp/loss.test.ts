// 10,000 UDP datagrams through a lossy, then a corrupting, link (seeded; the
// seed is printed and replays from UDP_LOSS_SEED). Every datagram carries its
// sequence number and a hash of its content: each one is either delivered
// intact exactly once or accounted for by the fault layer; a corrupted one is
// never delivered, its drop is counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { withFaults, type FaultDirection } from '../../host/link/faults.ts';
import { Random } from '../../host/random.ts';
import { Sniff, drive, ticks, parse, seedFrom, fnv32, type Parsed } from '../helpers/frames.ts';

const N = 10_000;
const PORT = 9000;

function datagram(rng: Random, seq: number): Uint8Array {
  const b = new Uint8Array(8 + rng.int(1400));
  for (let i = 8; i < b.length; i++) b[i] = rng.int(256);
  const v = new DataView(b.buffer);
  v.setUint32(0, seq);
  v.setUint32(4, fnv32(b, 8) ^ seq);
  return b;
}
function check(m: Uint8Array): { seq: number; ok: boolean } {
  if (m.length < 8) return { seq: -1, ok: false };
  const v = new DataView(m.buffer, m.byteOffset, m.length);
  const seq = v.getUint32(0);
  return { seq, ok: v.getUint32(4) === ((fnv32(m, 8) ^ seq) >>> 0) };
}
const isData = (p: Parsed) => p.udp?.dport === PORT;

/** a → pre-fault sniffer → faults → post-fault sniffer → switch ← b. */
async function rig(seed: number, tx: FaultDirection) {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch();
  const post = new Sniff(sw.connect());
  const faults = withFaults(post, { seed, tx, clock });
  const pre = new Sniff(faults);
  const a = Stack.createSync({ name: 'a', link: pre, address: '10.0.0.1/24', clock, seed, debug: true });
  const b = Stack.createSync({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', clock, seed: seed + 1, debug: true });
  // Resolve first (pings may be lost too): datagrams should meet the link's faults, not the ARP queue.
  for (let i = 0; ; i++) {
    try { await drive(clock, a.ping('10.0.0.2', { timeout: 2000 })); break; } catch (e) { if (i > 20) throw e; }
  }
  const rx = b.dgram.createSocket('udp4');
  const got: Buffer[] = [];
  rx.on('message', (m) => got.push(m));
  rx.bind(PORT);
  const txs = a.dgram.createSocket('udp4');
  await ticks();
  pre.clear(); post.clear();
  const before = faults.stats();
  const rng = new Random(seed);
  for (let seq = 0; seq < N; seq++) {
    txs.send(datagram(rng, seq), PORT, '10.0.0.2');
    if (seq % 64 === 63) clock.advance(1);   // a paced sender: the receiver reads between bursts
  }
  clock.advance(1000);
  const after = faults.stats();
  /** What the fault layer did to the frames of the data phase. */
  const did = { lost: after.txLost - before.txLost, corrupted: after.txCorrupted - before.txCorrupted };
  return { clock, a, b, pre, post, did, got };
}

test(`${N} datagrams under 5% loss: each delivered intact exactly once, or lost on the link`, async () => {
  const seed = seedFrom('UDP_LOSS_SEED', 'udp 5% loss');
  const { a, b, pre, post, did, got } = await rig(seed, { loss: 0.05 });
  const sent = pre.tx.map(parse);
  const passed = post.tx.map(parse);
  assert.is(sent.filter(isData).length, N, 'every datagram reached the link');
  const seqs = got.map((m) => check(m));
  assert.ok(seqs.every((s) => s.ok), 'none corrupted');
  const delivered = seqs.map((s) => s.seq);
  assert.is(new Set(delivered).size, delivered.length, 'none delivered twice');
  const onWire = passed.filter(isData).map((p) => check(p.udp!.payload).seq);
  assert.equal([...delivered].sort((x, y) => x - y), [...onWire].sort((x, y) => x - y),
    'delivered exactly the datagrams that got past the loss');
  const lostData = N - onWire.length;
  const lostOther = sent.filter((p) => !isData(p)).length - passed.filter((p) => !isData(p)).length;
  assert.is(lostData + lostOther, did.lost, 'every missing datagram is a counted loss');
  const sd = Math.sqrt(N * 0.05 * 0.95);
  assert.ok(Math.abs(lostData - N * 0.05) < 5 * sd, `lost ${lostData} of ${N} (seed ${seed})`);
  const st = b.stats();
  assert.is(st.udpRcvbufFull, 0);
  assert.is(st.udpBadChecksum + st.ipBadChecksum, 0);
  assert.is(a.stats().arpQueueFull, 0);
  console.log(`  delivered ${delivered.length}, lost ${lostData}`);
  await a.close(); await b.close();
});

test(`${N} datagrams under 5% corruption: corrupted ones are dropped by a checksum, never delivered`, async () => {
  const seed = seedFrom('UDP_CORRUPT_SEED', 'udp 5% corruption');
  const { a, b, pre, post, did, got } = await rig(seed, { corrupt: 0.05 });
  // Nothing is lost or reordered: the i-th frame in is the i-th frame out, so each flipped bit is known.
  assert.is(pre.tx.length, post.tx.length);
  const delivered = new Map<number, boolean>();
  for (const m of got) {
    const c = check(m);
    assert.ok(c.ok, `delivered datagram ${c.seq} intact`);
    assert.not.ok(delivered.has(c.seq), `datagram ${c.seq} once`);
    delivered.set(c.seq, true);
  }
  let corrupted = 0, corruptedData = 0, droppedData = 0, harmless = 0;
  const where: Record<string, number> = {};
  for (let i = 0; i < pre.tx.length; i++) {
    const x = pre.tx[i], y = post.tx[i];
    const at = x.findIndex((v, j) => v !== y[j]);
    if (at < 0) continue;
    corrupted++;
    const p = parse(x);
    if (!isData(p)) continue;
    corruptedData++;
    const seq = check(p.udp!.payload).seq;
    const region = at < 6 ? 'eth dst' : at < 12 ? 'eth src' : at < 14 ? 'ethertype' : at < 34 ? 'ip header' : at < 40 ? 'udp header' : at < 42 ? 'udp checksum' : 'payload';
    where[region] = (where[region] ?? 0) + 1;
    if (delivered.has(seq)) {
      // No checksum covers the Ethernet source address; a flip that turns the UDP
      // checksum into 0 (no checksum) leaves the data itself intact. Anything else must not get through.
      assert.ok(region === 'eth src' || region === 'udp checksum', `datagram ${seq} with a flipped bit in its ${region} was delivered`);
      harmless++;
    } else droppedData++;
  }
  assert.is(corrupted, did.corrupted);
  assert.ok(corruptedData > 300, `${corruptedData} datagrams corrupted`);
  assert.is(delivered.size, N - droppedData, 'every uncorrupted datagram was delivered');
  const st = b.stats();
  const drops = ['rxNotForUs', 'rxEthertype', 'ipBadVersion', 'ipBadHlen', 'ipBadLen', 'ipBadChecksum', 'ipMartian',
    'ipNotLocal', 'ipMulticast', 'udpBadChecksum', 'udpBadLen', 'udpNoPort'].reduce((n, k) => n + st[k], 0);
  assert.ok(st.udpBadChecksum > 0 && st.ipBadChecksum > 0, `checksums caught them: udp ${st.udpBadChecksum}, ip ${st.ipBadChecksum}`);
  assert.ok(drops >= droppedData && drops <= corrupted, `b counted ${drops} drops for ${droppedData} corrupted datagrams`);
  console.log(`  corrupted ${corruptedData} datagrams (${JSON.stringify(where)}), dropped ${droppedData}, harmless ${harmless}`);
  await a.close(); await b.close();
});

test.run();
