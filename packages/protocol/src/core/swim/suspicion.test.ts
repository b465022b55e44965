/**
 * Lifeguard's suspicion timer starts at its maximum, shrinks on a log curve with each
 * independent confirmation, never goes below its minimum, and counts each confirmer once.
 */
import { describe, expect, test } from "bun:test";
import { Suspicion, suspicionTimeoutMs } from "./suspicion.ts";

const SECOND_MS = 1000;

describe("suspicionTimeoutMs", () => {
  // max − (max − min) · log(c+1)/log(k+1), floored at min; the rows of memberlist's own table.
  test.each([
    [0, 3, 2 * SECOND_MS, 30 * SECOND_MS, 30 * SECOND_MS],
    [1, 3, 2 * SECOND_MS, 30 * SECOND_MS, 16 * SECOND_MS],
    [2, 3, 2 * SECOND_MS, 30 * SECOND_MS, 7810],
    [3, 3, 2 * SECOND_MS, 30 * SECOND_MS, 2 * SECOND_MS],
    [4, 3, 2 * SECOND_MS, 30 * SECOND_MS, 2 * SECOND_MS],
    [5, 3, 2 * SECOND_MS, 30 * SECOND_MS, 2 * SECOND_MS],
    // LAN preset, n ≤ 10: Smin 4 s, Smax 24 s, k = 2.
    [0, 2, 4 * SECOND_MS, 24 * SECOND_MS, 24 * SECOND_MS],
    [1, 2, 4 * SECOND_MS, 24 * SECOND_MS, 11_381],
    [2, 2, 4 * SECOND_MS, 24 * SECOND_MS, 4 * SECOND_MS],
    // No confirmations wanted (tiny cluster): the minimum from the start.
    [0, 0, 4 * SECOND_MS, 24 * SECOND_MS, 4 * SECOND_MS],
  ])("c=%i k=%i min=%i max=%i → %i ms", (confirmations, wanted, minMs, maxMs, expected) => {
    expect(suspicionTimeoutMs(confirmations, wanted, minMs, maxMs)).toBe(expected);
  });
});

describe("Suspicion", () => {
  const make = () =>
    new Suspicion({
      incarnation: 3,
      startMs: 1000,
      from: "a",
      wanted: 2,
      minMs: 4000,
      maxMs: 24_000,
    });

  test("the first reporter is not a confirmation; each other member counts once", () => {
    const suspicion = make();
    expect(suspicion.deadlineMs).toBe(25_000);
    expect(suspicion.confirm("a")).toBe(false);
    expect(suspicion.confirm("b")).toBe(true);
    expect(suspicion.confirm("b")).toBe(false);
    expect(suspicion.deadlineMs).toBe(1000 + 11_381);
    expect(suspicion.confirm("c")).toBe(true);
    expect(suspicion.deadlineMs).toBe(5000);
    // Past k confirmations nothing changes, and nothing is worth re-gossiping.
    expect(suspicion.confirm("d")).toBe(false);
    expect(suspicion.confirmations).toBe(2);
  });

  test("strong evidence caps the deadline; a stall slides it", () => {
    const suspicion = make();
    suspicion.capDeadline(1500);
    expect(suspicion.deadlineMs).toBe(1500);
    suspicion.shift(2000);
    expect(suspicion.deadlineMs).toBe(3500);
  });
});
