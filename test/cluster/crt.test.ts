// The connection routing table (assembly/cluster/crt.ts) against a Map model
// under a seeded random mix of inserts, lookups, removals and expiry; the
// full-table policy; incremental expiry with bounded work per call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Random } from '../../host/random.ts';
import { seedFrom } from '../helpers/frames.ts';
import { ClusterCore } from './core.ts';

const ENT_TARGET = 20, ENT_STATE = 22, ENT_FRAMES = 24;
const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04;
const VIPA = 0x0a000064;

test('insert, lookup, states, remove', () => {
  const c = new ClusterCore({ crtMax: 100 });
  const x = c.ex;
  assert.is(x.t_crt_slots(), 115, '100 * 8/7 + 1');
  assert.is(x.t_crt_lookup(0x0a000105, 40000, VIPA, 80), 0);
  const e = x.t_crt_insert(0x0a000105, 40000, VIPA, 80, 7, 1000);
  assert.ok(e);
  assert.is(x.t_crt_insert(0x0a000105, 40000, VIPA, 80, 9, 1000), e, 'an existing entry is returned, not doubled');
  assert.is(x.t_crt_lookup(0x0a000105, 40000, VIPA, 80), e);
  assert.is(x.t_crt_lookup(0x0a000105, 40001, VIPA, 80), 0);
  assert.is(x.t_crt_lookup(0x0a000105, 40000, VIPA, 81), 0);
  assert.is(c.u16(e + ENT_TARGET), 7);
  assert.is(c.u8[e + ENT_STATE], 1);
  assert.is(x.t_crt_seen(e, SYN, 1001), 0, 'a retransmitted SYN changes nothing');
  assert.is(x.t_crt_seen(e, ACK, 1002), 1, 'the client ACK completes the handshake');
  assert.is(c.u8[e + ENT_STATE], 2);
  assert.is(x.t_crt_seen(e, ACK, 1003), 0, 'only once');
  assert.is(c.u32(e + ENT_FRAMES), 3);
  x.t_crt_seen(e, FIN | ACK, 1004);
  assert.is(c.u8[e + ENT_STATE], 3);
  assert.is(x.t_crt_insert(0, 1, VIPA, 80, 1, 0), 0, 'client address 0 marks empty slots: refused');
  assert.is(x.t_crt_remove(0x0a000105, 40000, VIPA, 80), 7);
  assert.is(x.t_crt_remove(0x0a000105, 40000, VIPA, 80), -1);
  assert.is(x.t_crt_lookup(0x0a000105, 40000, VIPA, 80), 0);
  assert.is(x.t_crt_stat(0), 0);
  void RST;
});

test('full: new entries refused and counted, existing ones kept', () => {
  const c = new ClusterCore({ crtMax: 50 });
  const x = c.ex;
  for (let i = 0; i < 50; i++) assert.ok(x.t_crt_insert(0x0b000000 + i, 1000 + i, VIPA, 80, i, 0));
  assert.is(x.t_crt_insert(0x0c000001, 5, VIPA, 80, 1, 0), 0);
  assert.is(x.t_crt_stat(1), 1, 'crtFull');
  for (let i = 0; i < 50; i++) assert.is(c.u16(x.t_crt_lookup(0x0b000000 + i, 1000 + i, VIPA, 80) + ENT_TARGET), i);
  assert.ok(x.t_crt_insert(0x0b000003, 1003, VIPA, 80, 99, 0), 'an existing entry is still found when full');
  x.t_crt_remove(0x0b000000, 1000, VIPA, 80);
  assert.ok(x.t_crt_insert(0x0c000001, 5, VIPA, 80, 1, 0), 'room again after a removal');
});

