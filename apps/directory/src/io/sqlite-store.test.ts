/**
 * The sqlite store is the node's memory across restarts: after close and reopen every answer is
 * the same and replaying the applied commands elsewhere rebuilds the same state; the driver's
 * batch transaction commits or drops a run of entries as one; a snapshot exported from one store
 * and imported into another answers every read the same, and a damaged or mismatched snapshot
 * changes nothing; the file is in WAL mode, and a file it cannot read is refused loudly.
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
  type Command,
  type MetadataStore,
} from "../core/index.ts";
import {
  apply,
  applyOk,
  chunk,
  commit,
  groupConfig,
  sha,
  T0_MS,
  verifier,
} from "../testing/fixtures.ts";
import { partStoredName } from "@ftfs/protocol/core";
import { SCHEMA_VERSION } from "./sqlite-schema.ts";
import { SqliteMetadataStore, StoreCorruptError } from "./sqlite-store.ts";

const folders: string[] = [];
const openStores: SqliteMetadataStore[] = [];
afterEach(() => {
  for (const store of openStores.splice(0)) store.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function freshPath(): string {
  const folder = mkdtempSync(join(tmpdir(), "ftfs-dir-sqlite-"));
  folders.push(folder);
  return join(folder, "directory.sqlite");
}

/** Opened stores are closed after each test even when an expectation fails midway. */
function openStore(path = freshPath()): SqliteMetadataStore {
  const store = SqliteMetadataStore.open(path);
  openStores.push(store);
  return store;
}

function closeStore(store: SqliteMetadataStore): void {
  openStores.splice(openStores.indexOf(store), 1);
  store.close();
}

/** Everything a client or the outbox could ask, as one comparable value. */
/** The open upload's part, as a read finds it: its manifest, or the error's code. */
function partManifest(store: MetadataStore): unknown {
  const found = findManifest(store, "alice", partStoredName("mpu1", 1), undefined);
  return found.ok ? found.value.manifest : found.error.code;
}

function reads(store: MetadataStore) {
  return {
    lastApplied: store.lastApplied(),
    users: ["alice", "bob", "carol", "dave", "erin"].map((uid) => store.getUser(uid)),
    userList: store.listUsers(10),
    usage: ["alice", "bob", "carol", "dave", "erin"].map((uid) => store.getUsage(uid)),
    files: ["alice", "bob", "carol"].map((uid) => listLiveFiles(store, uid)),
    manifests: [undefined, 1, 2, 3, 4].map((version) => {
      const found = findManifest(store, "alice", "a.txt", version);
      return found.ok ? found.value : found.error.message;
    }),
    versions: [
      store.listVersions("alice", "a.txt", 1),
      store.listVersions("bob", "b", 1),
      store.listVersions("carol", "c", 1),
    ],
    deletedThrough: store.deletedThrough("alice", "a.txt"),
    upload: store.findUpload("alice", "u2"),
    deletion: store.findDeleteRequest("alice", "r1"),
    groups: store.listGroups(),
    noticeGroups: store.noticeGroups(10),
    notices: ["s1", "s2", "s3"].map((group) => store.pendingNotices(group, 100)),
    // The chunk index, for every (group, chunk) the history can name.
    kept: ["s1", "s2"].map((group) =>
      [1, 2, 3, 4, 5, 6].map((n) => store.chunkKept(group, sha(n))),
    ),
    swept: ["u8", "u9", "u1"].map((uploadId) => store.uploadSwept("alice", uploadId)),
    accessKeys: ["erin", "dave"].map((uid) => store.listAccessKeys(uid)),
    multiparts: [
      store.listMultiparts("alice", "", null, 10),
      store.listMultiparts("alice", "/photos/b", { name: "/photos/a", uploadId: "z" }, 10),
      store.countMultiparts("alice"),
      store.getMultipart("alice", "mpu1"),
      partManifest(store),
    ],
  };
}

/** What reads() answers once the open multipart upload's record is gone (its part stays). */
function expectedWithoutMultiparts(expected: ReturnType<typeof reads>): ReturnType<typeof reads> {
  return { ...expected, multiparts: [[], [], 0, undefined, "NO_SUCH_UPLOAD"] };
}

