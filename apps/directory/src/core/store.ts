/**
 * The MetadataStore interface: where the directory's state, its command log, its outbox and its
 * term are kept. Two implementations pass one shared behaviour suite: MemoryMetadataStore (this
 * folder; tests and simulation) and SqliteMetadataStore (io/; the real node). A store only keeps
 * records; what is allowed is decided by state-machine.ts, which writes through a MetadataTx.
 */

import type { LogEntry } from "./commands.ts";
import type {
  GroupConfig,
  HardState,
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

/** Writes, valid only inside appendAndApply. Each write must be new; overwrites are bugs. */
export interface MetadataTx extends MetadataView {
  putUser(user: UserRecord): void;
  putVersion(record: VersionRecord): void;
  /** Replaces the group's configuration. */
  putGroup(config: GroupConfig): void;
  enqueueNotice(notice: OutboxNotice): void;
}

export interface MetadataStore extends MetadataView {
  /**
   * Append `entry` to the log and run `apply` on the state, all or nothing: after it returns,
   * the entry, its effects and lastApplied = entry.index are durable together; if it throws,
   * none of them happened. entry.index must be lastApplied() + 1.
   */
  appendAndApply<T>(entry: LogEntry, apply: (tx: MetadataTx) => T): T;
  /** Log entries from fromIndex on, oldest first, at most countMax. */
  readLog(fromIndex: number, countMax: number): readonly LogEntry[];
  readHardState(): HardState;
  saveHardState(state: HardState): void;
  /** Groups that have undelivered notices, sorted, at most countMax. */
  noticeGroups(countMax: number): readonly string[];
  /** A group's undelivered notices in delivery order, at most countMax. */
  pendingNotices(group: string, countMax: number): readonly OutboxNotice[];
  /** A notice was delivered: forget it. Not a logged command: delivery is each node's own. */
  ackNotice(index: number, seq: number): void;
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
