/**
 * Storage-group configuration rules (the directory as PacificA's configuration manager), pure:
 * given the registered storage nodes with their last heartbeat and `nowMs`, what each group's
 * configuration should be, and which groups can take an upload. A node is alive while its last
 * heartbeat is younger than the timeout and no evidence says it is down (gossip declared it
 * dead or left, or its port refused a connection: StorageNodeStatus.down); its next heartbeat
 * clears that evidence.
 *
 * Rules (PacificA's, with learners):
 *   - a live node that is in the current configuration's replicas (in sync) stays in sync,
 *     as long as it runs on the data folder it was admitted with (below);
 *   - a live node that is not (new, restarted, or dropped while it was unreachable) is a
 *     learner: writes reach it, reads and promotion do not, until it reports that it copied
 *     the primary's data during its current stint as a learner (syncedEpoch >= since); then
 *     it joins. Other changes that bump the epoch meanwhile do not reset its progress;
 *   - the primary stays while it is alive and in sync; otherwise the first in-sync node (in
 *     node order) is promoted. Only an in-sync node can be primary: a learner may lack chunks;
 *   - a new group takes its live nodes as they are: there is nothing to catch up on;
 *   - a member is its data folder, not only its node id: a live node whose reported folder id
 *     differs from the one recorded for it (its disk was wiped or replaced) is a new member. An
 *     in-sync node loses its slot (it leaves the in-sync set, the epoch bumps, a primary is
 *     replaced by another in-sync node) and learns from the start like a new node; a learner
 *     starts its stint over. A node or a record with no folder id (an older build, or a node not
 *     heard from since a directory failover) is judged by node id alone, as before; a record
 *     without one takes the id the node reports;
 *   - when no in-sync node is live on its recorded folder (all dead, or back on new folders),
 *     nobody else may replace them (only they held every acknowledged chunk): the group waits,
 *     with no primary, until one of them returns on its folder. Meanwhile the in-sync set is
 *     kept as recorded, folder ids included, so a folder that was only missing (a disk not
 *     mounted, a wrong --data) is recognised when it comes back; a node back on a new folder
 *     keeps its slot but is not counted as holding anything;
 *   - data lost: when every in-sync node is live on a new folder, no node holds the group's
 *     acknowledged chunks. The group says so (`dataLost: true`) and stays as above: no primary,
 *     so no writes and no catch-up; its new folders are never promoted. It never re-forms
 *     itself on them: that would turn a missing mount into a real loss (the returning folder
 *     would be a stranger to a group that moved on), and giving up acknowledged data is an
 *     operator's decision, not a timer's. Uploads go to other groups meanwhile (placement needs
 *     a live primary); reads of the lost chunks fail naming the chunk (the listed nodes do not
 *     have it). `dataLost` clears once an in-sync node returns on its recorded folder; until
 *     then the way out is the operator's (there is no command yet to retire such a group);
 *   - the replication factor is the most nodes started for the group (`spare === false`) ever
 *     in sync at once. Former spares do not raise it: a node that comes back after a spare
 *     replaced it must not make the group want one more spare for good;
 *   - spares are released when not needed: once the group has its factor of live in-sync nodes
 *     without them, a spare still learning leaves, and in-sync spares beyond the factor leave
 *     (not the primary while another can go). A node back after a spare replaced it thus takes
 *     its place again, and a spare that was dead while another replaced it returns to the
 *     pool; a released spare forgets the group's data (it holds no copy the group needs);
 *   - draining (`ftfs admin storage drain`, the configuration's `draining` list): a draining
 *     node is never primary while another in-sync node is live, is not counted toward the
 *     replication factor's copies (so the group gets a spare at once, with no grace), and
 *     stays in sync, taking every write and serving reads, until the group has its factor of
 *     live in-sync replicas without it; only then does it leave. A draining learner leaves at
 *     once (it holds nothing the group needs), and a drained node is never listed again while
 *     the list names it. Its copies are not counted toward releasing spares either, so the
 *     spare that replaces it stays;
 *   - any change bumps the epoch; no change keeps the very same configuration.
 *
 * A spare node (core/spare-rules.ts) has no group until one is assigned to it; callers resolve
 * assigned spares to their group before these rules see them.
 */

import type { GroupConfig } from "./model.ts";
import { compareNames } from "./store.ts";

