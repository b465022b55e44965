/**
 * One behaviour suite, run against every MetadataStore: what a write inside appendAndApply
 * makes visible, that a throw inside it leaves no trace (no log entry, no state, no notice),
 * that log indexes follow lastApplied, that listings sort names by code point the same way in
 * every store, and that the outbox hands notices out per group in order until acknowledged.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  MemoryMetadataStore,
  type LogEntry,
  type MetadataStore,
  type OutboxNotice,
  type VersionRecord,
} from "../core/index.ts";
import { chunk, commit, groupConfig, sha, T0_MS } from "../testing/fixtures.ts";
import { SqliteMetadataStore } from "./sqlite-store.ts";

interface Implementation {
  readonly name: string;
  readonly open: () => MetadataStore;
}

const folders: string[] = [];
const openStores: MetadataStore[] = [];
afterEach(() => {
  for (const store of openStores.splice(0)) store.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const IMPLEMENTATIONS: readonly Implementation[] = [
  { name: "MemoryMetadataStore", open: () => new MemoryMetadataStore() },
  {
    name: "SqliteMetadataStore",
    open: () => {
      const folder = mkdtempSync(join(tmpdir(), "ftfs-dir-store-"));
      folders.push(folder);
      return SqliteMetadataStore.open(join(folder, "directory.sqlite"));
    },
  },
];

function live(name: string, version: number, uploadId: string, uid = "alice"): VersionRecord {
  const { bytes, sha256, chunks } = commit(uid, name, uploadId, [chunk(version, 10)]);
  return {
    kind: "live",
    uid,
    name,
    version,
    bytes,
    sha256,
    createdAtMs: T0_MS + version,
    uploadId,
    chunks,
  };
}

function entry(index: number): LogEntry {
  return { index, term: 1, command: { type: "createUser", uid: `u${index}`, atMs: T0_MS } };
}

function notice(index: number, seq: number, group: string, name: string): OutboxNotice {
  return { index, seq, group, notice: { op: "dropRefs", body: { uid: "alice", name } } };
}

for (const implementation of IMPLEMENTATIONS) {
  describe(implementation.name, () => {
    const open = (): MetadataStore => {
      const store = implementation.open();
      openStores.push(store);
      return store;
    };

    test("a fresh store is empty", () => {
      const store = open();
      expect(store.lastApplied()).toBe(0);
      expect(store.readHardState()).toEqual({ term: 0, votedFor: null });
      expect(store.listGroups()).toEqual([]);
      expect(store.readLog(1, 10)).toEqual([]);
      expect(store.noticeGroups(10)).toEqual([]);
      expect(store.getUser("alice")).toBeUndefined();
      expect(store.latestVersion("alice", "a")).toBeUndefined();
    });

    test("writes in appendAndApply are visible afterwards, with the entry and lastApplied", () => {
      const store = open();
      const first = entry(1);
      const answer = store.appendAndApply(first, (tx) => {
        tx.putUser({ uid: "alice", createdAtMs: T0_MS });
        tx.putVersion(live("a", 1, "up1"));
        tx.putVersion({
          kind: "tombstone",
          uid: "alice",
          name: "a",
          version: 2,
          createdAtMs: T0_MS,
          requestId: "r1",
          deletedVersion: 1,
        });
        tx.putVersion(live("a", 3, "up3"));
        tx.putGroup(groupConfig("s1", ["s1a"], 1));
        tx.putGroup(groupConfig("s1", ["s1a", "s1b"], 2));
        tx.enqueueNotice(notice(1, 0, "s1", "a"));
        return "done";
      });
      expect(answer).toBe("done");
      expect(store.lastApplied()).toBe(1);
      expect(store.readLog(1, 10)).toEqual([first]);
      expect(store.getUser("alice")).toEqual({ uid: "alice", createdAtMs: T0_MS });
      expect(store.latestVersion("alice", "a")).toEqual(live("a", 3, "up3"));
      expect(store.getVersion("alice", "a", 1)).toEqual(live("a", 1, "up1"));
      expect(store.latestTombstone("alice", "a")?.version).toBe(2);
      expect(store.listVersions("alice", "a", 2).map((record) => record.version)).toEqual([2, 3]);
      expect(store.findUpload("alice", "up3")?.version).toBe(3);
      expect(store.findUpload("bob", "up3")).toBeUndefined();
      expect(store.findDeleteRequest("alice", "r1")?.deletedVersion).toBe(1);
      expect(store.getGroup("s1")).toEqual(groupConfig("s1", ["s1a", "s1b"], 2));
      expect(store.pendingNotices("s1", 10)).toEqual([notice(1, 0, "s1", "a")]);
    });

    test("a throw inside appendAndApply leaves no trace", () => {
      const store = open();
      store.appendAndApply(entry(1), (tx) => tx.putGroup(groupConfig("s1", ["s1a"], 1)));
      expect(() =>
        store.appendAndApply(entry(2), (tx) => {
          tx.putUser({ uid: "alice", createdAtMs: T0_MS });
          tx.putVersion(live("a", 1, "up1"));
          tx.putGroup(groupConfig("s1", ["s1b"], 2));
          tx.enqueueNotice(notice(2, 0, "s1", "a"));
          throw new Error("bug in apply");
        }),
      ).toThrow("bug in apply");
      expect(store.lastApplied()).toBe(1);
      expect(store.readLog(1, 10).length).toBe(1);
      expect(store.getUser("alice")).toBeUndefined();
      expect(store.latestVersion("alice", "a")).toBeUndefined();
      expect(store.findUpload("alice", "up1")).toBeUndefined();
      expect(store.getGroup("s1")?.epoch).toBe(1);
      expect(store.noticeGroups(10)).toEqual([]);
      store.appendAndApply(entry(2), (tx) => tx.putUser({ uid: "alice", createdAtMs: T0_MS }));
      expect(store.lastApplied()).toBe(2);
    });

    test("log indexes follow lastApplied; writes outside appendAndApply are refused", () => {
      const store = open();
      expect(() => store.appendAndApply(entry(2), () => undefined)).toThrow();
      store.appendAndApply(entry(1), () => undefined);
      expect(() => store.appendAndApply(entry(1), () => undefined)).toThrow();
      const writer = store as unknown as {
        putUser: (user: { uid: string; createdAtMs: number }) => void;
      };
      expect(() => writer.putUser({ uid: "x", createdAtMs: 0 })).toThrow();
      expect(store.readLog(1, 10).map((item) => item.index)).toEqual([1]);
    });

    test("a version number may not go backwards or repeat", () => {
      const store = open();
      store.appendAndApply(entry(1), (tx) => tx.putVersion(live("a", 2, "up2")));
      expect(() =>
        store.appendAndApply(entry(2), (tx) => tx.putVersion(live("a", 2, "other"))),
      ).toThrow();
      expect(() =>
        store.appendAndApply(entry(2), (tx) => tx.putVersion(live("a", 1, "other"))),
      ).toThrow();
      expect(store.latestVersion("alice", "a")?.version).toBe(2);
    });

    test("live files: newest live version per name, sorted by code point, bounded", () => {
      const store = open();
      const names = ["😀", "ｚ", "é", "a", "Z", "gone"];
      store.appendAndApply(entry(1), (tx) => {
        names.forEach((name, at) => tx.putVersion(live(name, 1, `up${at}`)));
        tx.putVersion(live("a", 2, "up-a2"));
        tx.putVersion({
          kind: "tombstone",
          uid: "alice",
          name: "gone",
          version: 2,
          createdAtMs: T0_MS,
          requestId: "r",
          deletedVersion: 1,
        });
        tx.putVersion(live("other-user", 1, "up-b", "bob"));
      });
      const listed = store.listLiveFiles("alice", 100);
      expect(listed.map((record) => record.name)).toEqual(["Z", "a", "é", "ｚ", "😀"]);
      expect(listed.find((record) => record.name === "a")?.version).toBe(2);
      expect(store.listLiveFiles("alice", 2).map((record) => record.name)).toEqual(["Z", "a"]);
      expect(store.listLiveFiles("nobody", 100)).toEqual([]);
    });

    test("the log gives back each command as it was appended", () => {
      const store = open();
      const commands: LogEntry["command"][] = [
        { type: "createUser", uid: "alice", atMs: T0_MS },
        { type: "setGroupConfig", config: groupConfig("s1", ["s1a", "s1b"], 3), atMs: T0_MS },
        commit("alice", "a", "up1", [chunk(1, 4096), chunk(2, 1, "s2")]),
        { type: "deleteFile", uid: "alice", name: "a", requestId: "r1", atMs: T0_MS },
      ];
      commands.forEach((command, at) =>
        store.appendAndApply({ index: at + 1, term: 1, command }, () => undefined),
      );
      expect(store.readLog(1, 100).map((item) => item.command)).toEqual(commands);
      expect(store.readLog(3, 1).map((item) => item.index)).toEqual([3]);
    });

    test("hard state is saved and read back", () => {
      const store = open();
      store.saveHardState({ term: 4, votedFor: "d2" });
      expect(store.readHardState()).toEqual({ term: 4, votedFor: "d2" });
      store.saveHardState({ term: 5, votedFor: null });
      expect(store.readHardState()).toEqual({ term: 5, votedFor: null });
    });

    test("the outbox hands out notices per group in (index, seq) order until acknowledged", () => {
      const store = open();
      store.appendAndApply(entry(1), (tx) => {
        tx.enqueueNotice(notice(1, 0, "s2", "x"));
        tx.enqueueNotice(notice(1, 1, "s1", "x"));
      });
      store.appendAndApply(entry(2), (tx) => tx.enqueueNotice(notice(2, 0, "s1", "y")));
      expect(store.noticeGroups(10)).toEqual(["s1", "s2"]);
      expect(store.noticeGroups(1)).toEqual(["s1"]);
      expect(store.pendingNotices("s1", 10)).toEqual([
        notice(1, 1, "s1", "x"),
        notice(2, 0, "s1", "y"),
      ]);
      expect(store.pendingNotices("s1", 1)).toEqual([notice(1, 1, "s1", "x")]);
      store.ackNotice(1, 1);
      store.ackNotice(1, 1);
      expect(store.pendingNotices("s1", 10)).toEqual([notice(2, 0, "s1", "y")]);
      store.ackNotice(1, 0);
      expect(store.noticeGroups(10)).toEqual(["s1"]);
      const commitNotice: OutboxNotice = {
        index: 3,
        seq: 0,
        group: "s3",
        notice: {
          op: "commitRefs",
          body: { uid: "alice", name: "x", uploadId: sha(1).slice(0, 20), version: 7 },
        },
      };
      store.appendAndApply(entry(3), (tx) => tx.enqueueNotice(commitNotice));
      expect(store.pendingNotices("s3", 10)).toEqual([commitNotice]);
    });
  });
}
