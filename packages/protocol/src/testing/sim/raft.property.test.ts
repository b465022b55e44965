/**
 * Raft's safety properties (election safety, log matching, leader completeness, state-machine
 * safety) and liveness after heal, over a fixed list of seeds on the simulator; see
 * raft-properties.ts for the scenarios and bounds. A failure prints `FTFS_SEED=<n>`:
 * `FTFS_SEED=<n> bun test packages/protocol/src/testing/sim/raft.property.test.ts` replays it.
 */
import { describe, expect, test } from "bun:test";
import {
  membershipChanges,
  noDisruption,
  safetyAndLiveness,
  wipedDisk,
} from "./raft-properties.ts";
import { checkSeededProperty, seedList } from "./seeds.ts";

const PROPERTY_TIMEOUT_MS = 60_000;

describe("raft properties (simulated)", () => {
  test(
    "crashes, pauses, partitions, loss, duplication, reordering: safety holds, then a healed majority commits",
    () => checkSeededProperty("raft safety+liveness", seedList(5_000, 1), safetyAndLiveness),
    PROPERTY_TIMEOUT_MS,
  );

  test(
    "pre-vote: a rejoining or suspicious follower never disrupts a healthy leader; check-quorum: a paused leader is replaced and steps down",
    () => checkSeededProperty("raft no-disruption", seedList(1_000, 100_001), noDisruption),
    PROPERTY_TIMEOUT_MS,
  );

  test(
    "membership changes one server at a time (add learner, promote, remove, the leader too) under the same faults: safety across configurations, then the leader's voters commit",
    () => checkSeededProperty("raft membership", seedList(1_000, 200_001), membershipChanges),
    PROPERTY_TIMEOUT_MS,
  );

  test(
    "a member's disk dies and it comes back empty under its old id: its forgotten votes and acknowledgements never elect a leader missing a committed entry",
    () => checkSeededProperty("raft wiped disk", seedList(1_000, 300_001), wipedDisk),
    PROPERTY_TIMEOUT_MS,
  );

  test("the same seed replays the same history", () => {
    const first = safetyAndLiveness(7);
    expect(safetyAndLiveness(7)).toEqual(first);
  });
});
