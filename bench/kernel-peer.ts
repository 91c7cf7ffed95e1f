// What the benches against the kernel share: socat at the kernel's end, in a
// namespace, and bulk transfers through a stack's sockets to and from it.
import type { Stack } from '../host/stack.ts';
import type { Socket } from '../host/net/net.ts';
import type { Netns } from '../test/interop/netns.ts';

const TIMEOUT_MS = 120_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `port` listens in ns (ss). */
export async function listening(ns: Netns, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ns.execSync(['ss', '-ltnH', `sport = :${port}`]).trim()) return;
    await sleep(10);
  }
  throw new Error(`nothing listens on ${port} in ${ns.name}`);
}

/** A socat sink on port: resolves when it exits (its peer closed). */
export function socatSink(ns: Netns, port: number): Promise<void> {
  return ns.exec(['socat', '-u', '-b', '262144', `TCP-LISTEN:${port},reuseaddr`, 'OPEN:/dev/null'], { timeoutMs: TIMEOUT_MS })
    .then(() => undefined);
}

/** Sends `bytes` zero bytes from ns to host:port with socat; `cc` names the
 * congestion control of its socket (TCP_CONGESTION), else the namespace's default. */
export function socatSource(ns: Netns, host: string, port: number, bytes: number, cc?: string): Promise<void> {
  const opt = cc ? `,setsockopt-string=6:13:${cc}` : '';
  return ns.exec(['sh', '-c', `head -c ${bytes} /dev/zero | socat -u -b 262144 - TCP:${host}:${port}${opt}`], { timeoutMs: TIMEOUT_MS })
    .then(() => undefined);
}

/** ms for the stack to send `bytes` in 256 KiB writes to a socat sink in ns, until the sink has it all. */
export async function stackToKernel(stack: Stack, ns: Netns, host: string, port: number, bytes: number): Promise<number> {
  const sink = socatSink(ns, port);
  await listening(ns, port);
  const t0 = performance.now();
  const chunk = Buffer.alloc(256 * 1024);
  await new Promise<void>((resolve, reject) => {
    const s = stack.net.connect({ port, host }) as Socket;
    let left = bytes;
    const go = () => {
      while (left > 0) {
        const n = Math.min(chunk.length, left);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { s.once('drain', go); return; }
      }
      s.end();
    };
    s.on('connect', go);
    s.on('error', reject);
    s.on('close', () => resolve());
    s.resume();
  });
  await sink;
  return performance.now() - t0;
}

/** ms for a socat source in ns to send `bytes` to the stack listening on port, from its accept to the end. */
export async function kernelToStack(stack: Stack, ns: Netns, host: string, port: number, bytes: number, cc?: string): Promise<number> {
  const srv = stack.net.createServer();
  let t0 = 0;
  const done = new Promise<number>((resolve, reject) => {
    srv.on('connection', (s: Socket) => {
      t0 = performance.now();
      let got = 0;
      s.on('data', (d: Buffer) => { got += d.length; });
      s.on('end', () => { s.end(); got === bytes ? resolve(performance.now()) : reject(new Error(`got ${got} of ${bytes}`)); });
      s.on('error', reject);
    });
  });
  srv.listen(port);
  try {
    await socatSource(ns, host, port, bytes, cc);
    return (await done) - t0;
  } finally {
    srv.close();
  }
}
