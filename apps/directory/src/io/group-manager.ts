/**
 * The directory as configuration manager of the storage groups: records heartbeats in the
 * StorageRegistry, recomputes configurations with the pure rules of core/group-rules.ts, and
 * proposes a setGroupConfig command for each change, spare assignments included
 * (core/spare-rules.ts). Recomputations run one at a time, so two heartbeats never propose the
 * same epoch twice. Soft state only (heartbeats, and when each group fell under its replication
 * factor: a new primary starts those clocks afresh, which delays a spare by at most one grace);
 * the configurations themselves are replicated metadata in the store. Each change that admits
 * a node back on a new data folder, or in which a group loses (or finds again) its data, is
 * said once in the log, when it is proposed.
 */

import { assert, fail, ok, type Result } from "@ftfs/protocol/core";
import type { Logger } from "@ftfs/protocol/io";
import {
  assignedGroup,
  drainChange,
  groupUsages,
  placementGroups,
  planGroups,
  releasedSpare,
  resolveSpares,
  StorageRegistry,
  type GroupConfig,
  type GroupUsage,
  type Heartbeat,
  type MetadataView,
  type StorageNodeStatus,
} from "../core/index.ts";
import type { Proposer } from "./replicator.ts";

export interface GroupManagerOptions {
  readonly store: MetadataView;
  readonly proposer: Pick<Proposer, "propose">;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly nodesMax: number;
  readonly deadAfterMs: number;
  /** How long a group stays under-replicated before it gets a spare. */
  readonly rereplicationGraceMs: number;
}

/** What a heartbeat gets: its group's configuration, and whether the group released the spare. */
export interface HeartbeatAnswer {
  readonly config: GroupConfig | undefined;
  readonly released: boolean;
}

export class GroupManager {
  private readonly options: GroupManagerOptions;
  private readonly registry: StorageRegistry;
  /** The recomputation in progress (or the last one); the next one waits for it. */
  private queue: Promise<void> = Promise.resolve();
  /** Group → when it was first seen under-replicated. */
  private underSinceMs = new Map<string, number>();

  constructor(options: GroupManagerOptions) {
    this.options = options;
    this.registry = new StorageRegistry(options.nodesMax, options.deadAfterMs);
    const nowMs = options.nowMs();
    for (const config of options.store.listGroups()) this.registry.seed(config, nowMs);
  }

  /**
   * A storage node's heartbeat; answers its group's configuration after any change, or
   * nothing for a spare no group has been assigned.
   */
  async onHeartbeat(heartbeat: Heartbeat): Promise<Result<HeartbeatAnswer>> {
    const recorded = this.registry.record(heartbeat, this.options.nowMs());
    if (!recorded.ok) return recorded;
    await this.reconfigure();
    const { store, nowMs, deadAfterMs } = this.options;
    const configs = store.listGroups();
    const group = heartbeat.group ?? assignedGroup(configs, heartbeat.node);
    if (group === null) return ok({ config: undefined, released: false });
    const config = store.getGroup(group);
    // The node is alive this instant, so its group has a configuration naming it.
    assert(config !== undefined, `group ${group} has no configuration after a heartbeat`);
    const nodes = this.nodesIn(configs);
    const status = nodes.find((candidate) => candidate.node === heartbeat.node);
    const released =
      status !== undefined && releasedSpare(config, status, nodes, nowMs(), deadAfterMs);
    return ok({ config, released });
  }

  /**
   * Evidence that a storage node is down (gossip suspects it or declared it dead, or its port
   * refused a connection): reconfigure its group now rather than at the heartbeat timeout.
   */
  onMemberDown(node: string, evidence: string): Promise<void> {
    if (!this.registry.markDown(node, this.options.nowMs(), evidence)) return this.queue;
    this.options.logger.info("storage node down", { node, evidence });
    return this.reconfigure();
  }

  /**
   * `ftfs admin storage drain` (or its cancel): the change goes through the log in turn with
   * the recomputations, then one round of the rules follows at once (the primary moves off
   * the node and a spare is assigned). Answers the group's configuration after that round.
   */
  async drain(node: string, cancel: boolean): Promise<Result<GroupConfig>> {
    const { store, proposer, logger, nowMs } = this.options;
    const recorded = this.queue.then(async (): Promise<Result<string>> => {
      const change = drainChange(store.listGroups(), node, cancel);
      if (!change.ok) return change;
      const config = change.value;
      // Already draining: nothing to record.
      if (store.getGroup(config.group)?.epoch === config.epoch) return ok(config.group);
      const result = await proposer.propose({ type: "setGroupConfig", config, atMs: nowMs() });
      if (!result.ok) return result;
      logger.info(cancel ? "storage node drain cancelled" : "storage node draining", {
        node,
        group: config.group,
        epoch: config.epoch,
      });
      return ok(config.group);
    });
    this.queue = recorded.then(
      () => undefined,
      () => undefined,
    );
    const group = await recorded;
    if (!group.ok) return group;
    await this.reconfigure();
    const config = store.getGroup(group.value);
    if (config === undefined) return fail("NOT_FOUND", `storage group ${group.value} is gone`);
    return ok(config);
  }

