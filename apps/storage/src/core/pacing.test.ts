/** Property: paced work never runs faster than its rate, banks no credit, and batches rests. */
import { expect, test } from "bun:test";
import { Pacer } from "./pacing.ts";

const MIB = 1024 * 1024;

test("a 4 MiB chunk at 32 MiB/s takes 125 ms; time already spent counts", () => {
  const pacer = new Pacer(32 * MIB);
  expect(pacer.after(4 * MIB, 25)).toBe(100);
  expect(pacer.after(4 * MIB, 125)).toBe(0);
});

test("work slower than its rate earns no later burst", () => {
  const pacer = new Pacer(1_000);
  expect(pacer.after(100, 500)).toBe(0); // 100 ms due, 500 ms spent
  expect(pacer.after(100, 0)).toBe(100);
});

test("rests below the least sleep are owed, then taken together", () => {
  const pacer = new Pacer(1_000, 10);
  const rests = Array.from({ length: 10 }, () => pacer.after(3, 0));
  expect(rests).toEqual([0, 0, 0, 12, 0, 0, 0, 12, 0, 0]);
});

test("over many items the total rest is the work's due time", () => {
  const pacer = new Pacer(2_000);
  let restedMs = 0;
  for (let item = 0; item < 1_000; item += 1) restedMs += pacer.after(1, 0.1);
  // 500 ms due, 100 ms spent working; what is still owed is under the least sleep (10 ms).
  expect(restedMs).toBeGreaterThan(400 - 10);
  expect(restedMs).toBeCloseTo(400, 0);
});
