/**
 * A storage node's segment files on a disk that fills (a tmpfs, as CI runs as root): small
 * chunks are stored until the disk refuses, then a put answers DISK_FULL (the store keeps
 * serving); every chunk acknowledged before is read back, also after a restart on the full
 * disk; and once garbage collection removed chunks, compaction gives their space back and puts
 * are stored again.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger, sha256Hex } from "@ftfs/protocol/io";
import { ChunkStore } from "@ftfs/storage/io";
import { guardSmallDiskSuite, mountSmallDisk, unmountAll } from "./small-disk.ts";

const DISK_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
/** More puts than the disk can hold: the loop ends at the first DISK_FULL. */
const PUTS_MAX = 200;

function chunkBytes(index: number): Uint8Array {
  const bytes = new Uint8Array(CHUNK_BYTES);
  new DataView(bytes.buffer).setUint32(0, index);
  bytes.fill(index & 0xff, 4);
  return bytes;
}

async function put(store: ChunkStore, index: number) {
  const bytes = chunkBytes(index);
  const verified = store.verify(sha256Hex(bytes), bytes);
  if (!verified.ok) throw verified.error;
  return { id: verified.value.id, answer: await store.put(verified.value) };
}

const root = mkdtempSync(join(tmpdir(), "ftfs-segments-full-"));
afterAll(() => {
  unmountAll();
  rmSync(root, { recursive: true, force: true });
});

describe("segments on a disk that fills", () => {
  if (!guardSmallDiskSuite()) return;

  test("DISK_FULL at the end; everything acknowledged reads back; space comes back after compaction", async () => {
    const dataDir = join(root, "data");
    mountSmallDisk(dataDir, DISK_BYTES);
    const store = await ChunkStore.open(dataDir, createMemoryLogger());
    const acknowledged: Array<{ id: string; index: number }> = [];
    let refused = "";
    for (let index = 0; index < PUTS_MAX && refused === ""; index += 1) {
      const { id, answer } = await put(store, index);
      if (answer.ok) acknowledged.push({ id, index });
      else refused = answer.error.code;
    }
    expect(refused).toBe("DISK_FULL");
    expect(acknowledged.length).toBeGreaterThan(20);
    for (const { id, index } of acknowledged) {
      const read = await store.get(id);
      expect(read.ok && Buffer.from(read.value).equals(Buffer.from(chunkBytes(index)))).toBe(true);
    }
    await store.close();

    // A restart on the full disk still opens and serves every acknowledged chunk.
    const reopened = await ChunkStore.open(dataDir, createMemoryLogger());
    expect(reopened.chunkCount).toBe(acknowledged.length);
    const stillFull = await put(reopened, PUTS_MAX + 1);
    expect(!stillFull.answer.ok && stillFull.answer.error.code).toBe("DISK_FULL");

    // Garbage collection removes most chunks; compaction gives their bytes back to the disk.
    const kept = acknowledged.filter((_, position) => position % 4 === 0);
    for (const [position, { id }] of acknowledged.entries()) {
      if (position % 4 !== 0) await reopened.remove(id);
    }
    let compacted = 0;
    while ((await reopened.compactSegments()) !== null) compacted += 1;
    expect(compacted).toBeGreaterThan(0);
    const after = await put(reopened, PUTS_MAX + 2);
    expect(after.answer.ok).toBe(true);
    for (const { id, index } of kept) {
      const read = await reopened.get(id);
      expect(read.ok && Buffer.from(read.value).equals(Buffer.from(chunkBytes(index)))).toBe(true);
    }
    await reopened.close();
  });
});
