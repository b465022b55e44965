/**
 * The metrics registry renders Prometheus's text format exactly: HELP and TYPE lines, label
 * values escaped, histograms as cumulative buckets with +Inf, sum and count; collectors run at
 * each render; names that break Prometheus's conventions are refused when made.
 */
import { describe, expect, test } from "bun:test";
import { MetricsRegistry } from "./metrics.ts";

describe("MetricsRegistry", () => {
  test("renders counters, gauges and histograms in the text format", () => {
    const registry = new MetricsRegistry();
    const requests = registry.counter("ftfs_rpc_requests_total", "Requests served.", [
      "op",
      "code",
    ]);
    const term = registry.gauge("ftfs_raft_term", "The current Raft term.");
    const latency = registry.histogram(
      "ftfs_rpc_request_duration_seconds",
      "Time to answer a request.",
      ["op"],
      [0.01, 0.1],
    );
    requests.inc({ op: "putChunk", code: "ok" });
    requests.inc({ op: "putChunk", code: "ok" }, 2);
    requests.inc({ op: "getChunk", code: 'a "quoted"\\ne' });
    let scrapes = 0;
    registry.collect(() => {
      scrapes += 1;
      term.set({}, 7);
    });
    latency.observe({ op: "putChunk" }, 0.005);
    latency.observe({ op: "putChunk" }, 0.05);
    latency.observe({ op: "putChunk" }, 3);
    expect(registry.render()).toBe(
      [
        "# HELP ftfs_rpc_requests_total Requests served.",
        "# TYPE ftfs_rpc_requests_total counter",
        'ftfs_rpc_requests_total{op="putChunk",code="ok"} 3',
        'ftfs_rpc_requests_total{op="getChunk",code="a \\"quoted\\"\\\\ne"} 1',
        "# HELP ftfs_raft_term The current Raft term.",
        "# TYPE ftfs_raft_term gauge",
        "ftfs_raft_term 7",
        "# HELP ftfs_rpc_request_duration_seconds Time to answer a request.",
        "# TYPE ftfs_rpc_request_duration_seconds histogram",
        'ftfs_rpc_request_duration_seconds_bucket{op="putChunk",le="0.01"} 1',
        'ftfs_rpc_request_duration_seconds_bucket{op="putChunk",le="0.1"} 2',
        'ftfs_rpc_request_duration_seconds_bucket{op="putChunk",le="+Inf"} 3',
        'ftfs_rpc_request_duration_seconds_sum{op="putChunk"} 3.055',
        'ftfs_rpc_request_duration_seconds_count{op="putChunk"} 3',
        "",
      ].join("\n"),
    );
    expect(scrapes).toBe(1);
  });

  test("a counter read from a component's stats takes its total, and refuses one that fell", () => {
    const registry = new MetricsRegistry();
    const checked = registry.counter("ftfs_scrub_checked_chunks_total", "Chunks scrubbed.");
    const stats = { checked: 0 };
    registry.collect(() => checked.setTotal({}, stats.checked));
    stats.checked = 5;
    expect(registry.render()).toContain("\nftfs_scrub_checked_chunks_total 5\n");
    stats.checked = 9;
    expect(registry.render()).toContain("\nftfs_scrub_checked_chunks_total 9\n");
    expect(checked.valueAt({})).toBe(9);
    stats.checked = 4;
    expect(() => registry.render()).toThrow(/fell from 9 to 4/);
  });

  test("names and labels that break the conventions are refused", () => {
    const registry = new MetricsRegistry();
    expect(() => registry.counter("ftfs_requests", "no _total")).toThrow();
    expect(() => registry.gauge("ftfs_things_total", "a gauge named as a counter")).toThrow();
    expect(() => registry.gauge("requests", "no prefix")).toThrow();
    expect(() => registry.gauge("ftfs_Bad", "upper case")).toThrow();
    expect(() => registry.histogram("ftfs_x_seconds", "le is reserved", ["le"])).toThrow();
    const ok = registry.gauge("ftfs_ok_bytes", "fine", ["group"]);
    expect(() => ok.set({}, 1)).toThrow();
    expect(() => registry.gauge("ftfs_ok_bytes", "twice")).toThrow();
  });
});
