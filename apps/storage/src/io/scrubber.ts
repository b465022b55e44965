/**
 * The scrubber: forever, a full pass over every stored chunk, then a pause. A pass re-hashes
 * each chunk from the disk (ChunkStore.scrub quarantines rot and reports it to the repairer),
 * paced by a Pacer so it reads at most `bytesPerSecond` and client traffic keeps the rest of
 * the disk; then it sweeps the owner references for chunks this node should hold and does not
 * (lost files, rot whose repair failed) and queues their repair.
 *
 * What a chunk costs against the rate is core/scrub-rules.ts's; this file reads, sleeps, logs.
 */

import { FtfsError, Pacer } from "@ftfs/protocol/core";
import { describeError, type Logger } from "@ftfs/protocol/io";
import { REPAIR_QUEUE_MAX, SCRUB_SWEEP_PAGE_ROWS, scrubCostBytes } from "../core/index.ts";
import type { ChunkStore } from "./chunk-store.ts";
import type { RefsStore } from "./refs-store.ts";
import type { Repairer } from "./repairer.ts";
import { passesUntilStopped, Rest } from "./rest.ts";

export interface ScrubStats {
  passes: number;
  chunksChecked: number;
  bytesChecked: number;
  /** Chunks whose bytes no longer matched their id (quarantined, repair queued). */
  rotFound: number;
  /** Referenced chunks the sweep found absent (repair queued). */
  missingFound: number;
  /** Chunks that could not be read for a reason other than rot (logged). */
  errors: number;
}

export interface ScrubberOptions {
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  readonly repairer: Repairer;
  readonly logger: Logger;
  /** 0 turns the scrubber off. */
  readonly bytesPerSecond: number;
  readonly passPauseMs: number;
  readonly monotonicMs: () => number;
  /**
   * This node is a learner catching up: the chunks its references name and it lacks are the
   * catch-up's to copy, not damage to repair.
   */
  readonly learning: () => boolean;
}

interface PassTally {
  chunks: number;
  bytes: number;
  rot: number;
  missing: number;
}

export class Scrubber {
  readonly stats: ScrubStats = {
    passes: 0,
    chunksChecked: 0,
    bytesChecked: 0,
    rotFound: 0,
    missingFound: 0,
    errors: 0,
  };
  private readonly options: ScrubberOptions;
  private readonly rest = new Rest();
  private running: Promise<void> | null = null;

  constructor(options: ScrubberOptions) {
    this.options = options;
  }

  start(): void {
    const { bytesPerSecond, passPauseMs, logger } = this.options;
    if (bytesPerSecond === 0) {
      logger.info("scrubber off (--scrub-rate 0)");
      return;
    }
    logger.info("scrubber on", { bytesPerSecond, passPauseMs });
    this.running ??= this.run();
  }

  /** Stop between two chunks (a chunk being hashed is finished first). */
  async stop(): Promise<void> {
    this.rest.stop();
    await this.running;
  }

  // Pause first: a node just started is busy catching up, and a pass can wait that long.
  private run(): Promise<void> {
    return passesUntilStopped(
      this.rest,
      this.options.passPauseMs,
      () => this.pass(),
      this.options.logger,
      "scrub pass failed; next pass after the pause",
    );
  }

  /** One full pass: every chunk stored at its start, then the sweep. */
  async pass(): Promise<void> {
    const { monotonicMs, logger } = this.options;
    const startedMs = monotonicMs();
    const tally: PassTally = { chunks: 0, bytes: 0, rot: 0, missing: 0 };
    const pacer = new Pacer(this.options.bytesPerSecond);
    for (const chunkId of this.options.chunks.ids()) {
      if (this.rest.stopped) return;
      const itemStartedMs = monotonicMs();
      const bytes = await this.check(chunkId, tally);
      const restMs = pacer.after(scrubCostBytes(bytes), monotonicMs() - itemStartedMs);
      if (restMs > 0) await this.rest.sleep(restMs);
    }
    await this.sweep(tally);
    if (this.rest.stopped) return;
    this.stats.passes += 1;
    logger.info("scrub pass done", {
      chunks: tally.chunks,
      bytes: tally.bytes,
      rot: tally.rot,
      missing: tally.missing,
      durationMs: Math.round(monotonicMs() - startedMs),
    });
  }

  /** Scrub one chunk; answers the bytes read (0 when it was gone). */
  private async check(chunkId: string, tally: PassTally): Promise<number> {
    const { chunks, logger } = this.options;
    const expectedBytes = chunks.sizeOf(chunkId) ?? 0;
    const outcome = await chunks.scrub(chunkId).catch((error: unknown) => {
      // An I/O failure other than a lost file (EIO, EACCES): the disk needs a person.
      this.stats.errors += 1;
      logger.error("could not scrub a chunk", { chunkId, error: describeError(error) });
      return null;
    });
    if (outcome === null) return expectedBytes;
    if (outcome.ok) {
      tally.chunks += 1;
      tally.bytes += outcome.value;
      this.stats.chunksChecked += 1;
      this.stats.bytesChecked += outcome.value;
      return outcome.value;
    }
    if (outcome.error.code === "INTEGRITY") {
      tally.rot += 1;
      this.stats.rotFound += 1;
    } else if (outcome.error.code !== "CHUNK_NOT_FOUND") {
      throw new FtfsError("INTERNAL", "scrub answered an unexpected error", {
        cause: outcome.error,
      });
    }
    // Rot was quarantined and a lost file forgotten; both are reported to the repairer.
    return expectedBytes;
  }

  /**
   * Queue a repair for every chunk a reference names that the store lacks. Leaves half the
   * repair queue to damage clients run into, and stops early when that half is full.
   */
  private async sweep(tally: PassTally): Promise<void> {
    const { chunks, refs, repairer } = this.options;
    if (this.options.learning()) return;
    let after = "";
    for (;;) {
      const page = refs.referencedChunksAfter(after, SCRUB_SWEEP_PAGE_ROWS);
      for (const chunkId of page) {
        // A put records its reference before it writes: one under way is not damage.
        if (chunks.has(chunkId) || chunks.putInFlight(chunkId)) continue;
        if (repairer.backlog >= REPAIR_QUEUE_MAX / 2) return;
        if (repairer.schedule(chunkId, "missing") !== "queued") continue;
        tally.missing += 1;
        this.stats.missingFound += 1;
      }
      const last = page.at(-1);
      if (last === undefined || page.length < SCRUB_SWEEP_PAGE_ROWS) return;
      after = last;
      await this.rest.sleep(0); // let requests run between pages
      if (this.rest.stopped) return;
    }
  }
}
