/**
 * Gossip's metrics in a node's registry: probes sent and failed, suspicions this node began,
 * refutations it made of news about itself, suspicions on a silent host (read from the core's
 * counters at each scrape),
 * and each answered probe's round trip (the core hands them to the driver, which observes
 * them here). Member ids are not labels: a member's state is in ftfs_gossip_members.
 */

import { LATENCY_BUCKETS_SECONDS, type MetricsRegistry, type swim } from "../../core/index.ts";

/** Told each answered probe's round trip, in milliseconds. */
export type RoundTripObserver = (roundTripMs: number) => void;

export function registerGossipMetrics(
  registry: MetricsRegistry,
  stats: () => swim.SwimStats,
): RoundTripObserver {
  const probes = registry.counter("ftfs_gossip_probes_total", "Members this node probed.");
  const failed = registry.counter(
    "ftfs_gossip_probe_failures_total",
    "Probes no ack answered, directly or through a relay, within the protocol period.",
  );
  const suspicions = registry.counter(
    "ftfs_gossip_suspicions_total",
    "Members this node began to suspect, on its own probe or on another member's word.",
  );
  const refutations = registry.counter(
    "ftfs_gossip_refutations_total",
    "Times this node refuted news that it was suspect or dead.",
  );
  const silentHosts = registry.counter(
    "ftfs_gossip_silent_host_suspicions_total",
    "Probes that failed with the member's host silent to connection attempts (a cut link or " +
      "a dead host): suspected on the short timer.",
  );
  const roundTrip = registry.histogram(
    "ftfs_gossip_probe_round_trip_seconds",
    "Time from a probe's ping to its first ack, to the millisecond.",
    [],
    LATENCY_BUCKETS_SECONDS,
  );
  registry.collect(() => {
    const now = stats();
    probes.setTotal({}, now.probes);
    failed.setTotal({}, now.probesFailed);
    suspicions.setTotal({}, now.suspicions);
    refutations.setTotal({}, now.refutations);
    silentHosts.setTotal({}, now.silentHostSuspicions);
  });
  return (roundTripMs) => roundTrip.observe({}, roundTripMs / 1000);
}
