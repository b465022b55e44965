/**
 * Metrics as Prometheus reads them, pure: counters, gauges and histograms with labels, kept in
 * a registry and rendered in Prometheus's text exposition format (version 0.0.4). Names follow
 * Prometheus's conventions, checked when a metric is made: the `ftfs_` prefix, snake case, base
 * units in the name, `_total` on counters and nowhere else. Label values are what the code
 * passes (op names, result codes, group names), never user or chunk ids: every label set is a
 * time series a server keeps. Values read at scrape time (a Raft term, disk free) are gauges
 * set by a collector the registry runs before it renders; so are counts a component keeps in
 * its own stats (chunks scrubbed), as counters whose total only rises.
 */

import { assert } from "./assert.ts";

const METRIC_NAME_PATTERN = /^ftfs_[a-z][a-z0-9_]*[a-z0-9]$/;
const LABEL_NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Latency buckets in seconds, from a cached read to a stalled disk. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

type Labels = Readonly<Record<string, string>>;

interface Series {
  readonly labels: Labels;
  value: number;
}

interface HistogramSeries {
  readonly labels: Labels;
  /** Per bucket (same order as the buckets), observations at or below its bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    assert(METRIC_NAME_PATTERN.test(name), `metric name ${name} is not ftfs_snake_case`);
    for (const label of labelNames) {
      assert(LABEL_NAME_PATTERN.test(label) && label !== "le", `label ${label} of ${name}`);
    }
  }

  protected key(labels: Labels): string {
    const names = Object.keys(labels);
    assert(
      names.length === this.labelNames.length && this.labelNames.every((name) => name in labels),
      `${this.name} takes labels ${this.labelNames.join(",")}, not ${names.join(",")}`,
    );
    return this.labelNames.map((name) => labels[name] ?? "").join("\u0000");
  }

  abstract kind(): "counter" | "gauge" | "histogram";
  abstract samples(): string[];
}

class ValueMetric extends Metric {
  private readonly series = new Map<string, Series>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly metricKind: "counter" | "gauge",
  ) {
    super(name, help, labelNames);
  }

  kind(): "counter" | "gauge" {
    return this.metricKind;
  }

  protected add(labels: Labels, by: number): void {
    const key = this.key(labels);
    const series = this.series.get(key);
    if (series === undefined) this.series.set(key, { labels: { ...labels }, value: by });
    else series.value += by;
  }

  protected put(labels: Labels, value: number): void {
    const key = this.key(labels);
    const series = this.series.get(key);
    if (series === undefined) this.series.set(key, { labels: { ...labels }, value });
    else series.value = value;
  }

  /** The series' value now (0 if it has none yet). */
  valueAt(labels: Labels): number {
    return this.series.get(this.key(labels))?.value ?? 0;
  }

  /** Drops every series (a gauge set afresh at each scrape, whose label sets come and go). */
  reset(): void {
    this.series.clear();
  }

  samples(): string[] {
    return [...this.series.values()].map(
      (series) => `${this.name}${renderLabels(series.labels)} ${renderNumber(series.value)}`,
    );
  }
}

export class Counter extends ValueMetric {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames, "counter");
    assert(name.endsWith("_total"), `counter ${name} must end in _total`);
  }

  inc(labels: Labels = {}, by = 1): void {
    assert(by >= 0, `${this.name} may only go up`);
    this.add(labels, by);
  }

  /**
   * A count kept elsewhere (a component's stats, alive as long as the process), read at each
   * scrape. It may only go up: a total that fell is our bug, and would read as a restart.
   */
  setTotal(labels: Labels, total: number): void {
    const before = this.valueAt(labels);
    assert(total >= before, `${this.name} fell from ${before} to ${total}`);
    this.put(labels, total);
  }
}

export class Gauge extends ValueMetric {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames, "gauge");
    assert(!name.endsWith("_total"), `gauge ${name} must not end in _total`);
  }

  set(labels: Labels, value: number): void {
    this.put(labels, value);
  }
}

export class Histogram extends Metric {
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
    assert(!name.endsWith("_total"), `histogram ${name} must not end in _total`);
    assert(
      buckets.length > 0 &&
        buckets.every((bound, at) => at === 0 || bound > (buckets[at - 1] ?? 0)),
      `${name}'s buckets must rise`,
    );
  }

  kind(): "histogram" {
    return "histogram";
  }

  observe(labels: Labels, value: number): void {
    const key = this.key(labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    for (const [at, bound] of this.buckets.entries()) {
      if (value <= bound) series.counts[at] = (series.counts[at] ?? 0) + 1;
    }
    series.sum += value;
    series.count += 1;
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const series of this.series.values()) {
      for (const [at, bound] of this.buckets.entries()) {
        const labels = { ...series.labels, le: renderNumber(bound) };
        lines.push(`${this.name}_bucket${renderLabels(labels)} ${series.counts[at] ?? 0}`);
      }
      const all = { ...series.labels, le: "+Inf" };
      lines.push(`${this.name}_bucket${renderLabels(all)} ${series.count}`);
      lines.push(`${this.name}_sum${renderLabels(series.labels)} ${renderNumber(series.sum)}`);
      lines.push(`${this.name}_count${renderLabels(series.labels)} ${series.count}`);
    }
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: Array<() => void> = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[] = LATENCY_BUCKETS_SECONDS,
  ): Histogram {
    return this.register(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs before each render: sets the gauges whose values are read, not counted. */
  collect(collector: () => void): void {
    this.collectors.push(collector);
  }

  /** Every metric in the text exposition format, in the order they were made. */
  render(): string {
    for (const collector of this.collectors) collector();
    const lines: string[] = [];
    for (const metric of this.metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      lines.push(`# TYPE ${metric.name} ${metric.kind()}`);
      lines.push(...metric.samples());
    }
    return `${lines.join("\n")}\n`;
  }

  private register<M extends Metric>(metric: M): M {
    assert(!this.metrics.has(metric.name), `metric ${metric.name} is registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }
}

function renderLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeValue(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function escapeValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function renderNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}
