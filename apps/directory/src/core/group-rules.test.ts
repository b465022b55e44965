/**
 * Group configuration rules: the primary is kept while alive, a dead primary's place goes to
 * the first live in-sync replica in node order (never to a learner), a node outside the in-sync
 * set is a learner until it reports it caught up at the current epoch, the replication factor
 * is the most nodes started for the group ever in sync (former spares and nodes not heard from
 * yet do not raise it), and the epoch moves exactly when the configuration changes. Placement
 * prefers groups with the most room and never offers a group whose primary is dead.
 */
import { describe, expect, test } from "bun:test";
import { groupConfig } from "../testing/fixtures.ts";
import {
  groupConfigChanges,
  nextGroupConfig,
  placementGroups,
  releasedSpare,
  type StorageNodeStatus,
} from "./group-rules.ts";
import type { GroupConfig } from "./model.ts";
import { heartbeatOf, StorageRegistry, type Heartbeat } from "./storage-registry.ts";

const DEAD_AFTER_MS = 3_000;
const NOW_MS = 100_000;
const ALIVE = NOW_MS - 100;
const DEAD = NOW_MS - DEAD_AFTER_MS;

/** Node `s1b` at the address groupConfig gives it, heard from at `heardAtMs`. */
function node(name: string, heardAtMs: number, freeBytes = 1_000): StorageNodeStatus {
  const group = name.slice(0, 2);
  const at = name.charCodeAt(2) - "a".charCodeAt(0);
  return {
    node: name,
    group,
    address: `127.0.0.1:${7200 + at}`,
    capacityBytes: 10_000,
    usedBytes: 10_000 - freeBytes,
    lastHeartbeatMs: heardAtMs,
    spare: false,
  };
}

/**
 * A configuration whose replicas are `nodes`, whose primary is `primary` (or none), whose
 * learners are `learners` (listed since `learnersSince`, by default this epoch), and whose
 * replication factor is `replicationFactor` (or unrecorded).
 */
function config(
  nodes: readonly string[],
  primary: string | null,
  epoch: number,
  learners: readonly string[] = [],
  replicationFactor?: number,
  learnersSince = epoch,
): GroupConfig {
  const all = ["s1a", "s1b", "s1c", "s1d", "s1e"];
  const base = groupConfig("s1", all, epoch, primary === null ? -1 : all.indexOf(primary));
  const members = base.replicas;
  const replicas = members.filter((replica) => nodes.includes(replica.node));
  const caughtUp = members
    .filter((replica) => learners.includes(replica.node))
    .map((replica) => ({ ...replica, since: learnersSince }));
  return {
    ...base,
    replicas,
    ...(caughtUp.length === 0 ? {} : { learners: caughtUp }),
    ...(replicationFactor === undefined ? {} : { replicationFactor }),
  };
}

function synced(status: StorageNodeStatus, epoch: number): StorageNodeStatus {
  return { ...status, syncedEpoch: epoch };
}

interface Case {
  readonly name: string;
  readonly current: GroupConfig | undefined;
  readonly nodes: readonly StorageNodeStatus[];
  readonly expected: GroupConfig;
  readonly changed: boolean;
}

