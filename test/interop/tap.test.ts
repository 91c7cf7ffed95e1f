// TapLink against the real Linux kernel: a TAP device opened here, moved into
// a namespace made by the test, the kernel side addressed 10.77.0.1/24, and
// hand-made frames from a made-up host 10.77.0.2 on the JS side. No Shoal
// stack involved. Needs root and /dev/net/tun; elsewhere the tests skip and say why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { FRAME_CSUM_OK, FRAME_CSUM_PARTIAL, FRAME_GSO } from '../../host/link/link.ts';
import { TapLink } from '../../host/link/tap.ts';
import type { TapOptions } from '../../host/link/tap.ts';
import { netnsUnavailable, tapUnavailable, withNetns } from './netns.ts';
import { maybe } from '../helpers/needs.ts';
import {
  BROADCAST, ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_ICMP, PROTO_TCP, TH_ACK, TH_FIN, TH_PSH, TH_SYN, arp, cksum, ether, fold16,
  get16, get32, icmp, ip4, ipv4, macBytes, pseudo, put16, sum16, tcpSegment,
} from '../helpers/frames.ts';
import type { Netns } from './netns.ts';

const tapWhy = await tapUnavailable();
const why = netnsUnavailable() ?? tapWhy;
/** A test that needs the kernel as a peer: skipped with the reason when it cannot run here. */
const kt = (name: string, fn: () => Promise<void>) => maybe(test, why, name, fn);

const KERNEL_IP = '10.77.0.1', KERNEL = ip4(KERNEL_IP);
const OUR_IP = '10.77.0.2', OUR = ip4(OUR_IP);
const OUR_MAC = macBytes('02:00:5e:77:00:02'); // locally administered
let devNo = 0;
const devName = () => `sht${process.pid}${String.fromCharCode(97 + devNo++)}`; // ≤ 15 bytes

// ---- frames from the made-up host, and checks on the kernel's ---------------

const same = (b: Uint8Array, at: number, v: Uint8Array) => v.every((x, i) => b[at + i] === x);
const ethType = (f: Uint8Array) => (f.length >= 14 ? get16(f, 12) : -1);

/** An IPv4 packet from us to the kernel (DF). */
const toKernel = (proto: number, payload: Uint8Array, id = 1) => ipv4({ src: OUR_IP, dst: KERNEL_IP, proto, payload, id, df: true });

/** A TCP segment from us to the kernel; `mss` adds the MSS option. */
function tcp(sport: number, dport: number, seq: number, ack: number, flags: number, payload?: Uint8Array, mss = 0): Uint8Array {
  return tcpSegment({ src: OUR_IP, dst: KERNEL_IP, sport, dport, seq: seq >>> 0, ack: ack >>> 0, flags, payload,
    options: mss ? Uint8Array.of(2, 4, mss >> 8, mss & 255) : undefined });
}

/** A frame's IPv4 packet, if it is one (Ethernet padding cut off). */
function ipOf(f: Uint8Array): Uint8Array | null {
  if (ethType(f) !== ETHERTYPE_IPV4 || f.length < 34) return null;
  const p = f.subarray(14);
  const total = get16(p, 2);
  return total >= 20 && total <= p.length ? p.subarray(0, total) : null;
}
/** The pseudo-header sum (unfolded) for the L4 segment of ip packet p. */
const pseudoOf = (p: Uint8Array, l4len: number) => pseudo(get32(p, 12), get32(p, 16), p[9]!, l4len);
const ipHeaderOk = (p: Uint8Array) => fold16(sum16(p.subarray(0, (p[0]! & 15) * 4))) === 0xffff;
/** The TCP/UDP/ICMP checksum of ip packet p verifies. */
function l4ChecksumOk(p: Uint8Array): boolean {
  const hl = (p[0]! & 15) * 4;
  return fold16(sum16(p.subarray(hl), p[9] === PROTO_ICMP ? 0 : pseudoOf(p, p.length - hl))) === 0xffff;
}

