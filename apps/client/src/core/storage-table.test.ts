/** `ftfs admin storage ls` and the drain's progress, from a status answer. */
import { describe, expect, test } from "bun:test";
import type { MemberView } from "@ftfs/protocol/core";
import { drainProgress, formatStorageNodes } from "./storage-table.ts";

describe("admin storage ls", () => {
  const node = (name: string, usedBytes: number, group: string | null): MemberView => ({
    node: name,
    role: "storage",
    group,
    address: "127.0.0.1:1",
    state: "alive",
    incarnation: 1,
    primary: false,
    epoch: 3,
    usedBytes,
    capacityBytes: 1024 * 1024,
  });

  test("each node's part in its group, used and free, and a catch-up's share of the primary", () => {
    const table = formatStorageNodes({
      node: "d1",
      unreachable: [],
      members: [
        node("s1c", 256 * 1024, "s1"),
        node("s1a", 1024 * 512, "s1"),
        node("s1b", 1024 * 512, "s1"),
        node("x1", 0, null),
      ],
      groups: [
        {
          group: "s1",
          epoch: 3,
          primary: "127.0.0.1:1",
          primaryNode: "s1a",
          replicas: [
            { node: "s1a", address: "127.0.0.1:1" },
            { node: "s1b", address: "127.0.0.1:1" },
          ],
          learners: [{ node: "s1c", address: "127.0.0.1:1" }],
          replicationFactor: 3,
        },
      ],
    });
    const rows = table.split("\n").map((line) => line.split(/\s{2,}/));
    expect(rows.slice(1)).toEqual([
      ["s1a", "s1", "primary", "alive", "512.0 KiB", "512.0 KiB", "-"],
      ["s1b", "s1", "in sync", "alive", "512.0 KiB", "512.0 KiB", "-"],
      ["s1c", "s1", "catching up", "alive", "256.0 KiB", "768.0 KiB", "50%"],
      ["x1", "-", "spare", "alive", "0 B", "1.0 MiB", "-"],
    ]);
  });

  const drainingGroup = (learners: readonly string[], replicas: readonly string[]) => ({
    group: "s1",
    epoch: 9,
    primary: "127.0.0.1:1",
    primaryNode: "s1b",
    replicas: replicas.map((name) => ({ node: name, address: "127.0.0.1:1" })),
    learners: learners.map((name) => ({ node: name, address: "127.0.0.1:1" })),
    replicationFactor: 3,
    draining: ["s1a"],
  });
  const members = [
    node("s1a", 1024 * 512, "s1"),
    node("s1b", 1024 * 512, "s1"),
    node("s1c", 1024 * 512, "s1"),
    node("x1", 1024 * 128, "s1"),
  ];

  test("a draining node names the node copying in its place, its share and time left", () => {
    const status = {
      node: "d1",
      unreachable: [],
      members,
      groups: [drainingGroup(["x1"], ["s1a", "s1b", "s1c"])],
    };
    const catchUps = [
      { group: "s1", node: "x1", heldBytes: 1, targetBytes: 4, bytesPerS: 1, etaS: 12 },
    ];
    const rows = formatStorageNodes(status, catchUps)
      .split("\n")
      .map((line) => line.split(/\s{2,}/));
    expect(rows[1]).toEqual([
      "s1a",
      "s1",
      "draining",
      "alive",
      "512.0 KiB",
      "512.0 KiB",
      "x1 copying 25% ETA 12 s",
    ]);
    expect(rows[4]).toEqual([
      "x1",
      "s1",
      "catching up",
      "alive",
      "128.0 KiB",
      "896.0 KiB",
      "25% ETA 12 s",
    ]);
    expect(drainProgress(status, "s1a", catchUps)).toEqual({
      kind: "copying",
      group: "s1",
      to: "x1",
      percent: 25,
      etaS: 12,
    });
    expect(drainProgress(status, "s1b")).toBeNull();
  });

  test("waiting for a spare; then drained: out of the group, safe to stop", () => {
    const waiting = {
      node: "d1",
      unreachable: [],
      members,
      groups: [drainingGroup([], ["s1a", "s1b", "s1c"])],
    };
    expect(drainProgress(waiting, "s1a")).toEqual({ kind: "waitingForSpare", group: "s1" });
    const drained = {
      node: "d1",
      unreachable: [],
      members,
      groups: [drainingGroup([], ["s1b", "s1c", "x1"])],
    };
    expect(drainProgress(drained, "s1a")).toEqual({ kind: "drained", group: "s1" });
    const rows = formatStorageNodes(drained)
      .split("\n")
      .map((line) => line.split(/\s{2,}/));
    expect(rows[1]).toEqual([
      "s1a",
      "s1",
      "drained",
      "alive",
      "512.0 KiB",
      "512.0 KiB",
      "safe to stop",
    ]);
  });
});
