// A default stack takes a few MiB of linear memory; Stack.BULK is the preset
// for bulk transfer, spread into one's own limits to change one of them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Stack, type StackLimits } from '../../host/stack.ts';
import { VirtualSwitch } from '../../host/link/switch.ts';
import { VirtualClock } from '../../host/clock.ts';

const MiB = 1 << 20;
const make = (limits?: StackLimits) =>
  Stack.createSync({ name: 'm', link: new VirtualSwitch().connect(), address: '10.0.0.1/24', clock: new VirtualClock(), limits });

test('the default is a few MiB; Stack.BULK the sizing for bulk transfer', async () => {
  const d = make();
  const sd = d.stats();
  // 3.7 MiB until each TCB took BBR's state and a SACK scoreboard of 24 ranges (under 5 % loss a window holds dozens of holes).
  assert.ok(sd.memoryBytes <= 4.25 * MiB, `default: ${(sd.memoryBytes / MiB).toFixed(2)} MiB`);
  const b = make(Stack.BULK);
  const sb = b.stats();
  assert.ok(sb.memoryBytes >= 28 * MiB, `Stack.BULK: ${(sb.memoryBytes / MiB).toFixed(2)} MiB`);
  assert.ok(sb.buffers > 4 * sd.buffers && sb.largeBuffers > 4 * sd.largeBuffers);
  assert.ok(Object.isFrozen(Stack.BULK));
  // One limit changed, the rest of the preset kept; an undefined one means the default.
  const c = make({ ...Stack.BULK, tcpSockets: 64 });
  assert.ok(c.stats().memoryBytes > 20 * MiB && c.stats().memoryBytes < sb.memoryBytes);
  const u = make({ poolBytes: undefined });
  assert.is(u.stats().memoryBytes, sd.memoryBytes);
  for (const s of [d, b, c, u]) await s.close();
});

test.run();