/** A copy of ip packet p (TCP/UDP) with its partial checksum completed, as a
 * NIC would; p itself if the field does not hold the pseudo-header sum. */
function completePartial(p: Uint8Array): Uint8Array {
  const hl = (p[0]! & 15) * 4, len = p.length - hl, at = hl + (p[9] === PROTO_TCP ? 16 : 6);
  if (get16(p, at) !== fold16(pseudoOf(p, len))) return p;
  const q = p.slice();
  put16(q, at, 0);
  put16(q, at, cksum(q.subarray(hl), pseudoOf(p, len)));
  return q;
}

// ---- a made-up host on the JS side of the TAP -----------------------------

interface Waiter { pred: (f: Uint8Array, flags: number) => boolean; resolve: (f: Uint8Array) => void }

/** Answers the kernel's ARP requests for OUR_IP; lets tests wait for frames. */
class FakeHost {
  readonly frames: { frame: Uint8Array; flags: number }[] = [];
  private waiters: Waiter[] = [];
  onIp: ((p: Uint8Array, f: Uint8Array, flags: number, gso: number) => void) | null = null;

  constructor(readonly link: TapLink) {
    link.onFrame = (frame, flags, gso) => {
      if (ethType(frame) === ETHERTYPE_ARP && frame.length >= 42 && get16(frame, 20) === 1 && get32(frame, 38) === OUR) {
        const sha = frame.slice(22, 28), spa = get32(frame, 28);
        link.send(ether(sha, OUR_MAC, ETHERTYPE_ARP, arp({ op: 2, sha: OUR_MAC, spa: OUR_IP, tha: sha, tpa: spa })));
      }
      const p = ipOf(frame);
      if (p && this.onIp) this.onIp(p, frame, flags, gso);
      for (const w of this.waiters) {
        if (w.pred(frame, flags)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(frame.slice()); // borrowed: copy what we keep
        }
      }
    };
  }

