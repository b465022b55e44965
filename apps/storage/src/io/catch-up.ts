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
 * The copy is a pipeline (core/catch-up-window.ts: chunks in flight across pages, the next
 * page read while copying) paced to `bytesPerSecond` (a SharedPacer charged as each chunk
 * starts), so a spare filling up from nothing leaves clients most of the primary's disk and
 * of its own.
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
  CATCH_UP_BYTES_IN_FLIGHT_MAX,
  CATCH_UP_CALL_TIMEOUT_MS,
  CATCH_UP_CHECK_INTERVAL_MS,
  CATCH_UP_CHUNKS_IN_FLIGHT,
  CATCH_UP_HEDGE_MS,
  CopyWindow,
  FORWARD_CONNECT_TIMEOUT_MS,
  learnerSince,
  type WindowChunk,
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
 * references, recording them, resting to keep under the rate, (summed over the chunks in
 * flight, so they overlap) fetching chunks and storing them here, and making their names
 * durable at the end.
 */
interface PassTimes {
  pagesWaitMs: number;
  recordMs: number;
  restMs: number;
  fetchMs: number;
  storeMs: number;
  /** Making the pass's deferred chunk names durable, once, at its end. */
  syncMs: number;
}

/** The pass stopped because the group moved on; the next check starts over. */
class ViewMoved extends Error {}

function newPassTimes(): PassTimes {
  return { pagesWaitMs: 0, recordMs: 0, restMs: 0, fetchMs: 0, storeMs: 0, syncMs: 0 };
}

