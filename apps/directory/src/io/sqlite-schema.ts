/**
 * The directory database's tables. A file written by another schema version is refused rather
 * than guessed at; a migration will say how to move from one to the next.
 */

export const SCHEMA_VERSION = 2;

export const SCHEMA_SQL: readonly string[] = [
  // Small named values: schema version, lastApplied, Raft's term/vote/commit, the members.
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  // Raft's log after the snapshot; a null command is a new leader's no-op.
  `CREATE TABLE IF NOT EXISTS raft_log (
     idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, command BLOB
   )`,
  // The newest snapshot (one row): the state as of idx, which replaces the log through idx.
  `CREATE TABLE IF NOT EXISTS raft_snapshot (
     one INTEGER PRIMARY KEY CHECK (one = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL,
     data BLOB NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS users (
     uid TEXT PRIMARY KEY, created_at_ms INTEGER NOT NULL
   ) WITHOUT ROWID`,
  // One row per version, live or tombstone; live rows carry their chunk list as JSON.
  `CREATE TABLE IF NOT EXISTS versions (
     uid TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('live', 'tombstone')),
     bytes INTEGER, sha256 TEXT, created_at_ms INTEGER NOT NULL,
     upload_id TEXT, request_id TEXT, deleted_version INTEGER, chunks TEXT,
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
