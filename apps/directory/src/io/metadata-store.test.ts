/**
 * One behaviour suite, run against every MetadataStore: what a write inside applyEntry makes
 * visible, that a throw inside it leaves no trace (no state, no notice, no ack, no lastApplied),
 * that entry indexes follow lastApplied, that listings sort names by code point the same way in
 * every store, and that the outbox hands notices out per group in order until a replicated ack
 * forgets them. If the two stores disagree anywhere, replicas on different stores would diverge.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  MemoryMetadataStore,
  type LiveVersion,
  type MetadataStore,
  type OutboxNotice,
  type Tombstone,
  type UserRecord,
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

function live(name: string, version: number, uploadId: string, uid = "alice"): LiveVersion {
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

function notice(index: number, seq: number, group: string, name: string): OutboxNotice {
  return { index, seq, group, notice: { op: "dropRefs", body: { uid: "alice", name } } };
}

/** Every group's pending notices as (index.seq) labels, so a wrong one is easy to read. */
function outbox(store: MetadataStore): Record<string, string[]> {
  const byGroup: Record<string, string[]> = {};
  for (const group of store.noticeGroups(100)) {
    byGroup[group] = store.pendingNotices(group, 100).map((item) => `${item.index}.${item.seq}`);
  }
  return byGroup;
}

