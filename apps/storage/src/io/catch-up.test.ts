/**
 * A learner's catch-up against a primary over loopback: it copies what the primary lists and
 * finishes; a chunk the primary lists for an unfinished upload but does not hold (a put that
 * failed there on a full disk and could not take its reference back) does not stall it forever
 * (its references are not kept), while a kept version's chunk the primary lacks still does.
 * Its stats say what it copied, and what it still lacks: nothing once synced, the stalled
 * chunk's bytes while stalled.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fail, ok, type GroupView, type SyncRef } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcServer, sha256Hex } from "@ftfs/protocol/io";
import { CATCH_UP_CHUNKS_IN_FLIGHT } from "../core/index.ts";
import { CatchUp, type CatchUpStats } from "./catch-up.ts";
import { ChunkStore } from "./chunk-store.ts";
import { RefsStore } from "./refs-store.ts";

const LEARNER = "s1c";
/** Long enough for several catch-up checks (CATCH_UP_CHECK_INTERVAL_MS) on a loaded machine. */
const SETTLE_MS = 3_000;

interface Fixture {
  dir: string;
  chunks: ChunkStore;
  refs: RefsStore;
  primary: RpcServer;
  listed: SyncRef[];
  held: Map<string, Uint8Array>;
  /**
   * Called as the primary serves each chunk (the learner's stats are read mid-copy); the chunk
   * is sent once it resolves.
   */
  onGetChunk: (chunkId: string) => void | Promise<void>;
  /** Called as the primary answers each page of references, with the page's first seq. */
  onSyncRefs: (afterSeq: number) => void;
  /** References per page the primary answers. */
  pageSize: number;
  /** In-sync backups the view lists beside the primary. */
  backups: { node: string; address: string }[];
}

let fx: Fixture;

beforeEach(async () => {
  const dir = await mkdtemp(join(tmpdir(), "ftfs-catch-up-"));
  const logger = createMemoryLogger(LEARNER);
  const listed: SyncRef[] = [];
  const held = new Map<string, Uint8Array>();
  const primary = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger("s1a"),
    handlers: {
      syncRefs: async (body) => {
        fx.onSyncRefs(body.afterSeq);
        const after = listed.filter((ref) => ref.seq > body.afterSeq);
        const refs = after.slice(0, fx.pageSize);
        return ok({ body: { epoch: 3, refs, done: after.length <= fx.pageSize } });
      },
      getChunk: async (body) => {
        await fx.onGetChunk(body.chunkId);
        const payload = held.get(body.chunkId);
        if (payload === undefined) return fail("CHUNK_NOT_FOUND", `no chunk ${body.chunkId}`);
        return ok({ body: { chunkId: body.chunkId, bytes: payload.length }, payload });
      },
    },
  });
  fx = {
    dir,
    chunks: await ChunkStore.open(join(dir, "data"), logger),
    refs: RefsStore.open(join(dir, "refs.sqlite")),
    primary,
    listed,
    held,
    onGetChunk: () => undefined,
    onSyncRefs: () => undefined,
    pageSize: 4096,
    backups: [],
  };
});

afterEach(async () => {
  fx.primary.stop();
  fx.refs.close();
  await rm(fx.dir, { recursive: true, force: true });
});

function chunk(text: string, seq: number, version: number | null): SyncRef {
  const bytes = new TextEncoder().encode(text);
  const chunkId = sha256Hex(bytes);
  const ref = { seq, chunkId, bytes: bytes.length, uid: "ana", name: text, uploadId: `u${seq}` };
  return { ...ref, version };
}

