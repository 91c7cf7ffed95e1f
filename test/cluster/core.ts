// The cluster's building blocks through build/shoal.cluster-testing.wasm:
// one fresh instance per call, its tables laid out by t_init.
import { readFileSync } from 'node:fs';
import { wasmPath } from '../../host/wasm.ts';

export interface ClusterExports {
  memory: WebAssembly.Memory;
  t_alloc(n: number): number;
  t_init(crtMax: number, synMs: number, idleMs: number, senders: number, rows: number, perRow: number, maglev: number, seed: number): number;
  t_crt_lookup(c: number, cp: number, v: number, vp: number): number;
  t_crt_insert(c: number, cp: number, v: number, vp: number, target: number, now: number): number;
  t_crt_seen(e: number, flags: number, now: number): number;
  t_crt_remove(c: number, cp: number, v: number, vp: number): number;
  t_crt_expire(now: number, budget: number, out: number, cap: number): number;
  t_crt_at(i: number): number;
  t_crt_slots(): number;
  t_crt_stat(k: number): number;
  t_crt_lookups(keys: number, count: number, n: number): number;
  t_crt_lookups_batched(keys: number, count: number, n: number): number;
  t_siphash_loop(n: number): bigint;
  t_sha256(p: number, len: number, out: number): void;
  t_hmac_key(p: number, len: number): void;
  t_hmac(p: number, len: number, out: number): void;
  t_ctl_seal(p: number, type: number, epoch: number, seq: number, sender: number, bodyLen: number): number;
  t_ctl_parse(p: number, len: number): number;
  t_ctl_example(type: number, b: number): number;
  t_ctl_drops(reason: number): number;
  t_ctl_accepted(): number;
  t_ctl_field(k: number): number;
  t_dpt_row(vipa: number, port: number, method: number): number;
  t_dpt_find(vipa: number, port: number): number;
  t_dpt_target(r: number, addr: number, id: number, weight: number, rank: number): number;
  t_dpt_status(r: number, i: number, listeners: number, overflows: number): void;
  t_dpt_conn_new(r: number, i: number): void;
  t_dpt_established(r: number, i: number): void;
  t_dpt_conn_end(r: number, i: number): void;
  t_dpt_slot(r: number, i: number): number;
  t_dpt_slot_of(r: number, id: number): number;
  t_dpt_stat(k: number): number;
  t_select(r: number, client: number, now: number): number;
  t_source_hash(client: number): number;
}

export interface ClusterInit {
  crtMax?: number; synMs?: number; idleMs?: number; senders?: number; rows?: number; perRow?: number; maglev?: number; seed?: number;
}

let mod: WebAssembly.Module | null = null;

export class ClusterCore {
  readonly ex: ClusterExports;
  constructor(o: ClusterInit = {}) {
    mod ??= new WebAssembly.Module(readFileSync(wasmPath('shoal.cluster-testing.wasm')));
    this.ex = new WebAssembly.Instance(mod, {
      env: { abort(_m: number, _f: number, line: number, col: number) { throw new Error(`abort at ${line}:${col}`); } },
    }).exports as unknown as ClusterExports;
    const ok = this.ex.t_init(o.crtMax ?? 1024, o.synMs ?? 30_000, o.idleMs ?? 900_000, o.senders ?? 16, o.rows ?? 8,
      o.perRow ?? 16, o.maglev ?? 2, o.seed ?? 1);
    if (!ok) throw new Error('t_init failed');
  }
  get u8(): Uint8Array { return new Uint8Array(this.ex.memory.buffer); }
  get dv(): DataView { return new DataView(this.ex.memory.buffer); }
  /** Little-endian words, as the core stores its own tables. */
  u32(p: number): number { return this.dv.getUint32(p, true); }
  u16(p: number): number { return this.dv.getUint16(p, true); }
  put(bytes: Uint8Array, at: number): number { this.u8.set(bytes, at); return at; }
  get memEnd(): number { return this.ex.memory.buffer.byteLength; }
}
