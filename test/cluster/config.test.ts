// The cluster config (host/cluster/config.ts): the DESIGN.md §7 example is
// accepted and normalized; each kind of bad config is refused with an error
// that names the field path and the reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseClusterConfig, clusterKey, ClusterConfigError, CONTROL_PORT, CRT_SIZE, HEARTBEAT_INTERVAL, HOLD_DOWN } from '../../host/cluster/config.ts';
import { parseIPv4 } from '../../host/addr.ts';

const good = () => ({
  network: { type: 'switch' },
  stacks: [
    { name: 'r1', address: '10.0.0.1/24' },
    { name: 'r2', address: '10.0.0.2/24' },
    { name: 't1', address: '10.0.0.11/24' },
    { name: 't2', address: '10.0.0.12/24' },
  ],
  vipas: [
    { address: '10.0.0.100', ports: [80], routing: 'r1', backups: ['r2'], targets: ['t1', 't2'], method: 'roundrobin' } as Record<string, unknown>,
  ],
  key: 'a cluster secret of some length',
  apps: [{ stacks: ['t1', 't2'], listen: '10.0.0.100:80', serve: 'http-hello' }],
} as Record<string, any>);

test('the DESIGN.md example, normalized', () => {
  const c = parseClusterConfig(good());
  assert.equal(c.network, { type: 'switch' });
  assert.equal(c.stacks[2], { name: 't1', address: parseIPv4('10.0.0.11'), prefix: 24, worker: false });
  const v = c.vipas[0];
  assert.is(v.address, parseIPv4('10.0.0.100'));
  assert.equal(v.ports, [{ lo: 80, hi: 80 }]);
  assert.is(v.routing, 'r1');
  assert.equal(v.backups, ['r2']);
  assert.equal(v.targets, [{ stack: 't1', weight: 1 }, { stack: 't2', weight: 1 }]);
  assert.is(v.method, 'roundrobin');
  assert.is(v.affinity, 0);
  assert.is(v.crtSize, CRT_SIZE);
  assert.is(v.takeback, 'immediate');
  assert.is(c.controlPort, CONTROL_PORT);
  assert.equal(c.heartbeat, { interval: HEARTBEAT_INTERVAL, holdDown: HOLD_DOWN });
  assert.equal([HEARTBEAT_INTERVAL, HOLD_DOWN], [20, 1000]);
  assert.is(c.key, 'a cluster secret of some length');
  assert.is(c.keyFile, null);
  assert.equal(c.apps, [{ stacks: ['t1', 't2'], address: parseIPv4('10.0.0.100'), port: 80, serve: 'http-hello' }]);
});

test('ports as list and ranges, weights by name or by position, tap network, defaults', () => {
  const g = good();
  g.network = { type: 'tap', device: 'shoal0' };
  Object.assign(g.vipas[0], { ports: [80, '8000-8010', '443'], method: 'weighted', weights: { t2: 3 }, affinity: 30, crtSize: 1000 });
  delete g.key;
  g.keyFile = '/etc/shoal.key';
  const c = parseClusterConfig(g);
  assert.equal(c.network, { type: 'tap', device: 'shoal0' });
  const v = c.vipas[0];
  assert.equal(v.ports, [{ lo: 80, hi: 80 }, { lo: 8000, hi: 8010 }, { lo: 443, hi: 443 }]);
  assert.equal(v.targets.map((t) => t.weight), [1, 3]);
  assert.is(v.affinity, 30);
  assert.is(v.crtSize, 1000);
  assert.is(c.key, null);
  assert.is(c.keyFile, '/etc/shoal.key');
  g.vipas[0].weights = [2, 5];
  assert.equal(parseClusterConfig(g).vipas[0].targets.map((t) => t.weight), [2, 5]);
  delete g.vipas[0].method;
  delete g.vipas[0].weights;
  assert.is(parseClusterConfig(g).vipas[0].method, 'roundrobin');
  g.vipas[0].targets = ['r1', 't1'];   // the routing stack may itself be a target
  assert.is(parseClusterConfig(g).vipas[0].targets[0].stack, 'r1');
  g.apps[0].listen = '*:80';
  assert.is(parseClusterConfig(g).apps[0].address, 0);
});

test('takeback per VIPA and the heartbeat settings, at their limits', () => {
  const g = good();
  g.vipas[0].takeback = 'whenidle';
  g.vipas.push({ address: '10.0.0.101', ports: [80], routing: 'r2', backups: ['r1'], targets: ['t1'], takeback: 'immediate' });
  g.heartbeat = { interval: 5, holdDown: 0 };
  let c = parseClusterConfig(g);
  assert.equal(c.vipas.map((v) => v.takeback), ['whenidle', 'immediate']);
  assert.equal(c.heartbeat, { interval: 5, holdDown: 0 });
  g.heartbeat = { interval: 10000, holdDown: 600000 };
  assert.equal(parseClusterConfig(g).heartbeat, { interval: 10000, holdDown: 600000 });
  g.heartbeat = { interval: 50 };
  c = parseClusterConfig(g);
  assert.equal(c.heartbeat, { interval: 50, holdDown: HOLD_DOWN });
  g.heartbeat = {};
  assert.equal(parseClusterConfig(g).heartbeat, { interval: HEARTBEAT_INTERVAL, holdDown: HOLD_DOWN });
});

