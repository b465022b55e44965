/**
 * Which storage group gives data to which during a rebalance, pure. A group's usage is what its
 * replicas' heartbeats say; a run takes that once, at its start, and then counts its own moves
 * on top (heartbeats cannot show a move: the source frees its bytes only at garbage collection,
 * a grace later, and the target's growth would be counted twice).
 *
 * Rules (HDFS's balancer, per group instead of per disk):
 *   - only groups with a live primary take part: the target must take writes, and a source
 *     with a live primary has a replica to read from;
 *   - a group's used share is its fullest live in-sync replica's used bytes over its smallest
 *     capacity (a replica that lags or is smaller must not be overfilled);
 *   - the spread is the fullest share minus the emptiest; at or under the threshold the
 *     cluster is balanced. Otherwise data goes from the fullest group to the emptiest;
 *   - a version moves only if that narrows the gap between the two and fits in the target,
 *     so a run never overshoots into the opposite imbalance.
 */

import { BASIS_POINTS_MAX } from "@ftfs/protocol/core";
import { isAlive, type StorageNodeStatus } from "./group-rules.ts";
import type { GroupConfig } from "./model.ts";
import { compareNames } from "./store.ts";

export interface GroupUsage {
  readonly group: string;
  readonly usedBytes: number;
  readonly capacityBytes: number;
}

export interface MovePlan {
  readonly from: string;
  readonly to: string;
}

export type PlanAnswer =
  | { readonly kind: "move"; readonly plan: MovePlan }
  | { readonly kind: "balanced"; readonly spreadBasisPoints: number }
  | { readonly kind: "tooFewGroups" };

/** Usage of each group that can take part now, sorted by group. */
export function groupUsages(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): GroupUsage[] {
  const byNode = new Map(nodes.map((status) => [status.node, status]));
  const usages: GroupUsage[] = [];
  for (const config of configs) {
    if (config.primaryNode === null) continue;
    const live = config.replicas
      .map((replica) => byNode.get(replica.node))
      .filter((status): status is StorageNodeStatus => status !== undefined)
      .filter((status) => isAlive(status, nowMs, deadAfterMs) && status.capacityBytes > 0);
    if (!live.some((status) => status.node === config.primaryNode)) continue;
    usages.push({
      group: config.group,
      usedBytes: Math.max(...live.map((status) => status.usedBytes)),
      capacityBytes: Math.min(...live.map((status) => status.capacityBytes)),
    });
  }
  return usages.sort((a, b) => compareNames(a.group, b.group));
}

/** Used share in basis points (10 000 = full); fractional, compared, never stored. */
export function usedBasisPoints(usage: GroupUsage): number {
  return (usage.usedBytes * BASIS_POINTS_MAX) / usage.capacityBytes;
}

/** The fullest group gives to the emptiest, unless the spread is within the threshold. */
export function planMove(usages: readonly GroupUsage[], thresholdBasisPoints: number): PlanAnswer {
  if (usages.length < 2) return { kind: "tooFewGroups" };
  let fullest: GroupUsage | undefined;
  let emptiest: GroupUsage | undefined;
  for (const usage of usages) {
    if (fullest === undefined || usedBasisPoints(usage) > usedBasisPoints(fullest)) {
      fullest = usage;
    }
    if (emptiest === undefined || usedBasisPoints(usage) < usedBasisPoints(emptiest)) {
      emptiest = usage;
    }
  }
  if (fullest === undefined || emptiest === undefined) return { kind: "tooFewGroups" };
  const spreadBasisPoints = usedBasisPoints(fullest) - usedBasisPoints(emptiest);
  if (spreadBasisPoints <= thresholdBasisPoints || fullest.group === emptiest.group) {
    return { kind: "balanced", spreadBasisPoints };
  }
  return { kind: "move", plan: { from: fullest.group, to: emptiest.group } };
}

/** Moving `bytes` narrows the gap between the plan's two groups and fits in the target. */
export function narrowsSpread(
  usages: readonly GroupUsage[],
  plan: MovePlan,
  bytes: number,
): boolean {
  const from = usages.find((usage) => usage.group === plan.from);
  const to = usages.find((usage) => usage.group === plan.to);
  if (from === undefined || to === undefined || bytes <= 0) return false;
  if (to.usedBytes + bytes > to.capacityBytes || bytes > from.usedBytes) return false;
  const gapBefore = usedBasisPoints(from) - usedBasisPoints(to);
  const gapAfter =
    usedBasisPoints({ ...from, usedBytes: from.usedBytes - bytes }) -
    usedBasisPoints({ ...to, usedBytes: to.usedBytes + bytes });
  return Math.abs(gapAfter) < gapBefore;
}

/** The usages once `bytes` moved as planned. */
export function afterMove(
  usages: readonly GroupUsage[],
  plan: MovePlan,
  bytes: number,
): GroupUsage[] {
  return usages.map((usage) => {
    if (usage.group === plan.from) return { ...usage, usedBytes: usage.usedBytes - bytes };
    if (usage.group === plan.to) return { ...usage, usedBytes: usage.usedBytes + bytes };
    return usage;
  });
}
