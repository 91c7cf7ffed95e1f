import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Link } from '../../host/link/link.ts';
import { VirtualClock } from '../../host/clock.ts';
import { PcapWriter, withPcap } from '../../host/link/pcap.ts';
import { lacks, maybe } from '../helpers/needs.ts';
import { udpFrame as buildUdpFrame } from '../helpers/frames.ts';

const dir = mkdtempSync(join(tmpdir(), 'shoal-pcap-'));
let fileNo = 0;
const tmp = () => join(dir, `t${fileNo++}.pcap`);

/** Two in-memory ends: a frame sent on one arrives at the other's onFrame. */
class End implements Link {
  readonly mtu = 1500;
  onFrame: ((frame: Uint8Array, flags: number) => void) | null = null;
  peer: End | null = null;
  closed = false;
  send(frame: Uint8Array, flags = 0): void { this.peer?.onFrame?.(frame, flags); }
  close(): void { this.closed = true; }
}
function pair(): [End, End] {
  const a = new End(), b = new End();
  a.peer = b; b.peer = a;
  return [a, b];
}

/** A valid Ethernet/IPv4/UDP frame (DF, TTL 64) with correct checksums. */
const udpFrame = (src: string, dst: string, sport: number, dport: number, payload: Uint8Array) =>
  buildUdpFrame({ dstMac: '02:00:00:00:00:02', srcMac: '02:00:00:00:00:01', src, dst, sport, dport, payload, id: 1, df: true });

interface Rec { sec: number; usec: number; incl: number; orig: number; data: Uint8Array }
function parsePcap(path: string) {
  const b = readFileSync(path);
  assert.ok(b.length >= 24, 'global header present');
  const hdr = {
    magic: b.readUInt32LE(0), major: b.readUInt16LE(4), minor: b.readUInt16LE(6),
    zone: b.readInt32LE(8), sigfigs: b.readUInt32LE(12), snaplen: b.readUInt32LE(16), linktype: b.readUInt32LE(20),
  };
  const recs: Rec[] = [];
  let p = 24;
  while (p < b.length) {
    assert.ok(p + 16 <= b.length, 'record header complete');
    const r = { sec: b.readUInt32LE(p), usec: b.readUInt32LE(p + 4), incl: b.readUInt32LE(p + 8), orig: b.readUInt32LE(p + 12) };
    assert.ok(p + 16 + r.incl <= b.length, 'record data complete');
    recs.push({ ...r, data: new Uint8Array(b.subarray(p + 16, p + 16 + r.incl)) });
    p += 16 + r.incl;
  }
  return { hdr, recs };
}

