// npm run build: the core (asc: release, debug, WASI) and the host (esbuild).
// Runs on npm install too, so a fresh clone is ready to use.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { chmodSync, mkdirSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
const asc = (args) => run(process.execPath, [root + 'node_modules/assemblyscript/bin/asc.js', ...args]);
const only = process.argv.slice(2);
const npm = process.env.npm_execpath;
const want = (k) => only.length === 0 || only.includes(k);

mkdirSync(root + 'build', { recursive: true });
if (want('core')) {
  asc(['--target', 'release']);
  asc(['--target', 'wasi']);
  asc(['--target', 'debug']);
  asc(['assembly/testing/wire.ts', 'assembly/testing/ip.ts', '--target', 'testing']); // + the wire routines (test/wire) and IP's entry points for the cluster (test/iface/encap)
}
if (want('host')) {
  const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning', sourcemap: true };
  await build({ ...common, entryPoints: [root + 'host/index.ts'], outfile: root + 'build/shoal.js' });
  await build({ ...common, entryPoints: [root + 'host/cli.ts'], outfile: root + 'build/cli.js', banner: { js: '#!/usr/bin/env node' } });
  chmodSync(root + 'build/cli.js', 0o755);
  run(process.execPath, [root + 'node_modules/typescript/bin/tsc', '-p', root + 'tsconfig.types.json']);
}
if (want('native')) {
  // The TAP addon is optional: without it everything else works and TapLink.open says why.
  // (node-gyp's "rebuild" would wipe build/; configure + build only adds to it.)
  try {
    const args = npm ? [npm, 'run', '--silent', 'build:native'] : null;
    if (args) execFileSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    else execFileSync('npm', ['run', '--silent', 'build:native'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    console.warn(`shoal: TAP addon not built (TapLink unavailable): ${String(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`);
  }
}
