/**
 * Property: a progress line shows the fraction, amounts, this run's rate and the time left;
 * bytes a resumed upload found stored count as done but not toward the rate; a stream shows
 * amount and rate only; long labels are cut with an ellipsis.
 */
import { expect, test } from "bun:test";
import { formatEta, renderProgress } from "./progress-text.ts";

const MIB = 1024 * 1024;

test("fraction, amounts, rate and time left", () => {
  expect(renderProgress("big.bin", { doneBytes: 512 * 1024, totalBytes: MIB }, 1_000)).toBe(
    "big.bin [############------------]  50% 512.0 KiB/1.0 MiB 512.0 KiB/s ETA 1 s",
  );
});

test("a resumed upload starts at its offset; the rate and ETA are this run's", () => {
  const line = renderProgress(
    "big.bin",
    { doneBytes: 60 * MIB, totalBytes: 100 * MIB, resumedBytes: 50 * MIB },
    10_000,
  );
  expect(line).toBe(
    "big.bin [##############----------]  60% 60.0 MiB/100.0 MiB 1.0 MiB/s ETA 40 s",
  );
});

test("a stream shows what moved and how fast; no total, no ETA", () => {
  expect(renderProgress("stdin", { doneBytes: 3 * MIB, totalBytes: null }, 2_000)).toBe(
    "stdin  3.0 MiB  1.5 MiB/s",
  );
});

test("times left read as people say them; unknown until a rate is", () => {
  expect([formatEta(null), formatEta(0.2), formatEta(59), formatEta(125), formatEta(3720)]).toEqual(
    ["--", "1 s", "59 s", "2 min 05 s", "1 h 02 min"],
  );
  expect(renderProgress("x", { doneBytes: 0, totalBytes: 10 }, 0)).toEndWith("ETA --");
});

test("a long label is cut with an ellipsis", () => {
  const line = renderProgress("a".repeat(100), { doneBytes: 1, totalBytes: 2 }, 1_000);
  expect(line.startsWith(`${"a".repeat(31)}… [`)).toBe(true);
});
