/**
 * Versions and space on real processes (README "Versions and space"): a name keeps its newest
 * `--keep-versions` versions (here 2), each readable with `r --version N`; older ones are
 * refused with a clear line, and their chunks leave every replica's disk once garbage
 * collection has asked the directory; after a delete the name's chunks leave too, so the raw
 * bytes on disk fall to what the kept versions take times the replicas.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { NodeProcess } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  expectOneLineError,
  pollUntil,
  randomBytes,
  sha256,
  useCluster,
  storedChunks,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "vera";
const KEEP_VERSIONS = 2;
const REPLICAS = 3;
/** Each version: four chunks of its own, so every version's chunks are distinct. */
const VERSION_BYTES = 4 * E2E_CHUNK_BYTES;
/** Garbage waits a grace, then a pass or two: well within this. */
const SPACE_RETURNS_DEADLINE_MS = 30_000;

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: REPLICAS }],
  chunkBytes: E2E_CHUNK_BYTES,
  env: {
    FTFS_KEEP_VERSIONS: String(KEEP_VERSIONS),
    FTFS_GC_GRACE: "1s",
    FTFS_UPLOAD_DEADLINE: "30s",
  },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function storageNodes(): NodeProcess[] {
  return fx.cluster.nodes.filter((node) => node.role === "storage");
}

/** Bytes of every chunk file under a node's chunks/ tree. */
async function chunkBytesOn(node: NodeProcess): Promise<number> {
  let total = 0;
  for (const chunk of (await storedChunks(node.dataDir)).values()) total += chunk.bytes;
  return total;
}

async function rawBytes(): Promise<number> {
  const sizes = await Promise.all(storageNodes().map((node) => chunkBytesOn(node)));
  return sizes.reduce((sum, size) => sum + size, 0);
}

test("the newest versions are kept and readable; older ones and deleted names give back their space", async () => {
  const versions = [1, 2, 3, 4].map(() => randomBytes(VERSION_BYTES));
  for (const bytes of versions) {
    expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file("doc.bin", bytes)]));
  }
  // v3 and v4 are kept and read back exact; v4 is the newest.
  for (const version of [3, 4]) {
    const read = expectOk(await fx.ws.ftfs([UID, "r", "doc.bin", "--version", String(version)]));
    expect(sha256(read.stdout)).toBe(sha256(versions[version - 1] ?? new Uint8Array()));
  }
  expect(sha256(expectOk(await fx.ws.ftfs([UID, "r", "doc.bin"])).stdout)).toBe(
    sha256(versions[3] ?? new Uint8Array()),
  );
  expectOneLineError(
    await fx.ws.ftfs([UID, "r", "doc.bin", "--version", "1"]),
    /version 1 .* no longer kept/,
  );

  const kept = KEEP_VERSIONS * VERSION_BYTES * REPLICAS;
  await pollUntil(
    "the pruned versions' chunks to leave every replica",
    async () => ((await rawBytes()) === kept ? true : undefined),
    SPACE_RETURNS_DEADLINE_MS,
  );

  expectOk(await fx.ws.ftfs(["rm", "doc.bin", "--user", UID]));
  await pollUntil(
    "the deleted name's chunks to leave every replica",
    async () => ((await rawBytes()) === 0 ? true : undefined),
    SPACE_RETURNS_DEADLINE_MS,
  );
  expectOneLineError(await fx.ws.ftfs([UID, "r", "doc.bin"]), /no file 'doc\.bin'/);
});
