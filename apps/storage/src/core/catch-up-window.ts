/**
 * Which chunk a learner's catch-up copies next, pure. The copy is a pipeline: pages of the
 * primary's references come in (each recorded before any of its chunks is asked for), their
 * missing chunks join one queue, and up to `chunksMax` chunks (and `bytesMax` bytes, so memory
 * stays bounded whatever the chunk size) are in flight at once, across page boundaries: the
 * next page's chunks start as soon as a slot frees, never after the slowest chunk of the page
 * before. The next page is asked for while the queue still holds a window's worth, so the copy
 * does not stall on the primary's answer either.
 *
 * Owns: the queue, the in-flight set, the order chunks start in (the order their references
 * were listed), and when to ask for the next page. It does not fetch, store, pace or time
 * anything: the driver (io/catch-up.ts) does, and asks here before each step.
 */

import { assert } from "@ftfs/protocol/core";

export interface WindowChunk {
  readonly chunkId: string;
  readonly bytes: number;
}

export interface CopyWindowLimits {
  /** Chunks in flight at most. */
  readonly chunksMax: number;
  /** Bytes in flight at most; one chunk larger than this still goes, alone. */
  readonly bytesMax: number;
}

export class CopyWindow {
  private readonly limits: CopyWindowLimits;
  private readonly queue: WindowChunk[] = [];
  /** Index of the next chunk to start in `queue` (the queue is consumed from the front). */
  private head = 0;
  private readonly flying = new Map<string, number>();
  private flyingBytes = 0;
  private waitingBytes = 0;
  /** Chunks queued or in flight: a chunk listed again meanwhile is not queued twice. */
  private readonly pending = new Set<string>();
  private pageAsked = false;
  private lastPageIn = false;

  constructor(limits: CopyWindowLimits) {
    assert(limits.chunksMax >= 1, "a copy window holds at least one chunk");
    assert(limits.bytesMax >= 1, "a copy window holds at least one byte");
    this.limits = limits;
  }

  /** Chunks queued and not yet started. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  get inFlight(): number {
    return this.flying.size;
  }

  get bytesInFlight(): number {
    return this.flyingBytes;
  }

  /** Bytes queued and not yet started (what the learner knows it still lacks, with in flight). */
  get queuedBytes(): number {
    return this.waitingBytes;
  }

  /**
   * Ask for the next page now: none is on its way, the last has not come, and the queue holds
   * less than one window of chunks (so the answer is likely back before the queue runs dry).
   */
  wantsPage(): boolean {
    return !this.pageAsked && !this.lastPageIn && this.queued < this.limits.chunksMax;
  }

  /** The driver asked the primary for the next page. */
  pageRequested(): void {
    assert(this.wantsPage(), "a page asked for while one is on its way or after the last");
    this.pageAsked = true;
  }

  /**
   * A page came, and its references are recorded: queue its `missing` chunks (those this node
   * lacks), in listing order; one already queued or in flight is not queued again (a chunk
   * finished before is held, so the caller does not list it). `last`: the primary has no more.
   */
  pageIn(missing: readonly WindowChunk[], last: boolean): void {
    assert(this.pageAsked, "a page came that was not asked for");
    this.pageAsked = false;
    this.lastPageIn = last;
    for (const chunk of missing) {
      if (this.pending.has(chunk.chunkId)) continue;
      this.pending.add(chunk.chunkId);
      this.queue.push(chunk);
      this.waitingBytes += chunk.bytes;
    }
    this.compact();
  }

  /** The chunk is queued or in flight in this window. */
  isPending(chunkId: string): boolean {
    return this.pending.has(chunkId);
  }

  /** The next chunk to start now, marked in flight; null when none may start yet. */
  start(): WindowChunk | null {
    const next = this.queue[this.head];
    if (next === undefined || this.flying.size >= this.limits.chunksMax) return null;
    const fits = this.flyingBytes + next.bytes <= this.limits.bytesMax;
    if (!fits && this.flying.size > 0) return null;
    this.head += 1;
    this.waitingBytes -= next.bytes;
    this.flying.set(next.chunkId, next.bytes);
    this.flyingBytes += next.bytes;
    return next;
  }

  /** A chunk in flight finished (copied, or skipped); its slot is free. */
  finished(chunkId: string): void {
    const bytes = this.flying.get(chunkId);
    assert(bytes !== undefined, `chunk ${chunkId} finished but was not in flight`);
    this.flying.delete(chunkId);
    this.pending.delete(chunkId);
    this.flyingBytes -= bytes;
  }

  /** The last page came and every chunk it and the pages before listed has finished. */
  get complete(): boolean {
    return this.lastPageIn && this.queued === 0 && this.flying.size === 0;
  }

  /** Drop started entries once they are most of the array, so the queue does not grow forever. */
  private compact(): void {
    if (this.head > 0 && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
