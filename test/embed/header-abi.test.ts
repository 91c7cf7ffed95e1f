// One source for the ABI's numbers: host/core-abi.ts is what the core's
// sources say (build/build.mjs writes it from them; here it is rebuilt and
// compared), and include/shoal.h and docs/ABI.md's tables carry the same
// numbers, word for word.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readHeader, repoRoot, tcpInfoField } from './header.ts';
import * as abi from '../../host/core-abi.ts';
import { TCP_STATES } from '../../host/net/net.ts';

const root = repoRoot();
const h = readHeader();

/** The header's value for SHOAL_<name>, which must exist. */
function def(name: string): number {
  const v = h.defines.get(name);
  assert.ok(v !== undefined, `include/shoal.h has no SHOAL_${name}`);
  return v!;
}

/** Every key of a host table against the header's defines under prefix; and the header has no more of them. */
function same(table: Record<string, number>, prefix: string, header: RegExp, value = (v: number) => v): void {
  for (const [k, v] of Object.entries(table)) assert.is(def(prefix + k), value(v), `SHOAL_${prefix}${k}`);
  const names = new Set(Object.keys(table).map((k) => prefix + k));
  const extra = [...h.defines.keys()].filter((k) => header.test(k) && !names.has(k));
  assert.equal(extra, [], `include/shoal.h defines ${extra.join(', ')}, which the core does not`);
}

test('host/core-abi.ts is what the core\'s sources say (build/build.mjs abi --check)', () => {
  const r = spawnSync(process.execPath, [join(root, 'build/build.mjs'), 'abi', '--check'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('shoal.h: SCB and CFG offsets, descriptor size, frame flags, ABI version', () => {
  same(abi.SCB, 'SCB_', /^SCB_/);
  same(abi.CFG, 'CFG_', /^CFG_/);
  same(abi.FRAME, 'FRAME_', /^FRAME_/);
  assert.is(def('DESC_BYTES'), abi.DESC_BYTES);
  assert.is(def('ABI_VERSION'), abi.ABI_VERSION);
});

test('shoal.h: events, errno values, TCP options, states, congestion controls, chunk size', () => {
  same(abi.EV, 'EV_', /^EV_/);
  same(abi.ERRNO, 'E', /^E[A-Z]+$/, (v) => -v);
  same(abi.TCP_OPT, 'TCP_OPT_', /^TCP_OPT_/);
  same(abi.TCP_CC, 'TCP_CC_', /^TCP_CC_/);
  const { FREE: _free, ...states } = abi.TCP_STATE;
  same(states, 'TCP_', /^TCP_(?!OPT_|CC_|CHUNK$|INFO_WORDS$|TABLES_WORDS$)/);
  assert.is(def('TCP_CHUNK'), abi.TCP_CHUNK);
});

test('shoal.h: shoal_tcp_info_t has the core\'s TcpInfo fields, in order, one word each', () => {
  const fields = h.structs.get('shoal_tcp_info')!;
  const core = Object.entries(abi.TCP_INFO);
  assert.is(fields.length, core.length, 'as many fields as the core\'s TcpInfo');
  fields.forEach((f, i) => {
    const name = tcpInfoField(f);
    assert.is(name, core[i][0], `field ${i}`);
    assert.is(core[i][1], 4 * i, `${name} at byte ${4 * i}`);
  });
  assert.is(def('TCP_INFO_WORDS') * 4, abi.TCP_INFO_BYTES);
});

test('shoal.h: the counter count; the host\'s state names', () => {
  assert.is(def('NCOUNTERS'), abi.COUNTERS.length);
  const names: string[] = [];
  for (const [k, v] of Object.entries(abi.TCP_STATE)) names[v] = k === 'SYN_RCVD' ? 'SYN_RECEIVED' : k;
  assert.equal([...TCP_STATES], names, 'net.ts TCP_STATES names every state by its number');
});

test('docs/ABI.md: every numbered row of its tables has the core\'s number', () => {
  const doc = readFileSync(join(root, 'docs/ABI.md'), 'utf8');
  const info = abi.TCP_INFO as Record<string, number>;
  // A table's kind by its header row; a name → its value in the core.
  const kinds: Record<string, (n: string) => number | undefined> = {
    'offset|word': (n) => (abi.SCB as Record<string, number>)[n] ?? (abi.CFG as Record<string, number>)[n],
    'value|flag': (n) => (abi.FRAME as Record<string, number>)[n.replace(/^FRAME_/, '')],
    'type|name': (n) => (abi.EV as Record<string, number>)[n.replace(/^EV_/, '')],
    'opt|name': (n) => (abi.TCP_OPT as Record<string, number>)[n],
    'word|field': (n) => info[tcpInfoField(n)] === undefined ? undefined : info[tcpInfoField(n)] >>> 2,
    'errno|name': (n) => -(abi.ERRNO as Record<string, number>)[n.replace(/^E/, '')],
  };
  let kind: ((n: string) => number | undefined) | null = null, rows = 0;
  for (const line of doc.split('\n')) {
    const head = /^\| (\w+) \| (\w+) \|/.exec(line);
    if (head && !/^\d+$/.test(head[1])) { kind = kinds[`${head[1]}|${head[2]}`] ?? null; continue; }
    if (!line.startsWith('|')) { kind = null; continue; }
    const row = /^\| (\d+) \| `(\w+)`/.exec(line);
    if (!kind || !row) continue;
    assert.is(kind(row[2]), Number(row[1]), `docs/ABI.md: ${row[2]} is ${row[1]}`);
    rows++;
  }
  assert.ok(rows > 100, `checked ${rows} rows`);
});

test.run();
