/**
 * The directory primary's rebalancer: moves file data from the fullest storage group to the
 * emptiest (core/rebalance-rules.ts) at a bounded byte rate, one version at a time. For each
 * version it copies the chunks the version keeps in the source (read from an in-sync replica,
 * hash verified, as a client reads) to the target's primary, owned by the version's own upload
 * (pending references there, as an upload's are before its commit), then proposes moveVersion,
 * which switches the version's chunk list only if nothing changed meanwhile and tells both
 * groups. The source's copies become garbage a grace later, so readers holding the old manifest
 * still find them.
 *
 * A run is soft state of this primary: it ends with the term, and what it copied but did not
 * switch is an abandoned upload in the target, which storage GC expires. One run at a time;
 * the latest is kept for `rebalance {runId}` to report. This file does not decide what moves.
 */

import {
  FtfsError,
  fail,
  ok,
  SharedPacer,
  type ChunkOwner,
  type ChunkRef,
  type RebalanceRun,
  type RebalanceState,
  type Result,
  readAddresses,
} from "@ftfs/protocol/core";
import {
  checkChunkBytes,
  describeError,
  fetchChunk,
  type Logger,
  type RpcPool,
} from "@ftfs/protocol/io";
import {
  afterMove,
  chunkIdsIn,
  narrowsSpread,
  planMove,
  REBALANCE_CALL_TIMEOUT_MS,
  REBALANCE_CHUNKS_IN_FLIGHT,
  REBALANCE_FAILED_VERSIONS_IN_A_ROW_MAX,
  REBALANCE_PUT_ATTEMPTS_MAX,
  REBALANCE_RETRY_DELAY_MS,
  REBALANCE_SCAN_PAGE_VERSIONS,
  type GroupUsage,
  type LiveVersion,
  type MetadataView,
  type MovePlan,
  type VersionKey,
  type VersionRecord,
} from "../core/index.ts";
import type { Proposer } from "./replicator.ts";

const MIB = 1024 * 1024;

/**
 * What every rebalance run this node led moved, in all: kept by the node, across the terms it
 * was primary (each builds a new rebalancer), for its /metrics.
 */
export interface RebalanceTotals {
  movedBytes: number;
  movedChunks: number;
}

export function newRebalanceTotals(): RebalanceTotals {
  return { movedBytes: 0, movedChunks: 0 };
}

export interface RebalancerOptions {
  readonly store: MetadataView;
  readonly proposer: Pick<Proposer, "propose">;
  readonly pool: RpcPool;
  readonly logger: Logger;
  /** Wall clock: what runs and commands record. */
  readonly nowMs: () => number;
  /** Monotonic clock: measures copies for pacing. */
  readonly monotonicMs: () => number;
  /** Each storage group's usage now, by heartbeat. */
  readonly usages: () => GroupUsage[];
  readonly newId: () => string;
  readonly bytesPerSecond: number;
  /** Bytes one run moves at most. */
  readonly budgetBytes: number;
  /** Where moves are added up across runs (the node's); default: a fresh count. */
  readonly totals?: RebalanceTotals;
}

interface Run {
  readonly runId: string;
  readonly startedAtMs: number;
  readonly thresholdBasisPoints: number;
  readonly before: readonly GroupUsage[];
  finishedAtMs: number | null;
  state: RebalanceState;
  message: string;
  /** The usage at the start plus this run's moves: heartbeats cannot show a move yet. */
  projected: GroupUsage[];
  movedVersions: number;
  movedChunks: number;
  movedBytes: number;
  skippedVersions: number;
  failedInRow: number;
  readonly bytesOut: Map<string, number>;
  readonly bytesIn: Map<string, number>;
}

type Ending = { readonly state: Exclude<RebalanceState, "running">; readonly message: string };

const STEPPED_DOWN: Ending = {
  state: "failed",
  message: "this directory node stopped being the primary; run `ftfs rebalance` again",
};

export class Rebalancer {
  private readonly options: RebalancerOptions;
  private readonly totals: RebalanceTotals;
  private run: Run | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private readonly wakers = new Set<() => void>();
  /**
   * Chunks being copied into a group for a move not yet committed, as JSON [group, chunkId],
   * with how many moves copy each: garbage collection must not take them meanwhile.
   */
  private readonly copies = new Map<string, number>();

  constructor(options: RebalancerOptions) {
    this.options = options;
    this.totals = options.totals ?? newRebalanceTotals();
  }

  /** A run is moving data now. */
  get running(): boolean {
    return this.run?.state === "running";
  }

