/**
 * Time to whole after a storage node's return: counted from the return to the first status
 * asked after it that shows the group whole; a group never whole again by the end is said so;
 * a group the status never showed short is flagged; directory nodes are not storage returns.
 */

import { expect, test } from "bun:test";
import type { ChurnRecord } from "./churn.ts";
import {
  formatRecoveries,
  measureRecoveries,
  storageReturns,
  type StorageReturn,
  type WholeObservation,
} from "./recovery.ts";

function record(
  atMs: number,
  action: ChurnRecord["action"],
  target: string,
  node: string,
  group: string | null,
): ChurnRecord {
  return { atMs, action, target, node, group, note: "" };
}

/** A status asked at `atMs` and answered 50 ms later. */
function seen(atMs: number, whole: Record<string, boolean>): WholeObservation {
  return { sentAtMs: atMs, answeredAtMs: atMs + 50, whole };
}

const S1_BACK: StorageReturn = {
  node: "s1a",
  group: "s1",
  action: "restart",
  atMs: 7_000,
  faultAtMs: 3_000,
};

test("returns of storage nodes pair with their fault; directory nodes are left out", () => {
  const returns = storageReturns([
    record(3_000, "kill", "storage-primary:s1", "s1a", "s1"),
    record(7_000, "restart", "storage-primary:s1", "s1a", "s1"),
    record(10_000, "kill", "directory-primary", "d1", null),
    record(14_000, "restart", "directory-primary", "d1", null),
    record(15_000, "join", "s2b", "s2b", "s2"),
  ]);
  expect(returns).toEqual([
    S1_BACK,
    { node: "s2b", group: "s2", action: "join", atMs: 15_000, faultAtMs: null },
  ]);
});

test("whole after: from the return to the answer of the first whole status asked after it", () => {
  const [recovery] = measureRecoveries(
    [S1_BACK],
    [
      seen(2_900, { s1: true }),
      seen(4_000, { s1: false }),
      // Asked before the return, answered after: it may describe the group before it.
      { sentAtMs: 6_900, answeredAtMs: 7_100, whole: { s1: true } },
      seen(8_000, { s1: false, s2: true }),
      seen(9_400, { s1: true }),
      seen(9_700, { s1: true }),
    ],
  );
  expect(recovery?.wholeAfterS).toBeCloseTo(2.45, 6);
  expect(recovery?.degradedSeen).toBe(true);
  expect(recovery?.atS).toBe(7);
});

test("a group not whole again by the end has no time, and the text says so", () => {
  const list = measureRecoveries(
    [S1_BACK],
    [seen(4_000, { s1: false }), seen(19_000, { s1: false })],
  );
  expect(list[0]?.wholeAfterS).toBeNull();
  expect(formatRecoveries(list)[1]).toBe("  s1  s1a  restart at 7.0 s  not whole by end of run");
});

test("a group never seen short is flagged: its time is no catch-up", () => {
  const list = measureRecoveries([S1_BACK], [seen(5_000, { s1: true }), seen(7_200, { s1: true })]);
  expect(list[0]?.degradedSeen).toBe(false);
  expect(formatRecoveries(list)[1]).toBe(
    "  s1  s1a  restart at 7.0 s  whole after 0.3 s (never seen degraded)",
  );
});

test("no storage return, no section", () => {
  expect(formatRecoveries([])).toEqual([]);
});
