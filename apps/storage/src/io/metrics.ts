/**
 * The storage node's own metrics, read at each scrape: the bytes it holds against what it
 * offers, and its place in its group as the directory last told it (epoch, primary or not).
 */

import type { GroupView, MetricsRegistry } from "@ftfs/protocol/core";

export interface StorageMetricsSource {
  readonly node: string;
  readonly usedBytes: () => number;
  readonly capacityBytes: () => number;
  /** The group's configuration as this node last heard it; null before the first. */
  readonly view: () => GroupView | null;
}

export function registerStorageMetrics(
  registry: MetricsRegistry,
  source: StorageMetricsSource,
): void {
  const used = registry.gauge("ftfs_storage_used_bytes", "Bytes of chunks this node holds.");
  const capacity = registry.gauge("ftfs_storage_capacity_bytes", "Bytes this node offers.");
  const epoch = registry.gauge(
    "ftfs_storage_group_view_epoch",
    "The epoch of the group configuration this node follows (0: none yet).",
  );
  const primary = registry.gauge(
    "ftfs_storage_primary",
    "1 while this node is its group's primary.",
  );
  registry.collect(() => {
    used.set({}, source.usedBytes());
    capacity.set({}, source.capacityBytes());
    const view = source.view();
    epoch.set({}, view?.epoch ?? 0);
    primary.set({}, view !== null && view.primaryNode === source.node ? 1 : 0);
  });
}
