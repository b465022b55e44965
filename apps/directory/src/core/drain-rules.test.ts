/**
 * Draining a storage node, round by round through the group and spare rules: the drain is a
 * configuration change (one epoch); the node hands over its primary role at once; the group
 * gets a spare with no grace, sized for what the draining node holds; the node stays in sync
 * until the spare has caught up and leaves in the round the spare joins; it is never listed
 * again, and as a spare never assigned again, while it is named; the factor never falls and
 * a new node of the group's own does not raise it past the copies it needs; a cancel brings
 * it back as a learner; an unknown node is refused with one line.
 */
import { describe, expect, test } from "bun:test";
import { drainChange } from "./drain-rules.ts";
import type { StorageNodeStatus } from "./group-rules.ts";
import type { GroupConfig } from "./model.ts";
import { planGroups } from "./spare-rules.ts";

const DEAD_AFTER_MS = 3_000;
const GRACE_MS = 30_000;
const NOW_MS = 1_000_000;
const ALIVE_MS = NOW_MS - 100;

function address(node: string): string {
  return `h:${node}`;
}

function member(node: string): { node: string; address: string } {
  return { node, address: address(node) };
}

function s1(epoch: number, inSync: readonly string[], extra: Partial<GroupConfig> = {}) {
  const primary = inSync[0] ?? null;
  const config: GroupConfig = {
    group: "s1",
    epoch,
    primary: primary === null ? null : address(primary),
    primaryNode: primary,
    replicas: inSync.map(member),
    replicationFactor: 3,
    ...extra,
  };
  return config;
}

function storage(node: string, usedBytes = 100, extra: Partial<StorageNodeStatus> = {}) {
  const status: StorageNodeStatus = {
    node,
    group: "s1",
    address: address(node),
    capacityBytes: 10_000,
    usedBytes,
    lastHeartbeatMs: ALIVE_MS,
    spare: false,
    ...extra,
  };
  return status;
}

function spare(node: string, freeBytes: number, extra: Partial<StorageNodeStatus> = {}) {
  return storage(node, 10_000 - freeBytes, { group: null, spare: true, ...extra });
}

function round(configs: readonly GroupConfig[], nodes: readonly StorageNodeStatus[]) {
  return planGroups({
    configs,
    nodes,
    underSinceMs: new Map(),
    nowMs: NOW_MS,
    deadAfterMs: DEAD_AFTER_MS,
    graceMs: GRACE_MS,
  });
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }) {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

const OWN = [storage("s1a"), storage("s1b"), storage("s1c")];

describe("drainChange", () => {
  test("names the node in its group's draining list, one epoch later", () => {
    const drained = unwrap(drainChange([s1(4, ["s1a", "s1b", "s1c"])], "s1a", false));
    expect(drained).toEqual(s1(5, ["s1a", "s1b", "s1c"], { draining: ["s1a"] }));
  });

  test("draining again changes nothing; a cancel takes it off, one epoch later", () => {
    const draining = s1(5, ["s1a", "s1b", "s1c"], { draining: ["s1a"] });
    expect(unwrap(drainChange([draining], "s1a", false))).toBe(draining);
    expect(unwrap(drainChange([draining], "s1a", true))).toEqual(s1(6, ["s1a", "s1b", "s1c"]));
  });

  test("a node in no group, or a cancel of a node not draining, is refused in one line", () => {
    const config = s1(4, ["s1a", "s1b", "s1c"]);
    const unknown = drainChange([config], "zz", false);
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) {
      expect(unknown.error.code).toBe("NOT_FOUND");
      expect(unknown.error.message).toBe(
        "storage node zz is in no storage group (a spare no group uses holds nothing: stop it)",
      );
    }
    const notDraining = drainChange([config], "s1b", true);
    expect(notDraining.ok).toBe(false);
    if (!notDraining.ok) expect(notDraining.error.message).toContain("is not draining");
  });
});

