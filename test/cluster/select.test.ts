// The DPT (assembly/cluster/dpt.ts) and the choice of a target by method
// (assembly/cluster/select.ts), over three targets: each method's
// distribution, checked statistically where it is random; hotstandby's
// return to the preferred target; hash's consistency and its disruption when
// a target leaves or joins; health from the data path; full tables counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Random } from '../../host/random.ts';
import { seedFrom } from '../helpers/frames.ts';
import { ClusterCore } from './core.ts';

const RR = 0, WEIGHTED = 1, LEASTCONN = 2, HOTSTANDBY = 3, HASH = 4;
const VIPA = 0x0a000064, T = [0x0a00000b, 0x0a00000c, 0x0a00000d, 0x0a00000e];
const D_LISTENERS = 8, D_TOTAL = 12, D_ACTIVE = 16, D_SYNS = 20, D_ESTABLISHED = 24, D_OVERFLOWS = 28;
const R_NO_TARGET = 20;

/** A row of VIPA:80 with targets 0..n-1 (ids 1..n), all listening. */
function row(method: number, weights = [1, 1, 1], o: { rows?: number; perRow?: number; maglev?: number } = {}) {
  const c = new ClusterCore(o);
  const x = c.ex;
  const r = x.t_dpt_row(VIPA, 80, method);
  assert.ok(r);
  weights.forEach((w, i) => { assert.is(x.t_dpt_target(r, T[i], i + 1, w, i), i); x.t_dpt_status(r, i, 1, 0); });
  /** A new connection: the slot chosen, counted in the DPT as forwarded and (unless told) established. */
  const pick = (client: number, now = 0, establish = true) => {
    const i = x.t_select(r, client, now);
    if (i >= 0) { x.t_dpt_conn_new(r, i); if (establish) x.t_dpt_established(r, i); }
    return i;
  };
  const field = (i: number, f: number) => c.u32(x.t_dpt_slot(r, i) + f);
  return { c, x, r, pick, field };
}

/** Pearson's chi-square of counts against expected shares. */
function chi2(counts: number[], shares: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0), s = shares.reduce((a, b) => a + b, 0);
  return counts.reduce((acc, k, i) => { const e = (n * shares[i]) / s; return acc + (k - e) ** 2 / e; }, 0);
}
const CHI2_2DOF_P0001 = 18.42;

test('roundrobin: in turn, skipping a target that is not listening', () => {
  const { x, r, pick } = row(RR);
  const n = [0, 0, 0];
  for (let i = 0; i < 3000; i++) n[pick(i + 1)]++;
  assert.equal(n, [1000, 1000, 1000]);
  x.t_dpt_status(r, 1, 0, 0);
  const seq = Array.from({ length: 6 }, (_, i) => pick(i + 1));
  assert.ok(!seq.includes(1), 'a withdrawn target gets nothing');
  assert.equal(seq.filter((s) => s === 0).length, 3);
});

test('weighted: active connections stay in proportion to the weights (seeded random ends)', () => {
  const seed = seedFrom('SELECT_SEED', 'weighted');
  const rnd = new Random(seed);
  const w = [3, 2, 1];
  const { x, r, pick, field } = row(WEIGHTED, w);
  // Connections that never end: totals exactly in proportion.
  for (let i = 0; i < 600; i++) pick(i + 1);
  assert.equal([0, 1, 2].map((i) => field(i, D_ACTIVE)), [300, 200, 100]);
  // Random ends, new connections in between: the active counts track the weights.
  let worst = 0;
  for (let step = 0; step < 20_000; step++) {
    if (rnd.int(2)) pick(step);
    else {
      const active = [0, 1, 2].map((i) => field(i, D_ACTIVE));
      const sum = active.reduce((a, b) => a + b, 0);
      let k = rnd.int(sum);
      const i = active.findIndex((a) => (k -= a) < 0);
      x.t_dpt_conn_end(r, i);
    }
    const active = [0, 1, 2].map((i) => field(i, D_ACTIVE));
    const sum = active.reduce((a, b) => a + b, 0);
    if (sum >= 60) worst = Math.max(worst, ...active.map((a, i) => Math.abs(a / sum - w[i] / 6)));
  }
  assert.ok(worst < 0.15, `seed ${seed}: active shares strayed ${worst.toFixed(3)} from the weights`);
});

