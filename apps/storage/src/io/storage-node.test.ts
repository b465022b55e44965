/**
 * Property: a group of three real storage nodes on loopback, configured by a fake directory,
 * acknowledges a write only once every replica has it on disk; only the primary takes client
 * writes; stale epochs are refused; a replica that cannot store makes the write UNAVAILABLE;
 * owner references replicate and listOwned reports them; one upload's references can be
 * dropped alone; a restart recovers everything.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fail, FtfsError, ok, type GroupView } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcClient, RpcPool, RpcServer } from "@ftfs/protocol/io";
import { PRIMARY_LEASE_MS } from "../core/index.ts";
import { sha256Hex } from "@ftfs/protocol/io";
import { chunksOnDisk } from "./chunk-store.ts";
import { StorageNode } from "./storage-node.ts";

const EPOCH = 5;
/** Loopback answers take milliseconds; a lost answer shows within this, not the 5 s test limit. */
const ANSWER_TIMEOUT_MS = 1_000;
const NODE_IDS = ["s1a", "s1b", "s1c"] as const;

/** The directory's part, faked: one fixed view, once the test has set it. */
class FakeDirectory {
  view: GroupView | null = null;
  registrations = 0;
  readonly server: RpcServer;

  constructor(answer?: () => ReturnType<typeof fail>) {
    this.server = RpcServer.start({
      listen: "127.0.0.1:0",
      logger: createMemoryLogger("fake-directory"),
      handlers: {
        registerStorage: async () => {
          this.registrations += 1;
          if (answer !== undefined) return answer();
          if (this.view === null) return fail("UNAVAILABLE", "no view yet");
          return ok({ body: { group: this.view, directoryNode: "d1" } });
        },
      },
    });
  }

  get address(): string {
    return `127.0.0.1:${this.server.port}`;
  }
}

let root = "";
let directory: FakeDirectory;
const nodes = new Map<string, StorageNode>();
const pool = new RpcPool();

async function startNode(id: string, join: readonly string[]): Promise<StorageNode> {
  const node = await StorageNode.start({
    node: id,
    group: "s1",
    listen: "127.0.0.1:0",
    dataDir: `${root}/${id}`,
    join,
    logger: createMemoryLogger(id),
  });
  nodes.set(id, node);
  return node;
}

function nodeOf(id: string): StorageNode {
  const node = nodes.get(id);
  if (node === undefined) throw new Error(`no node ${id}`);
  return node;
}

async function refused(call: Promise<unknown>): Promise<FtfsError> {
  const outcome = await call.then(
    () => null,
    (error: unknown) => error,
  );
  if (!(outcome instanceof FtfsError)) {
    throw new Error(`expected an FtfsError, got ${String(outcome)}`);
  }
  return outcome;
}

const owner = { uid: "alice", name: "a.txt", uploadId: "up-1" };
const bytes = new TextEncoder().encode("replicated chunk bytes");
const chunkId = sha256Hex(bytes);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "ftfs-storage-node-"));
  directory = new FakeDirectory();
  for (const id of NODE_IDS) await startNode(id, [directory.address]);
  directory.view = {
    group: "s1",
    epoch: EPOCH,
    primary: nodeOf("s1a").address,
    primaryNode: "s1a",
    replicas: NODE_IDS.map((id) => ({ node: id, address: nodeOf(id).address })),
  };
  for (const id of NODE_IDS) expect((await nodeOf(id).refreshView())?.epoch).toBe(EPOCH);
});

afterAll(async () => {
  pool.close();
  await Promise.all([...nodes.values()].map((node) => node.stop()));
  directory.server.stop();
  await rm(root, { recursive: true, force: true });
});

