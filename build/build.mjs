// npm run build: the core (asc: release, debug, WASI) and the host (esbuild).
// Runs on npm install too, so a fresh clone is ready to use.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { chmodSync, mkdirSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
const asc = (args) => run(process.execPath, [root + 'node_modules/assemblyscript/bin/asc.js', ...args]);
const only = process.argv.slice(2);
const want = (k) => only.length === 0 || only.includes(k);

mkdirSync(root + 'build', { recursive: true });
if (want('core')) {
  asc(['--target', 'release']);
  asc(['--target', 'debug']);
}
if (want('host')) {
  const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning', sourcemap: true };
  await build({ ...common, entryPoints: [root + 'host/index.ts'], outfile: root + 'build/shoal.js' });
  await build({ ...common, entryPoints: [root + 'host/cli.ts'], outfile: root + 'build/cli.js', banner: { js: '#!/usr/bin/env node' } });
  chmodSync(root + 'build/cli.js', 0o755);
}