const CASES: readonly Case[] = [
  {
    name: "first heartbeat of a group makes that node primary at epoch 1",
    current: undefined,
    nodes: [node("s1b", ALIVE)],
    expected: config(["s1b"], "s1b", 1, [], 1),
    changed: true,
  },
  {
    name: "nothing changed: same configuration, same epoch",
    current: config(["s1a", "s1b"], "s1b", 4),
    nodes: [node("s1a", ALIVE), node("s1b", ALIVE)],
    expected: config(["s1a", "s1b"], "s1b", 4),
    changed: false,
  },
  {
    name: "a node joins: it is a learner first (primary kept, epoch bumped)",
    current: config(["s1b"], "s1b", 1),
    nodes: [node("s1a", ALIVE), node("s1b", ALIVE)],
    expected: config(["s1b"], "s1b", 2, ["s1a"], 1),
    changed: true,
  },
  {
    name: "a learner that caught up at this epoch joins the in-sync replicas",
    current: config(["s1b"], "s1b", 2, ["s1a"]),
    nodes: [synced(node("s1a", ALIVE), 2), node("s1b", ALIVE)],
    expected: config(["s1a", "s1b"], "s1b", 3, [], 2),
    changed: true,
  },
  {
    name: "a learner that caught up before its current stint stays a learner",
    current: config(["s1b"], "s1b", 3, ["s1a"]),
    nodes: [synced(node("s1a", ALIVE), 2), node("s1b", ALIVE)],
    expected: config(["s1b"], "s1b", 3, ["s1a"]),
    changed: false,
  },
  {
    name: "a learner that caught up in its stint joins though other changes moved the epoch",
    current: config(["s1b", "s1c"], "s1b", 5, ["s1a"], undefined, 2),
    nodes: [synced(node("s1a", ALIVE), 2), node("s1b", ALIVE), node("s1c", ALIVE)],
    expected: config(["s1a", "s1b", "s1c"], "s1b", 6, [], 3),
    changed: true,
  },
  {
    name: "a replica that was dropped and came back is a learner, not in sync",
    current: config(["s1a", "s1c"], "s1a", 4),
    nodes: [node("s1a", ALIVE), node("s1b", ALIVE), node("s1c", ALIVE)],
    expected: config(["s1a", "s1c"], "s1a", 5, ["s1b"], 2),
    changed: true,
  },
  {
    name: "a backup dies: primary kept, backup dropped, epoch bumped",
    current: config(["s1a", "s1b", "s1c"], "s1a", 3),
    nodes: [node("s1a", ALIVE), node("s1b", DEAD), node("s1c", ALIVE)],
    expected: config(["s1a", "s1c"], "s1a", 4, [], 3),
    changed: true,
  },
  {
    name: "the primary dies: the first live in-sync replica is promoted, never a learner",
    current: config(["s1b", "s1c", "s1d"], "s1b", 5, ["s1a"]),
    nodes: [node("s1a", ALIVE), node("s1b", DEAD), node("s1c", ALIVE), node("s1d", ALIVE)],
    expected: config(["s1c", "s1d"], "s1c", 6, ["s1a"], 3, 5),
    changed: true,
  },
  {
    name: "every in-sync replica dead: nobody replaces them; the others wait as learners",
    current: config(["s1a"], "s1a", 2),
    nodes: [node("s1a", DEAD), node("s1c", ALIVE), node("s1b", ALIVE)],
    expected: config(["s1a"], null, 3, ["s1b", "s1c"], 1),
    changed: true,
  },
  {
    name: "an in-sync replica comes back: it is primary again; learners stay learners",
    current: config(["s1a"], null, 3, ["s1b", "s1c"]),
    nodes: [node("s1a", ALIVE), node("s1c", ALIVE), node("s1b", ALIVE)],
    expected: config(["s1a"], "s1a", 4, ["s1b", "s1c"], 1, 3),
    changed: true,
  },
  {
    name: "everyone dead: no primary; the in-sync set is kept for their return",
    current: config(["s1a", "s1b"], "s1a", 7),
    nodes: [node("s1a", DEAD), node("s1b", DEAD)],
    expected: config(["s1a", "s1b"], null, 8, [], 2),
    changed: true,
  },
  {
    name: "still everyone dead: no change",
    current: config([], null, 8),
    nodes: [node("s1a", DEAD)],
    expected: config([], null, 8),
    changed: false,
  },
  {
    name: "a primary that moved to a new address is a change",
    current: config(["s1a"], "s1a", 1),
    nodes: [{ ...node("s1a", ALIVE), address: "127.0.0.1:9999" }],
    expected: {
      ...config(["s1a"], "s1a", 2, [], 1),
      primary: "127.0.0.1:9999",
      replicas: [{ node: "s1a", address: "127.0.0.1:9999" }],
    },
    changed: true,
  },
  {
    name: "a node back after a spare replaced it takes its place: the spare leaves, factor kept",
    current: config(["s1b", "s1c", "s1d"], "s1b", 6, ["s1a"], 3),
    nodes: [
      synced(node("s1a", ALIVE), 6),
      node("s1b", ALIVE),
      node("s1c", ALIVE),
      { ...node("s1d", ALIVE), spare: true },
    ],
    expected: config(["s1a", "s1b", "s1c"], "s1b", 7, [], 3),
    changed: true,
  },
  {
    name: "a spare in sync stays while the group needs it for its factor",
    current: config(["s1b", "s1c", "s1d"], "s1b", 6, ["s1a"], 3),
    nodes: [
      node("s1a", ALIVE),
      node("s1b", ALIVE),
      node("s1c", ALIVE),
      { ...node("s1d", ALIVE), spare: true },
    ],
    expected: config(["s1b", "s1c", "s1d"], "s1b", 6, ["s1a"], 3),
    changed: false,
  },
  {
    name: "a spare still learning leaves once the group is back at its factor without it",
    current: config(["s1b", "s1c"], "s1b", 6, ["s1a", "s1d"], 3),
    nodes: [
      synced(node("s1a", ALIVE), 6),
      node("s1b", ALIVE),
      node("s1c", ALIVE),
      { ...node("s1d", ALIVE), spare: true },
    ],
    expected: config(["s1a", "s1b", "s1c"], "s1b", 7, [], 3),
    changed: true,
  },
  {
    name: "a spare dead while another replaced it is not taken back when it returns",
    current: config(["s1b", "s1c", "s1e"], "s1b", 8, [], 3),
    nodes: [
      node("s1b", ALIVE),
      node("s1c", ALIVE),
      { ...node("s1d", ALIVE), spare: true },
      { ...node("s1e", ALIVE), spare: true },
    ],
    expected: config(["s1b", "s1c", "s1e"], "s1b", 8, [], 3),
    changed: false,
  },
  {
    name: "of two surplus spares in sync, the one that is not primary leaves",
    current: config(["s1a", "s1b", "s1d", "s1e"], "s1d", 8, ["s1c"], 3),
    nodes: [
      node("s1a", ALIVE),
      node("s1b", ALIVE),
      node("s1c", ALIVE),
      { ...node("s1d", ALIVE), spare: true },
      { ...node("s1e", ALIVE), spare: true },
    ],
    expected: config(["s1a", "s1b", "s1d"], "s1d", 9, ["s1c"], 3, 8),
    changed: true,
  },
  {
    name: "a node not heard from since a failover is never released (it may be a spare or not)",
    current: config(["s1a", "s1b", "s1c", "s1d"], "s1a", 8, [], 3),
    nodes: [
      node("s1a", ALIVE),
      node("s1b", ALIVE),
      node("s1c", ALIVE),
      unknown(node("s1d", ALIVE)),
    ],
    expected: config(["s1a", "s1b", "s1c", "s1d"], "s1a", 8, [], 3),
    changed: false,
  },
  {
    name: "nodes not heard from since a failover do not raise it; once they speak, they do",
    current: config(["s1a", "s1b"], "s1a", 2, ["s1c"], 2),
    nodes: [
      unknown(node("s1a", ALIVE)),
      unknown(node("s1b", ALIVE)),
      synced(node("s1c", ALIVE), 2),
    ],
    expected: config(["s1a", "s1b", "s1c"], "s1a", 3, [], 2),
    changed: true,
  },
  {
    name: "... and once they speak, the replication factor rises (a change of its own)",
    current: config(["s1a", "s1b", "s1c"], "s1a", 3, [], 2),
    nodes: [node("s1a", ALIVE), node("s1b", ALIVE), node("s1c", ALIVE)],
    expected: config(["s1a", "s1b", "s1c"], "s1a", 4, [], 3),
    changed: true,
  },
];

