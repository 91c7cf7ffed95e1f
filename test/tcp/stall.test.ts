// Transfers under seeded loss never stall. The stall this reproduces (60-73 s
// against the kernel, with tail-loss probes, until the kernel's ARP
// revalidation brought a frame): a poll takes an ACK for everything in
// flight, the stale heap entry of the old timer is due and popped with
// nothing left armed, then output in the same poll sends new data and arms
// a timer after the stack reported its deadline to the host. If that flight
// is lost, no frame comes back, and only the unreported timer could repair it.
// The poll must run late for the ACK and the old deadline to meet, as on a
// busy event loop: the stacks' clock fires its timers a seeded 0-5 ms late.
// A small receive window read in spurts makes the sender acknowledge
// everything in flight often. Two stacks on a VirtualSwitch, 5 % loss both
// ways, the virtual clock: the same seeds give the same run every time
// (seed 6 stalled before `timerWake` in tcpFlush).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { settle } from './helpers.ts';
import { withFaults } from '../../host/link/faults.ts';
import { VirtualClock, type Clock, type Timer } from '../../host/clock.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { Stack } from '../../host/stack.ts';
import { Random } from '../../host/random.ts';
import type { Socket } from '../../host/net/net.ts';

const LOSS = 0.05;
const DELAY_MS = 5;
const LATE_MS = 5;
const PAUSE_MS = 50;
const TOTAL = 1 << 20;
/** The longest the receiver may wait for a byte: a few backed-off RTOs, never a stall. */
const MAX_GAP_MS = 1500;

/** A clock whose timers fire up to LATE_MS late (never early), from a seed. */
class LateClock implements Clock {
  private readonly r: Random;
  constructor(private readonly base: VirtualClock, seed: number) { this.r = new Random(seed); }
  now(): number { return this.base.now(); }
  setTimer(fn: () => void, ms: number): Timer {
    return this.base.setTimer(fn, ms > 0 ? ms + (this.r.u32() % (LATE_MS * 1000)) / 1000 : ms);
  }
  clearTimer(t: Timer): void { this.base.clearTimer(t); }
}

/** 1 MiB one way into a 16 KiB window whose reader pauses after every 64 KiB;
 * the longest gap between deliveries in virtual ms. */
async function transfer(seed: number): Promise<number> {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch({ mtu: 1500 });
  const stack = (i: number) => Stack.createSync({
    name: `s${i}`, address: `10.0.0.${i}/24`, seed: seed + i, clock: new LateClock(clock, seed + i),
    link: withFaults(sw.connect(), { seed: seed * 2 + i, clock, tx: { loss: LOSS, delayMs: DELAY_MS } }),
    limits: { tcpReceiveBuffer: 16 << 10 },
  });
  const a = stack(1), b = stack(2);
  let got = 0, last = 0, gap = 0, ended = false;
  b.net.createServer((s: Socket) => {
    s.on('data', (d: Buffer) => {
      got += d.length;
      gap = Math.max(gap, clock.now() - last);
      last = clock.now();
      if ((got >> 16) !== ((got - d.length) >> 16)) { s.pause(); clock.setTimer(() => s.resume(), PAUSE_MS); }
    });
    s.on('end', () => { ended = true; });
  }).listen(7);
  const c = a.net.connect({ port: 7, host: '10.0.0.2' });
  c.on('connect', () => { last = clock.now(); c.end(Buffer.alloc(TOTAL, 1)); });
  try {
    await settle(clock, () => ended, 600_000, `seed ${seed}: the transfer`);
  } finally {
    await a.close(); await b.close();
  }
  assert.is(got, TOTAL, `seed ${seed}: every byte`);
  return gap;
}

test('a window-limited transfer under 5 % loss, polled late: never a stall, never idle with data unacknowledged', async () => {
  for (let seed = 1; seed <= 8; seed++) {
    const gap = await transfer(seed);
    assert.ok(gap <= MAX_GAP_MS, `seed ${seed}: ${Math.round(gap)} virtual ms without a byte delivered`);
  }
});

test.run();
