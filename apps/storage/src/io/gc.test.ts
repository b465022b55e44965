/**
 * Property: a GC pass deletes a chunk file only when the directory confirms it, and only if no
 * reference came to it while the question was out. Chunks a committed reference names are never
 * asked about (a shared one stays while any file names it); files and puts younger than the
 * grace are not asked about yet; a chunk the directory does not confirm stays however old; an
 * unanswered question deletes nothing; the pending references of uploads the directory calls
 * closed go, other uploads' stay; a spare (no group) does nothing. Freed bytes leave the
 * store's accounting and the files leave the disk. A put through the handler's group-commit
 * path races a deletion safely either way: its reference committed first keeps the chunk; its
 * round run after the deletion stores the chunk afresh; a put that fails takes back its
 * reference and is not acknowledged.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FtfsError,
  GC_UPLOADS_PER_CANDIDATE_MAX,
  type ChunkOwner,
  type RequestBody,
  type ResponseBody,
  type Result,
} from "@ftfs/protocol/core";
import { createMemoryLogger } from "@ftfs/protocol/io";
import { sha256Hex } from "@ftfs/protocol/io";
import { ChunkStore, chunksOnDisk } from "./chunk-store.ts";
import { GarbageCollector, type GcOptions } from "./gc.ts";
import { GroupCommit } from "./group-commit.ts";
import { storeLocally } from "./handlers.ts";
import { RefsStore } from "./refs-store.ts";

const GRACE_MS = 60_000;
/** A grace short enough for the start/stop test to see a pass of the real loop. */
const QUICK_GRACE_MS = 1_000;
/** How long the start/stop test waits for the loop's first pass before it fails. */
const FIRST_PASS_WAIT_MS = 5_000;
/** How soon stop() must return although the loop is resting between passes. */
const STOP_WITHIN_MS = 100;
const GROUP = "s1";
const UID = "gus";

type Question = RequestBody<"confirmGarbage">;
type Answer = Result<ResponseBody<"confirmGarbage">>;

/**
 * The directory primary as the collector sees it, judging as core/garbage-rules.ts does: a
 * candidate may go when no kept version names it and every upload holding it is closed (and
 * all were named); a closed upload's references are released. It records every question.
 */
class FakeDirectory {
  /** Chunks a kept version names in the group. */
  readonly kept = new Set<string>();
  /** Uploads committed or swept, by uploadKey(). */
  readonly closed = new Set<string>();
  readonly questions: Question[] = [];
  /** When set, every question is answered with this failure. */
  failure: FtfsError | null = null;
  /** Runs after the verdict is reached and before it is answered: work racing the answer. */
  beforeAnswer: (() => void) | null = null;
  /** Chunk ids the answer adds to `collectable` though nobody asked about them. */
  readonly alsoCollectable: string[] = [];

  readonly confirm = async (body: Question): Promise<Answer> => {
    this.questions.push(structuredClone(body));
    await Promise.resolve(); // the answer comes later, as it does over the network
    if (this.failure !== null) return { ok: false, error: this.failure };
    const collectable: string[] = [];
    const releasedRefs: Array<{ chunkId: string; uid: string; uploadId: string }> = [];
    for (const candidate of body.candidates) {
      let allClosed = candidate.moreUploads !== true;
      for (const upload of candidate.uploads) {
        const key = uploadKey(upload.uid, upload.uploadId);
        if (this.closed.has(key)) releasedRefs.push({ chunkId: candidate.chunkId, ...upload });
        else allClosed = false;
      }
      if (allClosed && !this.kept.has(candidate.chunkId)) collectable.push(candidate.chunkId);
    }
    this.beforeAnswer?.();
    return {
      ok: true,
      value: { collectable: [...collectable, ...this.alsoCollectable], releasedRefs },
    };
  };

  /** Every chunk id asked about so far, sorted. */
  askedAbout(): string[] {
    return this.questions.flatMap((q) => q.candidates.map((c) => c.chunkId)).sort();
  }

