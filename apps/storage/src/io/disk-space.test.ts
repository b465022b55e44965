/**
 * Property: the first sample is taken before DiskSpace answers; a refresh shows its sample
 * once taken, runs one statfs at a time, and a failed one keeps the last good sample. The real
 * statfs of a temporary folder reports some free bytes, no more than the file system's size.
 */
import { expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { createMemoryLogger } from "@ftfs/protocol/io";
import { type DiskSample, DiskSpace } from "./disk-space.ts";

/** A file system whose answers the test hands out one at a time. */
function scriptedStatFs(): {
  read: (path: string) => Promise<DiskSample>;
  answer: (sample: DiskSample | Error) => void;
  calls: () => number;
} {
  const waiting: Array<(sample: DiskSample | Error) => void> = [];
  let calls = 0;
  return {
    read: () => {
      calls += 1;
      return new Promise((resolve, reject) =>
        waiting.push((sample) => (sample instanceof Error ? reject(sample) : resolve(sample))),
      );
    },
    answer: (sample) => waiting.shift()?.(sample),
    calls: () => calls,
  };
}

test("a refresh shows its sample once taken, one at a time; a failure keeps the last", async () => {
  const fs = scriptedStatFs();
  const opening = DiskSpace.open("/data", createMemoryLogger(), fs.read);
  fs.answer({ freeBytes: 900, sizeBytes: 1000 });
  const disk = await opening;
  expect(disk.sample).toEqual({ freeBytes: 900, sizeBytes: 1000 });
  disk.refresh();
  disk.refresh(); // one already under way: no second statfs
  expect(fs.calls()).toBe(2);
  expect(disk.sample.freeBytes).toBe(900);
  fs.answer({ freeBytes: 800, sizeBytes: 1000 });
  await Bun.sleep(0);
  expect(disk.sample.freeBytes).toBe(800);
  disk.refresh();
  fs.answer(new Error("EIO"));
  await Bun.sleep(0);
  expect([disk.sample.freeBytes, disk.failures]).toEqual([800, 1]);
  disk.refresh();
  expect(fs.calls()).toBe(4);
});

test("the real statfs reports free bytes within the file system's size", async () => {
  const disk = await DiskSpace.open(tmpdir(), createMemoryLogger());
  expect(disk.sample.freeBytes).toBeGreaterThan(0);
  expect(disk.sample.sizeBytes).toBeGreaterThanOrEqual(disk.sample.freeBytes);
});
