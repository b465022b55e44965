/**
 * Owner references in SQLite (bun:sqlite, WAL). A change is on disk when the call returns:
 * every change commits through `write`, which fsyncs the write-ahead log itself right after
 * the commit (synchronous=NORMAL leaves that to us), the one place its fsync is timed. A round
 * of group commit (`commitEach`) commits the same way but leaves the log's fsync to
 * `syncLog`, off the event loop and shared by the rounds that commit while one runs; its
 * changes are durable, and may be acknowledged, only once that resolves.
 *
 * One row per (chunk, uid, name, upload): who holds a chunk, for which upload, and, once the
 * directory committed the upload, as which version (NULL until then).
 *
 * Rows also keep the chunk's size and when the reference was recorded. References are this
 * node's knowledge of who holds a chunk, not the authority over it: garbage collection
 * (io/gc.ts) deletes a chunk only when the directory confirms it, and then its rows go.
 * Nothing is deleted here on its own judgement.
 *
 * This file does not know about chunk files, groups or the network.
 */

import { Database, type Statement } from "bun:sqlite";
import { closeSync, openSync } from "node:fs";
import type { ChunkOwner, SyncRef } from "@ftfs/protocol/core";
import type { RefRow } from "../core/index.ts";
import { type Fsync, UNTIMED_FSYNC } from "./fsync.ts";
import type { ChangeOutcome } from "./group-commit.ts";

/**
 * Bumped when the table layout changes; a newer file than this code is refused. (Indexes came
 * later without a bump: an index changes no row, and a build without it still reads and writes
 * the file correctly.) Version 2 added `meta` (the newest directory term heard); version 3
 * `refs.uses` (how many times a committed file holds the chunk), added to older files on open.
 */
const SCHEMA_VERSION = 3;

const META_DIRECTORY_TERM = "directoryTerm";

/** SQLite's name for a database held in memory only. */
const IN_MEMORY_PATH = ":memory:";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS refs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id TEXT NOT NULL,
    uid TEXT NOT NULL,
    name TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    version INTEGER,
    chunk_bytes INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    uses INTEGER NOT NULL DEFAULT 1,
    UNIQUE (uid, name, upload_id, chunk_id)
  );
  CREATE INDEX IF NOT EXISTS refs_by_chunk ON refs (chunk_id);
  CREATE INDEX IF NOT EXISTS refs_pending ON refs (uid, name, upload_id, created_at_ms)
    WHERE version IS NULL;
  CREATE INDEX IF NOT EXISTS refs_by_upload ON refs (uid, upload_id);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

/** What garbage collection reads of one chunk's references, in one step. */
export interface ChunkRefFacts {
  /** References the directory committed (a kept version, as far as this node heard). */
  readonly committed: number;
  /** Distinct unfinished uploads whose pending references hold the chunk, at most a page. */
  readonly pendingUploads: readonly { readonly uid: string; readonly uploadId: string }[];
  /** More unfinished uploads hold it than `pendingUploads` names. */
  readonly moreUploads: boolean;
  /** The newest reference's seq (0: none): a reference added later changes it. */
  readonly lastSeq: number;
}

interface SyncRow {
  seq: number;
  chunk_id: string;
  chunk_bytes: number;
  uses: number;
  uid: string;
  name: string;
  upload_id: string;
  version: number | null;
}

/** The identity of an owner reference set: one upload of one name. */
export function refKey(uid: string, name: string, uploadId: string): string {
  return JSON.stringify([uid, name, uploadId]);
}

interface RowOut {
  name: string;
  upload_id: string;
  version: number | null;
  chunk_bytes: number;
  uses: number;
  seq: number;
}

