// Runs every test/**/*.test.ts (or those whose path contains an argument):
// esbuild bundles each file, node runs it, and uvu's per-file summary is
// added up into the one closing line CI reads: "N passed, N failed, N skipped".
// A test that cannot run here (no root, no TAP, a tool missing) is skipped and
// prints why (test/helpers/needs.ts); each reason is shown under its file.
// SHOAL_STRICT=1 (CI) counts every skip as a failure.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cpus } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const strict = process.env.SHOAL_STRICT === '1';
const SKIP_MARK = '[skip] '; // test/helpers/needs.ts

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
      // uvu's Total leaves the skipped tests out.
      let total = num('Total'), passed = num('Passed'), skipped = num('Skipped');
      if (Number.isNaN(total)) { total = 1; passed = 0; skipped = 0; }
      const failed = Math.max(total - passed, code === 0 ? 0 : 1);
      const reasons = text.split('\n').filter((l) => l.startsWith(SKIP_MARK)).map((l) => l.slice(SKIP_MARK.length));
      while (reasons.length < skipped) reasons.push('(a test.skip that gave no reason)');
      resolve({ file, text, code, passed, failed, skipped, reasons, ms: Date.now() - t0 });
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
    const bad = r.failed || (strict && r.skipped);
    const mark = bad ? 'FAIL' : r.skipped ? 'skip' : 'ok  ';
    process.stdout.write(`${mark} ${r.file}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)} s)\n`);
    for (const why of r.reasons) process.stdout.write(`       skip: ${why}\n`);
    if (bad || process.env.VERBOSE) process.stdout.write(r.text.replace(/^/gm, '    ') + '\n');
  }
}));

const sum = (k) => results.reduce((a, r) => a + r[k], 0);
const passed = sum('passed'), failed = sum('failed'), skipped = sum('skipped');
if (skipped) {
  const counts = new Map();
  for (const why of results.flatMap((r) => r.reasons)) {
    const at = why.lastIndexOf(': needs ');
    const k = at < 0 ? why : why.slice(at + 2);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  console.log(`${skipped} skipped, because:`);
  for (const [why, n] of counts) console.log(`  ${n} × ${why}`);
}
if (strict && skipped) {
  console.log(`strict mode (SHOAL_STRICT=1): every skipped test counts as failed (${skipped})`);
  console.log(`${passed} passed, ${failed + skipped} failed, 0 skipped`);
  process.exit(1);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
