/**
 * Raft's durable state on SQLite: configuration entries and the snapshot's configuration
 * come back as they were saved, and a damaged configuration stops the node (StoreCorruptError)
 * rather than being guessed at.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { raft } from "@ftfs/protocol/core";
import { RaftLog } from "./raft-log.ts";
import { SqliteMetadataStore, StoreCorruptError } from "./sqlite-store.ts";

const folders: string[] = [];

afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

async function opened(): Promise<{ store: SqliteMetadataStore; log: RaftLog }> {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-raft-log-"));
  folders.push(folder);
  const store = SqliteMetadataStore.open(join(folder, "directory.db"));
  return { store, log: new RaftLog(store.database) };
}

const MEMBERSHIP: raft.Membership = {
  members: [
    { id: raft.raftId("d1"), address: "127.0.0.1:7101", voter: true },
    { id: raft.raftId("d4"), address: "127.0.0.1:7104", voter: false },
  ],
};

test("configuration entries and the snapshot's configuration survive a restart", async () => {
  const { store, log } = await opened();
  const snapshot: raft.Snapshot = {
    index: 2,
    term: 1,
    data: new Uint8Array([1]),
    membership: MEMBERSHIP,
  };
  const entries: raft.Entry[] = [
    { index: 3, term: 1, command: new Uint8Array([7]) },
    { index: 4, term: 2, command: null, membership: MEMBERSHIP },
    { index: 5, term: 2, command: null },
  ];
  store.transaction(() =>
    log.save({ hardState: { term: 2, vote: null, commit: 4 }, entries: [], snapshot }),
  );
  store.transaction(() => log.save({ hardState: null, entries, snapshot: null }));
  expect(log.load()).toEqual({ hardState: { term: 2, vote: null, commit: 4 }, snapshot, entries });
  log.close();
  store.close();
});

test("a damaged configuration is refused, not guessed at", async () => {
  const { store, log } = await opened();
  const entries: raft.Entry[] = [{ index: 1, term: 1, command: null, membership: MEMBERSHIP }];
  store.transaction(() => log.save({ hardState: null, entries, snapshot: null }));
  store.database.run('UPDATE raft_log SET membership = \'{"members": [{"id": ""}]}\'');
  expect(() => log.load()).toThrow(StoreCorruptError);
  store.database.run("UPDATE raft_log SET membership = 'not json'");
  expect(() => log.load()).toThrow("raft log entry 1: configuration is not JSON");
  log.close();
  store.close();
});