  waitFor(what: string, pred: Waiter['pred'], ms = 5000): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${ms} ms waiting for ${what} (link stats ${JSON.stringify(this.link.stats())})`));
      }, ms);
      const w: Waiter = { pred, resolve: (f) => { clearTimeout(timer); resolve(f); } };
      this.waiters.push(w);
    });
  }
}

/** A TapLink whose kernel side is 10.77.0.1/24, up, in a fresh namespace;
 * all of it removed afterwards, also on failure. */
async function withKernelPeer(opts: TapOptions, fn: (link: TapLink, ns: Netns) => Promise<void>): Promise<void> {
  await withNetns(async (ns) => {
    const link = await TapLink.open(devName(), opts);
    try {
      ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1); // no router solicitations etc. on the wire
      ns.moveIn(link.name);
      ns.addAddress(link.name, '10.77.0.1/24');
      ns.up(link.name);
      await fn(link, ns);
    } finally {
      link.close();
    }
  }, 'shoaltap');
}

async function pingKernel(host: FakeHost, id: number): Promise<Uint8Array> {
  const data = new TextEncoder().encode(`shoal tap test ${id} `.repeat(4));
  const reply = host.waitFor('ICMP echo reply', (f) => {
    const p = ipOf(f);
    return !!p && p[9] === PROTO_ICMP && get32(p, 12) === KERNEL && p[20] === 0 && get16(p, 24) === id;
  });
  // Our MAC is not known to the kernel yet: it ARPs for 10.77.0.2, FakeHost answers.
  host.link.send(ether(BROADCAST, OUR_MAC, ETHERTYPE_IPV4, toKernel(PROTO_ICMP, icmp({ type: 8, id, seq: 1, data }), id)));
  const f = await reply;
  const p = ipOf(f)!;
  assert.ok(ipHeaderOk(p), 'IP header checksum');
  assert.ok(l4ChecksumOk(p), 'ICMP checksum');
  assert.ok(same(f, 0, OUR_MAC), 'reply addressed to our MAC');
  assert.equal([...p.subarray(28)], [...data], 'echo payload');
  return f;
}

// ---- tests ----------------------------------------------------------------

kt('(a) an ARP request sent by hand gets the kernel\'s ARP reply', async () => {
  await withKernelPeer({}, async (link) => {
    const host = new FakeHost(link);
    const reply = host.waitFor('ARP reply', (f) =>
      ethType(f) === ETHERTYPE_ARP && get16(f, 20) === 2 && get32(f, 28) === KERNEL && same(f, 32, OUR_MAC));
    link.send(ether(BROADCAST, OUR_MAC, ETHERTYPE_ARP, arp({ op: 1, sha: OUR_MAC, spa: OUR_IP, tpa: KERNEL_IP })));
    link.flush(); // now, not on the next turn
    assert.is(link.stats().framesOut, 1, 'written by flush()');
    const f = await reply;
    assert.ok(same(f, 0, OUR_MAC), 'unicast to us');
    assert.is(get32(f, 38), OUR, 'target protocol address');
    const s = link.stats();
    assert.ok(s.framesIn >= 1 && s.bytesIn >= 42 && s.readBatches >= 1, JSON.stringify(s));
    assert.is(s.errors, 0);
  });
});

kt('(b) ICMP echo to the kernel, answering its ARP by hand, gets the echo reply', async () => {
  await withKernelPeer({}, async (link) => {
    const host = new FakeHost(link);
    await pingKernel(host, 0x5301);
    // A burst: many frames queued in one turn go out in one batch.
    const replies = [];
    for (let i = 0; i < 20; i++) {
      const id = 0x5400 + i;
      replies.push(host.waitFor(`echo reply ${i}`, (f) => { const p = ipOf(f); return !!p && p[20] === 0 && get16(p, 24) === id; }));
      link.send(ether(BROADCAST, OUR_MAC, ETHERTYPE_IPV4, toKernel(PROTO_ICMP, icmp({ type: 8, id, seq: 1, data: new Uint8Array(56) }), id)));
    }
    const before = link.stats().writeBatches;
    await Promise.all(replies);
    const s = link.stats();
    assert.ok(s.writeBatches - before <= 3, `20 sends in one turn took ${s.writeBatches - before} write batches`);
    assert.is(s.errors, 0);
  });
});

kt('(c) deleting the namespace brings the link down via onDown, nothing thrown', async () => {
  await withNetns(async (ns) => {
    const link = await TapLink.open(devName());
    try {
      ns.moveIn(link.name);
      ns.up(link.name);
      const down = new Promise<Error | undefined>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no onDown within 10 s of deleting the namespace')), 10_000);
        link.onDown = (err) => { clearTimeout(timer); resolve(err); };
      });
      link.onFrame = () => {};
      ns.destroy();
      const err = await down;
      console.log(`    onDown: ${err?.message}`);
      assert.instance(err, Error);
      const code = (err as Error & { code?: string }).code;
      assert.ok(['EBADFD', 'EIO', 'ENODEV', 'EBADF', 'ENXIO'].includes(code!), `error code ${code}: ${err!.message}`);
      assert.ok(link.isClosed, 'link closed itself');
      assert.is(link.downError, err);
      // Dead link: sends are counted drops, close stays idempotent.
      link.send(ether(BROADCAST, OUR_MAC, ETHERTYPE_ARP, arp({ op: 1, sha: OUR_MAC, spa: OUR_IP, tpa: KERNEL_IP })));
      link.flush();
      link.close();
      assert.ok(link.stats().drops >= 1);
    } finally {
      link.close();
    }
  }, 'shoaltap');
});

test('(d) a device name over 15 bytes rejects clearly, with or without TAP support', async () => {
  try {
    await TapLink.open('x'.repeat(16));
    assert.unreachable('opened a 16-byte name');
  } catch (e) {
    const err = e as Error & { code?: string };
    assert.not.instance(err, assert.Assertion);
    assert.is(err.code, 'EINVAL');
    assert.match(err.message, /15 bytes/);
  }
});

maybe(test, tapWhy, '(d) a name the kernel refuses, and an existing device that is no TAP, reject clearly', async () => {
  try {
    await TapLink.open('bad/name');
    assert.unreachable('opened bad/name');
  } catch (e) {
    const err = e as Error & { code?: string };
    assert.not.instance(err, assert.Assertion);
    assert.is(err.code, 'EINVAL');
    assert.match(err.message, /bad\/name/);
  }
  try {
    await TapLink.open('lo'); // exists and is no TAP
    assert.unreachable('opened lo');
  } catch (e) {
    assert.not.instance(e, assert.Assertion);
    assert.ok((e as Error & { code?: string }).code, (e as Error).message);
  }
});

kt('(e) offload: checksum offload accepted, partial checksums completed, round trip works', async () => {
  await withKernelPeer({ offload: true }, async (link, ns) => {
    console.log(`    offload at mtu 1500: ${JSON.stringify(link.offload)}`);
    assert.ok(link.offload.tso4 && link.offload.gso === 65535, 'TSO at any mtu');
    if (link.offload.vnetHdr) assert.ok(link.offload.csum, 'vnet header kept only with some offload');
    const host = new FakeHost(link);
    await pingKernel(host, 0x5501);
    // The kernel's UDP checksum stays partial with TUN_F_CSUM: the link completes it.
    const got = host.waitFor('UDP datagram', (f) => { const p = ipOf(f); return !!p && p[9] === 17 && get16(p, 22) === 9999; });
    const send = `require('dgram').createSocket('udp4').send('hello over a TAP', 9999, '10.77.0.2', (e) => process.exit(e ? 1 : 0))`;
    await ns.exec([process.execPath, '-e', send]);
    const f = await got;
    const p = ipOf(f)!;
    assert.ok(l4ChecksumOk(p), 'UDP checksum complete and right');
    assert.is(new TextDecoder().decode(p.subarray(28)), 'hello over a TAP');
    const s = link.stats();
    console.log(`    csumCompleted=${s.csumCompleted} gsoIn=${s.gsoIn}`);
    if (link.offload.csum) assert.ok(s.csumCompleted >= 1, 'a partial checksum was seen and completed');
  });
});

/** A hand-driven TCP server at 10.77.0.2:7777 that ACKs everything in order,
 * and a kernel client in the namespace that sends it `total` bytes. */
async function kernelSends(link: TapLink, ns: Netns, total: number) {
  const host = new FakeHost(link);
  const ISS = 1000;
  const r = { received: 0, maxFrame: 0, badSum: 0, notOk: 0, gsoFrames: 0, maxGso: 0 };
  let rcvNxt = 0, sport = 0, kernelMac = new Uint8Array(6);
  let finished!: () => void;
  const done = new Promise<void>((res) => (finished = res));
  const reply = (flags: number, seq: number) =>
    link.send(ether(kernelMac, OUR_MAC, ETHERTYPE_IPV4, toKernel(PROTO_TCP, tcp(7777, sport, seq, rcvNxt, flags))));
  host.onIp = (p, f, flags, gso) => {
    if (p[9] !== 6 || get16(p, 22) !== 7777) return;
    r.maxFrame = Math.max(r.maxFrame, f.length);
    if (flags & FRAME_GSO) { r.gsoFrames++; r.maxGso = Math.max(r.maxGso, gso); }
    if (!ipHeaderOk(p) || !l4ChecksumOk(flags & FRAME_CSUM_PARTIAL ? completePartial(p) : p)) r.badSum++;
    if (!(flags & FRAME_CSUM_OK)) r.notOk++;
    const t = p.subarray(20), fl = t[13]!, seq = get32(t, 4), dlen = t.length - (t[12]! >> 4) * 4;
    if (fl & TH_SYN) {
      kernelMac = f.slice(6, 12);
      sport = get16(t, 0);
      rcvNxt = (seq + 1) >>> 0;
      link.send(ether(kernelMac, OUR_MAC, ETHERTYPE_IPV4, toKernel(PROTO_TCP, tcp(7777, sport, ISS, rcvNxt, TH_SYN | TH_ACK, undefined, 1460))));
      return;
    }
    if (seq === rcvNxt) {
      rcvNxt = (rcvNxt + dlen) >>> 0;
      r.received += dlen;
      if (fl & TH_FIN) { rcvNxt = (rcvNxt + 1) >>> 0; reply(TH_FIN | TH_ACK, ISS + 1); finished(); return; }
    }
    if (dlen || fl & TH_FIN) reply(TH_ACK, ISS + 1);
  };
  const client = `const s = require('net').connect(7777, '10.77.0.2', () => s.end(Buffer.alloc(${total}, 120)));` +
    `s.on('close', () => process.exit(0)); s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  await Promise.all([ns.exec([process.execPath, '-e', client], { timeoutMs: 15_000 }), done]);
  return r;
}

