/**
 * The metadata state machine on the in-memory store: versions only grow, an update switches a
 * name from one whole manifest to the next, a delete is a tombstone that keeps the numbering,
 * commits and deletes are idempotent by their ids, refused commands change nothing, notices go
 * to exactly the groups involved, an ack forgets exactly what it names, and the same commands
 * give the same state.
 */
import { describe, expect, test } from "bun:test";
import {
  apply,
  applyOk,
  chunk,
  commit,
  groupConfig,
  seedBasics,
  sha,
  T0_MS,
  verifier,
} from "../testing/fixtures.ts";
import { EMPTY_SHA256 } from "./manifest-rules.ts";
import { MemoryMetadataStore } from "./memory-store.ts";
import { findManifest, listLiveFiles } from "./queries.ts";
import { uploadIdWithDeadline, type Result } from "@ftfs/protocol/core";
import { SWEPT_UPLOADS_KEPT_MS } from "./limits.ts";
import { ACCESS_KEYS_PER_USER_MAX, bucketNamePrefix, HOME_BUCKET } from "@ftfs/protocol/core";
import type { Command, MoveVersion, Outcome } from "./commands.ts";
import type { MetadataStore } from "./store.ts";
import { applyCommand } from "./state-machine.ts";

function freshStore(): MemoryMetadataStore {
  const store = new MemoryMetadataStore();
  seedBasics(store);
  return store;
}

function errorCode(result: { ok: boolean; error?: { code: string } }): string | undefined {
  return result.ok ? undefined : result.error?.code;
}

/** Ack every notice of `group` pending now, through the replicated command as the node does. */
function ackAll(store: MetadataStore, group: string): number {
  const last = store.pendingNotices(group, 1000).at(-1);
  if (last === undefined) return 0;
  const command = { type: "ackNotices", group, atMs: T0_MS } as const;
  return applyOk(store, { ...command, throughIndex: last.index, throughSeq: last.seq }).acked;
}

function latest(store: MetadataStore, name: string): number | undefined {
  const found = findManifest(store, "alice", name, undefined);
  return found.ok ? found.value.manifest.version : undefined;
}

function addUser(
  uid: string,
  n: number,
  quotas: { quotaBytes?: number; quotaFiles?: number } = {},
): Extract<Command, { type: "userAdd" }> {
  return {
    type: "userAdd",
    uid,
    verifier: verifier(n),
    admin: false,
    quotaBytes: quotas.quotaBytes ?? null,
    quotaFiles: quotas.quotaFiles ?? null,
    atMs: T0_MS,
  };
}

describe("userAdd and userRemove", () => {
  test("a new user gets its verifier, role, quotas and the entry's index as generation", () => {
    const store = freshStore();
    const index = store.lastApplied() + 1;
    const command = { ...addUser("bob", 1, { quotaBytes: 5 }), admin: true };
    expect(applyOk(store, command)).toEqual({ generation: index });
    expect(store.getUser("bob")).toEqual({
      uid: "bob",
      createdAtMs: T0_MS,
      verifier: verifier(1),
      admin: true,
      quotaBytes: 5,
      generation: index,
    });
  });

  test("a retried add answers the same; another verifier for the user is refused", () => {
    const store = freshStore();
    const first = applyOk(store, addUser("bob", 1));
    expect(applyOk(store, addUser("bob", 1))).toEqual(first);
    const refused = apply(store, addUser("bob", 2));
    expect(errorCode(refused)).toBe("BAD_REQUEST");
    expect(store.getUser("bob")?.verifier).toEqual(verifier(1));
  });

  test("a user connect made (no credentials) gets them and keeps its files", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 10)]));
    applyOk(store, addUser("alice", 1));
    expect(store.getUser("alice")?.verifier).toEqual(verifier(1));
    expect(store.getUser("alice")?.createdAtMs).toBe(T0_MS);
    expect(latest(store, "a")).toBe(1);
  });

  test("remove and add again: a new generation, the files and usage still the uid's", () => {
    const store = freshStore();
    const first = applyOk(store, addUser("bob", 1)).generation;
    applyOk(store, commit("bob", "b", "u1", [chunk(1, 10)]));
    expect(applyOk(store, { type: "userRemove", uid: "bob", atMs: T0_MS })).toEqual({
      removed: true,
    });
    expect(store.getUser("bob")).toBeUndefined();
    expect(applyOk(store, { type: "userRemove", uid: "bob", atMs: T0_MS })).toEqual({
      removed: false,
    });
    const second = applyOk(store, addUser("bob", 2)).generation;
    expect(second).toBeGreaterThan(first);
    expect(store.getUsage("bob")).toEqual({ bytes: 10, files: 1 });
  });

  test("a bad uid is refused", () => {
    expect(errorCode(apply(freshStore(), addUser("../x", 1)))).toBe("INVALID_UID");
  });
});

describe("buckets and objects", () => {
  function bucket<T extends "bucketCreate" | "bucketDelete">(type: T, name: string, uid = "alice") {
    return { type, uid, bucket: name, atMs: T0_MS };
  }

  test("a user's buckets: made once, the home bucket always there, bad names refused", () => {
    const store = freshStore();
    expect(applyOk(store, bucket("bucketCreate", "photos"))).toEqual({
      created: true,
      createdAtMs: T0_MS,
    });
    expect(applyOk(store, bucket("bucketCreate", "photos")).created).toBe(false);
    expect(applyOk(store, bucket("bucketCreate", HOME_BUCKET)).created).toBe(false);
    expect(errorCode(apply(store, bucket("bucketCreate", "Bad_Name")))).toBe("INVALID_NAME");
    expect(errorCode(apply(store, bucket("bucketCreate", "photos", "nobody")))).toBe(
      "NO_SUCH_USER",
    );
    expect(store.listBuckets("alice").map((b) => b.bucket)).toEqual(["photos"]);
  });

  test("objects commit only into a bucket the user has; any key, '/' and all", () => {
    const store = freshStore();
    const object = (name: string, uploadId: string) =>
      commit("alice", name, uploadId, [chunk(1, 5)]);
    expect(errorCode(apply(store, object("/photos/2026/cat.jpg", "u1")))).toBe("NO_SUCH_BUCKET");
    applyOk(store, bucket("bucketCreate", "photos"));
    expect(applyOk(store, object("/photos/2026/cat.jpg", "u2")).version).toBe(1);
    expect(applyOk(store, object("/ftfs/dir/in/home.txt", "u3")).version).toBe(1);
    // A home key that is a file name has one stored form only.
    expect(errorCode(apply(store, object("/ftfs/plain.txt", "u4")))).toBe("INVALID_NAME");
    expect(
      store.listLiveFilesFrom("alice", bucketNamePrefix("photos"), null, 10).map((v) => v.name),
    ).toEqual(["/photos/2026/cat.jpg"]);
  });

  test("only an empty bucket is deleted, never the home bucket", () => {
    const store = freshStore();
    applyOk(store, bucket("bucketCreate", "photos"));
    applyOk(store, commit("alice", "/photos/a", "u1", [chunk(1, 5)]));
    expect(errorCode(apply(store, bucket("bucketDelete", "photos")))).toBe("BUCKET_NOT_EMPTY");
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "/photos/a",
      requestId: "r1",
      atMs: T0_MS,
    });
    expect(applyOk(store, bucket("bucketDelete", "photos"))).toEqual({ deleted: true });
    expect(errorCode(apply(store, bucket("bucketDelete", "photos")))).toBe("NO_SUCH_BUCKET");
    expect(errorCode(apply(store, bucket("bucketDelete", HOME_BUCKET)))).toBe("BAD_REQUEST");
    expect(errorCode(apply(store, commit("alice", "/photos/b", "u2", [chunk(2, 5)])))).toBe(
      "NO_SUCH_BUCKET",
    );
  });
});

