/**
 * The directory group's per-file linearizability, on the simulator: real DirectoryReplicas
 * (core/replica.ts, the real state machine) under crashes, pauses, partitions with clients on
 * either side, one-way cuts, false suspicions, loss, duplication and reordering; see
 * directory-replica.ts. A failure prints `FTFS_SEED=<n>`:
 * `FTFS_SEED=<n> bun test tests/simulation/directory-replica.property.test.ts` replays it.
 */
import { expect, test } from "bun:test";
import { checkSeededProperty, seedList } from "@ftfs/protocol/testing";
import { directoryLinearizability } from "./directory-replica.ts";

const SEEDS_IN_CI = 300;
const PROPERTY_TIMEOUT_MS = 240_000;

test(
  "every client's view of the directory is linearizable per file, and the replicas converge",
  () => {
    let ops = 0;
    checkSeededProperty("directory linearizability", seedList(SEEDS_IN_CI), (seed) => {
      const outcome = directoryLinearizability(seed);
      ops += outcome.ops;
      return outcome;
    });
    // A schedule whose clients got nothing done checks nothing: the load must be real.
    expect(ops / seedList(SEEDS_IN_CI).length).toBeGreaterThan(50);
  },
  PROPERTY_TIMEOUT_MS,
);

test("the same seed replays the same history", () => {
  const first = directoryLinearizability(3);
  expect(directoryLinearizability(3)).toEqual(first);
  expect(first.ops).toBeGreaterThan(0);
});
