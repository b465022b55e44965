/**
 * The reference and garbage-collection protocol over thousands of seeded histories (see
 * gc-protocol.ts): no chunk of a kept version is ever deleted from an in-sync node, whatever
 * the interleaving of uploads, commits, deletes, notice replays, failovers, GC questions and
 * answers, clock jumps, paused clients and wiped disks; after a heal nothing unreferenced is
 * left. A failure prints `FTFS_SEED=<n>`; `FTFS_SEED=<n> bun test tests/simulation` replays it.
 */
import { expect, test } from "bun:test";
import { forEachSeed, seedList } from "@ftfs/protocol/testing";
import { gcProtocolScenario } from "./gc-protocol.ts";

const PROPERTY_TIMEOUT_MS = 120_000;

test(
  "no kept chunk is ever deleted, and after a heal nothing unreferenced survives",
  () => forEachSeed("gc protocol", seedList(1_000, 1), gcProtocolScenario),
  PROPERTY_TIMEOUT_MS,
);

test("the same seed replays the same history", () => {
  expect(gcProtocolScenario(11)).toEqual(gcProtocolScenario(11));
});
