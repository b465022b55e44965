/**
 * Rebalance rules: only groups with a live primary and known capacity take part, each counted
 * by its fullest replica against its smallest; the fullest gives to the emptiest until the
 * spread is within the threshold; a move must narrow the gap and fit, so repeated moves
 * converge and never overshoot.
 */
import { describe, expect, test } from "bun:test";
import { groupConfig } from "../testing/fixtures.ts";
import type { StorageNodeStatus } from "./group-rules.ts";
import {
  afterMove,
  groupUsages,
  narrowsSpread,
  planMove,
  type GroupUsage,
} from "./rebalance-rules.ts";

const DEAD_AFTER_MS = 3_000;
const NOW_MS = 1_000_000;
const GIB = 1024 ** 3;

function node(
  id: string,
  usedBytes: number,
  capacityBytes = 10 * GIB,
  heardAtMs = NOW_MS - 100,
): StorageNodeStatus {
  const group = id.slice(0, 2);
  const address = `h:${id}`;
  return { node: id, group, address, usedBytes, capacityBytes, lastHeartbeatMs: heardAtMs };
}

function usage(group: string, usedGib: number, capacityGib = 10): GroupUsage {
  return { group, usedBytes: usedGib * GIB, capacityBytes: capacityGib * GIB };
}

describe("groupUsages", () => {
  test("a group counts its fullest live replica against its smallest", () => {
    const configs = [groupConfig("s1", ["s1a", "s1b", "s1c"])];
    const nodes = [
      node("s1a", 3 * GIB),
      node("s1b", 5 * GIB, 8 * GIB),
      node("s1c", 9 * GIB, 10 * GIB, NOW_MS - DEAD_AFTER_MS), // dead: not counted
    ];
    expect(groupUsages(configs, nodes, NOW_MS, DEAD_AFTER_MS)).toEqual([
      { group: "s1", usedBytes: 5 * GIB, capacityBytes: 8 * GIB },
    ]);
  });

  test("a group without a live primary, or known only from seeding, takes no part", () => {
    const noPrimary = { ...groupConfig("s1", ["s1a"]), primary: null, primaryNode: null };
    const deadPrimary = groupConfig("s2", ["s2a", "s2b"]);
    const seeded = groupConfig("s3", ["s3a"]);
    const nodes = [
      node("s1a", GIB),
      node("s2a", GIB, 10 * GIB, NOW_MS - DEAD_AFTER_MS),
      node("s2b", GIB),
      node("s3a", 0, 0), // capacity unknown until its first heartbeat to this primary
    ];
    const usages = groupUsages([noPrimary, deadPrimary, seeded], nodes, NOW_MS, DEAD_AFTER_MS);
    expect(usages).toEqual([]);
  });
});

describe("planMove", () => {
  test("the fullest share gives to the emptiest", () => {
    const usages = [usage("s1", 8), usage("s2", 1), usage("s3", 4, 4)];
    // s3 is full (100%) though it holds less than s1 (80%): shares count, not bytes.
    expect(planMove(usages, 1_000)).toEqual({ kind: "move", plan: { from: "s3", to: "s2" } });
  });

  test("a spread within the threshold is balanced; one group is too few", () => {
    expect(planMove([usage("s1", 5), usage("s2", 4)], 1_000)).toEqual({
      kind: "balanced",
      spreadBasisPoints: 1_000,
    });
    expect(planMove([usage("s1", 5)], 1)).toEqual({ kind: "tooFewGroups" });
    expect(planMove([], 1)).toEqual({ kind: "tooFewGroups" });
  });
});

describe("narrowsSpread", () => {
  const usages = [usage("s1", 8), usage("s2", 2)];
  const plan = { from: "s1", to: "s2" };

  test("a move up to twice the half-gap narrows it; more would overshoot", () => {
    expect(narrowsSpread(usages, plan, 3 * GIB)).toBe(true); // 50% / 50%: even
    expect(narrowsSpread(usages, plan, 5 * GIB)).toBe(true); // 30% / 70%: narrower than 60%
    expect(narrowsSpread(usages, plan, 6 * GIB)).toBe(false); // 20% / 80%: as wide, reversed
    expect(narrowsSpread(usages, plan, 0)).toBe(false);
  });

  test("a move must fit in the target", () => {
    const small = [usage("s1", 8), usage("s2", 0.5, 1)];
    expect(narrowsSpread(small, plan, 0.4 * GIB)).toBe(true);
    expect(narrowsSpread(small, plan, 0.6 * GIB)).toBe(false);
  });

  test("moving chunk by chunk converges within the threshold", () => {
    let current: GroupUsage[] = [usage("s1", 9), usage("s2", 1), usage("s3", 2)];
    const moveBytes = GIB / 4;
    for (let step = 0; step < 1_000; step += 1) {
      const answer = planMove(current, 500);
      if (answer.kind !== "move") break;
      expect(narrowsSpread(current, answer.plan, moveBytes)).toBe(true);
      current = afterMove(current, answer.plan, moveBytes);
    }
    expect(planMove(current, 500).kind).toBe("balanced");
    const total = current.reduce((sum, item) => sum + item.usedBytes, 0);
    expect(total).toBe(12 * GIB);
  });
});
