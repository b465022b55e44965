/**
 * report.html: one self-contained page (inline SVG, no script, no network) with the per-second
 * charts, the churn events as labelled vertical lines and each outage shaded from fault to
 * undo, plus a lane per group showing who was primary. Pure: strings in, a string out.
 */

import { OP_KINDS } from "./config.ts";
import type { SecondMetrics } from "./metrics.ts";

const CHART_WIDTH_PX = 1300;
const CHART_HEIGHT_PX = 210;
const MARGIN_LEFT_PX = 70;
const MARGIN_RIGHT_PX = 20;
const MARGIN_TOP_PX = 28;
const MARGIN_BOTTOM_PX = 26;
const LANE_HEIGHT_PX = 26;
const Y_TICKS = 4;
const KIND_COLORS = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"] as const;
const NODE_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948"] as const;

export interface ChartEvent {
  readonly atS: number;
  readonly label: string;
}

export interface ChartSpan {
  readonly fromS: number;
  readonly toS: number;
  readonly label: string;
}

interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: ReadonlyArray<number | null>;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

class Frame {
  readonly plotWidthPx = CHART_WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX;
  readonly plotHeightPx: number;
  constructor(
    readonly seconds: number,
    readonly yMax: number,
    heightPx: number,
  ) {
    this.plotHeightPx = heightPx - MARGIN_TOP_PX - MARGIN_BOTTOM_PX;
  }
  x(second: number): number {
    return MARGIN_LEFT_PX + (second / Math.max(1, this.seconds)) * this.plotWidthPx;
  }
  y(value: number): number {
    return MARGIN_TOP_PX + this.plotHeightPx * (1 - value / (this.yMax || 1));
  }
}

function markers(
  frame: Frame,
  events: readonly ChartEvent[],
  spans: readonly ChartSpan[],
  heightPx: number,
): string {
  const bottom = heightPx - MARGIN_BOTTOM_PX;
  const shades = spans
    .map(
      (span) =>
        `<rect x="${frame.x(span.fromS)}" y="${MARGIN_TOP_PX}" width="${Math.max(1, frame.x(span.toS) - frame.x(span.fromS))}" ` +
        `height="${bottom - MARGIN_TOP_PX}" fill="#d62728" opacity="0.10"/>`,
    )
    .join("");
  const lines = events
    .map((event, index) => {
      const x = frame.x(event.atS);
      const labelY = MARGIN_TOP_PX - 4 - (index % 2) * 11;
      return (
        `<line x1="${x}" x2="${x}" y1="${MARGIN_TOP_PX}" y2="${bottom}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="4 3"/>` +
        `<text x="${x + 2}" y="${labelY + 10}" font-size="10" fill="#b00">${escapeHtml(event.label)}</text>`
      );
    })
    .join("");
  return shades + lines;
}

function axes(
  frame: Frame,
  title: string,
  unit: string,
  heightPx: number,
  logScale: boolean,
): string {
  const bottom = heightPx - MARGIN_BOTTOM_PX;
  const ticks: string[] = [];
  for (let tick = 0; tick <= Y_TICKS; tick += 1) {
    const value = (frame.yMax * tick) / Y_TICKS;
    const y = frame.y(value);
    const shown = logScale ? 10 ** value : value;
    ticks.push(
      `<line x1="${MARGIN_LEFT_PX}" x2="${CHART_WIDTH_PX - MARGIN_RIGHT_PX}" y1="${y}" y2="${y}" stroke="#eee"/>` +
        `<text x="${MARGIN_LEFT_PX - 6}" y="${y + 4}" font-size="11" text-anchor="end">${shown.toFixed(shown < 10 ? 1 : 0)}</text>`,
    );
  }
  const step = frame.seconds > 60 ? 10 : 5;
  for (let second = 0; second <= frame.seconds; second += step) {
    ticks.push(
      `<text x="${frame.x(second)}" y="${bottom + 16}" font-size="11" text-anchor="middle">${second}s</text>`,
    );
  }
  return (
    ticks.join("") +
    `<text x="8" y="16" font-size="13" font-weight="bold">${escapeHtml(title)} <tspan font-weight="normal" fill="#555">(${escapeHtml(unit)})</tspan></text>`
  );
}

/** A gap (null) in a series breaks its line instead of drawing it to zero. */
function polylines(points: ReadonlyArray<string | null>, color: string): string {
  const segments: string[][] = [[]];
  for (const point of points) {
    if (point === null) segments.push([]);
    else segments.at(-1)?.push(point);
  }
  return segments
    .filter((segment) => segment.length > 0)
    .map(
      (segment) =>
        `<polyline points="${segment.join(" ")}" fill="none" stroke="${color}" stroke-width="1.8"/>`,
    )
    .join("");
}

function lineChart(
  title: string,
  unit: string,
  series: readonly Series[],
  events: readonly ChartEvent[],
  spans: readonly ChartSpan[],
  seconds: number,
  logScale = false,
): string {
  const transform = (value: number): number => (logScale ? Math.log10(Math.max(1, value)) : value);
  const all = series.flatMap((entry) =>
    entry.values.filter((value): value is number => value !== null),
  );
  const frame = new Frame(seconds, Math.max(1, ...all.map(transform)) * 1.1, CHART_HEIGHT_PX);
  const paths = series
    .map((entry) => {
      const points = entry.values.map((value, second) =>
        value === null
          ? null
          : `${frame.x(second + 0.5).toFixed(1)},${frame.y(transform(value)).toFixed(1)}`,
      );
      return polylines(points, entry.color);
    })
    .join("");
  const legend = series
    .map(
      (entry, index) =>
        `<rect x="${CHART_WIDTH_PX - 420 + index * 100}" y="6" width="10" height="10" fill="${entry.color}"/>` +
        `<text x="${CHART_WIDTH_PX - 406 + index * 100}" y="15" font-size="11">${escapeHtml(entry.label)}</text>`,
    )
    .join("");
  const unitText = logScale ? `${unit}, log10 scale` : unit;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH_PX}" height="${CHART_HEIGHT_PX}">` +
    axes(frame, title, unitText, CHART_HEIGHT_PX, logScale) +
    markers(frame, events, spans, CHART_HEIGHT_PX) +
    paths +
    legend +
    `</svg>`
  );
}

