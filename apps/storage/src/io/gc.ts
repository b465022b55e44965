/**
 * Garbage collection: every gcIntervalMs(grace), expire the pending references of uploads idle
 * for longer than the grace (they will never commit), then delete every chunk file that
 * core/gc-rules.ts judges collectable: named by no reference, not put within the grace, its
 * file older than the grace. A chunk many files share has a reference per file, so it goes
 * only when the last of them is dropped.
 *
 * Safety against uploads in flight rests on one tick: the facts are read (references, last
 * put) and the chunk leaves the index in the same synchronous step, so no put can slip in
 * between; a put of it afterwards waits for the unlink and writes it afresh. Checks and
 * deletions are each paced, so a pass over millions of chunks never hogs the disk or SQLite.
 */

import { Pacer } from "@ftfs/protocol/core";
import { describeError, type Logger } from "@ftfs/protocol/io";
import {
  GC_CHECKS_PER_SECOND_MAX,
  GC_DELETES_PER_SECOND_MAX,
  GC_EXPIRE_BATCH_UPLOADS,
  gcIntervalMs,
  judgeChunk,
  pendingExpiryCutoffMs,
} from "../core/index.ts";
import { ChunkDeleteError, type ChunkStore } from "./chunk-store.ts";
import type { RefsStore } from "./refs-store.ts";
import { passesUntilStopped, Rest } from "./rest.ts";

export interface GcStats {
  passes: number;
  chunksChecked: number;
  chunksCollected: number;
  bytesFreed: number;
  /** Pending references of abandoned uploads removed. */
  refsExpired: number;
  /** Chunk files that could not be deleted (logged). */
  errors: number;
}

export interface GcOptions {
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  readonly logger: Logger;
  readonly graceMs: number;
  /** Wall clock: compared with file times and recorded reference times. */
  readonly nowMs: () => number;
  /** Monotonic clock: measures work for pacing. */
  readonly monotonicMs: () => number;
}

interface PassTally {
  checked: number;
  collected: number;
  bytesFreed: number;
}

export class GarbageCollector {
  readonly stats: GcStats = {
    passes: 0,
    chunksChecked: 0,
    chunksCollected: 0,
    bytesFreed: 0,
    refsExpired: 0,
    errors: 0,
  };
  private readonly options: GcOptions;
  private readonly rest = new Rest();
  private running: Promise<void> | null = null;

  constructor(options: GcOptions) {
    this.options = options;
  }

  get intervalMs(): number {
    return gcIntervalMs(this.options.graceMs);
  }

  start(): void {
    this.options.logger.info("garbage collection on", {
      graceMs: this.options.graceMs,
      intervalMs: this.intervalMs,
    });
    this.running ??= this.run();
  }

  /** Stop between two chunks (a deletion under way is finished first). */
  async stop(): Promise<void> {
    this.rest.stop();
    await this.running;
  }

  private run(): Promise<void> {
    return passesUntilStopped(
      this.rest,
      this.intervalMs,
      () => this.pass(),
      this.options.logger,
      "garbage collection pass failed; next one after the interval",
    );
  }

  /** One pass: expire abandoned uploads, then judge every chunk stored at its start. */
  async pass(): Promise<void> {
    const { chunks, graceMs, logger, monotonicMs, nowMs } = this.options;
    const startedMs = monotonicMs();
    const expired = await this.expireAbandoned();
    chunks.forgetPutsBefore(nowMs() - graceMs);
    const tally: PassTally = { checked: 0, collected: 0, bytesFreed: 0 };
    const checks = new Pacer(GC_CHECKS_PER_SECOND_MAX);
    const deletes = new Pacer(GC_DELETES_PER_SECOND_MAX);
    for (const chunkId of chunks.ids()) {
      if (this.rest.stopped) return;
      const itemStartedMs = monotonicMs();
      const deleted = await this.consider(chunkId, tally);
      const elapsedMs = monotonicMs() - itemStartedMs;
      const restMs = deleted ? deletes.after(1, elapsedMs) : checks.after(1, elapsedMs);
      if (restMs > 0) await this.rest.sleep(restMs);
    }
    this.stats.passes += 1;
    this.stats.chunksChecked += tally.checked;
    logger.info("garbage collection pass done", {
      chunks: tally.checked,
      collected: tally.collected,
      bytesFreed: tally.bytesFreed,
      refsExpired: expired,
      durationMs: Math.round(monotonicMs() - startedMs),
    });
  }

  /** Expire idle uploads' pending references, a batch per transaction; answers how many. */
  private async expireAbandoned(): Promise<number> {
    const { refs, nowMs, graceMs, logger } = this.options;
    const cutoffMs = pendingExpiryCutoffMs(nowMs(), graceMs);
    let total = 0;
    for (;;) {
      const removed = refs.expirePending(cutoffMs, GC_EXPIRE_BATCH_UPLOADS);
      if (removed === 0) break;
      total += removed;
      await this.rest.sleep(0); // let requests at the references between batches
    }
    if (total > 0) {
      this.stats.refsExpired += total;
      logger.info("pending references of abandoned uploads expired", { refs: total, graceMs });
    }
    return total;
  }

  /** Judge one chunk and delete it if collectable; answers whether it was deleted. */
  private async consider(chunkId: string, tally: PassTally): Promise<boolean> {
    const { chunks, refs, graceMs, nowMs, logger } = this.options;
    tally.checked += 1;
    if (refs.referencesTo(chunkId) > 0) return false; // the common case: no file system call
    const fileModifiedAtMs = await chunks.modifiedAtMs(chunkId);
    if (fileModifiedAtMs === null) return false;
    // Read again after the await, in the tick that removes it: a put may have come meanwhile.
    const facts = {
      references: refs.referencesTo(chunkId),
      lastPutAtMs: chunks.lastPutAtMs(chunkId),
      fileModifiedAtMs,
    };
    if (!judgeChunk(facts, nowMs(), graceMs).collect) return false;
    try {
      const bytes = await chunks.remove(chunkId);
      tally.collected += 1;
      tally.bytesFreed += bytes;
      this.stats.chunksCollected += 1;
      this.stats.bytesFreed += bytes;
      logger.debug("chunk collected", { chunkId, bytes });
    } catch (error) {
      if (!(error instanceof ChunkDeleteError)) throw error;
      this.stats.errors += 1;
      logger.error("could not delete an unreferenced chunk", {
        chunkId,
        error: describeError(error.cause),
      });
    }
    return true;
  }
}
