/**
 * MetadataStore on bun:sqlite: the directory node's durable state. WAL with synchronous=FULL,
 * so a change is on disk before appendAndApply returns, and the log entry, its effects, its
 * outbox notices and lastApplied commit in ONE transaction: a crash leaves all or none.
 * Rows read back are decoded with schemas; a row that does not decode means a damaged file
 * and throws StoreCorruptError (an I/O failure, not a peer's fault).
 */

import { Database } from "bun:sqlite";
import {
  arr,
  assert,
  chunkRefSchema,
  groupViewSchema,
  MANIFEST_CHUNKS_MAX,
  OPS,
  tryDecode,
  type Schema,
} from "@ftfs/protocol/core";
import {
  decodeCommand,
  encodeCommand,
  type GroupConfig,
  type HardState,
  type LiveVersion,
  type LogEntry,
  type MetadataStore,
  type MetadataTx,
  type Notice,
  type OutboxNotice,
  type Tombstone,
  type UserRecord,
  type VersionRecord,
} from "../core/index.ts";
import { SCHEMA_SQL, SCHEMA_VERSION } from "./sqlite-schema.ts";

export class StoreCorruptError extends Error {
  override readonly name = "StoreCorruptError";
  readonly code = "STORE_CORRUPT";
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
}

interface LogRow {
  idx: number;
  term: number;
  command: string;
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
    };
  }
  throw new StoreCorruptError(`${what} has unknown kind '${row.kind}'`);
}

function noticeFromRow(row: NoticeRow): OutboxNotice {
  const what = `outbox notice ${row.idx}.${row.seq}`;
  let notice: Notice;
  if (row.op === "commitRefs") {
    const body = decodeJson(OPS.commitRefs.request, row.body, what);
    notice = {
      op: "commitRefs",
      body: { uid: body.uid, name: body.name, uploadId: body.uploadId, version: body.version },
    };
  } else if (row.op === "dropRefs") {
    const body = decodeJson(OPS.dropRefs.request, row.body, what);
    notice = { op: "dropRefs", body: { uid: body.uid, name: body.name } };
  } else {
    throw new StoreCorruptError(`${what} has unknown op '${row.op}'`);
  }
  return { index: row.idx, seq: row.seq, group: row.grp, notice };
}

function logEntryFromRow(row: LogRow): LogEntry {
  const decoded = decodeCommand(row.command);
  if (!decoded.ok) throw new StoreCorruptError(`log entry ${row.idx}: ${decoded.message}`);
  return { index: row.idx, term: row.term, command: decoded.value };
}

type Params = Array<string | number | null>;

