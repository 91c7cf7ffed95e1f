/**
 * A TAP device as a Link: the Linux kernel on the other side sees one more
 * Ethernet interface. Node cannot ioctl or poll a TAP fd, so the native addon
 * `build/Release/shoal_tap.node` (native/tap.c) opens the device, reads many
 * frames per wake-up into one buffer and writes batches of frames in one call.
 *
 * The device is created in the current network namespace and starts down;
 * bringing it up, addressing it, setting the kernel side's MTU or moving it
 * into another namespace (`ip link set NAME netns NS`; the fd keeps working)
 * is the caller's business, as for any interface.
 *
 * Importing this module never throws: the addon loads on first use, and
 * `TapLink.available()` / `TapLink.open()` say why TAP is unavailable.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Link, LinkOffload } from './link.ts';
import { FRAME_CSUM_OK, FRAME_CSUM_PARTIAL, FRAME_GSO } from './link.ts';
import { completeChecksum, csumOffset, l4Start, normalize, tcpHeaderEnd } from './offload.ts';

interface Opened { handle: object; name: string; vnetHdr: boolean; offload: number; features: number }
interface Addon {
  open(name: string, vnet: boolean, offload: number): Opened;
  start(handle: object, rx: Uint8Array, lens: Int32Array, reserve: number,
        cb: (count: number, err?: Error) => void): void;
  writeBatch(handle: object, buf: Uint8Array, lens: Int32Array, count: number, res: Int32Array): number;
  close(handle: object): void;
  ref(handle: object, on: boolean): void;
  errorFor(errno: number, what?: string): Error;
}

// <linux/if_tun.h> offload bits (TUNSETOFFLOAD).
const TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02;
// struct virtio_net_hdr (10 bytes, native byte order for a legacy TAP):
// flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16, csum_offset u16.
const VNET_HDR = 10;
const VNET_F_NEEDS_CSUM = 1, VNET_F_DATA_VALID = 2;
const VNET_GSO_NONE = 0, VNET_GSO_TCPV4 = 1;
const LE = endianness() === 'LE';

const RX_BATCH = 64;                // frames per wake-up, at most
const RX_RESERVE = 65536 + 64;      // a read never gets less room than the largest TAP frame (+ vnet header)
const RX_BYTES = RX_BATCH * 2048 + RX_RESERVE;
const TX_BATCH = 256;               // frames per writeBatch, at most
const TX_BYTES = 256 * 1024;        // bytes per writeBatch, at most (> one largest frame)
const ETH_OVERHEAD = 18;            // Ethernet header + one VLAN tag
const MIN_FRAME = 14;
const MAX_MTU = 65535;
const MAX_GSO_FRAME = 14 + 65535;   // a FRAME_GSO frame: one IP packet of at most 64 KiB

const ADDON = 'shoal_tap.node';
let addon: Addon | null = null;
let addonError: string | null = null;

function moduleDir(): string {
  try {
    // import.meta.url is the bundle (build/*.js, build/test/**) or this file.
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return process.cwd();
  }
}

/** SHOAL_TAP_ADDON, else the nearest build/Release/shoal_tap.node walking up. */
function findAddon(): string | null {
  const env = process.env.SHOAL_TAP_ADDON;
  if (env) return resolve(env);
  for (let dir = moduleDir(); ; dir = dirname(dir)) {
    for (const p of [join(dir, 'build', 'Release', ADDON), join(dir, 'Release', ADDON)]) {
      if (existsSync(p)) return p;
    }
    if (dirname(dir) === dir) return null;
  }
}

function loadAddon(): Addon {
  if (addon) return addon;
  if (addonError === null) {
    if (process.platform !== 'linux') {
      addonError = `TAP devices need Linux (this is ${process.platform})`;
    } else {
      const path = findAddon();
      if (!path) {
        addonError = `native addon ${ADDON} not built: run \`npm run build:native\` (node-gyp configure build) ` +
          `(searched build/Release upwards from ${moduleDir()}; or set SHOAL_TAP_ADDON)`;
      } else {
        try {
          addon = createRequire(import.meta.url)(path) as Addon;
          return addon;
        } catch (e) {
          addonError = `native addon ${path} failed to load: ${(e as Error).message.split('\n')[0]}`;
        }
      }
    }
  }
  throw new Error(`TAP unavailable: ${addonError}`);
}

