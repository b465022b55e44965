/**
 * MetadataStore in memory, for tests and the deterministic simulator. Atomicity comes from an
 * undo journal: every write inside applyEntry records how to take it back, and a throw
 * rolls all of them back before it propagates. Not durable, by design.
 */

import { assert, type ChunkRef, type SealedSecret } from "@ftfs/protocol/core";
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
import { NO_USAGE } from "./model.ts";
import {
  compareMultipartAges,
  compareMultipartPositions,
  compareNames,
  compareObjectVersionPositions,
  compareVersionKeys,
  type MultipartPosition,
  type ObjectVersionPosition,
  type MetadataStore,
  type MetadataTx,
  type VersionKey,
} from "./store.ts";

function pairKey(first: string, second: string): string {
  return JSON.stringify([first, second]);
}

function versionKey(uid: string, name: string, version: number): string {
  return JSON.stringify([uid, name, version]);
}

/** MemoryMetadataStore's state as JSON: each map as its entries. */
interface MemoryStateDump {
  readonly applied: number;
  readonly users: Array<[string, UserRecord]>;
  readonly usage: Array<[string, UserUsage]>;
  readonly files: Array<[string, Array<[string, VersionRecord[]]>]>;
  readonly uploads: Array<[string, LiveVersion]>;
  readonly deletes: Array<[string, Tombstone]>;
  readonly groups: Array<[string, GroupConfig]>;
  readonly outbox: Array<[string, OutboxNotice[]]>;
  readonly swept: Array<[string, { uid: string; uploadId: string; deadlineMs: number }]>;
  readonly kept: Array<[string, string[]]>;
  readonly keptBy: Array<[string, readonly string[]]>;
  readonly accessKeys: Array<[string, AccessKeyRecord]>;
  readonly buckets: Array<[string, BucketRecord]>;
  /** Absent in dumps made before multipart uploads. */
  readonly multiparts?: Array<[string, MultipartRecord]>;
}

function refill<K, V>(map: Map<K, V>, entries: ReadonlyArray<readonly [K, V]>): void {
  map.clear();
  for (const [key, value] of entries) map.set(key, value);
}

export class MemoryMetadataStore implements MetadataStore, MetadataTx {
  private readonly users = new Map<string, UserRecord>();
  private readonly usage = new Map<string, UserUsage>();
  /** uid → name → versions, oldest first. */
  private readonly files = new Map<string, Map<string, VersionRecord[]>>();
  private readonly uploads = new Map<string, LiveVersion>();
  private readonly deletes = new Map<string, Tombstone>();
  private readonly groups = new Map<string, GroupConfig>();
  /** group → notices in delivery order. */
  private readonly outbox = new Map<string, OutboxNotice[]>();
  /** pairKey(uid, uploadId) → the swept upload's deadline. */
  private readonly swept = new Map<string, { uid: string; uploadId: string; deadlineMs: number }>();
  /** pairKey(group, chunkId) → the kept versions naming it there, as versionKey()s. */
  private readonly kept = new Map<string, Set<string>>();
  /** versionKey() → the pairKey(group, chunkId)s the version added to `kept`. */
  private readonly keptBy = new Map<string, readonly string[]>();
  /** pairKey(uid, bucket) → the bucket. */
  private readonly buckets = new Map<string, BucketRecord>();
  /** pairKey(uid, uploadId) → the open multipart upload. */
  private readonly multiparts = new Map<string, MultipartRecord>();
  /** accessKeyId → its record, in creation order. */
  private readonly accessKeys = new Map<string, AccessKeyRecord>();
  private applied = 0;
  private closed = false;
  /** Inverse steps of the writes of the transaction in progress; null outside one. */
  private undo: Array<() => void> | null = null;

  getUser(uid: string): UserRecord | undefined {
    return this.users.get(uid);
  }

  listUsers(countMax: number): readonly UserRecord[] {
    return [...this.users.values()].sort((a, b) => compareNames(a.uid, b.uid)).slice(0, countMax);
  }

  getUsage(uid: string): UserUsage {
    return this.usage.get(uid) ?? NO_USAGE;
  }

  latestVersion(uid: string, name: string): VersionRecord | undefined {
    return this.versionsOf(uid, name).at(-1);
  }

