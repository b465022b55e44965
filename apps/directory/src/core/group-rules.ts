/**
 * Storage-group configuration rules (the directory as PacificA's configuration manager), pure:
 * given the registered storage nodes with their last heartbeat and `nowMs`, what each group's
 * configuration should be, and which groups can take an upload. Liveness here is heartbeat age;
 * gossip (SWIM) will feed the same rules later.
 *
 * Rules: replicas are the group's live registered nodes, sorted by node id. The primary stays
 * while it is alive; otherwise the first live node (in node order) that was a replica of the
 * current configuration is promoted, else the first live node. Any change bumps the epoch; no
 * change keeps the very same configuration, so nothing is proposed.
 */

import type { GroupConfig } from "./model.ts";
import { compareNames } from "./store.ts";

export interface StorageNodeStatus {
  readonly node: string;
  readonly group: string;
  readonly address: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly lastHeartbeatMs: number;
}

export function isAlive(status: StorageNodeStatus, nowMs: number, deadAfterMs: number): boolean {
  return nowMs - status.lastHeartbeatMs < deadAfterMs;
}

function liveMembers(
  group: string,
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): StorageNodeStatus[] {
  return nodes
    .filter((status) => status.group === group && isAlive(status, nowMs, deadAfterMs))
    .sort((a, b) => compareNames(a.node, b.node));
}

function choosePrimary(
  current: GroupConfig | undefined,
  live: readonly StorageNodeStatus[],
): StorageNodeStatus | undefined {
  const kept = live.find((status) => status.node === current?.primaryNode);
  if (kept !== undefined) return kept;
  const inSync = new Set(current?.replicas.map((replica) => replica.node) ?? []);
  return live.find((status) => inSync.has(status.node)) ?? live[0];
}

function sameMembership(left: GroupConfig, right: GroupConfig): boolean {
  if (left.primary !== right.primary || left.primaryNode !== right.primaryNode) return false;
  if (left.replicas.length !== right.replicas.length) return false;
  return left.replicas.every((replica, at) => {
    const other = right.replicas[at];
    return other !== undefined && other.node === replica.node && other.address === replica.address;
  });
}

/** The group's next configuration: `current` itself when nothing changed. */
export function nextGroupConfig(
  current: GroupConfig | undefined,
  group: string,
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): GroupConfig {
  const live = liveMembers(group, nodes, nowMs, deadAfterMs);
  const primary = choosePrimary(current, live);
  const candidate: GroupConfig = {
    group,
    epoch: current?.epoch ?? 0,
    primary: primary?.address ?? null,
    primaryNode: primary?.node ?? null,
    replicas: live.map((status) => ({ node: status.node, address: status.address })),
  };
  if (current !== undefined && sameMembership(current, candidate)) return current;
  return { ...candidate, epoch: candidate.epoch + 1 };
}

/**
 * Every group whose configuration must change, with its next configuration, sorted by group.
 * A group nobody configured yet and with no live node is left alone.
 */
export function groupConfigChanges(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): GroupConfig[] {
  const byGroup = new Map(configs.map((config) => [config.group, config]));
  const groups = new Set([...byGroup.keys(), ...nodes.map((status) => status.group)]);
  const changes: GroupConfig[] = [];
  for (const group of [...groups].sort(compareNames)) {
    const current = byGroup.get(group);
    if (current === undefined && liveMembers(group, nodes, nowMs, deadAfterMs).length === 0) {
      continue;
    }
    const next = nextGroupConfig(current, group, nodes, nowMs, deadAfterMs);
    if (next !== current) changes.push(next);
  }
  return changes;
}

/** Bytes every live replica of the group can still take: the smallest room among them. */
export function groupFreeBytes(
  config: GroupConfig,
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): number {
  const live = liveMembers(config.group, nodes, nowMs, deadAfterMs);
  if (live.length === 0) return 0;
  return Math.min(...live.map((status) => Math.max(0, status.capacityBytes - status.usedBytes)));
}

/** Groups that can take chunks now (their primary is alive), most free space first. */
export function placementGroups(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): GroupConfig[] {
  const alive = new Set(
    nodes.filter((status) => isAlive(status, nowMs, deadAfterMs)).map((status) => status.node),
  );
  const usable = configs.filter(
    (config) => config.primaryNode !== null && alive.has(config.primaryNode),
  );
  const free = new Map(
    usable.map((config) => [config.group, groupFreeBytes(config, nodes, nowMs, deadAfterMs)]),
  );
  return usable.sort(
    (a, b) => (free.get(b.group) ?? 0) - (free.get(a.group) ?? 0) || compareNames(a.group, b.group),
  );
}