test('random operations against a model (seeded)', () => {
  const seed = seedFrom('CRT_SEED', 'crt model');
  const r = new Random(seed);
  const max = 3000;
  const c = new ClusterCore({ crtMax: max, seed, synMs: 500, idleMs: 5000 });
  const x = c.ex;
  const model = new Map<string, { t: number; last: number; est: boolean }>();
  // A small key space, so that runs collide and deletions shift them.
  const key = () => [0x0a010000 + r.int(64), 1024 + r.int(48), VIPA + r.int(2), 80 + r.int(2)] as const;
  const out = x.t_alloc(16 * 64);
  let now = 0;
  for (let step = 0; step < 300_000; step++) {
    const op = r.int(100);
    const k = key(), ks = k.join(':');
    if (op < 40) {
      const e = x.t_crt_insert(k[0], k[1], k[2], k[3], step & 0xffff, now);
      const m = model.get(ks);
      if (m) assert.is(c.u16(e + ENT_TARGET), m.t, `seed ${seed} step ${step}: insert of a present key`);
      else if (model.size >= max) assert.is(e, 0);
      else { assert.ok(e, `seed ${seed} step ${step}: insert refused at ${model.size}`); model.set(ks, { t: step & 0xffff, last: now, est: false }); }
    } else if (op < 70) {
      const e = x.t_crt_lookup(k[0], k[1], k[2], k[3]);
      const m = model.get(ks);
      assert.is(e !== 0, m !== undefined, `seed ${seed} step ${step}: lookup ${ks}`);
      if (m) {
        assert.is(c.u16(e + ENT_TARGET), m.t);
        if (x.t_crt_seen(e, ACK, now)) m.est = true;
        m.last = now;
      }
    } else if (op < 85) {
      const m = model.get(ks);
      assert.is(x.t_crt_remove(k[0], k[1], k[2], k[3]), m ? m.t : -1, `seed ${seed} step ${step}: remove`);
      model.delete(ks);
    } else if (op < 98) {
      now += r.int(50);
    } else {
      const n = x.t_crt_expire(now, 1 + r.int(64), out, 64);
      for (let i = 0; i < n; i++) {
        const o = out + 16 * i, ports = c.u32(o + 8), w = c.u32(o + 12);
        const ks2 = [c.u32(o), ports >>> 16, c.u32(o + 4), ports & 0xffff].join(':');
        const m = model.get(ks2);
        assert.ok(m, `seed ${seed} step ${step}: expired ${ks2}, which the model does not hold`);
        assert.is(w & 0xffff, m!.t);
        assert.is(w >>> 16, m!.est ? 2 : 1);
        assert.ok(now - m!.last > (m!.est ? 5000 : 500), `seed ${seed} step ${step}: ${ks2} expired early`);
        assert.is(x.t_crt_lookup(c.u32(o), ports >>> 16, c.u32(o + 4), ports & 0xffff), 0);
        model.delete(ks2);
      }
    }
    assert.is(x.t_crt_stat(0), model.size);
  }
  // Every slot holds an entry of the model, reachable by lookup.
  let n = 0;
  for (let i = 0; i < x.t_crt_slots(); i++) if (x.t_crt_at(i)) n++;
  assert.is(n, model.size);
  for (const [ks, m] of model) {
    const k = ks.split(':').map(Number);
    assert.is(c.u16(x.t_crt_lookup(k[0], k[1], k[2], k[3]) + ENT_TARGET), m.t, `seed ${seed}: ${ks} at the end`);
  }
});

test('expiry is incremental: bounded work per call, and everything idle goes within two rounds', () => {
  const c = new ClusterCore({ crtMax: 20_000, synMs: 100, idleMs: 1000 });
  const x = c.ex;
  const slots = x.t_crt_slots();
  const out = x.t_alloc(16 * 1024);
  for (let i = 0; i < 20_000; i++) {
    const e = x.t_crt_insert(0x0a000000 + i, 1 + (i % 60000), VIPA, 443, i & 0xffff, 0);
    if (i % 2) x.t_crt_seen(e, ACK, 0);   // half established
  }
  // At 500 ms only the SYN entries are idle past their timeout. A slot whose
  // entry went is looked at again (the run shifted back), so a round costs the
  // slots plus the entries removed, and an entry shifted behind the cursor
  // waits for the next round.
  let gone = 0;
  for (let spent = 0; spent < 2 * slots + 10_000; spent += 256) gone += x.t_crt_expire(500, 256, out, 1024);
  assert.is(gone, 10_000);
  assert.is(x.t_crt_stat(0), 10_000);
  // A call never removes more than its out capacity, nor looks at more than its budget.
  const before = x.t_crt_stat(0);
  const n1 = x.t_crt_expire(5000, 1_000_000, out, 10);
  assert.is(n1, 10);
  assert.is(x.t_crt_stat(0), before - 10);
  const n2 = x.t_crt_expire(5000, 3, out, 1024);
  assert.ok(n2 <= 3);
  for (let i = 0; i < (2 * slots + 20_000) / 512; i++) x.t_crt_expire(5000, 512, out, 1024);
  assert.is(x.t_crt_stat(0), 0, 'the CRT is empty once everything idled out');
});

test.run();
