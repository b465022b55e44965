/**
 * Property: scrubbing charges small chunks a minimum cost; rot and lost files are always
 * repaired, a chunk merely absent only when a reference says it was stored here; a repair
 * fetches from the primary first and never from this node.
 */
import { expect, test } from "bun:test";
import type { GroupView } from "@ftfs/protocol/core";
import { SCRUB_CHUNK_COST_BYTES_MIN } from "./limits.ts";
import { repairSources, repairWanted, scrubCostBytes } from "./scrub-rules.ts";

const VIEW: GroupView = {
  group: "s1",
  epoch: 3,
  primary: "127.0.0.1:7112",
  primaryNode: "s1b",
  replicas: [
    { node: "s1a", address: "127.0.0.1:7111" },
    { node: "s1b", address: "127.0.0.1:7112" },
    { node: "s1c", address: "127.0.0.1:7113" },
  ],
};

test("a chunk costs its bytes, at least the minimum", () => {
  expect(scrubCostBytes(4 * 1024 * 1024)).toBe(4 * 1024 * 1024);
  expect(scrubCostBytes(1)).toBe(SCRUB_CHUNK_COST_BYTES_MIN);
});

test("rot and missing files are repaired; an absent chunk only if referenced here", () => {
  expect(repairWanted("rot", 0)).toBe(true);
  expect(repairWanted("missing", 0)).toBe(true);
  expect(repairWanted("absent", 0)).toBe(false);
  expect(repairWanted("absent", 2)).toBe(true);
});

test("repair sources: the primary first, then the others, never ourselves", () => {
  expect(repairSources(VIEW, "s1a").map((replica) => replica.node)).toEqual(["s1b", "s1c"]);
  expect(repairSources(VIEW, "s1b").map((replica) => replica.node)).toEqual(["s1a", "s1c"]);
  expect(repairSources({ ...VIEW, primaryNode: null, primary: null }, "s1c")).toEqual([
    { node: "s1a", address: "127.0.0.1:7111" },
    { node: "s1b", address: "127.0.0.1:7112" },
  ]);
  expect(repairSources(null, "s1a")).toEqual([]);
});
