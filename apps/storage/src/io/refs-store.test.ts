/**
 * Property: owner references survive a reopen; a commit sets the version on exactly its
 * upload's rows, and with chunk sizes inserts the committed rows it lacks, idempotently; a drop
 * removes the name's committed rows; retried puts add no duplicates; dropPending removes only a
 * closed upload's pending rows and dropChunk only that chunk's; chunkRefFacts reports what
 * garbage collection asks about; the directory term only rises, across reopen; referenced
 * chunks page in order. How often a file holds a chunk (`uses`) is kept by a commit and by a
 * catch-up page, and a file from before `uses` opens with every reference used once.
 * Nothing here expires by the clock. Each change is one commit, timed:
 * a batch of changes is one.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateOwned, type RefRow } from "../core/index.ts";
import { Fsync, type FsyncTarget } from "./fsync.ts";
import { RefsStore } from "./refs-store.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftfs-refs-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const C1 = "1".repeat(64);
const C2 = "2".repeat(64);
const C3 = "3".repeat(64);

function rowsOf(store: RefsStore, uid: string): RefRow[] {
  const rows: RefRow[] = [];
  store.forEachOwnedBy(uid, (row) => rows.push(row));
  return rows;
}

test("references persist across reopen, with versions set by commit", () => {
  const path = join(dir, "refs.sqlite");
  const first = RefsStore.open(path);
  first.addPending(C1, { uid: "alice", name: "a.txt", uploadId: "u1" }, 100, 1);
  first.addPending(C2, { uid: "alice", name: "a.txt", uploadId: "u1" }, 20, 2);
  first.addPending(C1, { uid: "alice", name: "a.txt", uploadId: "u1" }, 100, 3); // a retried put
  first.addPending(C3, { uid: "bob", name: "b.txt", uploadId: "u9" }, 7, 4);
  expect(first.commit("alice", "a.txt", "u1", 1)).toBe(2);
  first.close();

  const second = RefsStore.open(path);
  expect(aggregateOwned(rowsOf(second, "alice"), "s1").files).toEqual([
    { name: "a.txt", version: 1, uploadId: "u1", bytes: 120, chunks: 2, group: "s1" },
  ]);
  expect(rowsOf(second, "bob").map((row) => row.version)).toEqual([null]);
  expect(second.referencesTo(C1)).toBe(1);
  second.close();
});

test("drop removes the name's committed references and keeps in-flight uploads", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  store.addPending(C1, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 1);
  store.commit("alice", "a.txt", "u1", 1);
  store.addPending(C2, { uid: "alice", name: "a.txt", uploadId: "u2" }, 10, 2);
  store.addPending(C3, { uid: "alice", name: "other", uploadId: "u3" }, 10, 3);
  store.commit("alice", "other", "u3", 4);
  expect(store.drop("alice", "a.txt")).toBe(1);
  expect(store.referencesTo(C1)).toBe(0);
  const left = rowsOf(store, "alice").map((row) => `${row.name}/${row.uploadId}/${row.version}`);
  expect(left.sort()).toEqual(["a.txt/u2/null", "other/u3/4"]);
  store.close();
});

test("commitChunk commits one reference; the upload's other pending ones stay until closed", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  // A learner's pending C2, which the primary's commit (naming only C1) left pending.
  store.addPending(C1, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 1);
  store.addPending(C2, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 2);
  store.commitChunk("alice", "a.txt", "u1", 1, C1);
  expect(rowsOf(store, "alice").map((row) => row.version)).toEqual([1, null]);
  // Garbage collection hears the upload is closed: only its pending reference goes.
  expect(store.dropPending("alice", "u1")).toBe(1);
  expect([store.referencesTo(C1), store.referencesTo(C2)]).toEqual([1, 0]);
  store.close();
});

test("commit with chunk sizes inserts missing references committed, idempotently", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  // C1 was put here (pending); C2's pending reference never arrived (a learner still copying).
  store.addPending(C1, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 1);
  expect(store.commit("alice", "a.txt", "u1", 3, [C1, C2], [10, 20], 5)).toBe(2);
  const committed = (): string[] =>
    rowsOf(store, "alice").map((row) => `${row.uploadId}/${row.version}/${row.chunkBytes}`);
  expect(committed()).toEqual(["u1/3/10", "u1/3/20"]);
  expect([store.referencesTo(C1), store.referencesTo(C2)]).toEqual([1, 1]);
  // The same notice again (a retry, or a replay after a restart) adds no row.
  const seqBefore = store.lastSeq();
  store.commit("alice", "a.txt", "u1", 3, [C1, C2], [10, 20], 6);
  expect(committed()).toEqual(["u1/3/10", "u1/3/20"]);
  expect(store.lastSeq()).toBe(seqBefore);
  store.close();
});

test("a chunk the file holds several times keeps how often, through a commit and a catch-up", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  store.addPending(C1, { uid: "alice", name: "r.bin", uploadId: "u1" }, 10, 1);
  store.commit("alice", "r.bin", "u1", 1, [C1, C2], [10, 20], 5, [3, 1]);
  const uses = (of: RefsStore): string[] =>
    rowsOf(of, "alice").map((row) => `${row.version}/${row.chunkBytes}x${row.uses}`);
  expect(uses(store)).toEqual(["1/10x3", "1/20x1"]);
  // A learner copies the page: the repeat comes with it.
  const page = store.pageAfter(0, 10);
  expect(page.map((ref) => ref.uses)).toEqual([3, undefined]);
  const learner = RefsStore.open(join(dir, "learner.sqlite"));
  for (const ref of page) {
    learner.addPending(
      ref.chunkId,
      { uid: ref.uid, name: ref.name, uploadId: ref.uploadId },
      ref.bytes,
      7,
    );
    if (ref.version !== null) {
      learner.commitChunk(ref.uid, ref.name, ref.uploadId, ref.version, ref.chunkId, ref.uses);
    }
  }
  expect(uses(learner)).toEqual(["1/10x3", "1/20x1"]);
  learner.close();
  store.close();
});

test("a references file from before uses (schema 2) opens with every reference used once", () => {
  const path = join(dir, "old.sqlite");
  const old = new Database(path, { create: true, strict: true });
  old.run(`CREATE TABLE refs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL, uid TEXT NOT NULL,
    name TEXT NOT NULL, upload_id TEXT NOT NULL, version INTEGER, chunk_bytes INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL, UNIQUE (uid, name, upload_id, chunk_id))`);
  old.run("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID");
  old.run(`INSERT INTO refs (chunk_id, uid, name, upload_id, version, chunk_bytes, created_at_ms)
    VALUES ('${C1}', 'alice', 'a.txt', 'u1', 1, 10, 1)`);
  old.run("PRAGMA user_version = 2");
  old.close();
  const store = RefsStore.open(path);
  expect(rowsOf(store, "alice").map((row) => row.uses)).toEqual([1]);
  store.commit("alice", "a.txt", "u2", 2, [C2], [20], 5, [2]);
  expect(rowsOf(store, "alice").map((row) => `${row.uploadId}x${row.uses}`)).toEqual([
    "u1x1",
    "u2x2",
  ]);
  store.close();
});

test("commit without chunk sizes commits only the references this node has", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  store.addPending(C1, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 1);
  store.addPending(C3, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 2);
  // C2 has no row here: it is not invented; C3 is not named: it stays pending.
  expect(store.commit("alice", "a.txt", "u1", 2, [C1, C2])).toBe(1);
  expect(store.referencesTo(C2)).toBe(0);
  const rows = rowsOf(store, "alice").map((row) => `${row.seq}/${row.version}`);
  expect(rows).toEqual(["1/2", "2/null"]);
  store.close();
});

test("admitDirectoryTerm refuses an older term, admits equal and newer, across reopen", () => {
  const path = join(dir, "refs.sqlite");
  const first = RefsStore.open(path);
  expect(first.admitDirectoryTerm(3)).toBe(true);
  expect(first.admitDirectoryTerm(3)).toBe(true);
  expect(first.admitDirectoryTerm(2)).toBe(false);
  expect(first.admitDirectoryTerm(5)).toBe(true);
  first.close();
  const second = RefsStore.open(path);
  expect(second.admitDirectoryTerm(4)).toBe(false); // the deposed primary of term 4
  expect(second.admitDirectoryTerm(5)).toBe(true);
  expect(second.admitDirectoryTerm(6)).toBe(true);
  expect(second.admitDirectoryTerm(5)).toBe(false);
  second.close();
});

test("chunkRefFacts counts committed references, names pending uploads up to a cap", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  expect(store.chunkRefFacts(C1, 2)).toEqual({
    committed: 0,
    pendingUploads: [],
    moreUploads: false,
    lastSeq: 0,
  });
  store.addPending(C1, { uid: "bob", name: "x", uploadId: "u3" }, 10, 1); // seq 1
  store.addPending(C1, { uid: "alice", name: "x", uploadId: "u2" }, 10, 2); // seq 2
  // One upload holding the chunk under two names counts once.
  store.addPending(C1, { uid: "alice", name: "y", uploadId: "u2" }, 10, 3); // seq 3
  store.addPending(C1, { uid: "alice", name: "z", uploadId: "u1" }, 10, 4); // seq 4
  store.commit("alice", "z", "u1", 1); // committed: no longer pending
  store.addPending(C2, { uid: "carol", name: "w", uploadId: "u9" }, 10, 5); // seq 5
  expect(store.chunkRefFacts(C1, 2)).toEqual({
    committed: 1,
    pendingUploads: [
      { uid: "alice", uploadId: "u2" },
      { uid: "bob", uploadId: "u3" },
    ],
    moreUploads: false,
    lastSeq: 4,
  });
  expect(store.chunkRefFacts(C1, 1)).toEqual({
    committed: 1,
    pendingUploads: [{ uid: "alice", uploadId: "u2" }],
    moreUploads: true,
    lastSeq: 4,
  });
  expect(store.chunkRefFacts(C2, 2).lastSeq).toBe(5);
  store.close();
});

test("dropPending removes only that upload's pending references", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  store.addPending(C1, { uid: "alice", name: "a", uploadId: "u1" }, 10, 1);
  store.addPending(C2, { uid: "alice", name: "b", uploadId: "u1" }, 10, 2);
  store.addPending(C3, { uid: "alice", name: "a", uploadId: "u1" }, 10, 3);
  store.commit("alice", "a", "u1", 1, [C3]); // committed: stays
  store.addPending(C1, { uid: "alice", name: "a", uploadId: "u2" }, 10, 4); // another upload
  store.addPending(C1, { uid: "bob", name: "a", uploadId: "u1" }, 10, 5); // another user
  expect(store.dropPending("alice", "u1")).toBe(2);
  expect(store.dropPending("alice", "u1")).toBe(0);
  const left = (uid: string): string[] =>
    rowsOf(store, uid).map((row) => `${row.name}/${row.uploadId}/${row.version}`);
  expect(left("alice").sort()).toEqual(["a/u1/1", "a/u2/null"]);
  expect(left("bob")).toEqual(["a/u1/null"]);
  expect([C1, C2, C3].map((chunk) => store.referencesTo(chunk))).toEqual([2, 0, 1]);
  store.close();
});

test("dropChunk removes every reference to that chunk and no other", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  store.addPending(C1, { uid: "alice", name: "a", uploadId: "u1" }, 10, 1);
  store.addPending(C1, { uid: "bob", name: "b", uploadId: "u2" }, 10, 2);
  store.commit("bob", "b", "u2", 1);
  store.addPending(C2, { uid: "alice", name: "a", uploadId: "u1" }, 10, 3);
  expect(store.dropChunk(C1)).toBe(2);
  expect(store.dropChunk(C1)).toBe(0);
  expect([store.referencesTo(C1), store.referencesTo(C2)]).toEqual([0, 1]);
  expect(store.chunkRefFacts(C1, 1).lastSeq).toBe(0);
  store.close();
});

test("referencedChunksAfter pages through distinct chunk ids in order", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  store.addPending(C3, { uid: "alice", name: "x", uploadId: "u1" }, 1, 1);
  store.addPending(C1, { uid: "alice", name: "x", uploadId: "u1" }, 1, 1);
  store.addPending(C1, { uid: "bob", name: "y", uploadId: "u2" }, 1, 1);
  store.addPending(C2, { uid: "bob", name: "y", uploadId: "u2" }, 1, 1);
  expect(store.referencedChunksAfter("", 2)).toEqual([C1, C2]);
  expect(store.referencedChunksAfter(C2, 2)).toEqual([C3]);
  expect(store.referencedChunksAfter(C3, 2)).toEqual([]);
  store.close();
});

test("each change is one timed commit, a batch of changes too; reads commit nothing", () => {
  const targets: FsyncTarget[] = [];
  const store = RefsStore.open(join(dir, "refs.sqlite"), new Fsync((t) => targets.push(t)));
  store.addPending(C1, { uid: "alice", name: "a", uploadId: "u1" }, 10, 1);
  store.commit("alice", "a", "u1", 1, [C1], [10]);
  expect(targets).toEqual(["references", "references"]);
  store.batch(() => {
    store.addPending(C2, { uid: "bob", name: "b", uploadId: "u2" }, 10, 2);
    store.addPending(C3, { uid: "bob", name: "b", uploadId: "u2" }, 10, 3);
    store.commitChunk("bob", "b", "u2", 1, C2);
  });
  expect(targets.length).toBe(3);
  expect([C1, C2, C3].map((chunk) => store.referencesTo(chunk))).toEqual([1, 1, 1]);
  expect(targets.length).toBe(3);
  expect(store.dropChunk(C3)).toBe(1);
  expect(targets.length).toBe(4);
  store.close();
});

test("uploadReferences names only the asking upload's references, pending or committed", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  const first = { uid: "alice", name: "a.txt", uploadId: "u1" };
  store.addPending(C1, first, 10, 1);
  store.addPending(C2, { uid: "alice", name: "a.txt", uploadId: "u2" }, 10, 2);
  expect(store.uploadReferences(first, C1)).toBe(true);
  // Another upload of the same name holds C2: not this upload's to skip.
  expect(store.uploadReferences(first, C2)).toBe(false);
  expect(store.uploadReferences({ ...first, uid: "bob" }, C1)).toBe(false);
  store.commit("alice", "a.txt", "u1", 1);
  expect(store.uploadReferences(first, C1)).toBe(true);
  store.dropUpload("alice", "a.txt", "u1");
  expect(store.uploadReferences(first, C1)).toBe(false);
  store.close();
});

test("an in-memory store (simulations) commits rounds and has no log to fsync", async () => {
  const store = RefsStore.open(":memory:");
  try {
    const outcomes = store.commitEach([
      () => store.addPending(C1, { uid: "ann", name: "m.txt", uploadId: "u1" }, 5, 1),
    ]);
    expect(outcomes).toEqual([{ ok: true, value: true }]);
    await store.syncLog();
    expect(store.referencesTo(C1)).toBe(1);
  } finally {
    store.close();
  }
});