export interface StorageNodeStatus {
  readonly node: string;
  /** Null: a spare the directory has not assigned to a group. */
  readonly group: string | null;
  readonly address: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  /** File bytes the node received and sent since it started, as its last heartbeat said. */
  readonly bytesInTotal?: number;
  readonly bytesOutTotal?: number;
  readonly lastHeartbeatMs: number;
  /** A learner that finished catching up at this epoch. */
  readonly syncedEpoch?: number;
  /**
   * true: started as a spare; false: started with its group; absent: not heard from since this
   * directory took over (seeded from a recorded configuration), so unknown.
   */
  readonly spare?: boolean;
  /** The data folder the node runs on; absent: an older build, or not heard from yet. */
  readonly folderId?: string;
  /** Evidence since its last heartbeat that the node is down: what said so, and when. */
  readonly down?: { readonly evidence: string; readonly atMs: number };
}

/** A configuration recorded before replication factors existed counts its in-sync size. */
export function replicationFactorOf(config: GroupConfig): number {
  return config.replicationFactor ?? Math.max(1, config.replicas.length);
}

/** The next replication factor: it only grows, and only with nodes started for the group. */
function nextReplicationFactor(
  current: GroupConfig | undefined,
  inSync: readonly StorageNodeStatus[],
): number {
  const own = inSync.filter((status) => status.spare === false).length;
  const before = current === undefined ? 1 : replicationFactorOf(current);
  return Math.max(before, own);
}

export function isAlive(status: StorageNodeStatus, nowMs: number, deadAfterMs: number): boolean {
  return status.down === undefined && nowMs - status.lastHeartbeatMs < deadAfterMs;
}

function liveMembers(
  group: string,
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): StorageNodeStatus[] {
  return nodes
    .filter((status) => status.group === group && isAlive(status, nowMs, deadAfterMs))
    .sort((a, b) => compareNames(a.node, b.node));
}

/** The current primary if it stays in sync and is not draining; else the first that is not. */
function choosePrimary(
  current: GroupConfig | undefined,
  inSync: readonly StorageNodeStatus[],
  draining: ReadonlySet<string>,
): StorageNodeStatus | undefined {
  const staying = inSync.filter((status) => !draining.has(status.node));
  const candidates = staying.length === 0 ? inSync : staying;
  return candidates.find((status) => status.node === current?.primaryNode) ?? candidates[0];
}

/** The nodes the configuration's operator asked to leave. */
export function drainingNodes(config: GroupConfig | undefined): ReadonlySet<string> {
  return new Set(config?.draining ?? []);
}

type Member = GroupConfig["replicas"][number];
type Learner = NonNullable<GroupConfig["learners"]>[number];

function sameMember(left: Member, right: Member | undefined): boolean {
  return (
    right !== undefined &&
    left.node === right.node &&
    left.address === right.address &&
    left.folderId === right.folderId
  );
}

function sameMembers(left: readonly Member[], right: readonly Member[]): boolean {
  return left.length === right.length && left.every((member, at) => sameMember(member, right[at]));
}

function sameMembership(left: GroupConfig, right: GroupConfig): boolean {
  if (left.primary !== right.primary || left.primaryNode !== right.primaryNode) return false;
  if (replicationFactorOf(left) !== replicationFactorOf(right)) return false;
  if ((left.dataLost === true) !== (right.dataLost === true)) return false;
  const leftDraining = left.draining ?? [];
  const rightDraining = right.draining ?? [];
  if (leftDraining.length !== rightDraining.length) return false;
  if (leftDraining.some((node, at) => rightDraining[at] !== node)) return false;
  return (
    sameMembers(left.replicas, right.replicas) &&
    sameMembers(left.learners ?? [], right.learners ?? [])
  );
}

/** What `config` records for `node`: its in-sync slot, else its learner entry. */
function recordOf(config: GroupConfig | undefined, node: string): Member | Learner | undefined {
  const inSync = config?.replicas.find((member) => member.node === node);
  return inSync ?? config?.learners?.find((member) => member.node === node);
}

/**
 * The node runs on another data folder than the one recorded for it: a new member. Unknown on
 * either side (an older build, a node not heard from since a failover) is not a change.
 */
export function folderChanged(recorded: Member | undefined, status: StorageNodeStatus): boolean {
  return (
    recorded?.folderId !== undefined &&
    status.folderId !== undefined &&
    recorded.folderId !== status.folderId
  );
}

/** The member record: the folder the node reports, else the one recorded (kept, unknown). */
function asMember(status: StorageNodeStatus, recorded: Member | undefined): Member {
  const folderId = status.folderId ?? recorded?.folderId;
  return {
    node: status.node,
    address: status.address,
    ...(folderId === undefined ? {} : { folderId }),
  };
}

