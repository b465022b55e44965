/**
 * Read-side answers built from a MetadataView: a name's manifest, a user's listing, and the
 * cluster as this directory sees it. Pure; the server calls these and sends what they return.
 */

import {
  bucketNamePrefix,
  HOME_BUCKET,
  LIST_FILES_MAX,
  objectOfStoredName,
  ok,
  fail,
  validateUid,
  type ObjectEntry,
  type ObjectVersionEntry,
  type FileEntry,
  type Manifest,
  type MemberView,
  type Result,
} from "@ftfs/protocol/core";
import { checkUserAndName, noSuchBucket, noSuchFile, noSuchUser } from "./checks.ts";
import { isAlive, type StorageNodeStatus } from "./group-rules.ts";
import { groupsOfChunks } from "./manifest-rules.ts";
import type { GroupConfig, LiveVersion, VersionRecord } from "./model.ts";
import { compareNames, type MetadataView } from "./store.ts";

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
    const current = view.currentVersion(uid, name);
    return current?.kind === "live" ? ok(current) : noSuchFile(uid, name);
  }
  const record = view.getVersion(uid, name, version);
  if (record === undefined) {
    return fail("NOT_FOUND", `no version ${version} of file '${name}' for user '${uid}'`);
  }
  const deletedThrough = view.deletedThrough(uid, name);
  if (record.kind === "tombstone" && record.marker === true && record.pruned !== true) {
    return fail(
      "NOT_FOUND",
      `version ${version} of '${name}' for user '${uid}' is a delete marker`,
      {
        deleteMarker: true,
      },
    );
  }
  if (record.kind === "tombstone" || record.version < deletedThrough) {
    return fail("NOT_FOUND", `version ${version} of file '${name}' for user '${uid}' was deleted`);
  }
  if (record.pruned === true) {
    return fail(
      "NOT_FOUND",
      `version ${version} of file '${name}' for user '${uid}' is no longer kept ` +
        "(deleted, or replaced by newer versions under the cluster's --keep-versions policy)",
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
  const { bytes, sha256, createdAtMs, chunks, attrs } = record;
  return ok({
    manifest: {
      uid,
      name,
      version: record.version,
      bytes,
      sha256,
      createdAtMs,
      chunks,
      ...(attrs === undefined ? {} : { attrs }),
    },
    groups,
  });
}

/** The newest version of each of the user's live names, sorted by name. */
/**
 * The user's files: its home bucket's objects, named by their keys (other buckets are S3's
 * to list), sorted by key.
 */
export function listLiveFiles(view: MetadataView, uid: string): Result<FileEntry[]> {
  const valid = checkUserAndName(view, uid, null);
  if (!valid.ok) return valid;
  const files: FileEntry[] = [];
  for (const record of view.listLiveFiles(uid, LIST_FILES_MAX)) {
    const { bucket, key } = objectOfStoredName(record.name);
    if (bucket !== HOME_BUCKET) continue;
    const { version, bytes, sha256, createdAtMs } = record;
    files.push({ name: key, version, bytes, sha256, createdAtMs });
  }
  return ok(files.sort((a, b) => compareNames(a.name, b.name)));
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
      ...(status.bytesInTotal === undefined ? {} : { bytesInTotal: status.bytesInTotal }),
      ...(status.bytesOutTotal === undefined ? {} : { bytesOutTotal: status.bytesOutTotal }),
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
      ...(before?.bytesInTotal === undefined ? {} : { bytesInTotal: before.bytesInTotal }),
      ...(before?.bytesOutTotal === undefined ? {} : { bytesOutTotal: before.bytesOutTotal }),
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
  const deletedThrough = store.deletedThrough(uid, record.name);
  if (record.version < deletedThrough || record.pruned === true) return false;
  return record.chunks.some((chunk) => chunk.id === chunkId && chunk.group === group);
}

export interface ObjectsPage {
  readonly objects: readonly ObjectEntry[];
  readonly truncated: boolean;
}

/**
 * One page of a bucket's live objects whose keys begin with `prefix`, keys after `after`, in
 * S3's order (code points of the key). The home bucket's keys come from two ranges of stored
 * names, the file names and the "/ftfs/" names, merged here.
 */
export function listBucketObjects(
  view: MetadataView,
  uid: string,
  bucket: string,
  prefix: string,
  after: string | null,
  countMax: number,
): Result<ObjectsPage> {
  const validUid = validateUid(uid);
  if (!validUid.ok) return validUid;
  if (view.getUser(uid) === undefined) return noSuchUser(uid);
  if (bucket !== HOME_BUCKET && view.getBucket(uid, bucket) === undefined) {
    return noSuchBucket(uid, bucket);
  }
  const wanted = countMax + 1;
  const slashed = slashedKeys(view, uid, bucket, prefix, after, wanted);
  const keys =
    bucket === HOME_BUCKET
      ? mergeByKey(slashed, fileNameKeys(view, uid, prefix, after, wanted), wanted)
      : slashed;
  return ok({ objects: keys.slice(0, countMax), truncated: keys.length > countMax });
}

/** Keys stored as "/bucket/key". */
function slashedKeys(
  view: MetadataView,
  uid: string,
  bucket: string,
  prefix: string,
  after: string | null,
  countMax: number,
): ObjectEntry[] {
  const base = bucketNamePrefix(bucket);
  const records = view.listLiveFilesFrom(
    uid,
    base + prefix,
    after === null ? null : base + after,
    countMax,
  );
  return records.map((record) => objectEntry(record, record.name.slice(base.length)));
}

/** Home keys stored as file names: every stored name not beginning with "/". */
function fileNameKeys(
  view: MetadataView,
  uid: string,
  prefix: string,
  after: string | null,
  countMax: number,
): ObjectEntry[] {
  return homeFileNameRecords(
    prefix,
    after,
    countMax,
    (cursor, count) => view.listLiveFilesFrom(uid, prefix, cursor, count),
    (record) => record.name,
    AFTER_EVERY_SLASHED_NAME,
  ).map((record) => objectEntry(record, record.name));
}

/**
 * Records of the home bucket's keys stored as file names (every stored name not beginning
 * with "/"), from `page` (a listing by name from a cursor), at most countMax. Every "/..." name
 * sorts together, so a page that reaches them jumps past them all at once (`pastSlashed`).
 */
function homeFileNameRecords<R extends { readonly name: string }, C>(
  prefix: string,
  after: C | null,
  countMax: number,
  page: (cursor: C | null, countMax: number) => readonly R[],
  cursorOf: (record: R) => C,
  pastSlashed: C,
): R[] {
  if (prefix.startsWith("/")) return [];
  const out: R[] = [];
  let cursor = after;
  while (out.length < countMax) {
    const records = page(cursor, countMax - out.length);
    const last = records.at(-1);
    if (last === undefined) break;
    for (const record of records) if (!record.name.startsWith("/")) out.push(record);
    cursor = last.name.startsWith("/") ? pastSlashed : cursorOf(last);
  }
  return out;
}

/** Above every stored name that begins with "/" (the largest code point follows it). */
const AFTER_EVERY_SLASHED_NAME = "/\u{10FFFF}";

function mergeByKey(
  left: readonly ObjectEntry[],
  right: readonly ObjectEntry[],
  countMax: number,
): ObjectEntry[] {
  return [...left, ...right].sort((a, b) => compareNames(a.key, b.key)).slice(0, countMax);
}

function objectEntry(record: LiveVersion, key: string): ObjectEntry {
  return {
    key,
    version: record.version,
    bytes: record.bytes,
    sha256: record.sha256,
    createdAtMs: record.createdAtMs,
    ...(record.attrs?.md5 === undefined ? {} : { md5: record.attrs.md5 }),
    ...(record.attrs?.parts === undefined ? {} : { parts: record.attrs.parts }),
  };
}

export interface ObjectVersionsPage {
  readonly versions: readonly ObjectVersionEntry[];
  readonly truncated: boolean;
}

/** Where a page of object versions starts: after this version of this key. */
export interface ObjectVersionCursor {
  readonly key: string;
  readonly version: number;
}

/**
 * One page of a bucket's object versions and standing delete markers whose keys begin with
 * `prefix`, after `after`, in S3's order: by key, newest first within a key. As with
 * listBucketObjects, the home bucket's keys come from two ranges of stored names, merged.
 */
export function listBucketObjectVersions(
  view: MetadataView,
  uid: string,
  bucket: string,
  prefix: string,
  after: ObjectVersionCursor | null,
  countMax: number,
): Result<ObjectVersionsPage> {
  const validUid = validateUid(uid);
  if (!validUid.ok) return validUid;
  if (view.getUser(uid) === undefined) return noSuchUser(uid);
  if (bucket !== HOME_BUCKET && view.getBucket(uid, bucket) === undefined) {
    return noSuchBucket(uid, bucket);
  }
  const wanted = countMax + 1;
  const base = bucketNamePrefix(bucket);
  const slashed = view
    .listObjectVersions(
      uid,
      base + prefix,
      after === null ? null : { name: base + after.key, version: after.version },
      wanted,
    )
    .map((record) => versionEntry(view, record, record.name.slice(base.length)));
  const entries =
    bucket === HOME_BUCKET
      ? [...slashed, ...fileNameVersions(view, uid, prefix, after, wanted)]
          .sort(compareVersionEntries)
          .slice(0, wanted)
      : slashed;
  return ok({ versions: entries.slice(0, countMax), truncated: entries.length > countMax });
}

/** Versions of home keys stored as file names (version 0 in a cursor: past the whole name). */
function fileNameVersions(
  view: MetadataView,
  uid: string,
  prefix: string,
  after: ObjectVersionCursor | null,
  countMax: number,
): ObjectVersionEntry[] {
  return homeFileNameRecords(
    prefix,
    after === null ? null : { name: after.key, version: after.version },
    countMax,
    (cursor, count) => view.listObjectVersions(uid, prefix, cursor, count),
    (record) => ({ name: record.name, version: record.version }),
    { name: AFTER_EVERY_SLASHED_NAME, version: 0 },
  ).map((record) => versionEntry(view, record, record.name));
}

function compareVersionEntries(left: ObjectVersionEntry, right: ObjectVersionEntry): number {
  return compareNames(left.key, right.key) || right.version - left.version;
}

function versionEntry(view: MetadataView, record: VersionRecord, key: string): ObjectVersionEntry {
  const latest = view.currentVersion(record.uid, record.name)?.version === record.version;
  const { version, createdAtMs } = record;
  if (record.kind === "tombstone") {
    return { key, version, createdAtMs, latest, deleteMarker: true, bytes: 0 };
  }
  return {
    key,
    version,
    createdAtMs,
    latest,
    deleteMarker: false,
    bytes: record.bytes,
    sha256: record.sha256,
    ...(record.attrs?.md5 === undefined ? {} : { md5: record.attrs.md5 }),
    ...(record.attrs?.parts === undefined ? {} : { parts: record.attrs.parts }),
  };
}
