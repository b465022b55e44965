/**
 * A framed, backpressured byte channel over one Bun TCP socket. It owns the write queue and the
 * frame decoder of one connection; the RPC client and server are built on it. It never buffers
 * more than CONNECTION_WRITE_QUEUE_BYTES_MAX for a slow reader: `send` waits for the socket to
 * drain instead, so a writer cannot pile a whole file into memory. Once the handshake gave it a
 * ChannelMac, every frame it sends is tagged and every frame it receives is checked before
 * anyone sees it: a frame that fails ends the channel (AUTH_FAILED), nothing after it is read.
 * It also keeps the clock of the frame now arriving, so a server can close a peer that trickles.
 */

import type { Socket } from "bun";
import {
  CONNECTION_WRITE_QUEUE_BYTES_MAX,
  encodeFrame,
  FRAME_TAG_BYTES,
  FRAME_BYTES_MAX,
  FRAME_PREALLOCATE_AFTER_BYTES,
  FrameDecoder,
  FtfsError,
  type Frame,
  type FrameBufferPool,
  type FrameDecodeError,
  type FrameKind,
} from "../core/index.ts";
import { hashChecked, type ChannelMac } from "./security/channel-auth.ts";

/**
 * Queued pieces this small are joined into one write: one syscall beats several, and a copy
 * this small costs less than the syscall it saves. Larger ones (file bytes) are written as they
 * are, never copied. A 64 KiB chunk is file bytes: joined, it was copied into a fresh buffer
 * per write (page faults included), which profiled as 6-8% of a storage node serving 64 KiB
 * GETs to 100 readers.
 */
const COALESCE_PIECE_BYTES_MAX = 4 * 1024;
/** At most this much is joined into one write. */
const COALESCE_WRITE_BYTES_MAX = 64 * 1024;
/**
 * Where pieces are joined: one buffer for the whole process, used only inside one synchronous
 * flush (the socket takes its bytes during the write call; what it does not take is copied out
 * before the flush returns), so it is never allocated again and its pages stay mapped.
 */
const coalesceStaging = new Uint8Array(COALESCE_WRITE_BYTES_MAX);
/** Sent pieces are dropped from the queue's front in one splice once this many have gone. */
const QUEUE_COMPACT_PIECES_MIN = 64;
/** The tag of a frame on a connection without MACs. */
const UNTAGGED = new Uint8Array(FRAME_TAG_BYTES);

export interface ChannelEvents {
  onFrame(frame: Frame): void;
  onDecodeError(error: FrameDecodeError): void;
  onClose(error: FtfsError): void;
}

/** What a Bun socket's `data` slot holds, so the socket handlers can find the channel. */
export interface ChannelSlot {
  channel: FrameChannel | null;
}

/** The frame now arriving: since when, and how many of its bytes came (slow-sender checks). */
export interface FrameProgress {
  readonly startedMs: number;
  readonly bytes: number;
}

export class FrameChannel {
  private readonly socket: Socket<ChannelSlot>;
  private readonly decoder: FrameDecoder;
  private readonly events: ChannelEvents;
  private readonly queue: Uint8Array[] = [];
  /** Index of the queue's first unsent piece: pieces before it are sent (see compactQueue). */
  private queueFront = 0;
  private queuedBytes = 0;
  private drainWaiters: Array<() => void> = [];
  private closedError: FtfsError | null = null;
  private mac: ChannelMac | null = null;
  private refused = false;
  private frameStartedMs: number | null = null;
  private frameBytes = 0;
  private pausedByUs = false;
  private flushScheduled = false;
  /** When bytes last arrived or a frame was sent (idle checks). */
  lastActivityMs = performance.now();
  /** When bytes last arrived: the peer is alive and working (hedge.ts). */
  lastReceivedMs = performance.now();

  /** `framePool`: large frames arriving are read into its buffers (see frame-buffers.ts). */
  constructor(
    socket: Socket<ChannelSlot>,
    events: ChannelEvents,
    framePool: FrameBufferPool | null = null,
  ) {
    this.socket = socket;
    this.events = events;
    this.decoder = new FrameDecoder(FRAME_BYTES_MAX, FRAME_PREALLOCATE_AFTER_BYTES, framePool);
    socket.data.channel = this;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }

  get authenticated(): boolean {
    return this.mac !== null;
  }

  /** The frame now arriving, or null between frames and while reading is paused. */
  get progress(): FrameProgress | null {
    if (this.frameStartedMs === null || this.pausedByUs) return null;
    return { startedMs: this.frameStartedMs, bytes: this.frameBytes };
  }

  /** From the next frame on, in both directions, frames carry tags under `mac`. */
  authenticate(mac: ChannelMac): void {
    this.mac = mac;
  }