function tshark(args: string[]): string {
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  assert.is(r.status, 0, `tshark ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

test('header and records parse back: both directions, virtual timestamps, bytes', () => {
  const path = tmp();
  const clock = new VirtualClock();
  const [a, b] = pair();
  const link = withPcap(a, path, { clock });
  const up: Uint8Array[] = [];
  link.onFrame = (f) => up.push(f.slice());
  const f1 = udpFrame('10.0.0.1', '10.0.0.2', 1000, 53, Uint8Array.of(1, 2, 3));
  const f2 = udpFrame('10.0.0.2', '10.0.0.1', 53, 1000, new Uint8Array(200).fill(7));
  link.send(f1);
  clock.advance(1.5);
  b.send(f2);
  clock.advance(1234.567 - 1.5);
  link.send(f2);
  assert.equal(up, [f2], 'frames still pass through');
  link.close();
  assert.ok(a.closed);
  const { hdr, recs } = parsePcap(path);
  assert.equal(hdr, { magic: 0xa1b2c3d4, major: 2, minor: 4, zone: 0, sigfigs: 0, snaplen: 262144, linktype: 1 });
  assert.equal(recs.map((r) => [r.sec, r.usec, r.incl, r.orig]), [
    [0, 0, f1.length, f1.length], [0, 1500, f2.length, f2.length], [1, 234567, f2.length, f2.length],
  ]);
  assert.equal(recs.map((r) => r.data), [f1, f2, f2]);
});

test('frames beyond snaplen are truncated with orig_len kept; a writer is shared', () => {
  const path = tmp();
  const w = new PcapWriter(path, { snaplen: 100 });
  const clock = new VirtualClock();
  const l1 = withPcap(pair()[0], w, { clock, epochMs: 5000 });
  const l2 = withPcap(pair()[0], w, { clock, epochMs: 5000 });
  const big = new Uint8Array(1000).map((_, i) => i);
  l1.send(big);
  l2.send(big.subarray(0, 60));
  l1.close(); // a shared writer stays open
  l2.send(big.subarray(0, 100));
  w.close();
  const { hdr, recs } = parsePcap(path);
  assert.is(hdr.snaplen, 100);
  assert.equal(recs.map((r) => [r.sec, r.incl, r.orig]), [[5, 100, 1000], [5, 60, 60], [5, 100, 100]]);
  assert.equal(recs[0].data, big.subarray(0, 100));
  assert.throws(() => w.write(big, 0), /after close/);
  assert.throws(() => new PcapWriter(tmp(), { snaplen: 0 }), (e: unknown) => e instanceof RangeError);

  // Default snaplen: a 300 000-byte frame keeps 262 144 bytes.
  const p2 = tmp();
  const w2 = new PcapWriter(p2);
  w2.write(new Uint8Array(300_000).fill(9), 1);
  w2.close();
  const r2 = parsePcap(p2).recs;
  assert.equal([r2[0].incl, r2[0].orig, r2[0].usec], [262144, 300_000, 1000]);
});

test('buffered: written in chunks while running, everything flushed on close', () => {
  const path = tmp();
  const w = new PcapWriter(path);
  const frame = udpFrame('10.0.0.1', '10.0.0.2', 1, 2, new Uint8Array(1472));
  w.write(frame, 0);
  assert.is(statSync(path).size, 0, 'nothing written for one small frame');
  for (let i = 1; i < 1000; i++) w.write(frame, i);
  const mid = statSync(path).size;
  const total = 24 + 1000 * (16 + frame.length);
  assert.ok(mid > 0 && mid < total, `chunks written before close (${mid} of ${total})`);
  w.close();
  assert.is(statSync(path).size, total);
  assert.is(parsePcap(path).recs.length, 1000);
});

test('realClock by default: timestamps are wall-clock time', () => {
  const path = tmp();
  const before = Date.now();
  const link = withPcap(pair()[0], path);
  link.send(new Uint8Array(60));
  link.close();
  const after = Date.now();
  const r = parsePcap(path).recs[0];
  const ms = r.sec * 1000 + r.usec / 1000;
  assert.ok(ms >= before - 5 && ms <= after + 5, `${ms} not within [${before}, ${after}]`);
});

maybe(test, lacks('tshark'), 'tshark reads the capture: fields, and no malformed packet or bad checksum', () => {
  const path = tmp();
  const clock = new VirtualClock();
  const [a, b] = pair();
  const link = withPcap(a, path, { clock });
  const sizes = [0, 1, 18, 100, 1472];
  sizes.forEach((n, i) => {
    link.send(udpFrame(`10.0.0.${i + 1}`, '10.0.0.100', 40000 + i, 80 + i, new Uint8Array(n).map((_, k) => k * 7 + i)));
    b.send(udpFrame('10.0.0.100', `10.0.0.${i + 1}`, 80 + i, 40000 + i, new Uint8Array(n).fill(i)));
    clock.advance(1);
  });
  link.close();
  const rows = tshark(['-r', path, '-T', 'fields', '-e', 'frame.len', '-e', 'ip.src', '-e', 'udp.dstport'])
    .trim().split('\n').map((l) => l.split('\t'));
  const want = sizes.flatMap((n, i) => [
    [String(42 + n), `10.0.0.${i + 1}`, String(80 + i)],
    [String(42 + n), '10.0.0.100', String(40000 + i)],
  ]);
  assert.equal(rows, want);

  const problems = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
    '-Y', '_ws.malformed || _ws.expert.severity >= "Warning" || ip.checksum.status != "Good" || udp.checksum.status != "Good"'];
  assert.is(tshark(['-r', path, ...problems]).trim(), '', 'tshark reports no problem');

  // Negative control: the same filter does flag a frame whose UDP checksum is wrong.
  const badPath = tmp();
  const w = new PcapWriter(badPath);
  const bad = udpFrame('10.0.0.1', '10.0.0.2', 1, 2, Uint8Array.of(1, 2, 3, 4));
  bad[bad.length - 1] ^= 1;
  w.write(bad, 0);
  w.close();
  assert.ok(tshark(['-r', badPath, ...problems]).trim() !== '', 'a bad checksum is caught');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