/** The tx-only writes, reached around the type so calls outside applyEntry can be tried. */
interface RawWriter {
  putUser(user: UserRecord): void;
  enqueueNotice(notice: OutboxNotice): void;
  ackNotices(group: string, throughIndex: number, throughSeq: number): number;
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
      expect(store.listGroups()).toEqual([]);
      expect(store.noticeGroups(10)).toEqual([]);
      expect(store.pendingNotices("s1", 10)).toEqual([]);
      expect(store.getUser("alice")).toBeUndefined();
      expect(store.latestVersion("alice", "a")).toBeUndefined();
      expect(store.listLiveFiles("alice", 10)).toEqual([]);
    });

    test("writes in applyEntry are visible afterwards, with lastApplied", () => {
      const store = open();
      const answer = store.applyEntry(1, (tx) => {
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
        // Reads inside the entry see its own earlier writes, as the state machine relies on.
        expect(tx.latestVersion("alice", "a")?.version).toBe(3);
        expect(tx.getGroup("s1")?.epoch).toBe(2);
        return "done";
      });
      expect(answer).toBe("done");
      expect(store.lastApplied()).toBe(1);
      expect(store.getUser("alice")).toEqual({ uid: "alice", createdAtMs: T0_MS });
      expect(store.latestVersion("alice", "a")).toEqual(live("a", 3, "up3"));
      expect(store.getVersion("alice", "a", 1)).toEqual(live("a", 1, "up1"));
      expect(store.getVersion("alice", "a", 4)).toBeUndefined();
      expect(store.deletedThrough("alice", "a")).toBe(2);
      expect(store.listVersions("alice", "a", 2).map((record) => record.version)).toEqual([2, 3]);
      expect(store.findUpload("alice", "up3")?.version).toBe(3);
      expect(store.findUpload("bob", "up3")).toBeUndefined();
      expect(store.findDeleteRequest("alice", "r1")?.deletedVersion).toBe(1);
      expect(store.getGroup("s1")).toEqual(groupConfig("s1", ["s1a", "s1b"], 2));
      expect(store.listGroups()).toEqual([groupConfig("s1", ["s1a", "s1b"], 2)]);
      expect(store.pendingNotices("s1", 10)).toEqual([notice(1, 0, "s1", "a")]);
    });

    test("an object's attributes are kept with its version, pruned or not", () => {
      const store = open();
      const attrs = {
        md5: "0123456789abcdef0123456789abcdef",
        contentType: "image/jpeg",
        meta: [{ name: "owner", value: "alice smith" }],
      };
      store.applyEntry(1, (tx) => tx.putVersion({ ...live("/photos/cat.jpg", 1, "u1"), attrs }));
      store.applyEntry(2, (tx) => tx.pruneVersion("alice", "/photos/cat.jpg", 1));
      expect(store.getVersion("alice", "/photos/cat.jpg", 1)).toEqual({
        ...live("/photos/cat.jpg", 1, "u1"),
        attrs,
        pruned: true,
      });
    });

    test("buckets per user, and a ranged listing of live names by prefix in code point order", () => {
      const store = open();
      const names = ["/b/a/1", "/b/a/2", "/b/é", "/b/z", "/bb/x", "/c/q", "plain", "/b/a/3"];
      store.applyEntry(1, (tx) => {
        tx.putBucket({ uid: "alice", bucket: "zeta", createdAtMs: 2 });
        tx.putBucket({ uid: "alice", bucket: "alpha", createdAtMs: 1 });
        tx.putBucket({ uid: "bob", bucket: "alpha", createdAtMs: 3 });
        for (const [index, name] of names.entries()) tx.putVersion(live(name, 1, `u${index}`));
        // A deleted name is not listed.
        tx.putVersion({
          kind: "tombstone",
          uid: "alice",
          name: "/b/a/3",
          version: 2,
          createdAtMs: T0_MS,
          requestId: "r1",
          deletedVersion: 1,
        });
      });
      expect(store.listBuckets("alice").map((b) => b.bucket)).toEqual(["alpha", "zeta"]);
      expect(store.getBucket("bob", "alpha")?.createdAtMs).toBe(3);
      expect(store.getBucket("bob", "zeta")).toBeUndefined();
      const listed = (prefix: string, after: string | null, count = 10) =>
        store.listLiveFilesFrom("alice", prefix, after, count).map((record) => record.name);
      expect(listed("/b/", null)).toEqual(["/b/a/1", "/b/a/2", "/b/z", "/b/é"]);
      expect(listed("/b/", "/b/a/1", 2)).toEqual(["/b/a/2", "/b/z"]);
      expect(listed("/b/a/", null)).toEqual(["/b/a/1", "/b/a/2"]);
      expect(listed("/b/", "/b/é")).toEqual([]);
      expect(listed("/", null, 3)).toEqual(["/b/a/1", "/b/a/2", "/b/z"]);
      expect(listed("", "/c/q")).toEqual(["plain"]);
      expect(listed("/nothing/", null)).toEqual([]);
      store.applyEntry(2, (tx) => tx.removeBucket("alice", "alpha"));
      expect(store.listBuckets("alice").map((b) => b.bucket)).toEqual(["zeta"]);
    });

    test("delete markers and pruned versions: current version, deletedThrough, version listing", () => {
      const store = open();
      const tombstone = (name: string, version: number, requestId: string): Tombstone => ({
        kind: "tombstone",
        uid: "alice",
        name,
        version,
        createdAtMs: T0_MS,
        requestId,
        deletedVersion: version - 1,
      });
      const marker = (name: string, version: number, requestId: string): Tombstone => ({
        ...tombstone(name, version, requestId),
        marker: true,
      });
      store.applyEntry(1, (tx) => {
        tx.putBucket({ uid: "alice", bucket: "b", createdAtMs: T0_MS });
        tx.setBucketVersioning("alice", "b", "enabled");
        tx.putVersion(live("/b/k", 1, "k1"));
        tx.putVersion(live("/b/k", 2, "k2"));
        tx.putVersion(marker("/b/k", 3, "m3"));
        tx.putVersion(live("/b/k", 4, "k4"));
        tx.putVersion(live("/b/j", 1, "j1"));
        tx.putVersion(tombstone("/b/j", 2, "m2"));
        tx.putVersion(live("/b/j", 3, "j3"));
        tx.putVersion(live("/c/x", 1, "x1"));
      });
      expect(store.getBucket("alice", "b")?.versioning).toBe("enabled");
      // A marker is no deletion of what lies below it; a plain tombstone is.
      expect(store.deletedThrough("alice", "/b/k")).toBe(0);
      expect(store.deletedThrough("alice", "/b/j")).toBe(2);
      const listed = (after: { name: string; version: number } | null, countMax = 100) =>
        store
          .listObjectVersions("alice", "/b/", after, countMax)
          .map((r) => `${r.name}@${r.version}`);
      expect(listed(null)).toEqual(["/b/j@3", "/b/k@4", "/b/k@3", "/b/k@2", "/b/k@1"]);
      expect(listed({ name: "/b/k", version: 3 }, 2)).toEqual(["/b/k@2", "/b/k@1"]);
      expect(listed({ name: "/b/j", version: 3 }, 1)).toEqual(["/b/k@4"]);
      // Pruning the newest version and a marker: the current version is the newest left.
      store.applyEntry(2, (tx) => {
        tx.pruneVersion("alice", "/b/k", 4);
        tx.pruneVersion("alice", "/b/k", 3);
      });
      expect(store.latestVersion("alice", "/b/k")?.version).toBe(4);
      expect(store.currentVersion("alice", "/b/k")?.version).toBe(2);
      expect(store.getVersion("alice", "/b/k", 3)).toMatchObject({ marker: true, pruned: true });
      expect(listed(null)).toEqual(["/b/j@3", "/b/k@2", "/b/k@1"]);
      const liveVersions = () =>
        store.listLiveFilesFrom("alice", "/b/", null, 10).map((r) => `${r.name}@${r.version}`);
      expect(liveVersions()).toEqual(["/b/j@3", "/b/k@2"]);
      store.applyEntry(3, (tx) => tx.putVersion(marker("/b/k", 5, "m5")));
      expect(store.currentVersion("alice", "/b/k")?.kind).toBe("tombstone");
      expect(liveVersions()).toEqual(["/b/j@3"]);
      expect(store.findDeleteRequest("alice", "m5")?.marker).toBe(true);
    });

    test("forgetName drops every record of a released name, and only of a released one", () => {
      const store = open();
      const part = "//mpu/00001";
      store.applyEntry(1, (tx) => {
        tx.putVersion(live(part, 1, "p1"));
        tx.putVersion(live(part, 2, "p2"));
        tx.putVersion(live("kept", 1, "k1"));
        tx.keepChunks("alice", "kept", 1, live("kept", 1, "k1").chunks);
      });
      store.applyEntry(2, (tx) => tx.forgetName("alice", part));
      expect(store.listVersions("alice", part, 0)).toEqual([]);
      expect(store.findUpload("alice", "p2")).toBeUndefined();
      expect(store.latestVersion("alice", "kept")?.version).toBe(1);
      expect(() => store.applyEntry(3, (tx) => tx.forgetName("alice", "kept"))).toThrow();
      expect(store.lastApplied()).toBe(2);
      expect(store.findUpload("alice", "k1")?.version).toBe(1);
    });

    test("access keys: per user oldest first, scanned by id, resealed and removed", () => {
      const store = open();
      const key = (letter: string, uid: string, atMs: number) => ({
        accessKeyId: `FTFS${letter.repeat(16)}`,
        uid,
        sealed: { keyId: "0a1b2c3d", nonce: `${letter.repeat(15)}A`, ciphertext: `c${letter}` },
        createdAtMs: atMs,
      });
      store.applyEntry(1, (tx) => {
        tx.putAccessKey(key("C", "alice", 2));
        tx.putAccessKey(key("B", "alice", 1));
        tx.putAccessKey(key("D", "bob", 3));
        expect(tx.getAccessKey(key("D", "bob", 3).accessKeyId)).toEqual(key("D", "bob", 3));
      });
      expect(store.listAccessKeys("alice")).toEqual([key("B", "alice", 1), key("C", "alice", 2)]);
      expect(store.listAccessKeys("carol")).toEqual([]);
      const ids = (after: string | null, count: number) =>
        store.scanAccessKeys(after, count).map((record) => record.accessKeyId[4]);
      expect(ids(null, 10)).toEqual(["B", "C", "D"]);
      expect(ids(key("B", "", 0).accessKeyId, 1)).toEqual(["C"]);
      const resealed = { keyId: "99999999", nonce: "ZZZZZZZZZZZZZZZZ", ciphertext: "new" };
      store.applyEntry(2, (tx) => {
        tx.resealAccessKey(key("C", "", 0).accessKeyId, resealed);
        tx.removeAccessKey(key("B", "", 0).accessKeyId);
      });
      expect(store.listAccessKeys("alice")).toEqual([
        { ...key("C", "alice", 2), sealed: resealed },
      ]);
      expect(store.getAccessKey(key("B", "", 0).accessKeyId)).toBeUndefined();
      // A throw takes every access-key write of its entry back.
      expect(() =>
        store.applyEntry(3, (tx) => {
          tx.removeAccessKey(key("C", "", 0).accessKeyId);
          tx.putAccessKey(key("E", "carol", 4));
          throw new Error("broken rule");
        }),
      ).toThrow("broken rule");
      expect(store.listAccessKeys("alice")).toHaveLength(1);
      expect(store.listAccessKeys("carol")).toEqual([]);
    });

    test("a throw inside applyEntry leaves no trace", () => {
      const store = open();
      store.applyEntry(1, (tx) => {
        tx.putGroup(groupConfig("s1", ["s1a"], 1));
        tx.enqueueNotice(notice(1, 0, "s1", "kept"));
        tx.enqueueNotice(notice(1, 1, "s2", "kept"));
      });
      expect(() =>
        store.applyEntry(2, (tx) => {
          tx.putUser({ uid: "alice", createdAtMs: T0_MS });
          tx.putVersion(live("a", 1, "up1"));
          tx.putGroup(groupConfig("s1", ["s1b"], 2));
          tx.enqueueNotice(notice(2, 0, "s1", "a"));
          expect(tx.ackNotices("s1", 2, 0)).toBe(2);
          expect(tx.ackNotices("s2", 1, 1)).toBe(1);
          tx.enqueueNotice(notice(2, 1, "s3", "a"));
          throw new Error("bug in apply");
        }),
      ).toThrow("bug in apply");
      expect(store.lastApplied()).toBe(1);
      expect(store.getUser("alice")).toBeUndefined();
      expect(store.latestVersion("alice", "a")).toBeUndefined();
      expect(store.findUpload("alice", "up1")).toBeUndefined();
      expect(store.getGroup("s1")?.epoch).toBe(1);
      expect(store.pendingNotices("s1", 10)).toEqual([notice(1, 0, "s1", "kept")]);
      expect(store.pendingNotices("s2", 10)).toEqual([notice(1, 1, "s2", "kept")]);
      expect(store.noticeGroups(10)).toEqual(["s1", "s2"]);
      // The same index is free again: the failed attempt did not count as applied.
      store.applyEntry(2, (tx) => tx.putUser({ uid: "alice", createdAtMs: T0_MS }));
      expect(store.lastApplied()).toBe(2);
      expect(store.getUser("alice")).toEqual({ uid: "alice", createdAtMs: T0_MS });
    });

    test("entry indexes follow lastApplied; writes outside applyEntry are refused", () => {
      const store = open();
      expect(() => store.applyEntry(2, () => undefined)).toThrow();
      expect(() => store.applyEntry(0, () => undefined)).toThrow();
      expect(store.lastApplied()).toBe(0);
      store.applyEntry(1, (tx) => tx.enqueueNotice(notice(1, 0, "s1", "a")));
      expect(() => store.applyEntry(1, () => undefined)).toThrow();
      expect(() => store.applyEntry(3, () => undefined)).toThrow();
      expect(store.lastApplied()).toBe(1);
      const writer = store as unknown as RawWriter;
      expect(() => writer.putUser({ uid: "x", createdAtMs: 0 })).toThrow();
      expect(() => writer.enqueueNotice(notice(1, 1, "s1", "b"))).toThrow();
      expect(() => writer.ackNotices("s1", 1, 0)).toThrow();
      expect(store.getUser("x")).toBeUndefined();
      expect(store.pendingNotices("s1", 10)).toEqual([notice(1, 0, "s1", "a")]);
    });

    test("applyEntry is not reentrant", () => {
      const store = open();
      // The inner index is valid on its own, so only the nesting can be what is refused.
      expect(() => store.applyEntry(1, () => store.applyEntry(1, () => undefined))).toThrow(
        "not reentrant",
      );
      expect(store.lastApplied()).toBe(0);
      store.applyEntry(1, () => undefined);
      expect(store.lastApplied()).toBe(1);
    });

    test("a version number may not go backwards or repeat", () => {
      const store = open();
      store.applyEntry(1, (tx) => tx.putVersion(live("a", 2, "up2")));
      expect(() => store.applyEntry(2, (tx) => tx.putVersion(live("a", 2, "other")))).toThrow();
      expect(() => store.applyEntry(2, (tx) => tx.putVersion(live("a", 1, "other")))).toThrow();
      expect(store.latestVersion("alice", "a")?.version).toBe(2);
      expect(store.findUpload("alice", "other")).toBeUndefined();
      expect(store.lastApplied()).toBe(1);
    });

    test("live files: newest live version per name, sorted by code point, bounded", () => {
      const store = open();
      const names = ["😀", "ｚ", "é", "a", "Z", "gone"];
      store.applyEntry(1, (tx) => {
        for (const [at, name] of names.entries()) tx.putVersion(live(name, 1, `up${at}`));
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
      expect(store.listLiveFiles("bob", 100).map((record) => record.name)).toEqual(["other-user"]);
      expect(store.listLiveFiles("nobody", 100)).toEqual([]);
    });

    test("replaceChunks swaps a live version's chunk list, and a throw undoes it", () => {
      const store = open();
      store.applyEntry(1, (tx) => {
        tx.putVersion(live("a", 1, "up1"));
        tx.putVersion(live("a", 2, "up2"));
      });
      const moved = [chunk(1, 4, "s2"), chunk(9, 6, "s2")];
      store.applyEntry(2, (tx) => {
        tx.replaceChunks("alice", "a", 1, moved);
        expect(tx.getVersion("alice", "a", 1)).toEqual({ ...live("a", 1, "up1"), chunks: moved });
      });
      const expected = { ...live("a", 1, "up1"), chunks: moved };
      expect(store.getVersion("alice", "a", 1)).toEqual(expected);
      expect(store.findUpload("alice", "up1")).toEqual(expected);
      expect(store.listVersions("alice", "a", 1)).toEqual([expected, live("a", 2, "up2")]);
      expect(store.listLiveFiles("alice", 10)).toEqual([live("a", 2, "up2")]);
      expect(() =>
        store.applyEntry(3, (tx) => {
          tx.replaceChunks("alice", "a", 2, moved);
          throw new Error("bug in apply");
        }),
      ).toThrow("bug in apply");
      expect(store.latestVersion("alice", "a")).toEqual(live("a", 2, "up2"));
      expect(store.findUpload("alice", "up2")).toEqual(live("a", 2, "up2"));
      // Only an existing live version has chunks to replace.
      expect(() => store.applyEntry(3, (tx) => tx.replaceChunks("alice", "a", 7, moved))).toThrow();
      expect(store.lastApplied()).toBe(2);
    });

    test("scanVersions walks every user's versions in (uid, name, version) order, by page", () => {
      const store = open();
      store.applyEntry(1, (tx) => {
        tx.putVersion(live("😀", 1, "u1"));
        tx.putVersion(live("a", 1, "u2"));
        tx.putVersion({
          kind: "tombstone",
          uid: "alice",
          name: "a",
          version: 2,
          createdAtMs: T0_MS,
          requestId: "r",
          deletedVersion: 1,
        });
        tx.putVersion(live("a", 3, "u3"));
        tx.putVersion(live("é", 1, "u4"));
        tx.putVersion(live("b", 1, "u5", "bob"));
        tx.putVersion(live("Z", 1, "u6", "Bob"));
      });
      const label = (record: VersionRecord): string =>
        `${record.uid}/${record.name}@${record.version}`;
      const all = store.scanVersions(null, 100).map(label);
      expect(all).toEqual([
        "Bob/Z@1",
        "alice/a@1",
        "alice/a@2",
        "alice/a@3",
        "alice/é@1",
        "alice/😀@1",
        "bob/b@1",
      ]);
      const paged: string[] = [];
      let after: VersionRecord | null = null;
      for (;;) {
        const page: readonly VersionRecord[] = store.scanVersions(after, 2);
        paged.push(...page.map(label));
        after = page.at(-1) ?? null;
        if (page.length < 2) break;
      }
      expect(paged).toEqual(all);
      const last = { uid: "bob", name: "b", version: 1 };
      expect(store.scanVersions(last, 10)).toEqual([]);
    });

    test("a dropUploadRefs notice comes back as it went in", () => {
      const store = open();
      const dropUpload: OutboxNotice = {
        index: 1,
        seq: 1,
        group: "s1",
        notice: { op: "dropUploadRefs", body: { uid: "alice", name: "x", uploadId: "up-7" } },
      };
      store.applyEntry(1, (tx) => tx.enqueueNotice(dropUpload));
      expect(store.pendingNotices("s1", 10)).toEqual([dropUpload]);
    });

    test("the outbox hands out notices per group in (index, seq) order", () => {
      const store = open();
      store.applyEntry(1, (tx) => {
        tx.enqueueNotice(notice(1, 0, "s2", "x"));
        tx.enqueueNotice(notice(1, 1, "s1", "x"));
      });
      store.applyEntry(2, (tx) => tx.enqueueNotice(notice(2, 0, "s1", "y")));
      expect(store.noticeGroups(10)).toEqual(["s1", "s2"]);
      expect(store.noticeGroups(1)).toEqual(["s1"]);
      expect(store.pendingNotices("s1", 10)).toEqual([
        notice(1, 1, "s1", "x"),
        notice(2, 0, "s1", "y"),
      ]);
      expect(store.pendingNotices("s1", 1)).toEqual([notice(1, 1, "s1", "x")]);
      expect(store.pendingNotices("s2", 10)).toEqual([notice(1, 0, "s2", "x")]);
      const commitNotice: OutboxNotice = {
        index: 3,
        seq: 0,
        group: "s3",
        notice: {
          op: "commitRefs",
          body: { uid: "alice", name: "x", uploadId: sha(1).slice(0, 20), version: 7 },
        },
      };
      store.applyEntry(3, (tx) => tx.enqueueNotice(commitNotice));
      expect(store.pendingNotices("s3", 10)).toEqual([commitNotice]);
      // A notice naming its group's chunks keeps them; one written before they were named
      // (above) still reads back without them.
      const naming: OutboxNotice = {
        ...commitNotice,
        index: 4,
        group: "s4",
        notice: {
          op: "commitRefs",
          body: {
            uid: "alice",
            name: "x",
            uploadId: sha(1).slice(0, 20),
            version: 7,
            chunkIds: [sha(2)],
          },
        },
      };
      store.applyEntry(4, (tx) => tx.enqueueNotice(naming));
      expect(store.pendingNotices("s4", 10)).toEqual([naming]);
    });

    test("ackNotices forgets only that group's notices through (index, seq)", () => {
      const store = open();
      store.applyEntry(1, (tx) => {
        tx.enqueueNotice(notice(1, 0, "s1", "a"));
        tx.enqueueNotice(notice(1, 1, "s1", "b"));
        tx.enqueueNotice(notice(1, 2, "s2", "c"));
      });
      store.applyEntry(2, (tx) => {
        tx.enqueueNotice(notice(2, 0, "s1", "d"));
        tx.enqueueNotice(notice(2, 1, "s2", "e"));
      });
      store.applyEntry(3, (tx) => tx.enqueueNotice(notice(3, 2, "s1", "f")));
      expect(outbox(store)).toEqual({ s1: ["1.0", "1.1", "2.0", "3.2"], s2: ["1.2", "2.1"] });

      const acks: number[] = [];
      store.applyEntry(4, (tx) => acks.push(tx.ackNotices("s1", 1, 0)));
      expect(acks).toEqual([1]);
      expect(store.lastApplied()).toBe(4);
      expect(outbox(store)).toEqual({ s1: ["1.1", "2.0", "3.2"], s2: ["1.2", "2.1"] });

      // (index, seq) is ordered by index first: 1.2 is before 2.0 although its seq is larger.
      store.applyEntry(5, (tx) => acks.push(tx.ackNotices("s2", 2, 0)));
      expect(acks.at(-1)).toBe(1);
      expect(outbox(store)).toEqual({ s1: ["1.1", "2.0", "3.2"], s2: ["2.1"] });

      store.applyEntry(6, (tx) => {
        acks.push(tx.ackNotices("s1", 2, 9));
        // Nothing left at or before 2.9; 3.2 is after 3.1; nobody has notices for s9.
        acks.push(tx.ackNotices("s1", 2, 9));
        acks.push(tx.ackNotices("s1", 3, 1));
        acks.push(tx.ackNotices("s9", 99, 99));
      });
      expect(acks.slice(-4)).toEqual([2, 0, 0, 0]);
      expect(outbox(store)).toEqual({ s1: ["3.2"], s2: ["2.1"] });

      store.applyEntry(7, (tx) => acks.push(tx.ackNotices("s1", 3, 2)));
      expect(acks.at(-1)).toBe(1);
      expect(store.noticeGroups(10)).toEqual(["s2"]);
      expect(store.pendingNotices("s1", 10)).toEqual([]);
      expect(store.pendingNotices("s2", 10)).toEqual([notice(2, 1, "s2", "e")]);
    });

    test("notices enqueued and acked in one entry, then more enqueued, all roll back", () => {
      const store = open();
      store.applyEntry(1, (tx) => tx.enqueueNotice(notice(1, 0, "s1", "a")));
      const before = store.pendingNotices("s1", 10);
      expect(() =>
        store.applyEntry(2, (tx) => {
          tx.enqueueNotice(notice(2, 0, "s1", "b"));
          expect(tx.ackNotices("s1", 2, 0)).toBe(2);
          tx.enqueueNotice(notice(2, 1, "s1", "c"));
          expect(tx.ackNotices("s1", 2, 1)).toBe(1);
          tx.enqueueNotice(notice(2, 2, "s1", "d"));
          throw new Error("bug in apply");
        }),
      ).toThrow("bug in apply");
      expect(store.pendingNotices("s1", 10)).toEqual(before);
      expect(store.noticeGroups(10)).toEqual(["s1"]);
      expect(store.lastApplied()).toBe(1);

      // The same writes without the throw keep exactly the last notice.
      store.applyEntry(2, (tx) => {
        tx.enqueueNotice(notice(2, 0, "s1", "b"));
        tx.ackNotices("s1", 2, 0);
        tx.enqueueNotice(notice(2, 1, "s1", "c"));
        tx.ackNotices("s1", 2, 1);
        tx.enqueueNotice(notice(2, 2, "s1", "d"));
      });
      expect(store.pendingNotices("s1", 10)).toEqual([notice(2, 2, "s1", "d")]);
    });
  });
}
