/**
 * Property: a journal on disk reads back what was written, at once or not; pruning removes
 * only journals no run can resume (past their deadline, or unreadable), never another file.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uploadIdWithDeadline } from "@ftfs/protocol/core";
import { fileJournal, pruneJournals } from "./upload-journal.ts";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

const NOW_MS = Date.now();
const HOUR_MS = 3_600_000;

function begin(folder: string, path: string, deadlineMs: number) {
  const journal = fileJournal(folder, { uid: "alice", name: "x" }, path);
  journal.begin({
    uid: "alice",
    name: "x",
    source: { path, bytes: 1, mtimeUs: 1, inode: 1 },
    uploadId: uploadIdWithDeadline(deadlineMs, path.replace(/\W/g, "")),
    chunkBytes: 1,
    groups: ["s1"],
    tickets: [],
  });
  journal.stored(uploadIdWithDeadline(deadlineMs, path.replace(/\W/g, "")), {
    index: 0,
    id: "a".repeat(64),
    bytes: 1,
    group: "s1",
  });
  return journal;
}

test("written, read back, and pruned once past its deadline", async () => {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-journal-"));
  folders.push(folder);
  const live = begin(folder, "/data/live.bin", NOW_MS + HOUR_MS);
  begin(folder, "/data/old.bin", NOW_MS - HOUR_MS);
  expect((await live.load())?.chunks.size).toBe(1);
  expect(live.loadNow()?.chunks.size).toBe(1);
  await writeFile(join(folder, "damaged.upload.jsonl"), "{not json\n");
  await writeFile(join(folder, "notes.txt"), "not a journal\n");
  expect(await pruneJournals(folder, NOW_MS, 64)).toBe(2);
  const left = await readdir(folder);
  expect(left.sort()).toEqual([expect.stringMatching(/\.upload\.jsonl$/), "notes.txt"]);
  expect((await live.load())?.chunks.size).toBe(1);
  expect(await pruneJournals(join(folder, "missing"), NOW_MS, 64)).toBe(0);
});
