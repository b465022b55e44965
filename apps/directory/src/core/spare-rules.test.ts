/**
 * Re-replication rules: a group below its replication factor gets one live unassigned spare,
 * and only once it has been below for the whole grace; the spare appears as a learner (one
 * epoch bump, with any other change of the round); the spare with the most room goes, then
 * the lowest node id, and never one too small for the group's data; when spares are short the
 * group closest to losing data goes first; a group gets one spare at a time, and a spare never
 * goes to two groups; a spare that dies while learning is replaced at once; a frozen group
 * gets none, nor does one whose data is lost; a spare back on a wiped disk (its assignment
 * gone with it) is its group's new learner, never a second group's; the clock stops when the
 * group is back at its factor.
 */
import { describe, expect, test } from "bun:test";
import type { StorageNodeStatus } from "./group-rules.ts";
import type { GroupConfig } from "./model.ts";
import { planGroups, resolveSpares, type SparePlanInput } from "./spare-rules.ts";

const DEAD_AFTER_MS = 3_000;
const GRACE_MS = 30_000;
const NOW_MS = 1_000_000;
const ALIVE = NOW_MS - 100;
const DEAD = NOW_MS - DEAD_AFTER_MS;
/** Under-replicated long enough / not yet long enough. */
const LONG_AGO = NOW_MS - GRACE_MS;
const JUST_NOW = NOW_MS - GRACE_MS + 1;

const ADDRESS: Readonly<Record<string, string>> = {
  s1a: "h:11",
  s1b: "h:12",
  s1c: "h:13",
  s2a: "h:21",
  s2b: "h:22",
  s2c: "h:23",
  x1: "h:31",
  x2: "h:32",
};

function member(node: string): { node: string; address: string } {
  return { node, address: ADDRESS[node] ?? "h:1" };
}

function group(
  name: string,
  epoch: number,
  inSync: readonly string[],
  learners: readonly string[] = [],
  replicationFactor = 3,
): GroupConfig {
  const primary = inSync[0];
  return {
    group: name,
    epoch,
    primary: primary === undefined ? null : (ADDRESS[primary] ?? "h:1"),
    primaryNode: primary ?? null,
    replicas: inSync.map(member),
    // Learners listed first in this configuration (the rules keep an earlier `since`).
    ...(learners.length === 0
      ? {}
      : { learners: learners.map((node) => ({ ...member(node), since: epoch })) }),
    replicationFactor,
  };
}

function storage(node: string, heardAtMs: number, usedBytes = 100): StorageNodeStatus {
  return {
    node,
    group: node.slice(0, 2),
    address: ADDRESS[node] ?? "h:1",
    capacityBytes: 10_000,
    usedBytes,
    lastHeartbeatMs: heardAtMs,
    spare: false,
  };
}

function spare(node: string, heardAtMs: number, freeBytes = 5_000): StorageNodeStatus {
  return { ...storage(node, heardAtMs, 10_000 - freeBytes), group: null, spare: true };
}

function plan(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
  underSince: Readonly<Record<string, number>> = {},
) {
  const input: SparePlanInput = {
    configs,
    nodes,
    underSinceMs: new Map(Object.entries(underSince)),
    nowMs: NOW_MS,
    deadAfterMs: DEAD_AFTER_MS,
    graceMs: GRACE_MS,
  };
  return planGroups(input);
}

/** s1 lost s1a for good: two live in-sync replicas of three. */
const S1_DOWN_ONE = group("s1", 4, ["s1b", "s1c"]);
const S1_LIVE = [storage("s1a", DEAD), storage("s1b", ALIVE), storage("s1c", ALIVE)];

