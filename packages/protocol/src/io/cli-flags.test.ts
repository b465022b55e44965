/** The server flags' parsers: one clear UsageError per bad value, the same rules in every app. */
import { describe, expect, test } from "bun:test";
import {
  formatDurationMs,
  parseAddressListFlag,
  parseBooleanFlag,
  parseBytesFlag,
  parseDurationFlag,
  UsageError,
} from "./cli-flags.ts";

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error("expected a UsageError");
}

describe("server flags", () => {
  test("durations: units, a floor said in the flag's own units, junk refused", () => {
    expect(parseDurationFlag("gc-grace", "90s", 1_000)).toBe(90_000);
    expect(refusal(() => parseDurationFlag("gc-grace", "10ms", 1_000))).toBe(
      "flag --gc-grace must be at least 1s, got '10ms'",
    );
    expect(refusal(() => parseDurationFlag("gc-grace", "soon", 0))).toMatch(/^flag --gc-grace: /);
    expect([formatDurationMs(3_600_000), formatDurationMs(90_000), formatDurationMs(250)]).toEqual([
      "1h",
      "90s",
      "250ms",
    ]);
  });

  test("booleans, sizes and address lists", () => {
    expect([parseBooleanFlag("spare", "true"), parseBooleanFlag("spare", undefined)]).toEqual([
      true,
      false,
    ]);
    expect(refusal(() => parseBooleanFlag("spare", "maybe"))).toMatch(/--spare takes no value/);
    expect(parseBytesFlag("chunk-bytes", "4MiB", 1, 2 ** 30)).toBe(4 * 1024 ** 2);
    expect(refusal(() => parseBytesFlag("chunk-bytes", "4MB", 1, 2 ** 30))).toMatch(/size/);
    expect(parseAddressListFlag("join", " a:1, b:2 ,", 1)).toEqual(["a:1", "b:2"]);
    expect(parseAddressListFlag("join", undefined, 0)).toEqual([]);
    expect(refusal(() => parseAddressListFlag("join", "", 1))).toMatch(/at least 1 address/);
    expect(refusal(() => parseAddressListFlag("join", "a:1,nope", 1))).toBe(
      "flag --join: 'nope' is not host:port",
    );
  });
});
