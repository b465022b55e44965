/**
 * Property: a directory node's /metrics shows, at each scrape, the gap between the commit and
 * applied index (never below zero), its snapshot counts and last size, how many storage groups
 * are short of replicas and how many lack a primary (both from the same views as the per-group
 * series), and what its rebalance runs moved.
 */
import { expect, test } from "bun:test";
import { type GroupView, MetricsRegistry } from "@ftfs/protocol/core";
import { registerDirectoryMetrics } from "./metrics.ts";
import { newSnapshotStats } from "./replicator.ts";

/** The value of one sample (name and labels exactly as rendered), or null if absent. */
function sample(text: string, series: string): number | null {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

function view(group: string, inSync: number, factor: number, primary: boolean): GroupView {
  const replicas = Array.from({ length: inSync }, (_, at) => ({
    node: `${group}${at}`,
    address: `127.0.0.1:${7000 + at}`,
  }));
  return {
    group,
    epoch: 4,
    primary: primary ? (replicas[0]?.address ?? null) : null,
    primaryNode: primary ? (replicas[0]?.node ?? null) : null,
    replicas,
    replicationFactor: factor,
  };
}

test("apply lag, snapshots, short and stopped groups, and rebalance totals", () => {
  const registry = new MetricsRegistry();
  const snapshots = newSnapshotStats();
  const indexes = { commit: 120, applied: 100 };
  let groups: GroupView[] = [
    view("s1", 3, 3, true),
    view("s2", 2, 3, true),
    view("s3", 1, 3, false),
  ];
  const moved = { movedBytes: 0, movedChunks: 0, running: false };
  registerDirectoryMetrics(registry, {
    term: () => 3,
    leader: () => true,
    commitIndex: () => indexes.commit,
    appliedIndex: () => indexes.applied,
    snapshots: () => snapshots,
    members: () => [],
    groups: () => groups,
    rebalance: () => moved,
  });
  const first = registry.render();
  expect(sample(first, "ftfs_raft_apply_lag_entries")).toBe(20);
  expect(sample(first, "ftfs_raft_snapshots_taken_total")).toBe(0);
  expect(sample(first, "ftfs_raft_snapshot_bytes")).toBe(0);
  expect(sample(first, "ftfs_storage_groups_under_replicated")).toBe(2);
  expect(sample(first, "ftfs_storage_groups_unavailable")).toBe(1);
  expect(sample(first, "ftfs_rebalance_running")).toBe(0);

  Object.assign(snapshots, {
    taken: 2,
    sent: 1,
    installed: 1,
    lastBytes: 4096,
    receivedBytes: 8192,
    resumed: 1,
  });
  Object.assign(moved, { movedBytes: 8192, movedChunks: 2, running: true });
  // A replicator rebuilt after a full disk knows no commit index yet.
  Object.assign(indexes, { commit: 0, applied: 130 });
  groups = [view("s1", 3, 3, true), view("s2", 3, 3, true)];
  const second = registry.render();
  expect(sample(second, "ftfs_raft_apply_lag_entries")).toBe(0);
  expect(sample(second, "ftfs_raft_snapshots_taken_total")).toBe(2);
  expect(sample(second, "ftfs_raft_snapshots_sent_total")).toBe(1);
  expect(sample(second, "ftfs_raft_snapshots_installed_total")).toBe(1);
  expect(sample(second, "ftfs_raft_snapshot_received_bytes_total")).toBe(8192);
  expect(sample(second, "ftfs_raft_snapshot_transfers_resumed_total")).toBe(1);
  expect(sample(second, "ftfs_raft_snapshot_bytes")).toBe(4096);
  expect(sample(second, "ftfs_storage_groups_under_replicated")).toBe(0);
  expect(sample(second, "ftfs_storage_groups_unavailable")).toBe(0);
  expect(sample(second, 'ftfs_storage_group_in_sync_replicas{group="s3"}')).toBeNull();
  expect(sample(second, "ftfs_rebalance_moved_bytes_total")).toBe(8192);
  expect(sample(second, "ftfs_rebalance_moved_chunks_total")).toBe(2);
  expect(sample(second, "ftfs_rebalance_running")).toBe(1);
});