describe("copyVersion", () => {
  const copy = (from: string, name: string, uploadId: string, extra = {}) =>
    ({ type: "copyVersion", uid: "alice", from, name, uploadId, atMs: T0_MS, ...extra }) as const;

  test("the copy is a new version with the source's chunks, kept and told to their groups", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 10), chunk(2, 4, "s2")]));
    const before = store.pendingNotices("s2", 100).length;
    expect(applyOk(store, copy("a", "b", "c1"))).toEqual({ version: 1, createdAtMs: T0_MS });
    const a = store.latestVersion("alice", "a");
    const b = store.latestVersion("alice", "b");
    expect(b?.kind === "live" && a?.kind === "live" && b.chunks).toEqual(
      a?.kind === "live" ? a.chunks : [],
    );
    expect(b?.kind === "live" && b.uploadId).toBe("c1");
    expect(store.pendingNotices("s2", 100).length).toBe(before + 1);
    // A retried copy answers the same; the usage counts the copy's bytes too.
    expect(applyOk(store, copy("a", "b", "c1")).version).toBe(1);
    expect(store.getUsage("alice")).toEqual({ bytes: 28, files: 2 });
  });

  test("a source deleted before the copy applies is never copied, and stays refused", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 10)]));
    applyOk(store, { type: "deleteFile", uid: "alice", name: "a", requestId: "r1", atMs: T0_MS });
    expect(errorCode(apply(store, copy("a", "b", "c1")))).toBe("NOT_FOUND");
    applyOk(store, commit("alice", "a", "u2", [chunk(2, 10)]));
    expect(errorCode(apply(store, copy("a", "b", "c1")))).toBe("UPLOAD_EXPIRED");
    expect(store.latestVersion("alice", "b")).toBeUndefined();
  });

  test("an older kept version can be the source; a pruned one cannot", () => {
    const store = freshStore();
    applyOk(store, { ...commit("alice", "a", "u1", [chunk(1, 10)]), keepVersions: 2 });
    applyOk(store, { ...commit("alice", "a", "u2", [chunk(2, 10)]), keepVersions: 2 });
    expect(applyOk(store, copy("a", "old", "c1", { fromVersion: 1 })).version).toBe(1);
    applyOk(store, { ...commit("alice", "a", "u3", [chunk(3, 10)]), keepVersions: 2 });
    expect(errorCode(apply(store, copy("a", "gone", "c2", { fromVersion: 1 })))).toBe("NOT_FOUND");
  });
});

describe("access keys", () => {
  const sealed = (n: number) => ({
    keyId: "0a1b2c3d",
    nonce: `${"N".repeat(15)}${n % 10}`,
    ciphertext: `sealed${n}`,
  });
  const add = (uid: string, id: string, n: number) =>
    ({ type: "accessKeyAdd", uid, accessKeyId: id, sealed: sealed(n), atMs: T0_MS + n }) as const;

  test("a user's keys: added once (a retry answers the same), at most the limit", () => {
    const store = freshStore();
    const first = add("alice", "FTFSAAAAAAAAAAAAAAAA", 1);
    expect(applyOk(store, first)).toEqual({ createdAtMs: T0_MS + 1 });
    expect(applyOk(store, first)).toEqual({ createdAtMs: T0_MS + 1 });
    expect(errorCode(apply(store, { ...first, sealed: sealed(2) }))).toBe("BAD_REQUEST");
    expect(errorCode(apply(store, add("nobody", "FTFSBBBBBBBBBBBBBBBB", 3)))).toBe("NO_SUCH_USER");
    const letters = "CDEFGHIJK";
    for (let n = 1; n < ACCESS_KEYS_PER_USER_MAX; n += 1) {
      applyOk(store, add("alice", `FTFS${(letters[n] ?? "Z").repeat(16)}`, 10 + n));
    }
    expect(store.listAccessKeys("alice")).toHaveLength(ACCESS_KEYS_PER_USER_MAX);
    expect(errorCode(apply(store, add("alice", "FTFSZZZZZZZZZZZZZZZZ", 99)))).toBe(
      "QUOTA_EXCEEDED",
    );
  });

  test("only the owner's key is removed; removing the user removes its keys", () => {
    const store = freshStore();
    applyOk(store, { type: "createUser", uid: "bob", atMs: T0_MS });
    applyOk(store, add("alice", "FTFSAAAAAAAAAAAAAAAA", 1));
    applyOk(store, add("bob", "FTFSBBBBBBBBBBBBBBBB", 2));
    const remove = (uid: string, accessKeyId: string) =>
      ({ type: "accessKeyRemove", uid, accessKeyId, atMs: T0_MS }) as const;
    expect(applyOk(store, remove("bob", "FTFSAAAAAAAAAAAAAAAA"))).toEqual({ removed: false });
    expect(store.getAccessKey("FTFSAAAAAAAAAAAAAAAA")?.uid).toBe("alice");
    expect(applyOk(store, remove("alice", "FTFSAAAAAAAAAAAAAAAA"))).toEqual({ removed: true });
    expect(applyOk(store, remove("alice", "FTFSAAAAAAAAAAAAAAAA"))).toEqual({ removed: false });
    applyOk(store, { type: "userRemove", uid: "bob", atMs: T0_MS });
    expect(store.getAccessKey("FTFSBBBBBBBBBBBBBBBB")).toBeUndefined();
  });

  test("a reseal replaces only a seal still as the primary read it", () => {
    const store = freshStore();
    applyOk(store, add("alice", "FTFSAAAAAAAAAAAAAAAA", 1));
    const newSeal = { keyId: "99999999", nonce: "RRRRRRRRRRRRRRRR", ciphertext: "resealed" };
    const reseal = (fromKeyId: string) =>
      ({
        type: "accessKeysReseal",
        keys: [
          { accessKeyId: "FTFSAAAAAAAAAAAAAAAA", fromKeyId, sealed: newSeal },
          { accessKeyId: "FTFSGONEGONEGONEGONE", fromKeyId, sealed: newSeal },
        ],
        atMs: T0_MS,
      }) as const;
    expect(applyOk(store, reseal("ffffffff"))).toEqual({ resealed: 0 });
    expect(applyOk(store, reseal("0a1b2c3d"))).toEqual({ resealed: 1 });
    expect(store.getAccessKey("FTFSAAAAAAAAAAAAAAAA")?.sealed).toEqual(newSeal);
    expect(applyOk(store, reseal("0a1b2c3d"))).toEqual({ resealed: 0 });
  });
});