/** Run a learner's catch-up until it syncs or SETTLE_MS pass: whether it synced, its stats. */
async function catchUp(
  onCopy: (stats: CatchUpStats) => void = () => undefined,
  bytesPerSecond = 1024 ** 3,
): Promise<{ synced: boolean; stats: CatchUpStats; tookMs: number }> {
  const address = `127.0.0.1:${fx.primary.port}`;
  const view: GroupView = {
    group: "s1",
    epoch: 3,
    primary: address,
    primaryNode: "s1a",
    replicas: [{ node: "s1a", address }, ...fx.backups],
    learners: [{ node: LEARNER, address: "127.0.0.1:1", since: 3 }],
  };
  let synced = false;
  const learner = new CatchUp({
    node: LEARNER,
    chunks: fx.chunks,
    refs: fx.refs,
    logger: createMemoryLogger(LEARNER),
    view: () => view,
    nowMs: Date.now,
    monotonicMs: () => performance.now(),
    bytesPerSecond,
    onSynced: () => {
      synced = true;
    },
  });
  const onGetChunk = fx.onGetChunk;
  fx.onGetChunk = (chunkId) => {
    onCopy(learner.stats);
    return onGetChunk(chunkId);
  };
  const startedMs = performance.now();
  const deadline = startedMs + SETTLE_MS;
  while (!synced && performance.now() < deadline) await Bun.sleep(20);
  const tookMs = performance.now() - startedMs;
  await learner.stop();
  fx.onGetChunk = () => undefined;
  return { synced, stats: learner.stats, tookMs };
}

function hold(ref: SyncRef): void {
  fx.held.set(ref.chunkId, new TextEncoder().encode(ref.name));
}

test("a chunk the primary lists for an unfinished upload but lacks does not stall the learner", async () => {
  const kept = chunk("kept.txt", 1, 1);
  const pending = chunk("in-flight.txt", 2, null);
  const dangling = chunk("never-stored.txt", 3, null);
  fx.listed.push(kept, pending, dangling);
  hold(kept);
  hold(pending);
  const { synced, stats } = await catchUp();
  expect(synced).toBe(true);
  expect(stats).toMatchObject({
    chunksCopied: 2,
    bytesCopied: kept.bytes + pending.bytes,
    remainingBytes: 0,
  });
  expect([fx.chunks.has(kept.chunkId), fx.chunks.has(pending.chunkId)]).toEqual([true, true]);
  expect(fx.chunks.has(dangling.chunkId)).toBe(false);
  expect(fx.refs.referencesTo(dangling.chunkId)).toBe(0);
  expect(fx.refs.referencesTo(kept.chunkId)).toBe(1);
});

test("the bytes a learner lacks fall as it copies, to none once it is in sync", async () => {
  // More chunks than the copy keeps in flight, so some are asked for after others arrived.
  const count = CATCH_UP_CHUNKS_IN_FLIGHT * 3;
  const listed = Array.from({ length: count }, (_, at) => chunk(`file-${at}.txt`, at + 1, 1));
  fx.listed.push(...listed);
  for (const ref of listed) hold(ref);
  const totalBytes = listed.reduce((sum, ref) => sum + ref.bytes, 0);
  const seen: number[] = [];
  const { synced, stats } = await catchUp((now) => seen.push(now.remainingBytes));
  expect(synced).toBe(true);
  expect(seen.length).toBe(listed.length);
  expect(seen[0]).toBe(totalBytes);
  expect(Math.min(...seen)).toBeLessThan(totalBytes);
  expect(stats.remainingBytes).toBe(0);
  expect(stats.bytesCopied).toBe(totalBytes);
  // In sync only once every copied chunk's name is durable too.
  expect(fx.chunks.deferredCount).toBe(0);
});

test("a kept version's chunk the primary lacks still stops the learner from joining", async () => {
  const lost = chunk("lost.txt", 1, 4);
  fx.listed.push(lost);
  const { synced, stats } = await catchUp();
  expect(synced).toBe(false);
  expect(stats).toMatchObject({ chunksCopied: 0, bytesCopied: 0, remainingBytes: lost.bytes });
});

