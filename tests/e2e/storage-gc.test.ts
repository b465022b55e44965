/**
 * Garbage collection on real processes (DESIGN.md: "the directory is the authority over what is
 * live"), with a 2 s grace: once a file is deleted, its chunks leave the disk of every replica,
 * except a chunk another live file shares; and an upload in flight keeps its chunks, even a
 * chunk whose file is old and that no committed file still names, until its deadline passes
 * (the directory's `--upload-deadline`, here 12 s): it never committed, so it was abandoned.
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
  storedChunks,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "gil";
const GRACE_MS = 2_000;
const UPLOAD_DEADLINE_MS = 12_000;
/** Wait for the abandoned upload's chunks: its deadline, then a pass or two. */
const ABANDONED_GONE_DEADLINE_MS = UPLOAD_DEADLINE_MS + 15_000;
/** How often the stand-in client of an upload in flight sends its next chunk. */
const STREAM_CHUNK_INTERVAL_MS = 250;
const PUT_TIMEOUT_MS = 5_000;

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 3 }],
  chunkBytes: E2E_CHUNK_BYTES,
  // The test reads the nodes' info lines (GC passes), whatever the caller's log level.
  env: {
    FTFS_GC_GRACE: `${GRACE_MS}ms`,
    FTFS_UPLOAD_DEADLINE: `${UPLOAD_DEADLINE_MS}ms`,
    FTFS_LOG_LEVEL: "info",
  },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function storageNodes(): NodeProcess[] {
  return fx.cluster.nodes.filter((node) => node.role === "storage");
}

/** When the chunk was written on each replica; null where it is absent. */
async function modifiedTimes(chunkId: string): Promise<Array<number | null>> {
  return Promise.all(
    storageNodes().map(
      async (node) => (await storedChunks(node.dataDir)).get(chunkId)?.atMs ?? null,
    ),
  );
}

async function onEveryReplica(chunkId: string): Promise<boolean> {
  return (await modifiedTimes(chunkId)).every((time) => time !== null);
}

async function onNoReplica(chunkId: string): Promise<boolean> {
  return (await modifiedTimes(chunkId)).every((time) => time === null);
}

/** Start of every GC pass each storage node logged (wall-clock ms). */
async function gcPassStarts(node: NodeProcess): Promise<number[]> {
  return (await node.log())
    .split("\n")
    .filter((line) => line.includes('"msg":"garbage collection pass done"'))
    .map((line) => JSON.parse(line) as { time: string; durationMs: number })
    .map((entry) => Date.parse(entry.time) - entry.durationMs);
}

/**
 * A client's upload that has sent chunks and not committed: placed by the directory (so it has
 * a deadline), it puts `first`, then a fresh chunk every STREAM_CHUNK_INTERVAL_MS until
 * stopped, all as pending references of one upload.
 */
async function uploadInFlight(primary: string, first: Uint8Array) {
  const directory = await RpcClient.connect(fx.cluster.directoryAddresses[0] ?? "");
  const name = "in-flight.bin";
  const placed = await directory.call("placeUpload", { uid: UID, name, bytes: 1 << 30 });
  directory.close();
  const client = await RpcClient.connect(primary);
  const owner = { uid: UID, name, uploadId: placed.body.uploadId };
  const sent: string[] = [];
  const put = async (bytes: Uint8Array): Promise<void> => {
    const chunkId = sha256(bytes);
    const options = { payload: bytes, timeoutMs: PUT_TIMEOUT_MS };
    await client.call("putChunk", { chunkId, owner }, options);
    sent.push(chunkId);
  };
  await put(first);
  const firstPutDoneMs = Date.now();
  let streaming = true;
  const loop = (async () => {
    while (streaming) {
      await Bun.sleep(STREAM_CHUNK_INTERVAL_MS);
      await put(randomBytes(E2E_CHUNK_BYTES));
    }
  })();
  return {
    sent,
    firstPutDoneMs,
    stop: async (): Promise<void> => {
      streaming = false;
      await loop;
      client.close();
    },
  };
}

test("deleted files' chunks go from every replica; shared and in-flight chunks stay", async () => {
  const [shared, doomed, resurrected, kept] = [0, 1, 2, 3].map(() => randomBytes(E2E_CHUNK_BYTES));
  if (!shared || !doomed || !resurrected || !kept) throw new Error("four chunks expected");
  const deleted = new Uint8Array([...shared, ...resurrected, ...doomed]);
  const live = new Uint8Array([...shared, ...kept]);
  expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file("deleted.bin", deleted)]));
  expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file("live.bin", live)]));
  const [sharedId, doomedId, resurrectedId, keptId] = [shared, doomed, resurrected, kept].map(
    (bytes) => sha256(bytes),
  );
  // Let the files age past the grace: from here only references protect them.
  await pollUntil("every chunk file is older than the grace", async () => {
    const times = await modifiedTimes(resurrectedId ?? "");
    const newestMs = Math.max(...times.map((time) => time ?? Number.POSITIVE_INFINITY));
    return Date.now() - newestMs > GRACE_MS ? true : undefined;
  });

  const group = (await fx.client.status()).groups.find((view) => view.group === "s1");
  if (group?.primary == null) throw new Error("group s1 has no primary");
  const inFlight = await uploadInFlight(group.primary, resurrected);
  expectOk(await fx.ws.ftfs(["rm", "deleted.bin", "--user", UID]));
  await pollUntil("the deleted file's own chunk is gone from every replica", async () =>
    (await onNoReplica(doomedId ?? "")) ? true : undefined,
  );
  // A pass that began once the first put was a grace old judged that chunk by its reference.
  const judgedAfterMs = inFlight.firstPutDoneMs + GRACE_MS;
  await pollUntil("a GC pass on every replica that began a grace after the first put", async () => {
    const starts = await Promise.all(storageNodes().map((node) => gcPassStarts(node)));
    const judged = starts.every((list) => list.some((startMs) => startMs > judgedAfterMs));
    return judged ? true : undefined;
  });
  expect(await onEveryReplica(resurrectedId ?? "")).toBe(true);
  expect(await onEveryReplica(sharedId ?? "")).toBe(true);
  expect(await onEveryReplica(keptId ?? "")).toBe(true);

  await inFlight.stop();
  const abandoned = [...inFlight.sent];
  await pollUntil(
    "the abandoned upload's chunks are gone from every replica",
    async () => {
      const gone = await Promise.all(abandoned.map((chunkId) => onNoReplica(chunkId)));
      return gone.every(Boolean) ? true : undefined;
    },
    ABANDONED_GONE_DEADLINE_MS,
  );
  expect(await onEveryReplica(sharedId ?? "")).toBe(true);
  expect(await onEveryReplica(keptId ?? "")).toBe(true);
  const read = expectOk(await fx.ws.ftfs([UID, "r", "live.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(live));
});
