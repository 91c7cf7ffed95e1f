// The native embedding: build/shoal.wasm converted to C by wasm2c (Debian's
// wabt), compiled with the system C compiler together with
// examples/c-host/main.c, and run: two stacks ping, echo UDP, shake hands
// over TCP, echo a 1 MiB stream, close and wait out TIME-WAIT with nothing
// leaked, and see a connect to a closed port refused. Built in a temporary
// directory; no generated C lands in the tree. Without wasm2c (Debian's wabt),
// a C compiler or make the build is skipped and says so.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHeader, repoRoot } from './header.ts';
import { lacks, maybe } from '../helpers/needs.ts';

const root = repoRoot();
const dir = join(root, 'examples/c-host');

test('every prototype in include/shoal.h has its wasm2c binding in shoal_w2c.c', () => {
  const src = readFileSync(join(dir, 'shoal_w2c.c'), 'utf8');
  const h = readHeader();
  for (const n of [...h.functions.keys(), 'memory']) {
    assert.ok(new RegExp(`\\bshoal_${n}\\(shoal_t \\*s[,)][^;{]*\\{`).test(src), `shoal_w2c.c does not define shoal_${n}`);
  }
});

maybe(test, lacks('wasm2c', 'cc', 'make'), 'wasm2c + cc build examples/c-host, and it pings, echoes UDP and echoes a TCP stream between two stacks', () => {
  const h = readHeader().defines;
  const out = mkdtempSync(join(tmpdir(), 'shoal-c-host-'));
  try {
    try {
      execFileSync('make', ['-s', '-C', dir, `ROOT=${root}`, `OUT=${out}`, 'WARN=-Wall -Wextra -Werror'], { stdio: 'pipe' });
    } catch (e: any) {
      throw new Error(`make failed:\n${e.stdout}${e.stderr}`);
    }
    const r = spawnSync(join(out, 'c-host'), [], { encoding: 'utf8', timeout: 30_000 });
    const text = `${r.stdout}${r.stderr}`;
    assert.is(r.status, 0, `c-host exited with ${r.status} ${r.signal ?? ''}:\n${text}`);
    assert.match(r.stdout, /ping 10\.0\.0\.2: reply id 0x4321 seq 1, 56 bytes/);
    assert.match(r.stdout, /udp echo: 10\.0\.0\.2:7 hello from C/);
    assert.match(r.stdout, /^tcp: connected 10\.0\.0\.1:\d+ -> 10\.0\.0\.2:7, ESTABLISHED, mss 1448, window scale [1-9]\d*\/[1-9]\d*$/m);
    assert.match(r.stdout, /^tcp echo: 1048576 bytes there and back, identical, both sides closed with FIN, /m);
    assert.match(r.stdout, /^tcp: after close and TIME-WAIT both stacks hold 0 TCBs, 0 send chunks, 0 timers, every packet buffer free$/m);
    assert.match(r.stdout, new RegExp(`^tcp: connect to 10\\.0\\.0\\.2:9 refused \\(errno ${h.get('ECONNREFUSED')}\\), socket CLOSED until tcp_close$`, 'm'));
    assert.match(r.stdout, /events lost 0$/m);
    assert.match(r.stdout, /c-host: ok$/m);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
