// TCP under random loss: Shoal against the Linux kernel over a TAP, each
// figure as a ratio to the kernel talking to itself over a veth pair between
// two namespaces, measured alternately in the same run. Offloads are off on
// every device (the TAP opened without them, `ethtool -K … off` on the
// kernel's ends), so a drop hits one wire-sized segment, never a 64 KiB burst.
// Loss is on the receiver's ingress only, uniform and independent:
//   - kernel → kernel (the baseline) and Shoal → kernel: nftables on the
//     receiving device's netdev ingress hook (`numgen random mod 1000 < N drop`);
//   - kernel → Shoal: the stack's link drops the same share of what it
//     receives (withFaults rx; nftables cannot drop on a TAP's way out here,
//     and a postrouting drop is no loss to a local sender, which is told and
//     sends again).
// Each round moves BENCH_LOSSY_MB (default 64) MB with socat at the kernel's
// end, once over the veth, then Shoal → kernel, then kernel → Shoal; the
// figure is the median of BENCH_ROUNDS (default 3) rounds, at each loss of
// BENCH_LOSSY_LOSS (default `0.01,0.05`: 1 % and 5 %).
// Single runs under loss swing several-fold, hence rounds. Both ends run the
// same congestion control, for each of BENCH_LOSSY_CC (default `cubic,bbr`):
// the kernel's senders through TCP_CONGESTION on socat's socket, Shoal's
// through tcpCongestion. A loss-based algorithm (CUBIC) must shrink its
// window at every loss and BBR does not, so comparing across algorithms
// would measure the algorithm, not the loss recovery. Shoal's stacks use
// Stack.BULK, the preset for bulk transfer (1 MiB socket buffers, 8 MiB of
// packet buffers; the kernel tunes its own up to 6 MiB): under loss the
// default 256 KiB window fills with out-of-order data while holes wait for
// their retransmissions. A transfer of
// Shoal's that takes longer than STALL_S and than twice the baseline's in
// the same round is reported as a stall (the figure still counts): the
// kernel's CUBIC itself needs 30-40 s for 64 MB at 5 %, and as the sender to
// Shoal it sets that transfer's pace.
// Needs root, /dev/net/tun, socat, nft, ethtool (Debian: socat nftables ethtool).
import { spawnSync } from 'node:child_process';
import { Stack } from '../host/stack.ts';
import type { Congestion } from '../host/net/net.ts';
import { TapLink } from '../host/link/tap.ts';
import { withFaults } from '../host/link/faults.ts';
import { netnsUnavailable, Netns } from '../test/interop/netns.ts';
import { kernelToStack, listening, socatSink, socatSource, stackToKernel } from './kernel-peer.ts';

const MB = 1_000_000;
const BYTES = Number(process.env.BENCH_LOSSY_MB ?? 64) * MB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOSSES = (process.env.BENCH_LOSSY_LOSS ?? '0.01,0.05').split(',').map(Number);
const STALL_S = 20;
const SEED = 8985;
const CCS = (process.env.BENCH_LOSSY_CC ?? 'cubic,bbr').split(',') as Congestion[];

const has = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
const tap = TapLink.available();
const missing = ['socat', 'nft', 'ethtool'].filter((c) => !has(c));
const why = netnsUnavailable() ?? (!tap.ok ? tap.reason
  : missing.length ? `missing ${missing.join(', ')} (Debian packages socat, nftables, ethtool)` : null);
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbit = (bytes: number, ms: number) => (bytes * 8) / ms / 1e3;
const OFF = ['tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off', 'sg', 'off'];

/** nftables loss of `loss` on dev's ingress in ns. */
function nftLoss(ns: Netns, dev: string, loss: number): void {
  const rule = `table netdev loss {
  chain in {
    type filter hook ingress device ${dev} priority 0;
    ip protocol tcp numgen random mod 1000 < ${Math.round(loss * 1000)} drop
  }
}`;
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], { input: rule, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft in ${ns.name}: ${r.stderr}`);
}

/** Mbit/s of one socat transfer from src to dst (listening at addr). */
async function kernelTransfer(src: Netns, dst: Netns, addr: string, cc: Congestion): Promise<number> {
  const sink = socatSink(dst, 5001);
  await listening(dst, 5001);
  const t0 = performance.now();
  await socatSource(src, addr, 5001, BYTES, cc);
  await sink;
  return mbit(BYTES, performance.now() - t0);
}

/** The baseline: two namespaces joined by a veth pair, loss on b's ingress. */
function vethPair(loss: number, cc: Congestion) {
  const a = new Netns('lossva'), b = new Netns('lossvb');
  try {
    const va = `lva${process.pid}`, vb = `lvb${process.pid}`;
    const r = spawnSync('ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vb], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip link add ${va}: ${r.stderr}`);
    a.moveIn(va); b.moveIn(vb);
    a.addAddress(va, '10.84.0.1/24'); b.addAddress(vb, '10.84.0.2/24');
    for (const [ns, dev] of [[a, va], [b, vb]] as const) { ns.execSync(['ethtool', '-K', dev, ...OFF]); ns.up(dev); }
    nftLoss(b, vb, loss);
    return { run: () => kernelTransfer(a, b, '10.84.0.2', cc), close: () => { a.destroy(); b.destroy(); } };
  } catch (e) {
    a.destroy(); b.destroy();
    throw e;
  }
}

