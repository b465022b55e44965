/**
 * The MetadataStore interface: where the directory's applied state and its outbox are kept.
 * Two implementations pass one shared behaviour suite: MemoryMetadataStore (this folder;
 * tests) and SqliteMetadataStore (io/; the real node). A store only keeps
 * records; what is allowed is decided by state-machine.ts, which writes through a MetadataTx.
 */

import type { ChunkRef, SealedSecret } from "@ftfs/protocol/core";
import type {
  AccessKeyRecord,
  BucketRecord,
  BucketVersioning,
  GroupConfig,
  LiveVersion,
  MultipartRecord,
  OutboxNotice,
  Tombstone,
  UserRecord,
  UserUsage,
  VersionRecord,
} from "./model.ts";

/** Where a walk over every version stands: the last version it saw. */
export interface VersionKey {
  readonly uid: string;
  readonly name: string;
  readonly version: number;
}

/** Where a listing of object versions stands: after this version of this name. */
export interface ObjectVersionPosition {
  readonly name: string;
  readonly version: number;
}

/** Where a listing of multipart uploads stands: after this upload of this name. */
export interface MultipartPosition {
  readonly name: string;
  readonly uploadId: string;
}

/** Reads of the applied state. Names sort by code point (SQLite's BINARY order on UTF-8). */
export interface MetadataView {
  getUser(uid: string): UserRecord | undefined;
  /** Every user, sorted by uid, at most countMax. */
  listUsers(countMax: number): readonly UserRecord[];
  /** What the user's live files take (NO_USAGE for none); kept even after the user goes. */
  getUsage(uid: string): UserUsage;
  /** The newest version of a name, live or tombstone, pruned or not: it numbers the next. */
  latestVersion(uid: string, name: string): VersionRecord | undefined;
  /**
   * The name's current version: its newest not pruned, live or tombstone (a deleted name's
   * current version is a tombstone). What a read without a version number finds.
   */
  currentVersion(uid: string, name: string): VersionRecord | undefined;
  getVersion(uid: string, name: string, version: number): VersionRecord | undefined;
  /**
   * The number at or below which a name's versions are gone: its newest tombstone that is not
   * a delete marker (0: none).
   */
  deletedThrough(uid: string, name: string): number;
  /** A name's versions numbered fromVersion and up, oldest first. */
  listVersions(uid: string, name: string, fromVersion: number): readonly VersionRecord[];
  /** The current version of each name whose current version is live, sorted by name. */
  listLiveFiles(uid: string, countMax: number): readonly LiveVersion[];
  findUpload(uid: string, uploadId: string): LiveVersion | undefined;
  findDeleteRequest(uid: string, requestId: string): Tombstone | undefined;
  /**
   * Every user's versions (live and tombstones) after `after` in (uid, name, version) order,
   * at most countMax: one page of a walk over the whole state (null: from the start).
   */
  scanVersions(after: VersionKey | null, countMax: number): readonly VersionRecord[];
  getGroup(group: string): GroupConfig | undefined;
  /** Every group's configuration, sorted by group name. */
  listGroups(): readonly GroupConfig[];
  /** Index of the last log entry applied; 0 for an empty log. */
  lastApplied(): number;
  /** A sweepUploads recorded that this upload can never commit. */
  uploadSwept(uid: string, uploadId: string): boolean;
  /** Some kept version (the chunk index) names this chunk in this group. */
  chunkKept(group: string, chunkId: string): boolean;
  getBucket(uid: string, bucket: string): BucketRecord | undefined;
  /** A user's buckets (its home bucket is implicit, not listed), sorted by name. */
  listBuckets(uid: string): readonly BucketRecord[];
  /**
   * The current version of each name beginning with `prefix` whose current version is live,
   * names after `after` (null: from the first), sorted by code point, at most countMax.
   */
  listLiveFilesFrom(
    uid: string,
    prefix: string,
    after: string | null,
    countMax: number,
  ): readonly LiveVersion[];
  /**
   * The versions S3 lists of names beginning with `prefix`: kept live versions and standing
   * delete markers (not pruned, above their name's deletedThrough), by name, newest first
   * within a name; after `after` in that order (null: from the first), at most countMax.
   */
  listObjectVersions(
    uid: string,
    prefix: string,
    after: ObjectVersionPosition | null,
    countMax: number,
  ): readonly VersionRecord[];
  getMultipart(uid: string, uploadId: string): MultipartRecord | undefined;
  /**
   * A user's open multipart uploads of names beginning with `prefix`, in (name, uploadId)
   * order, after `after` (null: from the first), at most countMax.
   */
  listMultiparts(
    uid: string,
    prefix: string,
    after: MultipartPosition | null,
    countMax: number,
  ): readonly MultipartRecord[];
  /**
   * Every user's open multipart uploads initiated at or before `beforeMs`, oldest first (by
   * initiation, uid, id), after `after` (null: from the oldest), at most countMax.
   */
  multipartsInitiatedBefore(
    beforeMs: number,
    after: MultipartRecord | null,
    countMax: number,
  ): readonly MultipartRecord[];
  /** How many multipart uploads the user has open. */
  countMultiparts(uid: string): number;
  getAccessKey(accessKeyId: string): AccessKeyRecord | undefined;
  /** A user's access keys, oldest first. */
  listAccessKeys(uid: string): readonly AccessKeyRecord[];
  /** Every access key after `afterId` (null: from the start) by id, at most countMax. */
  scanAccessKeys(afterId: string | null, countMax: number): readonly AccessKeyRecord[];
}

