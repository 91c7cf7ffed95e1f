// Every ts/js snippet in README.md runs as written, against the built package
// (build/shoal.js, imported by its name through the package's own exports).
// A snippet that needs more than node says so on the line before it, and is
// skipped, with the reason, where that is missing:
//   <!-- readme-test: needs tap -->             (root and /dev/net/tun)
//   <!-- readme-test: skip: the reason -->      (never runs here)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { transform } from 'esbuild';
import { maybe } from '../helpers/needs.ts';
import { repoRoot } from '../embed/header.ts';
import { tapUnavailable } from '../interop/netns.ts';

const root = repoRoot();
const MARK = /^<!-- readme-test: (needs tap|skip: (.+?)) -->$/;

interface Snippet { line: number; lang: string; code: string; mark: RegExpExecArray | null }

function snippets(md: string): Snippet[] {
  const lines = md.split('\n'), out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript|js|javascript|mjs)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README.md:${i + 1}: a code block that never ends`);
    out.push({ line: i + 1, lang: open[1], code: lines.slice(i + 1, end).join('\n'), mark: MARK.exec(lines[i - 1] ?? '') });
    i = end;
  }
  return out;
}

/** Runs file in its own directory, where whatever a snippet writes (a capture) is cleaned up with it. */
function run(file: string, cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out: stdout + stderr });
    });
  });
}

const found = snippets(readFileSync(join(root, 'README.md'), 'utf8'));
// Inside the package, so that `import … from 'shoal'` resolves to it.
const built = existsSync(join(root, 'build/shoal.js')) ? null : 'needs the built package (npm run build)';

test('the README has snippets that need only node', () => {
  assert.ok(found.filter((s) => !s.mark).length >= 2, `${found.length} snippets`);
});

const tap = found.some((s) => s.mark?.[1] === 'needs tap') ? await tapUnavailable() : null;
for (const s of found) {
  const why = s.mark ? (s.mark[2] ?? tap) : null;
  maybe(test, why ?? built, `README.md:${s.line} (${s.lang}) runs as written`, async () => {
    const dir = mkdtempSync(join(root, 'build', 'readme-'));
    try {
      const { code } = await transform(s.code, { loader: s.lang.startsWith('t') ? 'ts' : 'js', format: 'esm', target: 'node20' });
      const file = join(dir, 'snippet.mjs');
      writeFileSync(file, code);
      const r = await run(file, dir);
      assert.is(r.code, 0, `README.md:${s.line} exited ${r.code}:\n${r.out}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
