/**
 * Re-replication with spare nodes (HDFS's re-replication, PacificA's reconfiguration), pure:
 * given the recorded configurations, the storage nodes with their last heartbeat, when each
 * group was first seen under-replicated, and `nowMs`, which spare goes to which group and what
 * every group's next configuration is. It owns no timers and no store: the group manager keeps
 * the under-replication clocks as soft state and proposes the configurations this returns.
 *
 * Rules:
 *   - a spare (started with `--spare`) has no group. It is assigned when a configuration lists
 *     it, as a learner at first: that record is replicated, so the choice survives a directory
 *     failover. Once told, the spare keeps the assignment on its disk and names the group in
 *     every heartbeat; from then on it is a member of that group like any other;
 *   - a group is under-replicated while its live in-sync replicas plus learners are fewer than
 *     its replication factor. A spare still catching up does not end that: if it dies, the
 *     group's grace has already passed and the next spare goes at once;
 *   - a group under-replicated for at least the grace, with a primary to copy from, and with no
 *     spare catching up already, gets one live unassigned spare with room for the group's data:
 *     the one with the most free space, then the lowest node id;
 *   - when spares are short, the group with the fewest live in-sync replicas goes first (it is
 *     the closest to losing data), then the one under-replicated the longest, then by name;
 *   - a frozen group (no live in-sync replica, so no primary) gets no spare: nobody could give
 *     it the acknowledged chunks;
 *   - a draining node (core/drain-rules.ts) does not count as a copy: a group with a live
 *     in-sync node draining wants its spare at once, without the grace (the operator asked),
 *     and the spare must have room for what the draining node holds. A spare named in any
 *     group's draining list is never assigned again while it is named there.
 */

import {
  drainingNodes,
  groupConfigChanges,
  isAlive,
  nextGroupConfig,
  replicationFactorOf,
  type StorageNodeStatus,
} from "./group-rules.ts";
import type { GroupConfig } from "./model.ts";
import { compareNames } from "./store.ts";

export interface SparePlanInput {
  readonly configs: readonly GroupConfig[];
  readonly nodes: readonly StorageNodeStatus[];
  /** Group → when it was first seen under-replicated (the caller's soft state). */
  readonly underSinceMs: ReadonlyMap<string, number>;
  readonly nowMs: number;
  readonly deadAfterMs: number;
  /** How long a group stays under-replicated before it gets a spare. */
  readonly graceMs: number;
}

export interface SpareAssignment {
  readonly node: string;
  readonly group: string;
}

export interface GroupPlan {
  /** Groups whose configuration must change, sorted by group (as groupConfigChanges). */
  readonly changes: GroupConfig[];
  /** The under-replication clocks to keep for the next plan. */
  readonly underSinceMs: Map<string, number>;
  readonly assignments: readonly SpareAssignment[];
}

function listsNode(config: GroupConfig, node: string): boolean {
  const members = [...config.replicas, ...(config.learners ?? [])];
  return members.some((member) => member.node === node);
}

/** The group whose configuration lists this node, or null. */
export function assignedGroup(configs: readonly GroupConfig[], node: string): string | null {
  return configs.find((config) => listsNode(config, node))?.group ?? null;
}

/** Spares that do not name a group yet, given the group a configuration assigned them. */
export function resolveSpares(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
): StorageNodeStatus[] {
  return nodes.map((status) => {
    if (status.group !== null) return status;
    const group = assignedGroup(configs, status.node);
    return group === null ? status : { ...status, group };
  });
}

function freeBytes(status: StorageNodeStatus): number {
  return Math.max(0, status.capacityBytes - status.usedBytes);
}

/** What a group looks like for re-replication, from its configuration after this round. */
interface GroupHealth {
  readonly config: GroupConfig;
  /** Live in-sync replicas that are not draining. */
  readonly liveInSync: readonly StorageNodeStatus[];
  /** Live in-sync replicas that are draining: they leave once a spare replaced them. */
  readonly liveDraining: readonly StorageNodeStatus[];
  /** Live in-sync replicas (not draining) plus learners. */
  readonly liveCount: number;
  /** A learner that is, or may be, a spare is still catching up. */
  readonly spareLearning: boolean;
}