describe("quotas", () => {
  test("usage counts every kept version: put, update, delete", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 10)]));
    applyOk(store, commit("alice", "b", "u2", [chunk(2, 4)]));
    expect(store.getUsage("alice")).toEqual({ bytes: 14, files: 2 });
    // Without a keep policy (commands logged before it) the old version stays, and counts.
    applyOk(store, commit("alice", "a", "u3", [chunk(3, 3)]));
    expect(store.getUsage("alice")).toEqual({ bytes: 17, files: 2 });
    applyOk(store, { type: "deleteFile", uid: "alice", name: "a", requestId: "r", atMs: T0_MS });
    expect(store.getUsage("alice")).toEqual({ bytes: 4, files: 1 });
    // Keeping one version, an update replaces the bytes it counts.
    applyOk(store, { ...commit("alice", "b", "u4", [chunk(4, 1)]), keepVersions: 1 });
    expect(store.getUsage("alice")).toEqual({ bytes: 1, files: 1 });
  });

  test("the keep policy prunes the oldest kept versions: released, unreadable, dropped by upload", () => {
    const store = freshStore();
    const keep = (uploadId: string, n: number) =>
      applyOk(store, {
        ...commit("alice", "a", uploadId, [chunk(n, 10), chunk(9, 1)]),
        keepVersions: 2,
      });
    keep("u1", 1);
    keep("u2", 2);
    ackAll(store, "s1");
    keep("u3", 3);
    expect(store.getUsage("alice")).toEqual({ bytes: 22, files: 1 });
    expect(store.chunkKept("s1", sha(1))).toBe(false);
    // The chunk every version shares stays kept.
    expect(store.chunkKept("s1", sha(9))).toBe(true);
    const gone = findManifest(store, "alice", "a", 1);
    expect(!gone.ok && gone.error.message).toContain("no longer kept");
    expect(findManifest(store, "alice", "a", 2).ok).toBe(true);
    const notices = store.pendingNotices("s1", 10).map((item) => item.notice);
    expect(notices.map((notice) => notice.op)).toEqual(["commitRefs", "dropUploadRefs"]);
    expect(notices[1]?.body).toEqual({ uid: "alice", name: "a", uploadId: "u1" });
    // A retried commit of the pruned upload answers as the first did; it makes no version.
    expect(
      applyOk(store, {
        ...commit("alice", "a", "u1", [chunk(1, 10), chunk(9, 1)]),
        keepVersions: 2,
      }),
    ).toMatchObject({ version: 1 });
    expect(latest(store, "a")).toBe(3);
    // Deleting the name releases only what is still kept.
    applyOk(store, { type: "deleteFile", uid: "alice", name: "a", requestId: "r", atMs: T0_MS });
    expect(store.getUsage("alice")).toEqual({ bytes: 0, files: 0 });
  });

  test("a commit past the default byte quota is refused and changes nothing", () => {
    const store = freshStore();
    const limits = { quotaBytesDefault: 20, quotaFilesDefault: 10 };
    applyOk(store, { ...commit("alice", "a", "u1", [chunk(1, 15)]), ...limits });
    const refused = apply(store, { ...commit("alice", "b", "u2", [chunk(2, 6)]), ...limits });
    expect(errorCode(refused)).toBe("QUOTA_EXCEEDED");
    expect(!refused.ok && refused.error.message).toBe(
      "'b' would take user alice past the quota of 20 B (15 B used, 21 B after)",
    );
    expect(store.getUsage("alice")).toEqual({ bytes: 15, files: 1 });
    expect(latest(store, "b")).toBeUndefined();
    expect(store.noticeGroups(10)).toEqual(["s1"]);
    // Replacing the file (keeping one version) with one that fits alone is allowed.
    const replacing = { ...commit("alice", "a", "u3", [chunk(3, 20)]), ...limits, keepVersions: 1 };
    expect(apply(store, replacing).ok).toBe(true);
    // Keeping two, the old version still counts: the same update would not fit.
    const keepingTwo = { ...commit("alice", "a", "u4", [chunk(4, 1)]), ...limits, keepVersions: 2 };
    expect(errorCode(apply(store, keepingTwo))).toBe("QUOTA_EXCEEDED");
  });

  test("a refused commit stays refused: a late copy of it never commits once space is freed", () => {
    const store = freshStore();
    const limits = { quotaBytesDefault: 20, quotaFilesDefault: 10 };
    applyOk(store, { ...commit("alice", "a", "u1", [chunk(1, 15)]), ...limits });
    const tooBig = { ...commit("alice", "b", "u2", [chunk(2, 6)]), ...limits };
    expect(errorCode(apply(store, tooBig))).toBe("QUOTA_EXCEEDED");
    applyOk(store, { type: "deleteFile", uid: "alice", name: "a", requestId: "r1", atMs: T0_MS });
    expect(errorCode(apply(store, tooBig))).toBe("UPLOAD_EXPIRED");
    expect(latest(store, "b")).toBeUndefined();
    // An upload committed once is never marked refused by a mismatching copy.
    const other = { ...commit("alice", "c", "u3", [chunk(3, 1)]), ...limits };
    applyOk(store, other);
    expect(errorCode(apply(store, { ...other, name: "d" }))).toBe("MANIFEST_MISMATCH");
    expect(store.uploadSwept("alice", "u3")).toBe(false);
    expect(latest(store, "c")).toBe(1);
  });

  test("the file quota counts names; an update of an existing name needs no new one", () => {
    const store = freshStore();
    const limits = { quotaFilesDefault: 1 };
    applyOk(store, { ...commit("alice", "a", "u1", [chunk(1, 1)]), ...limits });
    const refused = apply(store, { ...commit("alice", "b", "u2", [chunk(2, 1)]), ...limits });
    expect(errorCode(refused)).toBe("QUOTA_EXCEEDED");
    expect(!refused.ok && refused.error.message).toContain("quota of 1 files");
    expect(apply(store, { ...commit("alice", "a", "u3", [chunk(3, 2)]), ...limits }).ok).toBe(true);
  });

  test("a user's own quota overrides the default, either way", () => {
    const store = freshStore();
    applyOk(store, addUser("bob", 1, { quotaBytes: 100 }));
    applyOk(store, addUser("carol", 2, { quotaBytes: 5 }));
    const limits = { quotaBytesDefault: 10 };
    expect(apply(store, { ...commit("bob", "x", "u1", [chunk(1, 50)]), ...limits }).ok).toBe(true);
    const refused = apply(store, { ...commit("carol", "x", "u2", [chunk(2, 6)]), ...limits });
    expect(errorCode(refused)).toBe("QUOTA_EXCEEDED");
  });

  test("commands logged before quotas (no defaults) have no default limit", () => {
    const store = freshStore();
    expect(apply(store, commit("alice", "a", "u1", [chunk(1, 10_000_000)])).ok).toBe(true);
  });
});

