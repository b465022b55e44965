/**
 * Property: paced work never runs faster than its rate, banks no credit, and batches rests,
 * whether one worker or several share the pacer.
 */
import { expect, test } from "bun:test";
import { Pacer, SharedPacer } from "./pacing.ts";

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

test("shared: four workers finishing together rest for all four items, once each", () => {
  const pacer = new SharedPacer(4 * MIB, 0);
  const resumes = [1, 2, 3, 4].map(() => pacer.done(MIB, 50));
  // 1 s is due for 4 MiB at 4 MiB/s; 50 ms of it was work, the rest is one growing rest.
  expect(resumes).toEqual([250, 500, 750, 1_000]);
  expect(pacer.resumeAtMs).toBe(1_000);
});

test("shared: over a long run the units done stay within the rate", () => {
  const rate = 8 * MIB;
  const pacer = new SharedPacer(rate, 0);
  const workers = [0, 0, 0, 0]; // when each worker is free again
  let units = 0;
  let nowMs = 0;
  for (let item = 0; item < 400; item += 1) {
    const worker = item % workers.length;
    const startMs = Math.max(workers[worker] ?? 0, pacer.resumeAtMs);
    nowMs = startMs + 3 + (item % 7); // each item takes 3..9 ms of transfer
    workers[worker] = nowMs;
    units += 256 * 1024;
    pacer.done(256 * 1024, nowMs);
  }
  const dueMs = (units * 1_000) / rate;
  expect(Math.max(nowMs, pacer.resumeAtMs)).toBeGreaterThanOrEqual(dueMs - 10);
});