test('leastconn: the fewest active connections; ties go round (seeded random ends)', () => {
  const seed = seedFrom('SELECT_SEED', 'leastconn');
  const rnd = new Random(seed);
  const { x, r, pick, field } = row(LEASTCONN);
  for (let i = 0; i < 300; i++) pick(i);
  assert.equal([0, 1, 2].map((i) => field(i, D_ACTIVE)), [100, 100, 100]);
  for (let i = 0; i < 50; i++) x.t_dpt_conn_end(r, 2);
  for (let i = 0; i < 50; i++) assert.is(pick(i), 2, 'the emptied target first');
  for (let step = 0; step < 10_000; step++) {
    if (rnd.int(2)) {
      const active = [0, 1, 2].map((i) => field(i, D_ACTIVE));
      assert.is(active[pick(step)], Math.min(...active), `seed ${seed} step ${step}: not the least loaded`);
    } else { const i = rnd.int(3); if (field(i, D_ACTIVE)) x.t_dpt_conn_end(r, i); }
  }
  const before = [0, 1, 2].map((i) => field(i, D_ACTIVE));
  assert.is(before[pick(1)], Math.min(...before));
});

test('hotstandby: the preferred target while it is ready, ranked standbys, back to the preferred one', () => {
  const { x, r, pick } = row(HOTSTANDBY);
  for (let i = 0; i < 10; i++) assert.is(pick(i), 0);
  x.t_dpt_status(r, 0, 0, 0);
  for (let i = 0; i < 10; i++) assert.is(pick(i), 1, 'the first standby');
  x.t_dpt_status(r, 1, 0, 0);
  assert.is(pick(1), 2, 'the second standby');
  x.t_dpt_status(r, 0, 2, 0);
  assert.is(pick(1), 0, 'the preferred target again once it listens');
});

test('hash: spread over three targets, the same client to the same target (seeded)', () => {
  const seed = seedFrom('SELECT_SEED', 'hash spread');
  const rnd = new Random(seed);
  const { pick } = row(HASH);
  const n = [0, 0, 0];
  const clients = Array.from({ length: 30_000 }, () => rnd.u32() || 1);
  const first = clients.map((cl) => pick(cl));
  first.forEach((i) => n[i]++);
  const x2 = chi2(n, [1, 1, 1]);
  // Maglev's table gives each of 3 targets 21 845 or 21 846 of its 65 537 entries: near uniform.
  assert.ok(x2 < CHI2_2DOF_P0001, `seed ${seed}: chi-square ${x2.toFixed(2)} for ${n}`);
  clients.forEach((cl, k) => assert.is(pick(cl), first[k]));
});

test('hash: when one of three targets leaves about 1/3 of the clients move, and only its own; when one joins, about 1/4', () => {
  const seed = seedFrom('SELECT_SEED', 'hash disruption');
  const rnd = new Random(seed);
  const { x, r, pick } = row(HASH);
  const clients = Array.from({ length: 30_000 }, () => rnd.u32() || 1);
  const before = clients.map((cl) => pick(cl));
  x.t_dpt_status(r, 2, 0, 0);               // target 2 stops listening
  const after = clients.map((cl) => pick(cl));
  const moved = after.filter((t, k) => t !== before[k]).length / clients.length;
  const strays = after.filter((t, k) => t !== before[k] && before[k] !== 2).length / clients.length;
  assert.ok(Math.abs(moved - 1 / 3) < 0.03, `seed ${seed}: ${(moved * 100).toFixed(1)}% moved`);
  assert.ok(strays < 0.02, `seed ${seed}: ${(strays * 100).toFixed(2)}% of the other targets' clients moved`);
  assert.ok(!after.includes(2));
  x.t_dpt_status(r, 2, 1, 0);               // and it comes back: the same table as before
  assert.equal(clients.map((cl) => pick(cl)), before);
  assert.is(x.t_dpt_target(r, T[3], 4, 1, 3), 3);
  x.t_dpt_status(r, 3, 1, 0);               // a fourth joins
  const joined = clients.map((cl) => pick(cl));
  const movedJoin = joined.filter((t, k) => t !== before[k]).length / clients.length;
  assert.ok(Math.abs(movedJoin - 1 / 4) < 0.03, `seed ${seed}: ${(movedJoin * 100).toFixed(1)}% moved when a fourth joined`);
  assert.ok(joined.filter((t, k) => t !== before[k] && t !== 3).length / clients.length < 0.02, 'the moved ones went to the new target');
});

