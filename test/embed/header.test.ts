// include/shoal.h, docs/ABI.md and the two artifacts must agree: every export
// (name, parameter and result types), the descriptor layout, the counters,
// the errno names. Adding an export to the core without adding it to the
// header and the document fails here. The numbers themselves are checked
// against the core's sources in header-abi.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { wasmInfo, sigText, type WasmInfo } from './wasm-info.ts';
import { readHeader, repoRoot, tsFiles } from './header.ts';
import { COUNTERS, DESC_BYTES, ERRNO } from '../../host/core-abi.ts';
import * as min from '../../examples/js-minimal/shoal-min.js';

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
  assert.equal(sigText(h.functions.get('if_offload')!), '(i32, i32, i32) -> (i32)', 'shoal_if_offload(s, ifx, csum, gso_max)');
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

test('descriptors: the header\'s struct and the minimal embedding have the core\'s size', () => {
  const bytes = DESC_BYTES;
  assert.is(bytes, 16, 'ABI 2: 16-byte descriptors');
  assert.is(h.defines.get('DESC_BYTES'), bytes, 'SHOAL_DESC_BYTES');
  assert.equal(h.structs.get('shoal_desc'), ['ptr', 'len', 'word', 'gso'], 'shoal_desc_t: ptr, len, word, gso');
  assert.is(4 * h.structs.get('shoal_desc')!.length, bytes, 'shoal_desc_t has one uint32_t per descriptor word');
  assert.is(min.DESC_BYTES, bytes, 'examples/js-minimal DESC_BYTES');
});

test('the counters the header says this ABI version added are the core\'s, at those indexes, and documented', () => {
  const text = readFileSync(join(root, 'include/shoal.h'), 'utf8');
  const line = new RegExp(`ABI ${h.defines.get('ABI_VERSION')} added ([^.]*)\\.`).exec(text);
  assert.ok(line, `include/shoal.h says which counters ABI ${h.defines.get('ABI_VERSION')} added`);
  const added = [...line![1].matchAll(/(\w+) \((\d+)\)/g)].map((m) => [m[1], Number(m[2])] as const);
  assert.ok(added.length > 0);
  const names: readonly string[] = COUNTERS;
  const doc = readFileSync(join(root, 'docs/ABI.md'), 'utf8');
  for (const [name, i] of added) {
    assert.is(names[i], name, `counter ${i}`);
    assert.ok(doc.includes('`' + name + '`'), `docs/ABI.md does not describe ${name}`);
  }
});

test('errno values: the header\'s are Linux\'s, under their Linux names', () => {
  assert.ok(Object.keys(ERRNO).length >= 10, 'the core names its errno values');
  const header = new Map([...h.defines].filter(([k]) => /^E[A-Z]+$/.test(k)));
  for (const [k, v] of header) {
    const linux = (constants.errno as Record<string, number>)[k];
    assert.is(v, linux, `SHOAL_${k} = ${v}, Linux ${k} = ${linux}`);
  }
});

test('tcp_tables: the header struct has one field per word the core writes', () => {
  // tcpTables' `store<u32>(io, value[, offset]);` lines, wherever in assembly/ it lives.
  const src = tsFiles(join(root, 'assembly')).map((f) => readFileSync(f, 'utf8')).find((t) => t.includes('export function tcpTables('));
  assert.ok(src, 'tcpTables is somewhere in assembly/');
  const at = src!.indexOf('export function tcpTables(');
  const body = src!.slice(at, src!.indexOf('\n}\n', at));
  const offs = [...body.matchAll(/^\s*store<u32>\(io, .*?(?:, (\d+))?\);$/gm)].map((m) => Number(m[1] ?? 0));
  const fields = h.structs.get('shoal_tcp_tables');
  assert.ok(fields, 'include/shoal.h has no struct shoal_tcp_tables of uint32_t fields');
  assert.equal(offs, offs.map((_, i) => 4 * i), 'tcpTables writes words 0, 1, 2, … in order');
  assert.is(fields!.length, offs.length, `shoal_tcp_tables has ${fields!.length} fields, tcpTables writes ${offs.length} words`);
  assert.is(h.defines.get('TCP_TABLES_WORDS'), offs.length, 'SHOAL_TCP_TABLES_WORDS');
});

test('the minimal JS embedding uses the header\'s numbers and tcp_info field order', () => {
  for (const [k, v] of Object.entries(min.S as Record<string, number>)) assert.is(h.defines.get(`SCB_${k}`), v, `S.${k}`);
  for (const [k, v] of Object.entries(min.CFG as Record<string, number>)) assert.is(h.defines.get(`CFG_${k}`), v, `CFG.${k}`);
  for (const [k, v] of Object.entries(min.EV as Record<string, number>)) assert.is(h.defines.get(`EV_${k}`), v, `EV.${k}`);
  const camel = (f: string) => f.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  assert.equal(min.TCP_INFO, h.structs.get('shoal_tcp_info')!.map(camel), 'TCP_INFO names shoal_tcp_info_t\'s fields, in order');
});

test('docs/ABI.md names every export, every SCB word and every event', () => {
  const doc = readFileSync(join(root, 'docs/ABI.md'), 'utf8');
  for (const n of [...artifact(WASI).exports.keys()]) assert.ok(doc.includes('`' + n), `docs/ABI.md does not document ${n}`);
  for (const k of h.defines.keys()) {
    if (/^(SCB_|CFG_|EV_|FRAME_)/.test(k)) assert.ok(doc.includes(k.replace(/^(SCB|CFG)_/, '')), `docs/ABI.md does not mention ${k}`);
  }
  for (const f of h.structs.get('shoal_tcp_info') ?? []) assert.ok(doc.includes('`' + f + '`'), `docs/ABI.md does not describe tcp_info's ${f}`);
  for (const f of h.structs.get('shoal_tcp_tables') ?? []) assert.ok(doc.includes('`' + f + '`'), `docs/ABI.md does not describe tcp_tables' ${f}`);
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
  const names = new Uint8Array(u32.buffer, w('NAMES'), w('NAMES_BYTES'));
  assert.is(String.fromCharCode(...names).split(',').length, h.defines.get('NCOUNTERS'));
  assert.ok(w('IO_CAP') >= h.defines.get('IO_MIN')!);
  assert.is(w('MEM_END'), u32.buffer.byteLength, 'the pool ends at the end of memory');
  assert.is(w('POOL') + w('NBUFS') * w('BUF_SIZE'), w('MEM_END'));
  // if_offload: 0 or -EINVAL, as the header says; GSO and scatter-gather only with partial checksums; packing alone.
  const EINVAL = -h.defines.get('EINVAL')!;
  assert.is(ex.if_offload(0, 1, 65535), EINVAL, 'no interface yet');
  const ifx = ex.if_add(0x0200, 1, 1500);
  assert.is(ifx, 0);
  for (const [csum, gso] of [[0, 1], [2, 0], [2, 65535], [6, 0], [8, 0], [1, 65536]]) assert.is(ex.if_offload(ifx, csum, gso), EINVAL, `if_offload(${ifx}, ${csum}, ${gso})`);
  for (const [csum, gso] of [[1, 0], [1, 65535], [3, 0], [3, 65535], [4, 0], [7, 65535], [0, 0]]) assert.is(ex.if_offload(ifx, csum, gso), 0, `if_offload(${ifx}, ${csum}, ${gso})`);
});

test.run();