/** Shoal on a TAP (offloads off) whose kernel side is in a namespace; loss
 * on the kernel's ingress (nft) for Shoal → kernel, or on the stack's
 * (withFaults rx) for kernel → Shoal. */
async function tapPath(loss: number, lossAtStack: boolean, tag: string, cc: Congestion) {
  const ns = new Netns(`loss${tag}`);
  let link: TapLink | undefined, stack: Stack | undefined;
  const close = async () => { await stack?.close(); link?.close(); ns.destroy(); };
  try {
    link = await TapLink.open(`lt${tag}${process.pid}`, { offload: false });
    const l = lossAtStack ? withFaults(link, { seed: SEED, rx: { loss } }) : link;
    stack = await Stack.create({ name: `lossy-${tag}`, link: l, address: '10.85.0.2/24', seed: SEED, limits: { ...Stack.BULK, tcpCongestion: cc } });
    ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
    ns.moveIn(link.name);
    ns.addAddress(link.name, '10.85.0.1/24');
    ns.execSync(['ethtool', '-K', link.name, ...OFF]);
    ns.up(link.name);
    if (!lossAtStack) nftLoss(ns, link.name, loss);
    await stack.ping('10.85.0.1');
    const s = stack;
    const run = async () => mbit(BYTES, lossAtStack
      ? await kernelToStack(s, ns, '10.85.0.2', 5002, BYTES, cc)
      : await stackToKernel(s, ns, '10.85.0.1', 5001, BYTES));
    return { run, stats: () => s.stats(), close };
  } catch (e) {
    await close();
    throw e;
  }
}

const t00 = performance.now();
const stalls: string[] = [];
const timed = async (what: string, f: () => Promise<number>, baseS: number): Promise<number> => {
  const t0 = performance.now();
  const v = await f();
  const s = (performance.now() - t0) / 1e3;
  if (s > STALL_S && s > 2 * baseS) stalls.push(`${what}: ${s.toFixed(1)} s (the kernel's ${baseS.toFixed(1)} s)`);
  return v;
};
console.log(`TCP under loss on the receiver's ingress, offloads off, MTU 1500, ${BYTES / MB} MB a transfer, median of ${ROUNDS} rounds:`);
for (const cc of CCS) for (const loss of LOSSES) {
  const pct = `${(loss * 100).toFixed(0)} %`;
  const v = vethPair(loss, cc);
  const out = await tapPath(loss, false, 'o', cc).catch((e) => { v.close(); throw e; });
  const inn = await tapPath(loss, true, 'i', cc).catch(async (e) => { v.close(); await out.close(); throw e; });
  try {
    const ks: number[] = [], os: number[] = [], is: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const kr = await v.run();
      const baseS = (BYTES * 8) / kr / 1e6;
      ks.push(kr);
      os.push(await timed(`${cc} Shoal → kernel ${pct} round ${r}`, out.run, baseS));
      is.push(await timed(`${cc} kernel → Shoal ${pct} round ${r}`, inn.run, baseS));
    }
    const k = median(ks);
    const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(`${cc}, ${pct} loss: kernel → kernel over veth ${k.toFixed(0)} Mbit/s (${f(ks)})`);
    console.log(`${cc} ${pct} Shoal → kernel: ${median(os).toFixed(0)} Mbit/s (${f(os)}); ratio ${(median(os) / k).toFixed(2)}×`);
    console.log(`${cc} ${pct} kernel → Shoal: ${median(is).toFixed(0)} Mbit/s (${f(is)}); ratio ${(median(is) / k).toFixed(2)}×`);
    const st = out.stats();
    console.log(`  Shoal as sender: tcpRetrans ${st.tcpRetrans} tcpFastRetrans ${st.tcpFastRetrans} tcpRto ${st.tcpRto} tcpTlp ${st.tcpTlp}`);
    const rt = inn.stats();
    console.log(`  Shoal as receiver: tcpRx ${rt.tcpRx} tcpTx ${rt.tcpTx} tcpOoo ${rt.tcpOoo} tcpOooDrop ${rt.tcpOooDrop} tcpDup ${rt.tcpDup} tcpWindowDrop ${rt.tcpWindowDrop} poolEmpty ${rt.poolEmpty}`);
  } finally {
    v.close();
    await out.close();
    await inn.close();
  }
}
console.log(stalls.length ? `STALLED (over ${STALL_S} s and twice the kernel's): ${stalls.join('; ')}` : `no transfer of Shoal's took over ${STALL_S} s and twice the kernel's`);
console.log(`bench time ${((performance.now() - t00) / 1e3).toFixed(0)} s`);