function prepareStatements(db: Database) {
  const versionColumns = [
    "uid, name, version, kind, bytes, sha256, created_at_ms,",
    "upload_id, request_id, deleted_version, chunks",
  ].join(" ");
  return {
    getMeta: db.prepare<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare<null, [string, string]>(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    appendLog: db.prepare<null, [number, number, string]>(
      "INSERT INTO log (idx, term, command) VALUES (?, ?, ?)",
    ),
    readLog: db.prepare<LogRow, [number, number]>(
      "SELECT idx, term, command FROM log WHERE idx >= ? ORDER BY idx LIMIT ?",
    ),
    getUser: db.prepare<{ uid: string; created_at_ms: number }, [string]>(
      "SELECT uid, created_at_ms FROM users WHERE uid = ?",
    ),
    putUser: db.prepare<null, [string, number]>(
      "INSERT INTO users (uid, created_at_ms) VALUES (?, ?)",
    ),
    latestVersion: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ?
       ORDER BY version DESC LIMIT 1`,
    ),
    getVersion: db.prepare<VersionRow, [string, string, number]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ? AND version = ?`,
    ),
    latestTombstone: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ? AND kind = 'tombstone'
       ORDER BY version DESC LIMIT 1`,
    ),
    listVersions: db.prepare<VersionRow, [string, string, number]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND name = ? AND version >= ?
       ORDER BY version`,
    ),
    listLiveFiles: db.prepare<VersionRow, [string, number]>(
      `SELECT ${versionColumns} FROM versions AS v
       WHERE v.uid = ?1 AND v.kind = 'live'
         AND v.version = (SELECT MAX(w.version) FROM versions AS w
                          WHERE w.uid = v.uid AND w.name = v.name)
       ORDER BY v.name LIMIT ?2`,
    ),
    findUpload: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND upload_id = ?`,
    ),
    findRequest: db.prepare<VersionRow, [string, string]>(
      `SELECT ${versionColumns} FROM versions WHERE uid = ? AND request_id = ?`,
    ),
    putVersion: db.prepare<null, Params>(
      `INSERT INTO versions (${versionColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    ackNotice: db.prepare<null, [number, number]>("DELETE FROM outbox WHERE idx = ? AND seq = ?"),
  };
}

const META_SCHEMA_VERSION = "schemaVersion";
const META_LAST_APPLIED = "lastApplied";
const META_TERM = "term";
const META_VOTED_FOR = "votedFor";

export class SqliteMetadataStore implements MetadataStore, MetadataTx {
  readonly path: string;
  private readonly db: Database;
  private readonly sql: ReturnType<typeof prepareStatements>;
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
      db.run("PRAGMA journal_mode = WAL");
      // FULL: the WAL is synced at every commit, so an acknowledged change survives power loss.
      db.run("PRAGMA synchronous = FULL");
      db.transaction(() => {
        for (const statement of SCHEMA_SQL) db.run(statement);
      })();
      const found = db
        .prepare<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?")
        .get(META_SCHEMA_VERSION);
      if (found === null) {
        db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(
          META_SCHEMA_VERSION,
          String(SCHEMA_VERSION),
        );
      } else if (found.value !== String(SCHEMA_VERSION)) {
        throw new StoreCorruptError(
          `${path} has schema version ${found.value}; this build reads ${SCHEMA_VERSION}`,
        );
      }
      return new SqliteMetadataStore(path, db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  getUser(uid: string): UserRecord | undefined {
    const row = this.sql.getUser.get(uid);
    return row === null ? undefined : { uid: row.uid, createdAtMs: row.created_at_ms };
  }

  latestVersion(uid: string, name: string): VersionRecord | undefined {
    return this.version(this.sql.latestVersion.get(uid, name));
  }

  getVersion(uid: string, name: string, version: number): VersionRecord | undefined {
    return this.version(this.sql.getVersion.get(uid, name, version));
  }

  latestTombstone(uid: string, name: string): Tombstone | undefined {
    const record = this.version(this.sql.latestTombstone.get(uid, name));
    return record?.kind === "tombstone" ? record : undefined;
  }

  listVersions(uid: string, name: string, fromVersion: number): readonly VersionRecord[] {
    return this.sql.listVersions.all(uid, name, fromVersion).map(versionFromRow);
  }

  listLiveFiles(uid: string, countMax: number): readonly LiveVersion[] {
    return this.sql.listLiveFiles.all(uid, countMax).map(versionFromRow).filter(isLive);
  }

  findUpload(uid: string, uploadId: string): LiveVersion | undefined {
    const record = this.version(this.sql.findUpload.get(uid, uploadId));
    return record?.kind === "live" ? record : undefined;
  }

  findDeleteRequest(uid: string, requestId: string): Tombstone | undefined {
    const record = this.version(this.sql.findRequest.get(uid, requestId));
    return record?.kind === "tombstone" ? record : undefined;
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

  appendAndApply<T>(entry: LogEntry, apply: (tx: MetadataTx) => T): T {
    assert(entry.index === this.applied + 1, `log index ${entry.index} after ${this.applied}`);
    assert(!this.inTransaction, "appendAndApply is not reentrant");
    const run = this.db.transaction(() => {
      this.sql.appendLog.run(entry.index, entry.term, encodeCommand(entry.command));
      const result = apply(this);
      this.sql.setMeta.run(META_LAST_APPLIED, String(entry.index));
      return result;
    });
    this.inTransaction = true;
    try {
      const result = run();
      this.applied = entry.index;
      return result;
    } finally {
      this.inTransaction = false;
    }
  }

  readLog(fromIndex: number, countMax: number): readonly LogEntry[] {
    return this.sql.readLog.all(fromIndex, countMax).map(logEntryFromRow);
  }

  readHardState(): HardState {
    const term = Number(this.sql.getMeta.get(META_TERM)?.value ?? "0");
    const votedFor = this.sql.getMeta.get(META_VOTED_FOR)?.value ?? "";
    return { term, votedFor: votedFor === "" ? null : votedFor };
  }

  saveHardState(state: HardState): void {
    this.db.transaction(() => {
      this.sql.setMeta.run(META_TERM, String(state.term));
      this.sql.setMeta.run(META_VOTED_FOR, state.votedFor ?? "");
    })();
  }

  noticeGroups(countMax: number): readonly string[] {
    return this.sql.noticeGroups.all(countMax).map((row) => row.grp);
  }

  pendingNotices(group: string, countMax: number): readonly OutboxNotice[] {
    return this.sql.pendingNotices.all(group, countMax).map(noticeFromRow);
  }

  ackNotice(index: number, seq: number): void {
    this.sql.ackNotice.run(index, seq);
  }

  close(): void {
    for (const statement of Object.values(this.sql)) statement.finalize();
    this.db.close();
  }

  putUser(user: UserRecord): void {
    this.assertWriting();
    this.sql.putUser.run(user.uid, user.createdAtMs);
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
      );
    }
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

  private version(row: VersionRow | null): VersionRecord | undefined {
    return row === null ? undefined : versionFromRow(row);
  }

  private assertWriting(): void {
    assert(this.inTransaction, "metadata write outside appendAndApply");
  }
}

function isLive(record: VersionRecord): record is LiveVersion {
  return record.kind === "live";
}