  getVersion(uid: string, name: string, version: number): VersionRecord | undefined {
    return this.versionsOf(uid, name).find((record) => record.version === version);
  }

  currentVersion(uid: string, name: string): VersionRecord | undefined {
    return this.versionsOf(uid, name).findLast((record) => record.pruned !== true);
  }

  deletedThrough(uid: string, name: string): number {
    const deletion = this.versionsOf(uid, name).findLast(
      (record) => record.kind === "tombstone" && record.marker !== true,
    );
    return deletion?.version ?? 0;
  }

  listObjectVersions(
    uid: string,
    prefix: string,
    after: ObjectVersionPosition | null,
    countMax: number,
  ): readonly VersionRecord[] {
    const found: VersionRecord[] = [];
    for (const [name, versions] of this.files.get(uid) ?? []) {
      if (!name.startsWith(prefix)) continue;
      const deletedThrough = this.deletedThrough(uid, name);
      for (const record of versions) {
        const listed =
          record.pruned !== true &&
          record.version > deletedThrough &&
          (record.kind === "live" || record.marker === true);
        if (!listed) continue;
        if (after === null || compareObjectVersionPositions(record, after) > 0) found.push(record);
      }
    }
    return found.sort(compareObjectVersionPositions).slice(0, countMax);
  }

  listVersions(uid: string, name: string, fromVersion: number): readonly VersionRecord[] {
    return this.versionsOf(uid, name).filter((record) => record.version >= fromVersion);
  }

  listLiveFiles(uid: string, countMax: number): readonly LiveVersion[] {
    const live: LiveVersion[] = [];
    for (const versions of this.files.get(uid)?.values() ?? []) {
      const current = versions.findLast((record) => record.pruned !== true);
      if (current?.kind === "live") live.push(current);
    }
    return live.sort((a, b) => compareNames(a.name, b.name)).slice(0, countMax);
  }

  findUpload(uid: string, uploadId: string): LiveVersion | undefined {
    return this.uploads.get(pairKey(uid, uploadId));
  }

  findDeleteRequest(uid: string, requestId: string): Tombstone | undefined {
    return this.deletes.get(pairKey(uid, requestId));
  }

  scanVersions(after: VersionKey | null, countMax: number): readonly VersionRecord[] {
    // A test store is small: sorting it all per page is simpler than keeping an ordered index.
    const found: VersionRecord[] = [];
    for (const byName of this.files.values()) {
      for (const versions of byName.values()) {
        for (const record of versions) {
          if (after === null || compareVersionKeys(record, after) > 0) found.push(record);
        }
      }
    }
    return found.sort(compareVersionKeys).slice(0, countMax);
  }

  getGroup(group: string): GroupConfig | undefined {
    return this.groups.get(group);
  }

  listGroups(): readonly GroupConfig[] {
    return [...this.groups.values()].sort((a, b) => compareNames(a.group, b.group));
  }

  lastApplied(): number {
    return this.applied;
  }

  uploadSwept(uid: string, uploadId: string): boolean {
    return this.swept.has(pairKey(uid, uploadId));
  }

  chunkKept(group: string, chunkId: string): boolean {
    return this.kept.has(pairKey(group, chunkId));
  }

  getBucket(uid: string, bucket: string): BucketRecord | undefined {
    return this.buckets.get(pairKey(uid, bucket));
  }

  listBuckets(uid: string): readonly BucketRecord[] {
    return [...this.buckets.values()]
      .filter((record) => record.uid === uid)
      .sort((a, b) => compareNames(a.bucket, b.bucket));
  }

  listLiveFilesFrom(
    uid: string,
    prefix: string,
    after: string | null,
    countMax: number,
  ): readonly LiveVersion[] {
    return this.listLiveFiles(uid, Number.MAX_SAFE_INTEGER)
      .filter((record) => record.name.startsWith(prefix))
      .filter((record) => after === null || compareNames(record.name, after) > 0)
      .slice(0, countMax);
  }

  putBucket(record: BucketRecord): void {
    const undo = this.journal();
    const key = pairKey(record.uid, record.bucket);
    assert(!this.buckets.has(key), `bucket ${record.bucket} exists`);
    this.buckets.set(key, record);
    undo.push(() => this.buckets.delete(key));
  }

