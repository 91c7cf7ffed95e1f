// Runs every test/**/*.test.ts (or those whose path contains an argument):
// esbuild bundles each file, node runs it, and uvu's per-file summary is
// added up into the one closing line CI reads: "N passed, N failed".
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cpus } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const files = walk(join(root, 'test'))
  .map((p) => relative(root, p))
  .filter((p) => filters.length === 0 || filters.some((f) => p.includes(f)))
  .sort();

await build({
  entryPoints: files.map((f) => join(root, f)),
  outdir: join(root, 'build/test'),
  outbase: join(root, 'test'),
  outExtension: { '.js': '.mjs' },
  bundle: true, platform: 'node', format: 'esm', target: 'node20',
  packages: 'external', sourcemap: 'inline', logLevel: 'warning',
});

function runOne(file) {
  const out = join(root, 'build/test', relative('test', file).replace(/\.ts$/, '.mjs'));
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--enable-source-maps', out], {
      cwd: root, env: { ...process.env, NODE_DISABLE_COLORS: '1', FORCE_COLOR: '0' },
    });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('close', (code) => {
      const num = (k) => Number((text.match(new RegExp(`${k}:\\s+(\\d+)`)) || [])[1] ?? NaN);
      let total = num('Total'), passed = num('Passed'), skipped = num('Skipped');
      if (Number.isNaN(total)) { total = 1; passed = 0; skipped = 0; }
      const failed = Math.max(total - passed - skipped, code === 0 ? 0 : 1);
      resolve({ file, text, code, passed, failed, skipped, ms: Date.now() - t0 });
    });
  });
}

const jobs = Number(process.env.TEST_JOBS || Math.max(1, Math.min(2, cpus().length)));
const queue = [...files];
const results = [];
await Promise.all(Array.from({ length: jobs }, async () => {
  while (queue.length) {
    const r = await runOne(queue.shift());
    results.push(r);
    const mark = r.failed ? 'FAIL' : 'ok  ';
    process.stdout.write(`${mark} ${r.file}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)} s)\n`);
    if (r.failed || process.env.VERBOSE) process.stdout.write(r.text.replace(/^/gm, '    ') + '\n');
  }
}));

const sum = (k) => results.reduce((a, r) => a + r[k], 0);
const passed = sum('passed'), failed = sum('failed'), skipped = sum('skipped');
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed ? 1 : 0);
