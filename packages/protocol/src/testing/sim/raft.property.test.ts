/**
 * Raft's safety properties (election safety, log matching, leader completeness, state-machine
 * safety) and liveness after heal, over a fixed list of seeds on the simulator; see
 * raft-properties.ts for the scenarios and bounds. A failure prints `FTFS_SEED=<n>`:
 * `FTFS_SEED=<n> bun test packages/protocol/src/testing/sim/raft.property.test.ts` replays it.
 */
import { describe, expect, test } from "bun:test";
import {
  noDisruption,
  safetyAndLiveness,
  type RaftScenarioResult,
} from "./raft-properties.ts";
import { forEachSeed, seedList } from "./seeds.ts";
import { median } from "./swim-properties.ts";

const PROPERTY_TIMEOUT_MS = 60_000;

function checkProperty(
  name: string,
  seeds: readonly number[],
  run: (seed: number) => RaftScenarioResult,
) {
  const measured: Record<string, number[]> = {};
  forEachSeed(name, seeds, (seed) => {
    const outcome = run(seed);
    for (const [key, value] of Object.entries(outcome.measuredMs))
      (measured[key] ??= []).push(value);
    return outcome.problems;
  });
  const summary = Object.entries(measured).map(
    ([key, values]) =>
      `${key} median ${median(values)} ms, max ${Math.max(...values)} ms`,
  );
  console.log(`${name} over ${seeds.length} seeds: ${summary.join("; ")}`);
}

describe("raft properties (simulated)", () => {
  test(
    "crashes, pauses, partitions, loss, duplication, reordering: safety holds, then a healed majority commits",
    () =>
      checkProperty(
        "raft safety+liveness",
        seedList(600, 1),
        safetyAndLiveness,
      ),
    PROPERTY_TIMEOUT_MS,
  );

  test(
    "pre-vote: a rejoining or suspicious follower never disrupts a healthy leader; check-quorum: a paused leader is replaced and steps down",
    () =>
      checkProperty("raft no-disruption", seedList(100, 100_001), noDisruption),
    PROPERTY_TIMEOUT_MS,
  );

  test("the same seed replays the same history", () => {
    const first = safetyAndLiveness(7);
    expect(safetyAndLiveness(7)).toEqual(first);
  });
});
