/** Local health stays within 0..max−1 and stretches timeouts by (score + 1). */
import { describe, expect, test } from "bun:test";
import { Awareness } from "./awareness.ts";

describe("Awareness", () => {
  test("starts healthy and scales by one", () => {
    const awareness = new Awareness(8);
    expect(awareness.score).toBe(0);
    expect(awareness.scale(500)).toBe(500);
  });

  test.each([
    [[1], 1, 1000],
    [[3, -1], 2, 1500],
    [[-5], 0, 500],
    [[100], 7, 4000],
    [[7, 1, -1], 6, 3500],
  ])("deltas %p → score %i, 500 ms → %i ms", (deltas, score, scaledMs) => {
    const awareness = new Awareness(8);
    for (const delta of deltas) awareness.applyDelta(delta);
    expect(awareness.score).toBe(score);
    expect(awareness.scale(500)).toBe(scaledMs);
  });
});
