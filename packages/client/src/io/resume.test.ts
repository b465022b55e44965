/**
 * Property: an interrupted upload of a local file, run again, continues the same upload (same
 * upload id, no new placement) and sends only the chunks its groups do not confirm holding for
 * it: what the journal claims is asked, never trusted (a chunk a replica lost is sent again);
 * a file that changed, or an upload past its deadline, starts afresh; the result says how much
 * was resumed and reads back exactly.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { sha256Hex } from "@ftfs/protocol/io";
import { FakeCluster } from "../testing/fake-cluster.ts";
import { FtfsClient } from "./client.ts";
import type { TransferProgress } from "./upload.ts";

const CHUNK_BYTES = 4096;
const CHUNKS = 12;
const STOP_AFTER_CHUNKS = 5;
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(): Promise<{
  cluster: FakeCluster;
  client: FtfsClient;
  folder: string;
  journalDir: string;
}> {
  const cluster = FakeCluster.start({ chunkBytes: CHUNK_BYTES });
  // One chunk in flight, so "stopped after N chunks" is exact.
  const client = new FtfsClient({
    directories: cluster.directoryAddresses,
    retryDeadlineMs: 2_000,
    chunksInFlight: 1,
  });
  const folder = await mkdtemp(join(tmpdir(), "ftfs-resume-test-"));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  cleanups.push(() => cluster.stop());
  cleanups.push(() => client.close());
  await client.connect("alice");
  return { cluster, client, folder, journalDir: join(folder, "journal") };
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  return bytes;
}

function puts(cluster: FakeCluster): number {
  return cluster.storage.reduce((sum, node) => sum + (node.faults.calls.get("putChunk") ?? 0), 0);
}

/** Upload until STOP_AFTER_CHUNKS chunks are stored, then make every later put fail for good. */
async function interruptedUpload(
  cluster: FakeCluster,
  client: FtfsClient,
  path: string,
  journalDir: string,
): Promise<FtfsError> {
  const progress = (now: TransferProgress): void => {
    if (now.doneBytes < STOP_AFTER_CHUNKS * CHUNK_BYTES) return;
    for (const node of cluster.storage) node.faults.failNext("putChunk", "FORBIDDEN", 1_000);
  };
  const failed = await client.upload("alice", path, { progress, journalDir }).then(
    () => null,
    (error: unknown) => error,
  );
  if (!(failed instanceof FtfsError)) throw new Error("the first run was meant to fail");
  for (const node of cluster.storage) node.faults.failNext("putChunk", "FORBIDDEN", 0);
  return failed;
}

test("a re-run continues the same upload and sends only what is not stored", async () => {
  const { cluster, client, folder, journalDir } = await setUp();
  const bytes = randomBytes(CHUNKS * CHUNK_BYTES - 100);
  const path = join(folder, "big.bin");
  await writeFile(path, bytes);
  expect((await interruptedUpload(cluster, client, path, journalDir)).code).toBe("FORBIDDEN");
  const pending = await client.pendingUpload("alice", path, { journalDir });
  expect(pending?.chunks.size).toBe(STOP_AFTER_CHUNKS);

  const putsBefore = puts(cluster);
  const seen: TransferProgress[] = [];
  const result = await client.upload("alice", path, {
    journalDir,
    progress: (now) => void seen.push(now),
  });
  expect(puts(cluster) - putsBefore).toBe(CHUNKS - STOP_AFTER_CHUNKS);
  expect(cluster.directoryFaults[0]?.calls.get("placeUpload")).toBe(1);
  expect(cluster.commits.get(pending?.start.uploadId ?? "")).toBe(1);
  expect(result.resumedBytes).toBe(STOP_AFTER_CHUNKS * CHUNK_BYTES);
  // The bar starts at the resumed offset and knows those bytes are not this run's.
  expect(seen[0]).toMatchObject({
    doneBytes: result.resumedBytes,
    resumedBytes: result.resumedBytes,
  });
  expect(sha256Hex(await client.readBytes("alice", "big.bin"))).toBe(sha256Hex(bytes));
  expect(await client.pendingUpload("alice", path, { journalDir })).toBeNull();
});

test("chunks the journal claims but a replica lost are asked about, and sent again", async () => {
  const { cluster, client, folder, journalDir } = await setUp();
  const bytes = randomBytes(CHUNKS * CHUNK_BYTES);
  const path = join(folder, "big.bin");
  await writeFile(path, bytes);
  await interruptedUpload(cluster, client, path, journalDir);
  const pending = await client.pendingUpload("alice", path, { journalDir });
  const lost = pending?.chunks.get(0);
  if (lost === undefined) throw new Error("chunk 0 was stored in the first run");
  // One replica of chunk 0's group lost it: the group no longer holds it whole.
  const replica = cluster.nodesOf(lost.group)[1];
  replica?.chunks.delete(lost.id);

  const putsBefore = puts(cluster);
  const result = await client.upload("alice", path, { journalDir });
  expect(puts(cluster) - putsBefore).toBe(CHUNKS - STOP_AFTER_CHUNKS + 1);
  expect(result.resumedBytes).toBe((STOP_AFTER_CHUNKS - 1) * CHUNK_BYTES);
  expect(replica?.chunks.has(lost.id)).toBe(true);
  expect(sha256Hex(await client.readBytes("alice", "big.bin"))).toBe(sha256Hex(bytes));
});

test("a changed file, or an upload near its deadline, starts a new upload", async () => {
  const { cluster, client, folder, journalDir } = await setUp();
  const path = join(folder, "big.bin");
  await writeFile(path, randomBytes(CHUNKS * CHUNK_BYTES));
  await interruptedUpload(cluster, client, path, journalDir);
  await utimes(path, new Date(), new Date(Date.now() + 5_000)); // touched: another file now
  const touched = await client.upload("alice", path, { journalDir });
  expect(touched.resumedBytes).toBe(0);
  expect(cluster.directoryFaults[0]?.calls.get("placeUpload")).toBe(2);

  cluster.uploadDeadlineAheadMs = 30_000; // under the resume margin
  await interruptedUpload(cluster, client, path, journalDir);
  const late = await client.upload("alice", path, { journalDir });
  expect(late.resumedBytes).toBe(0);
  expect(cluster.directoryFaults[0]?.calls.get("placeUpload")).toBe(4);
});
