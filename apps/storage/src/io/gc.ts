/**
 * Garbage collection: every gcIntervalMs(grace), walk the stored chunks, pick those
 * core/gc-rules.ts says are worth asking about (no committed reference, or any on an audit
 * pass; not put or written within the grace), and ask the directory primary, a page at a time, which of them may go
 * (confirmGarbage). Only what it confirms is deleted: this node never judges a chunk garbage by
 * its own clock or its own references, which a lost notice, a catch-up or an empty disk can
 * leave wrong. The answer also names pending references that protect nothing (their upload was
 * swept, or committed without keeping that chunk here), which go.
 *
 * Safety against puts in flight rests on one rule and one tick: a put records its reference
 * before it writes the chunk, and the deletion re-reads the chunk's references in the same
 * synchronous step that takes it out of the index, going ahead only if no reference was added
 * since the question was asked; a put of it afterwards waits for the unlink and writes it
 * afresh. Checks and deletions are each paced, so a pass over millions of chunks never hogs
 * the disk or SQLite.
 */

import {
  GC_UPLOADS_PER_CANDIDATE_MAX,
  GC_CANDIDATES_PER_REQUEST_MAX,
  Pacer,
  type RequestBody,
  type ResponseBody,
  type Result,
} from "@ftfs/protocol/core";
import { describeError, type Logger } from "@ftfs/protocol/io";
import {
  GC_CHECKS_PER_SECOND_MAX,
  GC_DELETES_PER_SECOND_MAX,
  gcIntervalMs,
  isAuditPass,
  judgeChunk,
  stillCollectable,
} from "../core/index.ts";
import { ChunkDeleteError, type ChunkStore } from "./chunk-store.ts";
import type { ChunkRefFacts, RefsStore } from "./refs-store.ts";
import { passesUntilStopped, Rest } from "./rest.ts";

export interface GcStats {
  passes: number;
  chunksChecked: number;
  /** Chunks the directory was asked about. */
  candidates: number;
  chunksCollected: number;
  bytesFreed: number;
  /** Pending references the directory released, removed. */
  refsDropped: number;
  /** Questions the directory did not answer (the chunks wait for the next pass). */
  unconfirmed: number;
  /** Quarantined copies of repaired chunks removed. */
  quarantineFilesFreed: number;
  /** Chunk files that could not be deleted (logged). */
  errors: number;
}

export type ConfirmGarbage = (
  body: RequestBody<"confirmGarbage">,
) => Promise<Result<ResponseBody<"confirmGarbage">>>;

export interface GcOptions {
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  readonly logger: Logger;
  readonly graceMs: number;
  /** This node's group; null for a spare not assigned one (it holds nothing to collect). */
  readonly group: () => string | null;
  /** Asks the directory primary which candidates may go. */
  readonly confirm: ConfirmGarbage;
  /** Wall clock: compared with file times and recorded put times (delays only). */
  readonly nowMs: () => number;
  /** Monotonic clock: measures work for pacing. */
  readonly monotonicMs: () => number;
}

interface Candidate {
  readonly chunkId: string;
  readonly facts: ChunkRefFacts;
}

interface PassTally {
  checked: number;
  candidates: number;
  collected: number;
  bytesFreed: number;
  refsDropped: number;
}

