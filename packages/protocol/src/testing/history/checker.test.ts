/**
 * The checker catches each kind of wrong answer in a hand-made history, and accepts the nearest
 * history that is right (so each rule is shown able to fail, and not to fail on legal runs).
 */
import { describe, expect, test } from "bun:test";
import {
  checkHistory,
  historySlice,
  keptVersions,
  type CheckRules,
  type FinalRead,
} from "./checker.ts";
import type { Op, OpKind, OpStatus } from "./history.ts";

let nextId = 0;
function op(
  kind: OpKind,
  startMs: number,
  endMs: number,
  status: OpStatus,
  fields: Partial<Op> = {},
): Op {
  return {
    id: nextId++,
    client: 0,
    kind,
    uid: "u",
    name: kind === "list" ? null : "f",
    startMs,
    endMs,
    status,
    sha256: null,
    bytes: null,
    version: null,
    listed: null,
    absent: false,
    error: null,
    ...fields,
  };
}

function history(...ops: Op[]): Op[] {
  // Ids are positions in the log, as OpLog gives them.
  return ops.map((item, index) => ({ ...item, id: index }));
}

function kinds(
  ops: readonly Op[],
  finals: readonly FinalRead[] = [],
  rules?: CheckRules,
): string[] {
  return checkHistory(ops, finals, rules)
    .map((v) => v.kind)
    .sort();
}

interface FinalAnswer {
  readonly version?: number;
  readonly sha256?: string;
  readonly absent?: boolean;
  readonly error?: string;
}

function final(asked: number | null, answer: FinalAnswer): FinalRead {
  const absent = answer.absent ?? false;
  return {
    uid: "u",
    name: "f",
    asked,
    version: answer.version ?? null,
    sha256: answer.sha256 ?? null,
    absent,
    error: answer.error ?? (absent ? "NOT_FOUND: gone" : null),
  };
}

const w1 = (): Op => op("upload", 0, 10, "ok", { sha256: "a", version: 1 });
const w2 = (): Op => op("update", 20, 30, "ok", { sha256: "b", version: 2 });
/** A delete acknowledged at 20–30 that removed v1 (its tombstone takes v2). */
const d1 = (): Op => op("delete", 20, 30, "ok", { version: 1 });
const readOf = (startMs: number, endMs: number, version: number, sha256: string): Op =>
  op("read", startMs, endMs, "ok", { version, sha256 });
const absentRead = (startMs: number, endMs: number): Op =>
  op("read", startMs, endMs, "ok", { absent: true, error: "NOT_FOUND: no file" });

describe("checkHistory", () => {
  test("a read of the newest acknowledged version, or of a concurrent write, is fine", () => {
    const ops = history(
      w1(),
      w2(),
      readOf(40, 50, 2, "b"),
      op("update", 60, 90, "unknown", { sha256: "c" }),
      readOf(70, 80, 3, "c"),
    );
    expect(checkHistory(ops, [])).toEqual([]);
  });

  test("a read older than a version acknowledged before it started is stale", () => {
    const ops = history(w1(), w2(), readOf(40, 50, 1, "a"));
    const violations = checkHistory(ops, []);
    expect(violations.map((v) => v.kind)).toEqual(["stale-read"]);
    expect(
      historySlice(ops, violations[0] ?? { kind: "lost", file: null, detail: "", opIds: [] })
        .length,
    ).toBeGreaterThanOrEqual(2);
  });

  test("a version acknowledged later but numbered below an earlier acknowledgement is still stale", () => {
    // v1's answer was slow: acknowledged after v2's, after the read started.
    const slow = op("upload", 0, 100, "ok", { sha256: "a", version: 1 });
    const ops = history(slow, w2(), readOf(40, 50, 1, "a"));
    expect(kinds(ops)).toEqual(["stale-read"]);
  });

  test("bytes no write wrote, and reads going back in time, are caught", () => {
    const ops = history(
      w1(),
      op("update", 20, 90, "unknown", { sha256: "b" }),
      readOf(30, 40, 2, "b"),
      readOf(50, 60, 1, "a"),
      readOf(70, 80, 2, "zz"),
    );
    expect(kinds(ops)).toEqual(["non-monotonic-read", "phantom-read"]);
  });

  test("a listing must hold every name acknowledged before it started", () => {
    const ops = history(w1(), op("list", 20, 30, "ok", { listed: [] }));
    expect(kinds(ops)).toEqual(["list-missing"]);
  });

  test("an acknowledged version that does not read back after healing is lost", () => {
    const ops = history(w1());
    const finals = [
      final(1, { error: "CHUNK_NOT_FOUND: gone" }),
      final(null, { version: 1, sha256: "a" }),
    ];
    expect(kinds(ops, finals)).toEqual(["lost"]);
  });
});