/** One lane per group and the directory: colored by the primary's node id, gray when none. */
function membershipChart(
  metrics: readonly SecondMetrics[],
  events: readonly ChartEvent[],
  spans: readonly ChartSpan[],
): string {
  const groups = [
    ...new Set(metrics.flatMap((second) => Object.keys(second.membership?.groupPrimary ?? {}))),
  ].sort();
  const lanes = ["directory", ...groups];
  const heightPx = MARGIN_TOP_PX + MARGIN_BOTTOM_PX + lanes.length * LANE_HEIGHT_PX;
  const frame = new Frame(metrics.length, 1, heightPx);
  const colorOf = new Map<string, string>();
  const color = (node: string): string => {
    if (!colorOf.has(node))
      colorOf.set(node, NODE_COLORS[colorOf.size % NODE_COLORS.length] ?? "#888");
    return colorOf.get(node) ?? "#888";
  };
  const cells: string[] = [];
  // Labels after every cell: a later second's cell would otherwise paint over a label.
  const labels: string[] = [];
  lanes.forEach((lane, laneIndex) => {
    const y = MARGIN_TOP_PX + laneIndex * LANE_HEIGHT_PX;
    cells.push(
      `<text x="${MARGIN_LEFT_PX - 6}" y="${y + 17}" font-size="11" text-anchor="end">${lane}</text>`,
    );
    let previous = "";
    metrics.forEach((second) => {
      const membership = second.membership;
      const node =
        membership === null
          ? null
          : lane === "directory"
            ? membership.directoryPrimary
            : (membership.groupPrimary[lane] ?? null);
      const inSync = lane === "directory" ? null : (membership?.groupInSync[lane] ?? null);
      const fill = node === null ? "#ccc" : color(node);
      const x = frame.x(second.second);
      cells.push(
        `<rect x="${x}" y="${y + 2}" width="${frame.x(1) - frame.x(0) + 0.5}" height="${LANE_HEIGHT_PX - 4}" fill="${fill}"/>`,
      );
      const label = `${node ?? "none"}${inSync === null ? "" : ` (${inSync})`}`;
      if (label !== previous)
        labels.push(`<text x="${x + 2}" y="${y + 17}" font-size="10" fill="#fff">${label}</text>`);
      previous = label;
    });
  });
  const title =
    `<text x="8" y="16" font-size="13" font-weight="bold">Primary of each group ` +
    `<tspan font-weight="normal" fill="#555">(node id, in-sync replicas; gray: no directory primary answered, or none elected)</tspan></text>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH_PX}" height="${heightPx}">` +
    title +
    cells.join("") +
    labels.join("") +
    markers(frame, events, spans, heightPx) +
    `</svg>`
  );
}

export function renderReport(
  title: string,
  summaryText: string,
  metrics: readonly SecondMetrics[],
  events: readonly ChartEvent[],
  spans: readonly ChartSpan[],
): string {
  const seconds = metrics.length;
  const kindSeries: Series[] = OP_KINDS.map((kind, index) => ({
    label: kind,
    color: KIND_COLORS[index] ?? "#000",
    values: metrics.map((second) => second.ops[kind]),
  }));
  const charts = [
    lineChart(
      "Completed operations per second, by kind",
      "ops/s",
      kindSeries,
      events,
      spans,
      seconds,
    ),
    lineChart(
      "Throughput",
      "MiB/s uploaded + read",
      [{ label: "MiB/s", color: "#17becf", values: metrics.map((second) => second.mibPerS) }],
      events,
      spans,
      seconds,
    ),
    lineChart(
      "Latency of completed operations",
      "ms",
      [
        { label: "p50", color: "#2ca02c", values: metrics.map((second) => second.p50Ms) },
        { label: "p95", color: "#ff7f0e", values: metrics.map((second) => second.p95Ms) },
        { label: "p99", color: "#d62728", values: metrics.map((second) => second.p99Ms) },
      ],
      events,
      spans,
      seconds,
      true,
    ),
    lineChart(
      "Errors and retries",
      "per second",
      [
        { label: "errors", color: "#d62728", values: metrics.map((second) => second.errors) },
        { label: "retries", color: "#7f7f7f", values: metrics.map((second) => second.retries) },
      ],
      events,
      spans,
      seconds,
    ),
    membershipChart(metrics, events, spans),
  ];
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>body{font-family:sans-serif;margin:12px;background:#fff}pre{font-size:12px}</style></head><body>` +
    `<h2>${escapeHtml(title)}</h2>` +
    `<p style="font-size:12px">Red dashed lines: churn events. Red shading: from a fault to its undo.</p>` +
    charts.map((chart) => `<div>${chart}</div>`).join("") +
    `<pre>${escapeHtml(summaryText)}</pre></body></html>`
  );
}
