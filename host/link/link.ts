import { FRAME } from '../core-abi.ts';

/**
 * A link moves Ethernet frames between a stack (or a switch port) and the
 * world. Frames are borrowed: a frame handed to `send` or to `onFrame` is
 * valid only during that call, so the receiver copies what it keeps. That
 * lets a switch hand one stack's transmit buffer straight to another stack,
 * which copies it once into its own wasm memory.
 *
 * Offloads, as virtio-net has them: a frame may leave its TCP/UDP checksum
 * to whoever puts it on a wire (FRAME_CSUM_PARTIAL), and a TCP segment may
 * be larger than the MTU, to be cut into segments of `gso` payload bytes on
 * the way (FRAME_GSO). A link says what its `send` takes (`offload`); whoever
 * attaches says what its `onFrame` takes (`rxOffload`); frames are segmented
 * and checksummed in software only where one side cannot take them.
 */
export interface Link {
  /** The largest IP packet the link carries (Ethernet payload), e.g. 1500. */
  readonly mtu: number;
  /** Sends one frame (Ethernet header included, no FCS); gso: the segment size of a FRAME_GSO frame. */
  send(frame: Uint8Array, flags?: number, gso?: number): void;
  /** Optional: sends one frame given in pieces, the same as send() of their
   * concatenation (the first piece holds at least the Ethernet header). A
   * stack that sees it sends large TCP payloads straight from its send
   * buffers (scatter-gather) instead of copying them behind the headers. */
  sendv?(parts: Uint8Array[], flags?: number, gso?: number): void;
  /** Called by the link for every frame it receives; set by whoever attaches. */
  onFrame: ((frame: Uint8Array, flags: number, gso: number) => void) | null;
  /** Optional, set by whoever attaches (with onFrame): takes a frame in
   * pieces, so a link that got one from sendv need not join them first. */
  onFrameV?: ((parts: Uint8Array[], flags: number, gso: number) => void) | null;
  /** What `send` takes without segmenting or checksumming in software. Unset: plain frames only. */
  readonly offload?: LinkOffload;
  /** Set by whoever attaches, before frames flow: what `onFrame` may be handed.
   * Unset: only plain frames (complete checksums, at most mtu + 14 bytes). */
  rxOffload?: LinkOffload;
  /** Called once when the link goes away on its own (device removed, peer closed). */
  onDown?: ((err?: Error) => void) | null;
  /** Optional: told the MAC a stack sends from on this link, before it sends;
   * throws (ERR_DUPLICATE_MAC) where it knows the MAC is taken (a switch port). */
  claimMac?(mac: string): void;
  /** Optional: pushes out frames a link batches (a TAP writes them in one go). */
  flush?(): void;
  /** Optional: sends frames packed back to back as records, each an 8-byte
   * header (u32 length; u32 flags | gso << 16, little-endian) and the frame,
   * padded to 8 bytes: a stack that sees it hands the link each batch's small
   * frames as one run (docs/ABI.md, FRAME_PACKED), so a link that copies them
   * elsewhere (a ring to another thread) copies the run at once. */
  sendPacked?(records: Uint8Array): void;
  close(): void;
}

export interface LinkOffload {
  /** FRAME_CSUM_PARTIAL frames are taken as they are. */
  csum: boolean;
  /** The largest IP packet (bytes, at most 65535) taken whole as a FRAME_GSO frame; 0: none. */
  gso: number;
  /** FRAME_GSO frames that are IP-in-IP (RFC 2003) around the TCP segment (a routing stack's) are taken whole too. */
  ipip?: boolean;
}

/** Frame flag: the transport checksum is known good (set by links that
 * cannot corrupt, cleared by any middleware that may). */
export const FRAME_CSUM_OK = FRAME.CSUM_OK;
/** Frame flag: the TCP/UDP checksum field holds only the folded pseudo-header
 * sum (addresses, protocol, L4 length), not complemented; the sum over the L4
 * header and payload is still to be added (virtio's NEEDS_CSUM: it starts
 * after the IP header, the field is at 16 for TCP and 6 for UDP). */
export const FRAME_CSUM_PARTIAL = FRAME.CSUM_PARTIAL;
/** Frame flag: one IPv4 TCP segment whose packet may exceed the MTU, always
 * with FRAME_CSUM_PARTIAL, to be cut into segments of `gso` payload bytes
 * (the last may be shorter). */
export const FRAME_GSO = FRAME.GSO;
