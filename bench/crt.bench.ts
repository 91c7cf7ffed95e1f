// The CRT's lookup cost (assembly/cluster/crt.ts) in ns per lookup with 1,
// 10 000 and 1 000 000 entries, in a loop inside wasm over keys in random
// order (the routing stack's hot path; a real frame's lookup adds no
// boundary crossing), one by one and in batches of 16 whose home slots are
// gathered (crtHome) and read first, against SipHash-2-4 of the same words.
// Bytes per entry and per slot are printed beside.
import { Random } from '../host/random.ts';
import { ClusterCore } from '../test/cluster/core.ts';

const VIPA = 0x0a000064;
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 4_000_000);
const ENTRY = 32;

function nsPer(fn: () => void, n: number): number {
  fn();                                   // warm up
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

const rows: string[] = [];
let sipNs = 0;
for (const entries of [1, 10_000, 1_000_000]) {
  const c = new ClusterCore({ crtMax: entries, seed: entries });
  const x = c.ex;
  const r = new Random(entries);
  const keyCount = Math.min(entries, 1 << 20);
  const keys = x.t_alloc(keyCount * 16);
  const dv = c.dv;
  for (let i = 0; i < entries; i++) {
    const client = (0x0b000000 + r.int(1 << 24)) >>> 0, port = 1024 + r.int(64000);
    if (!x.t_crt_insert(client, port, VIPA, 80, i & 0xffff, 0)) { i--; continue; }
    if (i < keyCount) {
      const p = keys + 16 * i;
      dv.setUint32(p, client, true); dv.setUint32(p + 4, VIPA, true); dv.setUint32(p + 8, port, true); dv.setUint32(p + 12, 80, true);
    }
  }
  const ns = nsPer(() => x.t_crt_lookups(keys, keyCount, LOOKUPS), LOOKUPS);
  const nsb = nsPer(() => x.t_crt_lookups_batched(keys, keyCount, LOOKUPS), LOOKUPS);
  if (!sipNs) sipNs = nsPer(() => x.t_siphash_loop(LOOKUPS), LOOKUPS);
  const slots = x.t_crt_slots();
  rows.push(`${String(entries).padStart(9)} entries  ${ns.toFixed(1).padStart(6)} ns/lookup  ${(1000 / ns).toFixed(1).padStart(6)} M/s  ` +
    `batched ${nsb.toFixed(1).padStart(6)} ns  ${slots} slots x ${ENTRY} B = ${(slots * ENTRY / 2 ** 20).toFixed(1)} MiB (${(slots * ENTRY / entries).toFixed(0)} B per entry)`);
}
console.log(rows.join('\n'));
console.log(`SipHash-2-4 of one 4-tuple alone: ${sipNs.toFixed(1)} ns (the CRT uses a keyed multiply-xorshift mix instead)`);
