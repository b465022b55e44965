/**
 * Property: a scrub pass finds rot and has it repaired from a peer whose copy hashes right
 * (a peer's rotten copy is refused); a read that finds a referenced chunk lost schedules the
 * same repair, a read of a chunk never stored here does not; the sweep repairs referenced
 * chunks the store lacks; a pass reads no faster than its rate; with no peer the repair is
 * counted as failed and logged.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fail, ok, type GroupView } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcServer } from "@ftfs/protocol/io";
import { chunkPath, SCRUB_CHUNK_COST_BYTES_MIN } from "../core/index.ts";
import { sha256Hex } from "@ftfs/protocol/io";
import { ChunkStore } from "./chunk-store.ts";
import { RefsStore } from "./refs-store.ts";
import { Repairer } from "./repairer.ts";
import { Scrubber } from "./scrubber.ts";

const OWNER = { uid: "rita", name: "notes.txt", uploadId: "u1" };
/** Fast enough that a test's few chunks take milliseconds; the pacing test sets its own. */
const RATE_FAST_BYTES_PER_SECOND = 1024 ** 3;

/** A peer serving getChunk from a map (a good copy) or with every byte flipped (rot). */
function peer(copies: Map<string, Uint8Array>, rotten: boolean): RpcServer {
  return RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger("peer"),
    handlers: {
      getChunk: async (body) => {
        const bytes = copies.get(body.chunkId);
        if (bytes === undefined) return fail("CHUNK_NOT_FOUND", "not here");
        const payload = rotten ? bytes.map((byte) => byte ^ 0xff) : bytes;
        return ok({ body: { chunkId: body.chunkId, bytes: payload.length }, payload });
      },
    },
  });
}

interface Fixture {
  dir: string;
  logger: ReturnType<typeof createMemoryLogger>;
  chunks: ChunkStore;
  refs: RefsStore;
  repairer: Repairer;
  copies: Map<string, Uint8Array>;
  peers: RpcServer[];
  view: GroupView | null;
}

let fx: Fixture;

beforeEach(async () => {
  const dir = await mkdtemp(join(tmpdir(), "ftfs-scrub-"));
  const logger = createMemoryLogger("s1a");
  // Chunks as files, so a test can damage or delete one (segment damage: segment-log.test.ts).
  const chunks = await ChunkStore.open(join(dir, "data"), logger, Date.now, undefined, 0);
  const refs = RefsStore.open(join(dir, "refs.sqlite"));
  const copies = new Map<string, Uint8Array>();
  const [bad, good] = [peer(copies, true), peer(copies, false)];
  const view: GroupView = {
    group: "s1",
    epoch: 2,
    primary: `127.0.0.1:${bad.port}`,
    primaryNode: "s1b",
    replicas: [
      { node: "s1a", address: "127.0.0.1:1" },
      { node: "s1b", address: `127.0.0.1:${bad.port}` },
      { node: "s1c", address: `127.0.0.1:${good.port}` },
    ],
  };
  const repairer = new Repairer({ node: "s1a", chunks, refs, logger, view: () => fx.view });
  chunks.onDamage = repairer.onDamage;
  fx = { dir, logger, chunks, refs, repairer, copies, peers: [bad, good], view };
});

afterEach(async () => {
  await fx.repairer.stop();
  for (const server of fx.peers) server.stop();
  fx.refs.close();
  await rm(fx.dir, { recursive: true, force: true });
});

function scrubber(bytesPerSecond = RATE_FAST_BYTES_PER_SECOND, learning = false): Scrubber {
  return new Scrubber({
    chunks: fx.chunks,
    refs: fx.refs,
    repairer: fx.repairer,
    logger: fx.logger,
    bytesPerSecond,
    passPauseMs: 60_000,
    monotonicMs: () => performance.now(),
    learning: () => learning,
  });
}

/** Store a chunk here (with a pending reference) and give the peers the same bytes. */
async function stored(text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const id = sha256Hex(bytes);
  const verified = fx.chunks.verify(id, bytes);
  if (!verified.ok) throw verified.error;
  const put = await fx.chunks.put(verified.value);
  if (!put.ok) throw put.error;
  fx.refs.addPending(id, OWNER, bytes.length, 1);
  fx.copies.set(id, bytes);
  return id;
}

async function onDisk(id: string): Promise<string> {
  return new TextDecoder().decode(await readFile(join(fx.dir, "data", chunkPath(id))));
}

function logged(msg: string): Array<Record<string, unknown>> {
  return fx.logger.lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === msg);
}

test("a pass finds rot; the repair skips a peer's rotten copy and takes the good one", async () => {
  const healthy = await stored("healthy chunk");
  const rotting = await stored("rotting chunk");
  await writeFile(join(fx.dir, "data", chunkPath(rotting)), "rotting chunK");
  const scrub = scrubber();
  await scrub.pass();
  await fx.repairer.idle();
  expect(scrub.stats).toMatchObject({ passes: 1, chunksChecked: 1, rotFound: 1, errors: 0 });
  expect(await onDisk(rotting)).toBe("rotting chunk");
  expect(await onDisk(healthy)).toBe("healthy chunk");
  expect(await readdir(join(fx.dir, "data", "quarantine"))).toHaveLength(1);
  expect(fx.repairer.stats).toMatchObject({ rotFound: 1, repaired: 1, failed: 0 });
  expect(logged("chunk repaired")).toEqual([
    expect.objectContaining({ chunkId: rotting, kind: "rot", from: "s1c", bytes: 13 }),
  ]);
  expect((await fx.chunks.scrub(rotting)).ok).toBe(true);
});

