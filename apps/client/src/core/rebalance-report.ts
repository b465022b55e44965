/**
 * How `ftfs rebalance` shows a run to people: one line saying how it ended and why, one with
 * what moved and how fast, and a table of the groups (usage before, bytes out and in, usage
 * once garbage collection has freed the moved copies). Pure strings.
 */

import {
  assertNever,
  BASIS_POINTS_MAX,
  type RebalanceGroup,
  type RebalanceRun,
  type RebalanceState,
} from "@ftfs/protocol/core";
import { formatBytes } from "@ftfs/protocol/core";
import { formatTable, type Column } from "./format.ts";

const MS_PER_SECOND = 1_000;
const PERCENT = 100;

function stateWords(state: RebalanceState): string {
  switch (state) {
    case "running":
      return "running";
    case "balanced":
      return "done, balanced";
    case "budgetSpent":
      return "paused, budget spent";
    case "exhausted":
      return "done, nothing more to move";
    case "failed":
      return "failed";
    default:
      return assertNever(state);
  }
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** `moved 12 versions, 48 chunks, 37.5 MiB in 1.2 s (31.2 MiB/s; limit 64.0 MiB/s)` */
function movedLine(run: RebalanceRun): string {
  const endMs = run.finishedAtMs ?? run.startedAtMs;
  const seconds = Math.max(0, endMs - run.startedAtMs) / MS_PER_SECOND;
  const rate = seconds > 0 ? `${formatBytes(Math.round(run.movedBytes / seconds))}/s` : "-";
  const moved =
    `moved ${plural(run.movedVersions, "version")}, ${plural(run.movedChunks, "chunk")}, ` +
    `${formatBytes(run.movedBytes)} in ${seconds.toFixed(1)} s ` +
    `(${rate}; limit ${formatBytes(run.bytesPerSecondMax)}/s)`;
  return run.skippedVersions === 0 ? moved : `${moved}; skipped ${run.skippedVersions}`;
}

function share(usedBytes: number, capacityBytes: number): string {
  if (capacityBytes <= 0) return "-";
  return `${((usedBytes * PERCENT) / capacityBytes).toFixed(1)}%`;
}

function groupRow(group: RebalanceGroup): string[] {
  const after = Math.max(0, group.usedBytesBefore - group.bytesOut + group.bytesIn);
  return [
    group.group,
    formatBytes(group.capacityBytes),
    `${formatBytes(group.usedBytesBefore)} (${share(group.usedBytesBefore, group.capacityBytes)})`,
    formatBytes(group.bytesOut),
    formatBytes(group.bytesIn),
    `${formatBytes(after)} (${share(after, group.capacityBytes)})`,
  ];
}

export function formatRebalance(run: RebalanceRun): string {
  const threshold = `${((run.thresholdBasisPoints * PERCENT) / BASIS_POINTS_MAX).toFixed(2)}%`;
  const lines = [
    `rebalance ${stateWords(run.state)}: ${run.message}`,
    movedLine(run),
    `threshold ${threshold}; run ${run.runId}`,
  ];
  if (run.groups.length === 0) return lines.join("\n");
  const columns: Column[] = [
    { title: "group", align: "left" },
    { title: "capacity", align: "right" },
    { title: "used before", align: "right" },
    { title: "out", align: "right" },
    { title: "in", align: "right" },
    { title: "used after GC", align: "right" },
  ];
  return [...lines, "", formatTable(columns, run.groups.map(groupRow))].join("\n");
}

/** One short line for a terminal while the run goes on. */
export function formatRebalanceProgress(run: RebalanceRun): string {
  return (
    `rebalancing: ${plural(run.movedVersions, "version")}, ${formatBytes(run.movedBytes)} ` +
    `moved; ${run.message}`
  );
}
