// Reads a wasm binary's imports and exports with their function signatures
// (type, import, function and export sections), so tests can compare the
// artifacts with include/shoal.h without any tool beyond Node.
import { readFileSync } from 'node:fs';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';
export interface Sig { params: ValType[]; results: ValType[] }
export interface Entry { kind: 'func' | 'table' | 'memory' | 'global'; sig?: Sig }
export interface WasmInfo {
  imports: Map<string, Entry>;   // "module.name"
  exports: Map<string, Entry>;
  memory: { initial: number; max?: number } | null;   // a defined (not imported) memory
  hasStart: boolean;
}

const VT: Record<number, ValType> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const KIND = ['func', 'table', 'memory', 'global'] as const;

export function wasmInfo(file: string): WasmInfo {
  const b = readFileSync(file);
  let p = 8;
  if (b.readUInt32LE(0) !== 0x6d736100 || b.readUInt32LE(4) !== 1) throw new Error(`${file}: not a wasm module`);
  const u = (): number => {
    let r = 0, s = 0, x: number;
    do { x = b[p++]; r += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80);
    return r;
  };
  const name = () => { const n = u(); const s = b.toString('utf8', p, p + n); p += n; return s; };
  const vt = () => { const t = VT[b[p++]]; if (!t) throw new Error(`${file}: bad value type at ${p - 1}`); return t; };
  const limits = () => { const f = b[p++]; const initial = u(); return f & 1 ? { initial, max: u() } : { initial }; };
  const types: Sig[] = [];
  const funcs: number[] = [];          // function index → type index (imports first)
  const globals: number[] = [];
  const exportsRaw: [string, number, number][] = [];
  const info: WasmInfo = { imports: new Map(), exports: new Map(), memory: null, hasStart: false };
  while (p < b.length) {
    const id = b[p++];
    const size = u();
    const end = p + size;
    if (id === 1) {
      for (let n = u(); n > 0; n--) {
        if (b[p++] !== 0x60) throw new Error(`${file}: bad function type`);
        const params = Array.from({ length: u() }, vt);
        const results = Array.from({ length: u() }, vt);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u(); n > 0; n--) {
        const key = `${name()}.${name()}`;
        const kind = b[p++];
        if (kind === 0) { const t = u(); funcs.push(t); info.imports.set(key, { kind: 'func', sig: types[t] }); }
        else if (kind === 1) { p++; limits(); info.imports.set(key, { kind: 'table' }); }
        else if (kind === 2) { limits(); info.imports.set(key, { kind: 'memory' }); }
        else if (kind === 3) { p += 2; globals.push(0); info.imports.set(key, { kind: 'global' }); }
        else throw new Error(`${file}: bad import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let n = u(); n > 0; n--) funcs.push(u());
    } else if (id === 5) {
      if (u() > 0) info.memory = limits();
    } else if (id === 7) {
      for (let n = u(); n > 0; n--) { const nm = name(); const k = b[p++]; exportsRaw.push([nm, k, u()]); }
    } else if (id === 8) {
      info.hasStart = true;
    }
    p = end;
  }
  for (const [nm, k, idx] of exportsRaw) {
    info.exports.set(nm, k === 0 ? { kind: 'func', sig: types[funcs[idx]] } : { kind: KIND[k] });
  }
  return info;
}

export const sigText = (s: Sig) => `(${s.params.join(', ')}) -> (${s.results.join(', ')})`;
