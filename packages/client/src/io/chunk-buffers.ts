/**
 * A small free list of chunk-sized buffers for uploads: one per chunk in flight plus one being
 * filled. Reusing them keeps an upload's memory at (window + 1) chunks for any file size,
 * instead of leaving a freshly allocated chunk per put for the garbage collector to find.
 * A buffer returns to the list only when its put has settled: by then its bytes are either on
 * the storage node or dropped with a closed connection, never still queued for a socket.
 */

import { assert } from "@ftfs/protocol/core";

export class ChunkBuffers {
  private readonly free: Uint8Array[] = [];
  private readonly chunkBytes: number;
  private readonly capacity: number;
  private allocated = 0;

  constructor(chunkBytes: number, capacity: number) {
    this.chunkBytes = chunkBytes;
    this.capacity = capacity;
  }

  /** A buffer of chunkBytes; the caller's window guarantees one is free (a bug otherwise). */
  take(): Uint8Array {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    assert(this.allocated < this.capacity, "more chunk buffers taken than the window allows");
    this.allocated += 1;
    return new Uint8Array(this.chunkBytes);
  }

  give(buffer: Uint8Array): void {
    this.free.push(buffer);
  }
}
