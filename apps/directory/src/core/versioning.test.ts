/**
 * S3 versioning in the state machine: in a bucket with versioning on, no commit prunes a
 * version and a delete leaves a delete marker over versions that stay kept (their chunks in
 * the chunk index, no notice to drop them); deleting one version or marker by number makes
 * the newest below current again, releases only that version's chunks, and never reuses its
 * number; usage follows every step; a bucket with versions left is not empty.
 */
import { describe, expect, test } from "bun:test";
import { partStoredName } from "@ftfs/protocol/core";
import { apply, applyOk, chunk, commit, seedBasics, T0_MS } from "../testing/fixtures.ts";
import { MemoryMetadataStore } from "./memory-store.ts";
import { findManifest, listBucketObjects, listBucketObjectVersions } from "./queries.ts";

const KEY = "/vers/k";

function freshStore(versioning?: "enabled" | "suspended"): MemoryMetadataStore {
  const store = new MemoryMetadataStore();
  seedBasics(store);
  applyOk(store, { type: "bucketCreate", uid: "alice", bucket: "vers", atMs: T0_MS });
  if (versioning !== undefined) {
    applyOk(store, {
      type: "bucketVersioning",
      uid: "alice",
      bucket: "vers",
      versioning,
      atMs: T0_MS,
    });
  }
  return store;
}

/** Version n of KEY: one chunk of its own, n bytes; the directory keeps 2 versions. */
function put(store: MemoryMetadataStore, n: number, name = KEY): number {
  return applyOk(store, {
    ...commit("alice", name, `up-${name}-${n}`, [chunk(n, n)]),
    keepVersions: 2,
  }).version;
}

function remove(store: MemoryMetadataStore, requestId: string, name = KEY) {
  return apply(store, { type: "deleteFile", uid: "alice", name, requestId, atMs: T0_MS + 1 });
}

function deleteVersion(store: MemoryMetadataStore, version: number, name = KEY) {
  return applyOk(store, { type: "deleteVersion", uid: "alice", name, version, atMs: T0_MS + 2 });
}

function currentOf(store: MemoryMetadataStore): number | string {
  const found = findManifest(store, "alice", KEY, undefined);
  return found.ok ? found.value.manifest.version : found.error.code;
}

function dropNotices(store: MemoryMetadataStore): string[] {
  return store
    .pendingNotices("s1", 100)
    .filter(({ notice }) => notice.op === "dropUploadRefs")
    .map(({ notice }) => (notice.op === "dropUploadRefs" ? notice.body.uploadId : ""));
}

function versionsListed(store: MemoryMetadataStore): string[] {
  const page = listBucketObjectVersions(store, "alice", "vers", "", null, 100);
  if (!page.ok) throw new Error(page.error.message);
  return page.value.versions.map(
    (entry) => `${entry.version}${entry.deleteMarker ? "m" : ""}${entry.latest ? "*" : ""}`,
  );
}

