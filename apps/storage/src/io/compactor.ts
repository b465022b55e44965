/**
 * The background loop that compacts segment files (core/segment-book.ts picks which): every
 * COMPACTION_CHECK_INTERVAL_MS it rewrites segments worth it, one at a time, so the space that
 * garbage collection frees in segments goes back to the disk.
 */

import type { Logger } from "@ftfs/protocol/io";
import type { ChunkStore } from "./chunk-store.ts";
import { passesUntilStopped, Rest } from "./rest.ts";

/** Between checks for segments worth compacting (cheap when none is). */
export const COMPACTION_CHECK_INTERVAL_MS = 10_000;
/**
 * Segments compacted in one check at most: a store that garbage collection just emptied is
 * worked down over a few checks, leaving the disk to clients between them.
 */
export const COMPACTIONS_PER_CHECK_MAX = 8;

export interface CompactionStats {
  segmentsCompacted: number;
  bytesCopied: number;
  bytesFreed: number;
}

export class Compactor {
  readonly stats: CompactionStats = { segmentsCompacted: 0, bytesCopied: 0, bytesFreed: 0 };
  private readonly chunks: ChunkStore;
  private readonly logger: Logger;
  private readonly rest = new Rest();
  private running: Promise<void> | null = null;

  constructor(chunks: ChunkStore, logger: Logger) {
    this.chunks = chunks;
    this.logger = logger;
  }

  start(): void {
    this.running ??= passesUntilStopped(
      this.rest,
      COMPACTION_CHECK_INTERVAL_MS,
      async () => {
        await this.check();
      },
      this.logger,
      "segment compaction failed; next check after the interval",
    );
  }

  /** Stop between two segments (one under way is finished first). */
  async stop(): Promise<void> {
    this.rest.stop();
    await this.running;
  }

  /** Compact up to COMPACTIONS_PER_CHECK_MAX segments; answers how many were. */
  async check(): Promise<number> {
    let compacted = 0;
    while (compacted < COMPACTIONS_PER_CHECK_MAX && !this.rest.stopped) {
      const outcome = await this.chunks.compactSegments();
      if (outcome === null) break;
      compacted += 1;
      this.stats.segmentsCompacted += 1;
      this.stats.bytesCopied += outcome.copiedBytes;
      this.stats.bytesFreed += outcome.freedBytes;
      this.logger.info("segment compacted", { ...outcome });
    }
    return compacted;
  }
}
