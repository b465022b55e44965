/**
 * A node's user traffic in a form small enough to travel in a status answer: how many file
 * requests it answered since it started, how many failed, and a coarse latency histogram.
 * Whoever samples two of these (the console) gets rates and latency quantiles from their
 * difference. Counts only ever grow; a smaller count than the last means the node restarted
 * (or another node answers now), and a sampler starts again from there.
 */

/** Upper bounds of the latency buckets in milliseconds; one more bucket holds the rest. */
export const TRAFFIC_LATENCY_BOUNDS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000,
] as const;
export const TRAFFIC_LATENCY_BUCKETS = TRAFFIC_LATENCY_BOUNDS_MS.length + 1;

export interface TrafficCount {
  requests: number;
  failed: number;
  /** Requests by latency bucket (TRAFFIC_LATENCY_BOUNDS_MS), not cumulative. */
  readonly latencyBuckets: number[];
}

/** A count as read from the wire: the same fields, not to be changed. */
export interface TrafficSample {
  readonly requests: number;
  readonly failed: number;
  readonly latencyBuckets: readonly number[];
}

export function newTrafficCount(): TrafficCount {
  return { requests: 0, failed: 0, latencyBuckets: new Array(TRAFFIC_LATENCY_BUCKETS).fill(0) };
}

export function countRequest(traffic: TrafficCount, succeeded: boolean, durationMs: number): void {
  traffic.requests += 1;
  if (!succeeded) traffic.failed += 1;
  let bucket = TRAFFIC_LATENCY_BOUNDS_MS.findIndex((boundMs) => durationMs <= boundMs);
  if (bucket === -1) bucket = TRAFFIC_LATENCY_BOUNDS_MS.length;
  traffic.latencyBuckets[bucket] = (traffic.latencyBuckets[bucket] ?? 0) + 1;
}

/** What happened between two samples of one node's count; null if the later is not later. */
export function trafficBetween(earlier: TrafficSample, later: TrafficSample): TrafficCount | null {
  if (later.requests < earlier.requests || later.failed < earlier.failed) return null;
  const latencyBuckets = Array.from(
    { length: TRAFFIC_LATENCY_BUCKETS },
    (_, bucket) => (later.latencyBuckets[bucket] ?? 0) - (earlier.latencyBuckets[bucket] ?? 0),
  );
  if (latencyBuckets.some((count) => count < 0)) return null;
  return {
    requests: later.requests - earlier.requests,
    failed: later.failed - earlier.failed,
    latencyBuckets,
  };
}

/**
 * The latency below which `quantile` of the counted requests fell, as the upper bound of its
 * bucket (so an estimate from above); null with no requests. Past the last bound it answers
 * the last bound: "more than 5 s" is as precise as the buckets can be.
 */
export function latencyQuantileMs(
  latencyBuckets: readonly number[],
  quantile: number,
): number | null {
  const total = latencyBuckets.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(quantile * total));
  let seen = 0;
  for (const [bucket, count] of latencyBuckets.entries()) {
    seen += count;
    if (seen >= rank) {
      return TRAFFIC_LATENCY_BOUNDS_MS[bucket] ?? TRAFFIC_LATENCY_BOUNDS_MS.at(-1) ?? null;
    }
  }
  return TRAFFIC_LATENCY_BOUNDS_MS.at(-1) ?? null;
}