/** A node seeded from a recorded configuration: whether it is a spare is not known yet. */
function unknown(status: StorageNodeStatus): StorageNodeStatus {
  const { spare: _unknown, ...rest } = status;
  return rest;
}

describe("nextGroupConfig", () => {
  for (const each of CASES) {
    test(each.name, () => {
      const next = nextGroupConfig(each.current, "s1", each.nodes, NOW_MS, DEAD_AFTER_MS);
      expect(next).toEqual(each.expected);
      expect(next === each.current).toBe(!each.changed);
    });
  }
});

describe("releasedSpare", () => {
  const current = config(["s1b", "s1c", "s1e"], "s1b", 8, [], 3);
  const spare = { ...node("s1d", ALIVE), spare: true };
  const nodes = [
    node("s1b", ALIVE),
    node("s1c", ALIVE),
    spare,
    { ...node("s1e", ALIVE), spare: true },
  ];

  test("a spare naming a full group that does not list it is released", () => {
    expect(releasedSpare(current, spare, nodes, NOW_MS, DEAD_AFTER_MS)).toBe(true);
  });

  test("not while the group lists it, needs it, or has no primary; never a node started for it", () => {
    const listed = config(["s1b", "s1c", "s1d"], "s1b", 8, [], 3);
    expect(releasedSpare(listed, spare, nodes, NOW_MS, DEAD_AFTER_MS)).toBe(false);
    const short = [node("s1b", ALIVE), node("s1c", ALIVE), spare];
    const needing = config(["s1b", "s1c"], "s1b", 8, [], 3);
    expect(releasedSpare(needing, spare, short, NOW_MS, DEAD_AFTER_MS)).toBe(false);
    const deadAll = [
      node("s1b", DEAD),
      node("s1c", DEAD),
      spare,
      { ...node("s1e", DEAD), spare: true },
    ];
    expect(releasedSpare(current, spare, deadAll, NOW_MS, DEAD_AFTER_MS)).toBe(false);
    const own = node("s1d", ALIVE);
    expect(releasedSpare(current, own, nodes, NOW_MS, DEAD_AFTER_MS)).toBe(false);
  });
});

