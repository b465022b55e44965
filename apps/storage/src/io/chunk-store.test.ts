/**
 * Property: a chunk becomes visible only whole, under its own SHA-256, durable across a
 * restart; bad bytes, crash leftovers and rot on disk never reach a reader. Damage found is
 * reported once the store is right again; a removal frees its bytes at once and a put of the
 * same id waits for it; puts are remembered (deduplicated ones too) until forgotten. Every
 * fsync goes through the store's Fsync, so each is timed.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { access, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger } from "@ftfs/protocol/io";
import { chunkDirs, chunkPath, tempPath } from "../core/index.ts";
import { sha256Hex } from "@ftfs/protocol/io";
import { ChunkStore, type DamageListener } from "./chunk-store.ts";
import { Fsync, type FsyncTarget, UNTIMED_FSYNC } from "./fsync.ts";

/** These tests are of chunks stored as files (the larger chunks); segments have their own. */
const FILES_ONLY = 0;

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftfs-chunks-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

async function putText(
  store: ChunkStore,
  text: string,
  durability: "durable" | "deferFolders" = "durable",
): Promise<string> {
  const bytes = bytesOf(text);
  const id = sha256Hex(bytes);
  const verified = store.verify(id, bytes);
  if (!verified.ok) throw verified.error;
  const put = await store.put(verified.value, durability);
  if (!put.ok) throw put.error;
  return id;
}

test("put then get returns the same bytes, stored under chunks/ab/cd/<id>", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const id = await putText(store, "hello chunk");
  const got = await store.get(id);
  expect(got.ok && new TextDecoder().decode(got.value)).toBe("hello chunk");
  expect(new TextDecoder().decode(await readFile(join(dir, chunkPath(id))))).toBe("hello chunk");
  expect(store.usedBytes).toBe(11);
  expect(store.chunkCount).toBe(1);
  expect(await readdir(join(dir, "tmp"))).toEqual([]);
});

test("a put fsyncs its file and its folders through the store's Fsync; a dedupe fsyncs none", async () => {
  const targets: FsyncTarget[] = [];
  const fsync = new Fsync((target) => targets.push(target));
  const store = await ChunkStore.open(dir, createMemoryLogger(), Date.now, fsync, FILES_ONLY);
  // The first segment file and the ballast, segments/ (their names), then the data folder
  // (chunks/ and the rest).
  expect(targets.sort()).toEqual(["file", "file", "folder", "folder", "folder"]);
  targets.length = 0;
  await putText(store, "timed");
  // The file; the two new fan-out folders' parents (beside it); the leaf folder, for the rename.
  expect(targets.sort()).toEqual(["file", "folder", "folder", "folder"]);
  targets.length = 0;
  await putText(store, "timed");
  expect(targets).toEqual([]);
});

test("a deferred put fsyncs only its file; its names are made durable once, by the sync", async () => {
  const targets: FsyncTarget[] = [];
  const fsync = new Fsync((target) => targets.push(target));
  const store = await ChunkStore.open(dir, createMemoryLogger(), Date.now, fsync, FILES_ONLY);
  targets.length = 0;
  const id = await putText(store, "deferred", "deferFolders");
  expect(store.has(id)).toBe(true);
  expect(store.deferredCount).toBe(1);
  expect(await readFile(join(dir, chunkPath(id)), "utf8")).toBe("deferred");
  // Only the file's fsync is waited for; the new folders' own run beside, unawaited.
  expect(targets).toContain("file");
  await store.syncDeferred();
  expect(store.deferredCount).toBe(0);
  targets.length = 0;
  await store.syncDeferred();
  expect(targets).toEqual([]);
});

test("a durable put of a chunk another put left deferred makes its name durable first", async () => {
  const targets: FsyncTarget[] = [];
  const fsync = new Fsync((target) => targets.push(target));
  const store = await ChunkStore.open(dir, createMemoryLogger(), Date.now, fsync, FILES_ONLY);
  await putText(store, "shared", "deferFolders");
  expect(store.deferredCount).toBe(1);
  targets.length = 0;
  await putText(store, "shared");
  expect(store.deferredCount).toBe(0);
  expect(targets).toContain("folder");
});

test("a put into a new folder is answered only once the folder's own fsync is done", async () => {
  let release = (): void => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  class HoldingFsync extends Fsync {
    override async folder(path: string): Promise<void> {
      // The fsync that makes a new leaf's name durable: the first-level folder's.
      if (/chunks\/[0-9a-f]{2}$/.test(path)) await held;
      return super.folder(path);
    }
  }
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    new HoldingFsync(),
    FILES_ONLY,
  );
  const bytes = bytesOf("waits for its folder");
  const verified = store.verify(sha256Hex(bytes), bytes);
  if (!verified.ok) throw verified.error;
  let answered = false;
  const put = store.put(verified.value).then((result) => {
    answered = true;
    return result;
  });
  await Bun.sleep(50);
  expect(answered).toBe(false);
  release();
  expect((await put).ok).toBe(true);
});

