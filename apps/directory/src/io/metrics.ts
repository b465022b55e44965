/**
 * The directory node's own metrics, read at each scrape: its Raft state (term, leadership,
 * commit and applied index), the members gossip sees by state, and each storage group as the
 * replicated state records it (epoch, in-sync replicas against the replication factor,
 * learners, a primary or none). Every directory reports the groups, so any of them tells the
 * operator which group is under-replicated.
 */

import type { GroupView, MetricsRegistry, swim } from "@ftfs/protocol/core";

export interface DirectoryMetricsSource {
  readonly term: () => number;
  readonly leader: () => boolean;
  readonly commitIndex: () => number;
  readonly appliedIndex: () => number;
  readonly members: () => readonly swim.MemberView[];
  readonly groups: () => readonly GroupView[];
}

const MEMBER_STATES = ["alive", "suspect", "dead", "left"] as const;

export function registerDirectoryMetrics(
  registry: MetricsRegistry,
  source: DirectoryMetricsSource,
): void {
  const term = registry.gauge(
    "ftfs_raft_term",
    "The directory group's Raft term as this node knows it.",
  );
  const leader = registry.gauge("ftfs_raft_leader", "1 when this node leads the directory group.");
  const commit = registry.gauge("ftfs_raft_commit_index", "Log index known committed.");
  const applied = registry.gauge("ftfs_raft_applied_index", "Log index applied to the state.");
  const members = registry.gauge(
    "ftfs_gossip_members",
    "Cluster members this node's gossip sees, by state.",
    ["state"],
  );
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
  registry.collect(() => {
    term.set({}, source.term());
    leader.set({}, source.leader() ? 1 : 0);
    commit.set({}, source.commitIndex());
    applied.set({}, source.appliedIndex());
    const seen = source.members();
    for (const state of MEMBER_STATES) {
      members.set({ state }, seen.filter((member) => member.state === state).length);
    }
    for (const group of [epoch, inSync, factor, learners, available]) group.reset();
    for (const view of source.groups()) {
      const labels = { group: view.group };
      epoch.set(labels, view.epoch);
      inSync.set(labels, view.replicas.length);
      factor.set(labels, view.replicationFactor ?? view.replicas.length);
      learners.set(labels, view.learners?.length ?? 0);
      available.set(labels, view.primary === null ? 0 : 1);
    }
  });
}
