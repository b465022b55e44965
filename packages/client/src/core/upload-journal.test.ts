/**
 * Property: a journal reads back what was written; a torn last line, a line of another upload,
 * a repeated index or a damaged line is skipped, never fatal; a damaged start line means no
 * journal; a resume is allowed only for the same user, name and file, with its deadline far
 * enough ahead and something stored.
 */
import { expect, test } from "bun:test";
import { uploadIdWithDeadline } from "@ftfs/protocol/core";
import {
  chunkLine,
  judgeResume,
  parseJournal,
  startLine,
  type JournalStart,
} from "./upload-journal.ts";

const NOW_MS = 1_800_000_000_000;
const HOUR_MS = 3_600_000;
const ID_A = "a".repeat(64);
const ID_B = "b".repeat(64);
const RECEIPT = `0123abcd.${"A".repeat(22)}`;

function start(deadlineMs = NOW_MS + HOUR_MS): JournalStart {
  return {
    uid: "alice",
    name: "big.bin",
    source: { path: "/home/alice/big.bin", bytes: 10, mtimeUs: 1_700_000_000_123_456, inode: 42 },
    uploadId: uploadIdWithDeadline(deadlineMs, "xyz"),
    chunkBytes: 4,
    groups: ["s1", "s2"],
    tickets: [],
  };
}

test("what was written reads back; damage and other runs' lines are skipped", () => {
  const begun = start();
  const text = [
    startLine(begun),
    chunkLine(begun.uploadId, { index: 0, id: ID_A, bytes: 4, group: "s1", receipt: RECEIPT }),
    chunkLine("another-upload", { index: 1, id: ID_B, bytes: 4, group: "s2" }),
    chunkLine(begun.uploadId, { index: 0, id: ID_B, bytes: 4, group: "s2" }), // a hedged twin
    "not json\n",
    chunkLine(begun.uploadId, { index: 2, id: ID_B, bytes: 2, group: "s2" }),
    chunkLine(begun.uploadId, { index: 1, id: ID_B, bytes: 4, group: "s1" }).slice(0, 30), // torn
  ].join("");
  const state = parseJournal(text);
  expect(state?.start).toEqual(begun);
  expect([...(state?.chunks.entries() ?? [])]).toEqual([
    [0, { index: 0, id: ID_A, bytes: 4, group: "s1", receipt: RECEIPT }],
    [2, { index: 2, id: ID_B, bytes: 2, group: "s2" }],
  ]);
});

test("a damaged or missing start line is no journal", () => {
  expect(parseJournal("")).toBeNull();
  expect(parseJournal(startLine(start()).slice(0, 40))).toBeNull();
  expect(parseJournal(`{"format":99}\n`)).toBeNull();
});

test("a resume needs the same user, name and file, time left, and a stored chunk", () => {
  const begun = start();
  const chunk = { index: 0, id: ID_A, bytes: 4, group: "s1" };
  const state = { start: begun, chunks: new Map([[0, chunk]]) };
  const wanted = { uid: "alice", name: "big.bin", source: begun.source };
  const margin = 60_000;
  expect(judgeResume(state, wanted, NOW_MS, margin)).toEqual({ resume: true });
  const touched = { ...wanted, source: { ...begun.source, mtimeUs: begun.source.mtimeUs + 1 } };
  expect(judgeResume(state, touched, NOW_MS, margin)).toEqual({ resume: false, why: "other-file" });
  expect(judgeResume(state, { ...wanted, name: "other" }, NOW_MS, margin).resume).toBe(false);
  expect(judgeResume(state, { ...wanted, uid: "bob" }, NOW_MS, margin).resume).toBe(false);
  const late = NOW_MS + HOUR_MS - margin + 1;
  expect(judgeResume(state, wanted, late, margin)).toEqual({ resume: false, why: "expired" });
  const empty = { start: begun, chunks: new Map() };
  expect(judgeResume(empty, wanted, NOW_MS, margin)).toEqual({
    resume: false,
    why: "nothing-stored",
  });
});
