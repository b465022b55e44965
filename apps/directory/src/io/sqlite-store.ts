/**
 * MetadataStore on bun:sqlite: the directory node's durable state. WAL with synchronous=FULL,
 * so a transaction is on disk when it commits; an entry's effects, its outbox notices and
 * lastApplied commit together: a crash leaves all or none. Raft's log, hard state and snapshot
 * live in the same file (raft-log.ts), so the driver persists new entries and applies committed
 * ones in ONE transaction: one fsync per batch (group commit).
 * Rows read back are decoded with schemas; a row that does not decode means a damaged file
 * and throws StoreCorruptError (an I/O failure, not a peer's fault).
 */

import { Database, SQLiteError } from "bun:sqlite";
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import {
  arr,
  assert,
  int,
  nullable,
  obj,
  str,
  type Infer,
  type ChunkRef,
  chunkRefSchema,
  groupViewSchema,
  MANIFEST_CHUNKS_MAX,
  OPS,
  opt,
  objectAttrsSchema,
  scramVerifierSchema,
  sealedSecretSchema,
  tryDecode,
  type Schema,
  type SealedSecret,
} from "@ftfs/protocol/core";
import {
  type AccessKeyRecord,
  type BucketRecord,
  type BucketVersioning,
  type GroupConfig,
  type LiveVersion,
  type MetadataStore,
  type MultipartPosition,
  type MultipartRecord,
  type MetadataTx,
  type Notice,
  type OutboxNotice,
  type Tombstone,
  type UserRecord,
  type UserUsage,
  NO_USAGE,
  type ObjectVersionPosition,
  type VersionKey,
  type VersionRecord,
} from "../core/index.ts";
import {
  MIGRATIONS,
  currentVersionSql,
  deletedThroughSql,
  RECOMPUTE_DERIVED_SQL,
  SCHEMA_SQL,
  SCHEMA_VERSION,
} from "./sqlite-schema.ts";
import { fsyncPath } from "./snapshot-images.ts";

export class StoreCorruptError extends Error {
  override readonly name = "StoreCorruptError";
  readonly code = "STORE_CORRUPT";
}

/**
 * The database could not grow: the disk (or the file's page limit) is full. The transaction
 * did not commit and is rolled back, so the file holds what it held before it: a node can wait
 * for space and go on. Every other failure of the disk (SQLITE_IOERR after a failed fsync above
 * all) is not this: what reached the disk is then unknown, and the node must stop.
 */
export function isDiskFull(error: unknown): boolean {
  return error instanceof SQLiteError && error.code === "SQLITE_FULL";
}

interface VersionRow {
  uid: string;
  name: string;
  version: number;
  kind: string;
  bytes: number | null;
  sha256: string | null;
  created_at_ms: number;
  upload_id: string | null;
  request_id: string | null;
  deleted_version: number | null;
  chunks: string | null;
  pruned: number;
  /** An object's S3 attributes (ObjectAttrs, JSON); null for files `ftfs` stored. */
  attrs: string | null;
  /** 1: a tombstone that is an S3 delete marker. */
  marker: number;
}

interface NoticeRow {
  idx: number;
  seq: number;
  grp: string;
  op: string;
  body: string;
}

const chunksSchema = arr(chunkRefSchema, { itemsMax: MANIFEST_CHUNKS_MAX });

function decodeJson<T>(schema: Schema<T>, text: string, what: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StoreCorruptError(`${what} is not JSON`, { cause: error });
  }
  const decoded = tryDecode(schema, parsed);
  if (!decoded.ok) throw new StoreCorruptError(`${what}: ${decoded.message}`);
  return decoded.value;
}

function versionFromRow(row: VersionRow): VersionRecord {
  const what = `version ${row.version} of '${row.name}' (user '${row.uid}')`;
  const { uid, name, version } = row;
  if (row.kind === "live") {
    if (
      row.bytes === null ||
      row.sha256 === null ||
      row.upload_id === null ||
      row.chunks === null
    ) {
      throw new StoreCorruptError(`${what} lacks a field of a live version`);
    }
    const chunks = decodeJson(chunksSchema, row.chunks, `${what} chunks`);
    return {
      kind: "live",
      uid,
      name,
      version,
      bytes: row.bytes,
      sha256: row.sha256,
      createdAtMs: row.created_at_ms,
      uploadId: row.upload_id,
      chunks,
      ...(row.pruned === 1 ? { pruned: true as const } : {}),
      ...(row.attrs === null
        ? {}
        : { attrs: decodeJson(objectAttrsSchema, row.attrs, `${what} attributes`) }),
    };
  }
  if (row.kind === "tombstone") {
    if (row.request_id === null || row.deleted_version === null) {
      throw new StoreCorruptError(`${what} lacks a field of a tombstone`);
    }
    return {
      kind: "tombstone",
      uid,
      name,
      version,
      createdAtMs: row.created_at_ms,
      requestId: row.request_id,
      deletedVersion: row.deleted_version,
      ...(row.marker === 1 ? { marker: true as const } : {}),
      ...(row.pruned === 1 ? { pruned: true as const } : {}),
    };
  }
  throw new StoreCorruptError(`${what} has unknown kind '${row.kind}'`);
}

function noticeFromRow(row: NoticeRow): OutboxNotice {
  const what = `outbox notice ${row.idx}.${row.seq}`;
  let notice: Notice;
  if (row.op === "commitRefs") {
    const body = decodeJson(OPS.commitRefs.request, row.body, what);
    const { uid, name, uploadId, version, chunkIds, chunkBytes, chunkUses } = body;
    // A row written before notices named their chunks has none: it commits the whole upload;
    // one written before they carried sizes commits only references the node already has.
    notice = {
      op: "commitRefs",
      body: {
        uid,
        name,
        uploadId,
        version,
        ...(chunkIds === undefined ? {} : { chunkIds }),
        ...(chunkBytes === undefined ? {} : { chunkBytes }),
        ...(chunkUses === undefined ? {} : { chunkUses }),
      },
    };
  } else if (row.op === "dropRefs") {
    const body = decodeJson(OPS.dropRefs.request, row.body, what);
    notice = { op: "dropRefs", body: { uid: body.uid, name: body.name } };
  } else if (row.op === "dropUploadRefs") {
    const body = decodeJson(OPS.dropUploadRefs.request, row.body, what);
    notice = {
      op: "dropUploadRefs",
      body: { uid: body.uid, name: body.name, uploadId: body.uploadId },
    };
  } else {
    throw new StoreCorruptError(`${what} has unknown op '${row.op}'`);
  }
  return { index: row.idx, seq: row.seq, group: row.grp, notice };
}