describe("a replicated storage group", () => {
  test("a put to the primary is on every replica's disk when acknowledged", async () => {
    const answer = await pool.call(
      nodeOf("s1a").address,
      "putChunk",
      { chunkId, owner },
      { payload: bytes, epoch: EPOCH },
    );
    expect(answer.body).toEqual({ chunkId, bytes: bytes.length, replicas: 3 });
    for (const id of NODE_IDS) {
      expect((await chunksOnDisk(join(root, id), createMemoryLogger())).has(chunkId)).toBe(true);
      const read = await pool.call(nodeOf(id).address, "getChunk", { chunkId });
      expect(sha256Hex(read.payload)).toBe(chunkId);
      const has = await pool.call(nodeOf(id).address, "hasChunks", {
        chunkIds: [chunkId, "0".repeat(64)],
      });
      expect(has.body.present).toEqual([chunkId]);
    }
  });

  test("two connections to one node each get their own answers", async () => {
    const other = "0".repeat(64);
    const [first, second] = await Promise.all([
      RpcClient.connect(nodeOf("s1b").address),
      RpcClient.connect(nodeOf("s1b").address),
    ]);
    const answers = await Promise.all([
      first.call("hasChunks", { chunkIds: [chunkId] }, { timeoutMs: ANSWER_TIMEOUT_MS }),
      second.call("hasChunks", { chunkIds: [other] }, { timeoutMs: ANSWER_TIMEOUT_MS }),
    ]).finally(() => {
      first.close();
      second.close();
    });
    expect(answers.map((answer) => answer.body.present)).toEqual([[chunkId], []]);
  });

  test("a put to a backup is NOT_PRIMARY with a hint naming the primary", async () => {
    const error = await refused(
      pool.call(
        nodeOf("s1b").address,
        "putChunk",
        { chunkId, owner },
        { payload: bytes, epoch: EPOCH },
      ),
    );
    expect(error.code).toBe("NOT_PRIMARY");
    expect(error.hint).toEqual({ primary: nodeOf("s1a").address, epoch: EPOCH });
  });

  test("a put stamped with an older epoch is STALE_EPOCH", async () => {
    const error = await refused(
      pool.call(
        nodeOf("s1a").address,
        "putChunk",
        { chunkId, owner },
        { payload: bytes, epoch: EPOCH - 1 },
      ),
    );
    expect(error.code).toBe("STALE_EPOCH");
    expect(error.hint).toEqual({ primary: nodeOf("s1a").address, epoch: EPOCH });
  });

  test("bytes that do not match the id are refused, and stored nowhere", async () => {
    const lie = sha256Hex(new TextEncoder().encode("something else"));
    const error = await refused(
      pool.call(
        nodeOf("s1a").address,
        "putChunk",
        { chunkId: lie, owner },
        { payload: bytes, epoch: EPOCH },
      ),
    );
    expect(error.code).toBe("CHUNK_MISMATCH");
    for (const id of NODE_IDS) expect(nodeOf(id).chunks.has(lie)).toBe(false);
  });

  test("commitRefs on the primary reaches every replica; listOwned shows the version", async () => {
    await pool.call(
      nodeOf("s1a").address,
      "commitRefs",
      { ...owner, version: 1 },
      { epoch: EPOCH },
    );
    for (const id of NODE_IDS) {
      const listed = await pool.call(nodeOf(id).address, "listOwned", { uid: "alice" });
      expect(listed.body).toEqual({
        node: id,
        files: [
          {
            name: "a.txt",
            version: 1,
            uploadId: "up-1",
            bytes: bytes.length,
            chunks: 1,
            group: "s1",
          },
        ],
      });
    }
  });

  test("commitRefs naming its chunks commits only those, on every replica", async () => {
    const primary = nodeOf("s1a").address;
    const upload = { uid: "carol", name: "c.bin", uploadId: "up-c" };
    // Sizes tell the two apart in the rows: 25 bytes kept here, 26 re-routed to another group.
    const [kept = "", rerouted = ""] = ["kept here by the manifest", "re-routed to another group"];
    for (const text of [kept, rerouted]) {
      const payload = new TextEncoder().encode(text);
      await pool.call(
        primary,
        "putChunk",
        { chunkId: sha256Hex(payload), owner: upload },
        {
          payload,
          epoch: EPOCH,
        },
      );
    }
    const keptId = sha256Hex(new TextEncoder().encode(kept));
    await pool.call(
      primary,
      "commitRefs",
      { ...upload, version: 1, chunkIds: [keptId] },
      {
        epoch: EPOCH,
      },
    );
    for (const id of NODE_IDS) {
      const rows: Array<[number, number | null]> = [];
      nodeOf(id).refs.forEachOwnedBy("carol", (row) => rows.push([row.chunkBytes, row.version]));
      // The re-routed chunk's reference stays pending, to expire after the grace.
      expect(rows.sort((a, b) => a[0] - b[0])).toEqual([
        [kept.length, 1],
        [rerouted.length, null],
      ]);
    }
  });

  test("hostile names are refused", async () => {
    const error = await refused(
      pool.call(
        nodeOf("s1a").address,
        "putChunk",
        { chunkId, owner: { ...owner, name: "../x" } },
        { payload: bytes },
      ),
    );
    expect(error.code).toBe("INVALID_NAME");
  });

  test("a restart with the same data recovers chunks and references", async () => {
    await nodeOf("s1b").stop();
    const again = await startNode("s1b", [directory.address]);
    expect(again.chunks.has(chunkId)).toBe(true);
    const listed = await pool.call(again.address, "listOwned", { uid: "alice" });
    expect(listed.body.files.map((file) => file.version)).toEqual([1]);
    const read = await pool.call(again.address, "getChunk", { chunkId });
    expect(sha256Hex(read.payload)).toBe(chunkId);
    // Back in the view at its new address, for the tests after this one.
    const view = directory.view;
    if (view === null) throw new Error("no view");
    directory.view = {
      ...view,
      replicas: view.replicas.map((replica) =>
        replica.node === "s1b" ? { node: "s1b", address: again.address } : replica,
      ),
    };
    for (const id of NODE_IDS) await nodeOf(id).refreshView();
  });

  test("dropUploadRefs drops one upload's references everywhere, holding its chunks", async () => {
    const newer = new TextEncoder().encode("the second version's chunk");
    const newerId = sha256Hex(newer);
    const newerOwner = { ...owner, uploadId: "up-2" };
    const primary = nodeOf("s1a").address;
    await pool.call(
      primary,
      "putChunk",
      { chunkId: newerId, owner: newerOwner },
      {
        payload: newer,
        epoch: EPOCH,
      },
    );
    await pool.call(primary, "commitRefs", { ...newerOwner, version: 2 }, { epoch: EPOCH });
    const backupError = await refused(
      pool.call(nodeOf("s1b").address, "dropUploadRefs", owner, { epoch: EPOCH }),
    );
    expect(backupError.code).toBe("NOT_PRIMARY");
    const heldSinceMs = Date.now();
    await pool.call(primary, "dropUploadRefs", owner, { epoch: EPOCH });
    for (const id of NODE_IDS) {
      const listed = await pool.call(nodeOf(id).address, "listOwned", { uid: "alice" });
      expect(listed.body.files.map((file) => [file.uploadId, file.version])).toEqual([["up-2", 2]]);
      const node = nodeOf(id);
      expect(node.refs.referencesTo(chunkId)).toBe(0);
      // Still on disk, and counted as just put: GC keeps it a grace for old-manifest readers.
      expect(node.chunks.has(chunkId)).toBe(true);
      expect(node.chunks.lastPutAtMs(chunkId) ?? 0).toBeGreaterThanOrEqual(heldSinceMs - 1);
    }
    // A repeat (the outbox resends after a failover) changes nothing and is not an error.
    await pool.call(primary, "dropUploadRefs", owner, { epoch: EPOCH });
  });

  test("a stopped backup makes writes UNAVAILABLE (retryable), not acknowledged", async () => {
    await nodeOf("s1c").stop();
    const fresh = new TextEncoder().encode("written while a backup is down");
    const freshId = sha256Hex(fresh);
    const error = await refused(
      pool.call(
        nodeOf("s1a").address,
        "putChunk",
        { chunkId: freshId, owner },
        { payload: fresh, epoch: EPOCH },
      ),
    );
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.retryable).toBe(true);
    const drop = await refused(
      pool.call(
        nodeOf("s1a").address,
        "dropRefs",
        { uid: "alice", name: "a.txt" },
        { epoch: EPOCH },
      ),
    );
    expect(drop.code).toBe("UNAVAILABLE");
  });
});