describe("createUser", () => {
  test("creates once, then says the user exists", () => {
    const store = new MemoryMetadataStore();
    expect(applyOk(store, { type: "createUser", uid: "bob", atMs: T0_MS })).toEqual({
      created: true,
    });
    expect(applyOk(store, { type: "createUser", uid: "bob", atMs: T0_MS + 5 })).toEqual({
      created: false,
    });
    expect(store.getUser("bob")).toEqual({ uid: "bob", createdAtMs: T0_MS });
  });

  test("refuses a bad uid", () => {
    const store = new MemoryMetadataStore();
    expect(errorCode(apply(store, { type: "createUser", uid: "../bob", atMs: T0_MS }))).toBe(
      "INVALID_UID",
    );
  });
});

describe("commitVersion", () => {
  test("versions increase and each update is a whole new manifest", () => {
    const store = freshStore();
    expect(applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)])).version).toBe(1);
    expect(
      applyOk(store, commit("alice", "a.txt", "u2", [chunk(2, 7), chunk(3, 3, "s2")])).version,
    ).toBe(2);
    const newest = findManifest(store, "alice", "a.txt", undefined);
    expect(newest.ok && newest.value.manifest.chunks.map((part) => part.id)).toEqual([
      sha(2),
      sha(3),
    ]);
    expect(newest.ok && newest.value.groups.map((group) => group.group)).toEqual(["s1", "s2"]);
    const first = findManifest(store, "alice", "a.txt", 1);
    expect(first.ok && first.value.manifest.chunks.map((part) => part.id)).toEqual([sha(1)]);
    expect(applyOk(store, commit("alice", "b.txt", "u3", [chunk(4, 1)])).version).toBe(1);
  });

  test("the same uploadId commits once and answers the same version", () => {
    const store = freshStore();
    const first = applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)], T0_MS));
    const again = applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)], T0_MS + 999));
    expect(again).toEqual(first);
    expect(latest(store, "a.txt")).toBe(1);
    const other = apply(store, commit("alice", "a.txt", "u1", [chunk(9, 11)]));
    expect(errorCode(other)).toBe("MANIFEST_MISMATCH");
  });

  test("empty files have no chunks and the hash of nothing", () => {
    const store = freshStore();
    expect(applyOk(store, commit("alice", "empty", "u1", [])).version).toBe(1);
    const wrongHash = { ...commit("alice", "empty", "u2", []), sha256: sha(5) };
    expect(errorCode(apply(store, wrongHash))).toBe("MANIFEST_MISMATCH");
    const withChunk = {
      ...commit("alice", "empty", "u3", [chunk(1, 1)]),
      bytes: 0,
      sha256: EMPTY_SHA256,
    };
    expect(errorCode(apply(store, withChunk))).toBe("MANIFEST_MISMATCH");
  });

  test("refused commits change nothing but the log", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)]));
    const before = store.lastApplied();
    const cases = [
      [commit("nobody", "a.txt", "u2", [chunk(1, 10)]), "NO_SUCH_USER"],
      [commit("alice", "../x", "u3", [chunk(1, 10)]), "INVALID_NAME"],
      [{ ...commit("alice", "a.txt", "u4", [chunk(1, 10)]), bytes: 11 }, "MANIFEST_MISMATCH"],
      [commit("alice", "a.txt", "u5", [chunk(1, 10, "s9")]), "MANIFEST_MISMATCH"],
    ] as const;
    for (const [command, code] of cases) expect(errorCode(apply(store, command))).toBe(code);
    expect(store.lastApplied()).toBe(before + cases.length);
    expect(latest(store, "a.txt")).toBe(1);
    expect(store.findUpload("alice", "u4")).toBeUndefined();
    expect(store.pendingNotices("s1", 100).length).toBe(1);
  });

  test("a commit notifies each group its chunks live in, once, naming exactly those", () => {
    const store = freshStore();
    // Chunk 3 twice in s1 and once in s2 (a put re-routed across a failover).
    const chunks = [chunk(3, 5), chunk(2, 5, "s2"), chunk(1, 5), chunk(3, 5), chunk(3, 5, "s2")];
    applyOk(store, commit("alice", "a.txt", "u1", chunks));
    const index = store.lastApplied();
    expect(store.noticeGroups(10)).toEqual(["s1", "s2"]);
    const owner = { uid: "alice", name: "a.txt", uploadId: "u1", version: 1 };
    // Distinct and sorted; s2's chunk is not named to s1 even if a put of it reached s1. The
    // file holds chunk 3 twice: s1 hears so, to list the file at its whole size.
    const toS1 = { ...owner, chunkIds: [sha(1), sha(3)], chunkBytes: [5, 5], chunkUses: [1, 2] };
    const toS2 = { ...owner, chunkIds: [sha(2), sha(3)], chunkBytes: [5, 5] };
    expect(store.pendingNotices("s1", 10)).toEqual([
      { index, seq: 0, group: "s1", notice: { op: "commitRefs", body: toS1 } },
    ]);
    expect(store.pendingNotices("s2", 10)).toEqual([
      { index, seq: 1, group: "s2", notice: { op: "commitRefs", body: toS2 } },
    ]);
  });
});