type Params = Array<string | number | null>;

const VERSION_COLUMNS = [
  "uid, name, version, kind, bytes, sha256, created_at_ms,",
  "upload_id, request_id, deleted_version, chunks, pruned, attrs, marker",
].join(" ");

interface UserRow {
  uid: string;
  created_at_ms: number;
  verifier: string | null;
  admin: number;
  quota_bytes: number | null;
  quota_files: number | null;
  generation: number | null;
}

const USER_COLUMNS = "uid, created_at_ms, verifier, admin, quota_bytes, quota_files, generation";

function userFromRow(row: UserRow): UserRecord {
  const what = `user '${row.uid}'`;
  return {
    uid: row.uid,
    createdAtMs: row.created_at_ms,
    ...(row.verifier === null
      ? {}
      : { verifier: decodeJson(scramVerifierSchema, row.verifier, `${what} verifier`) }),
    ...(row.admin === 1 ? { admin: true } : {}),
    ...(row.quota_bytes === null ? {} : { quotaBytes: row.quota_bytes }),
    ...(row.quota_files === null ? {} : { quotaFiles: row.quota_files }),
    ...(row.generation === null ? {} : { generation: row.generation }),
  };
}

interface BucketRow {
  readonly uid: string;
  readonly bucket: string;
  readonly created_at_ms: number;
  readonly versioning: string | null;
}

const BUCKET_COLUMNS = "uid, bucket, created_at_ms, versioning";

function bucketFromRow(row: BucketRow): BucketRecord {
  const { versioning } = row;
  if (versioning !== null && versioning !== "enabled" && versioning !== "suspended") {
    throw new StoreCorruptError(`bucket '${row.bucket}' has unknown versioning '${versioning}'`);
  }
  return {
    uid: row.uid,
    bucket: row.bucket,
    createdAtMs: row.created_at_ms,
    ...(versioning === null ? {} : { versioning }),
  };
}

interface MultipartRow {
  readonly uid: string;
  readonly upload_id: string;
  readonly name: string;
  readonly initiated_at_ms: number;
  readonly attrs: string | null;
}

const MULTIPART_COLUMNS = "uid, upload_id, name, initiated_at_ms, attrs";

function multipartFromRow(row: MultipartRow): MultipartRecord {
  return {
    uid: row.uid,
    uploadId: row.upload_id,
    name: row.name,
    initiatedAtMs: row.initiated_at_ms,
    ...(row.attrs === null
      ? {}
      : { attrs: decodeJson(objectAttrsSchema, row.attrs, "multipart upload attributes") }),
  };
}

/**
 * Names are compared as SQLite's BINARY order of their UTF-8, which is code point order: the
 * names beginning with `prefix` are exactly those in [prefix, prefixEnd(prefix)).
 */
function prefixEnd(prefix: string): string {
  const points = [...prefix];
  const last = points.pop();
  if (last === undefined) return "\u{10FFFF}\u{10FFFF}";
  const next = (last.codePointAt(0) ?? 0) + 1;
  // U+10FFFF has no successor; the surrogates are no code points of UTF-8.
  if (next > 0x10ffff) return `${prefix}\u{10FFFF}`;
  return points.join("") + String.fromCodePoint(next === 0xd800 ? 0xe000 : next);
}

interface AccessKeyRow {
  readonly access_key_id: string;
  readonly uid: string;
  readonly sealed: string;
  readonly created_at_ms: number;
}

const ACCESS_KEY_COLUMNS = "access_key_id, uid, sealed, created_at_ms";

function accessKeyFromRow(row: AccessKeyRow): AccessKeyRecord {
  return {
    accessKeyId: row.access_key_id,
    uid: row.uid,
    sealed: decodeJson(sealedSecretSchema, row.sealed, `access key ${row.access_key_id}`),
    createdAtMs: row.created_at_ms,
  };
}

function userParams(
  user: UserRecord,
): [string, number, string | null, number, number | null, number | null, number | null] {
  return [
    user.uid,
    user.createdAtMs,
    user.verifier === undefined ? null : JSON.stringify(user.verifier),
    user.admin === true ? 1 : 0,
    user.quotaBytes ?? null,
    user.quotaFiles ?? null,
    user.generation ?? null,
  ];
}

const STATE_ROWS_MAX = 100_000_000;
const TEXT_BYTES_MAX = 64 * 1024 * 1024;
const anyInt = int({ min: 0, max: Number.MAX_SAFE_INTEGER });
const text = str({ bytesMax: TEXT_BYTES_MAX });
const rows = <T>(row: Schema<T>) => arr(row, { itemsMax: STATE_ROWS_MAX });

/** A snapshot's content: the state tables' rows as they are stored. */
const stateDumpSchema = obj({
  lastApplied: anyInt,
  users: rows(
    obj({
      uid: text,
      created_at_ms: anyInt,
      // Absent in snapshots of schema 2: a user without credentials, role or own quotas.
      verifier: opt(nullable(text)),
      admin: opt(int({ min: 0, max: 1 })),
      quota_bytes: opt(nullable(anyInt)),
      quota_files: opt(nullable(anyInt)),
      generation: opt(nullable(anyInt)),
    }),
  ),
  /** Absent in snapshots of schema 2: recomputed from the versions. */
  usage: opt(rows(obj({ uid: text, bytes: anyInt, files: anyInt }))),
  versions: rows(
    obj({
      uid: text,
      name: text,
      version: anyInt,
      kind: text,
      bytes: nullable(anyInt),
      sha256: nullable(text),
      created_at_ms: anyInt,
      upload_id: nullable(text),
      request_id: nullable(text),
      deleted_version: nullable(anyInt),
      chunks: nullable(text),
      /** Absent in snapshots before schema 4: nothing was pruned then. */
      pruned: opt(int({ min: 0, max: 1 })),
      /** Absent in snapshots before schema 6: no object had attributes then. */
      attrs: opt(nullable(text)),
      /** Absent in snapshots before schema 8: there were no delete markers then. */
      marker: opt(int({ min: 0, max: 1 })),
    }),
  ),
  groups: rows(obj({ grp: text, config: text })),
  outbox: rows(obj({ idx: anyInt, seq: anyInt, grp: text, op: text, body: text })),
  /** Absent in snapshots before schema 4: nothing was swept then. */
  swept: opt(rows(obj({ uid: text, upload_id: text, deadline_ms: anyInt }))),
  /** Absent in snapshots before schema 6: there were no buckets then. */
  buckets: opt(
    rows(
      obj({
        uid: text,
        bucket: text,
        created_at_ms: anyInt,
        /** Absent in snapshots before schema 8: no bucket was versioned then. */
        versioning: opt(nullable(text)),
      }),
    ),
  ),
  /** Absent in snapshots before schema 7: there were no multipart uploads then. */
  multiparts: opt(
    rows(
      obj({
        uid: text,
        upload_id: text,
        name: text,
        initiated_at_ms: anyInt,
        attrs: nullable(text),
      }),
    ),
  ),
  /** Absent in snapshots before schema 5: there were no access keys then. */
  accessKeys: opt(
    rows(obj({ access_key_id: text, uid: text, sealed: text, created_at_ms: anyInt })),
  ),
});
type StateDump = Infer<typeof stateDumpSchema>;