  removeBucket(uid: string, bucket: string): void {
    const undo = this.journal();
    const key = pairKey(uid, bucket);
    const previous = this.buckets.get(key);
    assert(previous !== undefined, `no bucket ${bucket} to remove`);
    this.buckets.delete(key);
    undo.push(() => this.buckets.set(key, previous));
  }

  getMultipart(uid: string, uploadId: string): MultipartRecord | undefined {
    return this.multiparts.get(pairKey(uid, uploadId));
  }

  listMultiparts(
    uid: string,
    prefix: string,
    after: MultipartPosition | null,
    countMax: number,
  ): readonly MultipartRecord[] {
    return [...this.multiparts.values()]
      .filter((record) => record.uid === uid && record.name.startsWith(prefix))
      .filter((record) => after === null || compareMultipartPositions(record, after) > 0)
      .sort(compareMultipartPositions)
      .slice(0, countMax);
  }

  multipartsInitiatedBefore(
    beforeMs: number,
    after: MultipartRecord | null,
    countMax: number,
  ): readonly MultipartRecord[] {
    return [...this.multiparts.values()]
      .filter((record) => record.initiatedAtMs <= beforeMs)
      .filter((record) => after === null || compareMultipartAges(record, after) > 0)
      .sort(compareMultipartAges)
      .slice(0, countMax);
  }

  countMultiparts(uid: string): number {
    let count = 0;
    for (const record of this.multiparts.values()) if (record.uid === uid) count += 1;
    return count;
  }

  putMultipart(record: MultipartRecord): void {
    const undo = this.journal();
    const key = pairKey(record.uid, record.uploadId);
    assert(!this.multiparts.has(key), `multipart upload ${record.uploadId} exists`);
    this.multiparts.set(key, record);
    undo.push(() => this.multiparts.delete(key));
  }

  removeMultipart(uid: string, uploadId: string): void {
    const undo = this.journal();
    const key = pairKey(uid, uploadId);
    const previous = this.multiparts.get(key);
    assert(previous !== undefined, `no multipart upload ${uploadId} to remove`);
    this.multiparts.delete(key);
    undo.push(() => this.multiparts.set(key, previous));
  }

  getAccessKey(accessKeyId: string): AccessKeyRecord | undefined {
    return this.accessKeys.get(accessKeyId);
  }

  listAccessKeys(uid: string): readonly AccessKeyRecord[] {
    return [...this.accessKeys.values()]
      .filter((record) => record.uid === uid)
      .sort((a, b) => a.createdAtMs - b.createdAtMs || compareNames(a.accessKeyId, b.accessKeyId));
  }

  scanAccessKeys(afterId: string | null, countMax: number): readonly AccessKeyRecord[] {
    return [...this.accessKeys.values()]
      .filter((record) => afterId === null || compareNames(record.accessKeyId, afterId) > 0)
      .sort((a, b) => compareNames(a.accessKeyId, b.accessKeyId))
      .slice(0, countMax);
  }

  putAccessKey(record: AccessKeyRecord): void {
    const undo = this.journal();
    assert(!this.accessKeys.has(record.accessKeyId), `access key ${record.accessKeyId} exists`);
    this.accessKeys.set(record.accessKeyId, record);
    undo.push(() => this.accessKeys.delete(record.accessKeyId));
  }

  resealAccessKey(accessKeyId: string, sealed: SealedSecret): void {
    const undo = this.journal();
    const previous = this.accessKeys.get(accessKeyId);
    assert(previous !== undefined, `no access key ${accessKeyId} to reseal`);
    this.accessKeys.set(accessKeyId, { ...previous, sealed });
    undo.push(() => this.accessKeys.set(accessKeyId, previous));
  }

  removeAccessKey(accessKeyId: string): void {
    const undo = this.journal();
    const previous = this.accessKeys.get(accessKeyId);
    assert(previous !== undefined, `no access key ${accessKeyId} to remove`);
    this.accessKeys.delete(accessKeyId);
    undo.push(() => this.accessKeys.set(accessKeyId, previous));
  }

