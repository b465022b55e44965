/**
 * A framed, backpressured byte channel over one Bun TCP socket. It owns the write queue and the
 * frame decoder of one connection; the RPC client and server are built on it. It never buffers
 * more than CONNECTION_WRITE_QUEUE_BYTES_MAX for a slow reader: `send` waits for the socket to
 * drain instead, so a writer cannot pile a whole file into memory.
 */

import type { Socket } from "bun";
import {
  CONNECTION_WRITE_QUEUE_BYTES_MAX,
  encodeFrame,
  FrameDecoder,
  FtfsError,
  type Frame,
  type FrameDecodeError,
  type FrameKind,
} from "../core/index.ts";

/** Frames smaller than this are written as one buffer: one syscall beats a zero-copy pair. */
const COALESCE_PAYLOAD_BYTES_MAX = 64 * 1024;

export interface ChannelEvents {
  onFrame(frame: Frame): void;
  onDecodeError(error: FrameDecodeError): void;
  onClose(error: FtfsError): void;
}

/** What a Bun socket's `data` slot holds, so the socket handlers can find the channel. */
export interface ChannelSlot {
  channel: FrameChannel | null;
}

export class FrameChannel {
  private readonly socket: Socket<ChannelSlot>;
  private readonly decoder = new FrameDecoder();
  private readonly events: ChannelEvents;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private drainWaiters: Array<() => void> = [];
  private closedError: FtfsError | null = null;

  constructor(socket: Socket<ChannelSlot>, events: ChannelEvents) {
    this.socket = socket;
    this.events = events;
    socket.data.channel = this;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }

  /** Queue a frame; resolves once the queue is back under its bound. Rejects if closed. */
  send(kind: FrameKind, requestId: number, header: unknown, payload?: Uint8Array): Promise<void> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    const [head, body] = encodeFrame(kind, requestId, header, payload);
    if (body.length === 0) {
      this.enqueue(head);
    } else if (body.length <= COALESCE_PAYLOAD_BYTES_MAX) {
      const joined = new Uint8Array(head.length + body.length);
      joined.set(head, 0);
      joined.set(body, head.length);
      this.enqueue(joined);
    } else {
      this.enqueue(head);
      this.enqueue(body);
    }
    this.flush();
    if (this.queuedBytes <= CONNECTION_WRITE_QUEUE_BYTES_MAX) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.drainWaiters.push(() => (this.closedError === null ? resolve() : reject(this.closedError)));
    });
  }

  /** Driver hook: bytes arrived. */
  receive(bytes: Uint8Array): void {
    const result = this.decoder.push(bytes);
    for (const frame of result.frames) this.events.onFrame(frame);
    if (result.error !== null) this.events.onDecodeError(result.error);
  }

  /** Driver hook: the socket can take more bytes. */
  drained(): void {
    this.flush();
  }

  /** Driver hook: the socket ended. */
  ended(cause?: unknown): void {
    if (this.closedError !== null) return;
    this.closedError = new FtfsError("CONNECTION_CLOSED", "connection closed", cause === undefined ? undefined : { cause });
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.wakeWriters();
    this.events.onClose(this.closedError);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
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

  private flush(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (next === undefined) break;
      const written = this.socket.write(next);
      if (written < 0) {
        this.ended(new Error("socket write after close"));
        return;
      }
      this.queuedBytes -= written;
      if (written < next.length) {
        this.queue[0] = next.subarray(written);
        break;
      }
      this.queue.shift();
    }
    if (this.queuedBytes <= CONNECTION_WRITE_QUEUE_BYTES_MAX) this.wakeWriters();
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