  close(uploadId: string): void {
    this.closed.add(uploadKey(UID, uploadId));
  }
}

function uploadKey(uid: string, uploadId: string): string {
  return JSON.stringify([uid, uploadId]);
}

let dir = "";
/** Added to the wall clock: how far the test has moved time on. */
let skewMs = 0;
const nowMs = (): number => Date.now() + skewMs;
/** The group the collector's node is in; null makes it a spare. */
let group: string | null = GROUP;
let chunks: ChunkStore;
let refs: RefsStore;
let directory: FakeDirectory;
let gc: GarbageCollector;

function collector(graceMs: number): GarbageCollector {
  const options: GcOptions = {
    chunks,
    refs,
    logger: createMemoryLogger(),
    graceMs,
    group: () => group,
    confirm: directory.confirm,
    nowMs,
    monotonicMs: () => performance.now(),
  };
  return new GarbageCollector(options);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftfs-gc-"));
  skewMs = 0;
  group = GROUP;
  chunks = await ChunkStore.open(join(dir, "data"), createMemoryLogger(), nowMs);
  refs = RefsStore.open(join(dir, "refs.sqlite"));
  directory = new FakeDirectory();
  gc = collector(GRACE_MS);
});

afterEach(async () => {
  await gc.stop();
  refs.close();
  await rm(dir, { recursive: true, force: true });
});

/** A put as the handler does it: the pending reference (optionally), then the chunk. */
async function put(text: string, owner?: ChunkOwner): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const verified = chunks.verify(sha256Hex(bytes), bytes);
  if (!verified.ok) throw verified.error;
  if (owner !== undefined) refs.addPending(verified.value.id, owner, bytes.length, nowMs());
  const stored = await chunks.put(verified.value);
  if (!stored.ok) throw stored.error;
  return verified.value.id;
}

async function onDisk(id: string): Promise<boolean> {
  return (await chunksOnDisk(join(dir, "data"), createMemoryLogger())).has(id);
}

const owner = (name: string, uploadId: string): ChunkOwner => ({ uid: UID, name, uploadId });

test("committed chunks are never asked about; a shared one goes once unnamed", async () => {
  const committed = await put("committed", owner("kept.txt", "u1"));
  refs.commit(UID, "kept.txt", "u1", 1);
  const shared = await put("shared", owner("a.txt", "u2"));
  await put("shared", owner("b.txt", "u3"));
  refs.commit(UID, "a.txt", "u2", 1);
  refs.commit(UID, "b.txt", "u3", 1);
  const orphan = await put("orphan");
  // Even an answer that wrongly names a committed chunk must not delete it.
  directory.alsoCollectable.push(committed, shared);
  await gc.pass();
  expect(directory.questions).toEqual([]); // every file is younger than the grace
  refs.drop(UID, "a.txt");
  skewMs = GRACE_MS + 1;
  await gc.pass();
  expect(directory.questions).toEqual([
    { group: GROUP, candidates: [{ chunkId: orphan, uploads: [] }] },
  ]);
  expect(gc.stats).toMatchObject({
    passes: 2,
    candidates: 1,
    chunksCollected: 1,
    bytesFreed: "orphan".length,
    errors: 0,
  });
  expect(await onDisk(orphan)).toBe(false);
  expect([await onDisk(committed), await onDisk(shared)]).toEqual([true, true]);
  expect(chunks.usedBytes).toBe("committed".length + "shared".length);
  refs.drop(UID, "b.txt");
  await gc.pass();
  expect(directory.askedAbout()).toEqual([orphan, shared].sort());
  expect(await onDisk(shared)).toBe(false);
  expect(chunks.has(shared)).toBe(false);
  expect(await onDisk(committed)).toBe(true);
  expect(chunks.usedBytes).toBe("committed".length);
});