/** Each case: a change to the good config, the path the error must name, and words its reason must contain. */
const bad: [string, (g: Record<string, any>) => void, string, string][] = [
  ['unknown target stack', (g) => { g.vipas[0].targets = ['t1', 'tx']; }, 'vipas[0].targets[1]', 'unknown stack "tx"'],
  ['unknown routing stack', (g) => { g.vipas[0].routing = 'r9'; }, 'vipas[0].routing', 'unknown stack "r9"'],
  ['unknown backup', (g) => { g.vipas[0].backups = ['r3']; }, 'vipas[0].backups[0]', 'unknown stack'],
  ['routing stack among its backups', (g) => { g.vipas[0].backups = ['r2', 'r1']; }, 'vipas[0].backups[1]', 'routing stack itself'],
  ['backup named twice', (g) => { g.stacks.push({ name: 'r3', address: '10.0.0.3/24' }); g.vipas[0].backups = ['r2', 'r3', 'r2']; }, 'vipas[0].backups[2]', 'named twice'],
  ['backups not a list', (g) => { g.vipas[0].backups = 'r2'; }, 'vipas[0].backups', 'must be an array'],
  ['unknown takeback', (g) => { g.vipas[0].takeback = 'never'; }, 'vipas[0].takeback', '"immediate" or "whenidle"'],
  ['takeback not a string', (g) => { g.vipas[0].takeback = true; }, 'vipas[0].takeback', 'non-empty string'],
  ['heartbeat interval too short', (g) => { g.heartbeat = { interval: 4 }; }, 'heartbeat.interval', 'integer from 5 to 10000'],
  ['heartbeat interval too long', (g) => { g.heartbeat = { interval: 10001 }; }, 'heartbeat.interval', 'integer from 5 to 10000'],
  ['heartbeat interval not an integer', (g) => { g.heartbeat = { interval: 20.5 }; }, 'heartbeat.interval', 'integer'],
  ['negative hold-down', (g) => { g.heartbeat = { holdDown: -1 }; }, 'heartbeat.holdDown', 'integer from 0 to 600000'],
  ['hold-down too long', (g) => { g.heartbeat = { holdDown: 600001 }; }, 'heartbeat.holdDown', 'integer from 0 to 600000'],
  ['hold-down as a string', (g) => { g.heartbeat = { holdDown: '1000' }; }, 'heartbeat.holdDown', 'integer'],
  ['unknown heartbeat field', (g) => { g.heartbeat = { intervalMs: 20 }; }, 'heartbeat.intervalMs', 'unknown field'],
  ['heartbeat not an object', (g) => { g.heartbeat = 20; }, 'heartbeat', 'must be an object'],
  ['target named twice', (g) => { g.vipas[0].targets = ['t1', 't1']; }, 'vipas[0].targets[1]', 'named twice'],
  ['no targets', (g) => { g.vipas[0].targets = []; }, 'vipas[0].targets', 'at least one'],
  ['VIPA equal to a stack address', (g) => { g.vipas[0].address = '10.0.0.11'; }, 'vipas[0].address', '"t1"\'s own address'],
  ['VIPA given twice', (g) => { g.vipas.push({ ...g.vipas[0] }); }, 'vipas[1].address', 'also vipas[0]'],
  ['bad VIPA address', (g) => { g.vipas[0].address = '10.0.0.300'; }, 'vipas[0].address', 'not an IPv4 address'],
  ['overlapping ports', (g) => { g.vipas[0].ports = ['8000-8010', 443, 8005]; }, 'vipas[0].ports[2]', 'overlaps ports[0]'],
  ['overlapping ranges', (g) => { g.vipas[0].ports = ['1-100', '100-200']; }, 'vipas[0].ports[1]', 'overlaps ports[0]'],
  ['backwards range', (g) => { g.vipas[0].ports = ['90-80']; }, 'vipas[0].ports[0]', 'backwards'],
  ['port 0', (g) => { g.vipas[0].ports = [0]; }, 'vipas[0].ports[0]', '1 to 65535'],
  ['port too large', (g) => { g.vipas[0].ports = ['1-70000']; }, 'vipas[0].ports[0]', '1 to 65535'],
  ['no ports', (g) => { g.vipas[0].ports = []; }, 'vipas[0].ports', 'at least one'],
  ['unknown method', (g) => { g.vipas[0].method = 'random'; }, 'vipas[0].method', 'unknown method "random"'],
  ['weights of the wrong count', (g) => { g.vipas[0].weights = [1]; }, 'vipas[0].weights', '1 weights for 2 targets'],
  ['weight of a non-target', (g) => { g.vipas[0].weights = { t3: 2 }; }, 'vipas[0].weights.t3', 'unknown field'],
  ['weight zero', (g) => { g.vipas[0].weights = [1, 0]; }, 'vipas[0].weights[1]', '1 to 65535'],
  ['negative affinity', (g) => { g.vipas[0].affinity = -1; }, 'vipas[0].affinity', 'integer'],
  ['CRT size zero', (g) => { g.vipas[0].crtSize = 0; }, 'vipas[0].crtSize', 'integer'],
  ['duplicate stack names', (g) => { g.stacks[1].name = 'r1'; }, 'stacks[1].name', 'duplicate stack name "r1"'],
  ['duplicate stack addresses', (g) => { g.stacks[3].address = '10.0.0.11/24'; }, 'stacks[3].address', 'also stack "t1"'],
  ['stack address without prefix', (g) => { g.stacks[0].address = '10.0.0.1'; }, 'stacks[0].address', 'prefix length'],
  ['no stacks', (g) => { g.stacks = []; }, 'stacks', 'at least one'],
  ['both key and keyFile', (g) => { g.keyFile = 'k'; }, 'keyFile', 'not both'],
  ['short key', (g) => { g.key = 'short'; }, 'key', 'at least 16 bytes'],
  ['unknown top-level field', (g) => { g.vipa = []; }, 'vipa', 'unknown field'],
  ['unknown VIPA field', (g) => { g.vipas[0].metod = 'hash'; }, 'vipas[0].metod', 'unknown field'],
  ['unknown network type', (g) => { g.network = { type: 'vxlan' }; }, 'network.type', '"switch" or "tap"'],
  ['tap without device', (g) => { g.network = { type: 'tap' }; }, 'network.device', 'non-empty string'],
  ['switch with device', (g) => { g.network = { type: 'switch', device: 'x' }; }, 'network.device', 'only a "tap"'],
  ['app on an unknown stack', (g) => { g.apps[0].stacks = ['t1', 'q']; }, 'apps[0].stacks[1]', 'unknown stack "q"'],
  ['app listen without port', (g) => { g.apps[0].listen = '10.0.0.100'; }, 'apps[0].listen', '"address:port"'],
  ['vipas not an array', (g) => { g.vipas = {}; }, 'vipas', 'must be an array'],
  ['a VIPA not an object', (g) => { g.vipas = [7]; }, 'vipas[0]', 'must be an object'],
  ['not an object', (g) => { for (const k of Object.keys(g)) delete g[k]; Object.assign(g, { stacks: [null] }); }, 'stacks[0]', 'must be an object'],
];

