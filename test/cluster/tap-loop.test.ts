// The TAP side of the takeover tests (tap-loop.ts), proven with no
// takeover: curl in a namespace, behind a TAP uplink of the cluster, loops
// requests to the VIPA for 2 s and none fails; a request to a port nobody
// serves is reported failed with curl's exit code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maybe, lacks, firstReason } from '../helpers/needs.ts';
import { kernelPeerUnavailable } from '../interop/netns.ts';
import { VIPA, TARGETS, smallConfig, ready } from './harness.ts';
import { withTapCluster, curlLoop, describeCurl } from './tap-loop.ts';

const why = firstReason(await kernelPeerUnavailable(), lacks('curl'));
const config = () => smallConfig('roundrobin', { apps: [{ stacks: TARGETS, listen: `${VIPA}:80`, serve: 'http-hello' }] });

maybe(test, why, 'curl in a namespace loops requests to the VIPA through a TAP for 2 s: none fails, every target answers', async () => {
  await withTapCluster(config(), {}, async (c, ns) => {
    await ready(c, TARGETS);
    const res = await curlLoop(ns, { url: `http://${VIPA}/`, durationMs: 2000, expect: /^hello from t\d$/ }).done;
    console.log(describeCurl(res));
    assert.is(res.failures.length, 0, describeCurl(res));
    assert.ok(res.requests >= 10, describeCurl(res));
    assert.equal(Object.keys(res.answers).sort(), TARGETS.map((t) => `hello from ${t}`), describeCurl(res));
  });
});

maybe(test, why, 'a failed request is reported with curl\'s exit code and when; stop() ends the loop', async () => {
  await withTapCluster(config(), {}, async (c, ns) => {
    await ready(c, TARGETS);
    const loop = curlLoop(ns, { url: `http://${VIPA}:81/`, count: 1000, maxTimeS: 2 });
    setTimeout(() => loop.stop(), 300);
    const res = await loop.done;
    console.log(describeCurl(res));
    assert.ok(res.requests >= 1 && res.requests < 1000, describeCurl(res));
    assert.is(res.failures.length, res.requests);
    // 7: could not connect (refused: no port 81 on the VIPA).
    assert.ok(res.failures.every((f) => f.code === 7 && f.atMs >= 0 && f.ms > 0 && f.message.length > 0), describeCurl(res));
  });
});

test.run();
