import { describe, expect, test } from "bun:test";
import { checkHistory, historySlice, type FinalRead } from "./checker.ts";
import type { Op, OpKind, OpStatus } from "./history.ts";

let nextId = 0;
function op(kind: OpKind, startMs: number, endMs: number, status: OpStatus, fields: Partial<Op> = {}): Op {
  return {
    id: nextId++, client: 0, kind, uid: "u", name: kind === "list" ? null : "f", startMs, endMs, status,
    sha256: null, bytes: null, version: null, listed: null, error: null, ...fields,
  };
}

function history(...ops: Op[]): Op[] {
  // Ids are positions in the log, as OpLog gives them.
  return ops.map((item, index) => ({ ...item, id: index }));
}

const w1 = (): Op => op("upload", 0, 10, "ok", { sha256: "a", version: 1 });
const w2 = (): Op => op("update", 20, 30, "ok", { sha256: "b", version: 2 });

describe("checkHistory", () => {
  test("a read of the newest acknowledged version, or of a concurrent write, is fine", () => {
    const ops = history(w1(), w2(), op("read", 40, 50, "ok", { sha256: "b", version: 2 }),
      op("update", 60, 90, "unknown", { sha256: "c" }), op("read", 70, 80, "ok", { sha256: "c", version: 3 }));
    expect(checkHistory(ops, [])).toEqual([]);
  });

  test("a read older than a version acknowledged before it started is stale", () => {
    const ops = history(w1(), w2(), op("read", 40, 50, "ok", { sha256: "a", version: 1 }));
    const violations = checkHistory(ops, []);
    expect(violations.map((v) => v.kind)).toEqual(["stale-read"]);
    expect(historySlice(ops, violations[0] ?? { kind: "lost", file: null, detail: "", opIds: [] }).length).toBeGreaterThanOrEqual(2);
  });

  test("a version acknowledged later but numbered below an earlier acknowledgement is still stale", () => {
    // v1's answer was slow: acknowledged after v2's, after the read started.
    const ops = history(op("upload", 0, 100, "ok", { sha256: "a", version: 1 }), w2(),
      op("read", 40, 50, "ok", { sha256: "a", version: 1 }));
    expect(checkHistory(ops, []).map((v) => v.kind)).toEqual(["stale-read"]);
  });

  test("bytes no write wrote, and reads going back in time, are caught", () => {
    const ops = history(w1(), op("update", 20, 90, "unknown", { sha256: "b" }),
      op("read", 30, 40, "ok", { sha256: "b", version: 2 }), op("read", 50, 60, "ok", { sha256: "a", version: 1 }),
      op("read", 70, 80, "ok", { sha256: "zz", version: 2 }));
    expect(checkHistory(ops, []).map((v) => v.kind).sort()).toEqual(["non-monotonic-read", "phantom-read"]);
  });

  test("a listing must hold every name acknowledged before it started", () => {
    const ops = history(w1(), op("list", 20, 30, "ok", { listed: [] }));
    expect(checkHistory(ops, []).map((v) => v.kind)).toEqual(["list-missing"]);
  });

  test("an acknowledged version that does not read back after healing is lost", () => {
    const ops = history(w1());
    const finals: FinalRead[] = [
      { uid: "u", name: "f", asked: 1, version: null, sha256: null, error: "NOT_FOUND: gone" },
      { uid: "u", name: "f", asked: null, version: 1, sha256: "a", error: null },
    ];
    expect(checkHistory(ops, finals).map((v) => v.kind)).toEqual(["lost"]);
  });
});
