/**
 * An interrupted snapshot-image transfer resumes and never installs a torn or forged image:
 * see snapshot-transfer.ts for the faults and the properties. A failure prints `FTFS_SEED=<n>`.
 */
import { describe, expect, test } from "bun:test";
import { checkSeededProperty, seedList } from "./seeds.ts";
import { interruptedTransfer } from "./snapshot-transfer.ts";

const PROPERTY_TIMEOUT_MS = 60_000;

describe("snapshot image transfer (simulated)", () => {
  test(
    "dropped links, torn and duplicated parts, a lying sender, receiver crashes: resumes from its durable parts, installs only the sender's image, one part in flight",
    () =>
      checkSeededProperty("snapshot transfer", seedList(500, 300_001), (seed) => ({
        problems: interruptedTransfer(seed).problems,
        measuredMs: {},
      })),
    PROPERTY_TIMEOUT_MS,
  );

  test("faults do interrupt transfers: some seeds need many steps before they finish", () => {
    const steps = seedList(50, 300_001).map((seed) => interruptedTransfer(seed).faultySteps);
    expect(steps.some((count) => count >= 400)).toBe(true);
  });

  test("the same seed replays the same transfer", () => {
    expect(interruptedTransfer(11)).toEqual(interruptedTransfer(11));
  });
});