describe("deleteFile", () => {
  test("a tombstone hides the name and re-upload continues the numbering", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)]));
    applyOk(store, commit("alice", "a.txt", "u2", [chunk(2, 10)]));
    const deleted = applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r1",
      atMs: T0_MS,
    });
    expect(deleted).toEqual({ deletedVersion: 2 });
    expect(errorCode(findManifest(store, "alice", "a.txt", undefined))).toBe("NOT_FOUND");
    expect(errorCode(findManifest(store, "alice", "a.txt", 1))).toBe("NOT_FOUND");
    expect(listLiveFiles(store, "alice")).toEqual({ ok: true, value: [] });
    expect(applyOk(store, commit("alice", "a.txt", "u3", [chunk(3, 10)])).version).toBe(4);
    expect(latest(store, "a.txt")).toBe(4);
    expect(errorCode(findManifest(store, "alice", "a.txt", 2))).toBe("NOT_FOUND");
  });

  test("the same requestId answers the same deletion and deletes nothing more", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)]));
    const del = {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r1",
      atMs: T0_MS,
    } as const;
    expect(applyOk(store, del)).toEqual({ deletedVersion: 1 });
    applyOk(store, commit("alice", "a.txt", "u2", [chunk(2, 10)]));
    expect(applyOk(store, del)).toEqual({ deletedVersion: 1 });
    expect(latest(store, "a.txt")).toBe(3);
  });

  test("a refused delete stays refused: a late copy of it deletes nothing put since", () => {
    // Found by the directory simulation (seed 48): a delete answered NOT_FOUND, the client
    // uploads the name, then a copy of the same request still in flight reaches the primary.
    const store = freshStore();
    const del = {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r1",
      atMs: T0_MS,
    } as const;
    expect(errorCode(apply(store, del))).toBe("NOT_FOUND");
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)]));
    expect(errorCode(apply(store, del))).toBe("NOT_FOUND");
    expect(latest(store, "a.txt")).toBe(1);
    // The record goes with the swept uploads', a week after; by then no copy is in flight.
    applyOk(store, { type: "sweepUploads", uploads: [], atMs: T0_MS + SWEPT_UPLOADS_KEPT_MS + 1 });
    expect(store.uploadSwept("alice", "r1")).toBe(false);
  });

  test("deleting a missing or deleted name is NOT_FOUND with a clear message", () => {
    const store = freshStore();
    const missing = apply(store, {
      type: "deleteFile",
      uid: "alice",
      name: "nope",
      requestId: "r1",
      atMs: T0_MS,
    });
    expect(missing.ok ? "" : missing.error.message).toBe("no file 'nope' for user 'alice'");
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)]));
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r2",
      atMs: T0_MS,
    });
    const twice = apply(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r3",
      atMs: T0_MS,
    });
    expect(errorCode(twice)).toBe("NOT_FOUND");
  });

  test("a delete notifies the groups of the versions since the last delete", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10, "s2")]));
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r1",
      atMs: T0_MS,
    });
    expect(ackAll(store, "s1")).toBe(0);
    // s2 had the commit's commitRefs, then the delete's dropRefs.
    expect(ackAll(store, "s2")).toBe(2);
    applyOk(store, commit("alice", "a.txt", "u2", [chunk(2, 10, "s1")]));
    expect(ackAll(store, "s1")).toBe(1);
    expect(store.noticeGroups(10)).toEqual([]);
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r2",
      atMs: T0_MS,
    });
    expect(store.noticeGroups(10)).toEqual(["s1"]);
    // Exactly the upload deleted: a late or repeated delivery cannot touch a later upload.
    expect(store.pendingNotices("s1", 10).map((item) => item.notice)).toEqual([
      { op: "dropUploadRefs", body: { uid: "alice", name: "a.txt", uploadId: "u2" } },
    ]);
  });

  test("a delete names every kept upload of the name, each to the groups holding it", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10, "s1")]));
    applyOk(store, commit("alice", "a.txt", "u2", [chunk(2, 10, "s1"), chunk(3, 10, "s2")]));
    ackAll(store, "s1");
    ackAll(store, "s2");
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r1",
      atMs: T0_MS,
    });
    const drop = (uploadId: string) => ({
      op: "dropUploadRefs" as const,
      body: { uid: "alice", name: "a.txt", uploadId },
    });
    expect(store.pendingNotices("s1", 10).map((item) => item.notice)).toEqual([
      drop("u2"),
      drop("u1"),
    ]);
    expect(store.pendingNotices("s2", 10).map((item) => item.notice)).toEqual([drop("u2")]);
    for (const id of [1, 2]) expect(store.chunkKept("s1", sha(id))).toBe(false);
    expect(store.chunkKept("s2", sha(3))).toBe(false);
  });
});

describe("setGroupConfig", () => {
  test("only a newer epoch is installed", () => {
    const store = freshStore();
    const stale = apply(store, {
      type: "setGroupConfig",
      config: groupConfig("s1", ["s1b"], 1),
      atMs: T0_MS,
    });
    expect(errorCode(stale)).toBe("STALE_EPOCH");
    expect(
      applyOk(store, {
        type: "setGroupConfig",
        config: groupConfig("s1", ["s1b"], 2),
        atMs: T0_MS,
      }),
    ).toEqual({
      epoch: 2,
    });
    expect(store.getGroup("s1")?.primaryNode).toBe("s1b");
  });

  test("the primary must be one of the replicas", () => {
    const store = freshStore();
    const config = { ...groupConfig("s3", ["s3a"]), primaryNode: "elsewhere" };
    expect(errorCode(apply(store, { type: "setGroupConfig", config, atMs: T0_MS }))).toBe(
      "BAD_REQUEST",
    );
  });
});

