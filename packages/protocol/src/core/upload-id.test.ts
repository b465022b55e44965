/** Upload ids carry their deadline, and ids without one count as past it. */
import { expect, test } from "bun:test";
import { uploadDeadlineMs, uploadIdWithDeadline, uploadSweepableAfterMs } from "./upload-id.ts";

test("a deadline survives the round trip through an id", () => {
  for (const deadlineMs of [0, 1, 1_765_000_000_123, 99_999_999_999_999]) {
    const id = uploadIdWithDeadline(deadlineMs, "abc-DEF_123");
    expect(uploadDeadlineMs(id)).toBe(deadlineMs);
    expect(id.endsWith(".abc-DEF_123")).toBe(true);
  }
});

test("an id without a deadline has none, and may be swept at once", () => {
  for (const id of ["in-flight-1", "d.x", "dzz", "D1.x", "", "d123456789012.x"]) {
    expect(uploadDeadlineMs(id)).toBeNull();
    expect(uploadSweepableAfterMs(id)).toBe(0);
  }
  expect(uploadSweepableAfterMs(uploadIdWithDeadline(5_000, "x"))).toBe(5_000);
});

test("a deadline too far to write is refused, not wrapped", () => {
  expect(() => uploadIdWithDeadline(Number.MAX_SAFE_INTEGER * 1000, "x")).toThrow(RangeError);
});
