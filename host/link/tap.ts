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
import type { Link } from './link.ts';
import { FRAME_CSUM_OK } from './link.ts';

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
const TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04;
// struct virtio_net_hdr (10 bytes, native byte order for a legacy TAP):
// flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16, csum_offset u16.
const VNET_HDR = 10;
const VNET_F_NEEDS_CSUM = 1, VNET_F_DATA_VALID = 2;
const VNET_GSO_NONE = 0;
const LE = endianness() === 'LE';

const RX_BATCH = 64;                // frames per wake-up, at most
const RX_RESERVE = 65536 + 64;      // a read never gets less room than the largest TAP frame (+ vnet header)
const RX_BYTES = RX_BATCH * 2048 + RX_RESERVE;
const TX_BATCH = 256;               // frames per writeBatch, at most
const TX_BYTES = 256 * 1024;        // bytes per writeBatch, at most (> one largest frame)
const ETH_OVERHEAD = 18;            // Ethernet header + one VLAN tag
const MIN_FRAME = 14;
const MAX_MTU = 65535;

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
   * Ask the kernel for virtio-net headers and offloads (default false).
   * Checksum offload (TUN_F_CSUM) is always asked for: the kernel may then
   * hand over frames whose TCP/UDP checksum is only partial, and this link
   * completes it (csum_start/csum_offset) before `onFrame`, so the stack
   * never sees the difference. TSO (TUN_F_TSO4|TSO6) is asked for only when
   * `mtu` is 65535: the kernel then hands over GSO super-frames (up to 64 KiB)
   * which are valid, if large, IP packets, and a stack that takes 65535-byte
   * packets accepts them as they are — no segmentation here. With a smaller
   * mtu those frames would be oversize, so TSO stays off and the kernel
   * segments before the TAP. Frames we send carry an all-zero header: our
   * checksums are complete, and the kernel still verifies them.
   */
  offload?: boolean | undefined;
}

export interface TapOffload {
  /** The kernel accepted IFF_VNET_HDR: every frame carries a virtio_net_hdr. */
  vnetHdr: boolean;
  csum: boolean;
  tso4: boolean;
  tso6: boolean;
}

export interface TapStats {
  framesIn: number; bytesIn: number; framesOut: number; bytesOut: number;
  readBatches: number; writeBatches: number;
  /** Frames the kernel refused on write (e.g. EIO while the device is down). */
  errors: number;
  /** Frames dropped here: sent after close, runt or over mtu, received with no onFrame or malformed. */
  drops: number;
  /** Received frames whose partial checksum this link completed (offload). */
  csumCompleted: number;
  /** Received GSO super-frames passed on whole (offload with TSO). */
  gsoIn: number;
}

export class TapLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly offload: TapOffload;
  onFrame: ((frame: Uint8Array, flags: number) => void) | null = null;
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
    errors: 0, drops: 0, csumCompleted: 0, gsoIn: 0,
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
    const want = opts.offload ? TUN_F_CSUM | (mtu >= MAX_MTU ? TUN_F_TSO4 | TUN_F_TSO6 : 0) : 0;
    const o = a.open(name, !!opts.offload, want); // throws an Error with .code (EPERM, EBUSY, ENOENT…)
    return new TapLink(a, o, mtu);
  }

  private constructor(a: Addon, o: Opened, mtu: number) {
    this.addon = a;
    this.handle = o.handle;
    this.name = o.name;
    this.mtu = mtu;
    this.hdr = o.vnetHdr ? VNET_HDR : 0;
    this.offload = {
      vnetHdr: o.vnetHdr,
      csum: (o.offload & TUN_F_CSUM) !== 0,
      tso4: (o.offload & TUN_F_TSO4) !== 0,
      tso6: (o.offload & TUN_F_TSO6) !== 0,
    };
    this.maxFrame = mtu + ETH_OVERHEAD;
    a.start(this.handle, this.rx, this.rxLens, RX_RESERVE, (count, err) => this.onRead(count, err));
  }

  /** Queues a frame (copied now; the caller keeps its buffer). Written on the
   * next turn of the event loop, or by flush(), with the rest of the batch. */
  send(frame: Uint8Array, _flags = 0): void {
    const len = frame.length;
    if (this.closed || len < MIN_FRAME || len > this.maxFrame) { this.st.drops++; return; }
    const need = len + this.hdr;
    if (this.txCount === TX_BATCH || this.txPos + need > TX_BYTES) this.flush();
    if (this.closed) { this.st.drops++; return; } // the flush found the device gone
    const p = this.txPos;
    if (this.hdr) this.tx.fill(0, p, p + this.hdr); // no offload asked: our checksums are complete
    this.tx.set(frame, p + this.hdr);
    this.txLens[this.txCount++] = need;
    this.txPos = p + need;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
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
      let flags = 0;
      if (hdr) {
        flags = this.vnetIn(start, len);
        if (flags < 0) { this.st.drops++; continue; }
      }
      this.st.framesIn++;
      this.st.bytesIn += len - hdr;
      const cb = this.onFrame;
      if (cb) cb(rx.subarray(start + hdr, start + len), flags);
      else this.st.drops++;
    }
    if (err) this.down(err);
  }

  /** Applies the virtio_net_hdr of the frame at rx[start, start+len): returns
   * the frame flags, or -1 to drop it. */
  private vnetIn(start: number, len: number): number {
    const rx = this.rx;
    const vflags = rx[start]!, gso = rx[start + 1]!;
    const flen = len - VNET_HDR;
    if (flen < MIN_FRAME) return -1;
    if (gso !== VNET_GSO_NONE) {
      // Only sent when we asked for TSO, i.e. when a 64 KiB packet fits our mtu.
      if (!this.offload.tso4 && !this.offload.tso6) return -1;
      this.st.gsoIn++;
    }
    if (vflags & VNET_F_NEEDS_CSUM) {
      const u16 = (p: number) => (LE ? rx[p]! | (rx[p + 1]! << 8) : (rx[p]! << 8) | rx[p + 1]!);
      const cstart = u16(start + 6), coff = u16(start + 8);
      const f = start + VNET_HDR;
      if (cstart + coff + 2 > flen) return -1;
      completeChecksum(rx, f + cstart, f + flen, f + cstart + coff);
      this.st.csumCompleted++;
      return FRAME_CSUM_OK; // the kernel built it locally: nothing on a wire to corrupt it
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

/** Completes a partial checksum as the kernel's skb_checksum_help does: the
 * field at `at` holds the pseudo-header sum; fold b[from, to) into it. */
function completeChecksum(b: Uint8Array, from: number, to: number, at: number): void {
  let sum = 0;
  let i = from;
  for (; i + 1 < to; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < to) sum += b[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  let c = ~sum & 0xffff;
  if (c === 0) c = 0xffff; // 0 means "no checksum" to UDP; 0xffff is the same value
  b[at] = c >>> 8;
  b[at + 1] = c & 0xff;
}
