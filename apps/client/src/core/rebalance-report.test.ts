/**
 * A rebalance run as people read it: how it ended and why, what moved and how fast against
 * the limit, and each group's usage before, out, in and once GC has freed the moved copies.
 */
import { expect, test } from "bun:test";
import type { RebalanceGroup, RebalanceRun } from "@ftfs/protocol/core";
import { formatRebalance, formatRebalanceProgress } from "./rebalance-report.ts";

const MIB = 1024 * 1024;

function group(name: string, fields: Partial<RebalanceGroup>): RebalanceGroup {
  const empty = { capacityBytes: 100 * MIB, usedBytesBefore: 0, bytesOut: 0, bytesIn: 0 };
  return { group: name, ...empty, ...fields };
}

const run: RebalanceRun = {
  runId: "run-1",
  state: "balanced",
  message: "used shares are within 2.50% of each other (threshold 5.00%)",
  startedAtMs: 1_000,
  finishedAtMs: 3_000,
  thresholdBasisPoints: 500,
  bytesPerSecondMax: 64 * MIB,
  budgetBytes: 10 * 1024 * MIB,
  movedVersions: 3,
  movedChunks: 12,
  movedBytes: 20 * MIB,
  skippedVersions: 1,
  groups: [
    group("s1", { usedBytesBefore: 50 * MIB, bytesOut: 20 * MIB }),
    group("s2", { bytesIn: 20 * MIB }),
  ],
};

test("a finished run: outcome, what moved at what rate, and the groups", () => {
  expect(formatRebalance(run).split("\n")).toEqual([
    "rebalance done, balanced: used shares are within 2.50% of each other (threshold 5.00%)",
    "moved 3 versions, 12 chunks, 20.0 MiB in 2.0 s (10.0 MiB/s; limit 64.0 MiB/s); skipped 1",
    "threshold 5.00%; run run-1",
    "",
    "group   capacity       used before       out        in     used after GC",
    "s1     100.0 MiB  50.0 MiB (50.0%)  20.0 MiB       0 B  30.0 MiB (30.0%)",
    "s2     100.0 MiB        0 B (0.0%)       0 B  20.0 MiB  20.0 MiB (20.0%)",
  ]);
});

test("a run still going, and one that moved one thing", () => {
  const going = { ...run, state: "running", finishedAtMs: null, message: "moving data" } as const;
  expect(formatRebalanceProgress(going)).toBe(
    "rebalancing: 3 versions, 20.0 MiB moved; moving data",
  );
  const one = { ...run, movedVersions: 1, movedChunks: 1, skippedVersions: 0, groups: [] };
  expect(formatRebalance(one).split("\n")[1]).toBe(
    "moved 1 version, 1 chunk, 20.0 MiB in 2.0 s (10.0 MiB/s; limit 64.0 MiB/s)",
  );
});
