/** Backoff grows exponentially from the base, never exceeds the cap, and jitters in [d/2, d]. */
import { expect, test } from "bun:test";
import { backoffDelayMs } from "./backoff.ts";

test("backoff doubles from the base, is capped, and jitters within [half, full]", () => {
  expect(backoffDelayMs(0, 1, 50, 1_000)).toBe(50);
  expect(backoffDelayMs(0, 0, 50, 1_000)).toBe(25);
  expect(backoffDelayMs(3, 1, 50, 1_000)).toBe(400);
  expect(backoffDelayMs(10, 1, 50, 1_000)).toBe(1_000);
  expect(backoffDelayMs(10, 0, 50, 1_000)).toBe(500);
  expect(backoffDelayMs(1_000, 0.5, 50, 1_000)).toBe(750);
  expect(backoffDelayMs(-1, 2, 50, 1_000)).toBe(50);
});