describe("planGroups", () => {
  test("a group first seen under-replicated starts its clock, and gets no spare yet", () => {
    const result = plan([S1_DOWN_ONE], [...S1_LIVE, spare("x1", ALIVE)]);
    expect(result.assignments).toEqual([]);
    expect(result.changes).toEqual([]);
    expect([...result.underSinceMs]).toEqual([["s1", NOW_MS]]);
  });

  test("grace not yet passed: no spare; the clock is kept", () => {
    const result = plan([S1_DOWN_ONE], [...S1_LIVE, spare("x1", ALIVE)], { s1: JUST_NOW });
    expect(result.assignments).toEqual([]);
    expect(result.changes).toEqual([]);
    expect([...result.underSinceMs]).toEqual([["s1", JUST_NOW]]);
  });

  test("grace passed: the spare becomes a learner of the group, one epoch later", () => {
    const result = plan([S1_DOWN_ONE], [...S1_LIVE, spare("x1", ALIVE)], { s1: LONG_AGO });
    expect(result.assignments).toEqual([{ node: "x1", group: "s1" }]);
    expect(result.changes).toEqual([group("s1", 5, ["s1b", "s1c"], ["x1"])]);
    // Not restored until the spare caught up: the clock keeps running.
    expect([...result.underSinceMs]).toEqual([["s1", LONG_AGO]]);
  });

  test("the node dies and the grace passes in one round: one change, one epoch", () => {
    const current = group("s1", 4, ["s1a", "s1b", "s1c"]);
    const result = plan([current], [...S1_LIVE, spare("x1", ALIVE)], { s1: LONG_AGO });
    expect(result.changes).toEqual([group("s1", 5, ["s1b", "s1c"], ["x1"])]);
  });

  test("no spare: nothing changes, the clock keeps running", () => {
    const result = plan([S1_DOWN_ONE], S1_LIVE, { s1: LONG_AGO });
    expect(result.assignments).toEqual([]);
    expect(result.changes).toEqual([]);
    expect([...result.underSinceMs]).toEqual([["s1", LONG_AGO]]);
  });

  test("a dead spare, or one too small for the group's data, is not assigned", () => {
    const full = storage("s1b", ALIVE, 6_000); // the group holds 6,000 bytes
    const nodes = [storage("s1a", DEAD), full, storage("s1c", ALIVE)];
    const result = plan([S1_DOWN_ONE], [...nodes, spare("x1", DEAD), spare("x2", ALIVE, 5_999)], {
      s1: LONG_AGO,
    });
    expect(result.assignments).toEqual([]);
  });

  test("the spare with the most free space goes, then the lowest node id", () => {
    const roomy = plan([S1_DOWN_ONE], [...S1_LIVE, spare("x1", ALIVE), spare("x2", ALIVE, 9_000)], {
      s1: LONG_AGO,
    });
    expect(roomy.assignments).toEqual([{ node: "x2", group: "s1" }]);
    const tie = plan([S1_DOWN_ONE], [...S1_LIVE, spare("x2", ALIVE), spare("x1", ALIVE)], {
      s1: LONG_AGO,
    });
    expect(tie.assignments).toEqual([{ node: "x1", group: "s1" }]);
  });

  test("two groups, one spare: the group with fewer live in-sync replicas gets it", () => {
    const s2 = group("s2", 9, ["s2c"]);
    const nodes = [
      ...S1_LIVE,
      storage("s2a", DEAD),
      storage("s2b", DEAD),
      storage("s2c", ALIVE),
      spare("x1", ALIVE),
    ];
    const result = plan([S1_DOWN_ONE, s2], nodes, { s1: LONG_AGO - 5_000, s2: LONG_AGO });
    expect(result.assignments).toEqual([{ node: "x1", group: "s2" }]);
    expect(result.changes).toEqual([group("s2", 10, ["s2c"], ["x1"])]);
  });

  test("two groups equally at risk, one spare: the longest under-replicated gets it", () => {
    const s2 = group("s2", 9, ["s2a", "s2b"]);
    const nodes = [...S1_LIVE, storage("s2a", ALIVE), storage("s2b", ALIVE), spare("x1", ALIVE)];
    const result = plan([S1_DOWN_ONE, s2], nodes, { s1: LONG_AGO, s2: LONG_AGO - 1 });
    expect(result.assignments).toEqual([{ node: "x1", group: "s2" }]);
  });

  test("two groups, two spares: one each, never both to one group", () => {
    const s2 = group("s2", 9, ["s2a"]);
    const nodes = [...S1_LIVE, storage("s2a", ALIVE), spare("x1", ALIVE), spare("x2", ALIVE)];
    const result = plan([S1_DOWN_ONE, s2], nodes, { s1: LONG_AGO, s2: LONG_AGO });
    expect(result.assignments).toEqual([
      { node: "x1", group: "s2" },
      { node: "x2", group: "s1" },
    ]);
  });

  test("one spare per group at a time: a group two down waits for its learning spare", () => {
    const s1 = group("s1", 5, ["s1c"], ["x1"]);
    const nodes = [storage("s1a", DEAD), storage("s1b", DEAD), storage("s1c", ALIVE)];
    const result = plan([s1], [...nodes, spare("x1", ALIVE), spare("x2", ALIVE)], {
      s1: LONG_AGO,
    });
    expect(result.assignments).toEqual([]);
    expect(result.changes).toEqual([]);
  });

  test("an assigned spare that has not heard yet stays its group's learner, and no other's", () => {
    const s2 = group("s2", 9, ["s2a", "s2b"]);
    const configs = [group("s1", 5, ["s1b", "s1c"], ["x1"]), s2];
    const nodes = [...S1_LIVE, storage("s2a", ALIVE), storage("s2b", ALIVE), spare("x1", ALIVE)];
    const result = plan(configs, nodes, { s1: LONG_AGO, s2: LONG_AGO });
    expect(result.assignments).toEqual([]);
    expect(result.changes).toEqual([]);
    expect(resolveSpares(configs, nodes).find((status) => status.node === "x1")?.group).toBe("s1");
  });

  test("the spare dies while learning: the next spare is assigned at once", () => {
    const learning = group("s1", 5, ["s1b", "s1c"], ["x1"]);
    const nodes = [...S1_LIVE, spare("x1", DEAD), spare("x2", ALIVE)];
    const result = plan([learning], nodes, { s1: LONG_AGO });
    expect(result.assignments).toEqual([{ node: "x2", group: "s1" }]);
    expect(result.changes).toEqual([group("s1", 6, ["s1b", "s1c"], ["x2"])]);
  });

  test("a caught-up spare joins the in-sync set: back at the factor, the clock stops", () => {
    const learning = group("s1", 5, ["s1b", "s1c"], ["x1"]);
    const caughtUp = { ...spare("x1", ALIVE), group: "s1", syncedEpoch: 5 };
    const result = plan([learning], [...S1_LIVE, caughtUp], { s1: LONG_AGO });
    expect(result.changes).toEqual([group("s1", 6, ["s1b", "s1c", "x1"])]);
    expect([...result.underSinceMs]).toEqual([]);
  });

  test("a node that returns as the grace passes counts: no spare", () => {
    const back = [storage("s1a", ALIVE), storage("s1b", ALIVE), storage("s1c", ALIVE)];
    const result = plan([S1_DOWN_ONE], [...back, spare("x1", ALIVE)], { s1: LONG_AGO });
    expect(result.assignments).toEqual([]);
    expect(result.changes).toEqual([group("s1", 5, ["s1b", "s1c"], ["s1a"])]);
    expect([...result.underSinceMs]).toEqual([]);
  });

  test("a frozen group (no live in-sync replica) gets no spare: nobody could fill it", () => {
    const frozen = { ...group("s1", 7, ["s1a"]), primary: null, primaryNode: null };
    const nodes = [storage("s1a", DEAD), spare("x1", ALIVE)];
    const result = plan([frozen], nodes, { s1: LONG_AGO });
    expect(result.assignments).toEqual([]);
  });

  test("a spare back on a wiped disk is its group's learner again, assigned nowhere else", () => {
    const withFolder = (config: GroupConfig): GroupConfig => ({
      ...config,
      replicas: config.replicas.map((each) =>
        each.node === "x1" ? { ...each, folderId: "x1-disk1" } : each,
      ),
    });
    const current = withFolder(group("s1", 6, ["s1b", "s1c", "x1"]));
    const s2 = group("s2", 9, ["s2a", "s2b"]);
    const wiped = { ...spare("x1", ALIVE), folderId: "x1-disk2" };
    const nodes = [...S1_LIVE, storage("s2a", ALIVE), storage("s2b", ALIVE), wiped];
    const result = plan([current, s2], nodes, { s2: LONG_AGO });
    expect(result.assignments).toEqual([]);
    const relearning = { ...member("x1"), since: 7, folderId: "x1-disk2" };
    expect(result.changes).toEqual([{ ...group("s1", 7, ["s1b", "s1c"]), learners: [relearning] }]);
  });

  test("a group whose data is lost gets no spare: nobody could give it the data", () => {
    const lost: GroupConfig = {
      ...group("s1", 7, ["s1a"]),
      replicas: [{ ...member("s1a"), folderId: "s1a-disk1" }],
      primary: null,
      primaryNode: null,
      dataLost: true,
    };
    const nodes = [{ ...storage("s1a", ALIVE), folderId: "s1a-disk2" }, spare("x1", ALIVE)];
    const result = plan([lost], nodes, { s1: LONG_AGO });
    expect(result.assignments).toEqual([]);
    expect(result.changes).toEqual([]);
  });

  test("a learner not heard from since a failover may be a spare: no second one meanwhile", () => {
    const s1 = group("s1", 5, ["s1c"], ["x1"]);
    const seeded: StorageNodeStatus = { ...storage("x1", ALIVE), group: "s1" };
    const { spare: _unknown, ...unknown } = seeded;
    const nodes = [storage("s1a", DEAD), storage("s1b", DEAD), storage("s1c", ALIVE), unknown];
    const result = plan([s1], [...nodes, spare("x2", ALIVE)], { s1: LONG_AGO });
    expect(result.assignments).toEqual([]);
  });
});