kt('(e) offload at mtu 65535: TSO super-frames pass whole to a plain consumer (they fit its mtu), checksums right', async () => {
  await withKernelPeer({ offload: true, mtu: 65535 }, async (link, ns) => {
    console.log(`    offload at mtu 65535: ${JSON.stringify(link.offload)}`);
    const r = await kernelSends(link, ns, 200_000);
    const s = link.stats();
    console.log(`    ${r.received} bytes, largest frame ${r.maxFrame} B, gsoIn=${s.gsoIn} csumCompleted=${s.csumCompleted}`);
    assert.is(r.received, 200_000);
    assert.is(r.badSum, 0, 'every segment checksum right');
    assert.is(r.gsoFrames, 0, 'a plain consumer never sees FRAME_GSO');
    if (link.offload.csum) assert.is(r.notOk, 0, 'kernel-made segments flagged FRAME_CSUM_OK');
    if (link.offload.tso4) assert.ok(s.gsoIn >= 1 && r.maxFrame > 1514, 'the kernel sent GSO super-frames, passed whole');
  });
});

const TAKES_ALL = { csum: true, gso: 65535 };

kt('(f) offload by default at mtu 1500: the kernel\'s bulk TCP arrives in GSO frames, whole for a consumer that takes them', async () => {
  await withKernelPeer({}, async (link, ns) => {
    assert.ok(link.offload.vnetHdr && link.offload.csum && link.offload.tso4, `offloads on by default: ${JSON.stringify(link.offload)}`);
    link.rxOffload = TAKES_ALL;
    const r = await kernelSends(link, ns, 2_000_000);
    const s = link.stats();
    console.log(`    ${r.received} bytes in ${s.framesIn} frames, largest ${r.maxFrame} B, GSO frames ${r.gsoFrames} ` +
      `(gso up to ${r.maxGso}), gsoIn=${s.gsoIn} csumPartialIn=${s.csumPartialIn} csumCompleted=${s.csumCompleted}`);
    assert.is(r.received, 2_000_000);
    assert.is(r.badSum, 0, 'every frame\'s checksum right once completed');
    assert.is(r.notOk, 0);
    assert.ok(r.gsoFrames >= 1 && r.gsoFrames === s.gsoIn, 'GSO frames passed up whole');
    assert.ok(r.maxFrame > 1514, `frames beyond the 1500 mtu (${r.maxFrame} B)`);
    assert.ok(r.maxGso > 0 && r.maxGso <= 1460, `segment size ${r.maxGso} fits the kernel's 1500 mtu`);
    assert.is(s.csumCompleted, 0, 'no checksum computed here');
  });
});

