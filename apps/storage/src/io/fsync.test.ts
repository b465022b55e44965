/**
 * Property: every fsync through Fsync is told to its observer once, with what it made durable
 * and how long it took by the given clock; a replaced file holds the new text, and no
 * temporary file is left behind. Syncs of one key asked for while one runs share the next,
 * which starts only after it ends; a failed one fails its callers and the next starts afresh.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Fsync, type FsyncTarget, SharedSyncs } from "./fsync.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftfs-fsync-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A clock that moves 2 ms each time it is read: every timing comes out 0.002 s. */
function steppingClock(): () => number {
  let nowMs = 0;
  return () => {
    nowMs += 2;
    return nowMs;
  };
}

function observed(): { fsync: Fsync; seen: Array<[FsyncTarget, number]> } {
  const seen: Array<[FsyncTarget, number]> = [];
  const fsync = new Fsync((target, seconds) => seen.push([target, seconds]), steppingClock());
  return { fsync, seen };
}

test("a file, a folder, a commit and a log are each timed once, under their target", async () => {
  const { fsync, seen } = observed();
  const handle = await open(join(dir, "a"), "w");
  try {
    await handle.writeFile("a");
    await fsync.file(handle);
    await fsync.folder(dir);
    expect(fsync.commit(() => 42, handle.fd)).toBe(42);
    await fsync.log(handle.fd);
  } finally {
    await handle.close();
  }
  expect(seen).toEqual([
    ["file", 0.002],
    ["folder", 0.002],
    ["references", 0.002],
    ["references", 0.002],
  ]);
});

test("a log fsync that fails rejects and is not timed", async () => {
  const { fsync, seen } = observed();
  const handle = await open(join(dir, "b"), "w");
  const fd = handle.fd;
  await handle.close();
  await expect(fsync.log(fd)).rejects.toThrow();
  expect(seen).toEqual([]);
});

test("a replaced file holds the new text; its fsyncs are the file's and the folder's", async () => {
  const { fsync, seen } = observed();
  await fsync.replaceFile(dir, "state.json.tmp", "state.json", "old\n");
  await fsync.replaceFile(dir, "state.json.tmp", "state.json", "new\n");
  expect(await readFile(join(dir, "state.json"), "utf8")).toBe("new\n");
  expect(await readdir(dir)).toEqual(["state.json"]);
  expect(seen.map(([target]) => target)).toEqual(["file", "folder", "file", "folder"]);
});

test("a commit that throws is not timed: the work did not happen", () => {
  const { fsync, seen } = observed();
  expect(() =>
    fsync.commit(() => {
      throw new Error("disk full");
    }, -1),
  ).toThrow("disk full");
  expect(seen).toEqual([]);
});

test("syncs of one key asked for while one runs share the next, started after it", async () => {
  const shared = new SharedSyncs();
  const log: string[] = [];
  const ends: Array<(error?: Error) => void> = [];
  const start = (): Promise<void> => {
    log.push(`start ${ends.length}`);
    return new Promise<void>((resolve, reject) =>
      ends.push((error) => (error === undefined ? resolve() : reject(error))),
    );
  };
  const first = shared.sync("a", start);
  const second = shared.sync("a", start);
  const third = shared.sync("a", start);
  const other = shared.sync("b", start);
  expect(second).toBe(third);
  expect(log).toEqual(["start 0", "start 1"]); // "a" once, "b" once: the rest wait
  ends[0]?.(new Error("EIO"));
  await expect(first).rejects.toThrow("EIO");
  await Bun.sleep(0);
  expect(log).toEqual(["start 0", "start 1", "start 2"]); // the shared one, after the failure
  let secondDone = false;
  void second.then(() => {
    secondDone = true;
  });
  await Bun.sleep(0);
  expect(secondDone).toBe(false);
  ends[2]?.();
  ends[1]?.();
  await Promise.all([second, other]);
  // Idle again: a new caller starts its own.
  void shared.sync("a", start);
  expect(log).toHaveLength(4);
  ends[3]?.();
});

test("concurrent fsyncs of one folder are fewer than their callers, each after its call", async () => {
  const { fsync, seen } = observed();
  await Promise.all(Array.from({ length: 8 }, () => fsync.folder(dir)));
  expect(seen.length).toBeGreaterThanOrEqual(1);
  expect(seen.length).toBeLessThanOrEqual(2);
});
