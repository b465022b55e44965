/**
 * Rendezvous placement: chunks spread evenly over groups, the choice is stable (same inputs,
 * any listing order, same group), and adding a group moves only about 1/n of the chunks, all
 * of them to the new group.
 */
import { describe, expect, test } from "bun:test";
import { hash53, pickGroup, rankGroups } from "./rendezvous.ts";

const CHUNKS = 6_000;

function chunkIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) =>
    new Bun.CryptoHasher("sha256").update(`chunk-${index}`).digest("hex"),
  );
}

function counts(ids: readonly string[], groups: readonly string[]): Map<string, number> {
  const out = new Map<string, number>(groups.map((group) => [group, 0]));
  for (const id of ids) {
    const group = pickGroup(id, groups);
    if (group !== null) out.set(group, (out.get(group) ?? 0) + 1);
  }
  return out;
}

describe("rendezvous placement", () => {
  const ids = chunkIds(CHUNKS);

  test("spreads chunks evenly (each group within 10% of its fair share)", () => {
    for (const groups of [
      ["s1", "s2"],
      ["s1", "s2", "s3"],
      ["a", "b", "c", "d", "e"],
    ]) {
      const fair = CHUNKS / groups.length;
      for (const [group, count] of counts(ids, groups)) {
        expect({ group, off: Math.abs(count - fair) / fair < 0.1 }).toEqual({ group, off: true });
      }
    }
  });

  test("is stable: same answer every time and for any listing order", () => {
    const groups = ["s1", "s2", "s3"];
    for (const id of ids.slice(0, 500)) {
      const first = pickGroup(id, groups);
      expect(pickGroup(id, groups)).toBe(first);
      expect(pickGroup(id, ["s3", "s1", "s2"])).toBe(first);
      expect(rankGroups(id, ["s2", "s3", "s1"])[0]).toBe(first ?? "");
    }
  });

  test("adding a group moves about 1/n of the chunks, and only to the new group", () => {
    const before = ["s1", "s2", "s3"];
    const after = [...before, "s4"];
    let moved = 0;
    for (const id of ids) {
      const was = pickGroup(id, before);
      const now = pickGroup(id, after);
      if (was !== now) {
        moved += 1;
        expect(now).toBe("s4");
      }
    }
    const expected = CHUNKS / after.length;
    expect(Math.abs(moved - expected) / expected).toBeLessThan(0.1);
  });

  test("removing a group moves only that group's chunks", () => {
    for (const id of ids.slice(0, 1_000)) {
      const was = pickGroup(id, ["s1", "s2", "s3"]);
      if (was !== "s2") expect(pickGroup(id, ["s1", "s3"])).toBe(was);
    }
  });

  test("ranking lists each group once, best first; no groups means no pick", () => {
    const id = ids[0] ?? "";
    const ranked = rankGroups(id, ["s1", "s2", "s1", "s3"]);
    expect([...ranked].sort()).toEqual(["s1", "s2", "s3"]);
    expect(ranked[0]).toBe(pickGroup(id, ["s1", "s2", "s3"]) ?? "");
    expect(pickGroup(id, [])).toBeNull();
  });

  test("the hash is a safe integer and sensitive to every character", () => {
    const a = hash53("abc");
    expect(Number.isSafeInteger(a)).toBe(true);
    expect(hash53("abd")).not.toBe(a);
    expect(hash53("abc")).toBe(a);
  });
});
