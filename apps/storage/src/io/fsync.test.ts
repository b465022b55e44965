/**
 * Property: every fsync through Fsync is told to its observer once, with what it made durable
 * and how long it took by the given clock; a replaced file holds the new text, and no
 * temporary file is left behind.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Fsync, type FsyncTarget } from "./fsync.ts";

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