export interface TapOptions {
  /** Largest IP packet the link carries (default 1500). Does not change the kernel side's MTU. */
  mtu?: number | undefined;
  /**
   * Use the kernel's offloads, as a virtio-net NIC does (default true; false
   * opts out): IFF_VNET_HDR with TUN_F_CSUM|TUN_F_TSO4, falling back to
   * TUN_F_CSUM alone, then to none, where the kernel refuses. With TSO, IPv4
   * TCP segments up to 64 KiB cross the device whole in one read()/write()
   * at any mtu; with CSUM, checksums are left to whoever computes them anyway.
   * Frames are segmented or their checksums completed here (offload.ts) only
   * for a consumer that does not take them (`rxOffload`), and on send only
   * what the kernel refused. TSO6 is not asked: FRAME_GSO is IPv4 TCP only,
   * so an IPv6 super-frame could be neither passed on nor cut here.
   */
  offload?: boolean | undefined;
}

/** What the kernel accepted; `csum` and `gso` are what `send` takes whole. */
export interface TapOffload extends LinkOffload {
  /** The kernel accepted IFF_VNET_HDR: every frame carries a virtio_net_hdr. */
  vnetHdr: boolean;
  /** TUN_F_TSO4: IPv4 TCP segments up to 64 KiB cross whole, both ways (gso is 65535). */
  tso4: boolean;
}

export interface TapStats {
  framesIn: number; bytesIn: number; framesOut: number; bytesOut: number;
  readBatches: number; writeBatches: number;
  /** Frames the kernel refused on write (e.g. EIO while the device is down). */
  errors: number;
  /** Frames dropped here: sent after close, runt or over mtu, received with no onFrame or malformed. */
  drops: number;
  /** Received frames whose checksum the kernel left partial (it built them: nothing to verify). */
  csumPartialIn: number;
  /** Of those, the ones this link completed in software (for a consumer that takes no partial checksums). */
  csumCompleted: number;
  /** GSO frames received from the kernel: passed up whole, or segmented here for a consumer that does not take them. */
  gsoIn: number;
  /** GSO frames written to the kernel whole (it segments them where it has to). */
  gsoOut: number;
}

