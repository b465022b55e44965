/**
 * The churn bench's picture: one standalone SVG document (no script, no network, no external
 * font) with the per-second charts, the churn events as labelled vertical lines and each
 * outage shaded from fault to undo, a lane per group showing who was primary and how long
 * each group took to be whole again after a storage node came back, and the text summary.
 * report.html embeds this same SVG and metrics.png is rendered from it (../common/svg-png.ts),
 * so there is one way to draw. Pure: data in, a string out.
 */

import { OP_KINDS } from "./config.ts";
import type { SecondMetrics } from "./metrics.ts";
import { MONO_FONT_FAMILY, SANS_FONT_FAMILY } from "../common/svg-png.ts";

const CHART_WIDTH_PX = 1300;
const CHART_HEIGHT_PX = 210;
const MARGIN_LEFT_PX = 70;
const MARGIN_RIGHT_PX = 20;
const MARGIN_TOP_PX = 28;
const MARGIN_BOTTOM_PX = 26;
const LANE_HEIGHT_PX = 32;
/** The strip under a group's lane where its recovery bar is drawn. */
const RECOVERY_BAR_HEIGHT_PX = 5;
const Y_TICKS = 4;
const PAGE_MARGIN_PX = 12;
const PAGE_WIDTH_PX = CHART_WIDTH_PX + 2 * PAGE_MARGIN_PX;
/** Room for the title and the one-line key above the first chart. */
const HEADER_HEIGHT_PX = 60;
const SUMMARY_FONT_PX = 12;
const SUMMARY_LINE_HEIGHT_PX = 15;
const SUMMARY_GAP_PX = 16;
/**
 * A summary line longer than the page is cut: DejaVu Sans Mono's advance is 0.6 em, so 12 px
 * text fits ~180 characters in 1300 px. Only error samples get that long; metrics.json has
 * them whole.
 */
const SUMMARY_LINE_CHARS_MAX = 178;
const KIND_COLORS = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"] as const;
const NODE_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948"] as const;
const WHOLE_COLOR = "#2ca02c";
const NOT_WHOLE_COLOR = "#d62728";

export interface ChartEvent {
  readonly atS: number;
  readonly label: string;
}

export interface ChartSpan {
  readonly fromS: number;
  readonly toS: number;
  readonly label: string;
}

/** From a storage node's return to its group being whole again; toS null: not by the end. */
export interface ChartRecovery {
  readonly group: string;
  readonly fromS: number;
  readonly toS: number | null;
}

export interface ReportInput {
  readonly title: string;
  readonly summaryText: string;
  readonly metrics: readonly SecondMetrics[];
  readonly events: readonly ChartEvent[];
  readonly spans: readonly ChartSpan[];
  readonly recoveries: readonly ChartRecovery[];
}

interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: ReadonlyArray<number | null>;
}

/** One block of the page: its markup drawn from y = 0, and how tall it is. */
interface Block {
  readonly svg: string;
  readonly heightPx: number;
}