const SEALED = { keyId: "0a1b2c3d", nonce: "AAAAAAAAAAAAAAAA", ciphertext: "c2VjcmV0" };

/** A history touching every table; answers the commands applied, in log order. */
function buildHistory(store: MetadataStore): Command[] {
  const log: Command[] = [
    { type: "createUser", uid: "alice", atMs: T0_MS },
    { type: "setGroupConfig", config: groupConfig("s1", ["s1a", "s1b", "s1c"]), atMs: T0_MS },
    { type: "setGroupConfig", config: groupConfig("s2", ["s2a", "s2b"]), atMs: T0_MS },
    { type: "createUser", uid: "bob", atMs: T0_MS + 1 },
    commit("alice", "a.txt", "u1", [chunk(1, 10), chunk(2, 5, "s2")]),
    commit("alice", "a.txt", "u2", [chunk(3, 15)]),
    { type: "deleteFile", uid: "alice", name: "a.txt", requestId: "r1", atMs: T0_MS + 2 },
    { type: "ackNotices", group: "s1", throughIndex: 5, throughSeq: 0, atMs: T0_MS + 3 },
    commit("alice", "a.txt", "u3", [chunk(4, 1)]),
    commit("bob", "b", "u4", []),
    commit("bob", "b", "u5", [chunk(5, 7, "s2")]),
    {
      type: "userAdd",
      uid: "erin",
      verifier: verifier(1),
      admin: true,
      quotaBytes: 100,
      quotaFiles: null,
      atMs: T0_MS + 4,
    },
    {
      type: "userAdd",
      uid: "dave",
      verifier: verifier(2),
      admin: false,
      quotaBytes: null,
      quotaFiles: 3,
      atMs: T0_MS + 5,
    },
    commit("dave", "d", "u6", [chunk(6, 4)]),
    {
      type: "accessKeyAdd",
      uid: "erin",
      accessKeyId: "FTFSERINERINERINERIN",
      sealed: SEALED,
      atMs: T0_MS,
    },
    {
      type: "accessKeyAdd",
      uid: "dave",
      accessKeyId: "FTFSDAVEDAVEDAVEDAVE",
      sealed: SEALED,
      atMs: T0_MS,
    },
    { type: "userRemove", uid: "dave", atMs: T0_MS + 6 },
    {
      type: "sweepUploads",
      uploads: [
        { uid: "alice", uploadId: "u8" },
        { uid: "alice", uploadId: "u1" },
      ],
      atMs: T0_MS + 7,
    },
    { type: "bucketCreate", uid: "alice", bucket: "photos", atMs: T0_MS + 8 },
    {
      type: "multipartCreate",
      uid: "alice",
      uploadId: "mpu1",
      name: "/photos/big",
      attrs: { contentType: "video/mp4" },
      atMs: T0_MS + 8,
    },
    {
      ...commit("alice", partStoredName("mpu1", 1), "u10", [chunk(2, 5, "s2")]),
      attrs: { md5: "0123456789abcdef0123456789abcdef" },
    },
  ];
  for (const command of log) applyOk(store, command);
  return log;
}