  applyEntry<T>(index: number, apply: (tx: MetadataTx) => T): T {
    assert(!this.closed, "store is closed");
    assert(index === this.applied + 1, `log index ${index} after ${this.applied}`);
    assert(this.undo === null, "applyEntry is not reentrant");
    const undo: Array<() => void> = [];
    this.undo = undo;
    try {
      const result = apply(this);
      this.applied = index;
      return result;
    } catch (error) {
      for (const step of undo.reverse()) step();
      throw error;
    } finally {
      this.undo = null;
    }
  }

  noticeGroups(countMax: number): readonly string[] {
    return [...this.outbox.keys()].sort(compareNames).slice(0, countMax);
  }

  pendingNotices(group: string, countMax: number): readonly OutboxNotice[] {
    return (this.outbox.get(group) ?? []).slice(0, countMax);
  }

  close(): void {
    this.closed = true;
  }

  /**
   * The whole state as bytes, as of lastApplied(): the simulator's snapshot (the real node's
   * comes from SQLite). Every map goes as its entries, in insertion order, so an import answers
   * every query exactly as this store does.
   */
  exportState(): Uint8Array {
    const dump: MemoryStateDump = {
      applied: this.applied,
      users: [...this.users],
      usage: [...this.usage],
      files: [...this.files].map(([uid, byName]) => [uid, [...byName]]),
      uploads: [...this.uploads],
      deletes: [...this.deletes],
      groups: [...this.groups],
      outbox: [...this.outbox],
      swept: [...this.swept],
      kept: [...this.kept].map(([place, owners]) => [place, [...owners]]),
      keptBy: [...this.keptBy],
      accessKeys: [...this.accessKeys],
      buckets: [...this.buckets],
      multiparts: [...this.multiparts],
    };
    return new TextEncoder().encode(JSON.stringify(dump));
  }

  /** Replaces the whole state with an exported one, as of `index`. */
  importState(data: Uint8Array, index: number): void {
    assert(this.undo === null, "a snapshot is installed between entries");
    // Our own export, never a peer's bytes from the wire: a cast, not a decoder.
    const dump = JSON.parse(new TextDecoder().decode(data)) as MemoryStateDump;
    assert(dump.applied === index, `snapshot holds index ${dump.applied}, expected ${index}`);
    refill(this.users, dump.users);
    refill(this.usage, dump.usage);
    refill(
      this.files,
      dump.files.map(([uid, byName]) => [uid, new Map(byName)]),
    );
    refill(this.uploads, dump.uploads);
    refill(this.deletes, dump.deletes);
    refill(this.groups, dump.groups);
    refill(this.outbox, dump.outbox);
    refill(this.swept, dump.swept);
    refill(
      this.kept,
      dump.kept.map(([place, owners]) => [place, new Set(owners)]),
    );
    refill(this.keptBy, dump.keptBy);
    refill(this.accessKeys, dump.accessKeys);
    refill(this.buckets, dump.buckets);
    refill(this.multiparts, dump.multiparts ?? []);
    this.applied = index;
  }

  putUser(user: UserRecord): void {
    const undo = this.journal();
    assert(!this.users.has(user.uid), `user ${user.uid} exists`);
    this.users.set(user.uid, user);
    undo.push(() => this.users.delete(user.uid));
  }

  replaceUser(user: UserRecord): void {
    const undo = this.journal();
    const previous = this.users.get(user.uid);
    assert(previous !== undefined, `no user ${user.uid} to replace`);
    this.users.set(user.uid, user);
    undo.push(() => this.users.set(user.uid, previous));
  }

  removeUser(uid: string): void {
    const undo = this.journal();
    const previous = this.users.get(uid);
    assert(previous !== undefined, `no user ${uid} to remove`);
    this.users.delete(uid);
    undo.push(() => this.users.set(uid, previous));
  }

  setUsage(uid: string, usage: UserUsage): void {
    const undo = this.journal();
    const previous = this.usage.get(uid);
    this.usage.set(uid, usage);
    undo.push(() => {
      if (previous === undefined) this.usage.delete(uid);
      else this.usage.set(uid, previous);
    });
  }