/** Text for XML content and attribute values alike. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
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

const px = (value: number): string => value.toFixed(1);

function markers(
  frame: Frame,
  events: readonly ChartEvent[],
  spans: readonly ChartSpan[],
  heightPx: number,
): string {
  const bottom = heightPx - MARGIN_BOTTOM_PX;
  const shades = spans.map((span) => {
    const widthPx = Math.max(1, frame.x(span.toS) - frame.x(span.fromS));
    return (
      `<rect x="${px(frame.x(span.fromS))}" y="${MARGIN_TOP_PX}" width="${px(widthPx)}" ` +
      `height="${bottom - MARGIN_TOP_PX}" fill="#d62728" opacity="0.10"/>`
    );
  });
  const lines = events.map((event, index) => {
    const x = frame.x(event.atS);
    // Alternate label heights so two events a second apart do not print over each other.
    const labelY = MARGIN_TOP_PX + 6 - (index % 2) * 11;
    return (
      `<line x1="${px(x)}" x2="${px(x)}" y1="${MARGIN_TOP_PX}" y2="${bottom}" ` +
      `stroke="#d62728" stroke-width="1.5" stroke-dasharray="4 3"/>` +
      `<text x="${px(x + 2)}" y="${labelY}" font-size="10" fill="#b00">` +
      `${escapeXml(event.label)}</text>`
    );
  });
  return shades.join("") + lines.join("");
}

function chartTitle(title: string, unit: string): string {
  return (
    `<text x="8" y="16" font-size="13" font-weight="bold">${escapeXml(title)} ` +
    `<tspan font-weight="normal" fill="#555">(${escapeXml(unit)})</tspan></text>`
  );
}

function axes(frame: Frame, heightPx: number, logScale: boolean): string {
  const bottom = heightPx - MARGIN_BOTTOM_PX;
  const ticks: string[] = [];
  for (let tick = 0; tick <= Y_TICKS; tick += 1) {
    const value = (frame.yMax * tick) / Y_TICKS;
    const y = px(frame.y(value));
    const shown = logScale ? 10 ** value : value;
    ticks.push(
      `<line x1="${MARGIN_LEFT_PX}" x2="${CHART_WIDTH_PX - MARGIN_RIGHT_PX}" y1="${y}" ` +
        `y2="${y}" stroke="#eee"/>` +
        `<text x="${MARGIN_LEFT_PX - 6}" y="${px(frame.y(value) + 4)}" font-size="11" ` +
        `text-anchor="end">${shown.toFixed(shown < 10 ? 1 : 0)}</text>`,
    );
  }
  const step = frame.seconds > 60 ? 10 : 5;
  for (let second = 0; second <= frame.seconds; second += step) {
    ticks.push(
      `<text x="${px(frame.x(second))}" y="${bottom + 16}" font-size="11" ` +
        `text-anchor="middle">${second}s</text>`,
    );
  }
  return ticks.join("");
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
        `<polyline points="${segment.join(" ")}" fill="none" stroke="${color}" ` +
        `stroke-width="1.8"/>`,
    )
    .join("");
}

function legend(series: readonly Series[]): string {
  const legendWidthPx = 100;
  const left = CHART_WIDTH_PX - MARGIN_RIGHT_PX - series.length * legendWidthPx;
  return series
    .map(
      (entry, index) =>
        `<rect x="${left + index * legendWidthPx}" y="6" width="10" height="10" ` +
        `fill="${entry.color}"/>` +
        `<text x="${left + index * legendWidthPx + 14}" y="15" font-size="11">` +
        `${escapeXml(entry.label)}</text>`,
    )
    .join("");
}

interface LineChartSpec {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly Series[];
  readonly logScale?: boolean;
}

function lineChart(spec: LineChartSpec, input: ReportInput): Block {
  const logScale = spec.logScale === true;
  const transform = (value: number): number => (logScale ? Math.log10(Math.max(1, value)) : value);
  const all = spec.series.flatMap((entry) =>
    entry.values.filter((value): value is number => value !== null),
  );
  const seconds = input.metrics.length;
  const frame = new Frame(seconds, Math.max(1, ...all.map(transform)) * 1.1, CHART_HEIGHT_PX);
  const paths = spec.series.map((entry) => {
    const points = entry.values.map((value, second) =>
      value === null ? null : `${px(frame.x(second + 0.5))},${px(frame.y(transform(value)))}`,
    );
    return polylines(points, entry.color);
  });
  const unit = logScale ? `${spec.unit}, log10 scale` : spec.unit;
  return {
    svg:
      chartTitle(spec.title, unit) +
      axes(frame, CHART_HEIGHT_PX, logScale) +
      markers(frame, input.events, input.spans, CHART_HEIGHT_PX) +
      paths.join("") +
      legend(spec.series),
    heightPx: CHART_HEIGHT_PX,
  };
}

/** Cells of one lane, colored by the primary's node id (gray when none), and their labels. */
function laneCells(
  lane: string,
  y: number,
  frame: Frame,
  metrics: readonly SecondMetrics[],
  color: (node: string) => string,
): { cells: string[]; labels: string[] } {
  const cells: string[] = [];
  const labels: string[] = [];
  const cellWidthPx = px(frame.x(1) - frame.x(0) + 0.5);
  const cellHeightPx = LANE_HEIGHT_PX - RECOVERY_BAR_HEIGHT_PX - 4;
  let previous = "";
  for (const second of metrics) {
    const membership = second.membership;
    const node =
      membership === null
        ? null
        : lane === "directory"
          ? membership.directoryPrimary
          : (membership.groupPrimary[lane] ?? null);
    const inSync = lane === "directory" ? null : (membership?.groupInSync[lane] ?? null);
    const x = frame.x(second.second);
    const fill = node === null ? "#ccc" : color(node);
    cells.push(
      `<rect x="${px(x)}" y="${y + 2}" width="${cellWidthPx}" height="${cellHeightPx}" ` +
        `fill="${fill}"/>`,
    );
    const label = `${node ?? "none"}${inSync === null ? "" : ` (${inSync})`}`;
    if (label !== previous) {
      labels.push(
        `<text x="${px(x + 2)}" y="${y + 17}" font-size="10" fill="#fff">` +
          `${escapeXml(label)}</text>`,
      );
    }
    previous = label;
  }
  return { cells, labels };
}