  /** Queue a frame; resolves once the queue is back under its bound. Rejects if closed. */
  send(kind: FrameKind, requestId: number, header: unknown, payload?: Uint8Array): Promise<void> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    const [head, body] = encodeFrame(kind, requestId, header, payload);
    const tag = this.mac === null ? UNTAGGED : this.mac.seal(head, body, !hashChecked(header));
    this.enqueue(head);
    if (body.length > 0) this.enqueue(body);
    this.enqueue(tag);
    this.lastActivityMs = performance.now();
    this.scheduleFlush();
    if (this.queuedBytes <= CONNECTION_WRITE_QUEUE_BYTES_MAX) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.drainWaiters.push(() =>
        this.closedError === null ? resolve() : reject(this.closedError),
      );
    });
  }

  /** Driver hook: bytes arrived. */
  receive(bytes: Uint8Array): void {
    if (this.refused) return;
    const nowMs = performance.now();
    this.lastActivityMs = nowMs;
    this.lastReceivedMs = nowMs;
    if (this.frameStartedMs === null) {
      this.frameStartedMs = nowMs;
      this.frameBytes = 0;
    }
    this.frameBytes += bytes.length;
    const result = this.decoder.push(bytes);
    if (result.frames.length > 0) {
      // The bytes of the frame still arriving are what is left buffered.
      this.frameStartedMs = this.decoder.bufferedBytes === 0 ? null : nowMs;
      this.frameBytes = this.decoder.bufferedBytes;
    }
    for (const frame of result.frames) {
      if (this.mac !== null && !this.mac.verify(frame)) {
        this.refused = true;
        const message = "a frame's MAC does not verify (wrong key, altered or replayed)";
        this.events.onDecodeError({ code: "AUTH_FAILED", message, requestId: null });
        return;
      }
      this.events.onFrame(frame);
      if (this.refused) return;
    }
    if (result.error !== null) this.events.onDecodeError(result.error);
  }

  /** Read no more frames: the owner is about to close after an error answer. */
  refuse(): void {
    this.refused = true;
  }

  /** Driver hook: the socket can take more bytes. */
  drained(): void {
    this.flush();
  }

  /** Driver hook: the socket ended. */
  ended(cause?: unknown): void {
    if (this.closedError !== null) return;
    this.closedError = new FtfsError(
      "CONNECTION_CLOSED",
      "connection closed",
      cause === undefined ? undefined : { cause },
    );
    this.queue.length = 0;
    this.queueFront = 0;
    this.queuedBytes = 0;
    this.wakeWriters();
    this.events.onClose(this.closedError);
  }

  pause(): void {
    this.pausedByUs = true;
    this.socket.pause();
  }

  resume(): void {
    this.pausedByUs = false;
    // The sender could not progress while we did not read: its clock starts again now.
    if (this.frameStartedMs !== null) this.frameStartedMs = performance.now();
    this.frameBytes = 0;
    this.socket.resume();
  }

  /** Flush what can be flushed, then close the socket. */
  close(): void {
    if (this.closedError !== null) return;
    this.flush();
    this.socket.end();
    this.ended();
  }

  private enqueue(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
  }

  /**
   * Write at the end of this turn's microtasks rather than at once: many calls answered by one
   * read (a hundred readers on one connection) each send their next request in the same turn,
   * and they leave in one write instead of one each.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.closedError === null) this.flush();
    });
  }

  /**
   * The next bytes to write: the front piece, or the small pieces at the front joined in the
   * staging buffer (see COALESCE_PIECE_BYTES_MAX), with how many pieces they are.
   */
  private nextWrite(): { bytes: Uint8Array; pieces: number } | null {
    const first = this.queue[this.queueFront];
    if (first === undefined) return null;
    let count = 0;
    let bytes = 0;
    for (let index = this.queueFront; index < this.queue.length; index += 1) {
      const piece = this.queue[index];
      if (piece === undefined || piece.length > COALESCE_PIECE_BYTES_MAX) break;
      if (bytes + piece.length > COALESCE_WRITE_BYTES_MAX) break;
      count += 1;
      bytes += piece.length;
    }
    if (count < 2) return { bytes: first, pieces: 1 };
    let at = 0;
    for (let index = this.queueFront; index < this.queueFront + count; index += 1) {
      const piece = this.queue[index] as Uint8Array;
      coalesceStaging.set(piece, at);
      at += piece.length;
    }
    return { bytes: coalesceStaging.subarray(0, bytes), pieces: count };
  }

  private flush(): void {
    for (;;) {
      const next = this.nextWrite();
      if (next === null) break;
      const written = this.socket.write(next.bytes);
      if (written < 0) {
        this.ended(new Error("socket write after close"));
        return;
      }
      this.queuedBytes -= written;
      if (written < next.bytes.length) {
        // The rest waits for a drain; the staging buffer is reused, so its part is copied out.
        const rest = next.bytes.subarray(written);
        const kept = next.pieces === 1 ? rest : rest.slice();
        this.queueFront += next.pieces - 1;
        this.queue[this.queueFront] = kept;
        break;
      }
      this.queueFront += next.pieces;
    }
    this.compactQueue();
    if (this.queuedBytes <= CONNECTION_WRITE_QUEUE_BYTES_MAX) this.wakeWriters();
  }

  /** Drop sent pieces from the array: rarely, so a long queue is not shifted piece by piece. */
  private compactQueue(): void {
    if (this.queueFront === this.queue.length) {
      this.queue.length = 0;
      this.queueFront = 0;
    } else if (this.queueFront >= QUEUE_COMPACT_PIECES_MIN) {
      this.queue.splice(0, this.queueFront);
      this.queueFront = 0;
    }
  }

  private wakeWriters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** Socket handlers shared by client and server sockets: they forward to the channel. */
export const channelSocketHandlers = {
  data(socket: Socket<ChannelSlot>, bytes: Uint8Array): void {
    socket.data.channel?.receive(bytes);
  },
  drain(socket: Socket<ChannelSlot>): void {
    socket.data.channel?.drained();
  },
  close(socket: Socket<ChannelSlot>, error?: Error): void {
    socket.data.channel?.ended(error);
  },
  end(socket: Socket<ChannelSlot>): void {
    socket.data.channel?.ended();
    socket.end();
  },
  error(socket: Socket<ChannelSlot>, error: Error): void {
    socket.data.channel?.ended(error);
  },
} as const;
