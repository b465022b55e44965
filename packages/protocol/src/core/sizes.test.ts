/** Sizes: binary units in any case, fractions that come to whole bytes, nothing else. */
import { expect, test } from "bun:test";
import { formatBytes, parseByteSize } from "./sizes.ts";

test("bare bytes and every binary unit, in any case, with or without a space", () => {
  expect(parseByteSize("1048576")).toEqual({ ok: true, value: 1_048_576 });
  expect(parseByteSize("12B")).toEqual({ ok: true, value: 12 });
  expect(parseByteSize("64KiB")).toEqual({ ok: true, value: 65_536 });
  expect(parseByteSize("4 mib")).toEqual({ ok: true, value: 4 * 1024 ** 2 });
  expect(parseByteSize(" 1.5GiB ")).toEqual({ ok: true, value: 1.5 * 1024 ** 3 });
  expect(parseByteSize("10TiB")).toEqual({ ok: true, value: 10 * 1024 ** 4 });
});

test("decimal units, fractions of a byte, negatives, junk and overflow are refused", () => {
  for (const text of ["4MB", "0.5B", "-1", "", "KiB", "1e3", "12 bytes", "9999999TiB"]) {
    expect(parseByteSize(text).ok).toBe(false);
  }
});

test("sizes use binary units with one decimal", () => {
  expect(formatBytes(0)).toBe("0 B");
  expect(formatBytes(1023)).toBe("1023 B");
  expect(formatBytes(12_595)).toBe("12.3 KiB");
  expect(formatBytes(4 * 1024 * 1024)).toBe("4.0 MiB");
});