export class GarbageCollector {
  readonly stats: GcStats = {
    passes: 0,
    chunksChecked: 0,
    candidates: 0,
    chunksCollected: 0,
    bytesFreed: 0,
    refsDropped: 0,
    unconfirmed: 0,
    quarantineFilesFreed: 0,
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

  /** One pass: every chunk stored at its start is judged; candidates are asked about by page. */
  async pass(): Promise<void> {
    const { chunks, graceMs, logger, monotonicMs, nowMs } = this.options;
    const group = this.options.group();
    if (group === null) return;
    const startedMs = monotonicMs();
    chunks.forgetPutsBefore(nowMs() - graceMs);
    const audit = isAuditPass(this.stats.passes);
    const tally: PassTally = {
      checked: 0,
      candidates: 0,
      collected: 0,
      bytesFreed: 0,
      refsDropped: 0,
    };
    const checks = new Pacer(GC_CHECKS_PER_SECOND_MAX);
    let page: Candidate[] = [];
    for (const chunkId of chunks.ids()) {
      if (this.rest.stopped) return;
      const itemStartedMs = monotonicMs();
      const candidate = await this.consider(chunkId, tally, audit);
      if (candidate !== null) page.push(candidate);
      const restMs = checks.after(1, monotonicMs() - itemStartedMs);
      if (restMs > 0) await this.rest.sleep(restMs);
      if (page.length === GC_CANDIDATES_PER_REQUEST_MAX) {
        await this.settle(group, page, tally);
        page = [];
      }
    }
    if (page.length > 0) await this.settle(group, page, tally);
    // Quarantined rot whose chunk was repaired served a post-mortem for a grace; then it goes.
    const quarantine = await chunks.sweepQuarantine(graceMs, nowMs());
    this.stats.quarantineFilesFreed += quarantine.files;
    this.stats.passes += 1;
    this.stats.chunksChecked += tally.checked;
    logger.info("garbage collection pass done", {
      audit,
      chunks: tally.checked,
      candidates: tally.candidates,
      collected: tally.collected,
      bytesFreed: tally.bytesFreed,
      refsDropped: tally.refsDropped,
      quarantineFilesFreed: quarantine.files,
      durationMs: Math.round(monotonicMs() - startedMs),
    });
  }

  /** A candidate for the directory's judgement, or null when the chunk is not worth asking. */
  private async consider(
    chunkId: string,
    tally: PassTally,
    audit: boolean,
  ): Promise<Candidate | null> {
    const { chunks, refs, graceMs, nowMs } = this.options;
    tally.checked += 1;
    const quick = refs.chunkRefFacts(chunkId, GC_UPLOADS_PER_CANDIDATE_MAX);
    if (quick.committed > 0 && !audit) return null; // the common case: no file system call
    const fileModifiedAtMs = await chunks.modifiedAtMs(chunkId);
    if (fileModifiedAtMs === null) return null;
    const facts = refs.chunkRefFacts(chunkId, GC_UPLOADS_PER_CANDIDATE_MAX);
    const verdict = judgeChunk(
      { committed: facts.committed, lastPutAtMs: chunks.lastPutAtMs(chunkId), fileModifiedAtMs },
      nowMs(),
      graceMs,
      audit,
    );
    if (!verdict.ask) return null;
    tally.candidates += 1;
    return { chunkId, facts };
  }

  /** Ask about one page; drop the references it releases and delete what it confirms. */
  private async settle(group: string, page: readonly Candidate[], tally: PassTally): Promise<void> {
    const { logger, refs } = this.options;
    this.stats.candidates += page.length;
    const answer = await this.options.confirm({
      group,
      candidates: page.map(({ chunkId, facts }) => ({
        chunkId,
        uploads: facts.pendingUploads,
        ...(facts.moreUploads ? { moreUploads: true } : {}),
      })),
    });
    if (!answer.ok) {
      this.stats.unconfirmed += page.length;
      logger.warn("the directory did not confirm garbage; the chunks wait for the next pass", {
        candidates: page.length,
        code: answer.error.code,
        reason: answer.error.message,
      });
      return;
    }
    let dropped = 0;
    refs.batch(() => {
      for (const { chunkId, uid, uploadId } of answer.value.releasedRefs) {
        dropped += refs.dropPendingRef(chunkId, uid, uploadId);
      }
    });
    tally.refsDropped += dropped;
    this.stats.refsDropped += dropped;
    const confirmed = new Set(answer.value.collectable);
    const deletes = new Pacer(GC_DELETES_PER_SECOND_MAX);
    for (const candidate of page) {
      if (this.rest.stopped) return;
      if (!confirmed.has(candidate.chunkId)) continue;
      const startedMs = this.options.monotonicMs();
      await this.collect(candidate, tally);
      const restMs = deletes.after(1, this.options.monotonicMs() - startedMs);
      if (restMs > 0) await this.rest.sleep(restMs);
    }
  }

  /**
   * Delete a confirmed chunk, unless a reference came since the question: then a put or a
   * commit is using it, and the answer no longer holds. The check, the references' removal and
   * the index's are one synchronous step.
   */
  private async collect(candidate: Candidate, tally: PassTally): Promise<void> {
    const { chunks, refs, logger } = this.options;
    const { chunkId } = candidate;
    const now = refs.chunkRefFacts(chunkId, GC_UPLOADS_PER_CANDIDATE_MAX);
    if (!stillCollectable(candidate.facts, now)) return;
    refs.dropChunk(chunkId);
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
  }
}
