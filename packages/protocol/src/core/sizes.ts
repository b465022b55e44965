/**
 * Byte sizes as people write them in flags and files: `4MiB`, `64KiB`, `1.5GiB`, `10 TiB`, or a
 * bare number of bytes; binary units, any case. Pure; callers turn a refusal into their own
 * usage error. The one parser for node flags, the CLI's quotas and the benchmarks' loads.
 */

import { fail, ok, type Result } from "./errors.ts";

const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

export function parseByteSize(text: string): Result<number> {
  const match = SIZE_PATTERN.exec(text.trim());
  const scale = BYTES_PER_UNIT[(match?.[2] ?? "").toLowerCase() || "b"];
  if (match === null || scale === undefined) {
    return fail("BAD_REQUEST", `'${text}' is not a size such as 4MiB, 64KiB or 1048576`);
  }
  const bytes = Number(match[1]) * scale;
  if (!Number.isSafeInteger(bytes)) {
    return fail("BAD_REQUEST", `'${text}' is not a whole number of bytes below 8 PiB`);
  }
  return ok(bytes);
}

const BYTES_PER_KIB = 1024;
const SIZE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** 0 B, 999 B, 12.3 KiB, 4.0 MiB: binary units, one decimal past bytes. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= BYTES_PER_KIB && unit < SIZE_UNITS.length - 1) {
    value /= BYTES_PER_KIB;
    unit += 1;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value.toFixed(1)} ${SIZE_UNITS[unit]}`;
}