export class RefsStore {
  private readonly db: Database;
  private readonly fsync: Fsync;
  /** The write-ahead log, open for our own fsyncs of it; null for an in-memory database. */
  private readonly logFd: number | null;
  private readonly insertPending: Statement;
  private readonly setVersion: Statement;
  private readonly setChunkVersion: Statement<
    unknown,
    [string, string, string, number, string, number]
  >;
  private readonly dropCommitted: Statement;
  private readonly ownedBy: Statement<RowOut, [string]>;
  private readonly uploadChunks: Statement<{ chunk_id: string }, [string, string, string]>;
  private readonly uploadRef: Statement<{ found: number }, [string, string, string, string]>;
  private readonly dropOneUpload: Statement<unknown, [string, string, string]>;
  private readonly refCount: Statement<{ count: number }, [string]>;
  private readonly uploadBytesExcept: Statement<
    { bytes: number },
    [string, string, string, string]
  >;
  private readonly chunkFacts: Statement<{ committed: number; last_seq: number | null }, [string]>;
  private readonly chunkPendingUploads: Statement<
    { uid: string; upload_id: string },
    [string, number]
  >;
  private readonly dropChunkRows: Statement<unknown, [string]>;
  private readonly dropPendingOfUpload: Statement<unknown, [string, string]>;
  private readonly dropPendingChunkRef: Statement<unknown, [string, string, string]>;
  private readonly upsertCommitted: Statement<
    unknown,
    [string, string, string, string, number, number, number, number]
  >;
  private readonly chunksAfter: Statement<{ chunk_id: string }, [string, number]>;

  private constructor(db: Database, fsync: Fsync, logFd: number | null) {
    this.db = db;
    this.fsync = fsync;
    this.logFd = logFd;
    this.insertPending = db.query(
      `INSERT INTO refs (chunk_id, uid, name, upload_id, version, chunk_bytes, created_at_ms)
       VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6) ON CONFLICT DO NOTHING`,
    );
    this.setVersion = db.query(
      "UPDATE refs SET version = ?4 WHERE uid = ?1 AND name = ?2 AND upload_id = ?3",
    );
    this.setChunkVersion = db.query<unknown, [string, string, string, number, string, number]>(
      `UPDATE refs SET version = ?4, uses = ?6
       WHERE uid = ?1 AND name = ?2 AND upload_id = ?3 AND chunk_id = ?5`,
    );
    this.dropCommitted = db.query(
      "DELETE FROM refs WHERE uid = ?1 AND name = ?2 AND version IS NOT NULL",
    );
    this.uploadChunks = db.query<{ chunk_id: string }, [string, string, string]>(
      "SELECT DISTINCT chunk_id FROM refs WHERE uid = ?1 AND name = ?2 AND upload_id = ?3",
    );
    this.uploadRef = db.query<{ found: number }, [string, string, string, string]>(
      `SELECT 1 AS found FROM refs
       WHERE uid = ?1 AND name = ?2 AND upload_id = ?3 AND chunk_id = ?4 LIMIT 1`,
    );
    this.dropOneUpload = db.query<unknown, [string, string, string]>(
      "DELETE FROM refs WHERE uid = ?1 AND name = ?2 AND upload_id = ?3",
    );
    this.ownedBy = db.query<RowOut, [string]>(
      "SELECT name, upload_id, version, chunk_bytes, uses, seq FROM refs WHERE uid = ?1",
    );
    this.uploadBytesExcept = db.query<{ bytes: number }, [string, string, string, string]>(
      `SELECT COALESCE(SUM(chunk_bytes), 0) AS bytes FROM (SELECT DISTINCT chunk_id, chunk_bytes
       FROM refs WHERE uid = ?1 AND name = ?2 AND upload_id = ?3 AND chunk_id != ?4)`,
    );
    this.refCount = db.query<{ count: number }, [string]>(
      "SELECT COUNT(*) AS count FROM refs WHERE chunk_id = ?1",
    );
    this.chunkFacts = db.query<{ committed: number; last_seq: number | null }, [string]>(
      `SELECT COUNT(version) AS committed, MAX(seq) AS last_seq FROM refs WHERE chunk_id = ?1`,
    );
    this.chunkPendingUploads = db.query<{ uid: string; upload_id: string }, [string, number]>(
      `SELECT DISTINCT uid, upload_id FROM refs WHERE chunk_id = ?1 AND version IS NULL
       ORDER BY uid, upload_id LIMIT ?2`,
    );
    this.dropChunkRows = db.query<unknown, [string]>("DELETE FROM refs WHERE chunk_id = ?1");
    this.dropPendingOfUpload = db.query<unknown, [string, string]>(
      "DELETE FROM refs WHERE uid = ?1 AND upload_id = ?2 AND version IS NULL",
    );
    this.dropPendingChunkRef = db.query<unknown, [string, string, string]>(
      "DELETE FROM refs WHERE chunk_id = ?1 AND uid = ?2 AND upload_id = ?3 AND version IS NULL",
    );
    this.upsertCommitted = db.query<
      unknown,
      [string, string, string, string, number, number, number, number]
    >(
      `INSERT INTO refs (chunk_id, uid, name, upload_id, version, chunk_bytes, created_at_ms, uses)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
       ON CONFLICT (uid, name, upload_id, chunk_id)
       DO UPDATE SET version = excluded.version, uses = excluded.uses`,
    );
    this.chunksAfter = db.query<{ chunk_id: string }, [string, number]>(
      "SELECT DISTINCT chunk_id FROM refs WHERE chunk_id > ?1 ORDER BY chunk_id LIMIT ?2",
    );
  }