describe("SqliteMetadataStore across restarts", () => {
  test("close and reopen: the same answers to every question", () => {
    const path = freshPath();
    const store = openStore(path);
    const log = buildHistory(store);
    store.writeMeta("raftTerm", "3");
    const before = reads(store);
    expect(before.lastApplied).toBe(log.length);
    // The ack at entry 8 took s1's notice of entry 5 and left the later ones.
    // Entry 7, the delete of a.txt, drops each of its kept uploads (u1's and u2's) in s1.
    expect(before.notices[0]?.map((item) => item.index)).toEqual([6, 7, 7, 9, 14]);
    expect(before.swept).toEqual([true, false, false]);
    closeStore(store);
    const reopened = openStore(path);
    expect(reads(reopened)).toEqual(before);
    expect(reopened.readMeta("raftTerm")).toBe("3");
    expect(applyOk(reopened, commit("alice", "a.txt", "u7", [chunk(6, 2)])).version).toBe(5);
    expect(reopened.lastApplied()).toBe(log.length + 1);
  });

  test("replaying the applied commands into a memory store rebuilds the same state", () => {
    const store = openStore();
    const log = buildHistory(store);
    const replica = new MemoryMetadataStore();
    for (const [at, command] of log.entries()) {
      expect(applyCommand(replica, at + 1, command).ok).toBe(true);
    }
    expect(reads(replica)).toEqual(reads(store));
  });

  test("readMeta and writeMeta keep small values apart from lastApplied", () => {
    const path = freshPath();
    const store = openStore(path);
    expect(store.readMeta("members")).toBeUndefined();
    store.writeMeta("members", "[]");
    store.writeMeta("members", '["d1"]');
    expect(store.readMeta("members")).toBe('["d1"]');
    expect(store.lastApplied()).toBe(0);
    closeStore(store);
    const reopened = openStore(path);
    expect(reopened.readMeta("members")).toBe('["d1"]');
    expect(reopened.lastApplied()).toBe(0);
  });

  test("the database runs in WAL mode", () => {
    const path = freshPath();
    closeStore(openStore(path));
    const raw = new Database(path);
    expect(raw.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode).toBe(
      "wal",
    );
    raw.close();
  });

  test("a file of another schema version is refused", () => {
    const path = freshPath();
    closeStore(openStore(path));
    const raw = new Database(path);
    raw.run("UPDATE meta SET value = '99' WHERE key = 'schemaVersion'");
    raw.close();
    expect(() => SqliteMetadataStore.open(path)).toThrow(StoreCorruptError);
  });

  test("a schema version 1 file, with its command log, is refused and its rows kept", () => {
    const path = freshPath();
    const raw = new Database(path, { create: true });
    // The tables version 1 wrote that matter here: meta and its own command log.
    raw.run("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
    raw.run("CREATE TABLE log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, command TEXT)");
    raw.run("INSERT INTO meta (key, value) VALUES ('schemaVersion', '1'), ('lastApplied', '1')");
    const command = JSON.stringify({ type: "createUser", uid: "alice", atMs: T0_MS });
    raw.prepare("INSERT INTO log (idx, term, command) VALUES (1, 1, ?)").run(command);
    raw.close();
    expect(() => SqliteMetadataStore.open(path)).toThrow(
      new RegExp(`schema version 1;.* reads ${SCHEMA_VERSION}`),
    );
    expect(() => SqliteMetadataStore.open(path)).toThrow(StoreCorruptError);
    const after = new Database(path, { readonly: true });
    expect(after.query("SELECT value FROM meta WHERE key = 'schemaVersion'").get()).toEqual({
      value: "1",
    });
    expect(after.query("SELECT idx, term, command FROM log").all()).toEqual([
      { idx: 1, term: 1, command },
    ]);
    after.close();
  });

  test("a schema version 2 file is migrated: users keep their rows, usage is computed", () => {
    const path = freshPath();
    const store = openStore(path);
    applyOk(store, { type: "createUser", uid: "alice", atMs: T0_MS });
    applyOk(store, { type: "setGroupConfig", config: groupConfig("s1", ["s1a"]), atMs: T0_MS });
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 10)]));
    applyOk(store, commit("alice", "a", "u2", [chunk(2, 30)]));
    applyOk(store, commit("alice", "b", "u3", [chunk(3, 5)]));
    applyOk(store, { type: "deleteFile", uid: "alice", name: "b", requestId: "r", atMs: T0_MS });
    applyOk(store, commit("alice", "c", "u4", [chunk(4, 7)]));
    const expected = reads(store);
    closeStore(store);
    // Turn the file back into what schema 2 wrote: no usage table, users of two columns.
    const raw = new Database(path);
    raw.run("ALTER TABLE versions DROP COLUMN marker");
    raw.run("DROP TABLE usage");
    raw.run("ALTER TABLE versions DROP COLUMN pruned");
    raw.run(
      "CREATE TABLE old_users (uid TEXT PRIMARY KEY, created_at_ms INTEGER NOT NULL) WITHOUT ROWID",
    );
    raw.run("INSERT INTO old_users SELECT uid, created_at_ms FROM users");
    raw.run("DROP TABLE users");
    raw.run("ALTER TABLE old_users RENAME TO users");
    raw.run("ALTER TABLE versions DROP COLUMN attrs");
    raw.run("DROP TABLE buckets");
    raw.run("ALTER TABLE raft_log DROP COLUMN membership");
    raw.run("ALTER TABLE raft_snapshot DROP COLUMN membership");
    raw.run("UPDATE meta SET value = '2' WHERE key = 'schemaVersion'");
    raw.close();
    const migrated = openStore(path);
    expect(reads(migrated)).toEqual(expected);
    // a keeps both its versions (10 + 30 bytes), c its one (7); b was deleted.
    expect(migrated.getUsage("alice")).toEqual({ bytes: 47, files: 2 });
    expect(migrated.readMeta("schemaVersion")).toBe(String(SCHEMA_VERSION));
  });

  test("a schema version 3 file is migrated: the chunk index is built from its versions", () => {
    const path = freshPath();
    const store = openStore(path);
    const log = buildHistory(store);
    const expected = reads(store);
    expect(expected.kept.flat().some(Boolean)).toBe(true);
    closeStore(store);
    // Turn the file back into what schema 3 wrote: no chunk index, no swept uploads.
    const raw = new Database(path);
    raw.run("ALTER TABLE versions DROP COLUMN marker");
    raw.run("DROP TABLE kept_chunks");
    raw.run("DROP TABLE swept_uploads");
    raw.run("DROP TABLE access_keys");
    raw.run("ALTER TABLE versions DROP COLUMN pruned");
    // Schema 3 counted only the newest version of each name; the migration recounts.
    raw.run("UPDATE usage SET bytes = 0");
    raw.run("ALTER TABLE versions DROP COLUMN attrs");
    raw.run("DROP TABLE buckets");
    raw.run("DROP TABLE multipart_uploads");
    raw.run("ALTER TABLE raft_log DROP COLUMN membership");
    raw.run("ALTER TABLE raft_snapshot DROP COLUMN membership");
    raw.run("UPDATE meta SET value = '3' WHERE key = 'schemaVersion'");
    raw.close();
    const migrated = openStore(path);
    // Schema 3 could not sweep: everything but the swept records is as it was.
    expect(reads(migrated)).toEqual({
      ...expectedWithoutMultiparts(expected),
      swept: [false, false, false],
      accessKeys: [[], []],
    });
    expect(migrated.readMeta("schemaVersion")).toBe(String(SCHEMA_VERSION));
    expect(migrated.lastApplied()).toBe(log.length);
  });

  test("a schema version 4 file is migrated: it gains the access keys, empty", () => {
    const path = freshPath();
    const store = openStore(path);
    const log = buildHistory(store);
    const expected = reads(store);
    closeStore(store);
    const raw = new Database(path);
    raw.run("ALTER TABLE versions DROP COLUMN marker");
    raw.run("DROP TABLE access_keys");
    raw.run("ALTER TABLE versions DROP COLUMN attrs");
    raw.run("DROP TABLE buckets");
    raw.run("DROP TABLE multipart_uploads");
    raw.run("ALTER TABLE raft_log DROP COLUMN membership");
    raw.run("ALTER TABLE raft_snapshot DROP COLUMN membership");
    raw.run("UPDATE meta SET value = '4' WHERE key = 'schemaVersion'");
    raw.close();
    const migrated = openStore(path);
    expect(expected.accessKeys[0]).toHaveLength(1);
    const noUploads = expectedWithoutMultiparts(expected);
    expect(reads(migrated)).toEqual({ ...noUploads, accessKeys: [[], []] });
    expect(migrated.readMeta("schemaVersion")).toBe(String(SCHEMA_VERSION));
    const sealed = { keyId: "0a1b2c3d", nonce: "AAAAAAAAAAAAAAAA", ciphertext: "c2VjcmV0" };
    migrated.applyEntry(log.length + 1, (tx) =>
      tx.putAccessKey({
        accessKeyId: "FTFSAAAAAAAAAAAAAAAA",
        uid: "alice",
        sealed,
        createdAtMs: 1,
      }),
    );
    expect(migrated.getAccessKey("FTFSAAAAAAAAAAAAAAAA")?.sealed).toEqual(sealed);
  });

  test("a schema version 8 file is migrated: its Raft log and snapshot gain configurations, none set", () => {
    const path = freshPath();
    const store = openStore(path);
    buildHistory(store);
    const expected = reads(store);
    closeStore(store);
    const raw = new Database(path);
    raw.run("ALTER TABLE raft_log DROP COLUMN membership");
    raw.run("ALTER TABLE raft_snapshot DROP COLUMN membership");
    raw.run("UPDATE meta SET value = '8' WHERE key = 'schemaVersion'");
    raw.close();
    const migrated = openStore(path);
    expect(reads(migrated)).toEqual(expected);
    expect(migrated.readMeta("schemaVersion")).toBe(String(SCHEMA_VERSION));
    const columns = new Database(path).query("SELECT name FROM pragma_table_info('raft_log')");
    expect(columns.all().map((row) => (row as { name: string }).name)).toContain("membership");
  });

  test("a schema version 7 file is migrated: no delete markers, no bucket versioned", () => {
    const path = freshPath();
    const store = openStore(path);
    buildHistory(store);
    const expected = reads(store);
    closeStore(store);
    const raw = new Database(path);
    raw.run("ALTER TABLE versions DROP COLUMN marker");
    raw.run("ALTER TABLE buckets DROP COLUMN versioning");
    raw.run("ALTER TABLE raft_log DROP COLUMN membership");
    raw.run("ALTER TABLE raft_snapshot DROP COLUMN membership");
    raw.run("UPDATE meta SET value = '7' WHERE key = 'schemaVersion'");
    raw.close();
    const migrated = openStore(path);
    expect(reads(migrated)).toEqual(expected);
    expect(migrated.readMeta("schemaVersion")).toBe(String(SCHEMA_VERSION));
  });

  test("a schema version 6 file is migrated: it gains the multipart uploads, empty", () => {
    const path = freshPath();
    const store = openStore(path);
    buildHistory(store);
    const expected = reads(store);
    closeStore(store);
    const raw = new Database(path);
    raw.run("ALTER TABLE versions DROP COLUMN marker");
    raw.run("DROP TABLE multipart_uploads");
    raw.run("ALTER TABLE buckets DROP COLUMN versioning");
    raw.run("ALTER TABLE raft_log DROP COLUMN membership");
    raw.run("ALTER TABLE raft_snapshot DROP COLUMN membership");
    raw.run("UPDATE meta SET value = '6' WHERE key = 'schemaVersion'");
    raw.close();
    const migrated = openStore(path);
    expect(expected.multiparts[2]).toBe(1);
    expect(reads(migrated)).toEqual(expectedWithoutMultiparts(expected));
    expect(migrated.readMeta("schemaVersion")).toBe(String(SCHEMA_VERSION));
  });

  test("a damaged row throws StoreCorruptError instead of answering garbage", () => {
    const path = freshPath();
    const store = openStore(path);
    buildHistory(store);
    closeStore(store);
    const raw = new Database(path);
    raw.run("UPDATE versions SET chunks = '[{\"id\": 1}]' WHERE upload_id = 'u3'");
    raw.close();
    const reopened = openStore(path);
    expect(() => reopened.latestVersion("alice", "a.txt")).toThrow(StoreCorruptError);
  });
});

