/**
 * Raft's durable state in the directory's database: hard state (term, vote, commit) in the meta
 * table, entries after the snapshot in raft_log, the newest snapshot in raft_snapshot. Writes
 * run inside the driver's batch transaction, so a Ready's entries, its hard state and the
 * commands it applies reach the disk with one fsync, before any message that depends on them
 * is sent. Rows are checked as they are read back: a damaged file stops the node, loudly.
 */

import type { Database } from "bun:sqlite";
import {
  arr,
  assert,
  bool,
  nodeIdField,
  obj,
  opt,
  raft,
  str,
  tryDecode,
} from "@ftfs/protocol/core";
import {
  type ConnectionUser,
  type SqliteMetadataStore,
  StoreCorruptError,
} from "./sqlite-store.ts";

const META_TERM = "raftTerm";
const META_VOTE = "raftVote";
const META_COMMIT = "raftCommit";
/** A row the disk-full probe writes and deletes; never read back. */
const META_DISK_PROBE = "raftDiskProbe";

interface EntryRow {
  idx: number;
  term: number;
  command: Uint8Array | null;
  membership: string | null;
}

interface SnapshotRow {
  idx: number;
  term: number;
  data: Uint8Array;
  membership: string | null;
}

/** Bytes of a member's address, as the wire bounds it. */
const MEMBER_ADDRESS_BYTES_MAX = 300;
const membershipSchema = obj({
  members: arr(
    obj({
      id: nodeIdField,
      address: str({ bytesMin: 0, bytesMax: MEMBER_ADDRESS_BYTES_MAX }),
      voter: bool,
      folder: opt(str({ bytesMin: 1, bytesMax: raft.RAFT_FOLDER_ID_BYTES_MAX })),
    }),
    { itemsMax: raft.RAFT_MEMBERS_MAX },
  ),
});

/** A stored configuration, checked as it is read back (our own disk, but a damaged one). */
function membershipOf(text: string | null, where: string): raft.Membership | undefined {
  if (text === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StoreCorruptError(`${where}: configuration is not JSON`, { cause: error });
  }
  const decoded = tryDecode(membershipSchema, parsed);
  if (!decoded.ok) throw new StoreCorruptError(`${where}: configuration ${decoded.message}`);
  return {
    members: decoded.value.members.map((member) => ({ ...member, id: raft.raftId(member.id) })),
  };
}

function membershipText(membership: raft.Membership | undefined): string | null {
  return membership === undefined ? null : JSON.stringify(membership);
}

