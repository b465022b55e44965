/**
 * The directory database's tables. A file of an older schema version this build knows how to
 * move forward is migrated in place when opened (MIGRATIONS, one step per version, in one
 * transaction); any other version is refused rather than guessed at.
 */

export const SCHEMA_VERSION = 9;

/**
 * The chunk index: one row per (group, chunk, kept version naming it there). Garbage
 * collection asks it whether a group may delete a chunk. Derived from `versions` (see
 * RECOMPUTE_KEPT_CHUNKS_SQL), kept by the commands.
 */
const KEPT_CHUNKS_TABLE = `CREATE TABLE IF NOT EXISTS kept_chunks (
     grp TEXT NOT NULL, chunk_id TEXT NOT NULL, uid TEXT NOT NULL, name TEXT NOT NULL,
     version INTEGER NOT NULL, PRIMARY KEY (grp, chunk_id, uid, name, version)
   ) WITHOUT ROWID`;
const KEPT_CHUNKS_BY_VERSION = `CREATE INDEX IF NOT EXISTS kept_chunks_by_version
     ON kept_chunks (uid, name, version)`;
/** Uploads that can never commit (sweepUploads), until long past their deadline. */
const SWEPT_UPLOADS_TABLE = `CREATE TABLE IF NOT EXISTS swept_uploads (
     uid TEXT NOT NULL, upload_id TEXT NOT NULL, deadline_ms INTEGER NOT NULL,
     PRIMARY KEY (uid, upload_id)
   ) WITHOUT ROWID`;
const SWEPT_UPLOADS_BY_DEADLINE = `CREATE INDEX IF NOT EXISTS swept_uploads_by_deadline
     ON swept_uploads (deadline_ms, upload_id)`;

/** Users' S3 access keys: the secret sealed under the cluster key (JSON), never in the clear. */
const ACCESS_KEYS_TABLE = `CREATE TABLE IF NOT EXISTS access_keys (
     access_key_id TEXT PRIMARY KEY, uid TEXT NOT NULL, sealed TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL
   ) WITHOUT ROWID`;
const ACCESS_KEYS_BY_USER = `CREATE INDEX IF NOT EXISTS access_keys_by_user
     ON access_keys (uid, created_at_ms, access_key_id)`;

/** Users' buckets besides the home bucket; their objects are rows of `versions`. */
const BUCKETS_TABLE = `CREATE TABLE IF NOT EXISTS buckets (
     uid TEXT NOT NULL, bucket TEXT NOT NULL, created_at_ms INTEGER NOT NULL, versioning TEXT,
     PRIMARY KEY (uid, bucket)
   ) WITHOUT ROWID`;
/** The buckets table as schema 6 made it: a migration's steps build on the shape before. */
const BUCKETS_TABLE_SCHEMA_6 = `CREATE TABLE buckets (
     uid TEXT NOT NULL, bucket TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
     PRIMARY KEY (uid, bucket)
   ) WITHOUT ROWID`;

/** Open S3 multipart uploads; their parts are rows of `versions` (object-names.ts). */
const MULTIPART_UPLOADS_TABLE = `CREATE TABLE IF NOT EXISTS multipart_uploads (
     uid TEXT NOT NULL, upload_id TEXT NOT NULL, name TEXT NOT NULL,
     initiated_at_ms INTEGER NOT NULL, attrs TEXT,
     PRIMARY KEY (uid, upload_id)
   ) WITHOUT ROWID`;
const MULTIPART_UPLOADS_BY_NAME = `CREATE INDEX IF NOT EXISTS multipart_uploads_by_name
     ON multipart_uploads (uid, name, upload_id)`;
/** Made on open (IF NOT EXISTS) for older files too: the expiry pass walks uploads by age. */
const MULTIPART_UPLOADS_BY_AGE = `CREATE INDEX IF NOT EXISTS multipart_uploads_by_age
     ON multipart_uploads (initiated_at_ms, uid, upload_id)`;