function health(
  config: GroupConfig,
  byNode: ReadonlyMap<string, StorageNodeStatus>,
  nowMs: number,
  deadAfterMs: number,
): GroupHealth {
  const live = (node: string): StorageNodeStatus | undefined => {
    const status = byNode.get(node);
    return status !== undefined && isAlive(status, nowMs, deadAfterMs) ? status : undefined;
  };
  const draining = drainingNodes(config);
  const liveReplicas = config.replicas.flatMap((member) => live(member.node) ?? []);
  const liveInSync = liveReplicas.filter((status) => !draining.has(status.node));
  const liveDraining = liveReplicas.filter((status) => draining.has(status.node));
  const liveLearners = (config.learners ?? []).flatMap((member) => live(member.node) ?? []);
  return {
    config,
    liveInSync,
    liveDraining,
    liveCount: liveInSync.length + liveLearners.length,
    // Unknown (not heard from since a failover) counts as a spare: one timeout of caution.
    spareLearning: liveLearners.some((status) => status.spare !== false),
  };
}

function nextUnderSince(
  group: GroupHealth,
  previousMs: number | undefined,
  nowMs: number,
): number | undefined {
  if (group.spareLearning) return previousMs ?? nowMs;
  if (group.liveCount >= replicationFactorOf(group.config)) return undefined;
  return previousMs ?? nowMs;
}

function unassignedSpares(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): StorageNodeStatus[] {
  return nodes
    .filter(
      (status) =>
        status.spare === true &&
        status.group === null &&
        assignedGroup(configs, status.node) === null &&
        !configs.some((config) => drainingNodes(config).has(status.node)) &&
        isAlive(status, nowMs, deadAfterMs),
    )
    .sort((a, b) => freeBytes(b) - freeBytes(a) || compareNames(a.node, b.node));
}

function needsSpare(
  group: GroupHealth,
  underSinceMs: ReadonlyMap<string, number>,
  nowMs: number,
  graceMs: number,
): boolean {
  const sinceMs = underSinceMs.get(group.config.group);
  if (sinceMs === undefined) return false;
  if (group.liveDraining.length === 0 && nowMs - sinceMs < graceMs) return false;
  if (group.spareLearning || group.config.primaryNode === null) return false;
  return group.liveCount < replicationFactorOf(group.config);
}

function chooseSpares(
  groups: readonly GroupHealth[],
  spares: readonly StorageNodeStatus[],
  underSinceMs: ReadonlyMap<string, number>,
): SpareAssignment[] {
  const since = (group: GroupHealth): number => underSinceMs.get(group.config.group) ?? 0;
  const ordered = [...groups].sort(
    (a, b) =>
      a.liveInSync.length - b.liveInSync.length ||
      since(a) - since(b) ||
      compareNames(a.config.group, b.config.group),
  );
  const pool = [...spares];
  const assignments: SpareAssignment[] = [];
  for (const group of ordered) {
    // The spare must hold everything the group holds, or its catch-up stops on a full disk.
    const holders = [...group.liveInSync, ...group.liveDraining];
    const neededBytes = Math.max(0, ...holders.map((status) => status.usedBytes));
    const at = pool.findIndex((status) => freeBytes(status) >= neededBytes);
    const spare = pool[at];
    if (spare === undefined) continue;
    pool.splice(at, 1);
    assignments.push({ node: spare.node, group: group.config.group });
  }
  return assignments;
}

/** This round's configurations, spare assignments included, and the clocks to keep. */
export function planGroups(input: SparePlanInput): GroupPlan {
  const { configs, nowMs, deadAfterMs, graceMs } = input;
  const nodes = resolveSpares(configs, input.nodes);
  const byNode = new Map(nodes.map((status) => [status.node, status]));
  // Judge each group as it will be after this round's membership changes (a node that came
  // back counts), then assign spares, then compute every change once from the recorded
  // configurations, so one round bumps a group's epoch at most once.
  const settled = configs.map((config) => {
    const next = nextGroupConfig(config, config.group, nodes, nowMs, deadAfterMs);
    return health(next, byNode, nowMs, deadAfterMs);
  });
  const underSinceMs = new Map<string, number>();
  for (const group of settled) {
    const sinceMs = nextUnderSince(group, input.underSinceMs.get(group.config.group), nowMs);
    if (sinceMs !== undefined) underSinceMs.set(group.config.group, sinceMs);
  }
  const wanting = settled.filter((group) => needsSpare(group, underSinceMs, nowMs, graceMs));
  const spares = unassignedSpares(configs, nodes, nowMs, deadAfterMs);
  const assignments = wanting.length === 0 ? [] : chooseSpares(wanting, spares, underSinceMs);
  const assignedTo = new Map(assignments.map((assignment) => [assignment.node, assignment.group]));
  const withAssignments = nodes.map((status) => {
    const group = assignedTo.get(status.node);
    return group === undefined ? status : { ...status, group };
  });
  const changes = groupConfigChanges(configs, withAssignments, nowMs, deadAfterMs);
  return { changes, underSinceMs, assignments };
}
