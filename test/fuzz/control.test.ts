// The cluster's control messages, fuzzed as frames are: seeded mutations of
// real messages (bytes flipped, cut short, lengthened, counts bent), some
// sealed again under the cluster key so that they pass the MAC and reach the
// body checks and the routing stack's use of them. Oracles: no trap; every
// datagram is accepted or refused under exactly one reason; the routing
// stack's tables stay sane (no target from a stranger, no CRT entry out of
// thin air).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { ipv4, udp, PROTO_UDP, seedFrom } from '../helpers/frames.ts';
import { Random } from '../../host/random.ts';
import { rig, ready, VIPA, KEY, RAW_IP } from '../cluster/rig.ts';

const N = Number(process.env.FUZZ_CONTROL ?? 3000);
const REASONS = ['Short', 'BadVersion', 'UnknownType', 'BadLength', 'BadMac', 'Replay', 'BadBody', 'NoRoom'];

function seal(type: number, body: Uint8Array, sender: number, epoch: number, seq: number): Uint8Array {
  const m = new Uint8Array(16 + body.length + 32);
  const d = new DataView(m.buffer);
  m[0] = 1; m[1] = type; d.setUint16(2, body.length); d.setUint32(4, epoch); d.setUint32(8, seq); d.setUint32(12, sender);
  m.set(body, 16);
  m.set(createHmac('sha256', KEY).update(m.subarray(0, 16 + body.length)).digest(), 16 + body.length);
  return m;
}

/** Bodies of each type, as a target (10.0.0.11) or a stranger would send them. */
function bodies(r: Random): [number, Uint8Array][] {
  const b = (n: number, f: (d: DataView) => void) => { const u = new Uint8Array(n); f(new DataView(u.buffer)); return u; };
  const vipa = 0x0a000064;
  return [
    [1, b(16 + 4 + 12, (d) => { d.setUint32(0, vipa); d.setUint32(4, 0x0a000001); d.setUint8(9, 1); d.setUint8(11, 1);
      d.setUint16(16, 80); d.setUint16(18, 80); d.setUint32(20, 0x0a000032); d.setUint16(24, 1); d.setUint16(26, 1); })],
    [2, b(4, (d) => { d.setUint8(0, 100); d.setUint16(2, 100); })],
    [3, b(16 + 4, (d) => { d.setUint32(0, vipa); d.setUint16(12, 1); d.setUint16(16, 80); d.setUint16(18, r.int(3)); })],
    [4, b(4 + 12, (d) => { d.setUint16(0, 1); d.setUint32(4, 0x0b000001); d.setUint32(8, vipa); d.setUint16(12, 4000); d.setUint16(14, 80); })],
    [5, b(4 + 12, (d) => { d.setUint16(0, 1); d.setUint32(4, 0x0b000001); d.setUint32(8, vipa); d.setUint16(12, 4000); d.setUint16(14, 80); })],
    [6, b(12 + 8, (d) => { d.setUint32(0, vipa); d.setUint8(5, 1); d.setUint16(10, 1); d.setUint32(12, 0x0b000002); d.setUint16(16, 4001); d.setUint16(18, 80); })],
  ];
}

function mutate(m: Uint8Array, r: Random): Uint8Array {
  switch (r.int(5)) {
    case 0: { const c = m.slice(); for (let k = 1 + r.int(4); k > 0; k--) c[r.int(c.length)] ^= 1 << r.int(8); return c; }
    case 1: return m.slice(0, r.int(m.length));
    case 2: { const c = new Uint8Array(m.length + 1 + r.int(40)); c.set(m); return c; }
    case 3: { const c = m.slice(); c[2] = r.int(256); c[3] = r.int(256); return c; }
    default: return m.slice();
  }
}

test('control messages: mutated and resealed ones never trap, each is counted once, and none takes over the tables', async () => {
  const seed = seedFrom('FUZZ_SEED', 'control messages');
  const r = new Random(seed);
  const k = rig(1);
  k.route();
  await k.settle(() => k.t[0].clusterView().length === 1, 'learned');
  await k.settle(() => false, 'the first status delivered', 20).catch(() => {});
  const before = k.r.stats(), fromTarget = k.t[0].stats().clusterCtlTx;
  const target = 0x0a00000b, stranger = 0x0a000032;
  let epoch = 1000, seq = 1;
  for (let i = 0; i < N; i++) {
    const all = bodies(r);
    const [type, body] = all[r.int(all.length)];
    // Half sealed after the mutation (they reach the body checks), half mutated after sealing (they should die at the MAC or before).
    let msg: Uint8Array;
    if (r.int(2)) {
      const bent = r.int(2) ? mutate(body, r) : body;
      msg = seal(r.int(8) === 0 ? r.int(9) : type, bent, r.int(3) ? target : stranger, epoch, seq++);
      if (r.int(16) === 0) { msg[0] = r.int(3); }
    } else msg = mutate(seal(type, body, target, epoch, seq++), r);
    if (r.int(64) === 0) epoch++;
    k.raw.ip(k.r.macs[0], ipv4({ src: RAW_IP, dst: '10.0.0.1', proto: PROTO_UDP,
      payload: udp({ src: RAW_IP, dst: '10.0.0.1', sport: 7310, dport: 7310, payload: msg }) }));
    if (i % 64 === 63) await k.settle(() => true, 'tick');
  }
  await k.settle(() => false, 'drain', 100).catch(() => {});
  const after = k.r.stats();
  const d = (n: string) => after[n] - before[n];
  const refused = REASONS.reduce((s, x) => s + d(`clusterCtl${x}`), 0);
  const real = k.t[0].stats().clusterCtlTx - fromTarget;   // the target's own statuses and reports, meanwhile
  assert.is(d('clusterCtlRx') + refused, N + real, `seed ${seed}: every message accepted or refused once (${d('clusterCtlRx')} accepted)`);
  assert.ok(refused > N / 4, `seed ${seed}: many refused`);
  assert.ok(d('clusterCtlRx') > 10, `seed ${seed}: some accepted`);
  assert.ok(!ready(k.r).includes('10.0.0.50'), 'a stranger never became a target');
  assert.ok(k.r.routingTable(VIPA).every((e) => e.target === '10.0.0.11'), 'entries only for the candidate target');
});

test.run();
