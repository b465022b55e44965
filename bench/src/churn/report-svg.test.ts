/**
 * The churn report is one well-formed SVG document whose size the PNG keeps: every label is
 * escaped, the summary's lines are all there, and rendered it has the stated width and height
 * with ink on it. report.html carries the very same SVG.
 */

import { expect, test } from "bun:test";
import { pngDimensions, renderSvg } from "../common/svg-png.ts";
import type { SecondMetrics } from "./metrics.ts";
import { renderReportHtml, renderReportSvg, type ReportInput } from "./report-svg.ts";

const SECONDS = 12;
/** Charts and a summary leave thousands of dark pixels; a blank page leaves none. */
const INK_PIXELS_MIN = 2_000;
const DARK_CHANNEL_MAX = 100;

function second(index: number): SecondMetrics {
  return {
    second: index,
    ops: { upload: 10 + index, update: 8, read: 20, list: 2 },
    opsTotal: 40 + index,
    mibPerS: 3.5,
    p50Ms: 12,
    p95Ms: 80,
    p99Ms: index === 5 ? null : 300,
    errors: index === 4 ? 2 : 0,
    retries: index === 4 ? 5 : 0,
    membership: {
      tMs: index * 1000,
      directoryPrimary: index < 6 ? "d1" : "d2",
      groupPrimary: { s1: index === 3 ? null : "s1a", "s<2>": "s2a" },
      groupInSync: { s1: index < 3 ? 3 : 2, "s<2>": 3 },
    },
  };
}

function input(): ReportInput {
  return {
    title: "churn & <test>",
    summaryText: "label      value\nerrors     0\nsamples:\n  a line with <angle> & amp",
    metrics: Array.from({ length: SECONDS }, (_, index) => second(index)),
    events: [
      { atS: 2, label: "kill s1a" },
      { atS: 6, label: "restart s1a" },
    ],
    spans: [{ fromS: 2, toS: 6, label: "s1a kill" }],
    recoveries: [
      { group: "s1", fromS: 6, toS: 8.5 },
      { group: "s<2>", fromS: 9, toS: null },
    ],
  };
}

function sizeOf(svg: string): { widthPx: number; heightPx: number } {
  const match = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg);
  return { widthPx: Number(match?.[1]), heightPx: Number(match?.[2]) };
}

test("labels are escaped and every summary line is in the document", () => {
  const svg = renderReportSvg(input());
  expect(svg).toContain("churn &amp; &lt;test&gt;");
  expect(svg).toContain("s&lt;2&gt;");
  expect(svg).not.toContain("<test>");
  for (const line of ["label      value", "errors     0", "a line with &lt;angle&gt; &amp; amp"])
    expect(svg).toContain(line);
});

test("report.html embeds the same SVG", () => {
  const svg = renderReportSvg(input());
  expect(renderReportHtml("t", svg)).toContain(svg);
});

test("the PNG of a small report has the SVG's size and ink on it", async () => {
  const svg = renderReportSvg(input());
  const image = await renderSvg(svg);
  const size = sizeOf(svg);
  expect(size.widthPx).toBeGreaterThan(0);
  expect(pngDimensions(image.png)).toEqual(size);
  let dark = 0;
  for (let index = 0; index + 3 < image.pixels.length; index += 4) {
    const channels = [image.pixels[index], image.pixels[index + 1], image.pixels[index + 2]];
    if (Math.max(...channels.map((value) => value ?? 255)) < DARK_CHANNEL_MAX) dark += 1;
  }
  expect(dark).toBeGreaterThan(INK_PIXELS_MIN);
});