for (const [name, change, path, reason] of bad) {
  test(`refused: ${name}`, () => {
    const g = good();
    change(g);
    try {
      parseClusterConfig(g);
    } catch (e) {
      assert.instance(e, ClusterConfigError);
      const err = e as ClusterConfigError;
      assert.is(err.path, path, err.message);
      assert.ok(err.reason.includes(reason), `reason "${err.reason}" lacks "${reason}"`);
      assert.ok(err.message.includes(path) && err.message.includes(err.reason));
      return;
    }
    assert.unreachable('accepted a bad config');
  });
}

test('the cluster key: from key, from keyFile, or random', () => {
  const g = good();
  assert.equal(clusterKey(parseClusterConfig(g)), new TextEncoder().encode('a cluster secret of some length'));
  delete g.key;
  const r1 = clusterKey(parseClusterConfig(g)), r2 = clusterKey(parseClusterConfig(g));
  assert.is(r1.length, 32);
  assert.not.equal(r1, r2);
  g.keyFile = '/k';
  const files: Record<string, string> = { '/k': 'sixteen bytes or more\n', '/short': 'tiny\n' };
  const read = (p: string) => { if (!(p in files)) throw new Error('ENOENT'); return new TextEncoder().encode(files[p]); };
  assert.equal(clusterKey(parseClusterConfig(g), read), new TextEncoder().encode('sixteen bytes or more'));
  for (const [f, why] of [['/short', 'fewer than 16'], ['/none', 'cannot read']]) {
    g.keyFile = f;
    assert.throws(() => clusterKey(parseClusterConfig(g), read),
      (e: unknown) => e instanceof ClusterConfigError && e.path === 'keyFile' && e.reason.includes(why));
  }
});

test('not an object at all', () => {
  assert.throws(() => parseClusterConfig(null), (e: unknown) => e instanceof ClusterConfigError && /must be an object/.test((e as Error).message));
  assert.throws(() => parseClusterConfig([]), (e: unknown) => e instanceof ClusterConfigError);
});

test.run();
