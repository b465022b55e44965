/**
 * A snapshot image end to end on one machine: exported on a worker (VACUUM INTO) beside a
 * writer, received (here: copied) as an incoming part, checked and readied on a worker, then
 * swapped in. The swapped-in database answers every read as the source did, keeps this node's
 * own settings and writes its Raft state, also across a restart; no WAL of the old file is ever
 * replayed into the new one. An image that does not hash to its descriptor is dropped, never
 * readied; a swap that cannot be made safely (another connection reading, a failing write of
 * the Raft state) leaves the old database in use, unchanged.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { raft } from "@ftfs/protocol/core";
import { listLiveFiles, type MetadataStore } from "../core/index.ts";
import { applyOk, chunk, commit, groupConfig, T0_MS } from "../testing/fixtures.ts";
import { RaftLog } from "./raft-log.ts";
import {
  exportImageInWorker,
  prepareImageInWorker,
  SnapshotImageMismatchError,
} from "./snapshot-export.ts";
import { SnapshotImages } from "./snapshot-images.ts";
import { SqliteMetadataStore } from "./sqlite-store.ts";

const folders: string[] = [];
const open: SqliteMetadataStore[] = [];
afterEach(() => {
  for (const store of open.splice(0)) store.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function openStore(): SqliteMetadataStore {
  const folder = mkdtempSync(join(tmpdir(), "ftfs-dir-image-"));
  folders.push(folder);
  const store = SqliteMetadataStore.open(join(folder, "directory.sqlite"));
  open.push(store);
  return store;
}

function history(store: MetadataStore, files: number): void {
  applyOk(store, { type: "setGroupConfig", config: groupConfig("s1", ["n1", "n2"]), atMs: T0_MS });
  applyOk(store, { type: "createUser", uid: "alice", atMs: T0_MS });
  for (let n = 1; n <= files; n += 1) {
    applyOk(store, commit("alice", `f${n}`, `u${n}`, [chunk(n, n)]));
  }
}

function reads(store: MetadataStore) {
  return {
    lastApplied: store.lastApplied(),
    usage: store.getUsage("alice"),
    files: listLiveFiles(store, "alice"),
    group: store.getGroup("s1"),
  };
}

/** An image of `source` received by `target`'s node: exported, then laid down as its part. */
async function received(source: SqliteMetadataStore, target: SqliteMetadataStore) {
  const exported = await exportImageInWorker(source.path, new SnapshotImages(source.path));
  const image = raft.decodeSnapshotImage(exported.data);
  if (image === null) throw new Error("the export is not an image descriptor");
  const sourceImages = new SnapshotImages(source.path);
  const images = new SnapshotImages(target.path);
  copyFileSync(sourceImages.imagePath(image.sha256), images.partPath(image.sha256));
  return { image, images, index: exported.index, data: exported.data };
}

function readyFor(index: number, data: Uint8Array, term: number): raft.Ready {
  return {
    hardState: { term, vote: null, commit: index },
    entries: [],
    snapshot: { index, term, data },
    messages: [],
    committedEntries: [],
    readStates: [],
  };
}

describe("snapshot images", () => {
  test("exported, readied and swapped in: the source's reads, this node's settings and Raft state, across a restart", async () => {
    const source = openStore();
    history(source, 20);
    const target = openStore();
    history(target, 3);
    target.transaction(() => target.writeMeta("members", '["mine"]'));
    const raftLog = RaftLog.of(target);
    const { image, images, index, data } = await received(source, target);
    expect(index).toBe(source.lastApplied());
    await prepareImageInWorker(images, image, index);
    expect(images.hasReady(image.sha256)).toBe(true);
    expect(images.hasImage(image.sha256)).toBe(true);
    // Writes after the export are the target's; an unsynced WAL must not leak into the swap.
    target.swapDatabase(images.readyPath(image.sha256), (db) => {
      const log = new RaftLog(db);
      log.save(readyFor(index, data, 7));
      log.detach();
    });
    expect(reads(target)).toEqual(reads(source));
    expect(target.readMeta("members")).toBe('["mine"]');
    expect(raftLog.load().hardState.term).toBe(7);
    expect(raftLog.load().snapshot?.index).toBe(index);
    expect(existsSync(images.readyPath(image.sha256))).toBe(false);
    const path = target.path;
    open.splice(open.indexOf(target), 1);
    raftLog.close();
    target.close();
    const reopened = SqliteMetadataStore.open(path);
    open.push(reopened);
    expect(reads(reopened)).toEqual(reads(source));
    expect(new RaftLog(reopened.database).load().snapshot?.data).toEqual(data);
    // The node goes on applying after the image's index.
    applyOk(reopened, commit("alice", "after", "u-after", [chunk(99, 9)]));
    expect(reopened.lastApplied()).toBe(index + 1);
  });

  test("an image that does not hash to its descriptor is dropped, never readied", async () => {
    const source = openStore();
    history(source, 5);
    const target = openStore();
    const { image, images, index } = await received(source, target);
    const part = images.partPath(image.sha256);
    writeFileSync(part, "forged", { flag: "r+" });
    expect(statSync(part).size).toBe(image.bytes);
    await expect(prepareImageInWorker(images, image, index)).rejects.toBeInstanceOf(
      SnapshotImageMismatchError,
    );
    expect(existsSync(part)).toBe(false);
    expect(images.hasReady(image.sha256)).toBe(false);
  });

  test("a swap that cannot be made safely leaves the old database in use, unchanged", async () => {
    const source = openStore();
    history(source, 5);
    const target = openStore();
    history(target, 2);
    const before = reads(target);
    const { image, images, index, data } = await received(source, target);
    await prepareImageInWorker(images, image, index);
    const ready = images.readyPath(image.sha256);
    expect(() =>
      target.swapDatabase(ready, () => {
        throw new Error("the disk failed");
      }),
    ).toThrow("the disk failed");
    expect(reads(target)).toEqual(before);
    // Another connection in a read: its WAL could not be folded in, so no swap.
    const reader = new Database(target.path, { readonly: true });
    reader.run("BEGIN");
    reader.query("SELECT COUNT(*) FROM versions").get();
    target.transaction(() => target.writeMeta("busy", "1"));
    try {
      expect(() =>
        target.swapDatabase(ready, (db) => new RaftLog(db).save(readyFor(index, data, 3))),
      ).toThrow();
    } finally {
      reader.run("COMMIT");
      reader.close();
    }
    expect(reads(target)).toEqual(before);
  });
});
