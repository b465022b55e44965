/**
 * Property: the directory confirms a chunk as garbage for a group only when no kept version
 * names it there, no move is copying it there, and every upload holding it is committed or
 * swept; only unfinished uploads past their deadline are proposed for sweeping.
 */
import { describe, expect, test } from "bun:test";
import { uploadIdWithDeadline } from "@ftfs/protocol/core";
import {
  judgeGarbage,
  uploadsToSweep,
  type GarbageCandidate,
  type GarbageFacts,
  type UploadKey,
} from "./garbage-rules.ts";

const NOW_MS = 1_700_000_000_000;
const PAST = uploadIdWithDeadline(NOW_MS - 1, "past");
const FUTURE = uploadIdWithDeadline(NOW_MS + 60_000, "future");

function facts(options: {
  committed?: readonly string[];
  swept?: readonly string[];
  kept?: readonly string[];
  moving?: readonly string[];
  /** "upload/group/chunk": a kept version of the upload names the chunk in the group. */
  keeps?: readonly string[];
}): GarbageFacts {
  return {
    uploadCommitted: (_uid, uploadId) => options.committed?.includes(uploadId) ?? false,
    uploadSwept: (_uid, uploadId) => options.swept?.includes(uploadId) ?? false,
    uploadKeeps: (_uid, uploadId, group, chunkId) =>
      options.keeps?.includes(`${uploadId}/${group}/${chunkId}`) ?? false,
    chunkKept: (group, chunkId) => options.kept?.includes(`${group}/${chunkId}`) ?? false,
    moveInFlight: (group, chunkId) => options.moving?.includes(`${group}/${chunkId}`) ?? false,
  };
}

const by = (...uploadIds: string[]): UploadKey[] =>
  uploadIds.map((uploadId) => ({ uid: "u", uploadId }));
const candidate = (chunkId: string, uploads: UploadKey[] = [], more = false): GarbageCandidate => ({
  chunkId,
  uploads,
  ...(more ? { moreUploads: true } : {}),
});

describe("uploadsToSweep", () => {
  test("only open uploads past their deadline, each once", () => {
    const known = facts({ committed: ["done"], swept: ["gone"] });
    const candidates = [
      candidate("a", by(PAST, FUTURE, "done")),
      candidate("b", by(PAST, "gone", "legacy")),
    ];
    expect(uploadsToSweep(known, candidates, NOW_MS)).toEqual(by(PAST, "legacy"));
  });
});

describe("judgeGarbage", () => {
  const rows: ReadonlyArray<{
    name: string;
    known: GarbageFacts;
    input: GarbageCandidate;
    go: boolean;
  }> = [
    {
      name: "no uploads, not kept, not moving: goes",
      known: facts({}),
      input: candidate("c"),
      go: true,
    },
    {
      name: "kept in this group: stays",
      known: facts({ kept: ["s1/c"] }),
      input: candidate("c"),
      go: false,
    },
    {
      name: "kept only in another group: goes",
      known: facts({ kept: ["s2/c"] }),
      input: candidate("c"),
      go: true,
    },
    {
      name: "a move copying it here: stays",
      known: facts({ moving: ["s1/c"] }),
      input: candidate("c"),
      go: false,
    },
    {
      name: "an open upload holds it: stays",
      known: facts({}),
      input: candidate("c", by(PAST)),
      go: false,
    },
    {
      name: "a swept upload: goes",
      known: facts({ swept: [PAST] }),
      input: candidate("c", by(PAST)),
      go: true,
    },
    {
      name: "a committed upload elsewhere: goes",
      known: facts({ committed: ["x"] }),
      input: candidate("c", by("x")),
      go: true,
    },
    {
      name: "more uploads than named: stays, even if the named are closed",
      known: facts({ swept: [PAST] }),
      input: candidate("c", by(PAST), true),
      go: false,
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const verdict = judgeGarbage(row.known, "s1", [row.input]);
      expect(verdict.collectable).toEqual(row.go ? [row.input.chunkId] : []);
    });
  }

  test("references are released for swept uploads and committed ones not keeping the chunk here", () => {
    const known = facts({
      swept: [PAST],
      committed: ["done", "hedged"],
      kept: ["s1/b"],
      keeps: ["done/s1/b", "hedged/s2/b"],
    });
    const verdict = judgeGarbage(known, "s1", [
      candidate("a", by(PAST, FUTURE)),
      candidate("b", by(PAST, "done", "hedged")),
    ]);
    expect(verdict.collectable).toEqual([]);
    // "done" keeps b in s1: its reference stays until its commit notice makes it committed.
    expect(verdict.releasedRefs).toEqual([
      { chunkId: "a", uid: "u", uploadId: PAST },
      { chunkId: "b", uid: "u", uploadId: PAST },
      { chunkId: "b", uid: "u", uploadId: "hedged" },
    ]);
  });

  test("a chunk a move is copying here releases nothing", () => {
    const known = facts({ committed: ["moved"], moving: ["s1/c"] });
    expect(judgeGarbage(known, "s1", [candidate("c", by("moved"))])).toEqual({
      collectable: [],
      releasedRefs: [],
    });
  });
});