/**
 * Writes, valid only inside applyEntry. Each write must be new, overwrites are bugs, except
 * where a method says it replaces.
 */
export interface MetadataTx extends MetadataView {
  putUser(user: UserRecord): void;
  /** Replaces an existing user's record (credentials given to a user `connect` made). */
  replaceUser(user: UserRecord): void;
  /** Removes an existing user; its files and usage stay (they are the uid's, not the login's). */
  removeUser(uid: string): void;
  /** Replaces the user's usage. */
  setUsage(uid: string, usage: UserUsage): void;
  putVersion(record: VersionRecord): void;
  /** Marks an existing live version or delete marker pruned (see LiveVersion.pruned). */
  pruneVersion(uid: string, name: string, version: number): void;
  /**
   * Forgets a live version that is no longer kept (pruned, or below a tombstone): its record
   * goes. Never the name's newest record, which numbers the next version.
   */
  forgetVersion(uid: string, name: string, version: number): void;
  /**
   * Forgets every record of a name whose versions are all released (none in the chunk index):
   * only for a name never used again (a multipart upload's part).
   */
  forgetName(uid: string, name: string): void;
  /** Replaces an existing live version's chunk list (a rebalance moved its chunks). */
  replaceChunks(uid: string, name: string, version: number, chunks: readonly ChunkRef[]): void;
  /** Replaces the group's configuration. */
  putGroup(config: GroupConfig): void;
  enqueueNotice(notice: OutboxNotice): void;
  /** Forget a group's notices up to and including (index, seq); answers how many went. */
  ackNotices(group: string, throughIndex: number, throughSeq: number): number;
  /** Record that an upload can never commit; its deadline says when the record may go. */
  sweepUpload(uid: string, uploadId: string, deadlineMs: number): void;
  /** Forget at most countMax swept records whose deadline is before `beforeMs`. */
  forgetSweptBefore(beforeMs: number, countMax: number): number;
  /** Add a kept version's chunks to the chunk index. */
  keepChunks(uid: string, name: string, version: number, chunks: readonly ChunkRef[]): void;
  /** Take a version's chunks out of the chunk index (deleted, or moved: kept again anew). */
  releaseChunks(uid: string, name: string, version: number): void;
  putBucket(record: BucketRecord): void;
  removeBucket(uid: string, bucket: string): void;
  /** Sets an existing bucket's versioning state. */
  setBucketVersioning(uid: string, bucket: string, versioning: BucketVersioning): void;
  putMultipart(record: MultipartRecord): void;
  removeMultipart(uid: string, uploadId: string): void;
  putAccessKey(record: AccessKeyRecord): void;
  /** Replaces an existing access key's seal (a key rotation). */
  resealAccessKey(accessKeyId: string, sealed: SealedSecret): void;
  removeAccessKey(accessKeyId: string): void;
}

export interface MetadataStore extends MetadataView {
  /**
   * Apply log entry `index` to the state: after it returns, its effects and lastApplied = index
   * are committed together; if `apply` throws, none of them happened. `index` must be
   * lastApplied() + 1. The log itself is Raft's, kept beside the state (io/raft-log.ts).
   */
  applyEntry<T>(index: number, apply: (tx: MetadataTx) => T): T;
  /** Groups that have undelivered notices, sorted, at most countMax. */
  noticeGroups(countMax: number): readonly string[];
  /** A group's undelivered notices in delivery order, at most countMax. */
  pendingNotices(group: string, countMax: number): readonly OutboxNotice[];
  close(): void;
}

/** Code point order, which equals SQLite's BINARY collation over UTF-8. */
export function compareNames(left: string, right: string): number {
  const a = [...left];
  const b = [...right];
  const length = Math.min(a.length, b.length);
  for (let at = 0; at < length; at += 1) {
    const difference = (a[at]?.codePointAt(0) ?? 0) - (b[at]?.codePointAt(0) ?? 0);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/** (name, uploadId) order by code point: the order of listMultiparts. */
export function compareMultipartPositions(
  left: MultipartPosition,
  right: MultipartPosition,
): number {
  return compareNames(left.name, right.name) || compareNames(left.uploadId, right.uploadId);
}

/** (initiatedAtMs, uid, uploadId): the order of multipartsInitiatedBefore. */
export function compareMultipartAges(left: MultipartRecord, right: MultipartRecord): number {
  return (
    left.initiatedAtMs - right.initiatedAtMs ||
    compareNames(left.uid, right.uid) ||
    compareNames(left.uploadId, right.uploadId)
  );
}

/** (name ascending, version descending): the order of listObjectVersions. */
export function compareObjectVersionPositions(
  left: ObjectVersionPosition,
  right: ObjectVersionPosition,
): number {
  return compareNames(left.name, right.name) || right.version - left.version;
}

/** (uid, name, version) order, names by code point: the order of scanVersions. */
export function compareVersionKeys(left: VersionKey, right: VersionKey): number {
  return (
    compareNames(left.uid, right.uid) ||
    compareNames(left.name, right.name) ||
    left.version - right.version
  );
}