describe("bucket versioning", () => {
  test("only a user's own bucket can have it; the home bucket follows the keep policy", () => {
    const store = freshStore();
    const set = (bucket: string) =>
      apply(store, {
        type: "bucketVersioning",
        uid: "alice",
        bucket,
        versioning: "enabled",
        atMs: T0_MS,
      });
    expect(set("ftfs").ok).toBe(false);
    const missing = set("nobucket");
    expect(missing.ok ? "" : missing.error.code).toBe("NO_SUCH_BUCKET");
    expect(set("vers").ok).toBe(true);
    expect(store.getBucket("alice", "vers")?.versioning).toBe("enabled");
  });

  test("with versioning on, commits prune nothing; without, the keep policy prunes", () => {
    const plain = freshStore();
    const versioned = freshStore("enabled");
    for (const n of [1, 2, 3, 4]) {
      put(plain, n);
      put(versioned, n);
    }
    expect(versionsListed(plain)).toEqual(["4*", "3"]);
    expect(versionsListed(versioned)).toEqual(["4*", "3", "2", "1"]);
    expect(versioned.getUsage("alice")).toEqual({ bytes: 1 + 2 + 3 + 4, files: 1 });
    expect(versioned.chunkKept("s1", chunk(1, 1).id)).toBe(true);
  });

  test("a delete leaves a marker; every version stays kept and readable by number", () => {
    const store = freshStore("enabled");
    put(store, 1);
    put(store, 2);
    const removed = remove(store, "rm-1");
    expect(removed.ok && removed.value).toEqual({ deletedVersion: 2, markerVersion: 3 });
    expect(currentOf(store)).toBe("NOT_FOUND");
    expect(listBucketObjects(store, "alice", "vers", "", null, 10)).toMatchObject({
      ok: true,
      value: { objects: [] },
    });
    const old = findManifest(store, "alice", KEY, 1);
    expect(old.ok && old.value.manifest.version).toBe(1);
    const atMarker = findManifest(store, "alice", KEY, 3);
    expect(atMarker.ok ? null : atMarker.error.hint).toEqual({ deleteMarker: true });
    expect(store.chunkKept("s1", chunk(2, 2).id)).toBe(true);
    expect(dropNotices(store)).toEqual([]);
    expect(store.getUsage("alice")).toEqual({ bytes: 3, files: 0 });
    expect(versionsListed(store)).toEqual(["3m*", "2", "1"]);
    // A retry answers as the first did; a delete of a deleted name is refused, no new marker.
    const retried = remove(store, "rm-1");
    expect(retried.ok && retried.value).toEqual({ deletedVersion: 2, markerVersion: 3 });
    expect(remove(store, "rm-2").ok).toBe(false);
    expect(versionsListed(store)).toEqual(["3m*", "2", "1"]);
  });

  test("deleting the marker by number makes the newest version below current again", () => {
    const store = freshStore("suspended");
    put(store, 1);
    remove(store, "rm-1");
    expect(deleteVersion(store, 2)).toEqual({ deleted: true, marker: true });
    expect(currentOf(store)).toBe(1);
    expect(store.getUsage("alice")).toEqual({ bytes: 1, files: 1 });
    expect(versionsListed(store)).toEqual(["1*"]);
    // Numbers are never reused: the next version follows the deleted marker.
    expect(put(store, 3)).toBe(3);
  });

  test("deleting the current version by number releases it alone; the one below is current", () => {
    const store = freshStore("enabled");
    put(store, 1);
    put(store, 2);
    expect(deleteVersion(store, 2)).toEqual({ deleted: true, marker: false });
    expect(currentOf(store)).toBe(1);
    expect(store.chunkKept("s1", chunk(2, 2).id)).toBe(false);
    expect(store.chunkKept("s1", chunk(1, 1).id)).toBe(true);
    expect(dropNotices(store)).toEqual([`up-${KEY}-2`]);
    expect(store.getUsage("alice")).toEqual({ bytes: 1, files: 1 });
    // Gone already, or never there: a harmless no.
    expect(deleteVersion(store, 2)).toEqual({ deleted: false, marker: false });
    expect(deleteVersion(store, 99)).toEqual({ deleted: false, marker: false });
    expect(deleteVersion(store, 1)).toEqual({ deleted: true, marker: false });
    expect(currentOf(store)).toBe("NOT_FOUND");
    expect(store.getUsage("alice")).toEqual({ bytes: 0, files: 0 });
    expect(put(store, 3)).toBe(3);
  });

  test("an older version deleted by number leaves the current one alone", () => {
    const store = freshStore("enabled");
    put(store, 1);
    put(store, 2);
    deleteVersion(store, 1);
    expect(currentOf(store)).toBe(2);
    expect(store.getUsage("alice")).toEqual({ bytes: 2, files: 1 });
    expect(versionsListed(store)).toEqual(["2*"]);
  });

  test("without versioning a delete still releases every version, and no marker is left", () => {
    const store = freshStore();
    put(store, 1);
    put(store, 2);
    const removed = remove(store, "rm-1");
    expect(removed.ok && removed.value).toEqual({ deletedVersion: 2 });
    expect(versionsListed(store)).toEqual([]);
    expect(dropNotices(store).sort()).toEqual([`up-${KEY}-1`, `up-${KEY}-2`]);
    expect(store.getUsage("alice")).toEqual({ bytes: 0, files: 0 });
  });

  test("a bucket with versions or markers left is not empty", () => {
    const store = freshStore("enabled");
    put(store, 1);
    remove(store, "rm-1");
    const drop = () =>
      apply(store, { type: "bucketDelete", uid: "alice", bucket: "vers", atMs: T0_MS });
    const refused = drop();
    expect(refused.ok ? "" : refused.error.code).toBe("BUCKET_NOT_EMPTY");
    deleteVersion(store, 2);
    expect(drop().ok).toBe(false);
    deleteVersion(store, 1);
    expect(drop().ok).toBe(true);
  });

  test("a part of a multipart upload cannot be deleted by number", () => {
    const store = freshStore("enabled");
    const part = partStoredName("mpu-1", 1);
    const refused = apply(store, {
      type: "deleteVersion",
      uid: "alice",
      name: part,
      version: 1,
      atMs: T0_MS,
    });
    expect(refused.ok ? "" : refused.error.code).toBe("BAD_REQUEST");
  });

  test("the home bucket lists the versions of file names and of its other keys together, by page", () => {
    const store = freshStore("enabled");
    for (const [name, n] of [
      ["a.txt", 1],
      ["a.txt", 2],
      ["/ftfs/dir/k", 3],
      ["/vers/other", 4],
      ["zz.txt", 5],
    ] as const) {
      put(store, n, name);
    }
    const page = (after: { key: string; version: number } | null, countMax: number) => {
      const listed = listBucketObjectVersions(store, "alice", "ftfs", "", after, countMax);
      if (!listed.ok) throw new Error(listed.error.message);
      return listed.value;
    };
    const whole = page(null, 100).versions.map((entry) => `${entry.key}@${entry.version}`);
    expect(whole).toEqual(["a.txt@2", "a.txt@1", "dir/k@1", "zz.txt@1"]);
    const paged: string[] = [];
    let after: { key: string; version: number } | null = null;
    for (let pages = 0; pages < 10; pages += 1) {
      const next = page(after, 1);
      const entry = next.versions[0];
      if (entry === undefined) break;
      paged.push(`${entry.key}@${entry.version}`);
      after = { key: entry.key, version: entry.version };
      if (!next.truncated) break;
    }
    expect(paged).toEqual(whole);
  });
});