kt('(f) offload at mtu 1500: for a consumer that takes no offloads the same GSO frames are cut into verified segments', async () => {
  await withKernelPeer({}, async (link, ns) => {
    const r = await kernelSends(link, ns, 1_000_000);
    const s = link.stats();
    console.log(`    ${r.received} bytes, largest frame ${r.maxFrame} B, gsoIn=${s.gsoIn} csumCompleted=${s.csumCompleted}`);
    assert.is(r.received, 1_000_000);
    assert.is(r.badSum, 0);
    assert.is(r.gsoFrames, 0);
    assert.ok(r.maxFrame <= 1514, `largest frame ${r.maxFrame} B`);
    assert.ok(s.gsoIn >= 1, 'the kernel did send GSO frames');
    assert.ok(s.csumCompleted >= s.gsoIn);
  });
});

/** Our hand-made client sends `data` to a kernel TCP server in one FRAME_GSO
 * frame (SYN, then one 30 KB segment with FIN); resolves with what the server read. */
async function sendOneGsoFrame(link: TapLink, ns: Netns, data: Uint8Array): Promise<string> {
  const server = `const s = require('net').createServer((c) => { const h = require('crypto').createHash('sha256'); let n = 0;` +
    `c.on('data', (d) => { n += d.length; h.update(d); }); c.on('end', () => { console.log(n + ' ' + h.digest('hex')); process.exit(0); }); });` +
    `s.listen(7000, '10.77.0.1', () => console.log('listening'));`;
  const child = ns.spawn([process.execPath, '-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const line = (re: RegExp) => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kernel server: no ${re} within 10 s (output: ${out})`)), 10_000);
    const check = () => { const m = out.match(re); if (m) { clearTimeout(timer); resolve(m[0]); } };
    child.stdout!.on('data', (d: Buffer) => { out += d; check(); });
    check();
  });
  await line(/listening/);
  const host = new FakeHost(link);
  const kernelMac = (await pingKernel(host, 0x5601)).slice(6, 12);
  const synAck = host.waitFor('SYN-ACK', (f) => { const p = ipOf(f); return !!p && p[9] === 6 && get16(p, 20) === 7000 && p[33] === (TH_SYN | TH_ACK); });
  const ISS = 5000;
  link.send(ether(kernelMac, OUR_MAC, ETHERTYPE_IPV4, toKernel(PROTO_TCP, tcp(5555, 7000, ISS, 0, TH_SYN, undefined, 1460))));
  const p = ipOf(await synAck)!;
  const ack = (get32(p, 24) + 1) >>> 0;
  // PSH|ACK|FIN, its checksum left partial: the pseudo-header sum of the whole segment.
  const seg = tcp(5555, 7000, ISS + 1, ack, TH_FIN | TH_PSH | TH_ACK, data);
  put16(seg, 16, fold16(pseudo(OUR, KERNEL, PROTO_TCP, seg.length)));
  link.send(ether(kernelMac, OUR_MAC, ETHERTYPE_IPV4, toKernel(PROTO_TCP, seg, 0x777)), FRAME_CSUM_PARTIAL | FRAME_GSO, 1448);
  link.flush();
  return line(/^\d+ [0-9a-f]{64}$/m);
}

for (const offload of [true, false]) {
  kt(`(g) offload ${offload ? 'on' : 'off'} at mtu 1500: a 30 KB GSO frame we send reaches a kernel socket whole ${offload ? '(one write)' : '(segmented here)'}`, async () => {
    await withKernelPeer({ offload }, async (link, ns) => {
      const data = Uint8Array.from({ length: 30_000 }, (_, i) => (i * 13 + (i >> 10)) & 255);
      const got = await sendOneGsoFrame(link, ns, data);
      assert.is(got, `${data.length} ${createHash('sha256').update(data).digest('hex')}`, 'every byte, in order');
      const s = link.stats();
      console.log(`    framesOut=${s.framesOut} bytesOut=${s.bytesOut} gsoOut=${s.gsoOut}`);
      if (offload) {
        assert.is(s.gsoOut, 1, 'handed to the kernel as one GSO frame');
        assert.ok(s.framesOut <= 5, `${s.framesOut} frames written (ARP, ping, SYN, the segment)`);
      } else {
        assert.is(s.gsoOut, 0);
        assert.ok(s.framesOut >= 21, `${s.framesOut} frames written: cut into 1448-byte segments here`);
      }
      assert.is(s.errors, 0);
    });
  });
}

test.run();
