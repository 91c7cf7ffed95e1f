// include/shoal.h, docs/ABI.md and the two artifacts must agree: every export
// (name, parameter and result types), the SCB and CFG offsets, event numbers,
// the counter count and the errno values. Adding an export to the core
// without adding it to the header and the document fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { wasmInfo, sigText, type WasmInfo } from './wasm-info.ts';
import { readHeader, repoRoot, tsFiles, tsConstants } from './header.ts';

const root = repoRoot();
const CORE = join(root, 'build/shoal.wasm');
const WASI = join(root, 'build/shoal.wasi.wasm');
const WASI_ONLY = ['_initialize'];
const LIMIT = 64 * 1024;

function artifact(file: string): WasmInfo {
  if (!existsSync(file)) throw new Error(`${file} missing: run "node build/build.mjs core"`);
  return wasmInfo(file);
}

const h = readHeader();

function compareExports(info: WasmInfo, expected: string[], label: string): void {
  const got = [...info.exports].filter(([, e]) => e.kind === 'func').map(([n]) => n).sort();
  const missing = expected.filter((n) => !got.includes(n));
  const extra = got.filter((n) => !expected.includes(n));
  assert.equal(extra, [], `${label} exports functions that include/shoal.h does not declare: ${extra.join(', ')}`);
  assert.equal(missing, [], `include/shoal.h declares functions that ${label} does not export: ${missing.join(', ')}`);
  for (const n of expected) {
    const a = sigText(info.exports.get(n)!.sig!), b = sigText(h.functions.get(n)!);
    assert.is(b, a, `shoal_${n}: header says ${b}, ${label} has ${a}`);
  }
  const mem = info.exports.get('memory');
  assert.ok(mem && mem.kind === 'memory', `${label} exports its memory as "memory"`);
  assert.ok(h.memory, 'include/shoal.h declares uint8_t *shoal_memory(shoal_t *s)');
}

test('the header declares functions, and shoal_memory for the memory export', () => {
  assert.ok(h.functions.size >= 18, `found ${h.functions.size} prototypes`);
  for (const n of ['scb', 'init', 'poll', 'udp_recv', '_initialize']) assert.ok(h.functions.has(n), n);
  assert.equal(sigText(h.functions.get('poll')!), '(f64) -> (f64)');
});

test('zero-import core: exports match the header, imports nothing, has a start function', () => {
  const info = artifact(CORE);
  compareExports(info, [...h.functions.keys()].filter((n) => !WASI_ONLY.includes(n)).sort(), 'build/shoal.wasm');
  assert.equal([...info.imports.keys()], [], 'build/shoal.wasm imports nothing');
  assert.ok(info.hasStart, 'a start section initialises globals on instantiation');
  for (const n of WASI_ONLY) assert.not.ok(info.exports.has(n), `${n} is for the WASI artifact only`);
});

test('WASI reactor: exports match the header (with _initialize), imports only wasi_snapshot_preview1 functions', () => {
  const info = artifact(WASI);
  compareExports(info, [...h.functions.keys()].sort(), 'build/shoal.wasi.wasm');
  for (const [k, e] of info.imports) {
    assert.ok(k.startsWith('wasi_snapshot_preview1.') && e.kind === 'func', `import ${k} (${e.kind}) is not a wasi_snapshot_preview1 function`);
  }
  assert.equal(sigText(info.exports.get('_initialize')!.sig!), '() -> ()');
  assert.not.ok(info.hasStart, 'a reactor has no start section: _initialize runs it');
  assert.not.ok(info.exports.has('_start'), 'a reactor, not a command');
});

test('both artifacts are under 64 KiB and have the same memory limits', () => {
  for (const f of [CORE, WASI]) {
    const n = readFileSync(f).length;
    assert.ok(n < LIMIT, `${f}: ${n} bytes, limit ${LIMIT}`);
  }
  assert.equal(artifact(CORE).memory, artifact(WASI).memory);
});