  /** `fsync` times each commit (the node's /metrics); default untimed. */
  static open(path: string, fsync: Fsync = UNTIMED_FSYNC): RefsStore {
    const db = new Database(path, { create: true, strict: true });
    db.run("PRAGMA journal_mode = WAL");
    // Commits do not fsync the log: `write` does right after, `syncLog` later (file comment).
    // Checkpoints still fsync the log before and the database after, as with FULL.
    db.run("PRAGMA synchronous = NORMAL");
    const found =
      db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
    if (found > SCHEMA_VERSION) {
      db.close();
      throw new Error(
        `${path} has schema version ${found}; this build knows up to ${SCHEMA_VERSION}`,
      );
    }
    db.transaction(() => {
      db.run(SCHEMA);
      const columns = db.query<{ name: string }, []>("PRAGMA table_info(refs)").all();
      if (!columns.some((column) => column.name === "uses")) {
        db.run("ALTER TABLE refs ADD COLUMN uses INTEGER NOT NULL DEFAULT 1");
      }
      db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    })();
    // SQLite keeps the log file while the database is open (it deletes it only at close). The
    // schema's commit needs no fsync of its own: a crash before the next one only repeats it.
    // An in-memory database (simulations) has no log and nothing to make durable.
    let logFd: number | null = null;
    try {
      if (path !== IN_MEMORY_PATH) logFd = openSync(`${path}-wal`, "r");
    } catch (error) {
      db.close();
      throw error;
    }
    return new RefsStore(db, fsync, logFd);
  }

  /**
   * Every change goes through here: one transaction, committed (and fsync'd) and timed. A
   * change made inside another's transaction (a batch) is only part of that one commit.
   */
  private write<T>(change: () => T): T {
    if (this.db.inTransaction) return change();
    return this.fsync.commit(() => this.db.transaction(change)(), this.logFd);
  }

