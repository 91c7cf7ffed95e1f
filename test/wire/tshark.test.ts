// An independent judge: real traffic between stacks (ARP, ping, fragmented
// ping, UDP, fragmented UDP, ICMP port unreachable, broadcast) is captured with
// withPcap and read back by tshark with every checksum check on. No malformed
// packet, no warning, no bad checksum; every expected protocol is there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from '../../host/stack.ts';
import { VirtualClock } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { withPcap } from '../../host/link/pcap.ts';
import { drive, ticks } from '../helpers/frames.ts';
import { lacks, maybe } from '../helpers/needs.ts';

const CHECKS = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];

function tshark(args: string[]): string {
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

maybe(test, lacks('tshark'), 'tshark reads a capture of real traffic: no malformed packet, no bad checksum', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-tshark-'));
  const file = join(dir, 'traffic.pcap');
  try {
    const clock = new VirtualClock();
    const sw = new VirtualSwitch();
    const a = Stack.createSync({ name: 'a', link: withPcap(sw.connect(), file, { clock }), address: '10.0.0.1/24', clock, seed: 1 });
    const b = Stack.createSync({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', clock, seed: 2 });
    await drive(clock, a.ping('10.0.0.2'));
    await drive(clock, a.ping('10.0.0.2', { size: 4000 }));            // fragmented both ways
    await drive(clock, b.ping('10.0.0.1', { size: 1 }));
    const server = b.dgram.createSocket('udp4');
    server.on('message', (m: Buffer, r) => server.send(m, r.port, r.address));
    server.bind(40000);
    const client = a.dgram.createSocket('udp4');
    const got: Buffer[] = [];
    client.on('message', (m: Buffer) => got.push(m));
    client.bind(40001);
    await ticks();
    for (const n of [0, 1, 2, 3, 100, 1471, 1472, 1473, 5000, 30_001]) {
      client.send(new Uint8Array(n).map((_, i) => (i * 7 + n) & 255), 40000, '10.0.0.2');
      clock.advance(1);
    }
    client.send('nobody home', 40002, '10.0.0.2');                       // ICMP port unreachable
    client.setBroadcast(true);
    client.send('all', 40000, '10.0.0.255');
    clock.advance(100);
    assert.is(got.length, 11, 'every echo came back');
    server.close(); client.close();
    await a.close(); await b.close();                                    // closes the capture

    const bad = tshark(['-r', file, ...CHECKS, '-Y', '_ws.malformed || _ws.expert.severity >= warning ||' +
      ' ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0']);
    assert.is(bad.trim(), '', `tshark objects to:\n${bad}`);
    const rows = tshark(['-r', file, ...CHECKS, '-T', 'fields', '-E', 'separator=|',
      '-e', 'frame.protocols', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', 'icmp.checksum.status',
      '-e', 'icmp.type', '-e', 'ip.flags.mf', '-e', 'ip.frag_offset']).trim().split('\n').map((l) => l.split('|'));
    assert.ok(rows.length > 40, `${rows.length} frames`);
    const protos = rows.map((r) => r[0]);
    assert.ok(protos.some((p) => p === 'eth:ethertype:arp'), 'ARP');
    assert.ok(protos.some((p) => p.startsWith('eth:ethertype:ip:icmp')), 'ICMP');
    assert.ok(protos.some((p) => p.startsWith('eth:ethertype:ip:udp')), 'UDP');
    assert.ok(rows.some((r) => r[5] === '1' || r[5] === 'True'), 'fragments with MF');
    assert.ok(rows.some((r) => Number(r[6]) > 0), 'fragments at an offset');
    const icmpTypes = new Set(rows.flatMap((r) => r[4].split(',')).filter(Boolean));
    for (const t of ['0', '8', '3']) assert.ok(icmpTypes.has(t), `ICMP type ${t} present`);
    // Every IP header checksum was checked and found good (status 1); so was every UDP and ICMP one present.
    for (const r of rows.filter((x) => x[0].includes(':ip'))) {
      for (const s of r[1].split(',')) assert.is(s, '1', `IP checksum status in ${r[0]}`);
      // (A UDP header quoted in an ICMP error cannot be checked: its data is not quoted.)
      const quoted = r[0].includes('icmp:ip:udp');
      for (const s of [quoted ? '' : r[2], r[3]].flatMap((x) => x.split(',')).filter(Boolean)) assert.is(s, '1', `checksum status in ${r[0]}`);
    }
  } finally {
    if (!process.env.KEEP_PCAP) rmSync(dir, { recursive: true, force: true }); else console.log(file);
  }
});

test.run();
