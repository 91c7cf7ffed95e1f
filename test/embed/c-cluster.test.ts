// An embedder in another runtime is part of a cluster: examples/c-host's
// c-target (the core converted to C by wasm2c, in its own process) joins a
// cluster whose routing stack and client are Node stacks on a VirtualSwitch,
// its wire a PipeLink over its stdin/stdout. It shows up ready in the DPT,
// serves the connections the routing stack forwards to the VIPA, and the CRT
// empties as they close. Real time: the C process keeps its own clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Stack } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { PipeLink } from '../../host/link/pipe.ts';
import { repoRoot } from './header.ts';
import { lacks, maybe } from '../helpers/needs.ts';

const root = repoRoot();
const VIPA = '10.0.0.100', TARGET = '10.0.0.11', PORT = 8080;

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One request to VIPA:PORT; the client closes once the answer's line is in, and resolves with it. */
function ask(c: Stack): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const s = c.net.connect({ host: VIPA, port: PORT });
    s.on('connect', () => s.write('hi\n'));
    s.on('data', (d: Buffer) => {
      answer += d.toString();
      if (answer.endsWith('\n')) s.end();
    });
    s.on('error', reject);
    s.on('close', () => resolve(answer));
  });
}

test('PipeLink: length-prefixed frames, whole across any chunking, one write per burst; a broken framing takes it down', async () => {
  const wire = new PassThrough();
  const writes: Buffer[] = [];
  wire.on('data', (d: Buffer) => writes.push(d));
  const tx = new PipeLink(new PassThrough(), wire);
  const frames = [60, 1514, 14].map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i + k) & 255));
  for (const f of frames) tx.send(f);
  tx.send(new Uint8Array(1515));
  tx.flush();
  await new Promise((r) => setImmediate(r));
  assert.is(writes.length, 1, 'one write');
  assert.is(tx.counters.tooBig, 1);
  const bytes = Buffer.concat(writes);
  assert.is(bytes.length, 3 * 4 + 60 + 1514 + 14);

  const input = new PassThrough();
  const rx = new PipeLink(input, new PassThrough());
  const got: Uint8Array[] = [];
  let down: Error | undefined;
  rx.onFrame = (f) => got.push(f.slice());
  rx.onDown = (e) => { down = e; };
  for (let i = 0; i < bytes.length; i += 7) input.write(bytes.subarray(i, i + 7));
  await new Promise((r) => setImmediate(r));
  const hex = (fs: Uint8Array[]) => fs.map((f) => Buffer.from(f).toString('hex'));
  assert.equal(hex(got), hex(frames));
  input.write(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
  await new Promise((r) => setImmediate(r));
  assert.match(String(down), /a frame of 3 bytes/);
  assert.is(rx.counters.framesIn, 3);
});

maybe(test, lacks('wasm2c', 'cc', 'make'), 'a C target (wasm2c, another process, a pipe link) joins a Node cluster and serves the VIPA', async () => {
  const out = mkdtempSync(join(tmpdir(), 'shoal-c-cluster-'));
  const stacks: Stack[] = [];
  let child: ReturnType<typeof spawn> | undefined;
  try {
    try {
      execFileSync('make', ['-s', '-C', join(root, 'examples/c-host'), `ROOT=${root}`, `OUT=${out}`, 'WARN=-Wall -Wextra -Werror', `${out}/c-target`],
        { stdio: 'pipe' });
    } catch (e: any) {
      throw new Error(`make failed:\n${e.stdout}${e.stderr}`);
    }
    const key = randomBytes(32);
    const sw = new VirtualSwitch();
    const r = Stack.createSync({ name: 'r', link: sw.connect(), address: '10.0.0.1/24' });
    const c = Stack.createSync({ name: 'c', link: sw.connect(), address: '10.0.0.9/24' });
    stacks.push(r, c);
    r.clusterJoin({ key });

    child = spawn(join(out, 'c-target'), ['c-target', TARGET, String(PORT), key.toString('hex')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const link = new PipeLink(child.stdout!, child.stdin!);
    sw.attach(link);

    r.vipaRoute({ vipa: VIPA, ports: [{ lo: PORT, hi: PORT }], method: 'roundrobin', targets: [{ address: TARGET, weight: 1 }],
      backups: [], affinitySeconds: 0, idleTimeoutSeconds: 900, crtSize: 100 });
    await until(() => r.portTable(VIPA).some((d) => d.target === TARGET && d.port === PORT && d.ready),
      `the C target ready in the DPT (its stderr: ${stderr})`);

    const answers = await Promise.all(Array.from({ length: 5 }, () => ask(c)));
    assert.equal(answers, Array(5).fill('hello from c-target\n'));
    const row = r.portTable(VIPA).find((d) => d.target === TARGET)!;
    assert.is(row.total, 5, 'five connections routed to the C target');
    assert.ok(r.stats().clusterForwarded > 0, 'forwarded IP-in-IP');
    await until(() => r.routingTable(VIPA).length === 0, 'the CRT empties as the connections end');
    assert.is(r.portTable(VIPA).find((d) => d.target === TARGET)!.active, 0);

    link.close();   // its stdin ends: the C target exits
    assert.is(await exited, 0, `c-target exited: ${stderr}`);
    assert.match(stderr, /c-target joined as 10\.0\.0\.11, listening on port 8080/);
    assert.match(stderr, /served 5 connections, 0 frames dropped at the pipe, 0 events lost/);
    assert.is(link.counters.dropped + link.counters.tooBig, 0);
  } finally {
    if (child && child.exitCode === null) child.kill();
    await Promise.all(stacks.map((s) => s.close()));
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