/** `node` still holds its in-sync slot: it is recorded in sync, on the folder it runs on. */
function keepsSlot(current: GroupConfig, status: StorageNodeStatus): boolean {
  const slot = current.replicas.find((member) => member.node === status.node);
  return slot !== undefined && !folderChanged(slot, status);
}

/**
 * The epoch since which the node has been a learner without a break, if it is one in `config`
 * on the folder it runs on now (a new folder starts a new stint).
 */
function learnerSince(
  config: GroupConfig | undefined,
  status: StorageNodeStatus,
): number | undefined {
  const learner = config?.learners?.find((member) => member.node === status.node);
  if (learner === undefined || config === undefined || folderChanged(learner, status)) {
    return undefined;
  }
  return learner.since ?? config.epoch;
}

/**
 * A learner keeps its `since` while it stays one; a node that becomes one now starts at the
 * epoch of the configuration that first lists it (the next one).
 */
function asLearners(
  current: GroupConfig | undefined,
  statuses: readonly StorageNodeStatus[],
): Learner[] {
  const next = (current?.epoch ?? 0) + 1;
  return statuses.map((status) => ({
    ...asMember(
      status,
      current?.learners?.find((member) => member.node === status.node),
    ),
    since: learnerSince(current, status) ?? next,
  }));
}

/** A learner that copied the primary's data during its current stint is in sync. */
function caughtUp(current: GroupConfig, status: StorageNodeStatus): boolean {
  const since = learnerSince(current, status);
  return since !== undefined && status.syncedEpoch !== undefined && status.syncedEpoch >= since;
}

/** Every in-sync slot's node is live, on a folder other than the recorded one. */
function dataLost(current: GroupConfig, live: readonly StorageNodeStatus[]): boolean {
  const byNode = new Map(live.map((status) => [status.node, status]));
  return (
    current.replicas.length > 0 &&
    current.replicas.every((slot) => {
      const status = byNode.get(slot.node);
      return status !== undefined && folderChanged(slot, status);
    })
  );
}

/**
 * No in-sync replica is live on its folder: only they held every acknowledged chunk, so nobody
 * else may take their place. The in-sync set is kept as recorded (dead, or back on new
 * folders), with no primary, until one of them comes back on its folder; live others wait as
 * learners. When all of them are back on new folders, the data is lost, and the group says so.
 */
function frozen(current: GroupConfig, live: readonly StorageNodeStatus[]): GroupConfig {
  const slots = new Set(current.replicas.map((member) => member.node));
  const draining = drainingNodes(current);
  const learners = asLearners(
    current,
    live.filter((status) => !slots.has(status.node) && !draining.has(status.node)),
  );
  const candidate: GroupConfig = {
    group: current.group,
    epoch: current.epoch,
    primary: null,
    primaryNode: null,
    replicas: current.replicas,
    ...(learners.length === 0 ? {} : { learners }),
    replicationFactor: replicationFactorOf(current),
    ...(dataLost(current, live) ? { dataLost: true } : {}),
    ...(current.draining === undefined ? {} : { draining: current.draining }),
  };
  if (sameMembership(current, candidate)) return current;
  return { ...candidate, epoch: current.epoch + 1 };
}

/** The group's next configuration: `current` itself when nothing changed. */
export function nextGroupConfig(
  current: GroupConfig | undefined,
  group: string,
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): GroupConfig {
  const live = liveMembers(group, nodes, nowMs, deadAfterMs);
  const epoch = current?.epoch ?? 0;
  const fresh = current === undefined || current.replicas.length === 0;
  if (!fresh && !live.some((status) => keepsSlot(current, status))) return frozen(current, live);
  const caughtUpNodes = fresh
    ? live
    : live.filter((status) => keepsSlot(current, status) || caughtUp(current, status));
  const draining = drainingNodes(current);
  const staying = caughtUpNodes.filter((status) => !draining.has(status.node));
  // A draining node's copy does not raise the factor: the node that replaces it would.
  const factor = nextReplicationFactor(current, staying);
  const released = surplusSpares(current, live, staying, factor);
  const stayingInSync = staying.filter((status) => !released.has(status.node));
  // A draining node leaves once the others hold the factor of copies without it.
  const drained = stayingInSync.length >= factor;
  const inSync = caughtUpNodes.filter(
    (status) => !released.has(status.node) && !(drained && draining.has(status.node)),
  );
  const inSyncNodes = new Set(inSync.map((status) => status.node));
  const learners = live.filter(
    (status) =>
      !inSyncNodes.has(status.node) && !released.has(status.node) && !draining.has(status.node),
  );
  const primary = choosePrimary(current, inSync, draining);
  const candidate: GroupConfig = {
    group,
    epoch,
    primary: primary?.address ?? null,
    primaryNode: primary?.node ?? null,
    replicas: inSync.map((status) => asMember(status, recordOf(current, status.node))),
    ...(learners.length === 0 ? {} : { learners: asLearners(current, learners) }),
    replicationFactor: factor,
    ...(current?.draining === undefined ? {} : { draining: current.draining }),
  };
  if (current !== undefined && sameMembership(current, candidate)) return current;
  return { ...candidate, epoch: epoch + 1 };
}

