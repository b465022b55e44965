/**
 * The directory node's own metrics, read at each scrape: its Raft state (term, leadership,
 * commit and applied index and the gap between them, snapshots taken, sent and installed),
 * the members gossip sees by state, each storage group as the replicated state records it
 * (epoch, in-sync replicas against the replication factor, learners, a primary or none) and
 * how many groups are short of replicas or of a primary, and what rebalance runs moved. Every
 * directory reports the groups, so any of them tells the operator which group is
 * under-replicated.
 */

import type { GroupView, MetricsRegistry, swim } from "@ftfs/protocol/core";
import type { SnapshotStats } from "./replicator.ts";

export interface DirectoryMetricsSource {
  readonly term: () => number;
  readonly leader: () => boolean;
  readonly commitIndex: () => number;
  readonly appliedIndex: () => number;
  readonly snapshots: () => Readonly<SnapshotStats>;
  readonly members: () => readonly swim.MemberView[];
  readonly groups: () => readonly GroupView[];
  /** What this node's rebalance runs moved in all, and whether one runs now. */
  readonly rebalance: () => {
    readonly movedBytes: number;
    readonly movedChunks: number;
    readonly running: boolean;
  };
}

const MEMBER_STATES = ["alive", "suspect", "dead", "left"] as const;

export function registerDirectoryMetrics(
  registry: MetricsRegistry,
  source: DirectoryMetricsSource,
): void {
  const collectRaft = registerRaftMetrics(registry, source);
  const members = registry.gauge(
    "ftfs_gossip_members",
    "Cluster members this node's gossip sees, by state.",
    ["state"],
  );
  const collectGroups = registerGroupMetrics(registry, source.groups);
  const collectRebalance = registerRebalanceMetrics(registry, source.rebalance);
  registry.collect(() => {
    collectRaft();
    const seen = source.members();
    for (const state of MEMBER_STATES) {
      members.set({ state }, seen.filter((member) => member.state === state).length);
    }
    collectGroups();
    collectRebalance();
  });
}

/** Term, leadership, log indexes and snapshots; answers the collector that reads them. */
function registerRaftMetrics(
  registry: MetricsRegistry,
  source: DirectoryMetricsSource,
): () => void {
  const term = registry.gauge(
    "ftfs_raft_term",
    "The directory group's Raft term as this node knows it.",
  );
  const leader = registry.gauge("ftfs_raft_leader", "1 when this node leads the directory group.");
  const commit = registry.gauge("ftfs_raft_commit_index", "Log index known committed.");
  const applied = registry.gauge("ftfs_raft_applied_index", "Log index applied to the state.");
  const applyLag = registry.gauge(
    "ftfs_raft_apply_lag_entries",
    "Log entries known committed but not yet applied to the state here.",
  );
  const taken = registry.counter(
    "ftfs_raft_snapshots_taken_total",
    "Snapshots this node folded its applied log into.",
  );
  const sent = registry.counter(
    "ftfs_raft_snapshots_sent_total",
    "Snapshots this node sent, as primary, to members behind its log.",
  );
  const installed = registry.counter(
    "ftfs_raft_snapshots_installed_total",
    "Snapshots from the primary this node installed in place of its state.",
  );
  const snapshotBytes = registry.gauge(
    "ftfs_raft_snapshot_bytes",
    "Size of the last snapshot this node took (0: none yet).",
  );
  const receivedBytes = registry.counter(
    "ftfs_raft_snapshot_received_bytes_total",
    "Snapshot image bytes received from the primary and made durable here.",
  );
  const resumed = registry.counter(
    "ftfs_raft_snapshot_transfers_resumed_total",
    "Snapshot image transfers that went on from parts already on disk.",
  );
  return () => {
    const commitIndex = source.commitIndex();
    const appliedIndex = source.appliedIndex();
    term.set({}, source.term());
    leader.set({}, source.leader() ? 1 : 0);
    commit.set({}, commitIndex);
    applied.set({}, appliedIndex);
    // A replicator being rebuilt (a full disk) knows no commit index: no lag to speak of.
    applyLag.set({}, Math.max(0, commitIndex - appliedIndex));
    const snapshots = source.snapshots();
    taken.setTotal({}, snapshots.taken);
    sent.setTotal({}, snapshots.sent);
    installed.setTotal({}, snapshots.installed);
    snapshotBytes.set({}, snapshots.lastBytes);
    receivedBytes.setTotal({}, snapshots.receivedBytes);
    resumed.setTotal({}, snapshots.resumed);
  };
}

/** Each storage group, and the counts alerts want; answers the collector that reads them. */
function registerGroupMetrics(
  registry: MetricsRegistry,
  groups: () => readonly GroupView[],
): () => void {
  const epoch = registry.gauge(
    "ftfs_storage_group_epoch",
    "A storage group's configuration epoch.",
    ["group"],
  );
  const inSync = registry.gauge(
    "ftfs_storage_group_in_sync_replicas",
    "A storage group's in-sync replicas.",
    ["group"],
  );
  const factor = registry.gauge(
    "ftfs_storage_group_replication_factor",
    "How many in-sync replicas a storage group should have.",
    ["group"],
  );
  const learners = registry.gauge(
    "ftfs_storage_group_learners",
    "Replicas of a storage group still catching up.",
    ["group"],
  );
  const available = registry.gauge(
    "ftfs_storage_group_available",
    "1 when a storage group has a primary to take writes.",
    ["group"],
  );
  const underReplicated = registry.gauge(
    "ftfs_storage_groups_under_replicated",
    "Storage groups with fewer in-sync replicas than their replication factor.",
  );
  const unavailable = registry.gauge(
    "ftfs_storage_groups_unavailable",
    "Storage groups without a primary to take writes.",
  );
  return () => {
    for (const group of [epoch, inSync, factor, learners, available]) group.reset();
    let short = 0;
    let stopped = 0;
    for (const view of groups()) {
      const labels = { group: view.group };
      const wanted = view.replicationFactor ?? view.replicas.length;
      epoch.set(labels, view.epoch);
      inSync.set(labels, view.replicas.length);
      factor.set(labels, wanted);
      learners.set(labels, view.learners?.length ?? 0);
      available.set(labels, view.primary === null ? 0 : 1);
      if (view.replicas.length < wanted) short += 1;
      if (view.primary === null) stopped += 1;
    }
    underReplicated.set({}, short);
    unavailable.set({}, stopped);
  };
}

/** What rebalance runs moved; answers the collector that reads it. */
function registerRebalanceMetrics(
  registry: MetricsRegistry,
  rebalance: DirectoryMetricsSource["rebalance"],
): () => void {
  const movedBytes = registry.counter(
    "ftfs_rebalance_moved_bytes_total",
    "Bytes of file data rebalance runs led by this node moved between storage groups.",
  );
  const movedChunks = registry.counter(
    "ftfs_rebalance_moved_chunks_total",
    "Chunks rebalance runs led by this node moved between storage groups.",
  );
  const running = registry.gauge(
    "ftfs_rebalance_running",
    "1 while a rebalance run led by this node is moving data.",
  );
  return () => {
    const now = rebalance();
    movedBytes.setTotal({}, now.movedBytes);
    movedChunks.setTotal({}, now.movedChunks);
    running.set({}, now.running ? 1 : 0);
  };
}