export const SCHEMA_SQL: readonly string[] = [
  MULTIPART_UPLOADS_TABLE,
  MULTIPART_UPLOADS_BY_NAME,
  MULTIPART_UPLOADS_BY_AGE,
  BUCKETS_TABLE,
  ACCESS_KEYS_TABLE,
  ACCESS_KEYS_BY_USER,
  KEPT_CHUNKS_TABLE,
  KEPT_CHUNKS_BY_VERSION,
  SWEPT_UPLOADS_TABLE,
  SWEPT_UPLOADS_BY_DEADLINE,
  // Small named values: schema version, lastApplied, Raft's term/vote/commit, the members.
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  // Raft's log after the snapshot; a null command is a new leader's no-op, or a
  // configuration entry when membership (the group's members as JSON) is set.
  `CREATE TABLE IF NOT EXISTS raft_log (
     idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, command BLOB, membership TEXT
   )`,
  // The newest snapshot (one row): the state as of idx, which replaces the log through idx,
  // and the configuration in force there (JSON; null in snapshots from before version 9).
  `CREATE TABLE IF NOT EXISTS raft_snapshot (
     one INTEGER PRIMARY KEY CHECK (one = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL,
     data BLOB NOT NULL, membership TEXT
   )`,
  // A user's SCRAM verifier (JSON; null for a user made by connect in insecure mode), role,
  // own quotas (null: the defaults) and generation (see model.ts).
  `CREATE TABLE IF NOT EXISTS users (
     uid TEXT PRIMARY KEY, created_at_ms INTEGER NOT NULL, verifier TEXT,
     admin INTEGER NOT NULL DEFAULT 0, quota_bytes INTEGER, quota_files INTEGER,
     generation INTEGER
   ) WITHOUT ROWID`,
  // What each uid's live files take; kept by the commands, outlives the users row.
  `CREATE TABLE IF NOT EXISTS usage (
     uid TEXT PRIMARY KEY, bytes INTEGER NOT NULL, files INTEGER NOT NULL
   ) WITHOUT ROWID`,
  // One row per version, live or tombstone; live rows carry their chunk list as JSON. A
  // tombstone with marker = 1 is an S3 delete marker (model.ts); pruned = 1 on one: deleted.
  `CREATE TABLE IF NOT EXISTS versions (
     uid TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('live', 'tombstone')),
     bytes INTEGER, sha256 TEXT, created_at_ms INTEGER NOT NULL,
     upload_id TEXT, request_id TEXT, deleted_version INTEGER, chunks TEXT,
     pruned INTEGER NOT NULL DEFAULT 0, attrs TEXT, marker INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (uid, name, version)
   ) WITHOUT ROWID`,
  `CREATE UNIQUE INDEX IF NOT EXISTS versions_by_upload ON versions (uid, upload_id)
     WHERE upload_id IS NOT NULL`,
  `CREATE UNIQUE INDEX IF NOT EXISTS versions_by_request ON versions (uid, request_id)
     WHERE request_id IS NOT NULL`,
  `CREATE TABLE IF NOT EXISTS groups (grp TEXT PRIMARY KEY, config TEXT NOT NULL) WITHOUT ROWID`,
  // Notices to storage groups, written with the command that caused them, deleted when acked.
  `CREATE TABLE IF NOT EXISTS outbox (
     idx INTEGER NOT NULL, seq INTEGER NOT NULL, grp TEXT NOT NULL, op TEXT NOT NULL,
     body TEXT NOT NULL, PRIMARY KEY (idx, seq)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS outbox_by_group ON outbox (grp, idx, seq)`,
];

/**
 * The version number at or below which a name's versions are gone, in SQL over the row `v`:
 * its newest tombstone that is not a delete marker (0: none).
 */
export function deletedThroughSql(v: string): string {
  return `COALESCE((SELECT MAX(t.version) FROM versions AS t
    WHERE t.uid = ${v}.uid AND t.name = ${v}.name AND t.kind = 'tombstone' AND t.marker = 0), 0)`;
}

/** The number of a name's current version in SQL over the row `v`: its newest not pruned. */
export function currentVersionSql(v: string): string {
  return `(SELECT MAX(w.version) FROM versions AS w
    WHERE w.uid = ${v}.uid AND w.name = ${v}.name AND w.pruned = 0)`;
}