  putVersion(record: VersionRecord): void {
    const undo = this.journal();
    let byName = this.files.get(record.uid);
    if (byName === undefined) {
      byName = new Map();
      this.files.set(record.uid, byName);
    }
    const versions = byName.get(record.name) ?? [];
    const newest = versions.at(-1)?.version ?? 0;
    assert(record.version > newest, `version ${record.version} of ${record.name} after ${newest}`);
    const ids = record.kind === "live" ? this.uploads : this.deletes;
    const key = pairKey(record.uid, record.kind === "live" ? record.uploadId : record.requestId);
    assert(!ids.has(key), `id of ${record.name} v${record.version} already used`);
    versions.push(record);
    byName.set(record.name, versions);
    if (record.kind === "live") this.uploads.set(key, record);
    else this.deletes.set(key, record);
    const owner = byName;
    undo.push(() => {
      versions.pop();
      if (versions.length === 0) owner.delete(record.name);
      ids.delete(key);
    });
  }

  replaceChunks(uid: string, name: string, version: number, chunks: readonly ChunkRef[]): void {
    const undo = this.journal();
    const versions = this.files.get(uid)?.get(name) ?? [];
    const at = versions.findIndex((record) => record.version === version);
    const previous = versions[at];
    assert(previous?.kind === "live", `no live version ${version} of ${name} to replace`);
    const replaced: LiveVersion = { ...previous, chunks };
    const key = pairKey(uid, previous.uploadId);
    versions[at] = replaced;
    this.uploads.set(key, replaced);
    undo.push(() => {
      versions[at] = previous;
      this.uploads.set(key, previous);
    });
  }

  forgetVersion(uid: string, name: string, version: number): void {
    const undo = this.journal();
    const versions = this.files.get(uid)?.get(name) ?? [];
    const at = versions.findIndex((record) => record.version === version);
    const previous = versions[at];
    assert(previous?.kind === "live", `no live version ${version} of ${name} to forget`);
    assert(at < versions.length - 1, `version ${version} of ${name} is its newest record`);
    const key = pairKey(uid, previous.uploadId);
    versions.splice(at, 1);
    this.uploads.delete(key);
    undo.push(() => {
      versions.splice(at, 0, previous);
      this.uploads.set(key, previous);
    });
  }

  forgetName(uid: string, name: string): void {
    const undo = this.journal();
    const byName = this.files.get(uid);
    const versions = byName?.get(name);
    assert(byName !== undefined && versions !== undefined, `no records of ${name} to forget`);
    for (const record of versions) {
      assert(!this.keptBy.has(versionKey(uid, name, record.version)), `${name} is still kept`);
    }
    byName.delete(name);
    for (const record of versions) {
      if (record.kind === "live") this.uploads.delete(pairKey(uid, record.uploadId));
      else this.deletes.delete(pairKey(uid, record.requestId));
    }
    undo.push(() => {
      byName.set(name, versions);
      for (const record of versions) {
        if (record.kind === "live") this.uploads.set(pairKey(uid, record.uploadId), record);
        else this.deletes.set(pairKey(uid, record.requestId), record);
      }
    });
  }

  pruneVersion(uid: string, name: string, version: number): void {
    const undo = this.journal();
    const versions = this.files.get(uid)?.get(name) ?? [];
    const at = versions.findIndex((record) => record.version === version);
    const previous = versions[at];
    if (previous?.kind === "tombstone") {
      assert(previous.marker === true, `version ${version} of ${name} is not a delete marker`);
      const pruned: Tombstone = { ...previous, pruned: true };
      const key = pairKey(uid, previous.requestId);
      versions[at] = pruned;
      this.deletes.set(key, pruned);
      undo.push(() => {
        versions[at] = previous;
        this.deletes.set(key, previous);
      });
      return;
    }
    assert(previous?.kind === "live", `no live version ${version} of ${name} to prune`);
    const pruned: LiveVersion = { ...previous, pruned: true };
    const key = pairKey(uid, previous.uploadId);
    versions[at] = pruned;
    this.uploads.set(key, pruned);
    undo.push(() => {
      versions[at] = previous;
      this.uploads.set(key, previous);
    });
  }

