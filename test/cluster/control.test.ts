// Control messages (assembly/cluster/control.ts): each type built by an
// independent encoder here, sealed with node:crypto's HMAC, and accepted by
// the core; the core's own seal agrees byte for byte; forged, replayed and
// malformed messages are refused and counted by reason; and a seeded fuzz
// loop of mutated messages with three oracles: no trap, the same result when
// the bytes past the message change, and the same result with the message
// flush against the end of linear memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { Random } from '../../host/random.ts';
import { seedFrom } from '../helpers/frames.ts';
import { ClusterCore } from './core.ts';

const T_ANNOUNCE = 1, T_HEARTBEAT = 2, T_STATUS = 3, T_CONN_NEW = 4, T_CONN_END = 5, T_REPORT = 6;
const SHORT = -1, BAD_VERSION = -2, UNKNOWN_TYPE = -3, BAD_LENGTH = -4, BAD_MAC = -5, REPLAY = -6, BAD_BODY = -7, NO_ROOM = -8;
const KEY = new TextEncoder().encode('a cluster secret of some length');
const R1 = 0x0a000001, T1 = 0x0a00000b, T2 = 0x0a00000c, VIPA = 0x0a000064;

/** Big-endian fields, appended. */
class W {
  b: number[] = [];
  u8(v: number) { this.b.push(v & 255); return this; }
  u16(v: number) { this.b.push((v >>> 8) & 255, v & 255); return this; }
  u32(v: number) { this.b.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255); return this; }
  get bytes() { return new Uint8Array(this.b); }
}

function seal(type: number, epoch: number, seq: number, sender: number, body: Uint8Array, key = KEY, version = 1): Uint8Array {
  const h = new W().u8(version).u8(type).u16(body.length).u32(epoch).u32(seq).u32(sender).bytes;
  const m = new Uint8Array(16 + body.length + 32);
  m.set(h); m.set(body, 16);
  m.set(createHmac('sha256', key).update(m.subarray(0, 16 + body.length)).digest(), 16 + body.length);
  return m;
}

const bodies = {
  announce: () => new W().u32(VIPA).u32(R1).u8(4).u8(2).u8(1).u8(2).u32(30).u32(900).u32(65536).u8(1).u8(0).u16(0)
    .u16(80).u16(80).u16(8000).u16(8010)
    .u32(0x0a000002)
    .u32(T1).u16(1).u16(3).u16(20000).u16(29999)
    .u32(T2).u16(2).u16(1).u16(30000).u16(39999).bytes,
  heartbeat: () => new W().u16(20).u16(2).u32(VIPA).u8(0).u8(3).u16(0).u32(0x0a000065).u8(1).u8(4).u16(0).bytes,
  status: () => new W().u32(VIPA).u32(17).u32(2).u16(2).u16(0).u16(80).u16(1).u16(443).u16(0).bytes,
  conn: () => new W().u16(2).u16(0).u32(0xc0a80001).u32(VIPA).u16(40000).u16(80).u32(0xc0a80002).u32(VIPA).u16(40001).u16(80).bytes,
  report: () => new W().u32(VIPA).u8(1).u8(1).u16(0).u16(1).u16(2).u16(1).u16(0).u16(80).u16(3).u32(0xc0a80001).u16(40000).u16(80)
    .u32(0xc0a80002).u16(5).u16(80).u32(0xc0a80003).u32(25000).bytes,
};

function core(senders = 16): { c: ClusterCore; buf: number; parse: (m: Uint8Array, at?: number) => number } {
  const c = new ClusterCore({ senders });
  const buf = c.ex.t_alloc(70_000);
  c.put(KEY, buf); c.ex.t_hmac_key(buf, KEY.length);
  return { c, buf, parse: (m, at = 0) => c.ex.t_ctl_parse(c.put(m, buf + at), m.length) };
}

test('each type accepted, its header fields and body read back', () => {
  const { c, parse } = core();
  const x = c.ex;
  const cases: [number, Uint8Array][] = [[T_ANNOUNCE, bodies.announce()], [T_HEARTBEAT, bodies.heartbeat()], [T_STATUS, bodies.status()],
    [T_CONN_NEW, bodies.conn()], [T_CONN_END, bodies.conn()], [T_REPORT, bodies.report()]];
  cases.forEach(([type, body], i) => {
    assert.is(parse(seal(type, 7, 100 + i, R1, body)), type, `type ${type}`);
    assert.equal([0, 1, 2, 3, 5].map((k) => x.t_ctl_field(k)), [type, 7, 100 + i, R1, body.length]);
    const b = x.t_ctl_field(4);
    assert.equal(c.u8.slice(b, b + body.length), body);
  });
  assert.is(x.t_ctl_accepted(), 6);
});