/**
 * Spares the group no longer needs: with its replication factor of live in-sync nodes without
 * them, a spare still learning is not needed, and in-sync spares beyond the factor are not
 * either (the primary last, then by node order from the end). Only known spares go (a node's
 * `spare` is unknown until it is heard from): nodes started for the group are the operator's.
 */
function surplusSpares(
  current: GroupConfig | undefined,
  live: readonly StorageNodeStatus[],
  caughtUpNodes: readonly StorageNodeStatus[],
  factor: number,
): Set<string> {
  const released = new Set<string>();
  if (current === undefined) return released;
  const caughtUpSet = new Set(caughtUpNodes.map((status) => status.node));
  if (caughtUpNodes.length >= factor) {
    for (const status of live) {
      if (status.spare === true && !caughtUpSet.has(status.node)) released.add(status.node);
    }
  }
  const primaryNode = current.primaryNode;
  const inSyncSpares = caughtUpNodes
    .filter((status) => status.spare === true)
    .sort(
      (a, b) =>
        Number(a.node === primaryNode) - Number(b.node === primaryNode) ||
        compareNames(b.node, a.node),
    );
  let surplus = caughtUpNodes.length - factor;
  for (const status of inSyncSpares) {
    if (surplus <= 0) break;
    released.add(status.node);
    surplus -= 1;
  }
  return released;
}

/**
 * A spare this group released (see surplusSpares): it names the group, the recorded
 * configuration does not list it, and the rules would not list it again. It may forget the
 * group's data and go back to the pool: the group holds its factor of copies without it.
 */
export function releasedSpare(
  config: GroupConfig,
  status: StorageNodeStatus,
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): boolean {
  if (status.spare !== true || status.group !== config.group) return false;
  if (recordOf(config, status.node) !== undefined) return false;
  const next = nextGroupConfig(config, config.group, nodes, nowMs, deadAfterMs);
  return recordOf(next, status.node) === undefined && next.primaryNode !== null;
}

/**
 * Every group whose configuration must change, with its next configuration, sorted by group.
 * A group nobody configured yet and with no live node is left alone.
 */
export function groupConfigChanges(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): GroupConfig[] {
  const byGroup = new Map(configs.map((config) => [config.group, config]));
  const groups = new Set(byGroup.keys());
  for (const status of nodes) if (status.group !== null) groups.add(status.group);
  const changes: GroupConfig[] = [];
  for (const group of [...groups].sort(compareNames)) {
    const current = byGroup.get(group);
    if (current === undefined && liveMembers(group, nodes, nowMs, deadAfterMs).length === 0) {
      continue;
    }
    const next = nextGroupConfig(current, group, nodes, nowMs, deadAfterMs);
    if (next !== current) changes.push(next);
  }
  return changes;
}

/** Bytes every live replica of the group can still take: the smallest room among them. */
export function groupFreeBytes(
  config: GroupConfig,
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): number {
  const live = liveMembers(config.group, nodes, nowMs, deadAfterMs);
  if (live.length === 0) return 0;
  return Math.min(...live.map((status) => Math.max(0, status.capacityBytes - status.usedBytes)));
}

/** Groups that can take chunks now (their primary is alive), most free space first. */
export function placementGroups(
  configs: readonly GroupConfig[],
  nodes: readonly StorageNodeStatus[],
  nowMs: number,
  deadAfterMs: number,
): GroupConfig[] {
  const alive = new Set(
    nodes.filter((status) => isAlive(status, nowMs, deadAfterMs)).map((status) => status.node),
  );
  const usable = configs.filter(
    (config) => config.primaryNode !== null && alive.has(config.primaryNode),
  );
  const free = new Map(
    usable.map((config) => [config.group, groupFreeBytes(config, nodes, nowMs, deadAfterMs)]),
  );
  return usable.sort(
    (a, b) => (free.get(b.group) ?? 0) - (free.get(a.group) ?? 0) || compareNames(a.group, b.group),
  );
}