function prepareStatements(db: Database) {
  const versionColumns = VERSION_COLUMNS;
  return {
    getMeta: db.prepare<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare<null, [string, string]>(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    getUser: db.prepare<UserRow, [string]>(`SELECT ${USER_COLUMNS} FROM users WHERE uid = ?`),
    listUsers: db.prepare<UserRow, [number]>(
      `SELECT ${USER_COLUMNS} FROM users ORDER BY uid LIMIT ?`,
    ),
    putUser: db.prepare<null, ReturnType<typeof userParams>>(
      `INSERT INTO users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    replaceUser: db.prepare<null, ReturnType<typeof userParams>>(
      `UPDATE users SET created_at_ms = ?2, verifier = ?3, admin = ?4, quota_bytes = ?5,
         quota_files = ?6, generation = ?7 WHERE uid = ?1`,
    ),
    removeUser: db.prepare<null, [string]>("DELETE FROM users WHERE uid = ?"),
    getUsage: db.prepare<{ bytes: number; files: number }, [string]>(
      "SELECT bytes, files FROM usage WHERE uid = ?",
    ),
    setUsage: db.prepare<null, [string, number, number]>(
      `INSERT INTO usage (uid, bytes, files) VALUES (?, ?, ?)
       ON CONFLICT (uid) DO UPDATE SET bytes = excluded.bytes, files = excluded.files`,
    ),
    latestVersion: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ?
       ORDER BY version DESC LIMIT 1`,
    ),
    getVersion: db.prepare<VersionRow, [string, string, number]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ? AND version = ?`,
    ),
    currentVersion: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ? AND pruned = 0
       ORDER BY version DESC LIMIT 1`,
    ),
    deletedThrough: db.prepare<{ version: number }, [string, string]>(
      `SELECT version FROM versions
       WHERE uid = ? AND name = ? AND kind = 'tombstone' AND marker = 0
       ORDER BY version DESC LIMIT 1`,
    ),
    // Kept live versions and standing markers of names in [from, to) with the prefix, after
    // (name, version) in (name ascending, version descending) order.
    listObjectVersions: db.prepare<VersionRow, [string, string, string, string, number, number]>(
      `SELECT ${versionColumns} FROM versions AS v
       WHERE v.uid = ?1 AND v.name >= ?2 AND v.name < ?3
         AND substr(v.name, 1, length(?2)) = ?2
         AND (v.name > ?4 OR (v.name = ?4 AND v.version < ?5))
         AND v.pruned = 0 AND (v.kind = 'live' OR v.marker = 1)
         AND v.version > ${deletedThroughSql("v")}
       ORDER BY v.name, v.version DESC LIMIT ?6`,
    ),
    listVersions: db.prepare<VersionRow, [string, string, number]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ? AND version >= ?
       ORDER BY version`,
    ),
    listLiveFiles: db.prepare<VersionRow, [string, number]>(
      `SELECT ${versionColumns} FROM versions AS v
       WHERE v.uid = ?1 AND v.kind = 'live' AND v.version = ${currentVersionSql("v")}
       ORDER BY v.name LIMIT ?2`,
    ),
    // The current version of each name in [from, to) that begins with the prefix, live only.
    listLiveFilesFrom: db.prepare<VersionRow, [string, string, string, string, number]>(
      `SELECT ${versionColumns} FROM versions AS v
       WHERE v.uid = ?1 AND v.name >= ?2 AND v.name < ?3 AND v.name > ?4
         AND substr(v.name, 1, length(?2)) = ?2
         AND v.kind = 'live' AND v.version = ${currentVersionSql("v")}
       ORDER BY v.name LIMIT ?5`,
    ),
    getBucket: db.prepare<BucketRow, [string, string]>(
      `SELECT ${BUCKET_COLUMNS} FROM buckets WHERE uid = ? AND bucket = ?`,
    ),
    listBuckets: db.prepare<BucketRow, [string]>(
      `SELECT ${BUCKET_COLUMNS} FROM buckets WHERE uid = ? ORDER BY bucket`,
    ),
    putBucket: db.prepare<null, [string, string, number, string | null]>(
      `INSERT INTO buckets (${BUCKET_COLUMNS}) VALUES (?, ?, ?, ?)`,
    ),
    setBucketVersioning: db.prepare<null, [string, string, string]>(
      "UPDATE buckets SET versioning = ?3 WHERE uid = ?1 AND bucket = ?2",
    ),
    removeBucket: db.prepare<null, [string, string]>(
      "DELETE FROM buckets WHERE uid = ? AND bucket = ?",
    ),
    getMultipart: db.prepare<MultipartRow, [string, string]>(
      `SELECT ${MULTIPART_COLUMNS} FROM multipart_uploads WHERE uid = ? AND upload_id = ?`,
    ),
    listMultiparts: db.prepare<MultipartRow, [string, string, string, string, string, number]>(
      `SELECT ${MULTIPART_COLUMNS} FROM multipart_uploads
       WHERE uid = ?1 AND name >= ?2 AND name < ?3 AND substr(name, 1, length(?2)) = ?2
         AND (name > ?4 OR (name = ?4 AND upload_id > ?5))
       ORDER BY name, upload_id LIMIT ?6`,
    ),
    multipartsInitiatedBefore: db.prepare<MultipartRow, [number, number, string, string, number]>(
      `SELECT ${MULTIPART_COLUMNS} FROM multipart_uploads
       WHERE initiated_at_ms <= ?1 AND (initiated_at_ms, uid, upload_id) > (?2, ?3, ?4)
       ORDER BY initiated_at_ms, uid, upload_id LIMIT ?5`,
    ),
    countMultiparts: db.prepare<{ count: number }, [string]>(
      "SELECT COUNT(*) AS count FROM multipart_uploads WHERE uid = ?",
    ),
    putMultipart: db.prepare<null, [string, string, string, number, string | null]>(
      `INSERT INTO multipart_uploads (${MULTIPART_COLUMNS}) VALUES (?, ?, ?, ?, ?)`,
    ),
    removeMultipart: db.prepare<null, [string, string]>(
      "DELETE FROM multipart_uploads WHERE uid = ? AND upload_id = ?",
    ),
    findUpload: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND upload_id = ?`,
    ),
    findRequest: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND request_id = ?`,
    ),
    putVersion: db.prepare<null, Params>(
      `INSERT INTO versions (${versionColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    scanFromStart: db.prepare<VersionRow, [number]>(
      `SELECT ${versionColumns} FROM versions ORDER BY uid, name, version LIMIT ?`,
    ),
    scanAfter: db.prepare<VersionRow, [string, string, number, number]>(
      `SELECT ${versionColumns} FROM versions WHERE (uid, name, version) > (?1, ?2, ?3)
       ORDER BY uid, name, version LIMIT ?4`,
    ),
    forgetVersion: db.prepare<null, [string, string, number]>(
      "DELETE FROM versions WHERE uid = ? AND name = ? AND version = ? AND kind = 'live'",
    ),
    forgetName: db.prepare<null, [string, string]>(
      "DELETE FROM versions WHERE uid = ? AND name = ?",
    ),
    keptVersionsOfName: db.prepare<{ kept: number }, [string, string]>(
      "SELECT COUNT(*) AS kept FROM kept_chunks WHERE uid = ? AND name = ?",
    ),
    pruneVersion: db.prepare<null, [string, string, number]>(
      `UPDATE versions SET pruned = 1 WHERE uid = ? AND name = ? AND version = ?
       AND (kind = 'live' OR marker = 1)`,
    ),
    replaceChunks: db.prepare<null, [string, string, number, string]>(
      `UPDATE versions SET chunks = ?4
       WHERE uid = ?1 AND name = ?2 AND version = ?3 AND kind = 'live'`,
    ),
    getGroup: db.prepare<{ config: string }, [string]>("SELECT config FROM groups WHERE grp = ?"),
    listGroups: db.prepare<{ config: string }, []>("SELECT config FROM groups ORDER BY grp"),
    putGroup: db.prepare<null, [string, string]>(
      `INSERT INTO groups (grp, config) VALUES (?, ?)
       ON CONFLICT (grp) DO UPDATE SET config = excluded.config`,
    ),
    enqueueNotice: db.prepare<null, [number, number, string, string, string]>(
      "INSERT INTO outbox (idx, seq, grp, op, body) VALUES (?, ?, ?, ?, ?)",
    ),
    noticeGroups: db.prepare<{ grp: string }, [number]>(
      "SELECT DISTINCT grp FROM outbox ORDER BY grp LIMIT ?",
    ),
    pendingNotices: db.prepare<NoticeRow, [string, number]>(
      "SELECT idx, seq, grp, op, body FROM outbox WHERE grp = ? ORDER BY idx, seq LIMIT ?",
    ),
    uploadSwept: db.prepare<{ one: number }, [string, string]>(
      "SELECT 1 AS one FROM swept_uploads WHERE uid = ? AND upload_id = ?",
    ),
    sweepUpload: db.prepare<null, [string, string, number]>(
      "INSERT INTO swept_uploads (uid, upload_id, deadline_ms) VALUES (?, ?, ?)",
    ),
    forgetSwept: db.prepare<null, [number, number]>(
      `DELETE FROM swept_uploads WHERE (uid, upload_id) IN (
         SELECT uid, upload_id FROM swept_uploads WHERE deadline_ms < ?1
         ORDER BY deadline_ms, upload_id LIMIT ?2)`,
    ),
    getAccessKey: db.prepare<AccessKeyRow, [string]>(
      `SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?`,
    ),
    listAccessKeys: db.prepare<AccessKeyRow, [string]>(
      `SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE uid = ?
       ORDER BY created_at_ms, access_key_id`,
    ),
    scanAccessKeys: db.prepare<AccessKeyRow, [string, number]>(
      `SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id > ?
       ORDER BY access_key_id LIMIT ?`,
    ),
    putAccessKey: db.prepare<null, [string, string, string, number]>(
      "INSERT INTO access_keys (access_key_id, uid, sealed, created_at_ms) VALUES (?, ?, ?, ?)",
    ),
    resealAccessKey: db.prepare<null, [string, string]>(
      "UPDATE access_keys SET sealed = ? WHERE access_key_id = ?",
    ),
    removeAccessKey: db.prepare<null, [string]>("DELETE FROM access_keys WHERE access_key_id = ?"),
    chunkKept: db.prepare<{ one: number }, [string, string]>(
      "SELECT 1 AS one FROM kept_chunks WHERE grp = ? AND chunk_id = ? LIMIT 1",
    ),
    keepChunk: db.prepare<null, [string, string, string, string, number]>(
      `INSERT OR IGNORE INTO kept_chunks (grp, chunk_id, uid, name, version)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    releaseChunks: db.prepare<null, [string, string, number]>(
      "DELETE FROM kept_chunks WHERE uid = ? AND name = ? AND version = ?",
    ),
    ackNotices: db.prepare<null, [string, number, number, number]>(
      `DELETE FROM outbox WHERE grp = ?1 AND (idx < ?2 OR (idx = ?3 AND seq <= ?4))`,
    ),
  };
}

const META_SCHEMA_VERSION = "schemaVersion";

/** The schema version a file records, or null for a new file (no meta table yet). */
function storedSchemaVersion(db: Database): string | null {
  const table = db
    .prepare<{ name: string }, []>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
    )
    .get();
  if (table === null) return null;
  const row = db
    .prepare<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?")
    .get(META_SCHEMA_VERSION);
  return row?.value ?? null;
}
const META_LAST_APPLIED = "lastApplied";
/** Meta rows that belong to the state machine (a snapshot carries them); the rest are the node's. */
const STATE_META_KEYS: ReadonlySet<string> = new Set([META_SCHEMA_VERSION, META_LAST_APPLIED]);

/** WAL with synchronous=FULL: the WAL is synced at every commit, so an ack survives power loss. */
function setDurability(db: Database): void {
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
}

/**
 * The statements that bring a file of schema `found` to SCHEMA_VERSION (none for a new file
 * or a current one); null when no chain of migrations leads there.
 */
function migrationsFrom(found: string | null): string[] | null {
  if (found === null || found === String(SCHEMA_VERSION)) return [];
  if (!/^\d+$/.test(found) || Number(found) > SCHEMA_VERSION) return null;
  const statements: string[] = [];
  for (let version = Number(found); version < SCHEMA_VERSION; version += 1) {
    const step = MIGRATIONS[version];
    if (step === undefined) return null;
    statements.push(...step);
  }
  return [...statements, ...RECOMPUTE_DERIVED_SQL];
}

/** Something holding statements on the store's connection, which a swap replaces. */
export interface ConnectionUser {
  detach(): void;
  reattach(db: Database): void;
}

export class SqliteMetadataStore implements MetadataStore, MetadataTx {
  readonly path: string;
  /** Replaced, with the statements, when a snapshot image is swapped in (swapDatabase). */
  private db: Database;
  private sql: ReturnType<typeof prepareStatements>;
  /** Others' statements on this connection (the Raft log's), remade after a swap. */
  private readonly users: ConnectionUser[] = [];
  private applied: number;
  private inTransaction = false;

  private constructor(path: string, db: Database) {
    this.path = path;
    this.db = db;
    this.sql = prepareStatements(db);
    this.applied = Number(this.sql.getMeta.get(META_LAST_APPLIED)?.value ?? "0");
  }

  /** Open (or create) the database file; refuses a file of another schema version. */
  static open(path: string): SqliteMetadataStore {
    const db = new Database(path, { create: true, readwrite: true, strict: true });
    try {
      // Look before touching: a file of another schema is refused exactly as it was found.
      const found = storedSchemaVersion(db);
      const migrations = migrationsFrom(found);
      if (migrations === null) {
        throw new StoreCorruptError(
          `${path} has schema version ${found}; this build reads ${SCHEMA_VERSION}`,
        );
      }
      setDurability(db);
      db.transaction(() => {
        for (const statement of migrations) db.run(statement);
        if (migrations.length > 0) {
          db.prepare("UPDATE meta SET value = ? WHERE key = ?").run(
            String(SCHEMA_VERSION),
            META_SCHEMA_VERSION,
          );
        }
        for (const statement of SCHEMA_SQL) db.run(statement);
        if (found === null) {
          db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(
            META_SCHEMA_VERSION,
            String(SCHEMA_VERSION),
          );
        }
      })();
      return new SqliteMetadataStore(path, db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  getUser(uid: string): UserRecord | undefined {
    const row = this.sql.getUser.get(uid);
    return row === null ? undefined : userFromRow(row);
  }

  listUsers(countMax: number): readonly UserRecord[] {
    return this.sql.listUsers.all(countMax).map(userFromRow);
  }

  getUsage(uid: string): UserUsage {
    return this.sql.getUsage.get(uid) ?? NO_USAGE;
  }

  latestVersion(uid: string, name: string): VersionRecord | undefined {
    return this.version(this.sql.latestVersion.get(uid, name));
  }

  getVersion(uid: string, name: string, version: number): VersionRecord | undefined {
    return this.version(this.sql.getVersion.get(uid, name, version));
  }

  currentVersion(uid: string, name: string): VersionRecord | undefined {
    return this.version(this.sql.currentVersion.get(uid, name));
  }

  deletedThrough(uid: string, name: string): number {
    return this.sql.deletedThrough.get(uid, name)?.version ?? 0;
  }

  listObjectVersions(
    uid: string,
    prefix: string,
    after: ObjectVersionPosition | null,
    countMax: number,
  ): readonly VersionRecord[] {
    // "" is below every name and MAX_SAFE_INTEGER above every version: from the first.
    const rows = this.sql.listObjectVersions.all(
      uid,
      prefix,
      prefixEnd(prefix),
      after?.name ?? "",
      after?.version ?? Number.MAX_SAFE_INTEGER,
      countMax,
    );
    return rows.map(versionFromRow);
  }

  listVersions(uid: string, name: string, fromVersion: number): readonly VersionRecord[] {
    return this.sql.listVersions.all(uid, name, fromVersion).map(versionFromRow);
  }

  listLiveFiles(uid: string, countMax: number): readonly LiveVersion[] {
    return this.sql.listLiveFiles.all(uid, countMax).map(versionFromRow).filter(isLive);
  }

  listLiveFilesFrom(
    uid: string,
    prefix: string,
    after: string | null,
    countMax: number,
  ): readonly LiveVersion[] {
    // Bounded by the prefix's range, so a scan never walks the user's other names; names are
    // never empty, so "" is below every one of them.
    const rows = this.sql.listLiveFilesFrom.all(
      uid,
      prefix,
      prefixEnd(prefix),
      after ?? "",
      countMax,
    );
    return rows.map(versionFromRow).filter(isLive);
  }

  getMultipart(uid: string, uploadId: string): MultipartRecord | undefined {
    const row = this.sql.getMultipart.get(uid, uploadId);
    return row === null ? undefined : multipartFromRow(row);
  }

  listMultiparts(
    uid: string,
    prefix: string,
    after: MultipartPosition | null,
    countMax: number,
  ): readonly MultipartRecord[] {
    const rows = this.sql.listMultiparts.all(
      uid,
      prefix,
      prefixEnd(prefix),
      after?.name ?? "",
      after?.uploadId ?? "",
      countMax,
    );
    return rows.map(multipartFromRow);
  }

  multipartsInitiatedBefore(
    beforeMs: number,
    after: MultipartRecord | null,
    countMax: number,
  ): readonly MultipartRecord[] {
    // From the oldest: before every time (-1), every uid and id ("").
    const rows = this.sql.multipartsInitiatedBefore.all(
      beforeMs,
      after?.initiatedAtMs ?? -1,
      after?.uid ?? "",
      after?.uploadId ?? "",
      countMax,
    );
    return rows.map(multipartFromRow);
  }

  countMultiparts(uid: string): number {
    return this.sql.countMultiparts.get(uid)?.count ?? 0;
  }

  putMultipart(record: MultipartRecord): void {
    this.assertWriting();
    this.sql.putMultipart.run(
      record.uid,
      record.uploadId,
      record.name,
      record.initiatedAtMs,
      record.attrs === undefined ? null : JSON.stringify(record.attrs),
    );
  }

  removeMultipart(uid: string, uploadId: string): void {
    this.assertWriting();
    const changed = this.sql.removeMultipart.run(uid, uploadId).changes;
    assert(changed === 1, `no multipart upload ${uploadId} to remove`);
  }

  getBucket(uid: string, bucket: string): BucketRecord | undefined {
    const row = this.sql.getBucket.get(uid, bucket);
    return row === null ? undefined : bucketFromRow(row);
  }

  listBuckets(uid: string): readonly BucketRecord[] {
    return this.sql.listBuckets.all(uid).map(bucketFromRow);
  }

  putBucket(record: BucketRecord): void {
    this.assertWriting();
    this.sql.putBucket.run(
      record.uid,
      record.bucket,
      record.createdAtMs,
      record.versioning ?? null,
    );
  }

  setBucketVersioning(uid: string, bucket: string, versioning: BucketVersioning): void {
    this.assertWriting();
    const changed = this.sql.setBucketVersioning.run(uid, bucket, versioning).changes;
    assert(changed === 1, `no bucket ${bucket} to change`);
  }

  removeBucket(uid: string, bucket: string): void {
    this.assertWriting();
    const changed = this.sql.removeBucket.run(uid, bucket).changes;
    assert(changed === 1, `no bucket ${bucket} to remove`);
  }

  findUpload(uid: string, uploadId: string): LiveVersion | undefined {
    const record = this.version(this.sql.findUpload.get(uid, uploadId));
    return record?.kind === "live" ? record : undefined;
  }

  findDeleteRequest(uid: string, requestId: string): Tombstone | undefined {
    const record = this.version(this.sql.findRequest.get(uid, requestId));
    return record?.kind === "tombstone" ? record : undefined;
  }

  scanVersions(after: VersionKey | null, countMax: number): readonly VersionRecord[] {
    const rows =
      after === null
        ? this.sql.scanFromStart.all(countMax)
        : this.sql.scanAfter.all(after.uid, after.name, after.version, countMax);
    return rows.map(versionFromRow);
  }

  getGroup(group: string): GroupConfig | undefined {
    const row = this.sql.getGroup.get(group);
    return row === null ? undefined : decodeJson(groupViewSchema, row.config, `group ${group}`);
  }

  listGroups(): readonly GroupConfig[] {
    return this.sql.listGroups
      .all()
      .map((row) => decodeJson(groupViewSchema, row.config, "a group"));
  }

  lastApplied(): number {
    return this.applied;
  }

  applyEntry<T>(index: number, apply: (tx: MetadataTx) => T): T {
    assert(index === this.applied + 1, `log index ${index} after ${this.applied}`);
    assert(!this.inTransaction, "applyEntry is not reentrant");
    // Inside the driver's batch transaction this is a savepoint: its rollback undoes only it.
    const run = this.db.transaction(() => {
      const result = apply(this);
      this.sql.setMeta.run(META_LAST_APPLIED, String(index));
      return result;
    });
    this.inTransaction = true;
    try {
      const result = run();
      this.applied = index;
      return result;
    } finally {
      this.inTransaction = false;
    }
  }

  /**
   * Runs `work` in one transaction (one fsync at its commit). If it throws, nothing it wrote
   * stays, and lastApplied is read back so the in-memory mark matches the file.
   */
  transaction<T>(work: () => T): T {
    try {
      return this.db.transaction(work)();
    } catch (error) {
      this.applied = Number(this.sql.getMeta.get(META_LAST_APPLIED)?.value ?? "0");
      throw error;
    }
  }

  /** The open database, for the Raft log kept in the same file (raft-log.ts). */
  get database(): Database {
    return this.db;
  }

  /** A small named value outside the state machine (members, Raft's hard state). */
  readMeta(key: string): string | undefined {
    return this.sql.getMeta.get(key)?.value;
  }

  writeMeta(key: string, value: string): void {
    this.sql.setMeta.run(key, value);
  }

  /** The whole applied state as one gzipped JSON document: a Raft snapshot's data. */
  exportState(): Uint8Array {
    return exportStateOf(this.db).data;
  }

  /**
   * Replaces the applied state with a snapshot's (exportState's output) as of `index`. Run it
   * inside transaction(): a damaged snapshot throws StoreCorruptError and changes nothing.
   */
  importState(data: Uint8Array, index: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(data))));
    } catch (error) {
      throw new StoreCorruptError("snapshot is not gzipped JSON", { cause: error });
    }
    const decoded = tryDecode(stateDumpSchema, parsed);
    if (!decoded.ok) throw new StoreCorruptError(`snapshot: ${decoded.message}`);
    const dump = decoded.value;
    if (dump.lastApplied !== index) {
      throw new StoreCorruptError(`snapshot holds index ${dump.lastApplied}, expected ${index}`);
    }
    assert(this.db.inTransaction, "importState runs inside transaction()");
    try {
      this.replaceState(dump);
    } catch (error) {
      // A row the tables refuse (a repeated key, an unknown kind) is a damaged snapshot too.
      throw new StoreCorruptError("snapshot rows do not fit the tables", { cause: error });
    }
    this.sql.setMeta.run(META_LAST_APPLIED, String(index));
    this.applied = index;
  }

  private replaceState(dump: StateDump): void {
    const tables = [
      "users",
      "usage",
      "versions",
      "groups",
      "outbox",
      "kept_chunks",
      "swept_uploads",
      "access_keys",
      "buckets",
      "multipart_uploads",
    ];
    for (const table of tables) {
      this.db.run(`DELETE FROM ${table}`);
    }
    for (const user of dump.users) {
      this.sql.putUser.run(
        user.uid,
        user.created_at_ms,
        user.verifier ?? null,
        user.admin ?? 0,
        user.quota_bytes ?? null,
        user.quota_files ?? null,
        user.generation ?? null,
      );
    }
    for (const row of dump.versions) {
      this.sql.putVersion.run(
        row.uid,
        row.name,
        row.version,
        row.kind,
        row.bytes,
        row.sha256,
        row.created_at_ms,
        row.upload_id,
        row.request_id,
        row.deleted_version,
        row.chunks,
        row.pruned ?? 0,
        row.attrs ?? null,
        row.marker ?? 0,
      );
    }
    for (const row of dump.groups) this.sql.putGroup.run(row.grp, row.config);
    for (const row of dump.outbox)
      this.sql.enqueueNotice.run(row.idx, row.seq, row.grp, row.op, row.body);
    for (const row of dump.swept ?? [])
      this.sql.sweepUpload.run(row.uid, row.upload_id, row.deadline_ms);
    for (const row of dump.buckets ?? [])
      this.sql.putBucket.run(row.uid, row.bucket, row.created_at_ms, row.versioning ?? null);
    for (const row of dump.multiparts ?? []) {
      this.sql.putMultipart.run(row.uid, row.upload_id, row.name, row.initiated_at_ms, row.attrs);
    }
    for (const row of dump.accessKeys ?? []) {
      this.sql.putAccessKey.run(row.access_key_id, row.uid, row.sealed, row.created_at_ms);
    }
    // Derived state is computed here, not trusted from the snapshot: a snapshot from an older
    // build counted usage differently (newest version only) and had no chunk index.
    for (const statement of RECOMPUTE_DERIVED_SQL) this.db.run(statement);
  }

  noticeGroups(countMax: number): readonly string[] {
    return this.sql.noticeGroups.all(countMax).map((row) => row.grp);
  }

  pendingNotices(group: string, countMax: number): readonly OutboxNotice[] {
    return this.sql.pendingNotices.all(group, countMax).map(noticeFromRow);
  }

  ackNotices(group: string, throughIndex: number, throughSeq: number): number {
    this.assertWriting();
    return this.sql.ackNotices.run(group, throughIndex, throughIndex, throughSeq).changes;
  }

  close(): void {
    for (const statement of Object.values(this.sql)) statement.finalize();
    this.db.close();
  }

  /** `user` drops its statements before a swap closes the connection and remakes them after. */
  attach(user: ConnectionUser): void {
    this.users.push(user);
  }

  /**
   * Replaces the whole database with a received snapshot image (`readyPath`, checked and
   * emptied of the sender's Raft state by snapshot-worker.ts), as one atomic rename: a crash
   * leaves the old file or the new one, never a mix. `finish` runs in the new file's one
   * transaction before the swap and writes this node's Raft state there (term, vote, the
   * snapshot); the node's own settings (meta rows outside the state machine) are carried over.
   *
   * Why a swap and not a copy into the open file: a copy is one write transaction as large as
   * the state, holding the write lock (stalling every Raft write) and growing the WAL by the
   * whole state. The swap is quick: the old connection is checkpointed and closed first (no
   * other connection may be open: a WAL file left beside the path would be replayed into the
   * new file), and the new one opened after. Statements prepared on the old connection are
   * remade; the caller must not hold its own.
   */
  swapDatabase(readyPath: string, finish: (db: Database) => void): void {
    assert(!this.db.inTransaction && !this.inTransaction, "no swap inside a transaction");
    const allMeta = this.db.prepare<{ key: string; value: string }, []>(
      "SELECT key, value FROM meta",
    );
    const carried = allMeta.all().filter((row) => !STATE_META_KEYS.has(row.key));
    allMeta.finalize();
    const incoming = new Database(readyPath, { readwrite: true, strict: true });
    try {
      incoming.run("PRAGMA synchronous = FULL");
      incoming.transaction(() => {
        const keep = [...STATE_META_KEYS].map(() => "?").join(", ");
        incoming.prepare(`DELETE FROM meta WHERE key NOT IN (${keep})`).run(...STATE_META_KEYS);
        const put = incoming.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
        for (const row of carried) put.run(row.key, row.value);
        finish(incoming);
      })();
    } finally {
      incoming.close();
    }
    fsyncPath(readyPath);
    this.closeCheckpointed();
    renameSync(readyPath, this.path);
    fsyncPath(dirname(this.path));
    this.db = new Database(this.path, { readwrite: true, strict: true });
    setDurability(this.db);
    this.sql = prepareStatements(this.db);
    this.applied = Number(this.sql.getMeta.get(META_LAST_APPLIED)?.value ?? "0");
    for (const user of this.users) user.reattach(this.db);
  }

  /** Closes the connection with its WAL folded into the file and gone (swapDatabase). */
  private closeCheckpointed(): void {
    const checkpoint = this.db.prepare<{ busy: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)");
    const result = checkpoint.get();
    checkpoint.finalize();
    if (result !== null && result.busy !== 0) {
      throw new StoreCorruptError("another connection holds the database; cannot swap it");
    }
    for (const user of this.users) user.detach();
    for (const statement of Object.values(this.sql)) statement.finalize();
    this.db.close();
    for (const suffix of ["-wal", "-shm"]) {
      const side = `${this.path}${suffix}`;
      if (existsSync(side) && statSync(side).size > 0 && suffix === "-wal") {
        throw new StoreCorruptError(`${side} still holds changes; cannot swap the database`);
      }
      rmSync(side, { force: true });
    }
  }

  putUser(user: UserRecord): void {
    this.assertWriting();
    this.sql.putUser.run(...userParams(user));
  }

  replaceUser(user: UserRecord): void {
    this.assertWriting();
    const changed = this.sql.replaceUser.run(...userParams(user)).changes;
    assert(changed === 1, `no user ${user.uid} to replace`);
  }

  removeUser(uid: string): void {
    this.assertWriting();
    const changed = this.sql.removeUser.run(uid).changes;
    assert(changed === 1, `no user ${uid} to remove`);
  }

  setUsage(uid: string, usage: UserUsage): void {
    this.assertWriting();
    this.sql.setUsage.run(uid, usage.bytes, usage.files);
  }

  putVersion(record: VersionRecord): void {
    this.assertWriting();
    const newest = this.latestVersion(record.uid, record.name)?.version ?? 0;
    assert(record.version > newest, `version ${record.version} of ${record.name} after ${newest}`);
    const { uid, name, version, createdAtMs } = record;
    if (record.kind === "live") {
      const { bytes, sha256, uploadId, chunks } = record;
      this.sql.putVersion.run(
        uid,
        name,
        version,
        "live",
        bytes,
        sha256,
        createdAtMs,
        uploadId,
        null,
        null,
        JSON.stringify(chunks),
        record.pruned === true ? 1 : 0,
        record.attrs === undefined ? null : JSON.stringify(record.attrs),
        0,
      );
    } else {
      const { requestId, deletedVersion } = record;
      this.sql.putVersion.run(
        uid,
        name,
        version,
        "tombstone",
        null,
        null,
        createdAtMs,
        null,
        requestId,
        deletedVersion,
        null,
        record.pruned === true ? 1 : 0,
        null,
        record.marker === true ? 1 : 0,
      );
    }
  }

  forgetVersion(uid: string, name: string, version: number): void {
    this.assertWriting();
    const newest = this.latestVersion(uid, name)?.version ?? 0;
    assert(version < newest, `version ${version} of ${name} is its newest record`);
    const changed = this.sql.forgetVersion.run(uid, name, version).changes;
    assert(changed === 1, `no live version ${version} of ${name} to forget`);
  }

  forgetName(uid: string, name: string): void {
    this.assertWriting();
    assert(this.sql.keptVersionsOfName.get(uid, name)?.kept === 0, `${name} is still kept`);
    const changed = this.sql.forgetName.run(uid, name).changes;
    assert(changed > 0, `no records of ${name} to forget`);
  }

  pruneVersion(uid: string, name: string, version: number): void {
    this.assertWriting();
    const changed = this.sql.pruneVersion.run(uid, name, version).changes;
    assert(changed === 1, `no live version or delete marker ${version} of ${name} to prune`);
  }

  replaceChunks(uid: string, name: string, version: number, chunks: readonly ChunkRef[]): void {
    this.assertWriting();
    const changed = this.sql.replaceChunks.run(uid, name, version, JSON.stringify(chunks)).changes;
    assert(changed === 1, `no live version ${version} of ${name} to replace`);
  }

  putGroup(config: GroupConfig): void {
    this.assertWriting();
    this.sql.putGroup.run(config.group, JSON.stringify(config));
  }

  enqueueNotice(notice: OutboxNotice): void {
    this.assertWriting();
    this.sql.enqueueNotice.run(
      notice.index,
      notice.seq,
      notice.group,
      notice.notice.op,
      JSON.stringify(notice.notice.body),
    );
  }

  uploadSwept(uid: string, uploadId: string): boolean {
    return this.sql.uploadSwept.get(uid, uploadId) !== null;
  }

  chunkKept(group: string, chunkId: string): boolean {
    return this.sql.chunkKept.get(group, chunkId) !== null;
  }

  sweepUpload(uid: string, uploadId: string, deadlineMs: number): void {
    this.assertWriting();
    this.sql.sweepUpload.run(uid, uploadId, deadlineMs);
  }

  forgetSweptBefore(beforeMs: number, countMax: number): number {
    this.assertWriting();
    return this.sql.forgetSwept.run(beforeMs, countMax).changes;
  }

  getAccessKey(accessKeyId: string): AccessKeyRecord | undefined {
    const row = this.sql.getAccessKey.get(accessKeyId);
    return row === null ? undefined : accessKeyFromRow(row);
  }

  listAccessKeys(uid: string): readonly AccessKeyRecord[] {
    return this.sql.listAccessKeys.all(uid).map(accessKeyFromRow);
  }

  scanAccessKeys(afterId: string | null, countMax: number): readonly AccessKeyRecord[] {
    return this.sql.scanAccessKeys.all(afterId ?? "", countMax).map(accessKeyFromRow);
  }

  putAccessKey(record: AccessKeyRecord): void {
    this.assertWriting();
    this.sql.putAccessKey.run(
      record.accessKeyId,
      record.uid,
      JSON.stringify(record.sealed),
      record.createdAtMs,
    );
  }

  resealAccessKey(accessKeyId: string, sealed: SealedSecret): void {
    this.assertWriting();
    const changed = this.sql.resealAccessKey.run(JSON.stringify(sealed), accessKeyId).changes;
    assert(changed === 1, `no access key ${accessKeyId} to reseal`);
  }

  removeAccessKey(accessKeyId: string): void {
    this.assertWriting();
    const changed = this.sql.removeAccessKey.run(accessKeyId).changes;
    assert(changed === 1, `no access key ${accessKeyId} to remove`);
  }

  keepChunks(uid: string, name: string, version: number, chunks: readonly ChunkRef[]): void {
    this.assertWriting();
    for (const chunk of chunks) this.sql.keepChunk.run(chunk.group, chunk.id, uid, name, version);
  }

  releaseChunks(uid: string, name: string, version: number): void {
    this.assertWriting();
    this.sql.releaseChunks.run(uid, name, version);
  }

  private version(row: VersionRow | null): VersionRecord | undefined {
    return row === null ? undefined : versionFromRow(row);
  }

  private assertWriting(): void {
    assert(this.inTransaction, "metadata write outside applyEntry");
  }
}

/**
 * The applied state of an open database as one gzipped JSON document, and the index it is
 * at. Run inside one read transaction (or on a connection nobody writes through), so the rows
 * and lastApplied agree: snapshot-worker.ts does it beside a busy writer.
 */
export function exportStateOf(db: Database): { readonly index: number; readonly data: Uint8Array } {
  const applied = db
    .query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?")
    .get(META_LAST_APPLIED);
  const index = Number(applied?.value ?? "0");
  const dump: StateDump = {
    lastApplied: index,
    users: db.query<UserRow, []>(`SELECT ${USER_COLUMNS} FROM users`).all(),
    usage: db
      .query<{ uid: string; bytes: number; files: number }, []>(
        "SELECT uid, bytes, files FROM usage",
      )
      .all(),
    versions: db.query<VersionRow, []>(`SELECT ${VERSION_COLUMNS} FROM versions`).all(),
    groups: db.query<{ grp: string; config: string }, []>("SELECT grp, config FROM groups").all(),
    outbox: db.query<NoticeRow, []>("SELECT idx, seq, grp, op, body FROM outbox").all(),
    swept: db
      .query<{ uid: string; upload_id: string; deadline_ms: number }, []>(
        "SELECT uid, upload_id, deadline_ms FROM swept_uploads",
      )
      .all(),
    accessKeys: db.query<AccessKeyRow, []>(`SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys`).all(),
    buckets: db.query<BucketRow, []>(`SELECT ${BUCKET_COLUMNS} FROM buckets`).all(),
    multiparts: db
      .query<MultipartRow, []>(`SELECT ${MULTIPART_COLUMNS} FROM multipart_uploads`)
      .all(),
  };
  return { index, data: Bun.gzipSync(new TextEncoder().encode(JSON.stringify(dump))) };
}

function isLive(record: VersionRecord): record is LiveVersion {
  return record.kind === "live";
}