test('before a key is set, nothing is authentic', () => {
  const c = new ClusterCore();
  const buf = c.ex.t_alloc(1024);
  const body = bodies.heartbeat();
  c.put(body, buf + 16);
  const n = c.ex.t_ctl_seal(buf, T_HEARTBEAT, 1, 1, T1, body.length);
  assert.is(c.ex.t_ctl_parse(buf, n), BAD_MAC);
});

test('the core seals what node:crypto seals', () => {
  const { c, buf } = core();
  const body = bodies.status();
  c.put(body, buf + 16);
  const n = c.ex.t_ctl_seal(buf, T_STATUS, 9, 1234, T1, body.length);
  assert.is(n, 16 + body.length + 32);
  assert.equal(c.u8.slice(buf, buf + n), seal(T_STATUS, 9, 1234, T1, body));
  assert.is(c.ex.t_ctl_parse(buf, n), T_STATUS);
});

test("the core's body writers make the bytes of the independent encoder", () => {
  const { c, buf } = core();
  const cases: [number, Uint8Array][] = [[T_ANNOUNCE, bodies.announce()], [T_HEARTBEAT, bodies.heartbeat()], [T_STATUS, bodies.status()],
    [T_CONN_NEW, bodies.conn()], [T_REPORT, bodies.report()]];
  for (const [type, body] of cases) {
    c.u8.fill(0xee, buf, buf + 256);
    const n = c.ex.t_ctl_example(type, buf);
    assert.is(n, body.length, `type ${type}: size`);
    assert.equal(c.u8.slice(buf, buf + n), body, `type ${type}: bytes`);
  }
});

test('forged, malformed and replayed messages are refused and counted by reason', () => {
  const { c, parse } = core(2);
  const x = c.ex;
  const hb = bodies.heartbeat();
  const expect = (m: Uint8Array, r: number, what: string) => {
    const before = x.t_ctl_drops(r);
    assert.is(parse(m), r, what);
    assert.is(x.t_ctl_drops(r), before + 1, `${what}: counted`);
  };
  expect(new Uint8Array(47), SHORT, 'shorter than header + MAC');
  expect(seal(T_HEARTBEAT, 1, 1, T1, hb, KEY, 2), BAD_VERSION, 'version 2');
  expect(seal(0, 1, 1, T1, hb), UNKNOWN_TYPE, 'type 0');
  expect(seal(7, 1, 1, T1, hb), UNKNOWN_TYPE, 'type 7');
  const long = seal(T_HEARTBEAT, 1, 1, T1, hb);
  expect(new Uint8Array([...long, 0]), BAD_LENGTH, 'a byte past the MAC');
  expect(long.subarray(0, long.length - 1), BAD_LENGTH, 'a byte short');
  expect(seal(T_HEARTBEAT, 1, 1, T1, hb, new TextEncoder().encode('another key, of a forger')), BAD_MAC, 'wrong key');
  const flipped = seal(T_STATUS, 1, 1, T1, bodies.status());
  flipped[20] ^= 1;
  expect(flipped, BAD_MAC, 'a body bit flipped');
  expect(seal(T_HEARTBEAT, 1, 1, T1, new Uint8Array(5)), BAD_BODY, 'heartbeat of 5 bytes');
  expect(seal(T_CONN_NEW, 1, 1, T1, new W().u16(0).u16(0).bytes), BAD_BODY, 'connection message with no connection');
  expect(seal(T_STATUS, 1, 1, T1, new W().u32(VIPA).u32(0).u32(0).u16(3).u16(0).u16(80).u16(1).bytes), BAD_BODY, 'status count past its body');
  const ann = bodies.announce(); ann[8] = 5;
  expect(seal(T_ANNOUNCE, 1, 1, T1, ann), BAD_BODY, 'unknown method');
  const ann2 = bodies.announce(); ann2[28] = 0; ann2[29] = 90;   // range 90-80
  expect(seal(T_ANNOUNCE, 1, 1, T1, ann2), BAD_BODY, 'backwards port range');
  expect(seal(T_HEARTBEAT, 1, 1, 0, hb), BAD_BODY, 'sender 0.0.0.0');

  // Replay: per sender, by epoch and sequence number, with a 64-message window.
  const hbAt = (sender: number, epoch: number, seq: number) => seal(T_HEARTBEAT, epoch, seq, sender, hb);
  assert.is(parse(hbAt(T1, 5, 100)), T_HEARTBEAT);
  expect(hbAt(T1, 5, 100), REPLAY, 'the same message again');
  assert.is(parse(hbAt(T1, 5, 98)), T_HEARTBEAT, 'an older one not yet seen, within the window');
  expect(hbAt(T1, 5, 98), REPLAY, 'that one again');
  assert.is(parse(hbAt(T1, 5, 200)), T_HEARTBEAT);
  expect(hbAt(T1, 5, 136), REPLAY, 'below the window');
  assert.is(parse(hbAt(T1, 5, 137)), T_HEARTBEAT, 'the window\'s oldest place');
  expect(hbAt(T1, 4, 1000), REPLAY, 'an older epoch');
  assert.is(parse(hbAt(T1, 6, 1)), T_HEARTBEAT, 'a new epoch starts over');
  expect(hbAt(T1, 5, 201), REPLAY, 'the previous epoch is gone for good');
  assert.is(parse(hbAt(T2, 5, 100)), T_HEARTBEAT, 'each sender has its own numbers');
  expect(hbAt(0x0a00000d, 1, 1), NO_ROOM, 'a third sender when the guard holds two');
  // A replay of an authentic message with a bad body is not consumed first: the sequence number stays free.
  expect(seal(T_HEARTBEAT, 6, 2, T1, new Uint8Array(3)), BAD_BODY, 'bad body');
  assert.is(parse(hbAt(T1, 6, 2)), T_HEARTBEAT);
});