test('SCB and CFG offsets match assembly/base/scb.ts', () => {
  const ts = tsConstants([join(root, 'assembly/base/scb.ts')], /^(SCB_|CFG_|ABI_VERSION$)/);
  assert.ok(ts.size > 40, `read ${ts.size} constants from scb.ts`);
  for (const [k, v] of ts) assert.is(h.defines.get(k), v, `SHOAL_${k} should be ${v}`);
  for (const [k, v] of h.defines) {
    if (/^(SCB_|CFG_)/.test(k)) assert.is(ts.get(k), v, `SHOAL_${k} = ${v} has no match in scb.ts`);
  }
});

test('event numbers match the core', () => {
  const ts = tsConstants(tsFiles(join(root, 'assembly')), /^EV_/);
  assert.ok(ts.size >= 4);
  for (const [k, v] of ts) assert.is(h.defines.get(k), v, `SHOAL_${k} should be ${v}`);
  for (const [k, v] of h.defines) if (k.startsWith('EV_')) assert.is(ts.get(k), v, `SHOAL_${k} = ${v} is not in the core`);
});

test('counter count matches assembly/base/counters.ts', () => {
  const ts = tsConstants([join(root, 'assembly/base/counters.ts')], /^C_COUNT$/);
  assert.is(h.defines.get('NCOUNTERS'), ts.get('C_COUNT'));
});

test('errno values: every one the core returns is in the header, under its Linux name', () => {
  const ts = new Map([...tsConstants(tsFiles(join(root, 'assembly')), /^E_[A-Z]+$/)].filter(([, v]) => v < 0));
  assert.ok(ts.size >= 10, `found ${ts.size} errno constants in the core`);
  const header = new Map([...h.defines].filter(([k]) => /^E[A-Z]+$/.test(k)));
  for (const [k, v] of header) {
    const linux = (constants.errno as Record<string, number>)[k];
    assert.is(v, linux, `SHOAL_${k} = ${v}, Linux ${k} = ${linux}`);
  }
  const values = new Set(header.values());
  for (const [k, v] of ts) assert.ok(values.has(-v), `core ${k} = ${v}: no SHOAL_E* with value ${-v}`);
});

test('docs/ABI.md names every export, every SCB word and every event', () => {
  const doc = readFileSync(join(root, 'docs/ABI.md'), 'utf8');
  for (const n of [...artifact(WASI).exports.keys()]) assert.ok(doc.includes('`' + n), `docs/ABI.md does not document ${n}`);
  for (const k of h.defines.keys()) {
    if (/^(SCB_|CFG_|EV_)/.test(k)) assert.ok(doc.includes(k.replace(/^(SCB|CFG)_/, '')), `docs/ABI.md does not mention ${k}`);
  }
});

test('the running core agrees: ABI version, counters, io area', () => {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(CORE)), {});
  const ex = inst.exports as Record<string, any>;
  const scb = ex.scb() as number;
  assert.is(ex.init(), 0);
  const u32 = new Uint32Array((ex.memory as WebAssembly.Memory).buffer);
  const w = (name: string) => u32[(scb + h.defines.get(`SCB_${name}`)!) >>> 2];
  assert.is(w('ABI_VERSION'), h.defines.get('ABI_VERSION'));
  assert.is(w('NCOUNTERS'), h.defines.get('NCOUNTERS'));
  const names = new Uint16Array(u32.buffer, w('NAMES'), w('NAMES_BYTES') >>> 1);
  assert.is(String.fromCharCode(...names).split(',').length, h.defines.get('NCOUNTERS'));
  assert.ok(w('IO_CAP') >= h.defines.get('IO_MIN')!);
  assert.is(w('MEM_END'), u32.buffer.byteLength, 'the pool ends at the end of memory');
  assert.is(w('POOL') + w('NBUFS') * w('BUF_SIZE'), w('MEM_END'));
});

test.run();
