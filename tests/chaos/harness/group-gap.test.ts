/**
 * The isolated-primary gap is the longest stretch of the fault's window without a completed op
 * on the group, edges included, counting only acknowledged ops that touched the group.
 */
import { describe, expect, test } from "bun:test";
import type { Op } from "@ftfs/protocol/testing/history";
import { groupGaps, groupsOfBytes, longestGapMs } from "./group-gap.ts";

function op(id: number, endMs: number | null, status: Op["status"] = "ok"): Op {
  return {
    id,
    client: 0,
    kind: "read",
    uid: "u",
    name: "f",
    startMs: 0,
    endMs,
    status,
    sha256: null,
    bytes: null,
    version: null,
    listed: null,
    absent: false,
    error: null,
  };
}

describe("isolated primary's group gap", () => {
  test("the gap includes the edges of the window and ignores completions outside it", () => {
    expect(longestGapMs([], 100, 600)).toBe(500);
    expect(longestGapMs([50, 250, 300, 700], 100, 600)).toBe(300);
    expect(longestGapMs([150, 550], 100, 600)).toBe(400);
  });

  test("only acknowledged ops on the isolated group count", () => {
    const ops = [op(1, 200), op(2, 400, "fail"), op(3, 500), op(4, 800)];
    const groups = new Map([
      [1, ["s1"]],
      [2, ["s1"]],
      [3, ["s2"]],
      [4, ["s1", "s2"]],
    ]);
    const [gap] = groupGaps(
      [{ label: "isolate s1a", group: "s1", fromMs: 0, toMs: 1000 }],
      ops,
      (id) => groups.get(id) ?? [],
    );
    expect(gap?.gapMs).toBe(600);
    expect(gap?.completed).toBe(2);
    expect(gap?.writeGapMs).toBe(1000); // every op here is a read
    expect(gap?.writesCompleted).toBe(0);
  });

  test("bytes map to the groups their chunks rank first, the same for the same bytes", () => {
    const bytes = new Uint8Array(4 * 1024).map((_, index) => index * 7);
    const groups = ["s1", "s2"];
    const found = groupsOfBytes(bytes, 1024, groups);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((group) => groups.includes(group))).toBe(true);
    expect(groupsOfBytes(bytes, 1024, groups)).toEqual(found);
    expect(groupsOfBytes(new Uint8Array(0), 1024, groups)).toEqual([]);
  });
});