  /**
   * Runs `changes` in order in one transaction, one commit for all: a round of group commit
   * (group-commit.ts). Each change runs in a savepoint of its own, so one that throws is rolled
   * back alone and answers its error; the others commit. Throws when the commit fails: then
   * none of them holds. The commit is visible at once but durable only once `syncLog`,
   * called after this returns, resolves.
   */
  commitEach(changes: readonly (() => unknown)[]): ChangeOutcome[] {
    const outcomes: ChangeOutcome[] = [];
    this.db.transaction(() => {
      for (const change of changes) {
        try {
          outcomes.push({ ok: true, value: this.db.transaction(change)() });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    })();
    return outcomes;
  }

  /**
   * Make every commit made before this call durable: an fsync of the log off the event loop,
   * shared with the calls that come while one runs (Fsync.log), so the disk sees one log fsync
   * at a time however many rounds commit meanwhile.
   */
  syncLog(): Promise<void> {
    return this.logFd === null ? Promise.resolve() : this.fsync.log(this.logFd);
  }

  /**
   * Record that an upload of (uid, name) holds a chunk; idempotent for a retried put. Answers
   * whether this call recorded it (false: it was recorded already).
   */
  addPending(chunkId: string, owner: ChunkOwner, chunkBytes: number, nowMs: number): boolean {
    const { uid, name, uploadId } = owner;
    const run = () => this.insertPending.run(chunkId, uid, name, uploadId, chunkBytes, nowMs);
    return this.write(run).changes > 0;
  }

  /**
   * Runs `apply`'s changes as one transaction: one fsync instead of one per statement. A
   * catch-up page records thousands of references; at one fsync each they held the event loop
   * for seconds, long enough for gossip to declare the node dead and restart its catch-up.
   */
  batch(apply: () => void): void {
    this.write(apply);
  }

  /**
   * The directory committed this upload as `version`, keeping `chunkIds` in this group: only
   * their references commit, in one transaction; returns how many. With `chunkBytes` (each
   * chunk's size) a reference this node lacks is recorded committed, so a commit that arrives
   * before the pending reference (a learner still copying) or after it was dropped (closed by
   * garbage collection) still leaves the reference the directory's state implies. The
   * upload's other pending references here (puts re-routed or hedged to another group) stay
   * pending until garbage collection closes them. Without `chunkIds` (a notice from before
   * they were named) every reference of the upload commits. `chunkUses`, beside chunkIds, is
   * how many times the file holds each (absent: once).
   */
  commit(
    uid: string,
    name: string,
    uploadId: string,
    version: number,
    chunkIds?: readonly string[],
    chunkBytes?: readonly number[],
    nowMs = 0,
    chunkUses?: readonly number[],
  ): number {
    if (chunkIds === undefined) {
      return this.write(() => this.setVersion.run(uid, name, uploadId, version).changes);
    }
    let committed = 0;
    this.write(() => {
      for (const [at, chunkId] of chunkIds.entries()) {
        const bytes = chunkBytes?.[at];
        const uses = chunkUses?.[at] ?? 1;
        committed +=
          bytes === undefined
            ? this.setChunkVersion.run(uid, name, uploadId, version, chunkId, uses).changes
            : this.upsertCommitted.run(chunkId, uid, name, uploadId, version, bytes, nowMs, uses)
                .changes;
      }
    });
    return committed;
  }

  /**
   * The newest directory term this node heard a notice from, raised to `term` if that is
   * newer; false when `term` is older (a deposed directory primary's stale notice).
   */
  admitDirectoryTerm(term: number): boolean {
    const row = this.db
      .query<{ value: number }, [string]>("SELECT value FROM meta WHERE key = ?1")
      .get(META_DIRECTORY_TERM);
    const known = row?.value ?? 0;
    if (term < known) return false;
    if (term > known) {
      const raise = this.db.query<unknown, [string, number]>(
        `INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      );
      this.write(() => raise.run(META_DIRECTORY_TERM, term));
    }
    return true;
  }

  /** One chunk's references as garbage collection judges them (pendingMax uploads named). */
  chunkRefFacts(chunkId: string, pendingMax: number): ChunkRefFacts {
    const counts = this.chunkFacts.get(chunkId);
    const pending = this.chunkPendingUploads.all(chunkId, pendingMax + 1);
    return {
      committed: counts?.committed ?? 0,
      pendingUploads: pending
        .slice(0, pendingMax)
        .map((row) => ({ uid: row.uid, uploadId: row.upload_id })),
      moreUploads: pending.length > pendingMax,
      lastSeq: counts?.last_seq ?? 0,
    };
  }

  /** Every reference to a chunk goes (the directory confirmed it garbage). */
  dropChunk(chunkId: string): number {
    return this.write(() => this.dropChunkRows.run(chunkId).changes);
  }

  /** A closed upload's pending references go (committed or swept: they protect nothing). */
  dropPending(uid: string, uploadId: string): number {
    return this.write(() => this.dropPendingOfUpload.run(uid, uploadId).changes);
  }

  /** One upload's pending references to one chunk go (the directory released them). */
  dropPendingRef(chunkId: string, uid: string, uploadId: string): number {
    return this.write(() => this.dropPendingChunkRef.run(chunkId, uid, uploadId).changes);
  }

  /**
   * One reference a catch-up page shows committed: only that chunk's, for the learner may hold
   * pending references of the upload that the primary left pending at its commit.
   */
  commitChunk(
    uid: string,
    name: string,
    uploadId: string,
    version: number,
    chunkId: string,
    uses = 1,
  ): void {
    this.write(() => this.setChunkVersion.run(uid, name, uploadId, version, chunkId, uses));
  }

  /**
   * The name was deleted: its committed references go. Pending references stay: they belong
   * to uploads still in flight, which may commit after the delete as a new version; dropping
   * them would orphan that version's chunks. A pending reference that never commits goes when
   * garbage collection hears from the directory that its upload is closed.
   */
  drop(uid: string, name: string): number {
    return this.write(() => this.dropCommitted.run(uid, name).changes);
  }

  /** Bytes of the chunks one upload references here, `chunkId` left out (a put's retry). */
  uploadBytes(uid: string, name: string, uploadId: string, chunkId: string): number {
    return this.uploadBytesExcept.get(uid, name, uploadId, chunkId)?.bytes ?? 0;
  }

  /** The ids of the chunks one upload references. */
  chunksOfUpload(uid: string, name: string, uploadId: string): string[] {
    return this.uploadChunks.all(uid, name, uploadId).map((row) => row.chunk_id);
  }

  /** Whether one upload references the chunk here (pending or committed). */
  uploadReferences(owner: ChunkOwner, chunkId: string): boolean {
    return this.uploadRef.get(owner.uid, owner.name, owner.uploadId, chunkId) !== null;
  }

  /**
   * One upload's references go, committed or pending: the directory moved its chunks to
   * another group. Other uploads of the name keep theirs. Answers how many went.
   */
  dropUpload(uid: string, name: string, uploadId: string): number {
    return this.write(() => this.dropOneUpload.run(uid, name, uploadId).changes);
  }

  /** Visit every reference a user holds, one row at a time. */
  forEachOwnedBy(uid: string, visit: (row: RefRow) => void): void {
    for (const row of this.ownedBy.iterate(uid)) {
      visit({
        name: row.name,
        uploadId: row.upload_id,
        version: row.version,
        chunkBytes: row.chunk_bytes,
        uses: row.uses,
        seq: row.seq,
      });
    }
  }

  /** References after `afterSeq` in seq order, at most countMax: a learner's catch-up page. */
  pageAfter(afterSeq: number, countMax: number): SyncRef[] {
    const rows = this.db
      .query<SyncRow, [number, number]>(
        `SELECT seq, chunk_id, chunk_bytes, uses, uid, name, upload_id, version FROM refs
         WHERE seq > ?1 ORDER BY seq LIMIT ?2`,
      )
      .all(afterSeq, countMax);
    return rows.map((row) => ({
      seq: row.seq,
      chunkId: row.chunk_id,
      bytes: row.chunk_bytes,
      uid: row.uid,
      name: row.name,
      uploadId: row.upload_id,
      version: row.version,
      ...(row.uses > 1 ? { uses: row.uses } : {}),
    }));
  }

  /** The newest reference's seq (0 when there is none). */
  lastSeq(): number {
    return (
      this.db.query<{ seq: number | null }, []>("SELECT MAX(seq) AS seq FROM refs").get()?.seq ?? 0
    );
  }

  /**
   * After a catch-up pass: references the primary no longer has go (their files were deleted
   * while this node was away, or their uploads were closed). No chunk goes with them: only the
   * directory's confirmation lets garbage collection delete one. Every reference a learner got came
   * through a primary, so one the primary lacks was dropped there. `kept` holds refKey()s.
   * Only references older than the pass (seq <= throughSeq) are candidates: newer ones came
   * with writes during the pass.
   */
  dropExcept(kept: ReadonlySet<string>, throughSeq: number): number {
    const rows = this.db
      .query<{ uid: string; name: string; upload_id: string }, [number]>(
        "SELECT DISTINCT uid, name, upload_id FROM refs WHERE seq <= ?1",
      )
      .all(throughSeq);
    let dropped = 0;
    const remove = this.db.query<null, [string, string, string, number]>(
      "DELETE FROM refs WHERE uid = ?1 AND name = ?2 AND upload_id = ?3 AND seq <= ?4",
    );
    this.write(() => {
      for (const row of rows) {
        if (kept.has(refKey(row.uid, row.name, row.upload_id))) continue;
        dropped += remove.run(row.uid, row.name, row.upload_id, throughSeq).changes;
      }
    });
    return dropped;
  }

  /** Forget every reference (a released spare's group data); answers how many went. */
  clear(): number {
    const remove = this.db.query("DELETE FROM refs");
    return this.write(() => remove.run().changes);
  }

  /** Chunk ids some reference names, in id order, after `afterId` ("" to start): one page. */
  referencedChunksAfter(afterId: string, limit: number): string[] {
    return this.chunksAfter.all(afterId, limit).map((row) => row.chunk_id);
  }

  /** How many references name a chunk (0: a candidate for garbage collection). */
  referencesTo(chunkId: string): number {
    return this.refCount.get(chunkId)?.count ?? 0;
  }

  /**
   * Close the database. The log's descriptor is closed only after the log fsyncs already
   * asked for (a sync asked for now queues behind them): closed under them, its number could
   * be reused by another file and one of them would fsync that file instead.
   */
  close(): void {
    this.db.close();
    const logFd = this.logFd;
    if (logFd === null) return;
    const closeLog = (): void => closeSync(logFd);
    void this.fsync.log(logFd).then(closeLog, closeLog);
  }
}