describe("SqliteMetadataStore.transaction", () => {
  test("several entries commit together and survive a restart", () => {
    const path = freshPath();
    const store = openStore(path);
    const answers = store.transaction(() => [
      applyOk(store, { type: "createUser", uid: "alice", atMs: T0_MS }),
      applyOk(store, { type: "createUser", uid: "bob", atMs: T0_MS }),
    ]);
    expect(answers).toEqual([{ created: true }, { created: true }]);
    expect(store.lastApplied()).toBe(2);
    closeStore(store);
    const reopened = openStore(path);
    expect(reopened.lastApplied()).toBe(2);
    expect(reopened.getUser("bob")).toEqual({ uid: "bob", createdAtMs: T0_MS });
  });

  test("a throw drops every entry applied in it and restores lastApplied", () => {
    const path = freshPath();
    const store = openStore(path);
    buildHistory(store);
    const before = reads(store);
    const atMs = T0_MS;
    expect(() =>
      store.transaction(() => {
        applyOk(store, { type: "createUser", uid: "carol", atMs: T0_MS });
        applyOk(store, commit("carol", "c", "u9", [chunk(9, 3, "s2")]));
        applyOk(store, { type: "ackNotices", group: "s2", throughIndex: 99, throughSeq: 9, atMs });
        applyOk(store, { type: "setGroupConfig", config: groupConfig("s3", ["s3a"]), atMs: 0 });
        store.writeMeta("raftCommit", "99");
        expect(store.lastApplied()).toBe(before.lastApplied + 4);
        throw new Error("fsync failed");
      }),
    ).toThrow("fsync failed");
    expect(reads(store)).toEqual(before);
    expect(store.readMeta("raftCommit")).toBeUndefined();
    // The in-memory mark was put back too: the next index is the one after the old mark.
    const carol = { type: "createUser", uid: "carol", atMs } as const;
    expect(() => applyCommand(store, before.lastApplied + 5, carol)).toThrow();
    expect(applyCommand(store, before.lastApplied + 1, carol).ok).toBe(true);
    expect(store.lastApplied()).toBe(before.lastApplied + 1);
    closeStore(store);
    const reopened = openStore(path);
    expect(reopened.lastApplied()).toBe(before.lastApplied + 1);
    expect(reopened.listLiveFiles("carol", 10)).toEqual([]);
    expect(reopened.pendingNotices("s2", 100)).toEqual(before.notices[1] ?? []);
  });

  test("an entry whose apply throws inside it is dropped alone", () => {
    const store = openStore();
    store.transaction(() => {
      applyOk(store, { type: "createUser", uid: "alice", atMs: T0_MS });
      expect(() =>
        store.applyEntry(2, (tx) => {
          tx.putUser({ uid: "bob", createdAtMs: T0_MS });
          throw new Error("bug in apply");
        }),
      ).toThrow("bug in apply");
      expect(store.lastApplied()).toBe(1);
      applyOk(store, { type: "createUser", uid: "carol", atMs: T0_MS });
    });
    expect(store.lastApplied()).toBe(2);
    expect(store.getUser("alice")?.uid).toBe("alice");
    expect(store.getUser("bob")).toBeUndefined();
    expect(store.getUser("carol")?.uid).toBe("carol");
  });
});

