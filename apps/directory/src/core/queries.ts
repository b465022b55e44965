/**
 * Read-side answers built from a MetadataView: a name's manifest, a user's listing, and the
 * cluster as this directory sees it. Pure; the server calls these and sends what they return.
 */

import {
  LIST_FILES_MAX,
  ok,
  fail,
  type FileEntry,
  type Manifest,
  type MemberView,
  type Result,
} from "@ftfs/protocol/core";
import { checkUserAndName, noSuchFile } from "./checks.ts";
import { isAlive, type StorageNodeStatus } from "./group-rules.ts";
import { groupsOfChunks } from "./manifest-rules.ts";
import type { GroupConfig, LiveVersion } from "./model.ts";
import type { MetadataView } from "./store.ts";

export interface ManifestAnswer {
  readonly manifest: Manifest;
  /** The configuration of each group the chunks live in, so the reader knows where to go. */
  readonly groups: readonly GroupConfig[];
}

function findLive(
  view: MetadataView,
  uid: string,
  name: string,
  version: number | undefined,
): Result<LiveVersion> {
  if (version === undefined) {
    const latest = view.latestVersion(uid, name);
    return latest?.kind === "live" ? ok(latest) : noSuchFile(uid, name);
  }
  const record = view.getVersion(uid, name, version);
  if (record === undefined) {
    return fail("NOT_FOUND", `no version ${version} of file '${name}' for user '${uid}'`);
  }
  const deletedThrough = view.latestTombstone(uid, name)?.version ?? 0;
  if (record.kind === "tombstone" || record.version < deletedThrough) {
    return fail("NOT_FOUND", `version ${version} of file '${name}' for user '${uid}' was deleted`);
  }
  if (record.pruned === true) {
    return fail(
      "NOT_FOUND",
      `version ${version} of file '${name}' for user '${uid}' is no longer kept ` +
        "(newer versions replaced it under the directory's --keep-versions policy)",
    );
  }
  return ok(record);
}

/** The newest live version of a name, or the given one if it is still live. */
export function findManifest(
  view: MetadataView,
  uid: string,
  name: string,
  version: number | undefined,
): Result<ManifestAnswer> {
  const valid = checkUserAndName(view, uid, name);
  if (!valid.ok) return valid;
  const found = findLive(view, uid, name, version);
  if (!found.ok) return found;
  const record = found.value;
  const groups: GroupConfig[] = [];
  for (const group of groupsOfChunks(record.chunks)) {
    const config = view.getGroup(group);
    // A commit names only configured groups, and configurations are never removed.
    if (config === undefined) {
      return fail("INTERNAL", `file '${name}' names unconfigured group '${group}'`);
    }
    groups.push(config);
  }
  const { bytes, sha256, createdAtMs, chunks } = record;
  return ok({
    manifest: { uid, name, version: record.version, bytes, sha256, createdAtMs, chunks },
    groups,
  });
}

/** The newest version of each of the user's live names, sorted by name. */
export function listLiveFiles(view: MetadataView, uid: string): Result<FileEntry[]> {
  const valid = checkUserAndName(view, uid, null);
  if (!valid.ok) return valid;
  return ok(
    view.listLiveFiles(uid, LIST_FILES_MAX).map((record) => ({
      name: record.name,
      version: record.version,
      bytes: record.bytes,
      sha256: record.sha256,
      createdAtMs: record.createdAtMs,
    })),
  );
}

export interface DirectorySelf {
  readonly node: string;
  readonly address: string;
  readonly term: number;
}

/** This directory node first, then every known storage node, with state by heartbeat age. */
/** How a directory node describes itself in a status answer. */
export function directorySelfView(self: DirectorySelf, primary: boolean): MemberView {
  return {
    node: self.node,
    role: "directory",
    group: null,
    address: self.address,
    state: "alive",
    incarnation: 0,
    primary,
    epoch: self.term,
    usedBytes: 0,
    capacityBytes: 0,
  };
}

export function clusterMembers(
  self: DirectorySelf,
  nodes: readonly StorageNodeStatus[],
  configs: readonly GroupConfig[],
  nowMs: number,
  deadAfterMs: number,
): MemberView[] {
  const byGroup = new Map(configs.map((config) => [config.group, config]));
  const members: MemberView[] = [directorySelfView(self, true)];
  for (const status of nodes) {
    const config = status.group === null ? undefined : byGroup.get(status.group);
    members.push({
      node: status.node,
      role: "storage",
      group: status.group,
      address: status.address,
      state: isAlive(status, nowMs, deadAfterMs) ? "alive" : "dead",
      incarnation: 0,
      primary: config?.primaryNode === status.node,
      epoch: config?.epoch ?? 0,
      usedBytes: status.usedBytes,
      capacityBytes: status.capacityBytes,
    });
  }
  return members;
}

/** One member as gossip reports it, in the fields clusterStatus shows. */
export interface GossipMember {
  readonly id: string;
  readonly state: MemberView["state"];
  readonly incarnation: number;
  readonly meta: {
    readonly role: MemberView["role"];
    readonly group: string | null;
    readonly address: string;
    readonly primary: boolean;
    readonly epoch: number;
    readonly usedBytes: number;
    readonly capacityBytes: number;
  };
}

/**
 * The live view: every member gossip knows, in gossip's state and incarnation, merged with
 * what heartbeats told us. A storage node's primary flag and epoch come from the recorded
 * group configuration when there is one (the directory is the authority on those); members
 * only the registry knows keep their heartbeat-derived entry. Self stays first.
 */
export function mergeGossipMembers(
  known: readonly MemberView[],
  gossip: readonly GossipMember[],
  configs: readonly GroupConfig[],
): MemberView[] {
  const byGroup = new Map(configs.map((config) => [config.group, config]));
  const byNode = new Map(known.map((member) => [member.node, member]));
  const merged = new Map(known.map((member) => [member.node, member]));
  for (const member of gossip) {
    const before = byNode.get(member.id);
    const config = member.meta.group === null ? undefined : byGroup.get(member.meta.group);
    const isStorage = member.meta.role === "storage";
    merged.set(member.id, {
      node: member.id,
      role: member.meta.role,
      group: member.meta.group,
      address: member.meta.address,
      state: member.state,
      incarnation: member.incarnation,
      primary:
        before?.role === "directory"
          ? before.primary
          : isStorage && config !== undefined
            ? config.primaryNode === member.id
            : member.meta.primary,
      epoch: before?.role === "directory" ? before.epoch : (config?.epoch ?? member.meta.epoch),
      usedBytes: before?.usedBytes || member.meta.usedBytes,
      capacityBytes: before?.capacityBytes || member.meta.capacityBytes,
    });
  }
  return [...merged.values()];
}

/** The upload committed a version still kept (not deleted) that names the chunk in the group. */
export function uploadKeeps(
  store: MetadataView,
  uid: string,
  uploadId: string,
  group: string,
  chunkId: string,
): boolean {
  const record = store.findUpload(uid, uploadId);
  if (record === undefined) return false;
  const deletedThrough = store.latestTombstone(uid, record.name)?.version ?? 0;
  if (record.version < deletedThrough || record.pruned === true) return false;
  return record.chunks.some((chunk) => chunk.id === chunkId && chunk.group === group);
}
