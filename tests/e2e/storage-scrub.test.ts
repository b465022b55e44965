/**
 * The scrubber on real processes (DESIGN.md: "a background scrubber re-hashes stored chunks and
 * repairs what rot it finds"): a chunk that rots on one replica's disk is quarantined by that
 * node's scrubber and fetched again from a healthy replica, so that node holds the right bytes
 * again; the chunks of a segment file deleted from a replica's disk come back the same way.
 * Each node then holds every chunk whole, and `ftfs r` returns the exact bytes.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { NodeProcess } from "@ftfs/protocol/testing";
import type { ChunkOnDisk } from "@ftfs/storage/io";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  pollUntil,
  randomBytes,
  sha256,
  useCluster,
  readStoredChunk,
  rotStoredChunk,
  storedChunks,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "sara";
/** Short passes, so rot is found within a second rather than the default ten minutes. */
const SCRUB_PAUSE = "200ms";

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 3 }],
  chunkBytes: E2E_CHUNK_BYTES,
  // The test reads the nodes' info lines (repairs), whatever the caller's log level.
  env: { FTFS_SCRUB_PAUSE: SCRUB_PAUSE, FTFS_LOG_LEVEL: "info" },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

/** The SHA-256 of a chunk's bytes as the node's disk holds them now; null: not stored. */
async function storedHash(node: NodeProcess, chunkId: string): Promise<string | null> {
  const chunk = (await storedChunksWithRot(node.dataDir)).get(chunkId);
  return chunk === undefined ? null : sha256(await readStoredChunk(chunk));
}

/**
 * Where each chunk's bytes are, rotted or not: the disk is read as the node would at start,
 * which passes over a record whose bytes no longer hash to its id, so the locations are taken
 * before the rot and kept.
 */
const knownLocations = new Map<string, Map<string, ChunkOnDisk>>();
async function storedChunksWithRot(dataDir: string): Promise<Map<string, ChunkOnDisk>> {
  const known = knownLocations.get(dataDir) ?? new Map<string, ChunkOnDisk>();
  for (const [id, chunk] of await storedChunks(dataDir)) known.set(id, chunk);
  knownLocations.set(dataDir, known);
  return known;
}

/** The chunk ids of `bytes` cut at the cluster's chunk size, as the client cuts a file. */
function chunkIds(bytes: Uint8Array): string[] {
  const ids: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += E2E_CHUNK_BYTES) {
    ids.push(sha256(bytes.subarray(offset, offset + E2E_CHUNK_BYTES)));
  }
  return ids;
}

function storageNode(index: number): NodeProcess {
  const node = fx.cluster.nodes.filter((candidate) => candidate.role === "storage")[index];
  if (node === undefined) throw new Error(`no storage node #${index}`);
  return node;
}

/** The node's "chunk repaired" log lines for `chunkId`, once there is at least one. The chunk file
 * is back on disk a moment before the line reaches the log, so the test waits for the line too. */
async function repairLines(node: NodeProcess, chunkId: string): Promise<string[]> {
  return pollUntil(`the repair of ${chunkId.slice(0, 12)} is logged`, async () => {
    const lines = (await node.log())
      .split("\n")
      .filter((line) => line.includes('"msg":"chunk repaired"') && line.includes(chunkId));
    return lines.length > 0 ? lines : undefined;
  });
}

async function upload(name: string, length: number): Promise<{ bytes: Uint8Array; ids: string[] }> {
  const bytes = randomBytes(length);
  expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file(name, bytes)]));
  return { bytes, ids: chunkIds(bytes) };
}

test("a rotted chunk is quarantined and repaired from a peer", async () => {
  const { bytes, ids } = await upload("rotting.bin", 3 * E2E_CHUNK_BYTES + 17);
  const node = storageNode(1);
  const victim = ids[1] ?? "";
  const rotting = (await storedChunksWithRot(node.dataDir)).get(victim);
  if (rotting === undefined) throw new Error("the victim chunk is not on the node's disk");
  await rotStoredChunk(rotting, 100);
  expect(sha256(await readStoredChunk(rotting))).not.toBe(victim);

  // Repaired, it is stored afresh (a new record), and the disk holds its bytes again.
  await pollUntil("the rotted chunk is stored whole again", async () => {
    const whole = (await storedChunks(node.dataDir)).get(victim);
    return whole !== undefined && sha256(await readStoredChunk(whole)) === victim
      ? true
      : undefined;
  });
  expect(await readdir(join(node.dataDir, "quarantine"))).toHaveLength(1);
  const repairs = await repairLines(node, victim);
  expect(repairs).toHaveLength(1);
  const allRepairs = (await node.log())
    .split("\n")
    .filter((line) => line.includes("chunk repaired"));
  expect(allRepairs).toHaveLength(1); // only the rotted chunk, none of its healthy neighbours
  expect(JSON.parse(repairs[0] ?? "{}")).toMatchObject({ chunkId: victim, kind: "rot" });
  const onDisk = await storedChunks(node.dataDir);
  for (const id of ids) {
    const chunk = onDisk.get(id);
    expect(chunk === undefined ? null : sha256(await readStoredChunk(chunk))).toBe(id);
  }
  const read = expectOk(await fx.ws.ftfs([UID, "r", "rotting.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
});

test("a segment file deleted from a replica's disk: its chunks are fetched again", async () => {
  const { bytes, ids } = await upload("vanishing.bin", 2 * E2E_CHUNK_BYTES);
  const node = storageNode(2);
  const victim = ids[0] ?? "";
  const held = (await storedChunks(node.dataDir)).get(victim);
  if (held === undefined) throw new Error("the victim chunk is not on the node's disk");
  await rm(held.path);
  await pollUntil("every chunk of the deleted segment is back on the disk", async () => {
    const onDisk = await storedChunks(node.dataDir);
    return ids.every((id) => onDisk.has(id)) ? true : undefined;
  });
  expect(await storedHash(node, victim)).toBe(victim);
  expect((await repairLines(node, victim)).length).toBeGreaterThanOrEqual(1);
  const read = expectOk(await fx.ws.ftfs([UID, "r", "vanishing.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
});