test("an old uncommitted chunk goes only when confirmed; an unconfirmed one stays", async () => {
  const open = await put("held by an open upload", owner("big.bin", "u1"));
  const orphan = await put("no reference at all");
  const keptHere = await put("a kept version names it here");
  directory.kept.add(keptHere);
  await gc.pass();
  expect(directory.questions).toEqual([]); // younger than the grace: not worth asking yet
  skewMs = GRACE_MS + 1;
  await gc.pass();
  expect(directory.questions).toHaveLength(1);
  const asked = directory.questions[0]?.candidates ?? [];
  expect([...asked].sort((a, b) => a.chunkId.localeCompare(b.chunkId))).toEqual(
    [
      { chunkId: open, uploads: [{ uid: UID, uploadId: "u1" }] },
      { chunkId: orphan, uploads: [] },
      { chunkId: keptHere, uploads: [] },
    ].sort((a, b) => a.chunkId.localeCompare(b.chunkId)),
  );
  expect(gc.stats).toMatchObject({ candidates: 3, chunksCollected: 1, refsDropped: 0 });
  expect([await onDisk(open), await onDisk(orphan), await onDisk(keptHere)]).toEqual([
    true,
    false,
    true,
  ]);
  // However old, what the directory does not confirm stays.
  skewMs = 100 * GRACE_MS;
  await gc.pass();
  expect([await onDisk(open), await onDisk(keptHere)]).toEqual([true, true]);
  expect(refs.referencesTo(open)).toBe(1);
  // The upload closes (swept): its reference goes, and with it the chunk.
  directory.close("u1");
  await gc.pass();
  expect(gc.stats).toMatchObject({ passes: 4, chunksCollected: 2, refsDropped: 1, errors: 0 });
  expect([await onDisk(open), await onDisk(keptHere)]).toEqual([false, true]);
  expect(refs.referencesTo(open)).toBe(0);
});

test("a deduplicated put of an old orphan keeps it unasked for a grace", async () => {
  const id = await put("old orphan");
  skewMs = GRACE_MS + 1;
  await put("old orphan"); // an upload names it again; its reference is on the way
  await gc.pass();
  expect(directory.questions).toEqual([]);
  expect(await onDisk(id)).toBe(true);
  skewMs = 2 * GRACE_MS + 2;
  await gc.pass();
  expect(directory.askedAbout()).toEqual([id]);
  expect(await onDisk(id)).toBe(false);
});

test("an unanswered question deletes nothing and drops no reference", async () => {
  const orphan = await put("orphan");
  const closedUpload = await put("its upload was swept", owner("gone.bin", "u1"));
  directory.close("u1");
  directory.failure = new FtfsError("UNAVAILABLE", "no directory primary");
  skewMs = GRACE_MS + 1;
  await gc.pass();
  expect(directory.questions).toHaveLength(1);
  expect(gc.stats).toMatchObject({
    passes: 1,
    candidates: 2,
    unconfirmed: 2,
    chunksCollected: 0,
    refsDropped: 0,
  });
  expect([await onDisk(orphan), await onDisk(closedUpload)]).toEqual([true, true]);
  expect(refs.referencesTo(closedUpload)).toBe(1);
  // The directory is back: the next pass asks again and collects.
  directory.failure = null;
  await gc.pass();
  expect(gc.stats).toMatchObject({ unconfirmed: 2, chunksCollected: 2, refsDropped: 1 });
  expect([await onDisk(orphan), await onDisk(closedUpload)]).toEqual([false, false]);
});

test("a reference added while the question is out keeps its chunk despite the answer", async () => {
  const putLate = await put("a put of it arrives while the directory decides");
  const committedLate = await put("a commit of it arrives while the directory decides");
  const untouched = await put("nothing happens to this one");
  skewMs = GRACE_MS + 1;
  directory.beforeAnswer = () => {
    refs.addPending(putLate, owner("new.bin", "u7"), 1, nowMs());
    refs.commit(UID, "other.bin", "u8", 1, [committedLate], [1], nowMs());
  };
  await gc.pass();
  // The directory judged all three from the question and confirmed them all.
  expect(directory.askedAbout()).toEqual([putLate, committedLate, untouched].sort());
  expect(gc.stats).toMatchObject({ candidates: 3, chunksCollected: 1, errors: 0 });
  expect([await onDisk(putLate), await onDisk(committedLate), await onDisk(untouched)]).toEqual([
    true,
    true,
    false,
  ]);
  expect([refs.referencesTo(putLate), refs.referencesTo(committedLate)]).toEqual([1, 1]);
});

