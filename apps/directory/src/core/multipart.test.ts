/**
 * S3 multipart uploads in the state machine: parts are names of their own, committed like any
 * upload but only while their upload is open and never listed; a completion joins the listed
 * parts' chunk lists into the object and drops every part in the same step (the object's
 * chunks kept before the parts' references are dropped, group by group); an abort drops them;
 * a refused completion changes nothing.
 */
import { describe, expect, test } from "bun:test";
import {
  HOME_BUCKET,
  MULTIPART_PART_BYTES_MIN,
  MULTIPART_UPLOAD_LIFETIME_MS,
  partStoredName,
  uploadIdWithDeadline,
  type ChunkRef,
} from "@ftfs/protocol/core";
import { apply, applyOk, chunk, commit, seedBasics, sha, T0_MS } from "../testing/fixtures.ts";
import type { MultipartComplete } from "./commands.ts";
import { MemoryMetadataStore } from "./memory-store.ts";
import { findManifest, listBucketObjects, listLiveFiles } from "./queries.ts";

const UPLOAD = uploadIdWithDeadline(T0_MS + MULTIPART_UPLOAD_LIFETIME_MS, "mpu-one");
const OBJECT = "/photos/big.bin";
const PART_BYTES = MULTIPART_PART_BYTES_MIN;

function freshStore(): MemoryMetadataStore {
  const store = new MemoryMetadataStore();
  seedBasics(store);
  applyOk(store, { type: "bucketCreate", uid: "alice", bucket: "photos", atMs: T0_MS });
  return store;
}

function errorCode(result: { ok: boolean; error?: { code: string } }): string | undefined {
  return result.ok ? undefined : result.error?.code;
}

function open(store: MemoryMetadataStore, uploadId = UPLOAD, name = OBJECT): void {
  applyOk(store, {
    type: "multipartCreate",
    uid: "alice",
    uploadId,
    name,
    attrs: { contentType: "video/mp4" },
    atMs: T0_MS,
  });
}

/** Part `n` of UPLOAD as chunks, with MD5 `md5(n)`. */
function putPart(store: MemoryMetadataStore, n: number, chunks: readonly ChunkRef[], tag = n) {
  const name = partStoredName(UPLOAD, n);
  return apply(store, {
    ...commit("alice", name, `part-${n}-${tag}`, chunks),
    attrs: { md5: md5(tag) },
  });
}

function md5(n: number): string {
  return n.toString(16).padStart(32, "0");
}

function completion(
  parts: ReadonlyArray<{ partNumber: number; version?: number; md5?: string }>,
): MultipartComplete {
  return {
    type: "multipartComplete",
    uid: "alice",
    uploadId: UPLOAD,
    parts: parts.map(({ partNumber, version, md5: digest }) => ({
      partNumber,
      version: version ?? 1,
      md5: digest ?? md5(partNumber),
    })),
    sha256: sha(777),
    md5: md5(999),
    atMs: T0_MS + 1,
  };
}

/** Everything the store holds but its applied index. */
function stateOf(store: MemoryMetadataStore): unknown {
  const { applied: _applied, ...rest } = JSON.parse(new TextDecoder().decode(store.exportState()));
  return rest;
}

describe("parts", () => {
  test("a part commits only while its upload is open, and is never listed", () => {
    const store = freshStore();
    expect(errorCode(putPart(store, 1, [chunk(1, 100)]))).toBe("NO_SUCH_UPLOAD");
    open(store);
    // The refused commit stays refused (its upload id is recorded): a new upload goes in.
    expect(errorCode(putPart(store, 1, [chunk(1, 100)]))).toBe("UPLOAD_EXPIRED");
    expect(putPart(store, 1, [chunk(1, 100)], 11).ok).toBe(true);
    const home = listLiveFiles(store, "alice");
    expect(home.ok && home.value).toEqual([]);
    const photos = listBucketObjects(store, "alice", "photos", "", null, 10);
    expect(photos.ok && photos.value.objects).toEqual([]);
    const everything = listBucketObjects(store, "alice", HOME_BUCKET, "", null, 10);
    expect(everything.ok && everything.value.objects).toEqual([]);
  });

  test("an upload of an object in a bucket the user lacks, or of a part, is refused", () => {
    const store = freshStore();
    const create = {
      type: "multipartCreate",
      uid: "alice",
      uploadId: UPLOAD,
      atMs: T0_MS,
    } as const;
    expect(errorCode(apply(store, { ...create, name: "/nope/x" }))).toBe("NO_SUCH_BUCKET");
    expect(errorCode(apply(store, { ...create, name: partStoredName("x", 1) }))).toBe(
      "INVALID_NAME",
    );
    expect(errorCode(apply(store, { ...create, uploadId: "a/b", name: OBJECT }))).toBe(
      "NO_SUCH_UPLOAD",
    );
  });
});

