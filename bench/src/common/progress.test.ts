/**
 * The benches' progress line: its text says elapsed time, rate and errors (and what the bench
 * adds), fits the terminal, is drawn in place on a terminal and never on a pipe, and is
 * cleared when the run ends.
 */

import { expect, test } from "bun:test";
import { fitToColumns, formatProgress, startProgress, type ProgressStream } from "./progress.ts";

/** Drawing twice at a 5 ms interval takes far less; this only bounds a broken timer. */
const DRAW_DEADLINE_MS = 5_000;
const TEST_INTERVAL_MS = 5;

test("the line says elapsed of total, ok count, rate, errors and the bench's detail", () => {
  const line = formatProgress({
    elapsedMs: 12_400,
    totalMs: 100_000,
    ok: 1_240,
    errors: 3,
    detail: "next: kill storage-primary:s1 in 3 s",
  });
  expect(line).toBe(
    "12 s of 100 s  1240 ok  100.0 ops/s  3 errors  next: kill storage-primary:s1 in 3 s",
  );
});

test("an open-ended run shows only elapsed time; one error is singular; no rate at 0 s", () => {
  expect(formatProgress({ elapsedMs: 2_000, totalMs: null, ok: 5, errors: 1 })).toBe(
    "2 s  5 ok  2.5 ops/s  1 error",
  );
  expect(formatProgress({ elapsedMs: 0, totalMs: 10_000, ok: 0, errors: 0 })).toBe(
    "0 s of 10 s  0 ok  - ops/s  0 errors",
  );
});

test("a line longer than the terminal is cut one column short, with an ellipsis", () => {
  expect(fitToColumns("abcdef", 10)).toBe("abcdef");
  expect(fitToColumns("abcdefghijkl", 10)).toBe("abcdefgh…");
  expect(fitToColumns("abcdefghijkl", 10).length).toBe(9);
  expect(fitToColumns("x".repeat(100), undefined).length).toBe(79);
});

function fakeStream(isTTY: boolean): ProgressStream & { readonly writes: string[] } {
  const writes: string[] = [];
  return { isTTY, columns: 40, writes, write: (text: string) => writes.push(text) };
}

test("a terminal gets the line redrawn in place, cleared at stop; a pipe none", async () => {
  const terminal = fakeStream(true);
  const pipe = fakeStream(false);
  let draws = 0;
  const render = (): string => {
    draws += 1;
    return `line ${draws} ${"y".repeat(60)}`;
  };
  const shown = startProgress(render, terminal, TEST_INTERVAL_MS);
  const hidden = startProgress(render, pipe, TEST_INTERVAL_MS);
  const deadlineMs = performance.now() + DRAW_DEADLINE_MS;
  while (terminal.writes.length < 2 && performance.now() < deadlineMs) await Bun.sleep(1);
  shown.stop();
  hidden.stop();
  expect(terminal.writes.length).toBeGreaterThanOrEqual(3);
  expect(terminal.writes[0]?.startsWith("\r\x1b[Kline 1 ")).toBe(true);
  expect(terminal.writes[0]?.length).toBe("\r\x1b[K".length + 39);
  expect(terminal.writes.at(-1)).toBe("\r\x1b[K");
  expect(pipe.writes).toEqual([]);
});
