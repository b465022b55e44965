/**
 * Storage nodes serve chunks without hashing them again; the client verifies every chunk it
 * reads. So a chunk that rotted on one replica's disk is skipped and the read is served whole
 * by another replica (guarantee 1 of DESIGN.md), and a chunk rotted on every replica fails the
 * read with INTEGRITY instead of returning wrong bytes.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  randomBytes,
  sha256,
  useCluster,
  rotStoredChunk,
  storedChunks,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const REPLICAS = 3;

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: REPLICAS }],
  chunkBytes: E2E_CHUNK_BYTES,
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs(["rita", "c", "--cluster", fx.cluster.directoryAddresses.join(",")]));
});

/** Flip one byte of every chunk a node stores, as bit rot would. */
async function rot(dataDir: string): Promise<number> {
  const chunks = await storedChunks(dataDir);
  for (const chunk of chunks.values()) await rotStoredChunk(chunk);
  return chunks.size;
}

test("chunks rotted on two replicas are read from the third; rotted on all, the read fails", async () => {
  const bytes = randomBytes(3 * E2E_CHUNK_BYTES + 17);
  expectOk(await fx.ws.ftfs(["rita", "a", await fx.ws.file("rotting.bin", bytes)]));
  const storage = fx.cluster.nodes.filter((node) => node.role === "storage");
  const [first, second, third] = storage;
  if (first === undefined || second === undefined || third === undefined) {
    throw new Error(`expected ${REPLICAS} storage nodes`);
  }
  expect(await rot(first.dataDir)).toBe(4);
  expect(await rot(second.dataDir)).toBe(4);
  const read = expectOk(await fx.ws.ftfs(["rita", "r", "rotting.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
  await rot(third.dataDir);
  const failed = await fx.ws.ftfs(["rita", "r", "rotting.bin"]);
  expect(failed.exitCode).not.toBe(0);
  expect(failed.stderr).toMatch(/corrupt/);
  expect(sha256(failed.stdout)).not.toBe(sha256(bytes));
});
