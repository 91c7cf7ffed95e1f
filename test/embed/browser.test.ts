// The browser example: examples/browser/ served from the repository root on
// 127.0.0.1 and opened in headless Chromium (Debian's chromium, installed by
// .ci/run; skipped, saying so, without it); the page runs two stacks from
// build/shoal.wasm and writes PASS.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFile, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { repoRoot } from './header.ts';
import { lacks, maybe, which } from '../helpers/needs.ts';

const root = repoRoot();
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.css': 'text/css',
};

/** $CHROMIUM, else chromium or chromium-browser on PATH. */
const chromium = process.env.CHROMIUM || which('chromium') || which('chromium-browser');
const noChromium = chromium && existsSync(chromium) ? null
  : process.env.CHROMIUM ? `needs Chromium, and CHROMIUM=${process.env.CHROMIUM} does not exist` : lacks('chromium');

function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    const allowed = ['examples/', 'build/shoal.wasm'].some((p) => file.startsWith(join(root, p)));
    if (!allowed || req.method !== 'GET') { res.writeHead(404).end(); return; }
    readFile(file, (err, data) => {
      if (err) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(data);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function dumpDom(url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'shoal-chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--no-default-browser-check', '--mute-audio',
    `--user-data-dir=${profile}`, '--virtual-time-budget=60000', '--dump-dom', url];
  return new Promise((resolve, reject) => {
    const child = spawn(chromium!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      if (!out) reject(new Error(`chromium exited with ${code} and printed no DOM:\n${err.slice(-2000)}`));
      else resolve(out);
    });
  });
}

maybe(test, noChromium, 'headless Chromium runs two stacks in examples/browser and shows the UDP and TCP echoes, the close and a refused connect', async () => {
  const server = await serve();
  try {
    const { port } = server.address() as AddressInfo;
    const dom = await dumpDom(`http://127.0.0.1:${port}/examples/browser/`);
    const status = /<p id="status"[^>]*>([^<]*)<\/p>/.exec(dom)?.[1];
    const log = /<pre id="log">([\s\S]*?)<\/pre>/.exec(dom)?.[1] ?? '';
    assert.is(status, 'PASS', `page says ${status}:\n${log}`);
    assert.match(log, /ping 10\.0\.0\.2: reply seq 1, 56 bytes/);
    assert.match(log, /udp echo: 10\.0\.0\.2:7 hello from the browser/);
    assert.match(log, /^tcp: connected 10\.0\.0\.1:\d+ to 10\.0\.0\.2:7, ESTABLISHED, mss 1448$/m);
    // The page's stream, made here too: the echo's digest, computed in the page, must match.
    const sent = createHash('sha256').update('hello over TCP from the browser\n'.repeat(32768)).digest('hex');
    assert.match(log, new RegExp(`^tcp echo: 1048576 bytes back, identical, sha-256 ${sent}, first line "hello over TCP from the browser"$`, 'm'));
    assert.match(log, /^tcp closed: 0 TCBs and 0 send chunks in use after TIME-WAIT$/m);
    assert.match(log, /^tcp connect to 10\.0\.0\.2:9: refused \(errno 111\), socket CLOSED$/m);
    assert.match(log, /events lost: 0$/m);
  } finally {
    server.close();
  }
});

test.run();