test("pages overlap: the next page is read, and its chunks copied, while a page's chunk is slow", async () => {
  fx.pageSize = 2;
  const listed = Array.from({ length: 6 }, (_, at) => chunk(`paged-${at}.txt`, at + 1, 1));
  fx.listed.push(...listed);
  for (const ref of listed) hold(ref);
  const slow = listed[0]?.chunkId ?? "";
  const lastPage = Promise.withResolvers<void>();
  const asked: string[] = [];
  const unrecorded: string[] = [];
  fx.onSyncRefs = (afterSeq) => {
    if (afterSeq >= 4) lastPage.resolve();
  };
  fx.onGetChunk = async (chunkId) => {
    asked.push(chunkId);
    // A chunk is asked for only once its reference is recorded here.
    if (fx.refs.referencesTo(chunkId) === 0) unrecorded.push(chunkId);
    // The first page's first chunk is held until the last page has been asked for: a copy
    // that waited for a page's slowest chunk before reading the next would never finish.
    if (chunkId === slow) await lastPage.promise;
  };
  const { synced, stats } = await catchUp();
  expect(synced).toBe(true);
  expect(unrecorded).toEqual([]);
  expect(asked[0]).toBe(slow);
  expect(new Set(asked)).toEqual(new Set(listed.map((ref) => ref.chunkId)));
  expect(stats.chunksCopied).toBe(listed.length);
  expect(listed.every((ref) => fx.chunks.has(ref.chunkId))).toBe(true);
});

test("the rate limit still bounds the copy, with many chunks in flight", async () => {
  const chunkBytes = 16 * 1024;
  const rate = 1024 * 1024;
  const listed = Array.from({ length: 64 }, (_, at) => {
    const bytes = new Uint8Array(chunkBytes).fill(at);
    const ref = { seq: at + 1, chunkId: sha256Hex(bytes), bytes: chunkBytes, uid: "ana" };
    fx.held.set(ref.chunkId, bytes);
    return { ...ref, name: `rated-${at}.bin`, uploadId: `u${at}`, version: 1 };
  });
  fx.listed.push(...listed);
  const { synced, stats, tookMs } = await catchUp(() => undefined, rate);
  expect(synced).toBe(true);
  expect(stats.bytesCopied).toBe(listed.length * chunkBytes);
  // Only what the window holds may go before the pacer has seen any of it finish.
  const burstBytes = CATCH_UP_CHUNKS_IN_FLIGHT * chunkBytes;
  const leastMs = ((stats.bytesCopied - burstBytes) / rate) * 1000;
  expect(tookMs).toBeGreaterThanOrEqual(leastMs);
});

test("chunks are read from the in-sync backups first; the primary's word alone skips one", async () => {
  const kept = chunk("on-backup.txt", 1, 1);
  const pending = chunk("primary-only.txt", 2, null);
  fx.listed.push(kept, pending);
  hold(kept);
  hold(pending);
  const asked: string[] = [];
  fx.onGetChunk = (chunkId) => {
    asked.push(chunkId);
  };
  // The backup holds the kept version's chunk, not the unfinished upload's.
  const backup = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger("s1b"),
    handlers: {
      getChunk: async (body) => {
        if (body.chunkId !== kept.chunkId) return fail("CHUNK_NOT_FOUND", "not here");
        const payload = new TextEncoder().encode(kept.name);
        return ok({ body: { chunkId: body.chunkId, bytes: payload.length }, payload });
      },
    },
  });
  try {
    fx.backups.push({ node: "s1b", address: `127.0.0.1:${backup.port}` });
    const { synced, stats } = await catchUp();
    expect(synced).toBe(true);
    expect(stats).toMatchObject({ chunksCopied: 2, danglingSkipped: 0 });
    // The primary was asked only for the chunk the backup lacked.
    expect(asked).toEqual([pending.chunkId]);
    expect(fx.refs.referencesTo(pending.chunkId)).toBe(1);
  } finally {
    backup.stop();
  }
});