function prepareStatements(db: Database) {
  return {
    getMeta: db.prepare<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare<null, [string, string]>(
      `INSERT INTO meta (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    entries: db.prepare<EntryRow, []>(
      "SELECT idx, term, command, membership FROM raft_log ORDER BY idx",
    ),
    termAt: db.prepare<{ term: number }, [number]>("SELECT term FROM raft_log WHERE idx = ?"),
    append: db.prepare<null, [number, number, Uint8Array | null, string | null]>(
      "INSERT INTO raft_log (idx, term, command, membership) VALUES (?, ?, ?, ?)",
    ),
    truncateFrom: db.prepare<null, [number]>("DELETE FROM raft_log WHERE idx >= ?"),
    dropThrough: db.prepare<null, [number]>("DELETE FROM raft_log WHERE idx <= ?"),
    dropAll: db.prepare<null, []>("DELETE FROM raft_log"),
    deleteMeta: db.prepare<null, [string]>("DELETE FROM meta WHERE key = ?"),
    snapshot: db.prepare<SnapshotRow, []>("SELECT idx, term, data, membership FROM raft_snapshot"),
    putSnapshot: db.prepare<null, [number, number, Uint8Array, string | null]>(
      `INSERT INTO raft_snapshot (one, idx, term, data, membership) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (one) DO UPDATE SET idx = excluded.idx, term = excluded.term,
                                         data = excluded.data, membership = excluded.membership`,
    ),
  };
}

export class RaftLog implements ConnectionUser {
  private db: Database;
  private sql: ReturnType<typeof prepareStatements>;

  constructor(db: Database) {
    this.db = db;
    this.sql = prepareStatements(db);
  }

  /** The Raft log on the store's connection, following it when an image is swapped in. */
  static of(store: Pick<SqliteMetadataStore, "database" | "attach">): RaftLog {
    const log = new RaftLog(store.database);
    store.attach(log);
    return log;
  }

  detach(): void {
    for (const statement of Object.values(this.sql)) statement.finalize();
  }

  reattach(db: Database): void {
    this.db = db;
    this.sql = prepareStatements(db);
  }

  /** What a restarted node resumes from. */
  load(): raft.DurableState {
    const term = this.durableTerm();
    const vote = this.sql.getMeta.get(META_VOTE)?.value ?? "";
    const commit = Number(this.sql.getMeta.get(META_COMMIT)?.value ?? "0");
    const row = this.sql.snapshot.get();
    const membership = row === null ? undefined : membershipOf(row.membership, "raft snapshot");
    const snapshot =
      row === null
        ? null
        : {
            index: row.idx,
            term: row.term,
            data: new Uint8Array(row.data),
            ...(membership === undefined ? {} : { membership }),
          };
    const entries: raft.Entry[] = [];
    let expected = (snapshot?.index ?? 0) + 1;
    for (const entry of this.sql.entries.all()) {
      if (entry.idx !== expected) {
        throw new StoreCorruptError(`raft log has index ${entry.idx} where ${expected} belongs`);
      }
      const command = entry.command === null ? null : new Uint8Array(entry.command);
      const config = membershipOf(entry.membership, `raft log entry ${entry.idx}`);
      entries.push({
        index: entry.idx,
        term: entry.term,
        command,
        ...(config === undefined ? {} : { membership: config }),
      });
      expected += 1;
    }
    const hardState = { term, vote: vote === "" ? null : raft.raftId(vote), commit };
    return { hardState, snapshot, entries };
  }

  /** The term on disk: what this node may claim once its core in memory is gone. */
  durableTerm(): number {
    return Number(this.sql.getMeta.get(META_TERM)?.value ?? "0");
  }

  /** Persists a Ready's durable parts; call inside the batch transaction. */
  save(ready: Pick<raft.Ready, "hardState" | "entries" | "snapshot">): void {
    assert(this.db.inTransaction, "raft state is saved inside the batch transaction");
    if (ready.snapshot !== null) this.saveSnapshot(ready.snapshot);
    const first = ready.entries[0];
    if (first !== undefined) {
      this.sql.truncateFrom.run(first.index);
      for (const entry of ready.entries)
        this.sql.append.run(
          entry.index,
          entry.term,
          entry.command,
          membershipText(entry.membership),
        );
    }
    if (ready.hardState !== null) {
      this.sql.setMeta.run(META_TERM, String(ready.hardState.term));
      this.sql.setMeta.run(META_VOTE, ready.hardState.vote ?? "");
      this.sql.setMeta.run(META_COMMIT, String(ready.hardState.commit));
    }
  }

  /** Entries the snapshot covers go; if our entry at its end disagrees, the whole log goes. */
  private saveSnapshot(snapshot: raft.Snapshot): void {
    const stored = this.sql.termAt.get(snapshot.index);
    if (stored !== null && stored.term === snapshot.term) this.sql.dropThrough.run(snapshot.index);
    else this.sql.dropAll.run();
    this.sql.putSnapshot.run(
      snapshot.index,
      snapshot.term,
      snapshot.data,
      membershipText(snapshot.membership),
    );
  }

  /**
   * Whether Raft could persist again after the disk filled: writes `bytes` of padding in one
   * transaction, deletes it in the next (the caller runs each in store.transaction, so both
   * reach the disk with an fsync). Throws what the disk throws.
   */
  writeProbe(bytes: number): void {
    assert(this.db.inTransaction, "the disk probe is written inside a transaction");
    this.sql.setMeta.run(META_DISK_PROBE, "x".repeat(bytes));
  }

  clearProbe(): void {
    assert(this.db.inTransaction, "the disk probe is cleared inside a transaction");
    this.sql.deleteMeta.run(META_DISK_PROBE);
  }

  close(): void {
    for (const statement of Object.values(this.sql)) statement.finalize();
  }
}
