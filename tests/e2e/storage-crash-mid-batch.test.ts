/**
 * Nothing acknowledged is lost when storage nodes crash in the middle of a write round
 * (README: guarantee 1; issue 17, group commit). Many small chunk writes run at once against a
 * group's primary; while they are under way every storage node of the group is killed with
 * SIGKILL at the same instant, so rounds of writes and reference commits are cut off on all
 * three. Then, before any node runs again, each node's data folder is opened as a node opens it
 * at start: every chunk the primary acknowledged is in every replica's store, hashes to its id,
 * and has its owner reference; and no stored chunk is torn (every segment record and chunk file hashes to its
 * name). After the nodes restart, every chunk that was sent is either absent or served whole.
 *
 * A process crash keeps the kernel's page cache, so this checks the order of the steps (no
 * acknowledgement before the round's writes and commit, no half-written file under a chunk's
 * name), not the fsyncs themselves against a power cut.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcClient } from "@ftfs/protocol/io";
import { ChunkStore, RefsStore } from "@ftfs/storage/io";
import {
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  KIB,
  groupView,
  pollUntil,
  randomBytes,
  sha256,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "ivan";
const NAME = "crash.bin";
/** Small chunks: the writes that group commit batches. */
const CHUNK_BYTES = 16 * KIB;
/** Writes under way at once: enough that every round holds many. */
const WRITERS = 48;
/** Acknowledged writes before the kill: rounds are running by then. */
const ACKED_BEFORE_KILL = 400;
const UPLOAD_BYTES_MAX = 1024 * 1024 * 1024;
/** Before the kill, a writer refused with a retryable error tries again after this. */
const RETRY_PAUSE_MS = 20;
/** A write cut off by the kill answers within this (the connection drops). */
const CALL_TIMEOUT_MS = 5_000;
const REFS_DB_FILE = "refs.sqlite";

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 3 }],
  // No collection during the test: every chunk sent stays wanted by its pending reference.
  env: { FTFS_GC_GRACE: "1h" },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
  const status = await pollUntil("group s1 has a primary", async () => {
    const view = await groupView(fx.client, "s1");
    return view.primary === null || view.replicas.length < 3 ? undefined : view;
  });
  expect(status.replicas).toHaveLength(3);
});

interface WriteLog {
  readonly sent: Map<string, Uint8Array>;
  readonly acked: string[];
  stop: boolean;
}

async function writeUntilStopped(
  primary: RpcClient,
  owner: { uid: string; name: string; uploadId: string },
  log: WriteLog,
): Promise<void> {
  while (!log.stop) {
    const bytes = randomBytes(CHUNK_BYTES);
    const chunkId = sha256(bytes);
    log.sent.set(chunkId, bytes);
    try {
      await primary.call(
        "putChunk",
        { chunkId, owner },
        { payload: bytes, timeoutMs: CALL_TIMEOUT_MS },
      );
    } catch (error) {
      if (!(error instanceof FtfsError)) throw error;
      // Before the kill, a retryable refusal is the group settling (a backup at a newer epoch
      // than the primary's view, just after the group formed): retry, as a client does.
      if (!log.stop && error.retryable) {
        await Bun.sleep(RETRY_PAUSE_MS);
        continue;
      }
      return; // cut off by the kill: not acknowledged
    }
    log.acked.push(chunkId);
  }
}

test("every chunk acknowledged before a SIGKILL mid-round is whole on every replica", async () => {
  const view = await groupView(fx.client, "s1");
  const directory = await RpcClient.connect(fx.cluster.directoryAddresses[0] ?? "");
  const placed = await directory.call("placeUpload", {
    uid: UID,
    name: NAME,
    bytes: UPLOAD_BYTES_MAX,
  });
  directory.close();
  const owner = { uid: UID, name: NAME, uploadId: placed.body.uploadId };
  const primary = await RpcClient.connect(view.primary ?? "");
  const log: WriteLog = { sent: new Map(), acked: [], stop: false };
  const writers = Array.from({ length: WRITERS }, () => writeUntilStopped(primary, owner, log));
  await pollUntil("writes acknowledged", async () =>
    log.acked.length >= ACKED_BEFORE_KILL ? true : undefined,
  );
  const storage = fx.cluster.nodes.filter((node) => node.role === "storage");
  for (const node of storage) node.kill("SIGKILL");
  const ackedAtKill = log.acked.length;
  log.stop = true;
  await Promise.all(storage.map((node) => node.exited()));
  await Promise.all(writers);
  primary.close();
  // Writes were still being answered when the nodes died: the kill landed mid-round.
  expect(log.sent.size).toBeGreaterThan(ackedAtKill);
  const acked = [...log.acked];

  for (const node of storage) {
    const chunks = await ChunkStore.open(node.dataDir, createMemoryLogger(node.id));
    const refs = RefsStore.open(join(node.dataDir, REFS_DB_FILE));
    try {
      const torn: string[] = [];
      for (const chunkId of chunks.ids()) {
        if (!(await chunks.scrub(chunkId)).ok) torn.push(chunkId);
      }
      expect({ node: node.id, torn }).toEqual({ node: node.id, torn: [] });
      const lost = acked.filter(
        (chunkId) => !chunks.has(chunkId) || !refs.uploadReferences(owner, chunkId),
      );
      expect({ node: node.id, lost }).toEqual({ node: node.id, lost: [] });
    } finally {
      refs.close();
      await chunks.close();
    }
  }

  for (const node of storage) node.start();
  for (const node of storage) {
    const client = await pollUntil(`${node.id} serves again`, () =>
      RpcClient.connect(node.address).catch(() => undefined),
    );
    try {
      const ackedSet = new Set(acked);
      for (const [chunkId, bytes] of log.sent) {
        const read = await client.call("getChunk", { chunkId }).then(
          (answer) => answer.payload,
          (error: unknown) => {
            if (error instanceof FtfsError && error.code === "CHUNK_NOT_FOUND") return null;
            throw error;
          },
        );
        if (read === null) {
          expect({ node: node.id, chunkId, acked: ackedSet.has(chunkId) }).toEqual({
            node: node.id,
            chunkId,
            acked: false,
          });
          continue;
        }
        expect(read.length).toBe(bytes.length);
        expect(sha256(read)).toBe(chunkId);
      }
    } finally {
      client.close();
    }
  }
});
