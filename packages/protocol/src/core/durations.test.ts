/** Property: a duration flag reads units ms, s, m, h or bare milliseconds, and nothing else. */
import { expect, test } from "bun:test";
import { parseDurationMs } from "./durations.ts";

test("units and bare milliseconds", () => {
  const read = (text: string): number | string => {
    const parsed = parseDurationMs(text);
    return parsed.ok ? parsed.value : parsed.error.code;
  };
  expect(read("1h")).toBe(3_600_000);
  expect(read("2m")).toBe(120_000);
  expect(read(" 90s ")).toBe(90_000);
  expect(read("250ms")).toBe(250);
  expect(read("1500")).toBe(1_500);
  expect(read("0")).toBe(0);
  for (const bad of ["", "1d", "-5s", "1.5s", "s", "1h30m", `${"9".repeat(20)}h`]) {
    expect(read(bad)).toBe("BAD_REQUEST");
  }
});