describe("a drain through the group and spare rules", () => {
  test("the primary hands over, a spare joins with no grace, and the node leaves once it caught up", () => {
    const start = unwrap(drainChange([s1(4, ["s1a", "s1b", "s1c"])], "s1a", false));
    const spares = [spare("x1", 5_000), spare("x2", 9_000)];
    // Round 1: s1b is primary, and the roomiest spare learns, with no grace waited.
    const first = round([start], [...OWN, ...spares]);
    expect(first.assignments).toEqual([{ node: "x2", group: "s1" }]);
    const learning = first.changes[0];
    expect(learning?.epoch).toBe(6);
    expect(learning?.primaryNode).toBe("s1b");
    expect(learning?.replicas.map((each) => each.node)).toEqual(["s1a", "s1b", "s1c"]);
    expect(learning?.learners?.map((each) => each.node)).toEqual(["x2"]);
    expect(learning?.draining).toEqual(["s1a"]);
    if (learning === undefined) throw new Error("no change");
    // Round 2: the spare has not caught up yet: nothing changes, s1a stays in sync.
    const x2 = spare("x2", 9_000, { group: "s1" });
    expect(round([learning], [...OWN, x2]).changes).toEqual([]);
    // Round 3: caught up: x2 joins and s1a leaves in the same change.
    const caughtUp = { ...x2, syncedEpoch: 6 };
    const done = round([learning], [...OWN, caughtUp]).changes[0];
    expect(done?.epoch).toBe(7);
    expect(done?.replicas.map((each) => each.node)).toEqual(["s1b", "s1c", "x2"]);
    expect(done?.learners).toBeUndefined();
    expect(done?.replicationFactor).toBe(3);
    expect(done?.draining).toEqual(["s1a"]);
    if (done === undefined) throw new Error("no change");
    // Round 4: s1a still runs and names s1 in its heartbeats: it is never listed again.
    expect(round([done], [...OWN, caughtUp]).changes).toEqual([]);
  });

  test("with no spare, the draining node stays in sync and keeps serving", () => {
    const start = unwrap(drainChange([s1(4, ["s1a", "s1b", "s1c"])], "s1c", false));
    expect(round([start], OWN).changes).toEqual([]);
  });

  test("a spare too small for what the draining node holds is not taken", () => {
    const start = unwrap(drainChange([s1(4, ["s1a", "s1b", "s1c"])], "s1b", false));
    const holders = [storage("s1a", 100), storage("s1b", 4_000), storage("s1c", 100)];
    expect(round([start], [...holders, spare("x1", 1_000)]).assignments).toEqual([]);
  });

  test("a group with a copy to spare lets the draining node go at once", () => {
    const four = s1(4, ["s1a", "s1b", "s1c", "s1d"]);
    const start = unwrap(drainChange([four], "s1a", false));
    const change = round([start], [...OWN, storage("s1d")]).changes[0];
    expect(change?.primaryNode).toBe("s1b");
    expect(change?.replicas.map((each) => each.node)).toEqual(["s1b", "s1c", "s1d"]);
  });

  test("a node of the group's own that replaces the draining one does not raise the factor", () => {
    const start = unwrap(drainChange([s1(4, ["s1a", "s1b", "s1c"])], "s1c", false));
    const newcomer = storage("s1d");
    const learning = round([start], [...OWN, newcomer]).changes[0];
    expect(learning?.learners?.map((each) => each.node)).toEqual(["s1d"]);
    if (learning === undefined) throw new Error("no change");
    const synced = { ...newcomer, syncedEpoch: learning.epoch };
    const done = round([learning], [...OWN, synced]).changes[0];
    expect(done?.replicas.map((each) => each.node)).toEqual(["s1a", "s1b", "s1d"]);
    expect(done?.replicationFactor).toBe(3);
  });

  test("a drained spare is released and never assigned again while it is named", () => {
    const withSpare = s1(8, ["s1a", "s1b", "x1"], { draining: ["x1"] });
    const x1 = spare("x1", 5_000, { group: "s1" });
    const newcomer = spare("x2", 5_000);
    const learning = round([withSpare], [storage("s1a"), storage("s1b"), x1, newcomer]);
    expect(learning.assignments).toEqual([{ node: "x2", group: "s1" }]);
    const config = learning.changes[0];
    if (config === undefined) throw new Error("no change");
    const x2 = { ...newcomer, group: "s1", syncedEpoch: config.epoch };
    const done = round([config], [storage("s1a"), storage("s1b"), x1, x2]).changes[0];
    expect(done?.replicas.map((each) => each.node)).toEqual(["s1a", "s1b", "x2"]);
    if (done === undefined) throw new Error("no change");
    // x1 forgot the group (released) and is back in the pool: s1 wants a spare again after
    // losing s1b, yet x1 is named as drained, so it is not the one.
    const lost = round([done], [storage("s1a"), x2, { ...x1, group: null }]);
    expect(lost.assignments).toEqual([]);
  });

  test("a cancel after the node left brings it back as a learner", () => {
    const drained = s1(7, ["s1b", "s1c", "x2"], { draining: ["s1a"] });
    const back = unwrap(drainChange([drained], "s1a", true));
    const change = round([back], [...OWN, spare("x2", 5_000, { group: "s1" })]).changes[0];
    expect(change?.learners?.map((each) => each.node)).toEqual(["s1a"]);
    expect(change?.draining).toBeUndefined();
  });
});