describe("multipartComplete", () => {
  test("joins the listed parts in order and drops every part, unlisted ones too", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, PART_BYTES)]);
    putPart(store, 2, [chunk(2, 1_000), chunk(3, 7)]);
    putPart(store, 3, [chunk(4, 50)]); // uploaded, then left out of the completion
    const usageBefore = store.getUsage("alice");
    expect(usageBefore.bytes).toBe(PART_BYTES + 1_007 + 50);
    const done = applyOk(store, {
      ...completion([{ partNumber: 1 }, { partNumber: 2 }]),
      forgetParts: true,
    });
    expect(done).toEqual({
      name: OBJECT,
      version: 1,
      bytes: PART_BYTES + 1_007,
      createdAtMs: T0_MS + 1,
    });
    const found = findManifest(store, "alice", OBJECT, undefined);
    if (!found.ok) throw new Error(found.error.message);
    const { manifest } = found.value;
    expect(manifest.chunks.map((ref) => ref.id)).toEqual([sha(1), sha(2), sha(3)]);
    expect(manifest.sha256).toBe(sha(777));
    expect(manifest.attrs).toEqual({ contentType: "video/mp4", md5: md5(999), parts: 2 });
    // The parts' bytes left usage as the object's came in: counted once.
    expect(store.getUsage("alice")).toEqual({ bytes: PART_BYTES + 1_007, files: 1 });
    // The parts leave no record behind: an upload's names are never used again.
    for (const n of [1, 2, 3]) {
      expect(store.listVersions("alice", partStoredName(UPLOAD, n), 0)).toEqual([]);
      expect(store.findUpload("alice", `part-${n}-${n}`)).toBeUndefined();
    }
    expect(store.getMultipart("alice", UPLOAD)).toBeUndefined();
    expect(store.chunkKept("s1", sha(1))).toBe(true);
    expect(store.chunkKept("s1", sha(4))).toBe(false);
    const dropped = store
      .pendingNotices("s1", 100)
      .flatMap(({ notice }) => (notice.op === "dropUploadRefs" ? [notice.body.uploadId] : []));
    expect(dropped.sort()).toEqual(["part-1-1", "part-2-2", "part-3-3"]);
    // A late copy of a part's commit finds no open upload.
    const late = putPart(store, 3, [chunk(4, 50)]);
    expect(late.ok ? "" : late.error.code).toBe("NO_SUCH_UPLOAD");
    expect(store.chunkKept("s1", sha(4))).toBe(false);
  });

  test("a completion logged before forgetParts tombstones each part, as it did", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, PART_BYTES)]);
    putPart(store, 2, [chunk(4, 50)]);
    applyOk(store, completion([{ partNumber: 1 }]));
    for (const n of [1, 2])
      expect(store.latestVersion("alice", partStoredName(UPLOAD, n))?.kind).toBe("tombstone");
    expect(store.getUsage("alice")).toEqual({ bytes: PART_BYTES, files: 1 });
    expect(store.chunkKept("s1", sha(4))).toBe(false);
  });

  test("each group hears of the object before it is told to drop the parts' references", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, PART_BYTES)]);
    putPart(store, 2, [chunk(2, 10, "s2")]);
    const before = new Set(store.pendingNotices("s1", 100).map((n) => `${n.index}.${n.seq}`));
    applyOk(store, completion([{ partNumber: 1 }, { partNumber: 2 }]));
    for (const group of ["s1", "s2"]) {
      const fresh = store
        .pendingNotices(group, 100)
        .filter((n) => group !== "s1" || !before.has(`${n.index}.${n.seq}`))
        .filter((n) => n.index === store.lastApplied());
      expect(fresh.map((n) => n.notice.op)).toEqual(["commitRefs", "dropUploadRefs"]);
      expect(fresh[0]?.notice.body.name).toBe(OBJECT);
    }
  });

  test("a retried completion answers the same; parts after it, and aborts, find no upload", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, 10)]);
    const first = applyOk(store, completion([{ partNumber: 1 }]));
    expect(applyOk(store, completion([{ partNumber: 1 }]))).toEqual(first);
    expect(errorCode(putPart(store, 2, [chunk(2, 10)]))).toBe("NO_SUCH_UPLOAD");
    const abort = { type: "multipartAbort", uid: "alice", uploadId: UPLOAD, atMs: T0_MS } as const;
    expect(errorCode(apply(store, abort))).toBe("NO_SUCH_UPLOAD");
  });

  test("a completion that does not match the parts is refused and changes nothing", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, 100)]);
    putPart(store, 2, [chunk(2, PART_BYTES)]);
    putPart(store, 3, [chunk(3, 10)]);
    putPart(store, 3, [chunk(5, 10)], 33); // part 3 uploaded again: version 2, another MD5
    const cases: Array<[Parameters<typeof completion>[0], string]> = [
      [[], "INVALID_PART"],
      [[{ partNumber: 2 }, { partNumber: 1 }], "INVALID_PART_ORDER"],
      [[{ partNumber: 2 }, { partNumber: 2 }], "INVALID_PART_ORDER"],
      [[{ partNumber: 4 }], "INVALID_PART"],
      [[{ partNumber: 2, md5: md5(5) }], "INVALID_PART"],
      [[{ partNumber: 3 }], "INVALID_PART"], // the first upload's MD5 and version
      [[{ partNumber: 2 }, { partNumber: 3, version: 1, md5: md5(33) }], "INVALID_PART"],
      [[{ partNumber: 1 }, { partNumber: 2 }], "PART_TOO_SMALL"],
    ];
    for (const [parts, code] of cases) {
      const state = stateOf(store);
      expect(errorCode(apply(store, completion(parts)))).toBe(code);
      expect(stateOf(store)).toEqual(state);
    }
    const done = applyOk(
      store,
      completion([{ partNumber: 2 }, { partNumber: 3, version: 2, md5: md5(33) }]),
    );
    expect(done.bytes).toBe(PART_BYTES + 10);
  });

  test("near the byte quota an upload completes: its parts are not counted twice", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, PART_BYTES)]);
    putPart(store, 2, [chunk(2, PART_BYTES)]);
    const done = apply(store, {
      ...completion([{ partNumber: 1 }, { partNumber: 2 }]),
      quotaBytesDefault: 2 * PART_BYTES,
    });
    expect(done.ok).toBe(true);
  });
});

