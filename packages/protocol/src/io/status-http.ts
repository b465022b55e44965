/**
 * A node's HTTP status endpoint (`--http-listen`): `/metrics` in Prometheus's text format,
 * `/healthz` (the process serves) and `/readyz` (the node does its job: a directory that
 * knows its group, a storage node registered). Plain HTTP on Bun.serve, bound where the
 * operator says; it tells nothing a scrape of the cluster's shape would not, and changes
 * nothing. Also the process's own gauges: memory, and event-loop lag sampled on a timer.
 */

import { type Gauge, type MetricsRegistry, parseAddress } from "../core/index.ts";
import { type FlagSpec, UsageError } from "./cli-flags.ts";
import type { Logger } from "./logger.ts";

/** The nodes' flag for this endpoint; off unless given. */
export const HTTP_LISTEN_FLAG: FlagSpec = {
  name: "http-listen",
  description: "host:port to serve /metrics, /healthz and /readyz over HTTP (off if empty)",
  default: "",
};

/** The endpoint's address from the parsed flags; null: off. Throws UsageError if malformed. */
export function httpListenOf(flags: Readonly<Record<string, string | undefined>>): string | null {
  const listen = flags[HTTP_LISTEN_FLAG.name] ?? "";
  if (listen === "") return null;
  if (!parseAddress(listen).ok) {
    throw new UsageError(`flag --${HTTP_LISTEN_FLAG.name} must be host:port, got '${listen}'`);
  }
  return listen;
}

/** How often the event loop's lag is sampled: a timer that fires late measures it. */
const EVENT_LOOP_PROBE_INTERVAL_MS = 500;
const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface StatusEndpointOptions {
  readonly listen: string;
  readonly registry: MetricsRegistry;
  /** Whether the node does its job now (readyz). */
  readonly ready: () => boolean;
  readonly logger: Logger;
  /** More pages on the same listener (a directory's console); null: not theirs. */
  readonly routes?: (request: Request) => Promise<Response | null>;
}

export interface StatusEndpoint {
  readonly port: number;
  stop(): Promise<void>;
}

export function startStatusEndpoint(options: StatusEndpointOptions): StatusEndpoint {
  const parsed = parseAddress(options.listen);
  if (!parsed.ok) throw parsed.error;
  const stopProbe = processMetrics(options.registry);
  const server = Bun.serve({
    hostname: parsed.value.host,
    port: parsed.value.port,
    async fetch(request) {
      const routed = options.routes === undefined ? null : await options.routes(request);
      if (routed !== null) return routed;
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("only GET\n", { status: 405, headers: { allow: "GET, HEAD" } });
      }
      switch (new URL(request.url).pathname) {
        case "/metrics":
          return new Response(options.registry.render(), {
            headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
          });
        case "/healthz":
          return new Response("ok\n");
        case "/readyz":
          return options.ready()
            ? new Response("ready\n")
            : new Response("not ready\n", { status: 503 });
        default:
          return new Response("not found: /metrics, /healthz and /readyz are served\n", {
            status: 404,
          });
      }
    },
  });
  options.logger.info("status endpoint listening", {
    address: `${parsed.value.host}:${server.port}`,
  });
  return {
    port: server.port ?? parsed.value.port,
    stop: async () => {
      stopProbe();
      await server.stop(true);
    },
  };
}

/** The process's memory and event-loop lag; answers how to stop the lag probe. */
function processMetrics(registry: MetricsRegistry): () => void {
  const resident = registry.gauge(
    "ftfs_process_resident_memory_bytes",
    "Resident memory of this node's process.",
  );
  const heap = registry.gauge("ftfs_process_heap_bytes", "JavaScript heap in use.");
  const lag: Gauge = registry.gauge(
    "ftfs_event_loop_lag_seconds",
    "How late the event loop ran a timer, at worst, since the last scrape.",
  );
  let worstLagMs = 0;
  let expectedMs = performance.now() + EVENT_LOOP_PROBE_INTERVAL_MS;
  const probe = setInterval(() => {
    const nowMs = performance.now();
    worstLagMs = Math.max(worstLagMs, nowMs - expectedMs);
    expectedMs = nowMs + EVENT_LOOP_PROBE_INTERVAL_MS;
  }, EVENT_LOOP_PROBE_INTERVAL_MS);
  probe.unref();
  registry.collect(() => {
    const memory = process.memoryUsage();
    resident.set({}, memory.rss);
    heap.set({}, memory.heapUsed);
    lag.set({}, Math.max(0, worstLagMs) / 1000);
    worstLagMs = 0;
  });
  return () => clearInterval(probe);
}
