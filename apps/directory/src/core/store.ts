/**
 * The MetadataStore interface: where the directory's applied state and its outbox are kept.
 * Two implementations pass one shared behaviour suite: MemoryMetadataStore (this folder; tests) and SqliteMetadataStore (io/; the real node). A store only keeps
 * records; what is allowed is decided by state-machine.ts, which writes through a MetadataTx.
 */

import type {
  GroupConfig,
  LiveVersion,
  OutboxNotice,
  Tombstone,
  UserRecord,
  VersionRecord,
} from "./model.ts";

/** Reads of the applied state. Names sort by code point (SQLite's BINARY order on UTF-8). */
export interface MetadataView {
  getUser(uid: string): UserRecord | undefined;
  /** The newest version of a name, live or tombstone. */
  latestVersion(uid: string, name: string): VersionRecord | undefined;
  getVersion(uid: string, name: string, version: number): VersionRecord | undefined;
  /** The newest tombstone of a name: versions at or below it are gone. */
  latestTombstone(uid: string, name: string): Tombstone | undefined;
  /** A name's versions numbered fromVersion and up, oldest first. */
  listVersions(uid: string, name: string, fromVersion: number): readonly VersionRecord[];
  /** The newest version of each name whose newest version is live, sorted by name. */
  listLiveFiles(uid: string, countMax: number): readonly LiveVersion[];
  findUpload(uid: string, uploadId: string): LiveVersion | undefined;
  findDeleteRequest(uid: string, requestId: string): Tombstone | undefined;
  getGroup(group: string): GroupConfig | undefined;
  /** Every group's configuration, sorted by group name. */
  listGroups(): readonly GroupConfig[];
  /** Index of the last log entry applied; 0 for an empty log. */
  lastApplied(): number;
}

/** Writes, valid only inside applyEntry. Each write must be new; overwrites are bugs. */
export interface MetadataTx extends MetadataView {
  putUser(user: UserRecord): void;
  putVersion(record: VersionRecord): void;
  /** Replaces the group's configuration. */
  putGroup(config: GroupConfig): void;
  enqueueNotice(notice: OutboxNotice): void;
  /** Forget a group's notices up to and including (index, seq); answers how many went. */
  ackNotices(group: string, throughIndex: number, throughSeq: number): number;
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
