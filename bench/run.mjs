// npm run bench [filter]: bundles bench/*.bench.ts with esbuild and runs each
// (those whose name contains a filter; a filter ending in .ts names one file).
// Every figure is printed as a ratio against a baseline measured in the same run.
//
// npm run bench -- --against REV [filter]: the same benches of REV (a commit)
// and of this tree, run in turns (REV, this, this, REV, …; BENCH_AB_ROUNDS
// pairs, default 3) in the same run, then each figure of this tree as a ratio
// to REV's (medians; a refactoring must show none below noise). REV's tree is
// unpacked and built in a temporary folder.
import { build } from 'esbuild';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const at = args.indexOf('--against');
const against = at >= 0 ? args.splice(at, 2)[1] : null;
if (at >= 0 && !against) { console.error('usage: node bench/run.mjs [--against REV] [filter…]'); process.exit(2); }
const filters = args;

const benchFiles = (tree) => readdirSync(join(tree, 'bench')).filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => (x.endsWith('.ts') ? f === x : f.includes(x)))).sort();

async function bundle(tree, files) {
  await build({
    entryPoints: files.map((f) => join(tree, 'bench', f)), outdir: join(tree, 'build/bench'),
    outExtension: { '.js': '.mjs' }, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    packages: 'external', logLevel: 'warning',
  });
}
const runOne = (tree, f, stdio) =>
  spawnSync(process.execPath, [join(tree, 'build/bench', f.replace(/\.ts$/, '.mjs'))], { cwd: tree, stdio, encoding: 'utf8' });

if (!against) {
  const files = benchFiles(root);
  await bundle(root, files);
  let failed = 0;
  for (const f of files) {
    console.log(`\n## ${f}`);
    if (runOne(root, f, 'inherit').status !== 0) failed++;
  }
  process.exit(failed ? 1 : 0);
}

// A/B: REV's tree beside this one.
const sha = execFileSync('git', ['rev-parse', '--short', against], { cwd: root, encoding: 'utf8' }).trim();
const base = mkdtempSync(join(tmpdir(), `shoal-ab-${sha}-`));
try {
  execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C '${base}'`], { cwd: root });
  symlinkSync(join(root, 'node_modules'), join(base, 'node_modules'));
  execFileSync(process.execPath, ['build/build.mjs', 'core', 'host'], { cwd: base, stdio: ['ignore', 'ignore', 'inherit'] });
  if (existsSync(join(root, 'build/Release'))) cpSync(join(root, 'build/Release'), join(base, 'build/Release'), { recursive: true });
  const files = benchFiles(root).filter((f) => existsSync(join(base, 'bench', f)));
  await bundle(root, files);
  await bundle(base, files);
  const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 3);
  let failed = 0;
  for (const f of files) {
    console.log(`\n## ${f}: this tree against ${sha}, ${rounds} pairs`);
    const got = { base: [], head: [] };
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 ? ['head', 'base'] : ['base', 'head']) {
        const out = runOne(side === 'base' ? base : root, f, ['ignore', 'pipe', 'inherit']);
        if (out.status !== 0) { failed++; console.log(`${side} run failed (exit ${out.status})`); continue; }
        got[side].push(figures(out.stdout));
      }
    }
    for (const [label, ratio] of compare(got.base, got.head)) console.log(`${label}: ${ratio}`);
  }
  process.exit(failed ? 1 : 0);
} finally {
  rmSync(base, { recursive: true, force: true });
}

/** A bench's figure lines ("label: [Shoal] 22.9 Gbit/s; …; ratio 1.05× …"): label → [Shoal's figure, ratio]. */
function figures(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    const f = /^([^:]+): (?:Shoal )?([\d.]+)\s*([^\s;]*).*?ratio ([\d.]+)×/.exec(line);
    if (f) m.set(f[1], { value: Number(f[2]), unit: f[3], ratio: Number(f[4]) });
  }
  return m;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Per label, medians of this tree's figure and baseline ratio against REV's. */
function compare(baseRuns, headRuns) {
  const labels = [...new Set(headRuns.flatMap((m) => [...m.keys()]))].filter((l) => baseRuns.some((m) => m.has(l)));
  return labels.map((l) => {
    const pick = (runs, k) => runs.filter((m) => m.has(l)).map((m) => m.get(l)[k]);
    const [bv, hv, br, hr] = [pick(baseRuns, 'value'), pick(headRuns, 'value'), pick(baseRuns, 'ratio'), pick(headRuns, 'ratio')];
    const unit = headRuns.find((m) => m.has(l)).get(l).unit;
    return [l, `this ${median(hv)} ${unit} vs ${median(bv)} ${unit}: ${(median(hv) / median(bv)).toFixed(2)}×; ` +
      `against its own baseline ${median(hr).toFixed(2)}× vs ${median(br).toFixed(2)}×: ${(median(hr) / median(br)).toFixed(2)}×`];
  });
}
