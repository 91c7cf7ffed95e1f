// The shoal command (build/cli.js, so `node build/build.mjs` first): help,
// version and usage errors with their exit codes; `shoal up` answering HTTP
// on the VIPA from a client stack, its metrics in the Prometheus text
// format, SIGHUP (a bad file keeps the config in force) and SIGTERM (exit 0);
// its control socket, with `shoal status`, `quiesce` and `resume` against
// it; `shoal demo`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { up } from '../../host/cluster/up.ts';
import { renderTable } from '../../host/cluster/table.ts';
import { metricsText } from '../../host/cluster/metrics.ts';
import { controlRequest, defaultControlPath, ControlError } from '../../host/cluster/control.ts';
import { VIPA, TARGETS, smallConfig, ready, until } from './harness.ts';

/** test/run.mjs runs each test from the project's root. */
const root = process.cwd();
const CLI = join(root, 'build/cli.js');
const shoal = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

/** Runs the command without blocking this process's event loop. */
function shoalAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Named after its own temporary directory, so the default control socket of each run is its own. */
function configFile(cfg: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-up-'));
  const f = join(dir, `${basename(dir)}.json`);
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
  for (const w of ['up FILE', 'demo', 'status', 'quiesce STACK [PORT]', 'resume STACK [PORT]', '--version', '--help']) assert.ok(h.stdout.includes(w), w);
  const u = shoal('up', '--help');
  assert.is(u.status, 0);
  for (const w of ['--metrics PORT', '--no-table', '--control PATH', 'none', 'SIGHUP', 'SIGTERM', '127.0.0.1']) assert.ok(u.stdout.includes(w), w);
  for (const cmd of ['status', 'quiesce', 'resume']) {
    const c = shoal(cmd, '--help');
    assert.is(c.status, 0, cmd);
    for (const w of ['FILE | --control PATH', '--json', 'quiesce STACK [PORT]', 'every', 'restarted']) assert.ok(c.stdout.includes(w), `${cmd}: ${w}`);
  }
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
    [['up', 'x.json', '--control'], /needs a value/], [['up', 'x.json', '--control='], /--control needs a path/],
    [['status'], /status needs the config file of a running shoal up, or --control PATH/],
    [['quiesce', 't1', '80'], /quiesce needs the config file/], [['resume'], /resume needs the config file/],
    [['quiesce', '--control', '/tmp/x.sock'], /quiesce needs a stack name/], [['status', 'a.json', 'b.json'], /unexpected argument 'a\.json'/],
    [['resume', 't1', '80', 'x', 'c.json'], /unexpected argument 'x'/], [['quiesce', 't1', '--json', 'c.json'], /unknown option '--json'/],
    [['status', '--control', 'none'], /--control needs the path/],
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

test('up: HTTP on the VIPA from a client stack, answered by every target; metrics and the table', async () => {
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

test('up as a process: SIGHUP reloads (a bad file is refused, the old config kept), SIGTERM exits 0', async () => {
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

const row = (table: string, target: string, ready: string) => new RegExp(`\\n  80 +${target} 10\\.0\\.0\\.1\\d +${ready} `).test(table);

test('shoal status, quiesce and resume against shoal up as a process, by config file and by --control; errors; the socket goes on SIGTERM', async () => {
  const file = configFile(helloConfig());
  const sock = defaultControlPath(file);
  const child = spawn(process.execPath, [CLI, 'up', file, '--no-table'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await until('the control socket', () => /control socket (\S+)/.test(out), 10_000);
    assert.is(/control socket (\S+)/.exec(out)![1], sock);
    assert.is(statSync(sock).mode & 0o777, 0o600, 'for its owner only');
    const status = async (...args: string[]) => {
      const r = await shoalAsync('status', ...args);
      assert.is(r.status, 0, r.stderr);
      return r.stdout;
    };
    const waitFor = async (what: string, ok: (table: string) => boolean) => {
      let t = '';
      for (const t0 = Date.now(); !ok(t = await status(file));) if (Date.now() - t0 > 10_000) assert.unreachable(`${what}: ${t}`);
    };
    await waitFor('every target ready', (t) => TARGETS.every((x) => row(t, x, 'yes')));
    assert.match(await status('--control', sock), /VIPA 10\.0\.0\.100  ports 80  routing r1/);

    let r = await shoalAsync('quiesce', 't1', '--control', sock);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /t1 quiesced on every port/);
    await waitFor('t1 quiesced', (t) => row(t, 't1', 'quiesced') && row(t, 't2', 'yes'));
    assert.match(await status(file), /\n\S+ +quiesce +- +t1 +every port/);
    const summary = JSON.parse(await status(file, '--json'));
    const dpt = summary.vipas[0].dpt as { stack: string; quiesced: boolean; ready: boolean }[];
    assert.equal(dpt.map((d) => [d.stack, d.quiesced, d.ready]).sort(), [['t1', true, false], ['t2', false, true], ['t3', false, true]]);
    assert.equal(Object.keys(summary.vipas[0].crt).sort(), ['byState', 'byTarget', 'entries', 'size']);
    assert.is(summary.vipas[0].crt.size, 65536);
    assert.equal(summary.stacks.map((s: { name: string; up: boolean }) => [s.name, s.up]), [['client', true], ['r1', true], ...TARGETS.map((t) => [t, true])]);

    r = await shoalAsync('resume', 't1', file);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /t1 resumed on every port/);
    await waitFor('t1 ready again', (t) => row(t, 't1', 'yes'));

    for (const [args, msg] of [
      [['quiesce', 't9', file], /no stack "t9"/], [['resume', 't1', '99999', file], /port must be an integer from 1 to 65535, not '99999'/],
      [['quiesce', 't1', '0', '--control', sock], /port must be an integer/],
      [['status', '--control', join(tmpdir(), `shoal-nobody-${process.pid}.sock`)], /no shoal up is running with control socket/],
      [['up', file, '--no-table'], /another shoal up is running there/],
    ] as [string[], RegExp][]) {
      const e = await shoalAsync(...args);
      assert.is(e.status, 1, args.join(' '));
      assert.match(e.stderr, msg);
    }
    child.kill('SIGTERM');
    assert.is(await exited, 0, out);
    assert.not.ok(existsSync(sock), 'the socket file is removed');
    const gone = await shoalAsync('status', file);
    assert.is(gone.status, 1);
    assert.match(gone.stderr, /no shoal up is running with control socket/);
  } finally {
    child.kill('SIGKILL');
    rmSync(sock, { force: true });
  }
});

test('the control socket in process: a stale socket file replaced, a non-socket or too long a path refused; reload, bad requests; quiesced in the table, events and metrics', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-ctl-'));
  const path = join(dir, 'c.sock');
  // A socket file nobody listens on, as a killed shoal up leaves behind.
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('on'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => holder.stdout.once('data', r));
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  assert.ok(statSync(path).isSocket(), 'a stale socket');
  const notSocket = join(dir, 'plain');
  writeFileSync(notSocket, '');
  const file = configFile(helloConfig());
  const out = new PassThrough().resume();
  try {
    await up(file, { table: 'off', out, control: notSocket });
    assert.unreachable('took over a plain file');
  } catch (e) {
    assert.match((e as Error).message, /exists and is not a socket/);
  }
  try {
    await up(file, { table: 'off', out, control: join(dir, 'x'.repeat(100)) });
    assert.unreachable('took a path longer than a Unix socket holds');
  } catch (e) {
    assert.match((e as Error).message, /longer than 107 bytes/);
  }
  const run = await up(file, { table: 'off', out, control: path });
  try {
    assert.is(run.controlPath, path);
    await ready(run.cluster, TARGETS);
    await controlRequest(path, { op: 'quiesce', stack: 't2', port: 80 });
    await until('t2 quiesced', () => run.cluster.portTable(VIPA).some((d) => d.stack === 't2' && d.quiesced));
    assert.is(run.cluster.portTable(VIPA).filter((d) => d.quiesced).length, 1, 'only t2');
    const table = String((await controlRequest(path, { op: 'status' })).table);
    assert.ok(row(table, 't2', 'quiesced'), table);
    assert.match(table, /TIME +EVENT +VIPA +STACK +DETAIL\n\S+ +quiesce +- +t2 +port 80/);
    const m = metricsText(run.cluster);
    assert.match(m, /# TYPE shoal_dpt_quiesced gauge/);
    assert.match(m, new RegExp(`shoal_dpt_quiesced\\{vipa="${VIPA.replace(/\./g, '\\.')}",port="80",target="t2"\\} 1`));
    assert.match(m, /shoal_dpt_quiesced\{[^}]*target="t1"\} 0/);

    const refused = async (req: object, code: string, msg: RegExp) => {
      try { await controlRequest(path, req as never); } catch (e) {
        assert.instance(e, ControlError);
        assert.is((e as ControlError).code, code, (e as Error).message);
        assert.match((e as Error).message, msg);
        return;
      }
      assert.unreachable(`accepted ${JSON.stringify(req)}`);
    };
    await refused({ op: 'frob' }, 'EBADREQUEST', /unknown op "frob"/);
    await refused({ op: 'quiesce' }, 'EBADREQUEST', /needs a stack name/);
    await refused({ op: 'resume', stack: 't1', port: '80' }, 'EBADPORT', /port must be an integer/);
    await refused({ op: 'quiesce', stack: 'client9' }, 'EREFUSED', /no stack "client9"/);
    const raw = await new Promise<string>((resolve) => {
      const c = net.connect(path, () => c.write('not json\n'));
      c.setEncoding('utf8').once('data', (d: string) => { c.destroy(); resolve(d); });
    });
    assert.equal(JSON.parse(raw), { ok: false, error: 'a request must be one line of JSON', code: 'EBADREQUEST' });

    const cfg = helloConfig();
    cfg.stacks.push({ name: 't4', address: '10.0.0.14/24' });
    writeFileSync(file, JSON.stringify(cfg));
    assert.equal(await controlRequest(path, { op: 'reload' }), { ok: true });
    assert.ok(run.cluster.isUp('t4'));
    writeFileSync(file, '{');
    await refused({ op: 'reload' }, 'EREFUSED', /reload failed, keeping the config in force: .*not JSON/);
  } finally {
    await run.close();
  }
  assert.not.ok(existsSync(path), 'the socket file is removed on close');
});

test('demo: every request answered across the routing stack\'s death and return, spread over the three targets, the CRT empty after', () => {
  const r = shoal('demo', '--requests', '60', '--parallel', '4');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /after 29 requests: r1 killed/);
  assert.match(r.stdout, /takeover: r2 routes 10\.0\.0\.100 \(from r1, \d+ connections rebuilt/);
  assert.match(r.stdout, /takeback: r1 routes 10\.0\.0\.100 \(from r2, /);
  // Round robin starts over on the backup: an even spread, give or take the takeover.
  const served = /served: t1 (\d+), t2 (\d+), t3 (\d+); failed: 0/.exec(r.stdout);
  assert.ok(served && served.slice(1).every((n) => Math.abs(Number(n) - 20) <= 2), r.stdout);
  assert.match(r.stdout, /CRT entries: 0 before, at most \d+ during, 0 after/);
  const quiet = shoal('demo', '--requests', '30', '--no-takeover');
  assert.is(quiet.status, 0, quiet.stdout + quiet.stderr);
  assert.not.match(quiet.stdout, /killed|takeover/);
});

test.run();
