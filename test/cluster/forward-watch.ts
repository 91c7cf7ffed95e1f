// Times a routing stack taking over, as the takeover benchmark and tests
// see it on the cluster's switch (VirtualSwitch.monitor): from an event (the
// kill of the routing stack) to the first IP-in-IP frame (RFC 2003, IP
// protocol 4) a given stack sends that carries a segment of a connection
// established before the event.
import type { Cluster } from '../../host/cluster/cluster.ts';
import { parseMac } from '../../host/addr.ts';

export interface ForwardWatchOptions {
  /** The stack whose forwarded frames count: the frames' Ethernet source is its MAC. */
  by: string;
  /** Called once the watch is on; the delay counts from just before it (it may return a promise). */
  event: () => unknown;
  /** Client "address:port" of the connections that count (Load.established() before the event);
   * default: any TCP segment but a SYN. */
  established?: ReadonlySet<string>;
  /** Rejects if no such frame comes within this long after the event (default 5000 ms). */
  timeoutMs?: number;
}

/** Resolves with the ms from the event to the first matching frame. */
export function forwardDelay(cluster: Cluster, o: ForwardWatchOptions): Promise<number> {
  const sw = cluster.switch;
  if (sw.monitor !== null) return Promise.reject(new Error('forwardDelay: the switch is already watched'));
  const [hi, lo] = parseMac(cluster.stack(o.by).macs[0]);
  const timeoutMs = o.timeoutMs ?? 5000;
  return new Promise<number>((resolve, reject) => {
    let t0 = 0;
    let timer: NodeJS.Timeout | null = null;
    const end = (err: Error | null, ms = 0) => {
      if (sw.monitor !== watch) return;
      sw.monitor = null;
      if (timer) clearTimeout(timer);
      if (err) reject(err); else resolve(ms);
    };
    const watch = (f: Uint8Array) => {
      const at = performance.now();
      const client = forwardedSegment(f, hi, lo);
      if (client === null || (o.established && !o.established.has(client))) return;
      end(null, at - t0);
    };
    sw.monitor = watch;
    timer = setTimeout(() => end(new Error(`forwardDelay: no frame forwarded by ${o.by} within ${timeoutMs} ms of the event`)), timeoutMs);
    t0 = performance.now();
    Promise.resolve().then(o.event).catch((e: Error) => end(e));
  });
}

/** The client "address:port" of a frame from MAC hi:lo carrying, in IP-in-IP,
 * a TCP segment that is not a SYN; null for any other frame. */
function forwardedSegment(f: Uint8Array, hi: number, lo: number): string | null {
  if (f.length < 34 || ((f[6] << 8) | f[7]) !== hi || ((f[8] << 24) | (f[9] << 16) | (f[10] << 8) | f[11]) >>> 0 !== lo) return null;
  if (f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 4) return null;
  const inner = 14 + (f[14] & 15) * 4;
  if (f.length < inner + 20 || f[inner + 9] !== 6) return null;
  const tcp = inner + (f[inner] & 15) * 4;
  if (f.length < tcp + 14 || (f[tcp + 13] & 0x02) !== 0) return null;
  return `${f[inner + 12]}.${f[inner + 13]}.${f[inner + 14]}.${f[inner + 15]}:${(f[tcp] << 8) | f[tcp + 1]}`;
}
