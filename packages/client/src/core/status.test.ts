/**
 * `ftfs status`'s verdict: healthy only when every group has its primary and its factor of
 * in-sync replicas and every member is alive; a group without a primary (or with its data
 * lost) makes it unavailable; fewer replicas, a catch-up, a dead or suspect member or a
 * directory that did not answer make it degraded; the reasons say which, worst first. A group
 * is whole only with a primary, its factor of in-sync replicas and no learner.
 */
import { describe, expect, test } from "bun:test";
import type { GroupView, MemberView } from "@ftfs/protocol/core";
import { healthVerdict, isGroupWhole, type ClusterStatus } from "./status.ts";

function member(node: string, state: MemberView["state"] = "alive"): MemberView {
  return {
    node,
    role: node.startsWith("d") ? "directory" : "storage",
    group: node.startsWith("d") ? null : node.slice(0, 2),
    address: "127.0.0.1:1",
    state,
    incarnation: 0,
    primary: false,
    epoch: 1,
    usedBytes: 0,
    capacityBytes: 0,
  };
}

function group(name: string, replicas: number, extra: Partial<GroupView> = {}): GroupView {
  return {
    group: name,
    epoch: 3,
    primary: "127.0.0.1:2",
    primaryNode: `${name}a`,
    replicas: Array.from({ length: replicas }, (_, at) => ({
      node: `${name}${"abc"[at] ?? "x"}`,
      address: "127.0.0.1:2",
    })),
    replicationFactor: 3,
    ...extra,
  };
}

function status(groups: GroupView[], members: MemberView[] = [], unreachable: string[] = []) {
  const view: ClusterStatus = { node: "d1", members, groups, unreachable };
  return healthVerdict(view);
}

describe("healthVerdict", () => {
  test("healthy: every group whole, every member alive", () => {
    expect(status([group("s1", 3)], [member("d1"), member("s1a")])).toEqual({
      level: "healthy",
      reasons: [],
    });
  });

  test("degraded: fewer in-sync replicas, a catch-up, a dead member, a silent directory", () => {
    const learners = [{ node: "s2c", address: "127.0.0.1:3" }];
    expect(
      status(
        [group("s1", 2), group("s2", 2, { learners })],
        [member("s1c", "dead")],
        ["127.0.0.1:7103"],
      ),
    ).toEqual({
      level: "degraded",
      reasons: [
        "s1 has 2 of 3 in-sync replicas",
        "s2 has 2 of 3 in-sync replicas",
        "s2 is catching up s2c",
        "s1c is dead",
        "no answer from 127.0.0.1:7103",
      ],
    });
  });

  test("unavailable: a group without a primary, or with its data lost, comes first", () => {
    const verdict = status([
      group("s1", 2),
      group("s2", 3, { primary: null, primaryNode: null }),
      group("s3", 3, { primary: null, primaryNode: null, dataLost: true }),
    ]);
    expect(verdict.level).toBe("unavailable");
    expect(verdict.reasons).toEqual([
      "s2 has no primary",
      "s3 lost its data (every in-sync disk was replaced)",
      "s1 has 2 of 3 in-sync replicas",
    ]);
  });
});

describe("isGroupWhole", () => {
  test("whole: a primary, the factor in sync, no learner", () => {
    expect(isGroupWhole(group("s1", 3))).toBe(true);
  });

  test("not whole: a replica short, a learner catching up, no primary, or data lost", () => {
    const learners = [{ node: "s1c", address: "127.0.0.1:3" }];
    expect(isGroupWhole(group("s1", 2))).toBe(false);
    expect(isGroupWhole(group("s1", 3, { learners }))).toBe(false);
    expect(isGroupWhole(group("s1", 3, { primary: null, primaryNode: null }))).toBe(false);
    expect(isGroupWhole(group("s1", 3, { dataLost: true }))).toBe(false);
  });
});