export class TapLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly offload: TapOffload;
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null = null;
  rxOffload: LinkOffload | undefined = undefined;
  onDown: ((err?: Error) => void) | null = null;
  /** Set when the device went away on its own (the error given to onDown). */
  downError: Error | null = null;

  private readonly addon: Addon;
  private readonly handle: object;
  private closed = false;
  private readonly hdr: number;
  private readonly maxFrame: number;
  private readonly rx = new Uint8Array(RX_BYTES);
  private readonly rxLens = new Int32Array(RX_BATCH);
  private readonly tx = new Uint8Array(TX_BYTES);
  private readonly txLens = new Int32Array(TX_BATCH);
  private readonly txRes = new Int32Array(5);
  private txCount = 0;
  private txPos = 0;
  private flushScheduled = false;
  private readonly st: TapStats = {
    framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, readBatches: 0, writeBatches: 0,
    errors: 0, drops: 0, csumPartialIn: 0, csumCompleted: 0, gsoIn: 0, gsoOut: 0,
  };

  /** Whether TAP can work here: the addon loads and /dev/net/tun exists
   * (permission is only known when opening: CAP_NET_ADMIN is needed). */
  static available(): { ok: boolean; reason?: string } {
    try {
      loadAddon();
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
    if (!existsSync('/dev/net/tun')) return { ok: false, reason: 'TAP unavailable: /dev/net/tun does not exist' };
    return { ok: true };
  }

  /** Creates (or attaches to) the TAP device `name` ('' lets the kernel pick tapN). */
  static async open(name: string, opts: TapOptions = {}): Promise<TapLink> {
    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > MAX_MTU) {
      throw new RangeError(`TapLink.open: mtu must be an integer in [68, ${MAX_MTU}], got ${mtu}`);
    }
    if (typeof name !== 'string') throw new TypeError('TapLink.open: name must be a string');
    if (Buffer.byteLength(name) > 15) {
      throw Object.assign(new Error(`TapLink.open: device name '${name}' is longer than 15 bytes (IFNAMSIZ)`),
        { code: 'EINVAL' });
    }
    const a = loadAddon();
    const offload = opts.offload !== false;
    const o = a.open(name, offload, offload ? TUN_F_CSUM | TUN_F_TSO4 : 0); // throws an Error with .code (EPERM, EBUSY, ENOENT…)
    return new TapLink(a, o, mtu);
  }

  private constructor(a: Addon, o: Opened, mtu: number) {
    this.addon = a;
    this.handle = o.handle;
    this.name = o.name;
    this.mtu = mtu;
    this.hdr = o.vnetHdr ? VNET_HDR : 0;
    const tso4 = (o.offload & TUN_F_TSO4) !== 0;
    this.offload = { csum: (o.offload & TUN_F_CSUM) !== 0, gso: tso4 ? MAX_MTU : 0, vnetHdr: o.vnetHdr, tso4 };
    this.maxFrame = mtu + ETH_OVERHEAD;
    a.start(this.handle, this.rx, this.rxLens, RX_RESERVE, (count, err) => this.onRead(count, err));
  }

  /** Queues a frame (copied now; the caller keeps its buffer). Written on the
   * next turn of the event loop, or by flush(), with the rest of the batch.
   * What the kernel does not take (see `offload`) is segmented or checksummed first. */
  send(frame: Uint8Array, flags = 0, gso = 0): void {
    if (!(flags & (FRAME_CSUM_PARTIAL | FRAME_GSO))) this.queue(frame, 0, 0);
    else if (!normalize(frame, flags, gso, this.offload, this.mtu, this.queue)) this.st.drops++;
  }

  private readonly queue = (frame: Uint8Array, flags: number, gso: number): void => {
    const len = frame.length;
    if (this.closed || len < MIN_FRAME || len > (flags & FRAME_GSO ? MAX_GSO_FRAME : this.maxFrame)) {
      this.st.drops++;
      return;
    }
    const need = len + this.hdr;
    if (this.txCount === TX_BATCH || this.txPos + need > TX_BYTES) this.flush();
    if (this.closed) { this.st.drops++; return; } // the flush found the device gone
    const p = this.txPos;
    if (this.hdr && !this.vnetOut(p, frame, flags, gso)) { this.st.drops++; return; }
    this.tx.set(frame, p + this.hdr);
    this.txLens[this.txCount++] = need;
    this.txPos = p + need;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
  };

  /** Writes the virtio_net_hdr of frame f at tx[p]: what the kernel is to
   * finish. false for a partial checksum it could not be told where to put. */
  private vnetOut(p: number, f: Uint8Array, flags: number, gso: number): boolean {
    const tx = this.tx;
    tx.fill(0, p, p + VNET_HDR); // complete checksums, one segment: nothing to ask
    if (!(flags & FRAME_CSUM_PARTIAL)) return true;
    const l4 = l4Start(f), at = l4 === 0 ? -1 : csumOffset(f, l4);
    if (at < 0) return false;
    tx[p] = VNET_F_NEEDS_CSUM;
    putU16(tx, p + 6, l4);
    putU16(tx, p + 8, at);
    if (flags & FRAME_GSO) { // normalize checked it: IPv4 TCP, gso in 1..65535
      tx[p + 1] = VNET_GSO_TCPV4;
      putU16(tx, p + 2, tcpHeaderEnd(f));
      putU16(tx, p + 4, gso);
      this.st.gsoOut++;
    }
    return true;
  }

  private readonly flushSoon = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Writes every queued frame now, in one native call. */
  flush(): void {
    const n = this.txCount;
    if (n === 0 || this.closed) return;
    this.txCount = 0;
    this.txPos = 0;
    const r = this.txRes;
    this.addon.writeBatch(this.handle, this.tx, this.txLens, n, r);
    this.st.writeBatches++;
    this.st.framesOut += r[0]!;
    this.st.bytesOut += r[4]! - r[0]! * this.hdr;
    this.st.errors += r[1]!;
    if (r[2]) {
      this.st.drops += n - r[0]! - r[1]!;
      this.down(this.addon.errorFor(r[2], `TAP write to ${this.name}`));
    }
  }

  private onRead(count: number, err?: Error): void {
    this.st.readBatches++;
    const rx = this.rx, lens = this.rxLens, hdr = this.hdr;
    let off = 0;
    for (let i = 0; i < count && !this.closed; i++) {
      const len = lens[i]!;
      const start = off;
      off += len;
      const frame = rx.subarray(start + hdr, start + len);
      let flags = 0, gso = 0;
      if (hdr) {
        flags = this.vnetIn(start, frame);
        if (flags < 0) { this.st.drops++; continue; }
        if (flags & FRAME_GSO) { gso = getU16(rx, start + 4); this.st.gsoIn++; }
      }
      this.st.framesIn++;
      this.st.bytesIn += len - hdr;
      const cb = this.onFrame;
      if (!cb) this.st.drops++;
      else if (!(flags & (FRAME_CSUM_PARTIAL | FRAME_GSO))) cb(frame, flags, 0);
      else {
        if (!this.rxOffload?.csum) this.st.csumCompleted++;
        if (!normalize(frame, flags, gso, this.rxOffload, this.mtu, cb)) this.st.drops++;
      }
    }
    if (err) this.down(err);
  }

  /** Reads the virtio_net_hdr of frame f (at rx[start]): returns the frame's
   * flags, or -1 to drop it. Frames the kernel built are FRAME_CSUM_OK: no
   * wire lay between it and us to corrupt them. */
  private vnetIn(start: number, f: Uint8Array): number {
    const rx = this.rx;
    const vflags = rx[start]!, type = rx[start + 1]!;
    if (f.length < MIN_FRAME) return -1;
    // Only TCPV4 was asked for (TUN_F_TSO4), and it comes with NEEDS_CSUM.
    if (type !== VNET_GSO_NONE && (type !== VNET_GSO_TCPV4 || !(vflags & VNET_F_NEEDS_CSUM))) return -1;
    const gso = type === VNET_GSO_NONE ? 0 : FRAME_GSO;
    if (vflags & VNET_F_NEEDS_CSUM) {
      this.st.csumPartialIn++;
      const cstart = getU16(rx, start + 6), coff = getU16(rx, start + 8);
      const l4 = l4Start(f);
      if (l4 !== 0 && cstart === l4 && coff === csumOffset(f, l4)) return FRAME_CSUM_OK | FRAME_CSUM_PARTIAL | gso;
      // Not where FRAME_CSUM_PARTIAL says (IPv6, a VLAN tag): complete it now, where the kernel says.
      if (gso || cstart + coff + 2 > f.length) return -1;
      completeChecksum(f, cstart, f.length, cstart + coff);
      this.st.csumCompleted++;
      return FRAME_CSUM_OK;
    }
    return vflags & VNET_F_DATA_VALID ? FRAME_CSUM_OK : 0;
  }

  /** Device gone (namespace deleted, fd dead): release it, tell the owner once. */
  private down(err: Error): void {
    if (this.closed) return;
    this.downError = err;
    this.close();
    this.onDown?.(err);
  }

  /** Stops reading and closes the device (it disappears unless persistent). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.st.drops += this.txCount;
    this.txCount = 0;
    this.txPos = 0;
    this.addon.close(this.handle);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** An unref'd link does not keep the process alive (like socket.unref()). */
  unref(): this {
    if (!this.closed) this.addon.ref(this.handle, false);
    return this;
  }

  ref(): this {
    if (!this.closed) this.addon.ref(this.handle, true);
    return this;
  }

  stats(): TapStats {
    return { ...this.st };
  }
}

// virtio_net_hdr fields are in native byte order on a legacy TAP.
function getU16(b: Uint8Array, at: number): number {
  return LE ? b[at]! | (b[at + 1]! << 8) : (b[at]! << 8) | b[at + 1]!;
}

function putU16(b: Uint8Array, at: number, v: number): void {
  b[at + (LE ? 0 : 1)] = v & 0xff;
  b[at + (LE ? 1 : 0)] = v >>> 8;
}
