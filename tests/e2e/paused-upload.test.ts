/**
 * An upload paused past every grace and deadline loses nothing it is told was stored (DESIGN.md:
 * "the directory is the authority over what is live"). The real `ftfs` client is SIGSTOPped
 * while its first chunks are on storage; the storage nodes' garbage collection (grace 1 s) and
 * the directory's upload deadline (10 s) both pass while it sleeps, and the nodes collect the
 * chunks it had stored. When it wakes, the directory refuses the late commit (its upload was
 * swept), the client starts the upload over, and what it is then told was uploaded reads back
 * byte for byte: never "uploaded" and then unreadable.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FTFS_MAIN, type NodeProcess } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "pia";
const GC_GRACE = "1s";
/**
 * Long enough that the whole upload fits in it on a loaded 2-core machine (the re-upload must),
 * short enough that a pause outlasts it quickly.
 */
const UPLOAD_DEADLINE = "10s";
/** Enough chunks that the client is surely still uploading when it is stopped. */
const FILE_BYTES = 16 * MIB;
/** How long to wait for the paused upload's chunks to be collected. */
const COLLECTED_DEADLINE_MS = 30_000;

const fx = useCluster({
  directories: 3,
  groups: [{ name: "s1", size: 3 }],
  chunkBytes: E2E_CHUNK_BYTES,
  env: { FTFS_GC_GRACE: GC_GRACE, FTFS_UPLOAD_DEADLINE: UPLOAD_DEADLINE, FTFS_LOG_LEVEL: "info" },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function storageNodes(): NodeProcess[] {
  return fx.cluster.nodes.filter((node) => node.role === "storage");
}

/** Chunks every storage node's garbage collection has deleted so far, summed over its passes. */
async function collectedOn(node: NodeProcess): Promise<number> {
  let collected = 0;
  for (const line of (await node.log()).split("\n")) {
    if (!line.includes('"msg":"garbage collection pass done"')) continue;
    collected += (JSON.parse(line) as { collected: number }).collected;
  }
  return collected;
}

test("a client paused mid-upload past the deadline never gets 'uploaded' for bytes it lost", async () => {
  const bytes = randomBytes(FILE_BYTES);
  const path = await fx.ws.file("big.bin", bytes);
  const child = Bun.spawn([process.execPath, FTFS_MAIN, UID, "a", path], {
    env: { ...process.env, FTFS_CONFIG_DIR: fx.ws.configDir, FTFS_CLUSTER: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  await pollUntil("chunks of big.bin on storage", async () => {
    const stored = await fx.client.listFromStorage(UID);
    return stored.some((file) => file.name === "big.bin" && file.chunks >= 4) ? true : undefined;
  });
  child.kill("SIGSTOP");
  const before = await Promise.all(storageNodes().map((node) => collectedOn(node)));
  // The paused upload's chunks are garbage collected everywhere while the client sleeps.
  await pollUntil(
    "the paused upload's chunks collected on every storage node",
    async () => {
      const now = await Promise.all(storageNodes().map((node) => collectedOn(node)));
      return now.every((count, at) => count > (before[at] ?? 0)) ? true : undefined;
    },
    COLLECTED_DEADLINE_MS,
  );
  child.kill("SIGCONT");
  const exitCode = await child.exited;
  const stdout = await new Response(child.stdout).text();
  const stderr = await new Response(child.stderr).text();
  // The directory refused the late commit; the client placed the upload again and sent it all.
  expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
  expect(stdout).toContain("uploaded big.bin");
  const read = expectOk(await fx.ws.ftfs([UID, "r", "big.bin"]));
  expect(read.stdout.length).toBe(FILE_BYTES);
  expect(sha256(read.stdout)).toBe(sha256(bytes));
});
