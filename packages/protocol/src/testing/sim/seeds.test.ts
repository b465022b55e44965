/** A failing seed is named as FTFS_SEED=<n> in the error, and FTFS_SEED narrows runs to it. */
import { afterEach, describe, expect, test } from "bun:test";
import { forEachSeed, SeedFailure, seedList } from "./seeds.ts";

describe("seeds", () => {
  const saved = process.env.FTFS_SEED;
  afterEach(() => {
    if (saved === undefined) delete process.env.FTFS_SEED;
    else process.env.FTFS_SEED = saved;
  });

  test("the first failing seed is thrown with its replay line", () => {
    const seen: number[] = [];
    let failure: unknown;
    const quiet = console.error;
    console.error = () => {};
    try {
      forEachSeed("demo", [1, 2, 3, 4], (seed) => {
        seen.push(seed);
        return seed === 3 ? ["three is bad"] : [];
      });
    } catch (error) {
      failure = error;
    } finally {
      console.error = quiet;
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(failure).toBeInstanceOf(SeedFailure);
    expect((failure as SeedFailure).message).toContain("FTFS_SEED=3");
    expect((failure as SeedFailure).message).toContain("three is bad");
  });

  test("FTFS_SEED replaces the list with its one seed; a bad value is refused", () => {
    delete process.env.FTFS_SEED;
    expect(seedList(3, 10)).toEqual([10, 11, 12]);
    process.env.FTFS_SEED = "77";
    expect(seedList(3, 10)).toEqual([77]);
    process.env.FTFS_SEED = "seven";
    expect(() => seedList(3)).toThrow("FTFS_SEED must be an integer");
  });
});