test("a read of a referenced chunk whose file is gone repairs it; of a stranger, not", async () => {
  const lost = await stored("lost chunk");
  await rm(join(fx.dir, "data", chunkPath(lost)));
  const read = await fx.chunks.get(lost);
  expect(read.ok ? "served" : read.error.code).toBe("CHUNK_NOT_FOUND");
  const stranger = await fx.chunks.get(sha256Hex(new TextEncoder().encode("not ours")));
  expect(stranger.ok).toBe(false);
  await fx.repairer.idle();
  expect(await onDisk(lost)).toBe("lost chunk");
  expect(fx.repairer.stats).toMatchObject({
    missingFound: 1,
    absentReported: 1,
    queued: 1,
    repaired: 1,
  });
});

test("the sweep repairs a referenced chunk the store does not hold", async () => {
  const bytes = new TextEncoder().encode("referenced, never indexed");
  const id = sha256Hex(bytes);
  fx.refs.addPending(id, OWNER, bytes.length, 1);
  fx.copies.set(id, bytes);
  const scrub = scrubber();
  await scrub.pass();
  await fx.repairer.idle();
  expect(scrub.stats.missingFound).toBe(1);
  expect(await onDisk(id)).toBe("referenced, never indexed");
});

test("a reference whose put is still under way, or a learner's, is not damage", async () => {
  const bytes = new TextEncoder().encode("a put in flight");
  const id = sha256Hex(bytes);
  fx.copies.set(id, bytes);
  const verified = fx.chunks.verify(id, bytes);
  if (!verified.ok) throw verified.error;
  // The reference first, then the put, as the handlers do; the sweep runs while it writes.
  fx.refs.addPending(id, OWNER, bytes.length, 1);
  const writing = fx.chunks.put(verified.value);
  const scrub = scrubber();
  await scrub.pass();
  expect((await writing).ok).toBe(true);
  await fx.repairer.idle();
  expect(scrub.stats.missingFound).toBe(0);
  // A learner's references name what its catch-up has yet to copy.
  const other = new TextEncoder().encode("not copied yet");
  fx.refs.addPending(sha256Hex(other), OWNER, other.length, 1);
  const learner = scrubber(RATE_FAST_BYTES_PER_SECOND, true);
  await learner.pass();
  expect(learner.stats.missingFound).toBe(0);
  expect(fx.repairer.stats.queued).toBe(0);
});

test("a chunk only unfinished uploads name, held by no replica, loses those references", async () => {
  // A put whose write failed on a full disk, and whose reference could not be taken back
  // either: nothing holds the chunk, and a learner's catch-up would ask for it forever.
  const lost = new TextEncoder().encode("never stored anywhere");
  const lostId = sha256Hex(lost);
  fx.refs.addPending(lostId, OWNER, lost.length, 1);
  // A kept version's chunk that no replica holds is data lost: said loudly, never forgotten.
  const kept = new TextEncoder().encode("committed, then lost everywhere");
  const keptId = sha256Hex(kept);
  const keptOwner = { ...OWNER, uploadId: "u2" };
  fx.refs.addPending(keptId, keptOwner, kept.length, 1);
  fx.refs.commitChunk(keptOwner.uid, keptOwner.name, keptOwner.uploadId, 1, keptId);
  const scrub = scrubber();
  await scrub.pass();
  await fx.repairer.idle();
  expect(fx.refs.referencesTo(lostId)).toBe(0);
  expect(fx.repairer.stats.danglingDropped).toBe(1);
  expect(fx.refs.referencesTo(keptId)).toBe(1);
  expect(logged("chunk repair found no good copy").map((entry) => entry.chunkId)).toEqual([keptId]);
});

test("a pass reads no faster than its rate", async () => {
  for (let index = 0; index < 8; index += 1) await stored(`chunk ${index}`);
  // Eight tiny chunks cost the minimum each: 8 × 64 KiB at 4 MiB/s is 125 ms.
  const scrub = scrubber((SCRUB_CHUNK_COST_BYTES_MIN * 8 * 1_000) / 125);
  const startedMs = performance.now();
  await scrub.pass();
  expect(performance.now() - startedMs).toBeGreaterThanOrEqual(100);
  expect(scrub.stats.chunksChecked).toBe(8);
});

test("with no other replica known, the repair fails loudly; the rot stays aside", async () => {
  const id = await stored("no help");
  fx.view = null;
  await writeFile(join(fx.dir, "data", chunkPath(id)), "no helP");
  await scrubber().pass();
  await fx.repairer.idle();
  // Tried when the rot was found, and again by the pass's sweep: it is referenced and absent.
  expect(fx.repairer.stats).toMatchObject({ rotFound: 1, queued: 2, repaired: 0, failed: 2 });
  const failure = expect.objectContaining({ chunkId: id, problems: "no other replica known" });
  expect(logged("chunk repair found no good copy")).toEqual([failure, failure]);
  expect(fx.chunks.has(id)).toBe(false);
});
