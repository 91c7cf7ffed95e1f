// The layering holds in the code: no value-import cycle among the modules of
// assembly/ (the core) or of host/ (the embedding). Type-only imports do not
// count: they vanish when compiled. The import statements are read with a
// short parser of our own: esbuild and the TypeScript-based tools
// (dependency-cruiser, madge) either reject AssemblyScript's decorators on
// functions or need TypeScript's JavaScript API, which TypeScript 7 lacks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';

/** The project root: the first directory above this file (bundled into build/test/ or not) with an assembly/. */
const root = (() => {
  let dir = dirname(new URL(import.meta.url).pathname);
  while (!existsSync(join(dir, 'assembly')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

type Graph = Map<string, string[]>;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

// An import or re-export at the start of a line: `import x from`, `import { a, type B } from`,
// `import * as m from`, `export { a } from`, `export * from`, or a bare `import '…'`.
const CLAUSE = String.raw`(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+)`;
const STATEMENT = new RegExp(String.raw`^[ \t]*(import|export)\s+(type\s+)?(?:(${CLAUSE})\s+from\s+)?['"]([^'"\n]+)['"]`, 'gm');

/** The relative modules a source imports for their values. */
export function valueImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(STATEMENT)) {
    const [, kind, typeOnly, clause, spec] = m;
    if (typeOnly || !spec.startsWith('.')) continue;
    if (kind === 'export' && !clause) continue;    // `export '…'` is not a statement
    const braces = clause?.match(/^\{([^}]*)\}$/);
    if (braces) {
      const names = braces[1].split(',').map((s) => s.trim()).filter(Boolean);
      if (names.length > 0 && names.every((s) => /^type\s/.test(s))) continue;
    }
    out.push(spec);
  }
  return out;
}

function resolve(from: string, spec: string): string {
  const base = join(dirname(from), spec);
  for (const p of [base, base + '.ts', join(base, 'index.ts')]) if (existsSync(p) && statSync(p).isFile()) return p;
  throw new Error(`${relative(root, from)}: cannot resolve '${spec}'`);
}

function graphOf(dir: string): Graph {
  const g: Graph = new Map();
  for (const f of walk(join(root, dir))) {
    const deps = valueImports(readFileSync(f, 'utf8')).map((s) => relative(root, resolve(f, s)));
    g.set(relative(root, f), deps.filter((d) => d.startsWith(dir + '/')));
  }
  return g;
}

/** The strongly connected components of more than one module, or of one importing itself (Tarjan). */
export function cycles(g: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** One import path around a cycle, for the failure message: a → b → … → a. */
function loop(g: Graph, scc: string[]): string {
  const inside = new Set(scc);
  const path = [scc[0]];
  const seen = new Set<string>();
  let v = scc[0];
  while (!seen.has(v)) {
    seen.add(v);
    v = g.get(v)!.find((w) => inside.has(w) && (w === scc[0] || !seen.has(w))) ?? scc[0];
    path.push(v);
    if (v === scc[0]) break;
  }
  return path.join(' → ');
}

function report(g: Graph): string {
  return cycles(g).map((c) => `  ${c.length} modules: ${loop(g, c)}`).join('\n');
}

test('the parser: value imports count, type-only ones do not', () => {
  const src = [
    "import { a, b } from './a';",
    "import type { T } from './t';",
    "import { type U, type V } from './u';",
    "import { type W, w } from './w';",
    "import * as m from './m';",
    "import d from './d';",
    "import d2, { e } from './d2';",
    "import './side';",
    "export { x } from './x';",
    "export * from './star';",
    "export type { Y } from './y';",
    "import {",
    "  multi,",
    "  line } from './multi';",
    "import { readFileSync } from 'node:fs';",
    "// import { c } from './comment';",
    "export const z = 1;",
  ].join('\n');
  assert.equal(valueImports(src), ['./a', './w', './m', './d', './d2', './side', './x', './star', './multi']);
});

test('the cycle finder finds a loop and only that', () => {
  const g: Graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']]]);
  assert.equal(cycles(g), [['a', 'b', 'c'], ['e']]);
  assert.equal(cycles(new Map([['a', ['b']], ['b', []]])), []);
});

test('assembly/: the graph is read (the ABI reaches the demultiplexer, which reaches both IP and TCP)', () => {
  const g = graphOf('assembly');
  assert.ok(g.size > 20, `${g.size} modules`);
  assert.ok(g.get('assembly/abi.ts')!.includes('assembly/net/demux.ts'));
  assert.ok(g.get('assembly/net/demux.ts')!.includes('assembly/iface/ip.ts'));
  assert.ok(g.get('assembly/net/demux.ts')!.includes('assembly/tcp/input.ts'));
});

test('assembly/ has no value-import cycle', () => {
  const g = graphOf('assembly');
  assert.is(report(g), '', `import cycles in assembly/:\n${report(g)}`);
});

test('host/ has no value-import cycle', () => {
  const g = graphOf('host');
  assert.ok(g.size > 10, `${g.size} modules`);
  assert.is(report(g), '', `import cycles in host/:\n${report(g)}`);
});

test.run();
