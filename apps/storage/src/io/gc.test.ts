/**
 * Property: a GC pass deletes exactly the chunk files no reference names whose file and last
 * put are older than the grace; committed references keep their chunks however old; a chunk
 * two files share survives the drop of one; an upload idle past the grace loses its pending
 * references (and then its chunks), one still streaming keeps them; freed bytes leave the
 * store's accounting and the files leave the disk.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChunkOwner } from "@ftfs/protocol/core";
import { createMemoryLogger } from "@ftfs/protocol/io";
import { chunkPath } from "../core/index.ts";
import { ChunkStore, sha256Hex } from "./chunk-store.ts";
import { GarbageCollector } from "./gc.ts";
import { RefsStore } from "./refs-store.ts";

const GRACE_MS = 60_000;

let dir = "";
/** Added to the wall clock: how far the test has moved time on. */
let skewMs = 0;
const nowMs = (): number => Date.now() + skewMs;
let chunks: ChunkStore;
let refs: RefsStore;
let gc: GarbageCollector;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftfs-gc-"));
  skewMs = 0;
  chunks = await ChunkStore.open(join(dir, "data"), createMemoryLogger(), nowMs);
  refs = RefsStore.open(join(dir, "refs.sqlite"));
  gc = new GarbageCollector({
    chunks,
    refs,
    logger: createMemoryLogger(),
    graceMs: GRACE_MS,
    nowMs,
    monotonicMs: () => performance.now(),
  });
});

afterEach(async () => {
  await gc.stop();
  refs.close();
  await rm(dir, { recursive: true, force: true });
});

/** A put as the handler does it: the chunk, then (optionally) its pending reference. */
async function put(text: string, owner?: ChunkOwner): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const verified = chunks.verify(sha256Hex(bytes), bytes);
  if (!verified.ok) throw verified.error;
  const stored = await chunks.put(verified.value);
  if (!stored.ok) throw stored.error;
  if (owner !== undefined) refs.addPending(verified.value.id, owner, bytes.length, nowMs());
  return verified.value.id;
}

async function onDisk(id: string): Promise<boolean> {
  return access(join(dir, "data", chunkPath(id))).then(
    () => true,
    () => false,
  );
}

const owner = (name: string, uploadId: string): ChunkOwner => ({ uid: "gus", name, uploadId });

test("unreferenced chunks older than the grace go; a shared one stays while named", async () => {
  const committed = await put("committed", owner("kept.txt", "u1"));
  refs.commit("gus", "kept.txt", "u1", 1);
  const shared = await put("shared", owner("a.txt", "u2"));
  await put("shared", owner("b.txt", "u3"));
  refs.commit("gus", "a.txt", "u2", 1);
  refs.commit("gus", "b.txt", "u3", 1);
  const orphan = await put("orphan");
  await gc.pass();
  expect(gc.stats.chunksCollected).toBe(0); // every file is younger than the grace
  refs.drop("gus", "a.txt");
  skewMs = GRACE_MS + 1;
  await gc.pass();
  expect(gc.stats).toMatchObject({ passes: 2, chunksCollected: 1, bytesFreed: 6, errors: 0 });
  expect(await onDisk(orphan)).toBe(false);
  expect([await onDisk(committed), await onDisk(shared)]).toEqual([true, true]);
  expect(chunks.usedBytes).toBe("committed".length + "shared".length);
  refs.drop("gus", "b.txt");
  await gc.pass();
  expect(await onDisk(shared)).toBe(false);
  expect(chunks.has(shared)).toBe(false);
  expect(chunks.usedBytes).toBe("committed".length);
});

test("a deduplicated put of an old orphan keeps it for the grace after the put", async () => {
  const id = await put("old orphan");
  skewMs = GRACE_MS + 1;
  await put("old orphan"); // an upload names it again; its reference is on the way
  await gc.pass();
  expect(await onDisk(id)).toBe(true);
  skewMs = 2 * GRACE_MS + 2;
  await gc.pass();
  expect(await onDisk(id)).toBe(false);
});

test("an idle upload's references expire, then its chunks go; a streaming one stays", async () => {
  const abandoned = await put("abandoned", owner("gone.bin", "u1"));
  const streamingFirst = await put("streaming, first chunk", owner("big.bin", "u2"));
  skewMs = GRACE_MS - 1_000;
  const streamingLatest = await put("streaming, latest chunk", owner("big.bin", "u2"));
  skewMs = GRACE_MS + 1;
  await gc.pass();
  expect(gc.stats.refsExpired).toBe(1);
  expect(await onDisk(abandoned)).toBe(false);
  expect([await onDisk(streamingFirst), await onDisk(streamingLatest)]).toEqual([true, true]);
  expect(refs.referencesTo(streamingFirst)).toBe(1);
});

test("a commit naming some of an upload's chunks lets the others go after the grace", async () => {
  const placed = await put("placed here by the manifest", owner("f.bin", "u1"));
  // Stored here too, but the client re-routed (or hedged) them to another group.
  const rerouted = await put("re-routed to another group", owner("f.bin", "u1"));
  const shared = await put("re-routed, and another file's", owner("f.bin", "u1"));
  await put("re-routed, and another file's", owner("g.bin", "u2"));
  refs.commit("gus", "g.bin", "u2", 1, [shared]);
  expect(refs.commit("gus", "f.bin", "u1", 1, [placed])).toBe(1);
  skewMs = GRACE_MS + 1;
  await gc.pass();
  // The two references left pending expired; the chunk no other file names went with them.
  expect(gc.stats).toMatchObject({ refsExpired: 2, chunksCollected: 1, errors: 0 });
  expect(await onDisk(rerouted)).toBe(false);
  expect([await onDisk(placed), await onDisk(shared)]).toEqual([true, true]);
  expect([placed, rerouted, shared].map((id) => refs.referencesTo(id))).toEqual([1, 0, 1]);
});

test("start runs passes on its interval; stop ends the loop at once", async () => {
  const quick = new GarbageCollector({
    chunks,
    refs,
    logger: createMemoryLogger(),
    graceMs: 1_000,
    nowMs,
    monotonicMs: () => performance.now(),
  });
  const orphan = await put("collected by the loop");
  skewMs = 1_001;
  quick.start();
  const deadlineMs = performance.now() + 5_000;
  while (quick.stats.passes === 0 && performance.now() < deadlineMs) await Bun.sleep(10);
  const stopStartedMs = performance.now();
  await quick.stop();
  expect(performance.now() - stopStartedMs).toBeLessThan(100);
  expect(quick.stats.passes).toBeGreaterThan(0);
  expect(await onDisk(orphan)).toBe(false);
});