/** A put through the handler's path, its round run only when the test says. */
function groupedPut(text: string, putOwner: ChunkOwner) {
  const due: Array<() => void> = [];
  const refsCommit = new GroupCommit(
    (changes) => refs.commitEach(changes),
    () => refs.syncLog(),
    (run) => due.push(run),
  );
  const bytes = new TextEncoder().encode(text);
  const verified = chunks.verify(sha256Hex(bytes), bytes);
  if (!verified.ok) throw verified.error;
  const context = { refs, refsCommit, chunks, nowMs, logger: createMemoryLogger() };
  const stored = storeLocally(context, verified.value, putOwner);
  return {
    id: verified.value.id,
    stored,
    runRound: () => {
      for (const run of due.splice(0)) run();
    },
  };
}

test("a grouped put whose round commits while the question is out keeps its chunk", async () => {
  const id = await put("an old orphan an upload names again");
  skewMs = GRACE_MS + 1;
  let answered: Promise<unknown> = Promise.resolve();
  directory.beforeAnswer = () => {
    const again = groupedPut("an old orphan an upload names again", owner("again.bin", "u9"));
    again.runRound(); // the reference commits before the answer is acted on
    answered = again.stored;
  };
  await gc.pass();
  expect(directory.askedAbout()).toEqual([id]);
  expect(gc.stats.chunksCollected).toBe(0);
  expect(await answered).toEqual({ ok: true, value: undefined });
  expect([await onDisk(id), refs.referencesTo(id)]).toEqual([true, 1]);
});

test("a grouped put still waiting for its round when the chunk goes stores it afresh", async () => {
  const id = await put("an orphan deleted while a put of it waits");
  skewMs = GRACE_MS + 1;
  let waiting: ReturnType<typeof groupedPut> | null = null;
  directory.beforeAnswer = () => {
    waiting = groupedPut("an orphan deleted while a put of it waits", owner("late.bin", "u9"));
  };
  await gc.pass();
  expect(gc.stats.chunksCollected).toBe(1);
  expect(await onDisk(id)).toBe(false);
  const late = waiting as ReturnType<typeof groupedPut> | null;
  if (late === null) throw new Error("the put was not submitted");
  late.runRound();
  expect(await late.stored).toEqual({ ok: true, value: undefined });
  expect([await onDisk(id), chunks.has(id), refs.referencesTo(id)]).toEqual([true, true, 1]);
});

test("a grouped put that fails takes back its reference and is not acknowledged", async () => {
  chunks.capacityBytes = 0;
  const failing = groupedPut("no room for this", owner("full.bin", "u3"));
  let settled = false;
  void failing.stored.finally(() => {
    settled = true;
  });
  // The reference's removal has a round of its own, after the put's failure.
  while (!settled) {
    failing.runRound();
    await Bun.sleep(1);
  }
  const result = await failing.stored;
  expect(result.ok).toBe(false);
  expect([chunks.has(failing.id), refs.referencesTo(failing.id)]).toEqual([false, 0]);
});