describe("checkHistory with deletes", () => {
  test("a read begun after a delete was acknowledged must not return a deleted version", () => {
    expect(kinds(history(w1(), d1(), readOf(40, 50, 1, "a")))).toEqual(["deleted-read"]);
    expect(kinds(history(w1(), d1(), absentRead(40, 50)))).toEqual([]);
    // Begun before the delete was acknowledged: the old version is still a legal answer.
    expect(kinds(history(w1(), d1(), readOf(25, 50, 1, "a")))).toEqual([]);
  });

  test("a read concurrent with a re-upload after the delete may return the new version", () => {
    const reupload = op("upload", 35, 60, "unknown", { sha256: "c" });
    expect(kinds(history(w1(), d1(), reupload, readOf(40, 50, 3, "c")))).toEqual([]);
    // The same bytes from a re-upload invoked after the read ended cannot have been read.
    const late = op("upload", 55, 60, "unknown", { sha256: "c" });
    expect(kinds(history(w1(), d1(), late, readOf(40, 50, 3, "c")))).toEqual(["future-read"]);
  });

  test("'no such file' after an acknowledged write needs a delete that could remove it", () => {
    expect(kinds(history(w1(), absentRead(20, 30)))).toEqual(["absent-read"]);
    // A delete whose answer was lost may have taken effect at any time after its invoke.
    expect(kinds(history(w1(), op("delete", 15, 100, "unknown"), absentRead(20, 30)))).toEqual([]);
    // A delete invoked after the read ended cannot explain it.
    const lateDelete = op("delete", 35, 40, "ok", { version: 1 });
    expect(kinds(history(w1(), absentRead(20, 30), lateDelete))).toEqual(["absent-read"]);
    // Nor does a delete acknowledged before a re-upload acknowledged before the read.
    const reupload = op("upload", 40, 50, "ok", { sha256: "c", version: 3 });
    expect(kinds(history(w1(), d1(), reupload, absentRead(60, 70)))).toEqual(["absent-read"]);
  });

  test("'no such file' after a read that returned a version is held to the same rule", () => {
    const unknownWrite = op("upload", 0, 100, "unknown", { sha256: "a" });
    const readV1 = readOf(10, 20, 1, "a");
    expect(kinds(history(unknownWrite, readV1, absentRead(30, 40)))).toEqual(["absent-read"]);
    expect(kinds(history(unknownWrite, absentRead(30, 40)))).toEqual([]);
  });

  test("a delete answered NOT_FOUND is a claim that the name is gone", () => {
    const notFound = op("delete", 20, 30, "ok", { absent: true, error: "NOT_FOUND: no file" });
    expect(kinds(history(w1(), notFound))).toEqual(["absent-read"]);
    expect(kinds(history(w1(), d1(), op("delete", 40, 50, "ok", { absent: true })))).toEqual([]);
  });

  test("a listing must not show a name deleted before it started, unless uploaded again", () => {
    const listing = (version: number, sha256: string): Op =>
      op("list", 40, 50, "ok", { listed: [{ name: "f", version, sha256 }] });
    expect(kinds(history(w1(), d1(), listing(1, "a")))).toEqual(["list-deleted"]);
    const reupload = op("upload", 35, 60, "unknown", { sha256: "c" });
    expect(kinds(history(w1(), d1(), reupload, listing(3, "c")))).toEqual([]);
    expect(kinds(history(w1(), d1(), listing(3, "zz")))).toEqual(["phantom-read"]);
  });

  test("a listing may lack a name a delete invoked before it ended could have removed", () => {
    const emptyList = op("list", 20, 30, "ok", { listed: [] });
    expect(kinds(history(w1(), op("delete", 15, 100, "unknown"), emptyList))).toEqual([]);
    expect(kinds(history(w1(), op("delete", 25, 35, "ok", { version: 1 }), emptyList))).toEqual([]);
    const lateDelete = op("delete", 35, 40, "ok", { version: 1 });
    expect(kinds(history(w1(), lateDelete, emptyList))).toEqual(["list-missing"]);
  });

  test("a write acknowledged at a delete's position is split brain", () => {
    const atTombstone = op("upload", 40, 50, "ok", { sha256: "c", version: 2 });
    expect(kinds(history(w1(), d1(), atTombstone))).toEqual(["split-brain"]);
    const after = op("upload", 40, 50, "ok", { sha256: "c", version: 3 });
    expect(kinds(history(w1(), d1(), after))).toEqual([]);
  });

  test("after healing, a version an acknowledged delete removed must read as gone", () => {
    const ops = history(w1(), d1());
    expect(kinds(ops, [final(1, { absent: true }), final(null, { absent: true })])).toEqual([]);
    expect(kinds(ops, [final(1, { version: 1, sha256: "a" })])).toEqual(["delete-lost"]);
    expect(kinds(ops, [final(null, { version: 1, sha256: "a" })])).toEqual(["delete-lost"]);
  });

  test("after healing, an unknown delete may have removed a version; bytes never change", () => {
    const ops = history(w1(), op("delete", 20, 100, "unknown"));
    expect(kinds(ops, [final(1, { absent: true }), final(null, { absent: true })])).toEqual([]);
    expect(kinds(ops, [final(1, { version: 1, sha256: "zz" })])).toEqual(["corrupt"]);
  });

  test("after healing, a name acknowledged and never deleted must not be gone", () => {
    expect(kinds(history(w1()), [final(null, { absent: true })])).toEqual(["final-stale"]);
    expect(kinds(history(w1()), [final(1, { absent: true })])).toEqual(["lost"]);
  });

  test("under a keep policy, a version with K newer acknowledged ones must read as gone", () => {
    const keep3 = { keepVersions: 3 };
    const updates = [2, 3, 4].map((version) =>
      op("update", 10 * version, 10 * version + 5, "ok", { sha256: `s${version}`, version }),
    );
    const ops = history(w1(), ...updates);
    expect(kinds(ops, [final(1, { absent: true })], keep3)).toEqual([]);
    expect(kinds(ops, [final(1, { version: 1, sha256: "a" })], keep3)).toEqual(["not-pruned"]);
    // v2 has only two newer versions: it is kept, and must read back.
    expect(kinds(ops, [final(2, { absent: true })], keep3)).toEqual(["lost"]);
    expect(kinds(ops, [final(2, { version: 2, sha256: "s2" })], keep3)).toEqual([]);
  });

  test("a version may read as pruned only if K writes that may have committed are above it", () => {
    const keep3 = { keepVersions: 3 };
    const unknownWrite = (startMs: number): Op =>
      op("update", startMs, startMs + 100, "unknown", { sha256: `u${startMs}` });
    const twoAbove = history(w1(), w2(), unknownWrite(40));
    expect(kinds(twoAbove, [final(1, { absent: true })], keep3)).toEqual(["lost"]);
    const threeAbove = history(w1(), w2(), unknownWrite(40), unknownWrite(50));
    expect(kinds(threeAbove, [final(1, { absent: true })], keep3)).toEqual([]);
    expect(kinds(threeAbove, [final(1, { absent: true })])).toEqual(["lost"]); // nothing is pruned
  });

  test("convergence must find acknowledged versions no acknowledged delete removed", () => {
    const reupload = op("upload", 40, 50, "ok", { sha256: "c", version: 3 });
    const ops = history(w1(), d1(), reupload, op("delete", 60, 200, "unknown"));
    expect(keptVersions(ops)).toEqual([{ uid: "u", name: "f", version: 3, mayBeGone: true }]);
    // Nor ones the keep policy surely pruned (v1, with v3 and v4 above it, keeping 2).
    const pruned = history(w1(), w2(), op("update", 40, 50, "ok", { sha256: "c", version: 3 }));
    expect(keptVersions(pruned, { keepVersions: 2 }).map((kept) => kept.version)).toEqual([2, 3]);
  });
});
