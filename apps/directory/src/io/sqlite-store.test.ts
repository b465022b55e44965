/**
 * The sqlite store is the node's memory across restarts: after close and reopen every answer is
 * the same, the log holds exactly entries 1..lastApplied and replaying it rebuilds the same
 * state, the file is in WAL mode, and a file it cannot read is refused loudly, not guessed at.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyCommand,
  findManifest,
  listLiveFiles,
  MemoryMetadataStore,
  type MetadataStore,
} from "../core/index.ts";
import { applyOk, chunk, commit, seedBasics, T0_MS } from "../testing/fixtures.ts";
import { SqliteMetadataStore, StoreCorruptError } from "./sqlite-store.ts";

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function freshPath(): string {
  const folder = mkdtempSync(join(tmpdir(), "ftfs-dir-sqlite-"));
  folders.push(folder);
  return join(folder, "directory.sqlite");
}

/** Everything a client or the outbox could ask, as one comparable value. */
function snapshot(store: MetadataStore) {
  return {
    lastApplied: store.lastApplied(),
    users: ["alice", "bob"].map((uid) => store.getUser(uid)),
    files: ["alice", "bob"].map((uid) => listLiveFiles(store, uid)),
    manifests: [undefined, 1, 2, 3, 4].map((version) => {
      const found = findManifest(store, "alice", "a.txt", version);
      return found.ok ? found.value : found.error.message;
    }),
    versions: store.listVersions("alice", "a.txt", 1),
    groups: store.listGroups(),
    notices: store.noticeGroups(10).map((group) => store.pendingNotices(group, 100)),
  };
}

function buildHistory(store: MetadataStore): void {
  seedBasics(store);
  applyOk(store, { type: "createUser", uid: "bob", atMs: T0_MS });
  applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10), chunk(2, 5, "s2")]));
  applyOk(store, commit("alice", "a.txt", "u2", [chunk(3, 15)]));
  applyOk(store, { type: "deleteFile", uid: "alice", name: "a.txt", requestId: "r1", atMs: T0_MS });
  applyOk(store, commit("alice", "a.txt", "u3", [chunk(4, 1)]));
  applyOk(store, commit("bob", "b", "u4", []));
  const first = store.pendingNotices("s1", 1)[0];
  if (first !== undefined) store.ackNotice(first.index, first.seq);
}

describe("SqliteMetadataStore across restarts", () => {
  test("close and reopen: the same answers to every question", () => {
    const path = freshPath();
    const store = SqliteMetadataStore.open(path);
    buildHistory(store);
    store.saveHardState({ term: 1, votedFor: "d1" });
    const before = snapshot(store);
    store.close();
    const reopened = SqliteMetadataStore.open(path);
    expect(snapshot(reopened)).toEqual(before);
    expect(reopened.readHardState()).toEqual({ term: 1, votedFor: "d1" });
    expect(applyOk(reopened, commit("alice", "a.txt", "u5", [chunk(5, 2)])).version).toBe(5);
    reopened.close();
  });

  test("the log is exactly 1..lastApplied, and replaying it rebuilds the same state", () => {
    const path = freshPath();
    const store = SqliteMetadataStore.open(path);
    buildHistory(store);
    store.close();
    const reopened = SqliteMetadataStore.open(path);
    const log = reopened.readLog(1, 1000);
    expect(log.map((item) => item.index)).toEqual(
      Array.from({ length: reopened.lastApplied() }, (_, at) => at + 1),
    );
    const replica = new MemoryMetadataStore();
    for (const item of log) applyCommand(replica, item.index, item.command, item.term);
    const acked = snapshot(reopened);
    const replayed = snapshot(replica);
    // The replica never delivered anything, so it still holds the notice the original acked.
    expect({ ...replayed, notices: [] }).toEqual({ ...acked, notices: [] });
    reopened.close();
  });

  test("the database runs in WAL mode", () => {
    const path = freshPath();
    SqliteMetadataStore.open(path).close();
    const raw = new Database(path);
    expect(raw.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode).toBe(
      "wal",
    );
    raw.close();
  });

  test("a file of another schema version is refused", () => {
    const path = freshPath();
    SqliteMetadataStore.open(path).close();
    const raw = new Database(path);
    raw.run("UPDATE meta SET value = '99' WHERE key = 'schemaVersion'");
    raw.close();
    expect(() => SqliteMetadataStore.open(path)).toThrow(StoreCorruptError);
  });

  test("a damaged row throws StoreCorruptError instead of answering garbage", () => {
    const path = freshPath();
    const store = SqliteMetadataStore.open(path);
    buildHistory(store);
    store.close();
    const raw = new Database(path);
    raw.run("UPDATE versions SET chunks = '[{\"id\": 1}]' WHERE upload_id = 'u3'");
    raw.close();
    const reopened = SqliteMetadataStore.open(path);
    expect(() => reopened.latestVersion("alice", "a.txt")).toThrow(StoreCorruptError);
    reopened.close();
  });
});