function roundedTimes(times: PassTimes): Record<keyof PassTimes, number> {
  return {
    pagesWaitMs: Math.round(times.pagesWaitMs),
    recordMs: Math.round(times.recordMs),
    restMs: Math.round(times.restMs),
    fetchMs: Math.round(times.fetchMs),
    storeMs: Math.round(times.storeMs),
    syncMs: Math.round(times.syncMs),
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
    const { logger, refs, monotonicMs, bytesPerSecond } = this.options;
    const startedMs = this.options.nowMs();
    const startedMonoMs = monotonicMs();
    this.times = newPassTimes();
    const before = { ...this.stats };
    const localSeqAtStart = refs.lastSeq();
    if (this.begunSaid !== since) {
      this.begunSaid = since;
      logger.info("catch-up begun", { since, primary, bytesPerSecondMax: bytesPerSecond });
    }
    const state = this.newPassState(view, primary, since);
    const fail = (error: unknown): void => {
      state.failure ??= { error };
      state.wake.notify();
    };
    const workers = Array.from({ length: CATCH_UP_CHUNKS_IN_FLIGHT }, () => this.copier(state));
    await Promise.all([this.pageReader(state), ...workers].map((run) => run.catch(fail)));
    if (state.failure !== null) throw state.failure.error;
    if (this.stopped) return;
    const syncingMs = monotonicMs();
    await this.options.chunks.syncDeferred();
    this.times.syncMs += monotonicMs() - syncingMs;
    this.stats.referencesDropped += refs.dropExcept(state.kept, localSeqAtStart);
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

  private newPassState(view: GroupView, primary: string, since: number): PassState {
    const backups = view.replicas
      .filter((member) => member.node !== view.primaryNode && member.node !== this.options.node)
      .map((member) => member.address);
    return {
      primary,
      backups,
      turn: 0,
      since,
      window: new CopyWindow({
        chunksMax: CATCH_UP_CHUNKS_IN_FLIGHT,
        bytesMax: CATCH_UP_BYTES_IN_FLIGHT_MAX,
      }),
      naming: new Map(),
      kept: new Set(),
      pace: new SharedPacer(this.options.bytesPerSecond, this.options.monotonicMs()),
      wake: new Wakeup(),
      afterSeq: 0,
      failure: null,
    };
  }

  private ended(state: PassState): boolean {
    return this.stopped || state.failure !== null;
  }

  /**
   * Reads the primary's pages of references one after another, each asked for while the copy
   * still has a window's worth queued (CopyWindow.wantsPage): records a page's references,
   * then queues its missing chunks for the copiers.
   */
  private async pageReader(state: PassState): Promise<void> {
    for (;;) {
      while (!state.window.wantsPage()) {
        if (this.ended(state)) return;
        await state.wake.wait();
      }
      if (this.ended(state)) return;
      state.window.pageRequested();
      const page = await this.fetchPage(state);
      if (this.ended(state)) return;
      this.recordPage(state, page.refs);
      state.window.pageIn(this.missingOf(state, page.refs), page.done);
      this.noteRemaining(state.window);
      state.wake.notify();
      if (page.done) return;
    }
  }

  /** One page after `state.afterSeq`; throws ViewMoved when it cannot be trusted (below). */
  private async fetchPage(state: PassState): Promise<{ refs: readonly SyncRef[]; done: boolean }> {
    const { monotonicMs } = this.options;
    const askedMs = monotonicMs();
    const page = await this.pool.call(
      state.primary,
      "syncRefs",
      { afterSeq: state.afterSeq },
      { timeoutMs: CATCH_UP_CALL_TIMEOUT_MS },
    );
    this.times.pagesWaitMs += monotonicMs() - askedMs;
    // The primary must know a configuration of our stint (then it forwards every new write
    // to us too), and the stint must still be ours: a break means writes may have missed us.
    const now = this.options.view();
    const sameStint =
      learnerSince(now, this.options.node) === state.since && now?.primary === state.primary;
    if (page.body.epoch < state.since) {
      throw new ViewMoved("the primary does not know this stint yet");
    }
    if (!sameStint) throw new ViewMoved("the group moved on");
    return page.body;
  }

  /**
   * References first, as a put records them: a chunk this node holds is then always held by a
   * reference garbage collection names to the directory, never copied unclaimed.
   */
  private recordPage(state: PassState, page: readonly SyncRef[]): void {
    const recordingMs = this.options.monotonicMs();
    this.options.refs.batch(() => {
      for (const ref of page) {
        this.record(ref);
        state.kept.add(refKey(ref.uid, ref.name, ref.uploadId));
        state.afterSeq = Math.max(state.afterSeq, ref.seq);
      }
    });
    this.times.recordMs += this.options.monotonicMs() - recordingMs;
  }

  /**
   * The page's chunks this node lacks, each once, in listing order. Every reference naming a
   * chunk still in the window is kept with it (this page's and earlier ones'): whether the
   * chunk may be skipped when the primary lacks it depends on all of them.
   */
  private missingOf(state: PassState, page: readonly SyncRef[]): WindowChunk[] {
    const missing: WindowChunk[] = [];
    for (const ref of page) {
      if (this.options.chunks.has(ref.chunkId)) continue;
      const named = state.naming.get(ref.chunkId);
      if (named !== undefined) {
        named.push(ref);
        continue;
      }
      state.naming.set(ref.chunkId, [ref]);
      missing.push({ chunkId: ref.chunkId, bytes: ref.bytes });
    }
    return missing;
  }

  /** Copies chunks as the window lets it, paced, until the last page's chunks are all done. */
  private async copier(state: PassState): Promise<void> {
    const { window, pace } = state;
    for (;;) {
      if (this.ended(state)) return;
      await this.waitUntil(() => pace.resumeAtMs);
      if (this.ended(state)) return;
      const chunk = window.start();
      if (chunk === null) {
        if (window.complete) return;
        await state.wake.wait();
        continue;
      }
      // Charged as it starts, not as it ends: starts are then spread at the rate and the
      // window stays full. Charged at the end, a window's chunks all ended at once, all the
      // copiers rested together with nothing in flight, and the copy fell well short of the
      // rate it was allowed (under 80% of it) even when the disk could go faster.
      pace.done(chunk.bytes, this.options.monotonicMs());
      const named = state.naming.get(chunk.chunkId) ?? [];
      let copied = false;
      try {
        const bytes = await this.copyChunk(state, chunk.chunkId, named);
        // A later page may have named the skipped chunk for a kept version meanwhile.
        if (bytes === null && named.some((ref) => ref.version !== null)) {
          throw new FtfsError("CHUNK_NOT_FOUND", `the primary lacks kept chunk ${chunk.chunkId}`);
        }
        copied = true;
      } finally {
        state.naming.delete(chunk.chunkId);
        window.finished(chunk.chunkId);
        // A chunk that failed is still lacked: a stalled copy shows as bytes that do not fall.
        if (copied) this.noteRemaining(window);
        state.wake.notify();
      }
    }
  }

  /**
   * Where to fetch the next chunk from: the in-sync backups first, taking turns, then the
   * primary. Every in-sync replica holds every acknowledged chunk and each copy is checked
   * against its id, so the reads go where clients are not all sending their writes: a primary
   * under 100 clients took ~260 ms a chunk in the churn bench.
   */
  private sourcesFor(state: PassState): string[] {
    const { backups } = state;
    if (backups.length === 0) return [state.primary];
    state.turn = (state.turn + 1) % backups.length;
    return [...backups.slice(state.turn), ...backups.slice(0, state.turn), state.primary];
  }

  private noteRemaining(window: CopyWindow): void {
    this.stats.remainingBytes = window.queuedBytes + window.bytesInFlight;
  }

  private record(ref: SyncRef): void {
    const owner = { uid: ref.uid, name: ref.name, uploadId: ref.uploadId };
    this.options.refs.addPending(ref.chunkId, owner, ref.bytes, this.options.nowMs());
    if (ref.version !== null) {
      const { uid, name, uploadId, version, chunkId } = ref;
      this.options.refs.commitChunk(uid, name, uploadId, version, chunkId, ref.uses ?? 1);
    }
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
   * Copies one chunk from the primary; answers its size, or null if skipped. A chunk the
   * primary lists but does
   * not hold, named only by unfinished uploads, was never stored there (a put that failed, as
   * on a full disk, and could not take its reference back): no upload with it can have been
   * acknowledged, so its references here go and the pass goes on. A kept version's chunk the
   * primary lacks stops the pass: this node must not join without it.
   */
  private async copyChunk(
    state: PassState,
    chunkId: string,
    named: readonly SyncRef[],
  ): Promise<number | null> {
    const { chunks, refs, logger, monotonicMs } = this.options;
    const fetchingMs = monotonicMs();
    const fetched = await fetchChunk(this.pool, {
      chunkId,
      addresses: this.sourcesFor(state),
      timeoutMs: CATCH_UP_CALL_TIMEOUT_MS,
      hedgeMs: CATCH_UP_HEDGE_MS,
      verify: (bytes) => chunks.verify(chunkId, bytes),
    });
    if (!fetched.ok) {
      // Only the primary's word that it lacks the chunk may skip it: a backup may lack a chunk
      // of an unfinished upload the primary holds.
      const fromPrimary = fetched.failures.find((failure) => failure.address === state.primary);
      const error =
        fromPrimary?.error ??
        fetched.failures[0]?.error ??
        new FtfsError("UNAVAILABLE", "no replica to copy from");
      const unfinishedOnly = named.every((ref) => ref.version === null);
      if (error.code !== "CHUNK_NOT_FOUND" || !unfinishedOnly) throw error;
      for (const ref of named) refs.dropPendingRef(chunkId, ref.uid, ref.uploadId);
      this.stats.danglingSkipped += 1;
      logger.warn("the primary lacks a chunk only unfinished uploads name; not copied", {
        chunkId,
        references: named.length,
      });
      return null;
    }
    const storingMs = monotonicMs();
    this.times.fetchMs += storingMs - fetchingMs;
    // The names are made durable once, for the whole pass, before it says it is caught up.
    const stored = await chunks.put(fetched.value, "deferFolders");
    if (!stored.ok) throw stored.error;
    this.times.storeMs += monotonicMs() - storingMs;
    const bytes = fetched.value.bytes.byteLength;
    this.stats.chunksCopied += 1;
    this.stats.bytesCopied += bytes;
    return bytes;
  }
}

/** One pass's moving parts, shared by its page reader and its copiers. */
interface PassState {
  readonly primary: string;
  /** The in-sync replicas other than the primary (and this node) when the pass began. */
  readonly backups: readonly string[];
  /** Which backup the next chunk is asked of first. */
  turn: number;
  readonly since: number;
  readonly window: CopyWindow;
  /** The references naming each chunk in the window (a chunk may be listed on several pages). */
  readonly naming: Map<string, SyncRef[]>;
  /** Every owner the primary listed: local references to others go at the end. */
  readonly kept: Set<string>;
  readonly pace: SharedPacer;
  /** Rung when a page came, a chunk finished, or the pass failed. */
  readonly wake: Wakeup;
  afterSeq: number;
  /** The first error of the reader or a copier: the others stop, and the pass throws it. */
  failure: { error: unknown } | null;
}

/** Wakes everyone waiting, each time it is rung. */
class Wakeup {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