describe("SqliteMetadataStore snapshots", () => {
  test("exportState is gzipped JSON carrying lastApplied", () => {
    const store = openStore();
    buildHistory(store);
    const data = store.exportState();
    const dump: unknown = JSON.parse(
      new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(data))),
    );
    expect(dump).toMatchObject({ lastApplied: store.lastApplied() });
    expect((dump as { users: unknown[] }).users.length).toBe(3);
  });

  test("export then import into a fresh store gives identical reads, also after a restart", () => {
    const source = openStore();
    buildHistory(source);
    const expected = reads(source);
    const data = source.exportState();
    const path = freshPath();
    const importer = openStore(path);
    importer.transaction(() => importer.importState(data, source.lastApplied()));
    expect(reads(importer)).toEqual(expected);
    closeStore(importer);
    const target = openStore(path);
    expect(reads(target)).toEqual(expected);
    // It carries on from the snapshot's index as if it had applied every entry itself.
    expect(() => applyCommand(target, 1, { type: "createUser", uid: "x", atMs: 0 })).toThrow();
    const next = commit("alice", "a.txt", "u6", [chunk(6, 2)]);
    expect(applyOk(target, next)).toEqual(applyOk(source, next));
    expect(reads(target)).toEqual(reads(source));
  });

  test("a snapshot of schema 2 (no usage, users of two columns) imports with usage computed", () => {
    const source = openStore();
    buildHistory(source);
    const dump = JSON.parse(
      new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(source.exportState()))),
    ) as { usage?: unknown; users: Array<Record<string, unknown>> };
    delete dump.usage;
    dump.users = dump.users.map((user) => ({ uid: user.uid, created_at_ms: user.created_at_ms }));
    const old = Bun.gzipSync(new TextEncoder().encode(JSON.stringify(dump)));
    const target = openStore();
    target.transaction(() => target.importState(old, source.lastApplied()));
    for (const uid of ["alice", "bob", "dave"]) {
      expect(target.getUsage(uid)).toEqual(source.getUsage(uid));
    }
    expect(target.getUsage("alice").bytes).toBeGreaterThan(0);
  });

  test("import replaces the state rather than merging into it", () => {
    const source = openStore();
    buildHistory(source);
    const target = openStore();
    applyOk(target, { type: "createUser", uid: "carol", atMs: T0_MS });
    applyOk(target, { type: "setGroupConfig", config: groupConfig("s3", ["s3a"]), atMs: 0 });
    applyOk(target, commit("carol", "c", "u1", [chunk(1, 1, "s3")]));
    expect(target.noticeGroups(10)).toEqual(["s3"]);
    target.transaction(() => target.importState(source.exportState(), source.lastApplied()));
    expect(reads(target)).toEqual(reads(source));
    expect(target.getUser("carol")).toBeUndefined();
    expect(target.getGroup("s3")).toBeUndefined();
    expect(target.findUpload("carol", "u1")).toBeUndefined();
    expect(target.noticeGroups(10)).toEqual(["s1", "s2"]);
  });

  test("a damaged snapshot or an index mismatch is refused and changes nothing", () => {
    const source = openStore();
    buildHistory(source);
    const good = source.exportState();
    const gzipText = (text: string) => Bun.gzipSync(new TextEncoder().encode(text));
    const target = openStore();
    applyOk(target, { type: "createUser", uid: "carol", atMs: T0_MS });
    applyOk(target, { type: "setGroupConfig", config: groupConfig("s3", ["s3a"]), atMs: 0 });
    applyOk(target, commit("carol", "c", "u1", [chunk(1, 1, "s3")]));
    const before = reads(target);
    const index = source.lastApplied();
    const damaged: Array<[string, Uint8Array, number]> = [
      ["not gzip", new TextEncoder().encode("hello"), index],
      ["cut short", good.slice(0, Math.floor(good.length / 2)), index],
      ["gzipped non-JSON", gzipText("{users: "), index],
      ["JSON of another shape", gzipText(JSON.stringify({ lastApplied: index })), index],
      [
        "a row missing a field",
        gzipText(
          JSON.stringify({
            lastApplied: index,
            users: [{ uid: "mallory" }],
            versions: [],
            groups: [],
            outbox: [],
          }),
        ),
        index,
      ],
      ["the wrong index", good, index + 1],
      ["an earlier index", good, index - 1],
    ];
    for (const [what, data, at] of damaged) {
      expect(() => target.transaction(() => target.importState(data, at)), what).toThrow(
        StoreCorruptError,
      );
      expect(reads(target), what).toEqual(before);
      // Refused before anything is touched, so even outside a transaction nothing changes.
      expect(() => target.importState(data, at), what).toThrow(StoreCorruptError);
      expect(reads(target), what).toEqual(before);
    }
    expect(apply(target, { type: "createUser", uid: "dave", atMs: T0_MS }).ok).toBe(true);
    expect(target.lastApplied()).toBe(before.lastApplied + 1);
  });

  test("an import that fails halfway inside transaction() leaves the old state", () => {
    const target = openStore();
    applyOk(target, { type: "createUser", uid: "carol", atMs: T0_MS });
    const before = reads(target);
    // Well-formed, but the same user twice breaks the primary key after the tables were cleared.
    const twice = Bun.gzipSync(
      new TextEncoder().encode(
        JSON.stringify({
          lastApplied: 5,
          users: [
            { uid: "alice", created_at_ms: T0_MS },
            { uid: "alice", created_at_ms: T0_MS },
          ],
          versions: [],
          groups: [],
          outbox: [],
        }),
      ),
    );
    expect(() => target.transaction(() => target.importState(twice, 5))).toThrow();
    expect(reads(target)).toEqual(before);
    expect(target.lastApplied()).toBe(1);
  });
});
