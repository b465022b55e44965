/**
 * Durations as people write them in flags: `1h`, `90s`, `250ms`, `2m`, or a bare number of
 * milliseconds. Pure; each app's main.ts turns a refusal into a usage error.
 */

import { fail, ok, type Result } from "./errors.ts";

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_PATTERN = /^(\d+)\s*(ms|s|m|h)?$/;

export function parseDurationMs(text: string): Result<number> {
  const match = DURATION_PATTERN.exec(text.trim());
  const scale = MS_PER_UNIT[match?.[2] ?? "ms"];
  if (match === null || scale === undefined) {
    return fail("BAD_REQUEST", `'${text}' is not a duration such as 1h, 90s or 250ms`);
  }
  const durationMs = Number(match[1]) * scale;
  if (!Number.isSafeInteger(durationMs)) {
    return fail("BAD_REQUEST", `'${text}' is too long a duration`);
  }
  return ok(durationMs);
}
