// UDP between two stacks on a VirtualSwitch, against node:dgram over
// 127.0.0.1 in the same run; and the core's receive path in ns per frame,
// against the cost of copying the same frame into wasm memory.
import dgram from 'node:dgram';
import { Stack } from '../host/stack.ts';
import { LIMITS, presetNote } from './preset.ts';
import { VirtualSwitch } from '../host/link/switch.ts';
import { SCB, FRAME } from '../host/core-abi.ts';
import { DESC_WORDS } from '../host/core-view.ts';

const PAYLOAD = 64;
const WINDOW = 256;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Sends in windows of WINDOW datagrams and waits for them; returns datagrams/s delivered. */
async function windowed(send: () => void, received: () => number): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    for (let i = 0; i < WINDOW; i++) { send(); sent++; }
    const deadline = performance.now() + 200;
    while (received() < sent - WINDOW && performance.now() < deadline) await tick();
  }
  const until = performance.now() + 200;
  while (received() < sent && performance.now() < until) await tick();
  return received() / ((performance.now() - t0) / 1000);
}

async function shoalUdp(): Promise<number> {
  const sw = new VirtualSwitch();
  const a = await Stack.create({ name: 'a', link: sw.connect(), address: '10.0.0.1/24', limits: LIMITS });
  const b = await Stack.create({ name: 'b', link: sw.connect(), address: '10.0.0.2/24', limits: LIMITS });
  console.log(presetNote(a));
  let got = 0;
  const rx = b.dgram.createSocket('udp4', () => { got++; });
  await new Promise<void>((r) => rx.bind(9000, () => r()));
  const tx = a.dgram.createSocket('udp4');
  const msg = Buffer.alloc(PAYLOAD, 7);
  await a.ping('10.0.0.2');
  const rate = await windowed(() => tx.send(msg, 9000, '10.0.0.2'), () => got);
  await a.close(); await b.close();
  return rate;
}

async function nodeUdp(): Promise<number> {
  let got = 0;
  const rx = dgram.createSocket('udp4', () => { got++; });
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  const port = rx.address().port;
  const tx = dgram.createSocket('udp4');
  const msg = Buffer.alloc(PAYLOAD, 7);
  const rate = await windowed(() => tx.send(msg, port, '127.0.0.1'), () => got);
  rx.close(); tx.close();
  return rate;
}

/** ns per frame through the core's receive path (Ethernet → IPv4 → UDP → socket queue → read out), and
 * ns per frame for the host's copy into wasm memory alone. The rx ring is
 * driven directly, at the offsets and descriptor size the core's sources give;
 * every frame must reach the socket, or the figure would time a drop. */
function coreRx(): { core: number; copy: number } {
  const s = Stack.createSync({ name: 'r', link: new VirtualSwitch().connect(), address: '10.0.0.2/24' });
  const sock = s.dgram.createSocket('udp4', () => {});
  sock.bind(9000);
  const frame = udpFrame(s.macs[0]);
  const c = s.core, v = s.view, m32 = v.u32, m8 = v.u8;
  const BATCH = 256;
  const runs = 4000;
  const sd = 0;
  const word = FRAME.CSUM_OK << 16;   // interface 0
  const fill = () => {
    let free = v.w(SCB.FREE_COUNT);
    const data = v.w(SCB.BUF_DATA), desc = v.w(SCB.RX_DESC) >>> 2, stack = v.w(SCB.FREE) >>> 2;
    for (let i = 0, d = desc; i < BATCH; i++, d += DESC_WORDS) {
      free--;
      const buf = m32[stack + free];
      m8.set(frame, buf + data);
      m32[d] = buf + data; m32[d + 1] = frame.length; m32[d + 2] = word; m32[d + 3] = 0;
    }
    v.setW(SCB.FREE_COUNT, free);
    v.setW(SCB.RX_COUNT, BATCH);
  };
  const measure = (withCore: boolean) => {
    const t0 = performance.now();
    for (let r = 0; r < runs; r++) {
      fill();
      if (withCore) { c.poll(0); v.setW(SCB.EV_COUNT, 0); while (c.udp_recv(sd, 64) === 64); }
      else { v.setW(SCB.FREE_COUNT, v.w(SCB.FREE_COUNT) + BATCH); v.setW(SCB.RX_COUNT, 0); }
    }
    return ((performance.now() - t0) * 1e6) / (runs * BATCH);
  };
  const before = s.stats();
  measure(true); measure(false);
  const core = measure(true), copy = measure(false);
  const after = s.stats(), frames = 2 * runs * BATCH;
  if (after.udpRx - before.udpRx !== frames || after.rxBadDesc !== before.rxBadDesc || after.udpRcvbufFull !== before.udpRcvbufFull) {
    throw new Error(`core receive path: ${after.udpRx - before.udpRx} of ${frames} frames reached the socket ` +
      `(${after.rxBadDesc - before.rxBadDesc} bad descriptors, ${after.udpRcvbufFull - before.udpRcvbufFull} queue full)`);
  }
  return { core, copy };
}

function udpFrame(mac: string): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + PAYLOAD);
  f.set(mac.split(':').map((x) => parseInt(x, 16)), 0);
  f.set([2, 0, 0, 0, 0, 1], 6);
  f[12] = 8; f[13] = 0;
  const ip = f.subarray(14);
  ip.set([0x45, 0, 0, 20 + 8 + PAYLOAD, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip[10] = (~sum >> 8) & 255; ip[11] = ~sum & 255;
  const u = ip.subarray(20);
  u.set([0x30, 0x39, 0x23, 0x28, 0, 8 + PAYLOAD, 0, 0]);   // checksum 0: none (RFC 768)
  return f;
}

const shoal = await shoalUdp();
const node = await nodeUdp();
console.log(`UDP ${PAYLOAD}-byte datagrams, stack → switch → stack: ${(shoal / 1e3).toFixed(0)} k/s; ` +
  `node:dgram over 127.0.0.1: ${(node / 1e3).toFixed(0)} k/s; ratio ${(shoal / node).toFixed(2)}×`);
const { core, copy } = coreRx();
console.log(`core receive path (Ethernet → UDP socket → read out): ${core.toFixed(0)} ns/frame; ` +
  `host copy into wasm alone: ${copy.toFixed(0)} ns/frame; ratio ${(core / copy).toFixed(2)}×`);