  /** Start a run, or answer the one already running. */
  start(thresholdBasisPoints: number): RebalanceRun {
    if (this.run?.state === "running") return this.report(this.run);
    const usages = this.options.usages();
    const run: Run = {
      runId: this.options.newId(),
      startedAtMs: this.options.nowMs(),
      thresholdBasisPoints,
      before: usages,
      finishedAtMs: null,
      state: "running",
      message: "looking for versions to move",
      projected: usages,
      movedVersions: 0,
      movedChunks: 0,
      movedBytes: 0,
      skippedVersions: 0,
      failedInRow: 0,
      bytesOut: new Map(),
      bytesIn: new Map(),
    };
    this.run = run;
    this.options.logger.info("rebalance started", {
      runId: run.runId,
      thresholdBasisPoints,
      bytesPerSecond: this.options.bytesPerSecond,
      groups: usages
        .map((usage) => `${usage.group}:${usage.usedBytes}/${usage.capacityBytes}`)
        .join(","),
    });
    this.loop = this.execute(run).catch((error: unknown) => {
      this.finish(run, { state: "failed", message: `rebalance failed: ${String(error)}` });
      this.options.logger.error("rebalance failed", { error: describeError(error) });
    });
    return this.report(run);
  }

  /** The run's progress, if it is the latest run of this primary. */
  status(runId: string): RebalanceRun | undefined {
    return this.run?.runId === runId ? this.report(this.run) : undefined;
  }

  /** Stop between two chunks; waits at most `timeoutMs` for a copy on the wire. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.wakers]) wake();
    if (this.loop === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.loop, deadline]);
    clearTimeout(timer);
  }

  /** One pass over every version, in key order, until an ending. */
  private async execute(run: Run): Promise<void> {
    const pacer = new SharedPacer(this.options.bytesPerSecond, this.options.monotonicMs());
    let after: VersionKey | null = null;
    for (;;) {
      const page = this.options.store.scanVersions(after, REBALANCE_SCAN_PAGE_VERSIONS);
      for (const record of page) {
        after = record;
        const ending = await this.consider(run, record, pacer);
        if (ending !== null) return this.finish(run, ending);
      }
      if (page.length < REBALANCE_SCAN_PAGE_VERSIONS) {
        const ending = this.ending(run);
        const exhausted: Ending = {
          state: "exhausted",
          message: "no version is left whose move would narrow the spread",
        };
        return this.finish(run, "state" in ending ? ending : exhausted);
      }
      // A page of metadata is read synchronously: let requests in between pages.
      await this.sleep(0);
    }
  }

  /** Why the run must end now, or the move to make next. */
  private ending(run: Run): Ending | MovePlan {
    if (this.stopped) return STEPPED_DOWN;
    const answer = planMove(run.projected, run.thresholdBasisPoints);
    if (answer.kind === "tooFewGroups") {
      return { state: "balanced", message: "fewer than two storage groups can take data now" };
    }
    if (answer.kind === "balanced") {
      const spread = percent(answer.spreadBasisPoints);
      const threshold = percent(run.thresholdBasisPoints);
      return {
        state: "balanced",
        message: `used shares are within ${spread} of each other (threshold ${threshold})`,
      };
    }
    if (run.movedBytes >= this.options.budgetBytes) {
      return {
        state: "budgetSpent",
        message: `moved this run's budget of ${mebibytes(this.options.budgetBytes)}; run it again`,
      };
    }
    return answer.plan;
  }

