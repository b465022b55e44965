/**
 * Catch-up is exact (README "Garbage collection, versions and space"): a learner that joins
 * the in-sync set holds every chunk of the live state, whatever commits during its copy. A
 * backup restarts while an upload's chunks are on the primary as pending references; it copies
 * them slowly (1 MiB/s), the upload commits in the middle of the copy, and with a GC grace of
 * one second the learner's garbage collection runs many times once it is in sync. Every chunk
 * of the committed file must still be on the learner, and the learner alone serves the file.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { RpcClient } from "@ftfs/protocol/io";
import type { NodeProcess } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  pollUntil,
  randomBytes,
  sha256,
  useCluster,
  groupView,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "cara";
const NAME = "copied.bin";
/** At 1 MiB/s the learner spends seconds on these: the commit lands in the middle. */
const UPLOAD_CHUNKS = 96;
/** GC passes the learner must log once in sync before its chunks are checked. */
const GC_PASSES_AFTER_SYNC = 8;
const PASS_DEADLINE_MS = 30_000;

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 3 }],
  chunkBytes: E2E_CHUNK_BYTES,
  env: {
    FTFS_CATCH_UP_RATE: "1MiB",
    FTFS_GC_GRACE: "1s",
    FTFS_UPLOAD_DEADLINE: "10m",
    FTFS_LOG_LEVEL: "info",
  },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function group() {
  return groupView(fx.client, "s1");
}

async function gcPasses(node: NodeProcess): Promise<number> {
  return (await node.log())
    .split("\n")
    .filter((line) => line.includes("garbage collection pass done")).length;
}

async function held(node: NodeProcess, chunkIds: readonly string[]): Promise<number> {
  const client = await RpcClient.connect(node.address);
  try {
    return (await client.call("hasChunks", { chunkIds: [...chunkIds] })).body.present.length;
  } finally {
    client.close();
  }
}

test("a commit during a learner's copy leaves every chunk of the file on the learner", async () => {
  const before = await group();
  const backup = before.replicas.find((replica) => replica.node !== before.primaryNode);
  if (backup === undefined || before.primary === null) throw new Error("group s1 has no backup");
  const learner = fx.cluster.node(backup.node);
  learner.kill("SIGKILL");
  await pollUntil("the killed backup leaves the in-sync set", async () =>
    (await group()).replicas.some((replica) => replica.node === learner.id) ? undefined : true,
  );

  // An upload whose chunks are stored, as pending references, but not committed yet.
  const chunks = Array.from({ length: UPLOAD_CHUNKS }, () => randomBytes(E2E_CHUNK_BYTES));
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  const directory = await RpcClient.connect(fx.cluster.directoryAddresses[0] ?? "");
  const placed = await directory.call("placeUpload", { uid: UID, name: NAME, bytes: whole.length });
  const owner = { uid: UID, name: NAME, uploadId: placed.body.uploadId };
  const primary = await RpcClient.connect((await group()).primary ?? "");
  for (const bytes of chunks) {
    // Until the primary's own view drops the killed backup, a put it forwards there fails.
    await pollUntil("the chunk stored by every in-sync replica", () =>
      primary.call("putChunk", { chunkId: sha256(bytes), owner }, { payload: bytes }).then(
        () => true,
        () => undefined,
      ),
    );
  }
  primary.close();
  const chunkIds = chunks.map((bytes) => sha256(bytes));

  await learner.restart();
  await pollUntil(
    "the learner has copied some chunks, not all",
    async () => {
      const count = await held(learner, chunkIds).catch(() => 0);
      return count > 0 && count < UPLOAD_CHUNKS ? true : undefined;
    },
    PASS_DEADLINE_MS,
  );
  const manifest = chunkIds.map((id) => ({ id, bytes: E2E_CHUNK_BYTES, group: "s1" }));
  const committed = await directory.call("commitUpload", {
    ...owner,
    bytes: whole.length,
    sha256: sha256(whole),
    chunks: manifest,
  });
  directory.close();
  expect(committed.body.version).toBe(1);
  // The copy was still under way when the commit was acknowledged.
  expect(await held(learner, chunkIds)).toBeLessThan(UPLOAD_CHUNKS);

  await pollUntil(
    "the learner is back in sync",
    async () =>
      (await group()).replicas.some((replica) => replica.node === learner.id) ? true : undefined,
    PASS_DEADLINE_MS,
  );
  const passesAtSync = await gcPasses(learner);
  await pollUntil(
    "the learner's garbage collection ran many times",
    async () =>
      (await gcPasses(learner)) >= passesAtSync + GC_PASSES_AFTER_SYNC ? true : undefined,
    PASS_DEADLINE_MS,
  );
  expect(await held(learner, chunkIds)).toBe(UPLOAD_CHUNKS);

  // With the two other replicas gone, the learner alone serves the file, byte for byte.
  for (const node of fx.cluster.nodes) {
    if (node.role === "storage" && node.id !== learner.id) node.kill("SIGKILL");
  }
  await pollUntil(
    "the learner is the group's primary",
    async () => ((await group()).primaryNode === learner.id ? true : undefined),
    PASS_DEADLINE_MS,
  );
  const read = expectOk(await fx.ws.ftfs([UID, "r", NAME]));
  expect(sha256(read.stdout)).toBe(sha256(whole));
});