test("a new leaf folder under an existing first-level folder costs one parent fsync", async () => {
  const folders: string[] = [];
  class RecordingFsync extends Fsync {
    override folder(path: string): Promise<void> {
      folders.push(path.slice(dir.length + 1));
      return super.folder(path);
    }
  }
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    new RecordingFsync(),
    FILES_ONLY,
  );
  const first = await putText(store, "first");
  // Another chunk whose first two hex digits match but whose next two do not: its leaf is new.
  let text = "";
  for (let n = 0; ; n += 1) {
    text = `neighbour ${n}`;
    const id = sha256Hex(bytesOf(text));
    if (id.slice(0, 2) === first.slice(0, 2) && id.slice(2, 4) !== first.slice(2, 4)) break;
  }
  folders.length = 0;
  const second = await putText(store, text);
  expect(folders).toEqual([`chunks/${second.slice(0, 2)}`, chunkDirs(second)[2]]);
});

test("bytes that do not hash to the id are refused and nothing becomes visible", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const wrongId = sha256Hex(bytesOf("other"));
  const verified = store.verify(wrongId, bytesOf("payload"));
  expect(verified.ok ? "accepted" : verified.error.code).toBe("CHUNK_MISMATCH");
  expect(store.has(wrongId)).toBe(false);
  expect(await readdir(join(dir, "chunks"))).toEqual([]);
  expect(store.verify(wrongId, new Uint8Array(0)).ok).toBe(false);
});

test("a chunk already present is not rewritten; concurrent puts write once", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const bytes = bytesOf("same bytes");
  const verified = store.verify(sha256Hex(bytes), bytes);
  if (!verified.ok) throw verified.error;
  const [first, second] = await Promise.all([store.put(verified.value), store.put(verified.value)]);
  const third = await store.put(verified.value);
  const written = [first, second, third].map((result) => result.ok && result.value.written);
  expect(written).toEqual([true, false, false]);
  expect(store.usedBytes).toBe(bytes.length);
  expect(store.chunkCount).toBe(1);
});

test("many concurrent puts all land, and a restart finds them all", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const texts = Array.from({ length: 50 }, (_, index) => `chunk number ${index}`);
  const ids = await Promise.all(texts.map((text) => putText(store, text)));
  const reopened = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  expect(reopened.chunkCount).toBe(texts.length);
  for (const id of ids) expect(reopened.has(id)).toBe(true);
});

test("a restart sees every chunk and removes temporary leftovers", async () => {
  const first = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const ids = [await putText(first, "one"), await putText(first, "two")];
  await writeFile(join(dir, tempPath(ids[0] ?? "", 99)), "half a chunk from a crash");
  const logger = createMemoryLogger();
  const second = await ChunkStore.open(dir, logger, Date.now, UNTIMED_FSYNC, FILES_ONLY);
  expect(second.chunkCount).toBe(2);
  expect(second.usedBytes).toBe(6);
  for (const id of ids) expect(second.has(id)).toBe(true);
  expect(await readdir(join(dir, "tmp"))).toEqual([]);
  expect(logger.lines.some((line) => line.includes("left by a crash"))).toBe(true);
});

test("a rotted file is served as stored (readers verify), and a scrub quarantines it", async () => {
  const logger = createMemoryLogger();
  const store = await ChunkStore.open(dir, logger, Date.now, UNTIMED_FSYNC, FILES_ONLY);
  const id = await putText(store, "bytes that will rot");
  const path = join(dir, chunkPath(id));
  const onDisk = await readFile(path);
  onDisk[3] = (onDisk[3] ?? 0) ^ 0xff;
  await writeFile(path, onDisk);
  // The read path does not re-hash: the client's check against the id catches this copy.
  const read = await store.get(id);
  expect(read.ok && sha256Hex(read.value) !== id).toBe(true);
  const scrubbed = await store.scrub(id);
  expect(scrubbed.ok ? "clean" : scrubbed.error.code).toBe("INTEGRITY");
  expect(logger.lines.some((line) => line.includes('"level":"error"') && line.includes(id))).toBe(
    true,
  );
  expect(store.has(id)).toBe(false);
  expect((await readdir(join(dir, "quarantine"))).length).toBe(1);
  await putText(store, "bytes that will rot");
  const healed = await store.get(id);
  expect(healed.ok && new TextDecoder().decode(healed.value)).toBe("bytes that will rot");
  expect((await store.scrub(id)).ok).toBe(true);
});

test("a put past the capacity is DISK_FULL and leaves nothing behind", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  store.capacityBytes = 4;
  const bytes = bytesOf("too large");
  const verified = store.verify(sha256Hex(bytes), bytes);
  if (!verified.ok) throw verified.error;
  const put = await store.put(verified.value);
  expect(put.ok ? "stored" : put.error.code).toBe("DISK_FULL");
  expect(store.has(verified.value.id)).toBe(false);
  expect(await readdir(join(dir, "tmp"))).toEqual([]);
  expect(await readdir(join(dir, "chunks"))).toEqual([]);
});