describe("ackNotices", () => {
  test("forgets one group's notices through (index, seq) and answers how many", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 5), chunk(2, 5, "s2")]));
    const first = store.lastApplied();
    applyOk(store, commit("alice", "b.txt", "u2", [chunk(3, 5, "s2"), chunk(4, 5)]));
    const second = store.lastApplied();
    const labels = (group: string) =>
      store.pendingNotices(group, 100).map((item) => [item.index, item.seq]);
    expect(labels("s1")).toEqual([
      [first, 0],
      [second, 1],
    ]);
    expect(labels("s2")).toEqual([
      [first, 1],
      [second, 0],
    ]);
    const ack = (group: string, throughIndex: number, throughSeq: number) =>
      applyOk(store, { type: "ackNotices", group, throughIndex, throughSeq, atMs: T0_MS });

    // s2's first notice is seq 1 of its entry, so an ack through seq 0 does not reach it.
    expect(ack("s2", first, 0)).toEqual({ acked: 0 });
    expect(labels("s2")).toEqual([
      [first, 1],
      [second, 0],
    ]);
    expect(ack("s2", first, 1)).toEqual({ acked: 1 });
    expect(labels("s2")).toEqual([[second, 0]]);
    expect(labels("s1")).toEqual([
      [first, 0],
      [second, 1],
    ]);

    const before = store.lastApplied();
    expect(ack("s1", second, 1)).toEqual({ acked: 2 });
    expect(ack("s1", second, 1)).toEqual({ acked: 0 });
    expect(ack("nowhere", before, 0)).toEqual({ acked: 0 });
    // Every ack is an entry of its own even when it forgets nothing, and adds no notice.
    expect(store.lastApplied()).toBe(before + 3);
    expect(store.noticeGroups(10)).toEqual(["s2"]);
    expect(labels("s2")).toEqual([[second, 0]]);
  });

  test("an ack leaves versions, users and groups alone", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 5)]));
    const groups = store.listGroups();
    const files = listLiveFiles(store, "alice");
    expect(ackAll(store, "s1")).toBe(1);
    expect(store.listGroups()).toEqual(groups);
    expect(listLiveFiles(store, "alice")).toEqual(files);
    expect(store.getUser("alice")).toEqual({ uid: "alice", createdAtMs: T0_MS });
  });
});

describe("uploads, deadlines and sweeps", () => {
  const sweep = (uploads: readonly string[], atMs: number) =>
    ({
      type: "sweepUploads",
      uploads: uploads.map((uploadId) => ({ uid: "alice", uploadId })),
      atMs,
    }) as const;

  test("a swept upload never commits, whenever its commit arrives", () => {
    const store = freshStore();
    const uploadId = uploadIdWithDeadline(T0_MS + 1_000, "x");
    expect(applyOk(store, sweep([uploadId], T0_MS + 1_001))).toEqual({ swept: 1 });
    expect(store.uploadSwept("alice", uploadId)).toBe(true);
    // Even a commit stamped before the deadline (a primary whose clock is slow) is refused.
    const late = apply(store, commit("alice", "a.txt", uploadId, [chunk(1, 10)], T0_MS));
    expect(errorCode(late)).toBe("UPLOAD_EXPIRED");
    expect(store.latestVersion("alice", "a.txt")).toBeUndefined();
    expect(store.chunkKept("s1", sha(1))).toBe(false);
  });

  test("an upload is swept only past its deadline and only if it did not commit", () => {
    const store = freshStore();
    const open = uploadIdWithDeadline(T0_MS + 5_000, "open");
    const committed = uploadIdWithDeadline(T0_MS + 5_000, "done");
    applyOk(store, commit("alice", "a.txt", committed, [chunk(1, 10)], T0_MS));
    expect(applyOk(store, sweep([open, committed], T0_MS + 5_000))).toEqual({ swept: 0 });
    expect(applyOk(store, sweep([open, committed, open], T0_MS + 5_001))).toEqual({ swept: 1 });
    expect(store.uploadSwept("alice", open)).toBe(true);
    expect(store.uploadSwept("alice", committed)).toBe(false);
    // A retried commit of the committed upload still answers as the first did.
    const retried = applyOk(
      store,
      commit("alice", "a.txt", committed, [chunk(1, 10)], T0_MS + 9e9),
    );
    expect(retried.version).toBe(1);
  });

  test("a commit past its deadline is refused; an id without one is held to sweeps only", () => {
    const store = freshStore();
    const uploadId = uploadIdWithDeadline(T0_MS, "x");
    const late = apply(store, commit("alice", "a.txt", uploadId, [chunk(1, 10)], T0_MS + 1));
    expect(errorCode(late)).toBe("UPLOAD_EXPIRED");
    applyOk(store, commit("alice", "b.txt", "legacy", [chunk(2, 10)], T0_MS + 9e9));
    applyOk(store, sweep(["legacy-2"], T0_MS));
    expect(errorCode(apply(store, commit("alice", "c.txt", "legacy-2", [chunk(3, 10)])))).toBe(
      "UPLOAD_EXPIRED",
    );
  });

  test("swept records are forgotten long past their deadline, and then the deadline refuses", () => {
    const store = freshStore();
    const old = uploadIdWithDeadline(T0_MS, "old");
    applyOk(store, sweep([old], T0_MS + 1));
    applyOk(store, sweep([], T0_MS + SWEPT_UPLOADS_KEPT_MS + 1));
    expect(store.uploadSwept("alice", old)).toBe(false);
    const late = apply(store, commit("alice", "a.txt", old, [chunk(1, 10)], T0_MS + 2));
    expect(errorCode(late)).toBe("UPLOAD_EXPIRED");
  });
});

describe("the history a name keeps", () => {
  test("records of pruned and deleted versions go once their upload's deadline passed", () => {
    const store = freshStore();
    const id = (n: number) => uploadIdWithDeadline(T0_MS + n * 1_000, `u${n}`);
    const put = (n: number, atMs: number) =>
      applyOk(store, { ...commit("alice", "a", id(n), [chunk(n, 10)], atMs), keepVersions: 1 });
    put(1, T0_MS);
    put(2, T0_MS + 10); // prunes v1, whose deadline is still ahead: its record stays
    expect(store.getVersion("alice", "a", 1)).toMatchObject({ pruned: true });
    expect(
      applyOk(store, {
        ...commit("alice", "a", id(1), [chunk(1, 10)], T0_MS + 20),
        keepVersions: 1,
      }),
    ).toMatchObject({ version: 1 });
    put(3, T0_MS + 1_500); // past v1's deadline, not v2's: v1's record goes; v2 is pruned now
    expect(store.getVersion("alice", "a", 1)).toBeUndefined();
    expect(store.getVersion("alice", "a", 2)).toMatchObject({ pruned: true });
    // A late retry of the forgotten upload is refused by its deadline, never a new version.
    const late = apply(store, {
      ...commit("alice", "a", id(1), [chunk(1, 10)], T0_MS + 1_600),
      keepVersions: 1,
    });
    expect(errorCode(late)).toBe("UPLOAD_EXPIRED");
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a",
      requestId: "r",
      atMs: T0_MS + 3_500,
    });
    // v2 (pruned) and v3 (deleted) are past their deadlines: only the tombstone is left.
    expect(
      store.listVersions("alice", "a", 0).map((record) => [record.version, record.kind]),
    ).toEqual([[4, "tombstone"]]);
    // The numbering goes on from the tombstone.
    expect(
      applyOk(store, {
        ...commit("alice", "a", id(9), [chunk(5, 10)], T0_MS + 3_600),
        keepVersions: 1,
      }).version,
    ).toBe(5);
  });
});