test("closed uploads' pending references go; other uploads' and committed ones stay", async () => {
  // u1 put three chunks here; its commit kept only `placed` in this group (the others were
  // re-routed or hedged to another group). u2, still streaming, shares `shared`.
  const placed = await put("placed here by the manifest", owner("f.bin", "u1"));
  const rerouted = await put("re-routed to another group", owner("f.bin", "u1"));
  const shared = await put("re-routed, and still streaming", owner("f.bin", "u1"));
  await put("re-routed, and still streaming", owner("g.bin", "u2"));
  expect(refs.commit(UID, "f.bin", "u1", 1, [placed])).toBe(1);
  directory.close("u1");
  skewMs = GRACE_MS + 1;
  await gc.pass();
  expect(directory.askedAbout()).toEqual([rerouted, shared].sort());
  expect(gc.stats).toMatchObject({ refsDropped: 2, chunksCollected: 1, errors: 0 });
  expect(await onDisk(rerouted)).toBe(false);
  expect([await onDisk(placed), await onDisk(shared)]).toEqual([true, true]);
  expect([placed, rerouted, shared].map((id) => refs.referencesTo(id))).toEqual([1, 0, 1]);
  const left: string[] = [];
  refs.forEachOwnedBy(UID, (row) => left.push(`${row.name}/${row.uploadId}/${row.version}`));
  expect(left.sort()).toEqual(["f.bin/u1/1", "g.bin/u2/null"]);
});

test("a chunk held by more uploads than a question names is never confirmed", async () => {
  const crowded = await put("held by many uploads");
  const uploads = GC_UPLOADS_PER_CANDIDATE_MAX + 1;
  for (let at = 0; at < uploads; at += 1) {
    const uploadId = `u${String(at).padStart(2, "0")}`;
    refs.addPending(crowded, owner(`f${at}`, uploadId), 1, nowMs());
    directory.close(uploadId);
  }
  skewMs = GRACE_MS + 1;
  await gc.pass();
  const asked = directory.questions[0]?.candidates[0];
  expect(asked?.uploads).toHaveLength(GC_UPLOADS_PER_CANDIDATE_MAX);
  expect(asked?.moreUploads).toBe(true);
  expect(await onDisk(crowded)).toBe(true);
  // The named uploads were closed and their references went; the last one is asked next.
  expect(gc.stats.refsDropped).toBe(GC_UPLOADS_PER_CANDIDATE_MAX);
  await gc.pass();
  expect(directory.questions[1]?.candidates).toEqual([
    { chunkId: crowded, uploads: [{ uid: UID, uploadId: `u${GC_UPLOADS_PER_CANDIDATE_MAX}` }] },
  ]);
  expect(await onDisk(crowded)).toBe(false);
});

test("a spare, in no group, neither asks nor deletes", async () => {
  const orphan = await put("orphan on a spare");
  group = null;
  skewMs = GRACE_MS + 1;
  await gc.pass();
  expect(directory.questions).toEqual([]);
  expect(gc.stats).toEqual({
    passes: 0,
    chunksChecked: 0,
    candidates: 0,
    chunksCollected: 0,
    bytesFreed: 0,
    refsDropped: 0,
    unconfirmed: 0,
    quarantineFilesFreed: 0,
    errors: 0,
  });
  expect(await onDisk(orphan)).toBe(true);
  group = GROUP; // assigned a group: the orphan is its own to collect
  await gc.pass();
  expect(directory.questions).toEqual([
    { group: GROUP, candidates: [{ chunkId: orphan, uploads: [] }] },
  ]);
  expect(await onDisk(orphan)).toBe(false);
});

test("start runs passes on its interval; stop ends the loop at once", async () => {
  const quick = collector(QUICK_GRACE_MS);
  const orphan = await put("collected by the loop");
  skewMs = QUICK_GRACE_MS + 1;
  quick.start();
  const deadlineMs = performance.now() + FIRST_PASS_WAIT_MS;
  while (quick.stats.passes === 0 && performance.now() < deadlineMs) await Bun.sleep(10);
  const stopStartedMs = performance.now();
  await quick.stop();
  expect(performance.now() - stopStartedMs).toBeLessThan(STOP_WITHIN_MS);
  expect(quick.stats.passes).toBeGreaterThan(0);
  expect(directory.askedAbout()[0]).toBe(orphan);
  expect(await onDisk(orphan)).toBe(false);
});
