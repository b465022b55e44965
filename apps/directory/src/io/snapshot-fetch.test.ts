/**
 * SnapshotFetcher over a fake link: a snapshot naming an image is held back until the image is
 * on disk, whole and checked, then let through (and stepped in once ready); a part whose bytes
 * do not match its hash is asked for again, never written; a transfer cut by a dropped link
 * resumes from the parts on disk at the next message, without asking for them again.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsError, raft } from "@ftfs/protocol/core";
import { createMemoryLogger, sha256Hex } from "@ftfs/protocol/io";
import { applyOk, chunk, commit, groupConfig } from "../testing/fixtures.ts";
import { newSnapshotStats } from "./replicator.ts";
import { exportImageInWorker } from "./snapshot-export.ts";
import { type FetchedPart, SnapshotFetcher } from "./snapshot-fetch.ts";
import { SnapshotImages } from "./snapshot-images.ts";
import { SqliteMetadataStore } from "./sqlite-store.ts";

const PART_BYTES = 4096;
const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const made = mkdtempSync(join(tmpdir(), "ftfs-dir-fetch-"));
  folders.push(made);
  return made;
}

/** An image of a small directory, as the primary holds it. */
async function primaryImage() {
  const path = join(folder(), "directory.sqlite");
  const store = SqliteMetadataStore.open(path);
  applyOk(store, { type: "setGroupConfig", config: groupConfig("s1", ["n1", "n2"]), atMs: 0 });
  applyOk(store, { type: "createUser", uid: "alice", atMs: 0 });
  for (let n = 1; n <= 40; n += 1) applyOk(store, commit("alice", `f${n}`, `u${n}`, [chunk(n, n)]));
  const exported = await exportImageInWorker(path, new SnapshotImages(path));
  store.close();
  const image = raft.decodeSnapshotImage(exported.data);
  if (image === null) throw new Error("not an image");
  const bytes = new Uint8Array(readFileSync(new SnapshotImages(path).imagePath(image.sha256)));
  const message: raft.InstallSnapshot = {
    type: "installSnapshot",
    from: raft.raftId("d1"),
    to: raft.raftId("d2"),
    term: 1,
    snapshot: { index: exported.index, term: 1, data: exported.data },
  };
  return { image, bytes, message };
}

interface Link {
  asked: number[];
  /** Fails the call for this offset once (a dropped link). */
  dropAt: number | null;
  /** Flips a byte of the part at this offset once (torn on the way). */
  tearAt: number | null;
}

function fetcherFor(bytes: Uint8Array, link: Link) {
  const stepped: raft.InstallSnapshot[] = [];
  const snapshots = newSnapshotStats();
  const images = new SnapshotImages(join(folder(), "directory.sqlite"));
  const fetcher = new SnapshotFetcher({
    images,
    logger: createMemoryLogger(),
    addressOf: () => "127.0.0.1:1",
    fetchPart: async (_address, request): Promise<FetchedPart> => {
      link.asked.push(request.offset);
      if (link.dropAt === request.offset) {
        link.dropAt = null;
        throw new FtfsError("CONNECTION_CLOSED", "the link broke");
      }
      const payload = bytes.slice(request.offset, request.offset + request.bytes);
      const sha256 = sha256Hex(payload);
      if (link.tearAt === request.offset) {
        link.tearAt = null;
        payload[0] = (payload[0] ?? 0) ^ 1;
      }
      return { offset: request.offset, sha256, payload };
    },
    mayInstall: () => true,
    step: (message) => stepped.push(message),
    snapshots,
    partBytes: PART_BYTES,
  });
  return { fetcher, stepped, snapshots, images };
}

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 500 && !condition(); tries += 1) await Bun.sleep(10);
  expect(condition()).toBe(true);
}

test("held back until the image is ready; a torn part is asked again; a dropped link resumes from the parts on disk", async () => {
  const { image, bytes, message } = await primaryImage();
  const parts = Math.ceil(image.bytes / PART_BYTES);
  expect(parts).toBeGreaterThan(4);
  const link: Link = { asked: [], dropAt: 3 * PART_BYTES, tearAt: PART_BYTES };
  const { fetcher, stepped, snapshots, images } = fetcherFor(bytes, link);

  expect(fetcher.admit(message)).toBe(false);
  await until(() => link.dropAt === null && images.partBytes(image.sha256) === 3 * PART_BYTES);
  await Bun.sleep(50);
  expect(images.hasReady(image.sha256)).toBe(false);
  expect(link.asked).toEqual([0, PART_BYTES, PART_BYTES, 2 * PART_BYTES, 3 * PART_BYTES]);

  // Raft repeats the snapshot: the transfer goes on from the three parts on disk.
  expect(fetcher.admit(message)).toBe(false);
  await until(() => stepped.length === 1);
  expect(link.asked.slice(5)[0]).toBe(3 * PART_BYTES);
  expect(link.asked.filter((offset) => offset === 0)).toHaveLength(1);
  expect(snapshots.resumed).toBe(1);
  expect(snapshots.receivedBytes).toBe(image.bytes);
  expect(images.hasReady(image.sha256)).toBe(true);
  expect(images.hasImage(image.sha256)).toBe(true);
  expect(fetcher.admit(message)).toBe(true);
});

test("inline snapshot data (an older primary's) passes straight through", () => {
  const { fetcher } = fetcherFor(new Uint8Array(0), { asked: [], dropAt: null, tearAt: null });
  const inline: raft.InstallSnapshot = {
    type: "installSnapshot",
    from: raft.raftId("d1"),
    to: raft.raftId("d2"),
    term: 1,
    snapshot: { index: 5, term: 1, data: new Uint8Array([0x1f, 0x8b, 8]) },
  };
  expect(fetcher.admit(inline)).toBe(true);
});
