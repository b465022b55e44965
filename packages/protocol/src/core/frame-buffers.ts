/**
 * Buffers for large incoming frames, lent and taken back. A frame decoder takes a buffer for a
 * frame whose length it knows; the frame's payload is a view of it; whoever ends up with the
 * payload may give it back once nothing reads it any more, and the next large frame is read
 * into the same pages. Only buffers this pool lent are ever taken back, each once; a buffer
 * never given back is simply left to the garbage collector. Bounded: at most
 * POOLED_FRAME_FREE_BYTES_MAX of free buffers are kept. Pure: no I/O.
 */

import { POOLED_FRAME_FREE_BYTES_MAX, POOLED_FRAME_STEP_BYTES } from "./limits.ts";

export class FrameBufferPool {
  /** Free buffers by their size. */
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Buffers lent and not yet given back: weak, so one never given back is collected. */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  private readonly freeBytesMax: number;

  constructor(freeBytesMax = POOLED_FRAME_FREE_BYTES_MAX) {
    this.freeBytesMax = freeBytesMax;
  }

  /** Bytes held in free buffers. */
  get freeBytesHeld(): number {
    return this.freeBytes;
  }

  /** A buffer of exactly `bytes` (a view of a pooled one): its old contents are not cleared. */
  take(bytes: number): Uint8Array {
    const size = Math.ceil(bytes / POOLED_FRAME_STEP_BYTES) * POOLED_FRAME_STEP_BYTES;
    const reused = this.free.get(size)?.pop();
    if (reused !== undefined) this.freeBytes -= size;
    const buffer = reused ?? new ArrayBuffer(size);
    this.lent.add(buffer);
    return new Uint8Array(buffer, 0, bytes);
  }

  /**
   * Give back the buffer under `view` (a frame, or its payload): from now on the pool may read
   * another frame into it, so the caller and everyone it handed the bytes to must be done with
   * them. Answers whether it was taken back (false: not lent by this pool, or given back before).
   */
  give(view: Uint8Array): boolean {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.lent.has(buffer)) return false;
    this.lent.delete(buffer);
    if (this.freeBytes + buffer.byteLength > this.freeBytesMax) return true;
    const list = this.free.get(buffer.byteLength) ?? [];
    list.push(buffer);
    this.free.set(buffer.byteLength, list);
    this.freeBytes += buffer.byteLength;
    return true;
  }
}
