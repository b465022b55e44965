/**
 * A learner's catch-up: when this node's group view lists it as a learner (new, restarted, or
 * dropped while unreachable), it copies what it lacks from the primary, a set difference since
 * chunks are immutable: page through the primary's owner references, record them (a commit
 * forwarded meanwhile records its own, committed, whichever comes first), fetch each chunk it
 * does not hold (verified against its id), and drop references the primary no longer has
 * (files deleted meanwhile). Dropping a reference deletes nothing: only the directory's word
 * lets garbage collection take a chunk (io/gc.ts). Writes reach learners all along (the
 * primary forwards to them), so once a pass ends with the primary still at the same epoch,
 * this node holds everything; it reports syncedEpoch and the directory makes it in sync.
 *
 * The copy is paced (a SharedPacer over the chunks in flight) to `bytesPerSecond`, so a spare
 * filling up from nothing leaves clients most of the primary's disk and of its own.
 */

import { FtfsError, SharedPacer, type GroupView, type SyncRef } from "@ftfs/protocol/core";
import {
  describeError,
  fetchChunk,
  RpcPool,
  type ConnectOptions,
  type Logger,
} from "@ftfs/protocol/io";
import {
  CATCH_UP_CALL_TIMEOUT_MS,
  CATCH_UP_CHECK_INTERVAL_MS,
  CATCH_UP_CHUNKS_IN_FLIGHT,
  FORWARD_CONNECT_TIMEOUT_MS,
  learnerSince,
} from "../core/index.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { refKey, type RefsStore } from "./refs-store.ts";
import { Rest } from "./rest.ts";

export interface CatchUpOptions {
  readonly node: string;
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  readonly logger: Logger;
  readonly view: () => GroupView | null;
  readonly nowMs: () => number;
  /** Monotonic time, for pacing: a wall-clock step must not stall or speed up the copy. */
  readonly monotonicMs: () => number;
  /** Copy rate bound (`--catch-up-rate`). */
  readonly bytesPerSecond: number;
  /** A pass finished: tell the directory now rather than at the next heartbeat. */
  readonly onSynced: () => void;
  /** How this node proves itself to its primary (the cluster key). */
  readonly connect?: ConnectOptions;
}

export interface CatchUpStats {
  passes: number;
  chunksCopied: number;
  bytesCopied: number;
  /**
   * Not a count: bytes of the chunks this node knows it lacks and has yet to copy, now. Known
   * a page of references at a time (the primary does not say how much it holds in all), so a
   * long catch-up shows a page's worth falling, then the next page's. Kept after a failed
   * pass (a stalled copy shows as bytes that do not fall); 0 once caught up.
   */
  remainingBytes: number;
  referencesDropped: number;
  /** Chunks the primary listed for unfinished uploads only and did not hold (not copied). */
  danglingSkipped: number;
  /**
   * Passes given up because the primary did not yet know this node's stint, or the group moved
   * on (a new primary, a new stint): each is retried at the next check.
   */
  passesAbandoned: number;
}

/**
 * Where one pass's time went, said in its "caught up" line: waiting for the primary's pages of
 * references, recording them, resting to keep under the rate, and (summed over the chunks in
 * flight, so they overlap) fetching chunks and storing them durably here.
 */
interface PassTimes {
  pagesWaitMs: number;
  recordMs: number;
  restMs: number;
  fetchMs: number;
  storeMs: number;
}

/** The pass stopped because the group moved on; the next check starts over. */
class ViewMoved extends Error {}

function newPassTimes(): PassTimes {
  return { pagesWaitMs: 0, recordMs: 0, restMs: 0, fetchMs: 0, storeMs: 0 };
}

function roundedTimes(times: PassTimes): Record<keyof PassTimes, number> {
  return {
    pagesWaitMs: Math.round(times.pagesWaitMs),
    recordMs: Math.round(times.recordMs),
    restMs: Math.round(times.restMs),
    fetchMs: Math.round(times.fetchMs),
    storeMs: Math.round(times.storeMs),
  };
}

export class CatchUp {
  readonly stats: CatchUpStats = {
    passes: 0,
    chunksCopied: 0,
    bytesCopied: 0,
    remainingBytes: 0,
    referencesDropped: 0,
    danglingSkipped: 0,
    passesAbandoned: 0,
  };
  private readonly options: CatchUpOptions;
  private readonly pool: RpcPool;
  private readonly timer: ReturnType<typeof setInterval>;
  /** Pacing rests, cut short by stop(); one at a time, shared by the copy workers. */
  private readonly rest = new Rest();
  private resting: Promise<void> | null = null;
  private running: Promise<void> | null = null;
  private synced: number | undefined;
  /** The learner stint last seen, and when (monotonic): a pass says how long it waited. */
  private stint: { since: number; seenAtMs: number } | null = null;
  private times: PassTimes = newPassTimes();
  /** The stints whose first pass, and first abandoned pass, were last logged (once each). */
  private begunSaid: number | null = null;
  private abandonedSaid: number | null = null;
  private stopped = false;

