/**
 * Property: the directory is asked about a chunk only when no committed reference names it, no
 * put named it within the grace, and its file is older than the grace; GC runs a few times per
 * grace, bounded.
 */
import { describe, expect, test } from "bun:test";
import {
  gcIntervalMs,
  isAuditPass,
  judgeChunk,
  stillCollectable,
  type ChunkFacts,
} from "./gc-rules.ts";
import { GC_INTERVAL_MS_MAX, GC_INTERVAL_MS_MIN } from "./limits.ts";

const GRACE_MS = 60_000;
const NOW_MS = 10_000_000;
const OLD_MS = NOW_MS - GRACE_MS;

interface Row {
  readonly name: string;
  readonly facts: ChunkFacts;
  readonly verdict: ReturnType<typeof judgeChunk>;
}

const TABLE: readonly Row[] = [
  {
    name: "uncommitted, never put since start, old file: asked about",
    facts: { committed: 0, lastPutAtMs: null, fileModifiedAtMs: OLD_MS },
    verdict: { ask: true },
  },
  {
    name: "one committed reference keeps it however old (a kept version names it)",
    facts: { committed: 1, lastPutAtMs: null, fileModifiedAtMs: 0 },
    verdict: { ask: false, reason: "referenced" },
  },
  {
    name: "a put just now deduplicated onto an old file: kept (its reference may be in flight)",
    facts: { committed: 0, lastPutAtMs: NOW_MS - 1, fileModifiedAtMs: 0 },
    verdict: { ask: false, reason: "recentlyPut" },
  },
  {
    name: "a put exactly one grace ago no longer protects it",
    facts: { committed: 0, lastPutAtMs: OLD_MS, fileModifiedAtMs: 0 },
    verdict: { ask: true },
  },
  {
    name: "a file written within the grace: kept",
    facts: { committed: 0, lastPutAtMs: null, fileModifiedAtMs: OLD_MS + 1 },
    verdict: { ask: false, reason: "youngFile" },
  },
  {
    name: "a file dated in the future (clock stepped back): kept",
    facts: { committed: 0, lastPutAtMs: null, fileModifiedAtMs: NOW_MS + GRACE_MS },
    verdict: { ask: false, reason: "youngFile" },
  },
];

describe("judgeChunk", () => {
  for (const row of TABLE) {
    test(row.name, () => {
      expect(judgeChunk(row.facts, NOW_MS, GRACE_MS)).toEqual(row.verdict);
    });
  }
});

test("GC runs four times per grace, within its bounds", () => {
  expect(gcIntervalMs(4_000)).toBe(1_000);
  expect(gcIntervalMs(60 * 60_000)).toBe(GC_INTERVAL_MS_MAX);
  expect(gcIntervalMs(1)).toBe(GC_INTERVAL_MS_MIN);
});

test("a confirmation holds only while no reference was committed or added since the question", () => {
  const asked = { committed: 0, lastSeq: 7 };
  expect(stillCollectable(asked, { committed: 0, lastSeq: 7 })).toBe(true);
  // Closed uploads' references were dropped meanwhile: still garbage.
  expect(stillCollectable(asked, { committed: 0, lastSeq: 3 })).toBe(true);
  expect(stillCollectable(asked, { committed: 0, lastSeq: 8 })).toBe(false);
  expect(stillCollectable(asked, { committed: 1, lastSeq: 7 })).toBe(false);
  // An audit asked about a committed chunk: the directory's word holds while nothing changed.
  expect(stillCollectable({ committed: 1, lastSeq: 7 }, { committed: 1, lastSeq: 7 })).toBe(true);
});

test("an audit asks about committed chunks too, still sparing young and recently put ones", () => {
  const committed = { committed: 2, lastPutAtMs: null, fileModifiedAtMs: OLD_MS };
  expect(judgeChunk(committed, NOW_MS, GRACE_MS, true)).toEqual({ ask: true });
  const young = { ...committed, fileModifiedAtMs: NOW_MS };
  expect(judgeChunk(young, NOW_MS, GRACE_MS, true)).toEqual({ ask: false, reason: "youngFile" });
  expect([0, 1, 2, 3, 4, 5, 6, 7].map(isAuditPass)).toEqual([
    false,
    false,
    false,
    true,
    false,
    false,
    false,
    true,
  ]);
});
