// A cluster with a TAP uplink ("network": {"type": "tap"}): the device is
// created, the kernel on its other side (in a namespace of its own) sees
// every stack and the VIPA on one segment, and curl there gets answers from
// all three targets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from '../../host/cluster/cluster.ts';
import { maybe, lacks, firstReason } from '../helpers/needs.ts';
import { kernelPeerUnavailable, kernelSide, withNetns } from '../interop/netns.ts';
import { VIPA, TARGETS, smallConfig, ready } from './harness.ts';

const why = firstReason(await kernelPeerUnavailable(), lacks('curl'));

maybe(test, why, 'through a TAP uplink, curl in a namespace reaches the VIPA and gets answers from all three targets', async () => {
  const dev = `shc${process.pid % 100000}`;
  const cfg = smallConfig('roundrobin', { apps: [{ stacks: TARGETS, listen: `${VIPA}:80`, serve: 'http-hello' }] });
  cfg.network = { type: 'tap', device: dev };
  const c = await Cluster.create(cfg);
  try {
    await withNetns(async (ns) => {
      kernelSide(ns, dev, '10.0.0.254/24');
      await ready(c, TARGETS);
      const answers = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await ns.exec(['curl', '-sS', '--max-time', '5', `http://${VIPA}/`]);
        answers.add(r.stdout);
      }
      assert.equal([...answers].sort(), TARGETS.map((t) => `hello from ${t}\n`));
      // The kernel learnt the VIPA at the routing stack's MAC, not at a target's.
      const neigh = ns.execSync(['ip', 'neigh', 'show', VIPA]);
      assert.ok(neigh.includes(c.stack('r1').macs[0]), neigh);
    }, 'shoalc');
  } finally {
    await c.close();
  }
});

test.run();
