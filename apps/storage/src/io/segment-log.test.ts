/**
 * Small chunks as segment records, through the chunk store: concurrent puts share fsyncs; every
 * acknowledged chunk survives a restart (the segment read whole, then its index); a torn tail or
 * a damaged stretch is skipped and never served; removals stay removed; rot is quarantined;
 * compaction frees dead records and keeps every live one readable, during and after.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { appendFile, mkdtemp, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger, sha256Hex } from "@ftfs/protocol/io";
import {
  RECORD_HEADER_BYTES,
  SEGMENT_FILE_HEADER_BYTES,
  SEGMENTS_DIR,
  segmentFileName,
} from "../core/index.ts";
import { ChunkStore } from "./chunk-store.ts";
import { Fsync, type FsyncTarget } from "./fsync.ts";

let dir = "";
let opened: ChunkStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftfs-segments-"));
});
afterEach(async () => {
  for (const store of opened) await store.close();
  opened = [];
  await rm(dir, { recursive: true, force: true });
});

/** Open the store in `dir`; every store opened is closed after the test. */
async function openStore(logger = createMemoryLogger(), fsync?: Fsync): Promise<ChunkStore> {
  const store = await ChunkStore.open(dir, logger, Date.now, fsync);
  opened.push(store);
  return store;
}

/** As after kill -9: the active segment has no index, so the next start reads it whole. */
async function crash(store: ChunkStore): Promise<void> {
  await store.close();
  for (const name of await readdir(segmentsDir())) {
    if (name.endsWith(".idx")) await rm(join(segmentsDir(), name));
  }
}

function chunkOf(index: number, bytes = 4096): Uint8Array {
  const chunk = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 1) chunk[i] = (index * 31 + i * 7) & 0xff;
  chunk[0] = index & 0xff;
  chunk[1] = index >> 8;
  return chunk;
}

async function put(store: ChunkStore, bytes: Uint8Array): Promise<string> {
  const id = sha256Hex(bytes);
  const verified = store.verify(id, bytes);
  if (!verified.ok) throw verified.error;
  const stored = await store.put(verified.value);
  if (!stored.ok) throw stored.error;
  return id;
}

async function expectReads(
  store: ChunkStore,
  chunks: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  for (const [id, bytes] of chunks) {
    const got = await store.get(id);
    expect(got.ok).toBe(true);
    if (got.ok) expect(Buffer.from(got.value).equals(Buffer.from(bytes))).toBe(true);
  }
}

const segmentsDir = () => join(dir, SEGMENTS_DIR);

test("concurrent small puts share fsyncs, are records (no chunk files), and survive restarts", async () => {
  const targets: FsyncTarget[] = [];
  const store = await openStore(createMemoryLogger(), new Fsync((target) => targets.push(target)));
  targets.length = 0;
  const chunks = new Map<string, Uint8Array>();
  const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => put(store, chunkOf(i))));
  for (const [i, id] of ids.entries()) chunks.set(id, chunkOf(i));
  // 40 puts, each answered after an fdatasync begun after its write: far fewer than 40 of them.
  const fileSyncs = targets.filter((target) => target === "file").length;
  expect(fileSyncs).toBeGreaterThan(0);
  expect(fileSyncs).toBeLessThan(40);
  expect(targets.filter((target) => target === "folder")).toEqual([]);
  expect(await readdir(join(dir, "chunks"))).toEqual([]);
  expect(store.chunkCount).toBe(40);
  expect(store.usedBytes).toBe(40 * 4096);
  await expectReads(store, chunks);
  await crash(store);

  // The segment active before is read whole, then indexed; the second restart reads the index.
  const reopened = await openStore();
  expect(reopened.chunkCount).toBe(40);
  expect(reopened.usedBytes).toBe(40 * 4096);
  await expectReads(reopened, chunks);
  expect(
    (await readdir(segmentsDir())).filter((name) => name.endsWith(".idx")).length,
  ).toBeGreaterThan(0);
  await reopened.close();
  const again = await openStore();
  await expectReads(again, chunks);
});

test("a crash's torn tail and a damaged stretch are skipped; the records around them are kept", async () => {
  const store = await openStore();
  const ids: string[] = [];
  for (let i = 0; i < 3; i += 1) ids.push(await put(store, chunkOf(i)));
  await crash(store);
  const [first] = (await readdir(segmentsDir())).sort();
  if (first === undefined) throw new Error("no segment written");
  const path = join(segmentsDir(), first);
  // The middle record's header is damaged (its check fails), and half a record trails the file.
  const middle = SEGMENT_FILE_HEADER_BYTES + RECORD_HEADER_BYTES + 4096;
  const file = await open(path, "r+");
  await file.write(Buffer.from([0xff]), 0, 1, middle + 10);
  await file.close();
  const torn = await readFile(path);
  await appendFile(path, torn.subarray(SEGMENT_FILE_HEADER_BYTES, SEGMENT_FILE_HEADER_BYTES + 100));

  const logger = createMemoryLogger();
  const reopened = await openStore(logger);
  expect(reopened.has(ids[0] ?? "")).toBe(true);
  expect(reopened.has(ids[1] ?? "")).toBe(false);
  expect(reopened.has(ids[2] ?? "")).toBe(true);
  await expectReads(
    reopened,
    new Map([
      [ids[0] ?? "", chunkOf(0)],
      [ids[2] ?? "", chunkOf(2)],
    ]),
  );
  expect(logger.lines.some((line) => line.includes("not whole records"))).toBe(true);
});

