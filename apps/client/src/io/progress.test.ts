/**
 * Progress bars: drawn only on a terminal and only for transfers of more than one chunk,
 * rate limited, erased at the end so the result line stands alone.
 */
import { expect, test } from "bun:test";
import { progressBar } from "./progress.ts";

test("no bar off a terminal, none for one chunk, and the bar is erased when done", () => {
  const written: string[] = [];
  const terminal = { isTty: true, write: (text: string) => void written.push(text) };
  expect(progressBar("x", { ...terminal, isTty: false })).toBeUndefined();
  const single = progressBar("x", terminal);
  single?.({ doneBytes: 0, totalBytes: 10, chunks: 1 });
  single?.({ doneBytes: 10, totalBytes: 10, chunks: 1 });
  expect(written).toEqual([]);
  const multi = progressBar("x", terminal);
  multi?.({ doneBytes: 0, totalBytes: 10, chunks: 2 });
  multi?.({ doneBytes: 5, totalBytes: 10, chunks: 2 }); // within the redraw interval: skipped
  multi?.({ doneBytes: 10, totalBytes: 10, chunks: 2 });
  expect(written.length).toBe(2);
  expect(written[0]).toContain("x [");
  expect(written[1]).toBe("\r\u001b[2K");
});

test("a stream's bar ends when its length becomes known", () => {
  const written: string[] = [];
  const bar = progressBar("stdin", { isTty: true, write: (text) => void written.push(text) });
  bar?.({ doneBytes: 100, totalBytes: null, chunks: 2 });
  bar?.({ doneBytes: 150, totalBytes: 150, chunks: 2 });
  expect(written).toEqual([expect.stringContaining("stdin  100 B"), "\r\u001b[2K"]);
});
