// The shoal command (build/cli.js, so `node build/build.mjs` first): help,
// version and usage errors with their exit codes; `shoal up` answering HTTP
// on the VIPA from a client stack, its metrics in the Prometheus text
// format, SIGHUP (a bad file keeps the config in force) and SIGTERM (exit 0);
// `shoal demo`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { up } from '../../host/cluster/up.ts';
import { renderTable } from '../../host/cluster/table.ts';
import { maybe } from '../helpers/needs.ts';
import { VIPA, TARGETS, noRouting, smallConfig, ready, until } from './harness.ts';

/** test/run.mjs runs each test from the project's root. */
const root = process.cwd();
const CLI = join(root, 'build/cli.js');
const shoal = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

function configFile(cfg: object): string {
  const f = join(mkdtempSync(join(tmpdir(), 'shoal-up-')), 'cluster.json');
  writeFileSync(f, JSON.stringify(cfg));
  return f;
}

/** An http-hello cluster: the small config's stacks, http-hello on the VIPA's port 80. */
const helloConfig = () => smallConfig('roundrobin', { apps: [{ stacks: TARGETS, listen: `${VIPA}:80`, serve: 'http-hello' }] });

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

/** Checks the Prometheus text exposition format (0.0.4) line by line; returns the samples by series. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/.exec(line);
    if (m) { assert.not.ok(helped.has(m[1]), `HELP ${m[1]} twice`); helped.add(m[1]); continue; }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) { assert.not.ok(typed.has(m[1]), `TYPE ${m[1]} twice`); typed.set(m[1], m[2]); continue; }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    assert.ok(typed.has(m![1]) && helped.has(m![1]), `sample before its HELP and TYPE: ${line}`);
    if (typed.get(m![1]) === 'counter') assert.ok(m![1].endsWith('_total'), `counter ${m![1]} ends in _total`);
    const key = m![1] + (m![2] ?? '');
    assert.not.ok(samples.has(key), `series twice: ${key}`);
    samples.set(key, Number(m![3]));
  }
  return samples;
}

test('--help, up --help and demo --help explain every flag; --version prints package.json\'s', () => {
  const h = shoal('--help');
  assert.is(h.status, 0);
  for (const w of ['up FILE', 'demo', '--version', '--help']) assert.ok(h.stdout.includes(w), w);
  const u = shoal('up', '--help');
  assert.is(u.status, 0);
  for (const w of ['--metrics PORT', '--no-table', 'SIGHUP', 'SIGTERM', '127.0.0.1']) assert.ok(u.stdout.includes(w), w);
  const d = shoal('demo', '--help');
  assert.is(d.status, 0);
  for (const w of ['--requests', '--parallel', '--method', 'roundrobin', 'hash']) assert.ok(d.stdout.includes(w), w);
  const v = shoal('--version');
  assert.is(v.status, 0);
  assert.is(v.stdout.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
});

test('an unknown command, flag or bad value: a clear message and exit 2', () => {
  for (const [args, msg] of [
    [['frob'], /unknown command 'frob'/], [['--frob'], /unknown option '--frob'/], [['up', 'x.json', '--fast'], /unknown option '--fast'/],
    [['up'], /needs a config file/], [['up', 'a.json', 'b.json'], /one config file/], [['up', 'x.json', '--metrics'], /needs a value/],
    [['up', 'x.json', '--metrics', 'http'], /--metrics must be an integer/], [['demo', '--method', 'random'], /--method must be one of/],
    [['demo', '--requests=0'], /--requests must be an integer from 1/],
  ] as [string[], RegExp][]) {
    const r = shoal(...args);
    assert.is(r.status, 2, args.join(' '));
    assert.match(r.stderr, msg);
    assert.match(r.stderr, /see shoal --help/);
  }
});

test('shoal up with a bad config: the field and the reason, exit 1', () => {
  const cfg = helloConfig();
  cfg.vipas[0].method = 'random';
  const r = shoal('up', configFile(cfg), '--no-table');
  assert.is(r.status, 1);
  assert.match(r.stderr, /vipas\[0\]\.method: unknown method "random"/);
  const missing = shoal('up', '/nonexistent/cluster.json');
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /cannot read/);
});

maybe(test, noRouting, 'up: HTTP on the VIPA from a client stack, answered by every target; metrics and the table', async () => {
  const out = new PassThrough();
  let printed = '';
  out.on('data', (d) => { printed += d; });
  const run = await up(configFile(helloConfig()), { metrics: 0, table: 'log', out });
  try {
    await ready(run.cluster, TARGETS);
    const client = run.cluster.stack('client');
    const served: string[] = [];
    for (let i = 0; i < 6; i++) {
      served.push(await new Promise<string>((resolve, reject) => {
        http.get({ host: VIPA, path: '/', createConnection: () => client.net.connect({ host: VIPA, port: 80 }) as never }, (res) => {
          let t = '';
          res.setEncoding('utf8').on('data', (x: string) => { t += x; }).on('end', () => resolve(t));
        }).on('error', reject);
      }));
    }
    assert.equal([...new Set(served)].sort(), TARGETS.map((t) => `hello from ${t}\n`));
    const m = await get(`http://127.0.0.1:${run.metricsPort}/metrics`);
    assert.is(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    const s = parseMetrics(m.body);
    assert.is(s.get('shoal_stack_up{stack="t1"}'), 1);
    assert.ok(s.get('shoal_rx_frames_total{stack="r1"}')! > 0);
    assert.ok(s.has('shoal_memory_bytes{stack="client"}'));
    for (const t of TARGETS) {
      assert.is(s.get(`shoal_dpt_ready{vipa="${VIPA}",port="80",target="${t}"}`), 1, t);
      assert.is(s.get(`shoal_dpt_connections_total{vipa="${VIPA}",port="80",target="${t}"}`), 2, t);
    }
    assert.ok(s.has(`shoal_crt_entries{vipa="${VIPA}"}`));
    assert.match(printed, /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    assert.match(printed, new RegExp(`VIPA ${VIPA.replace(/\./g, '\\.')}  ports 80  routing r1  method roundrobin  CRT \\d+/65536`));
    const table = renderTable(run.cluster).join('\n');
    assert.match(table, /PORT +TARGET +READY +LISTENERS +WEIGHT +ACTIVE +TOTAL +SYNS +ESTABLISHED +HEALTH/);
    for (const t of TARGETS) assert.match(table, new RegExp(`\\n  80 +${t} 10\\.0\\.0\\.1\\d +yes +1 +1 +\\d+ +2 `), t);
    assert.match(table, /\nr1 +10\.0\.0\.1\/24 +up +\d+/);
  } finally {
    await run.close();
  }
});

maybe(test, noRouting, 'up as a process: SIGHUP reloads (a bad file is refused, the old config kept), SIGTERM exits 0', async () => {
  const file = configFile(helloConfig());
  const child = spawn(process.execPath, [CLI, 'up', file, '--metrics', '0', '--no-table'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await until('the metrics port', () => /metrics on http:\/\/127\.0\.0\.1:(\d+)/.test(out), 10_000);
    const url = `http://127.0.0.1:${/127\.0\.0\.1:(\d+)/.exec(out)![1]}/metrics`;
    let ready3 = false;
    for (let t0 = Date.now(); !ready3 && Date.now() - t0 < 10_000;) {
      const s = parseMetrics((await get(url)).body);
      ready3 = TARGETS.every((t) => s.get(`shoal_dpt_ready{vipa="${VIPA}",port="80",target="${t}"}`) === 1);
    }
    assert.ok(ready3, out);
    writeFileSync(file, '{ "stacks": ');
    child.kill('SIGHUP');
    await until('the reload refused', () => /reload failed, keeping the config in force: .*not JSON/.test(out), 10_000);
    const cfg = helloConfig();
    cfg.stacks.push({ name: 't4', address: '10.0.0.14/24' });
    writeFileSync(file, JSON.stringify(cfg));
    child.kill('SIGHUP');
    await until('the reload', () => /reloaded/.test(out), 10_000);
    assert.is(parseMetrics((await get(url)).body).get('shoal_stack_up{stack="t4"}'), 1);
    child.kill('SIGTERM');
    assert.is(await exited, 0, out);
    assert.match(out, /SIGTERM, closing/);
  } finally {
    child.kill('SIGKILL');
  }
});

maybe(test, noRouting, 'demo: every request answered, spread over the three targets, the CRT empty after', () => {
  const r = shoal('demo', '--requests', '60', '--parallel', '4');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /served: t1 20, t2 20, t3 20; failed: 0/);
  assert.match(r.stdout, /CRT entries: 0 before, at most \d+ during, 0 after/);
});

test.run();
