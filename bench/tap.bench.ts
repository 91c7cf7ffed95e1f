// UDP datagram rate between the Linux kernel and a Shoal stack over a TAP
// device, kernel → stack and stack → kernel, as a ratio against the kernel
// talking to itself over a veth pair between two namespaces (offloads off,
// MTU 1500), all measured in this run. The kernel's side is a small C
// program (sendmmsg/recvmmsg), compiled here with gcc, so the baseline is the
// kernel's rate and not that of a JS runtime. Needs root, /dev/net/tun and
// gcc; without them it prints why and skips. About 20 s.
//
// What is measured: datagrams delivered to the receiving application per
// second, over the receiver's active window, with the sender sending as fast
// as it can for SECONDS (the sender's excess is dropped in queues, as it
// would be on a wire).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack } from '../host/stack.ts';
import { LIMITS, presetNote } from './preset.ts';
import { TapLink } from '../host/link/tap.ts';
import { netnsUnavailable, ip, Netns } from '../test/interop/netns.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const SIZES = [64, 1472];
const PORT = 9000;
const outDir = dirname(fileURLToPath(import.meta.url)); // build/bench, where the runner puts this bundle

const C_SRC = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
enum { B = 64, MAXLEN = 65536 };
static char buf[B][MAXLEN];
static struct mmsghdr m[B];
static struct iovec v[B];
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void setup(int len) {
  for (int i = 0; i < B; i++) {
    memset(buf[i], 'x', len); v[i].iov_base = buf[i]; v[i].iov_len = len;
    memset(&m[i], 0, sizeof m[i]); m[i].msg_hdr.msg_iov = &v[i]; m[i].msg_hdr.msg_iovlen = 1;
  }
}
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET };
  if (argc == 6 && !strcmp(argv[1], "send")) {            /* send IP PORT SIZE SECONDS */
    inet_pton(AF_INET, argv[2], &a.sin_addr); a.sin_port = htons(atoi(argv[3]));
    if (connect(s, (void *)&a, sizeof a)) { perror("connect"); return 1; }
    setup(atoi(argv[4]));
    long sent = 0, errs = 0; double t0 = now(), end = t0 + atof(argv[5]);
    while (now() < end) {
      int r = sendmmsg(s, m, B, 0);
      if (r > 0) sent += r;
      else if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED) errs++;
      else { perror("sendmmsg"); return 1; }
    }
    printf("%ld %ld %.6f\n", sent, errs, now() - t0);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "recv")) {            /* recv PORT MAXSECONDS IDLEMS */
    a.sin_port = htons(atoi(argv[2]));
    int rb = 8 << 20; setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb);
    struct timeval tv = { 0, 20000 }; setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (bind(s, (void *)&a, sizeof a)) { perror("bind"); return 1; }
    setup(MAXLEN);
    printf("ready\n"); fflush(stdout);
    long n = 0; double first = 0, last = 0, start = now(), maxs = atof(argv[3]), idle = atof(argv[4]) / 1000;
    for (;;) {
      int r = recvmmsg(s, m, B, MSG_WAITFORONE, NULL);
      double t = now();
      if (r > 0) { if (!n) first = t; n += r; last = t; }
      if (n ? t - last > idle : t - start > maxs) break;
    }
    printf("%ld %.6f\n", n, last - first);
    return 0;
  }
  fprintf(stderr, "usage: send IP PORT SIZE SECONDS | recv PORT MAXSECONDS IDLEMS\n");
  return 2;
}
`;

function skip(why: string): never {
  console.log(`tap bench skipped: ${why}`);
  process.exit(0);
}

const netnsWhy = netnsUnavailable();
if (netnsWhy) skip(netnsWhy);
const tapOk = TapLink.available();
if (!tapOk.ok) skip(tapOk.reason!);
if (spawnSync('sh', ['-c', 'command -v gcc']).status !== 0) skip('gcc is needed to build the kernel-side sender/receiver');
mkdirSync(outDir, { recursive: true });
const BLAST = join(outDir, 'udpblast');
writeFileSync(`${BLAST}.c`, C_SRC);
const cc = spawnSync('gcc', ['-O2', '-o', BLAST, `${BLAST}.c`], { encoding: 'utf8' });
if (cc.status !== 0) skip(`gcc failed: ${cc.stderr}`);
const hasEthtool = spawnSync('sh', ['-c', 'command -v ethtool']).status === 0;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pid = process.pid;
const namespaces: Netns[] = [];
const ns = (tag: string) => { const n = new Netns(`shoalbench${tag}`); namespaces.push(n); return n; };

function offloadsOff(n: Netns, dev: string): void {
  if (hasEthtool) n.execSync(['ethtool', '-K', dev, 'rx', 'off', 'tx', 'off', 'sg', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
}

/** Starts the C receiver in n; resolves once it is bound, with a promise of its count and active seconds
 * (wrapped: an async function returning a promise would wait for it). */
async function receiver(n: Netns): Promise<{ done: Promise<{ count: number; secs: number }> }> {
  const child = n.spawn([BLAST, 'recv', String(PORT), String(SECONDS + 5), '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => { out += d; if (out.includes('ready\n')) resolve(); });
    child.on('exit', (c) => reject(new Error(`receiver exited (${c})`)));
  });
  const done = new Promise<{ count: number; secs: number }>((resolve, reject) => {
    child.removeAllListeners('exit');
    child.on('close', (c) => { // 'close': stdout is fully read
      const m = out.match(/^(\d+) ([\d.]+)$/m);
      if (c !== 0 || !m) reject(new Error(`receiver: exit ${c}: ${out}`));
      else resolve({ count: Number(m[1]), secs: Number(m[2]) });
    });
  });
  return { done };
}

const rate = (r: { count: number; secs: number }) => (r.count > 1 && r.secs > 0 ? (r.count - 1) / r.secs : 0);

/** kernel → kernel: the C sender in A, the C receiver in B, a veth pair between. */
async function veth(size: number): Promise<number> {
  const a = ns('a'), b = ns('b');
  const da = `shva${pid}`, db = `shvb${pid}`;
  ip('link', 'add', da, 'type', 'veth', 'peer', 'name', db);
  a.moveIn(da); b.moveIn(db);
  for (const [n, d, addr] of [[a, da, '10.83.0.1/24'], [b, db, '10.83.0.2/24']] as const) {
    n.addAddress(d, addr); n.setMtu(d, 1500); offloadsOff(n, d); n.up(d);
  }
  const { done } = await receiver(b);
  await a.exec([BLAST, 'send', '10.83.0.2', String(PORT), String(size), String(SECONDS)], { timeoutMs: (SECONDS + 10) * 1000 });
  const r = rate(await done);
  a.destroy(); b.destroy();
  return r;
}

/** A stack (10.84.0.2) on a TAP whose kernel side (10.84.0.1) is in a fresh namespace. */
async function tapPeer(): Promise<{ k: Netns; tap: TapLink; stack: Stack; done(): Promise<void> }> {
  const k = ns('k');
  const tap = await TapLink.open(`shbt${pid}`, { mtu: 1500, offload: false }); // like the veth: offloads off
  k.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
  k.moveIn(tap.name);
  k.addAddress(tap.name, '10.84.0.1/24');
  offloadsOff(k, tap.name);
  k.up(tap.name);
  const stack = await Stack.create({ name: 'bench', link: tap, address: '10.84.0.2/24', seed: 1, limits: LIMITS });
  console.log(presetNote(stack));
  await stack.ping('10.84.0.1', { timeout: 2000 });
  return { k, tap, stack, done: async () => { await stack.close(); tap.close(); k.destroy(); } };
}

/** kernel → stack: the C sender in the namespace, a dgram socket on the stack counting. */
async function kernelToStack(size: number): Promise<{ rate: number; note: string }> {
  const p = await tapPeer();
  let count = 0, first = 0, last = 0;
  const sock = p.stack.dgram.createSocket('udp4', () => {
    const t = performance.now();
    if (!count) first = t;
    count++; last = t;
  });
  await new Promise<void>((r) => sock.bind(PORT, () => r()));
  const s = await p.k.exec([BLAST, 'send', '10.84.0.2', String(PORT), String(size), String(SECONDS)], { timeoutMs: (SECONDS + 10) * 1000 });
  await sleep(300);
  const [sent] = s.stdout.trim().split(' ').map(Number);
  const r = rate({ count, secs: (last - first) / 1000 });
  const ts = p.tap.stats(), st = p.stack.stats();
  const note = `sent ${(sent! / 1e3).toFixed(0)} k, TAP read ${(ts.framesIn / 1e3).toFixed(0)} k frames in ${ts.readBatches} wake-ups, ` +
    `stack delivered ${(count / 1e3).toFixed(0)} k (udpRcvbufFull ${st.udpRcvbufFull}, rxNoBuffer ${st.rxNoBuffer})`;
  sock.close();
  await p.done();
  return { rate: r, note };
}

/** stack → kernel: the stack sending in bursts of 256 as fast as the event loop lets it, the C receiver in the namespace. */
async function stackToKernel(size: number): Promise<{ rate: number; note: string }> {
  const p = await tapPeer();
  const { done } = await receiver(p.k);
  const sock = p.stack.dgram.createSocket('udp4');
  let errors = 0, sent = 0;
  sock.on('error', () => { errors++; });
  const msg = Buffer.alloc(size, 120);
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    for (let i = 0; i < 256; i++) { sock.send(msg, PORT, '10.84.0.1'); sent++; }
    await new Promise<void>((r) => setImmediate(r));
  }
  const r = rate(await done);
  const ts = p.tap.stats();
  const note = `sent ${(sent / 1e3).toFixed(0)} k (${errors} errors), TAP wrote ${(ts.framesOut / 1e3).toFixed(0)} k frames in ` +
    `${(ts.writeBatches / 1e3).toFixed(0)} k writes, ${ts.errors} refused`;
  sock.close();
  await p.done();
  return { rate: r, note };
}

const k = (x: number) => `${(x / 1e3).toFixed(0)} k/s`;
try {
  console.log(`UDP datagrams/s delivered to the receiving application, ${SECONDS} s per figure; ` +
    `veth and TAP at MTU 1500, offloads ${hasEthtool ? 'off (ethtool -K)' : 'at their defaults (ethtool not installed)'}`);
  for (const size of SIZES) {
    const base = await veth(size);
    const ks = await kernelToStack(size);
    const sk = await stackToKernel(size);
    console.log(`${size}-byte datagrams: kernel → kernel over veth ${k(base)}`);
    console.log(`  kernel → TAP → stack: ${k(ks.rate)}; ratio ${(ks.rate / base).toFixed(2)}×  (${ks.note})`);
    console.log(`  stack → TAP → kernel: ${k(sk.rate)}; ratio ${(sk.rate / base).toFixed(2)}×  (${sk.note})`);
  }
} finally {
  for (const n of namespaces) n.destroy();
}