  setBucketVersioning(uid: string, bucket: string, versioning: BucketVersioning): void {
    const undo = this.journal();
    const key = pairKey(uid, bucket);
    const previous = this.buckets.get(key);
    assert(previous !== undefined, `no bucket ${bucket} to change`);
    this.buckets.set(key, { ...previous, versioning });
    undo.push(() => this.buckets.set(key, previous));
  }

  putGroup(config: GroupConfig): void {
    const undo = this.journal();
    const previous = this.groups.get(config.group);
    this.groups.set(config.group, config);
    undo.push(() => {
      if (previous === undefined) this.groups.delete(config.group);
      else this.groups.set(config.group, previous);
    });
  }

  enqueueNotice(notice: OutboxNotice): void {
    const undo = this.journal();
    const queue = this.outbox.get(notice.group) ?? [];
    if (queue.length === 0) this.outbox.set(notice.group, queue);
    queue.push(notice);
    undo.push(() => {
      queue.pop();
      if (queue.length === 0) this.outbox.delete(notice.group);
    });
  }

  ackNotices(group: string, throughIndex: number, throughSeq: number): number {
    const undo = this.journal();
    const queue = this.outbox.get(group) ?? [];
    const kept = queue.filter(
      (notice) =>
        notice.index > throughIndex || (notice.index === throughIndex && notice.seq > throughSeq),
    );
    if (kept.length === queue.length) return 0;
    if (kept.length === 0) this.outbox.delete(group);
    else this.outbox.set(group, kept);
    undo.push(() => this.outbox.set(group, queue));
    return queue.length - kept.length;
  }

  sweepUpload(uid: string, uploadId: string, deadlineMs: number): void {
    const undo = this.journal();
    const key = pairKey(uid, uploadId);
    assert(!this.swept.has(key), `upload ${uploadId} already swept`);
    this.swept.set(key, { uid, uploadId, deadlineMs });
    undo.push(() => this.swept.delete(key));
  }

  forgetSweptBefore(beforeMs: number, countMax: number): number {
    const undo = this.journal();
    const gone = [...this.swept.entries()]
      .filter(([, record]) => record.deadlineMs < beforeMs)
      .sort(([, a], [, b]) => a.deadlineMs - b.deadlineMs || compareNames(a.uploadId, b.uploadId))
      .slice(0, countMax);
    for (const [key] of gone) this.swept.delete(key);
    undo.push(() => {
      for (const [key, record] of gone) this.swept.set(key, record);
    });
    return gone.length;
  }

  keepChunks(uid: string, name: string, version: number, chunks: readonly ChunkRef[]): void {
    const undo = this.journal();
    const owner = versionKey(uid, name, version);
    assert(!this.keptBy.has(owner), `version ${version} of ${name} is kept already`);
    const places = [...new Set(chunks.map((chunk) => pairKey(chunk.group, chunk.id)))];
    for (const place of places) {
      const owners = this.kept.get(place) ?? new Set<string>();
      owners.add(owner);
      this.kept.set(place, owners);
    }
    this.keptBy.set(owner, places);
    undo.push(() => this.unkeep(owner));
  }

  releaseChunks(uid: string, name: string, version: number): void {
    const undo = this.journal();
    const owner = versionKey(uid, name, version);
    const places = this.keptBy.get(owner);
    if (places === undefined) return;
    this.unkeep(owner);
    undo.push(() => {
      for (const place of places) {
        const owners = this.kept.get(place) ?? new Set<string>();
        owners.add(owner);
        this.kept.set(place, owners);
      }
      this.keptBy.set(owner, places);
    });
  }

  private unkeep(owner: string): void {
    for (const place of this.keptBy.get(owner) ?? []) {
      const owners = this.kept.get(place);
      owners?.delete(owner);
      if (owners?.size === 0) this.kept.delete(place);
    }
    this.keptBy.delete(owner);
  }

  private versionsOf(uid: string, name: string): readonly VersionRecord[] {
    return this.files.get(uid)?.get(name) ?? [];
  }

  /** The open transaction's undo steps; a write outside applyEntry is our bug. */
  private journal(): Array<() => void> {
    assert(this.undo !== null, "metadata write outside applyEntry");
    return this.undo;
  }
}