test("a missing chunk is CHUNK_NOT_FOUND", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const read = await store.get(sha256Hex(bytesOf("never stored")));
  expect(read.ok ? "served" : read.error.code).toBe("CHUNK_NOT_FOUND");
});

function damageLog(store: ChunkStore): string[] {
  const seen: string[] = [];
  const listener: DamageListener = (chunkId, kind) => seen.push(`${kind} ${chunkId}`);
  store.onDamage = listener;
  return seen;
}

test("damage is reported: rot by scrub, a short or vanished file by a read, absence", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const seen = damageLog(store);
  const rotten = await putText(store, "will rot");
  const short = await putText(store, "will be cut short");
  const gone = await putText(store, "will vanish");
  const never = sha256Hex(bytesOf("never stored"));
  await writeFile(join(dir, chunkPath(rotten)), "will roT");
  await truncate(join(dir, chunkPath(short)), 3);
  await rm(join(dir, chunkPath(gone)));
  expect((await store.scrub(rotten)).ok).toBe(false);
  const cut = await store.get(short);
  expect(cut.ok ? "served" : cut.error.code).toBe("INTEGRITY");
  expect((await store.get(gone)).ok).toBe(false);
  expect((await store.get(never)).ok).toBe(false);
  expect(seen).toEqual([`rot ${rotten}`, `rot ${short}`, `missing ${gone}`, `absent ${never}`]);
  expect(store.chunkCount).toBe(0);
  expect(store.usedBytes).toBe(0);
});

test("scrub answers the bytes it read and hashed", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const id = await putText(store, "twelve bytes");
  const scrubbed = await store.scrub(id);
  expect(scrubbed.ok && scrubbed.value).toBe(12);
});

test("remove frees the bytes at once; a put meanwhile waits, then writes afresh", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const seen = damageLog(store);
  const id = await putText(store, "garbage, then wanted again");
  const kept = await putText(store, "kept");
  const removal = store.remove(id);
  // Synchronously out of the index: a decision taken in the same tick holds.
  expect(store.has(id)).toBe(false);
  expect(store.usedBytes).toBe(4);
  const again = putText(store, "garbage, then wanted again");
  expect(await removal).toBe(26);
  await again;
  expect(store.has(id)).toBe(true);
  expect(new TextDecoder().decode(await readFile(join(dir, chunkPath(id))))).toBe(
    "garbage, then wanted again",
  );
  expect(await store.remove(kept)).toBe(4);
  await expect(access(join(dir, chunkPath(kept)))).rejects.toThrow();
  expect(await store.remove(kept)).toBe(0);
  expect(store.usedBytes).toBe(26);
  expect(seen).toEqual([]);
});

test("puts are remembered, deduplicated ones too, until forgotten", async () => {
  let nowMs = 1_000;
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    () => nowMs,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const first = await putText(store, "first");
  nowMs = 2_000;
  const second = await putText(store, "second");
  nowMs = 3_000;
  await putText(store, "first"); // deduplicated: nothing written, but remembered
  expect([store.lastPutAtMs(first), store.lastPutAtMs(second)]).toEqual([3_000, 2_000]);
  store.forgetPutsBefore(2_500);
  expect([store.lastPutAtMs(first), store.lastPutAtMs(second)]).toEqual([3_000, null]);
  expect(await store.modifiedAtMs(first)).toBeGreaterThan(0);
  expect(await store.modifiedAtMs(sha256Hex(bytesOf("never stored")))).toBeNull();
});

test("quarantined copies go once their chunk is whole again and the grace passed; others stay", async () => {
  const store = await ChunkStore.open(
    dir,
    createMemoryLogger(),
    Date.now,
    UNTIMED_FSYNC,
    FILES_ONLY,
  );
  const rot = async (text: string): Promise<string> => {
    const id = await putText(store, text);
    const path = join(dir, chunkPath(id));
    const onDisk = await readFile(path);
    onDisk[0] = (onDisk[0] ?? 0) ^ 0xff;
    await writeFile(path, onDisk);
    expect((await store.scrub(id)).ok).toBe(false);
    return id;
  };
  await rot("repaired later");
  await rot("never repaired");
  await putText(store, "repaired later");
  expect((await readdir(join(dir, "quarantine"))).length).toBe(2);
  // Within the grace, nothing goes.
  expect(await store.sweepQuarantine(60_000, Date.now())).toEqual({ files: 0, bytes: 0 });
  const swept = await store.sweepQuarantine(60_000, Date.now() + 120_000);
  expect(swept).toEqual({ files: 1, bytes: "repaired later".length });
  const left = await readdir(join(dir, "quarantine"));
  expect(left).toHaveLength(1);
  expect(left[0]?.startsWith(sha256Hex(bytesOf("never repaired")))).toBe(true);
});
