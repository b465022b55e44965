/**
 * The storage node's own metrics, read at each scrape: the bytes it holds against what it
 * offers and what its disk has left, its place in its group as the directory last told it
 * (epoch, primary or not), how a catch-up is going, the segment files, and what the scrubber,
 * the repairer, garbage collection and compaction did. Counts come from the components' own stats (they live as long as
 * the process); fsync times are observed as they happen (fsync.ts times them in one place).
 * No label names a chunk, a user or a file.
 */

import {
  type Counter,
  type GroupView,
  LATENCY_BUCKETS_SECONDS,
  type MetricsRegistry,
} from "@ftfs/protocol/core";
import type { CatchUpStats } from "./catch-up.ts";
import type { DiskSample } from "./disk-space.ts";
import type { FsyncObserver } from "./fsync.ts";
import type { GroupCommitStats } from "./group-commit.ts";
import type { MaintenanceStats } from "./maintenance.ts";

/** Below the request buckets too: an fsync on a good SSD takes a fraction of a millisecond. */
const FSYNC_BUCKETS_SECONDS: readonly number[] = [0.0001, 0.00025, ...LATENCY_BUCKETS_SECONDS];

export interface StorageMetricsSource {
  readonly node: string;
  readonly usedBytes: () => number;
  readonly capacityBytes: () => number;
  /** The group's configuration as this node last heard it; null before the first. */
  readonly view: () => GroupView | null;
  /** The data folder's file system, as last sampled; asked for a fresh sample each scrape. */
  readonly disk: { readonly sample: DiskSample; refresh(): void };
  readonly catchUp: () => Readonly<CatchUpStats>;
  /** Null until the maintenance loops started. */
  readonly maintenance: () => MaintenanceStats | null;
  /** Group commit of requests' reference changes (group-commit.ts). */
  readonly refsCommit: () => Readonly<GroupCommitStats>;
  /** Segment files: how many, their bytes, and the bytes of live chunks in them. */
  readonly segments: () => { segments: number; totalBytes: number; liveBytes: number };
}

/** The fsync histogram, made first: the node fsyncs (its identity) before it serves. */
export function registerFsyncMetrics(registry: MetricsRegistry): FsyncObserver {
  const fsyncs = registry.histogram(
    "ftfs_fsync_duration_seconds",
    "Time an fsync took, by what it made durable (file, folder, or a references commit).",
    ["target"],
    FSYNC_BUCKETS_SECONDS,
  );
  return (target, seconds) => fsyncs.observe({ target }, seconds);
}

export function registerStorageMetrics(
  registry: MetricsRegistry,
  source: StorageMetricsSource,
): void {
  const used = registry.gauge("ftfs_storage_used_bytes", "Bytes of chunks this node holds.");
  const capacity = registry.gauge("ftfs_storage_capacity_bytes", "Bytes this node offers.");
  const diskFree = registry.gauge(
    "ftfs_disk_free_bytes",
    "Bytes still free on the data folder's file system.",
  );
  const diskSize = registry.gauge("ftfs_disk_size_bytes", "Size of the data folder's file system.");
  const epoch = registry.gauge(
    "ftfs_storage_group_view_epoch",
    "The epoch of the group configuration this node follows (0: none yet).",
  );
  const primary = registry.gauge(
    "ftfs_storage_primary",
    "1 while this node is its group's primary.",
  );
  const rounds = registry.counter(
    "ftfs_refs_commit_rounds_total",
    "Group-commit rounds: commits (and log fsyncs) shared by requests' reference changes.",
  );
  const changes = registry.counter(
    "ftfs_refs_commit_changes_total",
    "Requests' reference changes committed in those rounds (÷ rounds: changes per fsync).",
  );
  const segmentFiles = registry.gauge(
    "ftfs_segment_files",
    "Segment files holding small chunks (records appended; compaction rewrites mostly dead ones).",
  );
  const segmentBytes = registry.gauge(
    "ftfs_segment_bytes",
    "Bytes of segment files: all of them (state=total), or those of live chunks (state=live).",
    ["state"],
  );
  const collectCatchUp = registerCatchUpMetrics(registry, source.catchUp);
  const collectMaintenance = registerMaintenanceMetrics(registry, source.maintenance);
  registry.collect(() => {
    used.set({}, source.usedBytes());
    const segments = source.segments();
    segmentFiles.set({}, segments.segments);
    segmentBytes.set({ state: "total" }, segments.totalBytes);
    segmentBytes.set({ state: "live" }, segments.liveBytes);
    capacity.set({}, source.capacityBytes());
    diskFree.set({}, source.disk.sample.freeBytes);
    diskSize.set({}, source.disk.sample.sizeBytes);
    source.disk.refresh();
    const view = source.view();
    epoch.set({}, view?.epoch ?? 0);
    primary.set({}, view !== null && view.primaryNode === source.node ? 1 : 0);
    const committed = source.refsCommit();
    rounds.setTotal({}, committed.rounds);
    changes.setTotal({}, committed.changes);
    collectCatchUp();
    collectMaintenance();
  });
}