  /** Periodic check: notices nodes gone silent. */
  tick(): Promise<void> {
    return this.reconfigure();
  }

  /** Groups an upload may use now, most free space first. */
  placementGroups(): GroupConfig[] {
    const nowMs = this.options.nowMs();
    const configs = this.options.store.listGroups();
    return placementGroups(configs, this.nodesIn(configs), nowMs, this.options.deadAfterMs);
  }

  /** Each group's usage by heartbeat, for the groups that can take part in a rebalance now. */
  usages(): GroupUsage[] {
    const configs = this.options.store.listGroups();
    const { nowMs, deadAfterMs } = this.options;
    return groupUsages(configs, this.nodesIn(configs), nowMs(), deadAfterMs);
  }

  /** Every known node; a spare that a configuration assigned shows its group. */
  nodes(): StorageNodeStatus[] {
    return this.nodesIn(this.options.store.listGroups());
  }

  private nodesIn(configs: readonly GroupConfig[]): StorageNodeStatus[] {
    return resolveSpares(configs, this.registry.list());
  }

  /** Resolves when no recomputation is running. */
  idle(): Promise<void> {
    return this.queue;
  }

  private reconfigure(): Promise<void> {
    const next = this.queue.then(() => this.proposeChanges());
    this.queue = next.catch((error: unknown) => {
      this.options.logger.error("group reconfiguration failed", { error: String(error) });
    });
    return this.queue;
  }

  private async proposeChanges(): Promise<void> {
    const { store, proposer, logger, nowMs, deadAfterMs } = this.options;
    const atMs = nowMs();
    const plan = planGroups({
      configs: store.listGroups(),
      nodes: this.registry.list(),
      underSinceMs: this.underSinceMs,
      nowMs: atMs,
      deadAfterMs,
      graceMs: this.options.rereplicationGraceMs,
    });
    this.underSinceMs = plan.underSinceMs;
    const before = new Map(store.listGroups().map((config) => [config.group, config]));
    for (const config of plan.changes) {
      const result = await proposer.propose({ type: "setGroupConfig", config, atMs });
      if (!result.ok) {
        logger.warn("group configuration refused", {
          group: config.group,
          reason: result.error.message,
        });
        continue;
      }
      logger.info("group configured", {
        group: config.group,
        epoch: config.epoch,
        primary: config.primaryNode,
        replicas: config.replicas.map((replica) => replica.node).join(","),
        learners: (config.learners ?? []).map((learner) => learner.node).join(","),
        replicationFactor: config.replicationFactor ?? null,
        dataLost: config.dataLost === true,
      });
      logFolderChanges(logger, before.get(config.group), config);
      for (const assignment of plan.assignments) {
        if (assignment.group !== config.group) continue;
        logger.info("spare assigned to an under-replicated group", { ...assignment });
      }
    }
  }
}

/**
 * Say what a configuration change did about data folders: each node admitted again on a new
 * folder (a warning: its disk was wiped or replaced), and a group that lost, or found again,
 * its data (an error: the group's acknowledged chunks are on no live disk). Called once per
 * change, so each line appears once per change, never per heartbeat.
 */
function logFolderChanges(
  logger: Logger,
  before: GroupConfig | undefined,
  after: GroupConfig,
): void {
  if (before === undefined) return;
  const recorded = new Map(
    [...before.replicas, ...(before.learners ?? [])].map((member) => [member.node, member]),
  );
  for (const member of [...after.replicas, ...(after.learners ?? [])]) {
    const was = recorded.get(member.node)?.folderId;
    if (was === undefined || member.folderId === undefined || was === member.folderId) continue;
    logger.warn("storage node came back on a new data folder: a new member, a learner", {
      group: after.group,
      node: member.node,
      recordedFolder: was,
      reportedFolder: member.folderId,
      epoch: after.epoch,
    });
  }
  const lost = after.dataLost === true;
  if (lost === (before.dataLost === true)) return;
  if (lost) {
    logger.error("storage group lost its data: every in-sync node came back on a new folder", {
      group: after.group,
      epoch: after.epoch,
      replicas: after.replicas.map((replica) => replica.node).join(","),
      action: "no primary until one of them returns on its recorded folder",
    });
    return;
  }
  logger.warn("storage group found its data again: an in-sync node is back on its folder", {
    group: after.group,
    epoch: after.epoch,
    primary: after.primaryNode,
  });
}
