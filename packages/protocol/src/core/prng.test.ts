/** The PRNG is deterministic per seed, spreads values evenly, and its helpers keep their ranges. */
import { describe, expect, test } from "bun:test";
import { Prng } from "./prng.ts";

function draw(seed: number, count: number): number[] {
  const prng = new Prng(seed);
  return Array.from({ length: count }, () => prng.nextUint32());
}

describe("Prng", () => {
  test("the same seed gives the same stream; different seeds differ", () => {
    expect(draw(42, 100)).toEqual(draw(42, 100));
    expect(draw(42, 100)).not.toEqual(draw(43, 100));
    expect(draw(2 ** 40 + 1, 10)).not.toEqual(draw(1, 10));
  });

  test("the stream is pinned: a change to the algorithm breaks every recorded seed", () => {
    // Recorded once from this implementation; replays of FTFS_SEED depend on it staying put.
    expect(draw(1, 4)).toEqual(PINNED_SEED_1);
  });

  test("values are uniform enough: every bucket of intBelow(10) gets 10% ± 1%", () => {
    const prng = new Prng(7);
    const buckets = new Array<number>(10).fill(0);
    const draws = 100_000;
    for (let i = 0; i < draws; i += 1) {
      const value = prng.intBelow(10);
      buckets[value] = (buckets[value] ?? 0) + 1;
    }
    for (const count of buckets) expect(Math.abs(count / draws - 0.1)).toBeLessThan(0.01);
  });

  test("nextFloat stays in [0, 1) and chance honours its edges", () => {
    const prng = new Prng(3);
    for (let i = 0; i < 10_000; i += 1) {
      const value = prng.nextFloat();
      expect(value >= 0 && value < 1).toBe(true);
    }
    expect(prng.chance(0)).toBe(false);
    expect(prng.chance(1)).toBe(true);
  });

  test("shuffle is a permutation and is deterministic", () => {
    const a = new Prng(9).shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    const b = new Prng(9).shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(a).toEqual(b);
    expect([...a].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test("pick reaches every item, and refuses an empty list", () => {
    const prng = new Prng(5);
    const seen = new Set(Array.from({ length: 200 }, () => prng.pick(["a", "b", "c"])));
    expect([...seen].sort()).toEqual(["a", "b", "c"]);
    expect(() => prng.pick([])).toThrow();
  });

  test("forks are deterministic and independent of the parent's later draws", () => {
    const parent = new Prng(11);
    const child = parent.fork();
    const again = new Prng(11).fork();
    expect(child.nextUint32()).toBe(again.nextUint32());
  });

  test("intBelow rejects a non-positive bound: that is a caller's bug", () => {
    expect(() => new Prng(1).intBelow(0)).toThrow();
  });
});

const PINNED_SEED_1 = [2442144158, 3238099751, 3819917871, 2104621829];