describe("the chunk index", () => {
  test("kept versions' chunks are indexed per group until the name is deleted", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10), chunk(2, 10, "s2")]));
    applyOk(store, commit("alice", "a.txt", "u2", [chunk(1, 10), chunk(3, 10)]));
    applyOk(store, commit("alice", "b.txt", "u3", [chunk(3, 10)]));
    expect(store.chunkKept("s1", sha(1))).toBe(true);
    expect(store.chunkKept("s2", sha(2))).toBe(true);
    expect(store.chunkKept("s1", sha(2))).toBe(false);
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: "r1",
      atMs: T0_MS,
    });
    expect(store.chunkKept("s1", sha(1))).toBe(false);
    expect(store.chunkKept("s2", sha(2))).toBe(false);
    // b.txt still names chunk 3 in s1.
    expect(store.chunkKept("s1", sha(3))).toBe(true);
  });

  test("a move re-indexes the version's chunks under the target group", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10), chunk(2, 10)]));
    applyOk(store, {
      type: "moveVersion",
      uid: "alice",
      name: "a.txt",
      version: 1,
      uploadId: "u1",
      from: "s1",
      to: "s2",
      chunkIds: [sha(1), sha(2)],
      atMs: T0_MS,
    });
    for (const id of [1, 2]) {
      expect(store.chunkKept("s1", sha(id))).toBe(false);
      expect(store.chunkKept("s2", sha(id))).toBe(true);
    }
  });
});

describe("moveVersion", () => {
  function move(
    version: number,
    uploadId: string,
    chunkIds: readonly string[],
    from = "s1",
    to = "s2",
  ): MoveVersion {
    const fields = { uid: "alice", name: "a.txt", version, uploadId, from, to, chunkIds };
    return { type: "moveVersion", ...fields, atMs: T0_MS };
  }

  test("switches exactly the version's chunks in `from`, then tells both groups", () => {
    const store = freshStore();
    const chunks = [chunk(1, 5), chunk(2, 5, "s2"), chunk(1, 5), chunk(3, 4)];
    applyOk(store, commit("alice", "a.txt", "u1", chunks));
    ackAll(store, "s1");
    ackAll(store, "s2");
    expect(applyOk(store, move(1, "u1", [sha(1), sha(3)]))).toEqual({
      movedRefs: 3,
      movedBytes: 14,
    });
    const index = store.lastApplied();
    const found = findManifest(store, "alice", "a.txt", 1);
    expect(found.ok && found.value.manifest.chunks).toEqual([
      chunk(1, 5, "s2"),
      chunk(2, 5, "s2"),
      chunk(1, 5, "s2"),
      chunk(3, 4, "s2"),
    ]);
    expect(found.ok && found.value.groups.map((config) => config.group)).toEqual(["s2"]);
    expect(store.findUpload("alice", "u1")?.chunks).toEqual(
      found.ok ? found.value.manifest.chunks : [],
    );
    const owner = { uid: "alice", name: "a.txt", uploadId: "u1" };
    expect(store.pendingNotices("s2", 10)).toEqual([
      {
        index,
        seq: 0,
        group: "s2",
        notice: {
          op: "commitRefs",
          body: {
            ...owner,
            version: 1,
            chunkIds: [sha(1), sha(2), sha(3)],
            chunkBytes: [5, 5, 4],
            chunkUses: [2, 1, 1], // the moved file holds chunk 1 twice
          },
        },
      },
    ]);
    expect(store.pendingNotices("s1", 10)).toEqual([
      { index, seq: 1, group: "s1", notice: { op: "dropUploadRefs", body: owner } },
    ]);
  });

  test("moves an older live version and leaves the newer one alone", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 5)]));
    applyOk(store, commit("alice", "a.txt", "u2", [chunk(2, 5)]));
    applyOk(store, move(1, "u1", [sha(1)]));
    expect(store.getVersion("alice", "a.txt", 1)).toMatchObject({ chunks: [chunk(1, 5, "s2")] });
    expect(store.getVersion("alice", "a.txt", 2)).toMatchObject({ chunks: [chunk(2, 5)] });
  });

  test("refuses a deleted, replaced-by-delete or unknown version, changing nothing", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 5)]));
    const remove = { type: "deleteFile", uid: "alice", name: "a.txt", requestId: "r1" } as const;
    applyOk(store, { ...remove, atMs: T0_MS });
    applyOk(store, commit("alice", "a.txt", "u2", [chunk(2, 5)]));
    const before = store.listVersions("alice", "a.txt", 1);
    const notices = ["s1", "s2"].map((group) => store.pendingNotices(group, 100));
    expect(errorCode(apply(store, move(1, "u1", [sha(1)])))).toBe("NOT_FOUND"); // deleted
    expect(errorCode(apply(store, move(2, "u1", [sha(1)])))).toBe("NOT_FOUND"); // a tombstone
    expect(errorCode(apply(store, move(3, "u1", [sha(2)])))).toBe("NOT_FOUND"); // other upload
    expect(errorCode(apply(store, move(9, "u9", [sha(2)])))).toBe("NOT_FOUND");
    expect(store.listVersions("alice", "a.txt", 1)).toEqual(before);
    expect(["s1", "s2"].map((group) => store.pendingNotices(group, 100))).toEqual(notices);
  });

  test("refuses when the chunks in `from` are not exactly the ones copied", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 5), chunk(2, 5)]));
    const before = store.getVersion("alice", "a.txt", 1);
    for (const ids of [[sha(1)], [sha(1), sha(2), sha(3)], []]) {
      expect(errorCode(apply(store, move(1, "u1", ids)))).toBe("MANIFEST_MISMATCH");
    }
    // Moved already: nothing of it is left in s1, so a second move of the same copy refuses.
    applyOk(store, move(1, "u1", [sha(2), sha(1)]));
    expect(errorCode(apply(store, move(1, "u1", [sha(1), sha(2)])))).toBe("MANIFEST_MISMATCH");
    expect(store.getVersion("alice", "a.txt", 1)).toEqual({
      ...before,
      chunks: [chunk(1, 5, "s2"), chunk(2, 5, "s2")],
    } as typeof before);
  });

  test("refuses a move to the same group or to an unknown one", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 5)]));
    expect(errorCode(apply(store, move(1, "u1", [sha(1)], "s1", "s1")))).toBe("BAD_REQUEST");
    expect(errorCode(apply(store, move(1, "u1", [sha(1)], "s1", "s9")))).toBe("BAD_REQUEST");
    expect(store.getVersion("alice", "a.txt", 1)).toMatchObject({ chunks: [chunk(1, 5)] });
  });
});