/**
 * Every uid's usage from the versions table: the bytes of every kept version (live, above its
 * name's deletedThrough, not pruned), and the names whose current version is live.
 */
export const RECOMPUTE_USAGE_SQL = `
  INSERT INTO usage (uid, bytes, files)
  SELECT u.uid,
    COALESCE((SELECT SUM(v.bytes) FROM versions AS v
              WHERE v.uid = u.uid AND v.kind = 'live' AND v.pruned = 0
                AND v.version > ${deletedThroughSql("v")}), 0),
    (SELECT COUNT(*) FROM versions AS n
     WHERE n.uid = u.uid AND n.kind = 'live' AND n.version = ${currentVersionSql("n")})
  FROM (SELECT DISTINCT uid FROM versions) AS u`;

/**
 * The chunk index from the versions table: every kept version (live, not pruned, above its
 * name's deletedThrough), with each of its chunks in the group its manifest names.
 */
export const RECOMPUTE_KEPT_CHUNKS_SQL = `
  INSERT OR IGNORE INTO kept_chunks (grp, chunk_id, uid, name, version)
  SELECT json_extract(c.value, '$.group'), json_extract(c.value, '$.id'), v.uid, v.name, v.version
  FROM versions AS v, json_each(v.chunks) AS c
  WHERE v.kind = 'live' AND v.pruned = 0 AND v.version > ${deletedThroughSql("v")}`;

/**
 * After any migration, the derived tables are computed afresh from `versions` as this build
 * counts them (the migrations themselves only change the shape).
 */
export const RECOMPUTE_DERIVED_SQL: readonly string[] = [
  "DELETE FROM usage",
  RECOMPUTE_USAGE_SQL,
  "DELETE FROM kept_chunks",
  RECOMPUTE_KEPT_CHUNKS_SQL,
];

/**
 * Statements that move a file from schema `from` to `from + 1`, keyed by `from`. Version 3
 * added users' credentials, roles, quotas and generations, and the usage table; version 4 the
 * chunk index, the swept uploads, pruned versions, and usage counting every kept version;
 * version 5 the access keys; version 6 the buckets and objects' attributes; version 7 the
 * multipart uploads; version 8 delete markers and buckets' versioning; version 9 the Raft
 * log's configuration entries and the snapshot's configuration.
 */
export const MIGRATIONS: Readonly<Record<number, readonly string[]>> = {
  2: [
    "ALTER TABLE users ADD COLUMN verifier TEXT",
    "ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE users ADD COLUMN quota_bytes INTEGER",
    "ALTER TABLE users ADD COLUMN quota_files INTEGER",
    "ALTER TABLE users ADD COLUMN generation INTEGER",
    `CREATE TABLE usage (
       uid TEXT PRIMARY KEY, bytes INTEGER NOT NULL, files INTEGER NOT NULL
     ) WITHOUT ROWID`,
    // Filled by the next step, which computes usage as this build counts it.
  ],
  3: [
    "ALTER TABLE versions ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0",
    // Usage now counts every kept version (RECOMPUTE_DERIVED_SQL, after the last step).
    KEPT_CHUNKS_TABLE,
    KEPT_CHUNKS_BY_VERSION,
    SWEPT_UPLOADS_TABLE,
    SWEPT_UPLOADS_BY_DEADLINE,
  ],
  4: [ACCESS_KEYS_TABLE, ACCESS_KEYS_BY_USER],
  5: [BUCKETS_TABLE_SCHEMA_6, "ALTER TABLE versions ADD COLUMN attrs TEXT"],
  6: [MULTIPART_UPLOADS_TABLE, MULTIPART_UPLOADS_BY_NAME],
  7: [
    "ALTER TABLE versions ADD COLUMN marker INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE buckets ADD COLUMN versioning TEXT",
  ],
  8: [
    "ALTER TABLE raft_log ADD COLUMN membership TEXT",
    "ALTER TABLE raft_snapshot ADD COLUMN membership TEXT",
  ],
};
