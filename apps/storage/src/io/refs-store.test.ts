/**
 * Property: owner references survive a reopen; a commit sets the version on exactly its
 * upload's rows; a drop removes the name's committed rows; retried puts add no duplicates;
 * only uploads idle past the cutoff lose their pending rows; referenced chunks page in order.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateOwned, type RefRow } from "../core/index.ts";
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

test("commitChunk commits one reference; the upload's other pending ones stay to expire", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  // A learner's pending C2, which the primary's commit (naming only C1) left pending.
  store.addPending(C1, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 1);
  store.addPending(C2, { uid: "alice", name: "a.txt", uploadId: "u1" }, 10, 2);
  store.commitChunk("alice", "a.txt", "u1", 1, C1);
  expect(rowsOf(store, "alice").map((row) => row.version)).toEqual([1, null]);
  expect(store.expirePending(3, 10)).toBe(1);
  expect([store.referencesTo(C1), store.referencesTo(C2)]).toEqual([1, 0]);
  store.close();
});

test("expirePending drops only uploads whose newest pending reference is too old", () => {
  const store = RefsStore.open(join(dir, "refs.sqlite"));
  const C4 = "4".repeat(64);
  // u1 is still streaming: its first chunk is old, its latest is not.
  store.addPending(C1, { uid: "alice", name: "big", uploadId: "u1" }, 10, 100);
  store.addPending(C2, { uid: "alice", name: "big", uploadId: "u1" }, 10, 200);
  // u2 committed long ago: committed references never expire.
  store.addPending(C3, { uid: "alice", name: "done", uploadId: "u2" }, 10, 50);
  store.commit("alice", "done", "u2", 1);
  // u3 and u4 were abandoned; u4 shares C1 with u1.
  store.addPending(C4, { uid: "bob", name: "gave-up", uploadId: "u3" }, 10, 60);
  store.addPending(C1, { uid: "bob", name: "gave-up-too", uploadId: "u4" }, 10, 70);
  expect(store.expirePending(150, 1)).toBe(1); // one upload per call
  expect(store.expirePending(150, 10)).toBe(1);
  expect(store.expirePending(150, 10)).toBe(0);
  expect([C1, C2, C3, C4].map((chunk) => store.referencesTo(chunk))).toEqual([1, 1, 1, 0]);
  expect(store.expirePending(201, 10)).toBe(2);
  expect(store.referencesTo(C3)).toBe(1);
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
