// IP-in-IP (RFC 2003) from a packet buffer, in place: the outer IPv4 and
// Ethernet headers go in the headroom in front of the datagram, the buffer
// itself is posted (or waits for ARP, then is posted) and goes back to the
// pool once the host has sent it. Driven through build/shoal.testing.wasm,
// the whole core plus t_encap (assembly/testing/ip.ts), the entry point the
// cluster layer will use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wasmPath } from '../../host/wasm.ts';
import { FuzzCore as Core, S } from '../fuzz/harness.ts';
import { arpReply, ipv4, udp, parse, ip4, macBytes, ETHERTYPE_IPV4, PROTO_UDP, type Parsed } from '../helpers/frames.ts';

// The harness instantiates "the debug core": here, the testing build, which is the debug core and more.
const dir = mkdtempSync(join(tmpdir(), 'shoal-encap-'));
copyFileSync(wasmPath('shoal.testing.wasm'), join(dir, 'shoal.debug.wasm'));
process.env.SHOAL_WASM_DIR = dir;

const MAC = '02:00:00:00:00:01', TARGET_MAC = '02:00:00:00:00:02';
const ME = '10.0.0.1', TARGET = '10.0.0.2';
const PROTO_IPIP = 4, EMSGSIZE = -90;

interface Sent { p: number; len: number; f: Parsed }

function core(): { c: Core; ex: { t_encap(p: number, len: number, src: number, dst: number): number } } {
  const c = new Core('debug', { poolBytes: 64 * 2048 });
  const m = macBytes(MAC);
  assert.is(c.ex.if_add((m[0] << 8) | m[1], ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0, 1500), 0);
  c.mtus[0] = 1500;
  assert.is(c.ex.addr_add(0, ip4(ME), 24), 0);
  return { c, ex: c.ex as unknown as { t_encap(p: number, len: number, src: number, dst: number): number } };
}

/** Takes what the core posted (read here, not by the harness, whose checks know no IP-in-IP). */
function drain(c: Core): Sent[] {
  const out: Sent[] = [];
  const base = c.w(S.TX_DESC) >>> 2;
  for (let i = 0; i < c.w(S.TX_COUNT); i++) {
    const p = c.u32[base + 4 * i], len = c.u32[base + 4 * i + 1];
    out.push({ p, len, f: parse(c.u8.slice(p, p + len)) });
  }
  c.setW(S.TX_COUNT, 0);
  c.setW(S.EV_COUNT, 0);
  return out;
}

/** A client's datagram, as the routing stack would take it in for a VIPA. */
function inner(n: number, tos = 0, df = false): Uint8Array {
  const payload = new Uint8Array(n).map((_, i) => (i * 13) & 255);
  return ipv4({ src: '192.0.2.7', dst: '10.0.0.100', proto: PROTO_UDP, tos, df,
    payload: udp({ src: '192.0.2.7', dst: '10.0.0.100', sport: 4000, dport: 80, payload }) });
}

/** Writes d into a free buffer at offset `at` from its start; returns where. */
function place(c: Core, d: Uint8Array, at: number): number {
  const b = c.pop(false);
  c.u8.set(d, b + at);
  return b + at;
}

function checkOuter(s: Sent, p: number, d: Uint8Array, tos: number, df: boolean): void {
  assert.is(s.p, p - 34, 'sent from the buffer itself, the headers in its headroom');
  assert.is(s.len, d.length + 34);
  assert.is(s.f.dst, TARGET_MAC);
  assert.is(s.f.src, MAC);
  assert.is(s.f.type, ETHERTYPE_IPV4);
  const ip = s.f.ip!;
  assert.equal({ src: ip.src, dst: ip.dst, proto: ip.proto, ok: ip.checksumOk, len: ip.totalLength, tos: ip.tos, df: ip.df, ttl: ip.ttl },
    { src: ME, dst: TARGET, proto: PROTO_IPIP, ok: true, len: d.length + 20, tos, df, ttl: 64 });
  assert.equal(ip.payload, d, 'the inner datagram, untouched');
}

test('unresolved: the buffer waits for ARP as it is, then goes out in place and back to the pool once sent', () => {
  const { c, ex } = core();
  const d = inner(1000, 0x10, true);
  const free0 = c.free;
  const p = place(c, d, c.bufData + 14);            // where a received datagram lies
  assert.is(ex.t_encap(p, d.length, 0, ip4(TARGET)), 0);
  let out = drain(c);
  assert.is(out.length, 1);
  assert.equal({ op: out[0].f.arp?.op, tpa: out[0].f.arp?.tpa }, { op: 1, tpa: TARGET }, 'ARP asks for the target');
  assert.is(c.free, free0 - 1, 'the buffer waits, no copy taken');
  const r = place(c, arpReply(TARGET_MAC, TARGET, MAC, ME), c.bufData);
  c.desc(r, 60, 0);
  c.ex.poll(1);
  out = drain(c);
  assert.is(out.length, 1);
  checkOuter(out[0], p, d, 0x10, true);
  c.ex.poll(2);
  assert.is(c.free, free0, 'every buffer back once the host has sent it');
  assert.is(c.c('txFrames'), 2);
});

test('resolved: out at once, from the buffer; the least headroom (datagram at BUF_DATA) is enough', () => {
  const { c, ex } = core();
  c.desc(place(c, arpReply(TARGET_MAC, TARGET, MAC, ME), c.bufData), 60, 0);
  c.ex.poll(0);
  drain(c);
  const free0 = c.free;
  const d = inner(200);
  const p = place(c, d, c.bufData);
  assert.is(ex.t_encap(p, d.length, 0, ip4(TARGET)), 0);
  const out = drain(c);
  assert.is(out.length, 1);
  checkOuter(out[0], p, d, 0, false);
  c.ex.poll(1);
  assert.is(c.free, free0, 'the buffer is back');
});

test('too large for the link with its outer header: EMSGSIZE, counted, the buffer freed', () => {
  const { c, ex } = core();
  const free0 = c.free;
  const d = inner(1500 - 20 - 8 - 20 + 1);          // 1481 bytes: 1501 with the outer header
  const p = place(c, d, c.bufData + 14);
  assert.is(ex.t_encap(p, d.length, 0, ip4(TARGET)), EMSGSIZE);
  assert.is(drain(c).length, 0);
  assert.is(c.free, free0);
  assert.is(c.c('txFrames'), 0);
});

test.run();
