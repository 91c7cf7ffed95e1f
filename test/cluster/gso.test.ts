// A GSO frame from an offloading link is forwarded whole (issue 13 item 8):
// the routing stack encapsulates a merged TCP segment once and sends it on
// with FRAME_GSO; a target that takes it gets it whole, one behind a link
// without offloads gets it cut into wire-sized IP-in-IP segments, each with
// valid checksums. Bytes are checked end to end with SHA-256.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Stack } from '../../host/stack.ts';
import type { Socket } from '../../host/net/net.ts';
import { FRAME_GSO } from '../../host/link/link.ts';
import { cksum, pseudo, get16, get32, PROTO_IPIP, PROTO_TCP } from '../helpers/frames.ts';
import { rig, ready, VIPA, KEY } from './rig.ts';

interface Seen { frames: number; gso: number; largest: number; bad: string[] }

/** A target on its own switch port, the frames it is handed counted and (plain ones) checked; its
 * server hashes what each connection sends and answers with the digest. */
function target(k: ReturnType<typeof rig>, offloads: boolean) {
  const link = k.sw.connect();
  const t = Stack.createSync({ name: 't1', link, address: '10.0.0.11/24', clock: k.clock, seed: 7 });
  t.clusterJoin({ key: KEY });
  const seen: Seen = { frames: 0, gso: 0, largest: 0, bad: [] };
  const up = link.onFrame!, upV = link.onFrameV!;
  const count = (f: Uint8Array, len: number, flags: number) => {
    if (f[23] !== PROTO_IPIP) return;
    seen.frames++;
    seen.largest = Math.max(seen.largest, len);
    if (flags & FRAME_GSO) seen.gso++;
    else if (!offloads) { const why = badIpip(f); if (why) seen.bad.push(why); }
  };
  link.onFrame = (f, flags, gso) => { count(f, f.length, flags); up(f, flags, gso); };
  link.onFrameV = (parts, flags, gso) => { count(parts[0], parts.reduce((n, p) => n + p.length, 0), flags); upV(parts, flags, gso); };
  if (!offloads) { link.rxOffload = undefined; link.onFrameV = null; }
  t.net.createServer((c: Socket) => {
    const h = createHash('sha256');
    c.on('data', (d: Buffer) => h.update(d));
    c.on('end', () => c.end(h.digest('hex')));
    c.on('error', () => {});
  }).listen(80);
  return { t, seen };
}

/** Why an IP-in-IP frame is not one a link without offloads may carry, or ''. */
function badIpip(f: Uint8Array): string {
  const total = get16(f, 16);
  if (f.length > 1514 || f.length < 14 + total) return `length ${f.length}`;
  if (cksum(f.subarray(14, 34)) !== 0) return 'outer IPv4 checksum';
  const inner = f.subarray(34, 14 + total);
  const ihl = (inner[0] & 15) * 4;
  if (get16(inner, 2) !== inner.length) return 'inner total length';
  if (cksum(inner.subarray(0, ihl)) !== 0) return 'inner IPv4 checksum';
  const tcp = inner.subarray(ihl);
  if (cksum(tcp, pseudo(get32(inner, 12), get32(inner, 16), PROTO_TCP, tcp.length)) !== 0) return 'TCP checksum';
  return '';
}

/** A cluster with one target (offloads on its link or not); n bytes from the client to the VIPA, checked by the target's digest. */
async function bulk(offloads: boolean, n: number) {
  const k = rig(0);
  const { t, seen } = target(k, offloads);
  k.route({ targets: [{ address: t.localhost, weight: 1 }] });
  await k.settle(() => ready(k.r).length === 1, 'ready');
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = (i * 2654435761) >>> 24;
  const s = k.c.net.connect({ host: VIPA, port: 80 });
  let answer = '';
  s.on('data', (d: Buffer) => { answer += d.toString(); });
  s.on('connect', () => s.end(data));
  await k.settle(() => answer.length === 64, 'the digest', 60_000);
  assert.is(answer, createHash('sha256').update(data).digest('hex'), 'the bytes arrive intact');
  s.destroy();
  return { k, t, seen };
}

const BYTES = 4 << 20;

test('offloads on: the routing stack forwards merged segments whole, the target takes them whole', async () => {
  const { k, t, seen } = await bulk(true, BYTES);
  const r = k.r.stats();
  assert.ok(seen.gso > 0, 'GSO frames reach the target');
  assert.ok(seen.largest > 1514 * 4, `merged frames (largest ${seen.largest} bytes)`);
  assert.ok(r.clusterForwarded < BYTES / 1448 / 4, `fewer, larger frames forwarded (${r.clusterForwarded})`);
  assert.is(r.clusterTooBig, 0);
  assert.is(r.clusterForwardDrop, 0);
  assert.is(t.stats().tcpBadChecksum, 0);
  assert.is(t.stats().clusterIpipRefused, 0);
});

test('a target behind a link without offloads: the switch cuts them into IP-in-IP segments, each valid', async () => {
  const { k, t, seen } = await bulk(false, BYTES);
  assert.is(seen.gso, 0);
  assert.ok(seen.frames >= BYTES / 1448, `wire-sized segments (${seen.frames})`);
  assert.ok(seen.largest <= 1514);
  assert.equal(seen.bad, []);
  assert.ok(k.r.stats().clusterForwarded < BYTES / 1448 / 4, 'still forwarded whole by the routing stack');
  assert.is(t.stats().tcpBadChecksum, 0);
  assert.is(t.stats().ipBadChecksum, 0);
});

test.run();