  private async consider(
    run: Run,
    record: VersionRecord,
    pacer: SharedPacer,
  ): Promise<Ending | null> {
    const next = this.ending(run);
    if ("state" in next) return next;
    if (record.kind !== "live" || record.pruned === true) return null;
    const chunks = distinctChunksIn(record.chunks, next.from);
    if (chunks.length === 0) return null;
    if (this.options.store.deletedThrough(record.uid, record.name) > record.version) return null;
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.bytes, 0);
    if (!narrowsSpread(run.projected, next, bytes)) return null;
    run.message = `moving data from ${next.from} to ${next.to}`;
    return this.moveVersion(run, record, next, chunks, pacer);
  }

  private async moveVersion(
    run: Run,
    record: LiveVersion,
    plan: MovePlan,
    chunks: readonly ChunkRef[],
    pacer: SharedPacer,
  ): Promise<Ending | null> {
    const places = chunks.map((chunk) => JSON.stringify([plan.to, chunk.id]));
    for (const place of places) this.copies.set(place, (this.copies.get(place) ?? 0) + 1);
    try {
      return await this.copyAndSwitch(run, record, plan, chunks, pacer);
    } finally {
      for (const place of places) {
        const left = (this.copies.get(place) ?? 1) - 1;
        if (left === 0) this.copies.delete(place);
        else this.copies.set(place, left);
      }
    }
  }

  /** Whether a move in flight is copying this chunk into this group. */
  copying(group: string, chunkId: string): boolean {
    return this.copies.has(JSON.stringify([group, chunkId]));
  }

  private async copyAndSwitch(
    run: Run,
    record: LiveVersion,
    plan: MovePlan,
    chunks: readonly ChunkRef[],
    pacer: SharedPacer,
  ): Promise<Ending | null> {
    const { proposer, logger } = this.options;
    const { uid, name, version, uploadId } = record;
    const copied = await this.copyAll(chunks, plan, { uid, name, uploadId }, pacer);
    if (this.stopped) return STEPPED_DOWN;
    if (!copied.ok) return this.onCopyFailed(run, record, copied.error);
    const chunkIds = chunks.map((chunk) => chunk.id);
    const { from, to } = plan;
    const atMs = this.options.nowMs();
    const fields = { uid, name, version, uploadId, from, to, chunkIds, atMs };
    const result = await proposer.propose({ type: "moveVersion", ...fields });
    if (!result.ok) {
      if (result.error.retryable) {
        return { state: "failed", message: `a move was not committed: ${result.error.message}` };
      }
      // Deleted or changed while its chunks were copied: the copies expire in the target.
      run.skippedVersions += 1;
      logger.info("version not moved", { uid, name, version, reason: result.error.message });
      return null;
    }
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.bytes, 0);
    this.recordMove(run, plan, chunks.length, bytes);
    logger.info("version moved", { uid, name, version, from, to, chunks: chunks.length, bytes });
    return null;
  }

  private recordMove(run: Run, plan: MovePlan, chunks: number, bytes: number): void {
    run.movedVersions += 1;
    run.movedChunks += chunks;
    run.movedBytes += bytes;
    this.totals.movedChunks += chunks;
    this.totals.movedBytes += bytes;
    run.failedInRow = 0;
    run.projected = afterMove(run.projected, plan, bytes);
    run.bytesOut.set(plan.from, (run.bytesOut.get(plan.from) ?? 0) + bytes);
    run.bytesIn.set(plan.to, (run.bytesIn.get(plan.to) ?? 0) + bytes);
  }

  private onCopyFailed(run: Run, record: LiveVersion, error: FtfsError): Ending | null {
    run.skippedVersions += 1;
    run.failedInRow += 1;
    this.options.logger.warn("version not copied", {
      uid: record.uid,
      name: record.name,
      version: record.version,
      code: error.code,
      reason: error.message,
    });
    if (run.failedInRow < REBALANCE_FAILED_VERSIONS_IN_A_ROW_MAX) return null;
    return {
      state: "failed",
      message: `${run.failedInRow} versions in a row could not be copied; last: ${error.message}`,
    };
  }

  /**
   * Copy every chunk, a few in flight (each copy waits on two storage round trips and the
   * target's fsyncs, so one at a time would be bound by latency, not by the rate).
   */
  private async copyAll(
    chunks: readonly ChunkRef[],
    plan: MovePlan,
    owner: ChunkOwner,
    pacer: SharedPacer,
  ): Promise<Result<void>> {
    const { monotonicMs } = this.options;
    let next = 0;
    let failure: FtfsError | null = null;
    const worker = async (): Promise<void> => {
      while (failure === null && !this.stopped) {
        const chunk = chunks[next];
        if (chunk === undefined) return;
        next += 1;
        const waitMs = pacer.resumeAtMs - monotonicMs();
        if (waitMs > 0) await this.sleep(waitMs);
        const copied = await this.copyChunk(chunk, plan, owner);
        if (!copied.ok) failure ??= copied.error;
        else pacer.done(chunk.bytes, monotonicMs());
      }
    };
    const workers = Math.min(REBALANCE_CHUNKS_IN_FLIGHT, chunks.length);
    await Promise.all(Array.from({ length: workers }, worker));
    return failure === null ? ok(undefined) : { ok: false, error: failure };
  }

  private async copyChunk(
    chunk: ChunkRef,
    plan: MovePlan,
    owner: ChunkOwner,
  ): Promise<Result<void>> {
    const fetched = await this.fetchChunk(chunk, plan.from);
    if (!fetched.ok) return fetched;
    return this.putChunk(chunk, fetched.value, plan.to, owner);
  }

  /** From the source's primary, else another in-sync replica; bad bytes are passed over. */
  private async fetchChunk(chunk: ChunkRef, group: string): Promise<Result<Uint8Array>> {
    const config = this.options.store.getGroup(group);
    const short = chunk.id.slice(0, 12);
    const fetched = await fetchChunk(this.options.pool, {
      chunkId: chunk.id,
      addresses: config === undefined ? [] : readAddresses(config),
      timeoutMs: REBALANCE_CALL_TIMEOUT_MS,
      verify: (bytes) =>
        bytes.length === chunk.bytes
          ? checkChunkBytes(chunk.id, bytes)
          : fail("INTEGRITY", `chunk ${short} is not ${chunk.bytes} bytes long`),
    });
    if (fetched.ok) return ok(fetched.value);
    const last = fetched.failures.at(-1)?.error;
    return {
      ok: false,
      error:
        last ?? new FtfsError("UNAVAILABLE", `group ${group} has no replica to read ${short} from`),
    };
  }

  /** To the target's primary, stamped with its epoch; a failover is waited out briefly. */
  private async putChunk(
    chunk: ChunkRef,
    bytes: Uint8Array,
    group: string,
    owner: ChunkOwner,
  ): Promise<Result<void>> {
    let last = new FtfsError("UNAVAILABLE", `group ${group} has no primary to write to`);
    for (let attempt = 1; attempt <= REBALANCE_PUT_ATTEMPTS_MAX && !this.stopped; attempt += 1) {
      if (attempt > 1) await this.sleep(REBALANCE_RETRY_DELAY_MS);
      const config = this.options.store.getGroup(group);
      if (config === undefined || config.primary === null) continue;
      try {
        await this.options.pool.call(
          config.primary,
          "putChunk",
          { chunkId: chunk.id, owner },
          { payload: bytes, epoch: config.epoch, timeoutMs: REBALANCE_CALL_TIMEOUT_MS },
        );
        return ok(undefined);
      } catch (error) {
        last = this.noteFailure(error);
        if (!last.retryable) break;
      }
    }
    return { ok: false, error: last };
  }

  private noteFailure(error: unknown): FtfsError {
    if (!(error instanceof FtfsError)) throw error;
    return error;
  }

  private finish(run: Run, ending: Ending): void {
    if (run.state !== "running") return;
    run.state = ending.state;
    run.message = ending.message;
    run.finishedAtMs = this.options.nowMs();
    this.options.logger.info("rebalance ended", {
      runId: run.runId,
      state: run.state,
      message: run.message,
      movedVersions: run.movedVersions,
      movedBytes: run.movedBytes,
      skippedVersions: run.skippedVersions,
      durationMs: run.finishedAtMs - run.startedAtMs,
    });
  }

  private report(run: Run): RebalanceRun {
    return {
      runId: run.runId,
      state: run.state,
      message: run.message,
      startedAtMs: run.startedAtMs,
      finishedAtMs: run.finishedAtMs,
      thresholdBasisPoints: run.thresholdBasisPoints,
      bytesPerSecondMax: this.options.bytesPerSecond,
      budgetBytes: this.options.budgetBytes,
      movedVersions: run.movedVersions,
      movedChunks: run.movedChunks,
      movedBytes: run.movedBytes,
      skippedVersions: run.skippedVersions,
      groups: run.before.map((usage) => ({
        group: usage.group,
        capacityBytes: usage.capacityBytes,
        usedBytesBefore: usage.usedBytes,
        bytesOut: run.bytesOut.get(usage.group) ?? 0,
        bytesIn: run.bytesIn.get(usage.group) ?? 0,
      })),
    };
  }

  /** A timer that stop() cuts short. */
  private sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, delayMs);
      this.wakers.add(wake);
    });
  }
}

/** The version's distinct chunks kept in `group`, in id order (what moveVersion names). */
function distinctChunksIn(chunks: readonly ChunkRef[], group: string): ChunkRef[] {
  const byId = new Map(chunks.filter((chunk) => chunk.group === group).map((c) => [c.id, c]));
  return chunkIdsIn(chunks, group).flatMap((id) => {
    const chunk = byId.get(id);
    return chunk === undefined ? [] : [chunk];
  });
}

function percent(basisPoints: number): string {
  return `${(basisPoints / 100).toFixed(2)}%`;
}

function mebibytes(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