describe("heartbeat", () => {
  test("follows a NOT_PRIMARY hint from a directory that is not primary", async () => {
    const leader = new FakeDirectory();
    const follower = new FakeDirectory(() =>
      fail("NOT_PRIMARY", "not the leader", { primary: leader.address }),
    );
    const node = await startNode("s2a", [follower.address]);
    leader.view = {
      group: "s1",
      epoch: 1,
      primary: node.address,
      primaryNode: "s2a",
      replicas: [{ node: "s2a", address: node.address }],
    };
    const view = await node.refreshView();
    expect(view?.epoch).toBe(1);
    expect(follower.registrations).toBeGreaterThan(0);
    // Alone in its group, the primary acknowledges with one copy.
    const answer = await pool.call(
      node.address,
      "putChunk",
      { chunkId, owner },
      { payload: bytes, epoch: 1 },
    );
    expect(answer.body.replicas).toBe(1);
    await node.stop();
    leader.server.stop();
    follower.server.stop();
  });

  test("a primary whose directory went silent stops taking writes at lease end", async () => {
    let clockMs = 0;
    const quiet = new FakeDirectory();
    const node = await StorageNode.start({
      node: "s4a",
      group: "s1",
      listen: "127.0.0.1:0",
      dataDir: `${root}/s4a`,
      join: [quiet.address],
      logger: createMemoryLogger("s4a"),
      monotonicMs: () => clockMs,
    });
    nodes.set("s4a", node);
    const replicas = [{ node: "s4a", address: node.address }];
    quiet.view = { group: "s1", epoch: 1, primary: node.address, primaryNode: "s4a", replicas };
    await node.refreshView();
    quiet.view = null; // from now on the directory answers UNAVAILABLE
    const put = () => pool.call(node.address, "putChunk", { chunkId, owner }, { payload: bytes });
    expect((await put()).body.replicas).toBe(1);
    clockMs = PRIMARY_LEASE_MS;
    expect((await refused(put())).code).toBe("UNAVAILABLE");
    await node.stop();
    quiet.server.stop();
  });

  test("until the node has a view it refuses writes UNAVAILABLE", async () => {
    const silent = new FakeDirectory();
    const node = await startNode("s3a", [silent.address]);
    const error = await refused(
      pool.call(node.address, "putChunk", { chunkId, owner }, { payload: bytes }),
    );
    expect(error.code).toBe("UNAVAILABLE");
    await node.stop();
    silent.server.stop();
  });
});
