/**
 * A link moves Ethernet frames between a stack (or a switch port) and the
 * world. Frames are borrowed: a frame handed to `send` or to `onFrame` is
 * valid only during that call, so the receiver copies what it keeps. That
 * lets a switch hand one stack's transmit buffer straight to another stack,
 * which copies it once into its own wasm memory.
 */
export interface Link {
  /** The largest IP packet the link carries (Ethernet payload), e.g. 1500. */
  readonly mtu: number;
  /** Sends one frame (Ethernet header included, no FCS). */
  send(frame: Uint8Array, flags?: number): void;
  /** Called by the link for every frame it receives; set by whoever attaches. */
  onFrame: ((frame: Uint8Array, flags: number) => void) | null;
  /** Called once when the link goes away on its own (device removed, peer closed). */
  onDown?: ((err?: Error) => void) | null;
  /** Optional: pushes out frames a link batches (a TAP writes them in one go). */
  flush?(): void;
  close(): void;
}

/** Frame flag: the transport checksum is known good (set by links that
 * cannot corrupt, cleared by any middleware that may). */
export const FRAME_CSUM_OK = 1;
