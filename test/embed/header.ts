// Reads include/shoal.h: the export prototypes (as wasm signatures) and the
// numeric #defines. Shared by the header and c-host tests.
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Sig, ValType } from './wasm-info.ts';

/** The repository root, whether this runs from test/embed or bundled into build/test/embed. */
export function repoRoot(): string {
  let dir = new URL('.', import.meta.url).pathname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'asconfig.json'))) return dir;
    dir = join(dir, '..');
  }
  throw new Error('repository root not found');
}

const C2W: Record<string, ValType> = { int32_t: 'i32', uint32_t: 'i32', int64_t: 'i64', uint64_t: 'i64', float: 'f32', double: 'f64' };

export interface Header {
  /** export name → signature, from "T shoal_<export>(shoal_t *s, …);" */
  functions: Map<string, Sig>;
  /** "uint8_t *shoal_memory(shoal_t *s);" is present */
  memory: boolean;
  /** SHOAL_<NAME> → number, from "#define SHOAL_<NAME> <number>" */
  defines: Map<string, number>;
  /** typedef struct <name> { uint32_t a, b; … } → its field names in order (only all-uint32_t structs) */
  structs: Map<string, string[]>;
}

export function parseHeader(text: string): Header {
  const src = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
  const functions = new Map<string, Sig>();
  const proto = /^[ \t]*(void|int32_t|uint32_t|int64_t|uint64_t|float|double)[ \t]+shoal_(\w+)[ \t]*\(([^)]*)\)[ \t]*;/gm;
  for (let m; (m = proto.exec(src));) {
    const [, ret, name, params] = m;
    const ps = params.split(',').map((s) => s.trim());
    if (!/^shoal_t\s*\*\s*\w*$/.test(ps[0])) throw new Error(`shoal_${name}: the first parameter must be shoal_t *`);
    const types = ps.slice(1).map((p) => {
      const t = /^(?:const\s+)?(\w+)\s+\w+$/.exec(p)?.[1];
      if (!t || !C2W[t]) throw new Error(`shoal_${name}: parameter "${p}" is not a fixed-width wasm value type`);
      return C2W[t];
    });
    if (functions.has(name)) throw new Error(`shoal_${name} declared twice`);
    functions.set(name, { params: types, results: ret === 'void' ? [] : [C2W[ret]] });
  }
  const memory = /^[ \t]*uint8_t\s*\*\s*shoal_memory\s*\(\s*shoal_t\s*\*\s*\w*\s*\)\s*;/m.test(src);
  const defines = new Map<string, number>();
  for (const m of src.matchAll(/^[ \t]*#define[ \t]+SHOAL_(\w+)[ \t]+(\d+|0x[0-9a-f]+)[ \t]*$/gim)) defines.set(m[1], Number(m[2]));
  const structs = new Map<string, string[]>();
  for (const m of src.matchAll(/typedef\s+struct\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields: string[] = [];
    let ok = true;
    for (const decl of m[2].split(';').map((d) => d.trim()).filter(Boolean)) {
      const d = /^uint32_t\s+(.+)$/.exec(decl);
      if (!d) { ok = false; break; }
      fields.push(...d[1].split(',').map((f) => f.trim()));
    }
    if (ok) structs.set(m[1], fields);
  }
  return { functions, memory, defines, structs };
}

export function readHeader(): Header {
  return parseHeader(readFileSync(join(repoRoot(), 'include/shoal.h'), 'utf8'));
}

/** Every .ts file under dir. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The core's TcpInfo field for a shoal_tcp_info_t (or docs/ABI.md) field name:
 * camelCase, where C custom asks a shorter name (snd_queued, accept_q, cc, …) under the core's. */
export function tcpInfoField(c: string): string {
  const camel = c.replace(/_([a-z])/g, (_, x: string) => x.toUpperCase());
  const alias: Record<string, string> = { sndQueued: 'sendQueued', rcvQueued: 'recvQueued', acceptQ: 'acceptQueue', synQ: 'synQueue', cc: 'congestion' };
  return alias[camel] ?? camel;
}
