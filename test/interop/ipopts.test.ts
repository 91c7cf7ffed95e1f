// IPv4 options against the Linux kernel: its `ping -R` and `ping -T` to a
// stack over a TAP show the stack entered in Record Route and Timestamp as a
// Linux host enters itself (twice: taking the request in, sending the reply;
// the kernel to a kernel over veth prints the same pattern). Needs root,
// /dev/net/tun and iputils-ping; elsewhere the tests skip and say why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelPeerUnavailable, withStackPeer } from './netns.ts';
import { lacks, maybe } from '../helpers/needs.ts';

const why = (await kernelPeerUnavailable()) ?? lacks('ping');
const NET = '10.81.0', KERNEL = `${NET}.1`, STACK = `${NET}.2`;
let devNo = 0;
const devName = () => `sho${process.pid}${String.fromCharCode(97 + devNo++)}`; // ≤ 15 bytes

maybe(test, why, 'the kernel\'s ping -R and ping -T: the stack enters itself in both options', async () => {
  await withStackPeer({ dev: devName(), prefix: 'shoalopt', kernel: `${KERNEL}/24`, address: `${STACK}/24`, seed: 1 },
    async ({ ns, stack }) => {
      const rr = await ns.exec(['ping', '-n', '-c', '1', '-W', '2', '-R', STACK], { check: false, timeoutMs: 10_000 });
      assert.match(rr.stdout, /1 received/, rr.stdout);
      const route = rr.stdout.split('\n').map((l) => l.replace(/^RR:/, '').trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
      assert.equal(route, [KERNEL, STACK, STACK, KERNEL], rr.stdout);
      const ts = await ns.exec(['ping', '-n', '-c', '1', '-W', '2', '-T', 'tsandaddr', STACK], { check: false, timeoutMs: 10_000 });
      assert.match(ts.stdout, /1 received/, ts.stdout);
      const hops = [...ts.stdout.matchAll(/(\d+\.\d+\.\d+\.\d+)\s+(-?\d+)/g)].map((m) => m[1]);
      assert.equal(hops.slice(0, 3), [KERNEL, STACK, STACK], ts.stdout);
      assert.is(stack.stats().ipBadOption, 0);
    });
});

test.run();
