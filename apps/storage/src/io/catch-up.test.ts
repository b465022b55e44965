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
  /** Called as the primary serves each chunk (the learner's stats are read mid-copy). */
  onGetChunk: () => void;
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
      syncRefs: async () => ok({ body: { epoch: 3, refs: listed, done: true } }),
      getChunk: async (body) => {
        fx.onGetChunk();
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
): Promise<{ synced: boolean; stats: CatchUpStats }> {
  const address = `127.0.0.1:${fx.primary.port}`;
  const view: GroupView = {
    group: "s1",
    epoch: 3,
    primary: address,
    primaryNode: "s1a",
    replicas: [{ node: "s1a", address }],
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
    bytesPerSecond: 1024 ** 3,
    onSynced: () => {
      synced = true;
    },
  });
  fx.onGetChunk = () => onCopy(learner.stats);
  const deadline = performance.now() + SETTLE_MS;
  while (!synced && performance.now() < deadline) await Bun.sleep(20);
  await learner.stop();
  fx.onGetChunk = () => undefined;
  return { synced, stats: learner.stats };
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
  const listed = Array.from({ length: 12 }, (_, at) => chunk(`file-${at}.txt`, at + 1, 1));
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
});

test("a kept version's chunk the primary lacks still stops the learner from joining", async () => {
  const lost = chunk("lost.txt", 1, 4);
  fx.listed.push(lost);
  const { synced, stats } = await catchUp();
  expect(synced).toBe(false);
  expect(stats).toMatchObject({ chunksCopied: 0, bytesCopied: 0, remainingBytes: lost.bytes });
});
