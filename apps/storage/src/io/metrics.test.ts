/**
 * Property: a storage node's /metrics shows what its sources say at the scrape: disk space (and
 * asks for a fresh sample), a catch-up's bytes left and copied, the scrubber's, repairer's and
 * garbage collector's counts (zero before maintenance starts), and each fsync observed, by
 * target.
 */
import { expect, test } from "bun:test";
import { MetricsRegistry } from "@ftfs/protocol/core";
import type { CatchUpStats } from "./catch-up.ts";
import type { MaintenanceStats } from "./maintenance.ts";
import { registerFsyncMetrics, registerStorageMetrics } from "./metrics.ts";

/** The value of one sample (name and labels exactly as rendered), or null if absent. */
function sample(text: string, series: string): number | null {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

const CATCH_UP: CatchUpStats = {
  passes: 1,
  chunksCopied: 3,
  bytesCopied: 300,
  remainingBytes: 4096,
  referencesDropped: 0,
  danglingSkipped: 0,
  passesAbandoned: 2,
};

const MAINTENANCE: MaintenanceStats = {
  scrub: {
    passes: 2,
    chunksChecked: 10,
    bytesChecked: 1000,
    rotFound: 1,
    missingFound: 2,
    errors: 0,
  },
  repair: {
    rotFound: 1,
    missingFound: 2,
    absentReported: 0,
    queued: 3,
    dropped: 0,
    repaired: 2,
    repairedBytes: 200,
    failed: 1,
    danglingDropped: 0,
  },
  gc: {
    passes: 1,
    chunksChecked: 10,
    candidates: 4,
    chunksCollected: 3,
    bytesFreed: 333,
    refsDropped: 0,
    unconfirmed: 1,
    quarantineFilesFreed: 0,
    errors: 0,
  },
  compaction: { segmentsCompacted: 2, bytesCopied: 100, bytesFreed: 900 },
  repairBacklog: 5,
};

test("disk space, catch-up and maintenance are read at each scrape", () => {
  const registry = new MetricsRegistry();
  let refreshes = 0;
  let maintenance: MaintenanceStats | null = null;
  registerStorageMetrics(registry, {
    node: "s1a",
    usedBytes: () => 10,
    capacityBytes: () => 100,
    view: () => null,
    disk: {
      sample: { freeBytes: 700, sizeBytes: 1000 },
      refresh: () => {
        refreshes += 1;
      },
    },
    catchUp: () => CATCH_UP,
    maintenance: () => maintenance,
    refsCommit: () => ({ rounds: 4, changes: 30, largestRound: 12 }),
    segments: () => ({ segments: 3, totalBytes: 3000, liveBytes: 1000 }),
  });
  const before = registry.render();
  expect(refreshes).toBe(1);
  expect(sample(before, "ftfs_disk_free_bytes")).toBe(700);
  expect(sample(before, "ftfs_disk_size_bytes")).toBe(1000);
  expect(sample(before, "ftfs_catch_up_remaining_bytes")).toBe(4096);
  expect(sample(before, "ftfs_catch_up_copied_bytes_total")).toBe(300);
  expect(sample(before, "ftfs_catch_up_copied_chunks_total")).toBe(3);
  expect(sample(before, "ftfs_catch_up_abandoned_passes_total")).toBe(2);
  expect(sample(before, "ftfs_scrub_checked_chunks_total")).toBe(0);
  expect(sample(before, "ftfs_gc_freed_bytes_total")).toBe(0);
  expect(sample(before, "ftfs_refs_commit_rounds_total")).toBe(4);
  expect(sample(before, "ftfs_refs_commit_changes_total")).toBe(30);
  expect(sample(before, "ftfs_segment_files")).toBe(3);
  expect(sample(before, 'ftfs_segment_bytes{state="total"}')).toBe(3000);
  expect(sample(before, 'ftfs_segment_bytes{state="live"}')).toBe(1000);
  maintenance = MAINTENANCE;
  const after = registry.render();
  expect(sample(after, "ftfs_scrub_passes_total")).toBe(2);
  expect(sample(after, "ftfs_scrub_checked_chunks_total")).toBe(10);
  expect(sample(after, "ftfs_scrub_checked_bytes_total")).toBe(1000);
  expect(sample(after, 'ftfs_scrub_damaged_chunks_total{kind="rot"}')).toBe(1);
  expect(sample(after, 'ftfs_scrub_damaged_chunks_total{kind="missing"}')).toBe(2);
  expect(sample(after, "ftfs_repair_queued_chunks")).toBe(5);
  expect(sample(after, "ftfs_repair_repaired_chunks_total")).toBe(2);
  expect(sample(after, "ftfs_repair_repaired_bytes_total")).toBe(200);
  expect(sample(after, "ftfs_repair_failed_total")).toBe(1);
  expect(sample(after, "ftfs_gc_candidate_chunks_total")).toBe(4);
  expect(sample(after, "ftfs_gc_collected_chunks_total")).toBe(3);
  expect(sample(after, "ftfs_gc_freed_bytes_total")).toBe(333);
  expect(sample(after, "ftfs_segment_compactions_total")).toBe(2);
  expect(sample(after, "ftfs_segment_compaction_freed_bytes_total")).toBe(900);
  expect(after).toContain("# TYPE ftfs_gc_freed_bytes_total counter\n");
  expect(after).toContain("# TYPE ftfs_catch_up_remaining_bytes gauge\n");
});

test("each fsync is one observation of the histogram, under its target", () => {
  const registry = new MetricsRegistry();
  const observe = registerFsyncMetrics(registry);
  observe("file", 0.003);
  observe("file", 0.0002);
  observe("references", 0.02);
  const text = registry.render();
  expect(sample(text, 'ftfs_fsync_duration_seconds_count{target="file"}')).toBe(2);
  expect(sample(text, 'ftfs_fsync_duration_seconds_bucket{target="file",le="0.00025"}')).toBe(1);
  expect(sample(text, 'ftfs_fsync_duration_seconds_sum{target="references"}')).toBe(0.02);
  expect(sample(text, 'ftfs_fsync_duration_seconds_count{target="folder"}')).toBeNull();
});