describe("the log", () => {
  test("replaying the applied commands into a fresh store gives the same state and answers", () => {
    const store = new MemoryMetadataStore();
    // Raft keeps the log outside the store; this array stands in for it.
    const log: Command[] = [];
    const outcomes: Result<Outcome>[] = [];
    const run = (command: Command): void => {
      log.push(command);
      outcomes.push(apply(store, command));
    };
    run({ type: "createUser", uid: "alice", atMs: T0_MS });
    run({ type: "setGroupConfig", config: groupConfig("s1", ["s1a", "s1b"]), atMs: T0_MS });
    run({ type: "setGroupConfig", config: groupConfig("s2", ["s2a"]), atMs: T0_MS });
    run(commit("alice", "a.txt", "u1", [chunk(1, 10)]));
    run({ type: "createUser", uid: "bob", atMs: T0_MS + 1 });
    run(commit("bob", "b", "u2", [chunk(2, 3, "s2"), chunk(5, 1)]));
    run({ type: "deleteFile", uid: "alice", name: "a.txt", requestId: "r1", atMs: T0_MS });
    run({ type: "ackNotices", group: "s1", throughIndex: 6, throughSeq: 1, atMs: T0_MS });
    run(commit("alice", "a.txt", "u3", [chunk(3, 4)]));
    run(commit("alice", "bad", "u4", [chunk(4, 4, "nowhere")]));
    const moved = { uid: "bob", name: "b", version: 1, uploadId: "u2", from: "s1", to: "s2" };
    run({ type: "moveVersion", ...moved, chunkIds: [sha(5)], atMs: T0_MS });
    run({ type: "setGroupConfig", config: groupConfig("s2", ["s2b"], 1), atMs: T0_MS });
    run({ type: "setGroupConfig", config: groupConfig("s2", ["s2b"], 2), atMs: T0_MS });
    expect(store.lastApplied()).toBe(log.length);
    // Two refusals are in the log too: the commit to an unknown group and the stale epoch.
    expect(outcomes.filter((outcome) => !outcome.ok).length).toBe(2);

    const replica = new MemoryMetadataStore();
    const replayed = log.map((command, at) => applyCommand(replica, at + 1, command));
    expect(replayed).toEqual(outcomes);
    expect(replica.lastApplied()).toBe(store.lastApplied());
    for (const uid of ["alice", "bob"]) {
      expect(replica.getUser(uid)).toEqual(store.getUser(uid));
      expect(listLiveFiles(replica, uid)).toEqual(listLiveFiles(store, uid));
    }
    for (const [uid, name] of [
      ["alice", "a.txt"],
      ["bob", "b"],
    ] as const) {
      expect(replica.listVersions(uid, name, 1)).toEqual(store.listVersions(uid, name, 1));
    }
    expect(replica.listGroups()).toEqual(store.listGroups());
    expect(replica.noticeGroups(10)).toEqual(["s1", "s2"]);
    expect(replica.noticeGroups(10)).toEqual(store.noticeGroups(10));
    for (const group of ["s1", "s2"]) {
      expect(replica.pendingNotices(group, 100)).toEqual(store.pendingNotices(group, 100));
    }
    // The replicated ack is replayed too: the commitRefs of entries 4 and 6 to s1 are gone;
    // entry 11 is the move's dropUploadRefs.
    expect(replica.pendingNotices("s1", 100).map((item) => item.index)).toEqual([7, 9, 11]);
    expect(replica.getVersion("bob", "b", 1)).toMatchObject({
      chunks: [chunk(2, 3, "s2"), chunk(5, 1, "s2")],
    });
  });

  test("an entry must follow lastApplied", () => {
    const store = freshStore();
    const applied = store.lastApplied();
    const command = { type: "createUser", uid: "x", atMs: 0 } as const;
    expect(() => applyCommand(store, applied + 2, command)).toThrow();
    expect(() => applyCommand(store, applied, command)).toThrow();
    expect(store.lastApplied()).toBe(applied);
    expect(store.getUser("x")).toBeUndefined();
    expect(applyCommand(store, applied + 1, command)).toEqual({
      ok: true,
      value: { created: true },
    });
  });
});

describe("conditional writes", () => {
  test("a write bound to a version lands only on that version; to none, only on no live one", () => {
    const store = freshStore();
    const create = {
      ...commit("alice", "c.txt", "u1", [chunk(1, 10)]),
      precondition: { version: null },
    };
    expect(applyOk(store, create).version).toBe(1);
    const again = {
      ...commit("alice", "c.txt", "u2", [chunk(2, 10)]),
      precondition: { version: null },
    };
    expect(errorCode(apply(store, again))).toBe("PRECONDITION_FAILED");
    const swap = (uploadId: string, version: number) => ({
      ...commit("alice", "c.txt", uploadId, [chunk(3, 10)]),
      precondition: { version },
    });
    expect(errorCode(apply(store, swap("u3", 2)))).toBe("PRECONDITION_FAILED");
    expect(latest(store, "c.txt")).toBe(1);
    expect(applyOk(store, swap("u4", 1)).version).toBe(2);
    // After a delete the name has no live version: create-only writes land again.
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "c.txt",
      requestId: "r1",
      atMs: T0_MS,
    });
    expect(errorCode(apply(store, swap("u5", 2)))).toBe("PRECONDITION_FAILED");
    const recreate = {
      ...commit("alice", "c.txt", "u6", [chunk(4, 10)]),
      precondition: { version: null },
    };
    expect(applyOk(store, recreate).version).toBe(4);
  });

  test("a refused conditional write stays refused when its upload is retried", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "c.txt", "u1", [chunk(1, 10)]));
    const create = {
      ...commit("alice", "c.txt", "u2", [chunk(2, 10)]),
      precondition: { version: null },
    };
    expect(errorCode(apply(store, create))).toBe("PRECONDITION_FAILED");
    applyOk(store, {
      type: "deleteFile",
      uid: "alice",
      name: "c.txt",
      requestId: "r1",
      atMs: T0_MS,
    });
    // The name is free now, but this upload was refused: its late copy must not land.
    expect(apply(store, create).ok).toBe(false);
    expect(latest(store, "c.txt")).toBeUndefined();
  });
});