describe("groupConfigChanges", () => {
  test("lists only groups that change, sorted; ignores a new group with no live node", () => {
    const configs = [config(["s1a"], "s1a", 1)];
    const nodes = [node("s1a", ALIVE), node("s2a", ALIVE), node("s3a", DEAD)];
    const changes = groupConfigChanges(configs, nodes, NOW_MS, DEAD_AFTER_MS);
    expect(changes.map((change) => [change.group, change.epoch, change.primaryNode])).toEqual([
      ["s2", 1, "s2a"],
    ]);
  });
});

describe("placementGroups", () => {
  test("most free room first (the fullest live replica counts); dead primaries never", () => {
    const configs = [
      { ...groupConfig("s1", ["s1a", "s1b"]) },
      { ...groupConfig("s2", ["s2a"]) },
      { ...groupConfig("s3", ["s3a"]) },
    ];
    const nodes = [
      node("s1a", ALIVE, 900),
      node("s1b", ALIVE, 50),
      node("s2a", ALIVE, 500),
      node("s3a", DEAD, 9_000),
    ];
    expect(
      placementGroups(configs, nodes, NOW_MS, DEAD_AFTER_MS).map((view) => view.group),
    ).toEqual(["s2", "s1"]);
  });
});

describe("StorageRegistry", () => {
  test("when full, the longest-silent dead node makes room; all alive means TOO_BUSY", () => {
    const registry = new StorageRegistry(2, DEAD_AFTER_MS);
    const beat = (name: string): Heartbeat => {
      const { node: id, group, address, capacityBytes, usedBytes } = node(name, 0);
      return { node: id, group, address, capacityBytes, usedBytes };
    };
    expect(registry.record(beat("s1a"), 0).ok).toBe(true);
    expect(registry.record(beat("s1b"), 10).ok).toBe(true);
    const busy = registry.record(beat("s1c"), 20);
    expect(busy.ok ? "" : busy.error.code).toBe("TOO_BUSY");
    expect(registry.record(beat("s1c"), DEAD_AFTER_MS + 5).ok).toBe(true);
    expect(registry.list().map((status) => status.node)).toEqual(["s1b", "s1c"]);
  });

  test("evidence that a node is down is kept as such, keeps its last heartbeat, and a beat clears it", () => {
    const registry = new StorageRegistry(10, DEAD_AFTER_MS);
    const { node: id, group, address, capacityBytes, usedBytes } = node("s1a", 0);
    const beat: Heartbeat = { node: id, group, address, capacityBytes, usedBytes };
    expect(registry.record(beat, NOW_MS).ok).toBe(true);
    expect(registry.markDown("s1a", NOW_MS + 10, "gossip: dead")).toBe(true);
    expect(registry.get("s1a")).toMatchObject({
      lastHeartbeatMs: NOW_MS,
      down: { evidence: "gossip: dead", atMs: NOW_MS + 10 },
    });
    expect(registry.isAlive("s1a", NOW_MS + 11)).toBe(false);
    // Already down: nothing new to act on.
    expect(registry.markDown("s1a", NOW_MS + 12, "its port refused a connection")).toBe(false);
    expect(registry.record(beat, NOW_MS + 20).ok).toBe(true);
    expect(registry.get("s1a")?.down).toBeUndefined();
    expect(registry.isAlive("s1a", NOW_MS + 21)).toBe(true);
  });

  test("seeding from a recorded configuration gives its nodes one timeout to speak up", () => {
    const registry = new StorageRegistry(10, DEAD_AFTER_MS);
    registry.seed(config(["s1a", "s1b"], "s1a", 3), NOW_MS);
    expect(registry.isAlive("s1a", NOW_MS + DEAD_AFTER_MS - 1)).toBe(true);
    expect(registry.isAlive("s1a", NOW_MS + DEAD_AFTER_MS)).toBe(false);
  });
});