test('fuzz: mutated and random messages never trap, read nothing past their length (seeded)', () => {
  const seed = seedFrom('CTL_SEED', 'control fuzz');
  const r = new Random(seed);
  const N = Number(process.env.CTL_FUZZ ?? 100_000);
  // Three cores in lockstep: message at the start of the buffer with zeros after it; with junk after it;
  // flush against the end of linear memory (a read past it traps).
  const a = core(), b = core(), e = core();
  const junk = new Uint8Array(256);
  const valid = () => {
    const k = r.int(6);
    const body = [bodies.announce, bodies.heartbeat, bodies.status, bodies.conn, bodies.conn, bodies.report][k]();
    return seal(k + 1, 1 + r.int(3), r.u32(), [R1, T1, T2][r.int(3)], body);
  };
  const seen = new Map<number, number>();
  for (let i = 0; i < N; i++) {
    let m: Uint8Array;
    const kind = r.int(10);
    if (kind < 2) { m = new Uint8Array(r.int(200)); for (let j = 0; j < m.length; j++) m[j] = r.u32() & 255; }
    else {
      m = valid();
      if (kind < 9) {
        // Mutations: bit flips, byte sets (often in the header or counts), truncation, extension.
        const n = 1 + r.int(4);
        for (let j = 0; j < n; j++) {
          const op = r.int(5);
          if (op === 0 && m.length) m[r.int(m.length)] ^= 1 << r.int(8);
          else if (op === 1 && m.length) m[r.int(Math.min(m.length, 32))] = [0, 1, 255, r.u32() & 255][r.int(4)];
          else if (op === 2) m = m.subarray(0, r.int(m.length + 1));
          else if (op === 3) { const t = new Uint8Array(m.length + 1 + r.int(40)); t.set(m); m = t; }
          else if (m.length > 16) {
            // A body re-sealed after a mutation: authentic, so the body checks are what stands.
            const body = m.slice(16, Math.max(16, m.length - 32));
            // Half the time in the first 12 bytes, where the counts and the kinds are.
            body[r.int(Math.max(1, r.int(2) ? Math.min(12, body.length) : body.length))] = r.u32() & 255;
            m = seal(m[1], 1 + r.int(3), r.u32(), T1, body);
          }
        }
      }
    }
    for (let j = 0; j < junk.length; j++) junk[j] = r.u32() & 255;
    a.c.u8.fill(0, a.buf, a.buf + m.length + 256);
    const ra = a.parse(m);
    b.c.u8.set(junk, b.buf + m.length);
    const rb = b.parse(m);
    const at = e.c.memEnd - m.length;
    e.c.u8.set(m, at);
    const re = e.c.ex.t_ctl_parse(at, m.length);
    if (ra !== rb || ra !== re) assert.unreachable(`seed ${seed} #${i}: results differ (${ra}, ${rb}, ${re}) for ${Buffer.from(m).toString('hex')}`);
    seen.set(ra, (seen.get(ra) ?? 0) + 1);
  }
  for (const reason of [SHORT, BAD_VERSION, UNKNOWN_TYPE, BAD_LENGTH, BAD_MAC, BAD_BODY]) assert.ok(seen.get(reason), `fuzz reached reason ${reason}`);
  assert.ok([1, 2, 3, 4, 5, 6].some((t) => seen.get(t)), 'fuzz had messages accepted');
  // Counters: every message counted once, in one outcome.
  const x = a.c.ex;
  let total = x.t_ctl_accepted();
  for (let k = -1; k >= -8; k--) total += x.t_ctl_drops(k);
  assert.is(total, N);
});

test.run();