  constructor(options: CatchUpOptions) {
    this.options = options;
    this.pool = new RpcPool(FORWARD_CONNECT_TIMEOUT_MS, options.connect);
    this.timer = setInterval(() => this.check(), CATCH_UP_CHECK_INTERVAL_MS);
  }

  /** The stint (learner since epoch) in which this node last finished catching up. */
  get syncedEpoch(): number | undefined {
    return this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.rest.stop();
    await this.running;
    this.pool.close();
  }

  /** Resolves once no pass is running (one running when the view went away ends at its page). */
  async idle(): Promise<void> {
    await this.running;
  }

  private check(): void {
    if (this.stopped || this.running !== null) return;
    const view = this.options.view();
    const since = learnerSince(view, this.options.node);
    if (since === null || this.synced === since) this.stats.remainingBytes = 0;
    if (view === null || since === null || view.primary === null || this.synced === since) return;
    if (this.stint?.since !== since) this.stint = { since, seenAtMs: this.options.monotonicMs() };
    this.running = this.pass(view, view.primary, since)
      .catch((error: unknown) => {
        if (error instanceof ViewMoved) {
          this.onAbandoned(error.message, since);
          return;
        }
        this.options.logger.warn("catch-up pass failed; will retry", {
          error: describeError(error),
        });
      })
      .finally(() => {
        this.running = null;
      });
  }

  private async pass(view: GroupView, primary: string, since: number): Promise<void> {
    const { logger, refs, chunks, monotonicMs, bytesPerSecond } = this.options;
    const startedMs = this.options.nowMs();
    const startedMonoMs = monotonicMs();
    this.times = newPassTimes();
    const pace = new SharedPacer(bytesPerSecond, monotonicMs());
    const before = { ...this.stats };
    const kept = new Set<string>();
    const localSeqAtStart = refs.lastSeq();
    let afterSeq = 0;
    if (this.begunSaid !== since) {
      this.begunSaid = since;
      logger.info("catch-up begun", { since, primary, bytesPerSecondMax: bytesPerSecond });
    }
    for (;;) {
      const askedMs = monotonicMs();
      const page = await this.pool.call(
        primary,
        "syncRefs",
        { afterSeq },
        {
          timeoutMs: CATCH_UP_CALL_TIMEOUT_MS,
        },
      );
      // The primary must know a configuration of our stint (then it forwards every new write
      // to us too), and the stint must still be ours: a break means writes may have missed us.
      const now = this.options.view();
      const sameStint = learnerSince(now, this.options.node) === since && now?.primary === primary;
      this.times.pagesWaitMs += monotonicMs() - askedMs;
      if (page.body.epoch < since) throw new ViewMoved("the primary does not know this stint yet");
      if (!sameStint) throw new ViewMoved("the group moved on");
      const recordingMs = monotonicMs();
      // References first, as a put records them: a chunk this node holds is then always held
      // by a reference garbage collection names to the directory, never copied unclaimed.
      refs.batch(() => {
        for (const ref of page.body.refs) {
          this.record(ref);
          kept.add(refKey(ref.uid, ref.name, ref.uploadId));
          afterSeq = Math.max(afterSeq, ref.seq);
        }
      });
      this.times.recordMs += monotonicMs() - recordingMs;
      const missing = page.body.refs.filter((ref) => !chunks.has(ref.chunkId));
      await this.copyChunks(primary, missing, pace);
      if (page.body.done || this.stopped) break;
    }
    if (this.stopped) return;
    this.stats.referencesDropped += refs.dropExcept(kept, localSeqAtStart);
    this.stats.passes += 1;
    this.stats.remainingBytes = 0;
    this.synced = since;
    logger.info("caught up with the group primary", {
      epoch: view.epoch,
      since,
      primary,
      chunksCopied: this.stats.chunksCopied - before.chunksCopied,
      bytesCopied: this.stats.bytesCopied - before.bytesCopied,
      tookMs: this.options.nowMs() - startedMs,
      bytesPerSecondMax: bytesPerSecond,
      // From the first check that saw this stint: how long the node waited before this pass.
      learnerForMs: Math.round(monotonicMs() - (this.stint?.seenAtMs ?? startedMonoMs)),
      startedAfterMs: Math.round(startedMonoMs - (this.stint?.seenAtMs ?? startedMonoMs)),
      passesAbandoned: this.stats.passesAbandoned - before.passesAbandoned,
      ...roundedTimes(this.times),
    });
    this.options.onSynced();
  }