describe("multipartAbort", () => {
  test("drops the parts and the upload; their chunks are no longer kept", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, 10)]);
    putPart(store, 2, [chunk(2, 10, "s2")]);
    const abort = {
      type: "multipartAbort",
      uid: "alice",
      uploadId: UPLOAD,
      atMs: T0_MS,
      forgetParts: true,
    } as const;
    expect(applyOk(store, abort)).toEqual({ partsDropped: 2 });
    expect(store.getMultipart("alice", UPLOAD)).toBeUndefined();
    expect(store.listVersions("alice", partStoredName(UPLOAD, 1), 0)).toEqual([]);
    expect(store.chunkKept("s1", sha(1))).toBe(false);
    expect(store.chunkKept("s2", sha(2))).toBe(false);
    expect(store.getUsage("alice")).toEqual({ bytes: 0, files: 0 });
    const drops = store.pendingNotices("s2", 100).filter((n) => n.notice.op === "dropUploadRefs");
    expect(drops.map((n) => n.notice.body.name)).toEqual([partStoredName(UPLOAD, 2)]);
  });

  test("a bucket with an upload in progress cannot be deleted", () => {
    const store = freshStore();
    open(store);
    const remove = { type: "bucketDelete", uid: "alice", bucket: "photos", atMs: T0_MS } as const;
    expect(errorCode(apply(store, remove))).toBe("BUCKET_NOT_EMPTY");
    applyOk(store, { type: "multipartAbort", uid: "alice", uploadId: UPLOAD, atMs: T0_MS });
    expect(applyOk(store, remove)).toEqual({ deleted: true });
  });

  test("a client's delete cannot take a request id the directory keeps for parts", () => {
    const store = freshStore();
    applyOk(store, commit("alice", "a.txt", "u1", [chunk(1, 10)]));
    const refused = apply(store, {
      type: "deleteFile",
      uid: "alice",
      name: "a.txt",
      requestId: partStoredName(UPLOAD, 1),
      atMs: T0_MS,
    });
    expect(errorCode(refused)).toBe("BAD_REQUEST");
  });
});

describe("multipartExpire", () => {
  test("aborts the open uploads past their lifetime, and only those", () => {
    const store = freshStore();
    open(store);
    putPart(store, 1, [chunk(1, 10)]);
    const young = uploadIdWithDeadline(T0_MS + 2 * MULTIPART_UPLOAD_LIFETIME_MS, "mpu-young");
    open(store, young, "/photos/young.bin");
    const expire = (atMs: number) =>
      applyOk(store, {
        type: "multipartExpire",
        uploads: [
          { uid: "alice", uploadId: UPLOAD },
          { uid: "alice", uploadId: young },
          { uid: "alice", uploadId: "never-opened" },
        ],
        atMs,
      });
    expect(expire(T0_MS + MULTIPART_UPLOAD_LIFETIME_MS)).toEqual({ expired: 0 });
    expect(expire(T0_MS + MULTIPART_UPLOAD_LIFETIME_MS + 1)).toEqual({ expired: 1 });
    expect(store.getMultipart("alice", UPLOAD)).toBeUndefined();
    expect(store.getMultipart("alice", young)).toBeDefined();
    expect(store.listVersions("alice", partStoredName(UPLOAD, 1), 0)).toEqual([]);
    expect(store.chunkKept("s1", sha(1))).toBe(false);
    expect(store.getUsage("alice")).toEqual({ bytes: 0, files: 0 });
    // Again (a retried command, or the next pass): nothing more goes.
    expect(expire(T0_MS + MULTIPART_UPLOAD_LIFETIME_MS + 2)).toEqual({ expired: 0 });
  });
});
