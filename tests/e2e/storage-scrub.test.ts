/**
 * The scrubber on real processes (DESIGN.md: "a background scrubber re-hashes stored chunks and
 * repairs what rot it finds"): a chunk file that rots on one replica's disk is quarantined by
 * that node's scrubber and fetched again from a healthy replica, so the file on that node holds
 * the right bytes again; a chunk file deleted from a replica's disk comes back the same way.
 * Each node then holds every chunk whole, and `ftfs r` returns the exact bytes.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { NodeProcess } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  pollUntil,
  randomBytes,
  sha256,
  useCluster,
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

function chunkFile(node: NodeProcess, chunkId: string): string {
  return join(node.dataDir, "chunks", chunkId.slice(0, 2), chunkId.slice(2, 4), chunkId);
}

/** The chunk ids of `bytes` cut at the cluster's chunk size, as the client cuts a file. */
function chunkIds(bytes: Uint8Array): string[] {
  const ids: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += E2E_CHUNK_BYTES) {
    ids.push(sha256(bytes.subarray(offset, offset + E2E_CHUNK_BYTES)));
  }
  return ids;
}

async function fileHash(path: string): Promise<string | null> {
  return readFile(path).then(
    (bytes) => sha256(bytes),
    () => null,
  );
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

test("a rotted chunk file is quarantined and repaired from a peer", async () => {
  const { bytes, ids } = await upload("rotting.bin", 3 * E2E_CHUNK_BYTES + 17);
  const node = storageNode(1);
  const victim = ids[1] ?? "";
  const path = chunkFile(node, victim);
  const rotten = await readFile(path);
  rotten[100] = (rotten[100] ?? 0) ^ 0xff;
  await writeFile(path, rotten);
  expect(await fileHash(path)).not.toBe(victim);

  await pollUntil("the rotted chunk file holds its bytes again", async () =>
    (await fileHash(path)) === victim ? true : undefined,
  );
  expect(await readdir(join(node.dataDir, "quarantine"))).toHaveLength(1);
  const repairs = await repairLines(node, victim);
  expect(repairs).toHaveLength(1);
  const allRepairs = (await node.log())
    .split("\n")
    .filter((line) => line.includes("chunk repaired"));
  expect(allRepairs).toHaveLength(1); // only the rotted chunk, none of its healthy neighbours
  expect(JSON.parse(repairs[0] ?? "{}")).toMatchObject({ chunkId: victim, kind: "rot" });
  for (const id of ids) expect(await fileHash(chunkFile(node, id))).toBe(id);
  const read = expectOk(await fx.ws.ftfs([UID, "r", "rotting.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
});

test("a chunk file deleted from a replica's disk is fetched again", async () => {
  const { bytes, ids } = await upload("vanishing.bin", 2 * E2E_CHUNK_BYTES);
  const node = storageNode(2);
  const victim = ids[0] ?? "";
  await rm(chunkFile(node, victim));
  await pollUntil("the deleted chunk file is back", async () =>
    (await fileHash(chunkFile(node, victim))) === victim ? true : undefined,
  );
  expect(await repairLines(node, victim)).toHaveLength(1);
  const read = expectOk(await fx.ws.ftfs([UID, "r", "vanishing.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
});