/** Under a group's lane: green from a node's return to whole, red when never whole. */
function recoveryBars(
  recoveries: readonly ChartRecovery[],
  laneTop: (group: string) => number | null,
  frame: Frame,
): string {
  return recoveries
    .map((recovery) => {
      const top = laneTop(recovery.group);
      if (top === null) return "";
      const y = top + LANE_HEIGHT_PX - RECOVERY_BAR_HEIGHT_PX - 1;
      const toS = recovery.toS ?? frame.seconds;
      const widthPx = Math.max(2, frame.x(toS) - frame.x(recovery.fromS));
      const fill = recovery.toS === null ? NOT_WHOLE_COLOR : WHOLE_COLOR;
      return (
        `<rect x="${px(frame.x(recovery.fromS))}" y="${y}" width="${px(widthPx)}" ` +
        `height="${RECOVERY_BAR_HEIGHT_PX}" fill="${fill}"/>`
      );
    })
    .join("");
}

function membershipChart(input: ReportInput): Block {
  const { metrics } = input;
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
  const laneTop = (lane: string): number | null => {
    const index = lanes.indexOf(lane);
    return index < 0 ? null : MARGIN_TOP_PX + index * LANE_HEIGHT_PX;
  };
  const cells: string[] = [];
  // Labels after every cell: a later second's cell would otherwise paint over a label.
  const labels: string[] = [];
  for (const lane of lanes) {
    const y = laneTop(lane) ?? 0;
    labels.push(
      `<text x="${MARGIN_LEFT_PX - 6}" y="${y + 17}" font-size="11" text-anchor="end">` +
        `${escapeXml(lane)}</text>`,
    );
    const drawn = laneCells(lane, y, frame, metrics, color);
    cells.push(...drawn.cells);
    labels.push(...drawn.labels);
  }
  const title = chartTitle(
    "Primary of each group",
    "node id, in-sync replicas; gray: no directory primary answered, or none elected; " +
      "bar under a lane: a storage node's return until its group is whole, red if never",
  );
  return {
    svg:
      title +
      cells.join("") +
      labels.join("") +
      recoveryBars(input.recoveries, laneTop, frame) +
      markers(frame, input.events, input.spans, heightPx),
    heightPx,
  };
}

