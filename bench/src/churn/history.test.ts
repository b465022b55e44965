/**
 * A read is judged against the versions acknowledged before it started and the writes that
 * overlapped it: older than the newest acknowledged version is stale, bytes no write produced
 * are unknown. Churn schedules parse from lines and from JSON alike.
 */

import { expect, test } from "bun:test";
import { History, judgeRead } from "./history.ts";
import { parseSchedule } from "./schedule.ts";

function history(): History {
  const h = new History();
  const first = h.beginWrite("u", "a", "sha1", 1, 0);
  first.version = 1;
  first.endMs = 10;
  const second = h.beginWrite("u", "a", "sha2", 1, 20);
  second.version = 2;
  second.endMs = 30;
  return h;
}

test("a read of the newest acknowledged version is fine; an older one is stale", () => {
  const h = history();
  const base = {
    uid: "u",
    name: "a",
    startMs: 40,
    endMs: 50,
    ackedBefore: [1, 2],
    inFlightAtStart: [],
  };
  expect(judgeRead(h, { ...base, version: 2, sha256: "sha2" })).toBe("acked");
  expect(judgeRead(h, { ...base, version: 1, sha256: "sha1" })).toBe("stale");
  expect(judgeRead(h, { ...base, version: 2, sha256: "other" })).toBe("unknown");
});

test("a read overlapping a write may return it, acknowledged later or never", () => {
  const h = history();
  const base = {
    uid: "u",
    name: "a",
    startMs: 25,
    endMs: 35,
    ackedBefore: [1],
    inFlightAtStart: [1],
  };
  expect(judgeRead(h, { ...base, version: 2, sha256: "sha2" })).toBe("concurrent");
  const failed = h.beginWrite("u", "a", "sha3", 1, 32);
  failed.failed = true;
  expect(judgeRead(h, { ...base, version: 3, sha256: "sha3" })).toBe("concurrent");
  expect(judgeRead(h, { ...base, startMs: 40, endMs: 31, version: 3, sha256: "sha3" })).toBe(
    "unknown",
  );
});

test("a version acknowledged only after the read started is still stale below one acknowledged before", () => {
  const h = new History();
  const slow = h.beginWrite("u", "a", "sha1", 1, 0);
  slow.version = 1;
  slow.endMs = 60; // committed first, but its answer came after v2's and after the read started
  const fast = h.beginWrite("u", "a", "sha2", 1, 20);
  fast.version = 2;
  fast.endMs = 30;
  const read = {
    uid: "u",
    name: "a",
    startMs: 40,
    endMs: 50,
    ackedBefore: [2],
    inFlightAtStart: [slow.id],
  };
  expect(judgeRead(h, { ...read, version: 1, sha256: "sha1" })).toBe("stale");
});

test("schedules parse from lines with comments and from JSON, sorted by time", () => {
  const lines = parseSchedule(
    "# fault\n12 restart storage-primary:s1\n5 kill storage-primary:s1\n",
  );
  expect(lines.map((event) => event.atS)).toEqual([5, 12]);
  const json = parseSchedule('[{"atS": 3, "action": "pause", "target": "s1b"}]');
  expect(json).toEqual([{ atS: 3, action: "pause", target: "s1b" }]);
  expect(() => parseSchedule("1 explode d1")).toThrow();
});
