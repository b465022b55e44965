/**
 * The chunks one client holds at once over all its transfers. Each transfer keeps its own
 * window (chunksInFlight); a process that runs many transfers at once (the S3 gateway, serving
 * many requests) also needs a bound on their sum, or its memory grows with its callers. A
 * chunk is held from before its bytes are read (an upload) or fetched (a download) until it
 * has left (its put settled; the sink took it). Waiters are served in arrival order, so a
 * transfer that waits is never overtaken for ever by later ones.
 */

import { assert } from "@ftfs/protocol/core";

export class ChunkBudget {
  private readonly capacity: number;
  private held = 0;
  private readonly waiting: Array<() => void> = [];
  /**
   * Upload buffers shared by every transfer, so what the budget bounds is memory: a transfer
   * waiting for room keeps no buffers of its own. At most `capacity` are kept.
   */
  private readonly free: Uint8Array[] = [];

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, "a chunk budget holds at least one chunk");
    this.capacity = capacity;
  }

  /** Wait for room for one chunk. */
  acquire(): Promise<void> {
    if (this.held < this.capacity && this.waiting.length === 0) {
      this.held += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.held += 1;
        resolve();
      });
    });
  }

  /** Room for one chunk if there is some now and nobody waits for it; false otherwise. */
  tryAcquire(): boolean {
    if (this.held >= this.capacity || this.waiting.length > 0) return false;
    this.held += 1;
    return true;
  }

  /** One chunk has left; the longest waiter gets its room. */
  release(): void {
    assert(this.held > 0, "a chunk budget released more than it gave");
    this.held -= 1;
    const next = this.waiting.shift();
    next?.();
  }

  /** A buffer of `chunkBytes` for a chunk already acquired: a kept one, or a new one. */
  buffer(chunkBytes: number): Uint8Array {
    const index = this.free.findIndex((buffer) => buffer.length === chunkBytes);
    if (index < 0) return new Uint8Array(chunkBytes);
    const [found] = this.free.splice(index, 1);
    return found ?? new Uint8Array(chunkBytes);
  }

  /** A buffer whose chunk has left (its put settled): kept for the next, up to capacity. */
  recycle(buffer: Uint8Array): void {
    if (this.free.length < this.capacity) this.free.push(buffer);
  }

  /** Chunks held now (tests, metrics). */
  get inUse(): number {
    return this.held;
  }
}