/** A learner's copy from its primary; answers the collector that reads it. */
function registerCatchUpMetrics(
  registry: MetricsRegistry,
  stats: () => Readonly<CatchUpStats>,
): () => void {
  const remaining = registry.gauge(
    "ftfs_catch_up_remaining_bytes",
    "Bytes this node knows it lacks and has yet to copy from its primary (0: in sync).",
  );
  const copiedBytes = registry.counter(
    "ftfs_catch_up_copied_bytes_total",
    "Bytes of chunks copied from the primary while catching up.",
  );
  const copiedChunks = registry.counter(
    "ftfs_catch_up_copied_chunks_total",
    "Chunks copied from the primary while catching up.",
  );
  const passes = registry.counter(
    "ftfs_catch_up_passes_total",
    "Catch-up passes that ended with this node holding everything its primary held.",
  );
  const abandoned = registry.counter(
    "ftfs_catch_up_abandoned_passes_total",
    "Catch-up passes given up because the primary did not know this stint yet or the group " +
      "moved on (each is retried).",
  );
  return () => {
    const now = stats();
    remaining.set({}, now.remainingBytes);
    copiedBytes.setTotal({}, now.bytesCopied);
    copiedChunks.setTotal({}, now.chunksCopied);
    passes.setTotal({}, now.passes);
    abandoned.setTotal({}, now.passesAbandoned);
  };
}

/** Scrubber, repairer and garbage collection; answers the collector that reads them. */
function registerMaintenanceMetrics(
  registry: MetricsRegistry,
  stats: () => MaintenanceStats | null,
): () => void {
  const total = (name: string, help: string, labelNames: readonly string[] = []): Counter =>
    registry.counter(name, help, labelNames);
  const scrubPasses = total("ftfs_scrub_passes_total", "Scrub passes over every chunk finished.");
  const scrubChunks = total("ftfs_scrub_checked_chunks_total", "Chunks the scrubber re-hashed.");
  const scrubBytes = total("ftfs_scrub_checked_bytes_total", "Bytes the scrubber re-hashed.");
  const scrubDamage = total(
    "ftfs_scrub_damaged_chunks_total",
    "Chunks the scrubber found rotten (hash mismatch) or missing (referenced, not stored).",
    ["kind"],
  );
  const backlog = registry.gauge(
    "ftfs_repair_queued_chunks",
    "Damaged chunks waiting to be copied back from another replica.",
  );
  const repaired = total("ftfs_repair_repaired_chunks_total", "Damaged chunks copied back.");
  const repairedBytes = total("ftfs_repair_repaired_bytes_total", "Bytes of chunks copied back.");
  const repairFailed = total("ftfs_repair_failed_total", "Repairs that found no good copy.");
  const gcCandidates = total(
    "ftfs_gc_candidate_chunks_total",
    "Unreferenced chunks garbage collection asked the directory about.",
  );
  const gcCollected = total("ftfs_gc_collected_chunks_total", "Chunks garbage collection deleted.");
  const gcFreed = total("ftfs_gc_freed_bytes_total", "Bytes garbage collection freed.");
  const compacted = total("ftfs_segment_compactions_total", "Segment files compacted.");
  const compactionFreed = total(
    "ftfs_segment_compaction_freed_bytes_total",
    "Bytes of dead records compaction gave back to the disk.",
  );
  return () => {
    const now = stats();
    scrubPasses.setTotal({}, now?.scrub.passes ?? 0);
    scrubChunks.setTotal({}, now?.scrub.chunksChecked ?? 0);
    scrubBytes.setTotal({}, now?.scrub.bytesChecked ?? 0);
    scrubDamage.setTotal({ kind: "rot" }, now?.scrub.rotFound ?? 0);
    scrubDamage.setTotal({ kind: "missing" }, now?.scrub.missingFound ?? 0);
    backlog.set({}, now?.repairBacklog ?? 0);
    repaired.setTotal({}, now?.repair.repaired ?? 0);
    repairedBytes.setTotal({}, now?.repair.repairedBytes ?? 0);
    repairFailed.setTotal({}, now?.repair.failed ?? 0);
    gcCandidates.setTotal({}, now?.gc.candidates ?? 0);
    gcCollected.setTotal({}, now?.gc.chunksCollected ?? 0);
    gcFreed.setTotal({}, now?.gc.bytesFreed ?? 0);
    compacted.setTotal({}, now?.compaction.segmentsCompacted ?? 0);
    compactionFreed.setTotal({}, now?.compaction.bytesFreed ?? 0);
  };
}
