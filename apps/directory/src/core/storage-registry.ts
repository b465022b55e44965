/**
 * The storage nodes the directory has heard from, with each one's last heartbeat and usage.
 * Soft state: kept in memory, rebuilt from heartbeats after a restart (seeded from the recorded
 * configurations so a restart does not look like every node died). Pure: times come in as
 * `nowMs`. Bounded by nodesMax; when full, the longest-silent dead node makes room.
 */

import { fail, ok, type RequestBody, type Result } from "@ftfs/protocol/core";
import { isAlive, type StorageNodeStatus } from "./group-rules.ts";
import type { GroupConfig } from "./model.ts";
import { compareNames } from "./store.ts";

export type Heartbeat = Omit<StorageNodeStatus, "lastHeartbeatMs">;

/**
 * A registerStorage request as a heartbeat. A node names its group, or says it is a spare (a
 * spare names the group it was assigned once it knows it); one that does neither is refused.
 */
export function heartbeatOf(body: RequestBody<"registerStorage">): Result<Heartbeat> {
  const spare = body.spare === true;
  if (body.group === undefined && !spare) {
    return fail("BAD_REQUEST", `storage node ${body.node} names no group and is not a spare`);
  }
  return ok({
    node: body.node,
    group: body.group ?? null,
    spare,
    address: body.address,
    capacityBytes: body.capacityBytes,
    usedBytes: body.usedBytes,
    ...(body.syncedEpoch === undefined ? {} : { syncedEpoch: body.syncedEpoch }),
    ...(body.folderId === undefined ? {} : { folderId: body.folderId }),
    ...(body.bytesInTotal === undefined ? {} : { bytesInTotal: body.bytesInTotal }),
    ...(body.bytesOutTotal === undefined ? {} : { bytesOutTotal: body.bytesOutTotal }),
  });
}

export class StorageRegistry {
  private readonly nodes = new Map<string, StorageNodeStatus>();
  private readonly nodesMax: number;
  private readonly deadAfterMs: number;

  constructor(nodesMax: number, deadAfterMs: number) {
    this.nodesMax = nodesMax;
    this.deadAfterMs = deadAfterMs;
  }

  /** A node announced itself: remember it as alive now. */
  record(heartbeat: Heartbeat, nowMs: number): Result<StorageNodeStatus> {
    if (
      !this.nodes.has(heartbeat.node) &&
      this.nodes.size >= this.nodesMax &&
      !this.evictOneDead(nowMs)
    ) {
      return fail("TOO_BUSY", `the directory already tracks ${this.nodesMax} live storage nodes`);
    }
    const status: StorageNodeStatus = { ...heartbeat, lastHeartbeatMs: nowMs };
    this.nodes.set(heartbeat.node, status);
    return ok(status);
  }

  /**
   * After a restart: count each recorded replica and learner as heard from at `nowMs` (usage,
   * spare or not, and folder unknown: the recorded folder stands until the node reports its
   * own), so it has one heartbeat timeout to announce itself before its group is
   * reconfigured. Learners too: a spare assigned as one must not lose its assignment to a
   * failover.
   */
  seed(config: GroupConfig, nowMs: number): void {
    for (const replica of [...config.replicas, ...(config.learners ?? [])]) {
      if (this.nodes.has(replica.node) || this.nodes.size >= this.nodesMax) continue;
      this.nodes.set(replica.node, {
        node: replica.node,
        group: config.group,
        address: replica.address,
        capacityBytes: 0,
        usedBytes: 0,
        lastHeartbeatMs: nowMs,
      });
    }
  }

  /**
   * Evidence that the node is down (gossip declared it dead or it left; its port refused a
   * connection): it counts as dead from now, without waiting for the heartbeat timeout, and
   * the evidence is kept beside its last heartbeat. Its next heartbeat clears it, so a mistaken
   * suspicion costs one reconfiguration, never a node lost for good. True when this is news
   * (the node was alive until now).
   */
  markDown(node: string, nowMs: number, evidence: string): boolean {
    const status = this.nodes.get(node);
    if (status === undefined || !isAlive(status, nowMs, this.deadAfterMs)) return false;
    this.nodes.set(node, { ...status, down: { evidence, atMs: nowMs } });
    return true;
  }

  get(node: string): StorageNodeStatus | undefined {
    return this.nodes.get(node);
  }

  /** Every known node, sorted by node id. */
  list(): StorageNodeStatus[] {
    return [...this.nodes.values()].sort((a, b) => compareNames(a.node, b.node));
  }

  isAlive(node: string, nowMs: number): boolean {
    const status = this.nodes.get(node);
    return status !== undefined && isAlive(status, nowMs, this.deadAfterMs);
  }

  private evictOneDead(nowMs: number): boolean {
    let oldest: StorageNodeStatus | undefined;
    for (const status of this.nodes.values()) {
      if (isAlive(status, nowMs, this.deadAfterMs)) continue;
      if (oldest === undefined || status.lastHeartbeatMs < oldest.lastHeartbeatMs) oldest = status;
    }
    if (oldest === undefined) return false;
    this.nodes.delete(oldest.node);
    return true;
  }
}