/**
 * A member is its data folder: a node back on a new folder (its disk wiped) is a new member,
 * a learner until it caught up; when every in-sync node is back on a new folder the group
 * says its data is lost and waits, with no primary, for a recorded folder to return.
 */
describe("nextGroupConfig with data folders", () => {
  /** A node, its folder numbered `disk` (a wiped disk comes back with the next number). */
  interface Listed {
    readonly node: string;
    readonly disk?: number;
    readonly since?: number;
  }

  function folder(name: string, disk: number): string {
    return `${name}-disk${disk}`;
  }

  function address(name: string): string {
    return `127.0.0.1:${7200 + name.charCodeAt(2) - "a".charCodeAt(0)}`;
  }

  function member(listed: Listed): { node: string; address: string; folderId?: string } {
    return {
      node: listed.node,
      address: address(listed.node),
      ...(listed.disk === undefined ? {} : { folderId: folder(listed.node, listed.disk) }),
    };
  }

  function view(spec: {
    readonly epoch: number;
    readonly primary: string | null;
    readonly inSync: readonly Listed[];
    readonly learners?: readonly Listed[];
    readonly replicationFactor: number;
    readonly dataLost?: true;
  }): GroupConfig {
    const learners = (spec.learners ?? []).map((listed) => ({
      ...member(listed),
      since: listed.since ?? spec.epoch,
    }));
    return {
      group: "s1",
      epoch: spec.epoch,
      primary: spec.primary === null ? null : address(spec.primary),
      primaryNode: spec.primary,
      replicas: spec.inSync.map(member),
      ...(learners.length === 0 ? {} : { learners }),
      replicationFactor: spec.replicationFactor,
      ...(spec.dataLost === undefined ? {} : { dataLost: spec.dataLost }),
    };
  }

  function on(name: string, disk: number, heardAtMs = ALIVE): StorageNodeStatus {
    return { ...node(name, heardAtMs), folderId: folder(name, disk) };
  }

  const THREE_IN_SYNC = view({
    epoch: 3,
    primary: "s1a",
    inSync: [
      { node: "s1a", disk: 1 },
      { node: "s1b", disk: 1 },
      { node: "s1c", disk: 1 },
    ],
    replicationFactor: 3,
  });

  const ALL_LOST = view({
    epoch: 6,
    primary: null,
    inSync: [
      { node: "s1a", disk: 1 },
      { node: "s1b", disk: 1 },
    ],
    learners: [{ node: "s1c", disk: 1 }],
    replicationFactor: 2,
    dataLost: true,
  });

  const FOLDER_CASES: readonly Case[] = [
    {
      name: "a new group records each node's folder",
      current: undefined,
      nodes: [on("s1a", 1), on("s1b", 1)],
      expected: view({
        epoch: 1,
        primary: "s1a",
        inSync: [
          { node: "s1a", disk: 1 },
          { node: "s1b", disk: 1 },
        ],
        replicationFactor: 2,
      }),
      changed: true,
    },
    {
      name: "every node on its recorded folder: no change",
      current: THREE_IN_SYNC,
      nodes: [on("s1a", 1), on("s1b", 1), on("s1c", 1)],
      expected: THREE_IN_SYNC,
      changed: false,
    },
    {
      name: "a wiped in-sync backup is a learner: primary kept, its slot gone, epoch bumped",
      current: THREE_IN_SYNC,
      nodes: [on("s1a", 1), on("s1b", 1), on("s1c", 2)],
      expected: view({
        epoch: 4,
        primary: "s1a",
        inSync: [
          { node: "s1a", disk: 1 },
          { node: "s1b", disk: 1 },
        ],
        learners: [{ node: "s1c", disk: 2 }],
        replicationFactor: 3,
      }),
      changed: true,
    },
    {
      name: "a wiped primary is a learner; another in-sync node is promoted",
      current: THREE_IN_SYNC,
      nodes: [on("s1a", 2), on("s1b", 1), on("s1c", 1)],
      expected: view({
        epoch: 4,
        primary: "s1b",
        inSync: [
          { node: "s1b", disk: 1 },
          { node: "s1c", disk: 1 },
        ],
        learners: [{ node: "s1a", disk: 2 }],
        replicationFactor: 3,
      }),
      changed: true,
    },
    {
      name: "the wiped node that caught up on its new folder joins with that folder",
      current: view({
        epoch: 4,
        primary: "s1a",
        inSync: [
          { node: "s1a", disk: 1 },
          { node: "s1b", disk: 1 },
        ],
        learners: [{ node: "s1c", disk: 2 }],
        replicationFactor: 3,
      }),
      nodes: [on("s1a", 1), on("s1b", 1), synced(on("s1c", 2), 4)],
      expected: view({
        epoch: 5,
        primary: "s1a",
        inSync: [
          { node: "s1a", disk: 1 },
          { node: "s1b", disk: 1 },
          { node: "s1c", disk: 2 },
        ],
        replicationFactor: 3,
      }),
      changed: true,
    },
    {
      name: "a learner back on a new folder starts its stint over (its old progress is gone)",
      current: view({
        epoch: 5,
        primary: "s1a",
        inSync: [{ node: "s1a", disk: 1 }],
        learners: [{ node: "s1b", disk: 1, since: 2 }],
        replicationFactor: 1,
      }),
      nodes: [on("s1a", 1), synced(on("s1b", 2), 2)],
      expected: view({
        epoch: 6,
        primary: "s1a",
        inSync: [{ node: "s1a", disk: 1 }],
        learners: [{ node: "s1b", disk: 2, since: 6 }],
        replicationFactor: 1,
      }),
      changed: true,
    },
    {
      name: "every in-sync node back on a new folder: data lost, no primary, nobody promoted",
      current: view({
        epoch: 5,
        primary: "s1a",
        inSync: [
          { node: "s1a", disk: 1 },
          { node: "s1b", disk: 1 },
        ],
        replicationFactor: 2,
      }),
      nodes: [on("s1a", 2), on("s1b", 2), on("s1c", 1)],
      expected: ALL_LOST,
      changed: true,
    },
    {
      name: "data lost, still: no change, even when the new folders report they caught up",
      current: ALL_LOST,
      nodes: [synced(on("s1a", 2), 6), synced(on("s1b", 2), 6), synced(on("s1c", 1), 6)],
      expected: ALL_LOST,
      changed: false,
    },
    {
      name: "a recorded folder comes back (a disk remounted): in sync, primary, data found",
      current: ALL_LOST,
      nodes: [on("s1a", 1), on("s1b", 2), on("s1c", 1)],
      expected: view({
        epoch: 7,
        primary: "s1a",
        inSync: [{ node: "s1a", disk: 1 }],
        learners: [
          { node: "s1b", disk: 2, since: 7 },
          { node: "s1c", disk: 1, since: 6 },
        ],
        replicationFactor: 2,
      }),
      changed: true,
    },
    {
      name: "one in-sync node wiped, the other dead: the group waits, not yet data lost",
      current: view({
        epoch: 5,
        primary: "s1a",
        inSync: [
          { node: "s1a", disk: 1 },
          { node: "s1b", disk: 1 },
        ],
        replicationFactor: 2,
      }),
      nodes: [on("s1a", 2), on("s1b", 1, DEAD)],
      expected: view({
        epoch: 6,
        primary: null,
        inSync: [
          { node: "s1a", disk: 1 },
          { node: "s1b", disk: 1 },
        ],
        replicationFactor: 2,
      }),
      changed: true,
    },
    {
      name: "a node of an older build (no folder id) is judged by node id, as before",
      current: THREE_IN_SYNC,
      nodes: [on("s1a", 1), node("s1b", ALIVE), on("s1c", 1)],
      expected: THREE_IN_SYNC,
      changed: false,
    },
    {
      name: "a record with no folder id (an older build) takes the one the node now reports",
      current: config(["s1a", "s1b"], "s1a", 2, [], 2),
      nodes: [on("s1a", 1), node("s1b", ALIVE)],
      expected: view({
        epoch: 3,
        primary: "s1a",
        inSync: [{ node: "s1a", disk: 1 }, { node: "s1b" }],
        replicationFactor: 2,
      }),
      changed: true,
    },
  ];

  for (const each of FOLDER_CASES) {
    test(each.name, () => {
      const next = nextGroupConfig(each.current, "s1", each.nodes, NOW_MS, DEAD_AFTER_MS);
      expect(next).toEqual(each.expected);
      expect(next === each.current).toBe(!each.changed);
    });
  }

  test("a node not heard from since a failover keeps its recorded folder", () => {
    const registry = new StorageRegistry(10, DEAD_AFTER_MS);
    registry.seed(THREE_IN_SYNC, NOW_MS);
    const seeded = registry.list();
    expect(seeded.map((status) => status.folderId)).toEqual([undefined, undefined, undefined]);
    expect(nextGroupConfig(THREE_IN_SYNC, "s1", seeded, NOW_MS, DEAD_AFTER_MS)).toBe(THREE_IN_SYNC);
  });

  test("a heartbeat carries the folder id into the registry", () => {
    const beat = heartbeatOf({
      node: "s1a",
      group: "s1",
      address: address("s1a"),
      capacityBytes: 1,
      usedBytes: 0,
      folderId: folder("s1a", 1),
    });
    expect(beat.ok ? beat.value.folderId : null).toBe(folder("s1a", 1));
  });
});