test('health: a target that stops completing handshakes gets no new connections but a probe a second, until one completes', () => {
  const { x, r, pick, field } = row(RR);
  // Target 1's SYNs go unanswered.
  let now = 5000;
  const got = [0, 0, 0];
  for (let i = 0; i < 300; i++) {
    const t = x.t_select(r, i + 1, now);
    x.t_dpt_conn_new(r, t);
    if (t !== 1) x.t_dpt_established(r, t);
    got[t]++;
    now += 10;                               // 300 connections over 3 s
  }
  assert.is(field(1, D_SYNS), got[1]);
  assert.is(field(1, D_ESTABLISHED), 0);
  // 8 before it was found out, then one probe a second.
  assert.ok(got[1] >= 8 && got[1] <= 8 + 4, `target 1 got ${got[1]}`);
  x.t_dpt_established(r, 1);                 // a handshake to it completes
  const n = [0, 0, 0];
  for (let i = 0; i < 30; i++) n[pick(i, now)]++;
  assert.equal(n, [10, 10, 10], 'healthy again: in turn');
  // New accept-queue overflows in a status mark it unhealthy too.
  x.t_dpt_status(r, 0, 1, 5);
  assert.is(field(0, D_OVERFLOWS), 5);
  const after = Array.from({ length: 10 }, (_, i) => pick(i, now, false));
  assert.is(after.filter((t) => t === 0).length, 1, 'one probe connection, then none');
  // When every ready target is unhealthy, they still get connections: better than a RST.
  x.t_dpt_status(r, 1, 1, 1); x.t_dpt_status(r, 2, 1, 1);
  assert.ok(x.t_select(r, 1, now) >= 0);
});

test('no ready target: -1, counted in the row; full rows and slots counted', () => {
  const { c, x, r } = row(RR, [1, 1, 1], { rows: 2, perRow: 3 });
  for (let i = 0; i < 3; i++) x.t_dpt_status(r, i, 0, 0);
  assert.is(x.t_select(r, 1, 0), -1);
  assert.is(c.u32(r + R_NO_TARGET), 1);
  assert.is(x.t_dpt_target(r, T[3], 4, 1, 3), -1);
  assert.is(x.t_dpt_stat(1), 1, 'slots full');
  assert.is(x.t_dpt_target(r, T[0], 1, 5, 0), 0, 'an existing target is updated, not added');
  assert.ok(x.t_dpt_row(VIPA, 81, RR));
  assert.is(x.t_dpt_row(VIPA, 82, RR), 0);
  assert.is(x.t_dpt_stat(0), 1, 'rows full');
  assert.is(x.t_dpt_find(VIPA, 80), r);
  assert.is(x.t_dpt_slot_of(r, 3), 2);
  assert.is(c.u16(x.t_dpt_slot(r, 0) + D_LISTENERS), 0);
  assert.is(c.u32(x.t_dpt_slot(r, 0) + D_TOTAL), 0);
});

test('hash without a Maglev table left: round robin, counted', () => {
  const { x, pick } = row(HASH, [1, 1, 1], { maglev: 0 });
  const n = [0, 0, 0];
  for (let i = 0; i < 30; i++) n[pick(7)]++;
  assert.equal(n, [10, 10, 10]);
  assert.ok(x.t_dpt_stat(2) > 0);
});

test.run();