function charts(input: ReportInput): Block[] {
  const { metrics } = input;
  const kindSeries: Series[] = OP_KINDS.map((kind, index) => ({
    label: kind,
    color: KIND_COLORS[index] ?? "#000",
    values: metrics.map((second) => second.ops[kind]),
  }));
  const specs: LineChartSpec[] = [
    { title: "Completed operations per second, by kind", unit: "ops/s", series: kindSeries },
    {
      title: "Throughput",
      unit: "MiB/s uploaded + read",
      series: [{ label: "MiB/s", color: "#17becf", values: metrics.map((s) => s.mibPerS) }],
    },
    {
      title: "Latency of completed operations",
      unit: "ms",
      logScale: true,
      series: [
        { label: "p50", color: "#2ca02c", values: metrics.map((second) => second.p50Ms) },
        { label: "p95", color: "#ff7f0e", values: metrics.map((second) => second.p95Ms) },
        { label: "p99", color: "#d62728", values: metrics.map((second) => second.p99Ms) },
      ],
    },
    {
      title: "Errors and retries",
      unit: "per second",
      series: [
        { label: "errors", color: "#d62728", values: metrics.map((second) => second.errors) },
        { label: "retries", color: "#7f7f7f", values: metrics.map((second) => second.retries) },
      ],
    },
  ];
  return [...specs.map((spec) => lineChart(spec, input)), membershipChart(input)];
}

function header(title: string): Block {
  return {
    svg:
      `<text x="0" y="22" font-size="18" font-weight="bold">${escapeXml(title)}</text>` +
      `<text x="0" y="44" font-size="12">Red dashed lines: churn events. ` +
      `Red shading: from a fault to its undo.</text>`,
    heightPx: HEADER_HEIGHT_PX,
  };
}

/** The summary table as monospaced lines; its columns are aligned with spaces, kept as is. */
function summary(text: string): Block {
  const lines = text.split("\n").map((line) => {
    if (line.length <= SUMMARY_LINE_CHARS_MAX) return line;
    return `${line.slice(0, SUMMARY_LINE_CHARS_MAX - 1)}…`;
  });
  const rows = lines.map(
    (line, index) =>
      `<text x="0" y="${SUMMARY_GAP_PX + (index + 1) * SUMMARY_LINE_HEIGHT_PX}">` +
      `${escapeXml(line)}</text>`,
  );
  return {
    svg:
      `<g font-family="${MONO_FONT_FAMILY}, monospace" font-size="${SUMMARY_FONT_PX}" ` +
      `xml:space="preserve" style="white-space:pre">${rows.join("")}</g>`,
    heightPx: SUMMARY_GAP_PX + (lines.length + 1) * SUMMARY_LINE_HEIGHT_PX,
  };
}

/** The whole picture as one SVG document, blocks stacked top to bottom on a white page. */
export function renderReportSvg(input: ReportInput): string {
  const blocks = [header(input.title), ...charts(input), summary(input.summaryText)];
  let y = PAGE_MARGIN_PX;
  const placed = blocks.map((block) => {
    const markup =
      `<svg x="${PAGE_MARGIN_PX}" y="${y}" width="${CHART_WIDTH_PX}" ` +
      `height="${block.heightPx}">${block.svg}</svg>`;
    y += block.heightPx;
    return markup;
  });
  const heightPx = y + PAGE_MARGIN_PX;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PAGE_WIDTH_PX}" height="${heightPx}" ` +
    `viewBox="0 0 ${PAGE_WIDTH_PX} ${heightPx}" ` +
    `font-family="${SANS_FONT_FAMILY}, sans-serif" fill="#000">` +
    `<rect width="${PAGE_WIDTH_PX}" height="${heightPx}" fill="#fff"/>` +
    `${placed.join("")}</svg>\n`
  );
}

/** report.html: the same SVG inline, so a browser shows exactly what metrics.png shows. */
export function renderReportHtml(title: string, svg: string): string {
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeXml(title)}</title>` +
    `<style>body{margin:0;background:#fff}</style></head><body>\n${svg}</body></html>\n`
  );
}