test("a removed chunk stays removed across restarts; a put after it stays stored", async () => {
  const store = await openStore();
  const gone = await put(store, chunkOf(1));
  const kept = await put(store, chunkOf(2));
  expect(await store.remove(gone)).toBe(4096);
  expect(store.has(gone)).toBe(false);
  expect(store.usedBytes).toBe(4096);
  await crash(store);
  const back = await openStore();
  expect(back.has(gone)).toBe(false);
  expect(back.has(kept)).toBe(true);
  await put(back, chunkOf(1));
  await crash(back);
  const last = await openStore();
  expect(last.has(gone)).toBe(true);
  expect(last.usedBytes).toBe(2 * 4096);
});

test("rot in a record is quarantined by scrub, and a damaged header by a read; neither comes back", async () => {
  const damage: string[] = [];
  const store = await openStore();
  store.onDamage = (id, kind) => damage.push(`${id.slice(0, 4)}:${kind}`);
  const rotted = await put(store, chunkOf(1));
  const broken = await put(store, chunkOf(2));
  const [name] = await readdir(segmentsDir());
  const file = await open(join(segmentsDir(), name ?? ""), "r+");
  // A payload byte of the first record, and a header byte of the second.
  await file.write(
    Buffer.from([0x00]),
    0,
    1,
    SEGMENT_FILE_HEADER_BYTES + RECORD_HEADER_BYTES + 100,
  );
  await file.write(
    Buffer.from([0xee]),
    0,
    1,
    SEGMENT_FILE_HEADER_BYTES + RECORD_HEADER_BYTES + 4096 + 20,
  );
  await file.close();

  const scrubbed = await store.scrub(rotted);
  expect(!scrubbed.ok && scrubbed.error.code).toBe("INTEGRITY");
  const read = await store.get(broken);
  expect(!read.ok && read.error.code).toBe("INTEGRITY");
  expect(damage.sort()).toEqual([`${broken.slice(0, 4)}:rot`, `${rotted.slice(0, 4)}:rot`].sort());
  expect((await readdir(join(dir, "quarantine"))).length).toBe(2);
  await crash(store);
  const back = await openStore();
  expect(back.has(rotted)).toBe(false);
  expect(back.has(broken)).toBe(false);
  // Stored afresh after repair, from good bytes.
  await put(back, chunkOf(1));
  await expectReads(back, new Map([[rotted, chunkOf(1)]]));
});

test("compaction frees dead records, keeps every live chunk readable during and after it", async () => {
  const store = await openStore();
  const live = new Map<string, Uint8Array>();
  const dead: string[] = [];
  for (let i = 0; i < 30; i += 1) {
    const id = await put(store, chunkOf(i, 16_384));
    if (i % 3 === 0) live.set(id, chunkOf(i, 16_384));
    else dead.push(id);
  }
  for (const id of dead) await store.remove(id);
  await store.close();
  // Reopened, the old segment is sealed (and small, mostly dead): compaction takes it.
  const reopened = await openStore();
  const [oldSegment] = (await readdir(segmentsDir()))
    .filter((name) => name.endsWith(".seg"))
    .sort();
  const oldBytes = (await stat(join(segmentsDir(), oldSegment ?? ""))).size;
  const reads = expectReads(reopened, live); // concurrent with the compaction
  const outcome = await reopened.compactSegments();
  await reads;
  expect(outcome).not.toBeNull();
  expect(outcome?.segment).toBe(1);
  expect(outcome?.copiedBytes).toBe(10 * (RECORD_HEADER_BYTES + 16_384));
  expect(outcome?.freedBytes).toBe(oldBytes - (outcome?.copiedBytes ?? 0));
  expect(await readdir(segmentsDir())).not.toContain(segmentFileName(1));
  await expectReads(reopened, live);
  expect(reopened.usedBytes).toBe(10 * 16_384);
  await crash(reopened);
  const after = await openStore();
  await expectReads(after, live);
  for (const id of dead) expect(after.has(id)).toBe(false);
  expect(after.chunkCount).toBe(10);
});

test("a put made while the node's clock ran an hour ahead is not taken as future after a restart", async () => {
  const HOUR_MS = 3_600_000;
  const ahead = await ChunkStore.open(dir, createMemoryLogger(), () => Date.now() + HOUR_MS);
  opened.push(ahead);
  const id = await put(ahead, chunkOf(7));
  expect((await ahead.modifiedAtMs(id)) ?? 0).toBeGreaterThan(Date.now() + HOUR_MS / 2);
  await ahead.close();
  const back = await openStore();
  // Garbage collection counts its grace from here; an hour in the future would hold it an hour.
  expect((await back.modifiedAtMs(id)) ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(Date.now());
});