  private record(ref: SyncRef): void {
    const owner = { uid: ref.uid, name: ref.name, uploadId: ref.uploadId };
    this.options.refs.addPending(ref.chunkId, owner, ref.bytes, this.options.nowMs());
    if (ref.version !== null) {
      const { uid, name, uploadId, version, chunkId } = ref;
      this.options.refs.commitChunk(uid, name, uploadId, version, chunkId, ref.uses ?? 1);
    }
  }

  private async copyChunks(
    primary: string,
    missing: readonly SyncRef[],
    pace: SharedPacer,
  ): Promise<void> {
    const ids = uniqueChunks(missing);
    const sizes = new Map(missing.map((ref) => [ref.chunkId, ref.bytes]));
    this.stats.remainingBytes = ids.reduce((sum, id) => sum + (sizes.get(id) ?? 0), 0);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length && !this.stopped) {
        await this.waitUntil(() => pace.resumeAtMs);
        if (this.stopped || next >= ids.length) return;
        const id = ids[next] ?? "";
        next += 1;
        const bytes = await this.copyChunk(primary, id, missing);
        this.stats.remainingBytes -= sizes.get(id) ?? 0;
        pace.done(bytes, this.options.monotonicMs());
      }
    };
    await Promise.all(Array.from({ length: CATCH_UP_CHUNKS_IN_FLIGHT }, worker));
  }

  /** A pass given up; said once per stint (a primary slow to learn of it retries each check). */
  private onAbandoned(reason: string, since: number): void {
    this.stats.passesAbandoned += 1;
    if (this.abandonedSaid === since) return;
    this.abandonedSaid = since;
    this.options.logger.info("catch-up pass given up; the next check starts over", {
      reason,
      since,
    });
  }

  /** Rest until `atMs()` (which may move later meanwhile), or until stopped. */
  private async waitUntil(atMs: () => number): Promise<void> {
    const startedMs = this.options.monotonicMs();
    try {
      await this.restUntil(atMs);
    } finally {
      this.times.restMs += this.options.monotonicMs() - startedMs;
    }
  }

  private async restUntil(atMs: () => number): Promise<void> {
    for (;;) {
      const waitMs = atMs() - this.options.monotonicMs();
      if (waitMs <= 0 || this.stopped) return;
      this.resting ??= this.rest.sleep(waitMs).finally(() => {
        this.resting = null;
      });
      await this.resting;
    }
  }

  /**
   * Copies one chunk from the primary; answers its size. A chunk the primary lists but does
   * not hold, named only by unfinished uploads, was never stored there (a put that failed, as
   * on a full disk, and could not take its reference back): no upload with it can have been
   * acknowledged, so its references here go and the pass goes on. A kept version's chunk the
   * primary lacks stops the pass: this node must not join without it.
   */
  private async copyChunk(
    primary: string,
    chunkId: string,
    page: readonly SyncRef[],
  ): Promise<number> {
    const { chunks, refs, logger, monotonicMs } = this.options;
    const fetchingMs = monotonicMs();
    const fetched = await fetchChunk(this.pool, {
      chunkId,
      addresses: [primary],
      timeoutMs: CATCH_UP_CALL_TIMEOUT_MS,
      verify: (bytes) => chunks.verify(chunkId, bytes),
    });
    if (!fetched.ok) {
      const error =
        fetched.failures[0]?.error ?? new FtfsError("UNAVAILABLE", "no primary to copy from");
      const named = page.filter((ref) => ref.chunkId === chunkId);
      const unfinishedOnly = named.every((ref) => ref.version === null);
      if (error.code !== "CHUNK_NOT_FOUND" || !unfinishedOnly) throw error;
      for (const ref of named) refs.dropPendingRef(chunkId, ref.uid, ref.uploadId);
      this.stats.danglingSkipped += 1;
      logger.warn("the primary lacks a chunk only unfinished uploads name; not copied", {
        chunkId,
        references: named.length,
      });
      return 0;
    }
    const storingMs = monotonicMs();
    this.times.fetchMs += storingMs - fetchingMs;
    const stored = await chunks.put(fetched.value);
    if (!stored.ok) throw stored.error;
    this.times.storeMs += monotonicMs() - storingMs;
    const bytes = fetched.value.bytes.byteLength;
    this.stats.chunksCopied += 1;
    this.stats.bytesCopied += bytes;
    return bytes;
  }
}

function uniqueChunks(refs: readonly SyncRef[]): string[] {
  return [...new Set(refs.map((ref) => ref.chunkId))];
}
