/**
 * A full disk is an answer, not a crash (issue 13). SQLITE_FULL is injected at the store's
 * transaction boundary (a wrapper only these tests use: the batch's work runs, then the commit
 * fails and rolls back, as SQLite does when the disk refuses the WAL), into real directory
 * nodes over loopback RPC. Properties: a node whose disk fills never calls onFatal; it answers
 * changes DISK_FULL (or names the primary the others elected), keeps serving its own state,
 * probes the disk through the same store, and once a write succeeds again rejoins with every
 * acknowledged change intact. Any other disk error stays fatal.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database, SQLiteError } from "bun:sqlite";
import type { FtfsError } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcClient } from "@ftfs/protocol/io";
import { EMPTY_SHA256 } from "../core/index.ts";
import { failure, until } from "../testing/harness.ts";
import { DISK_FULL_PROBE_INTERVAL_MS, DirectoryNode } from "./directory-node.ts";
import { SqliteMetadataStore } from "./sqlite-store.ts";

const CHUNK_BYTES_TEST = 64 * 1024;
const ELECTION_WAIT_MS = 10_000;
/** Space back, a node rejoins within a probe or two (and, in a group, an append round). */
const REJOIN_WAIT_MS = 4 * DISK_FULL_PROBE_INTERVAL_MS + ELECTION_WAIT_MS;
/** Probes the test sees refused before it frees the disk: proof they go through the store. */
const PROBES_REFUSED_MIN = 2;

/**
 * A genuine SQLiteError (bun:sqlite lets nobody else construct one) from a scratch database:
 * SQLITE_FULL from its page limit, or an error of another kind.
 */
function sqliteError(kind: "full" | "other"): SQLiteError {
  const scratch = new Database(":memory:");
  try {
    scratch.run("CREATE TABLE t (x BLOB)");
    if (kind === "full") {
      scratch.run("PRAGMA max_page_count = 2");
      scratch.run("INSERT INTO t VALUES (zeroblob(65536))");
    } else {
      scratch.run("INSERT INTO no_such_table VALUES (1)");
    }
  } catch (error) {
    if (error instanceof SQLiteError) return error;
    throw error;
  } finally {
    scratch.close();
  }
  throw new Error(`the scratch database did not fail (${kind})`);
}

interface DiskFaults {
  /** Set: every transaction's commit fails with SQLITE_FULL (its work is rolled back). */
  full: boolean;
  /** Set: the next transaction fails with this error instead. */
  other: SQLiteError | null;
  /** Transactions refused so far. */
  refused: number;
}

/** The store, with its transactions failing as `faults` says. Used only by these tests. */
function withDiskFaults(store: SqliteMetadataStore): {
  store: SqliteMetadataStore;
  faults: DiskFaults;
} {
  const faults: DiskFaults = { full: false, other: null, refused: 0 };
  const transaction = <T>(work: () => T): T =>
    store.transaction(() => {
      const result = work();
      const injected = faults.other ?? (faults.full ? sqliteError("full") : null);
      faults.other = null;
      if (injected === null) return result;
      faults.refused += 1;
      throw injected;
    });
  const wrapped = new Proxy(store, {
    get(target, key) {
      if (key === "transaction") return transaction;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: wrapped, faults };
}

interface Started {
  readonly node: DirectoryNode;
  readonly faults: DiskFaults;
  readonly fatal: unknown[];
  readonly logs: string[];
}

const dataDirs: string[] = [];
const nodes: DirectoryNode[] = [];
const clients: RpcClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const node of nodes.splice(0)) await node.stop();
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function startNode(id: string, groupSize: number, seeds: readonly string[]): Started {
  const dataDir = mkdtempSync(join(tmpdir(), "ftfs-disk-full-"));
  dataDirs.push(dataDir);
  const opened = SqliteMetadataStore.open(join(dataDir, "directory.sqlite"));
  const { store, faults } = withDiskFaults(opened);
  const logger = createMemoryLogger(id);
  const fatal: unknown[] = [];
  const node = DirectoryNode.start({
    node: id,
    listen: "127.0.0.1:0",
    store,
    chunkBytes: CHUNK_BYTES_TEST,
    logger,
    expect: groupSize,
    join: seeds,
    onFatal: (error) => fatal.push(error),
  });
  nodes.push(node);
  return { node, faults, fatal, logs: logger.lines };
}

async function connectTo(address: string): Promise<RpcClient> {
  const client = await RpcClient.connect(address);
  clients.push(client);
  return client;
}

/** An empty file needs no storage group, so these tests need no storage nodes. */
async function placeEmpty(client: RpcClient, uid: string, name: string): Promise<string> {
  return (await client.call("placeUpload", { uid, name, bytes: 0 })).body.uploadId;
}

async function commitEmpty(client: RpcClient, uid: string, name: string, uploadId?: string) {
  const id = uploadId ?? (await placeEmpty(client, uid, name));
  const body = { uid, name, uploadId: id, bytes: 0, sha256: EMPTY_SHA256, chunks: [] };
  return (await client.call("commitUpload", body)).body.version;
}

async function names(client: RpcClient, uid: string, stale: boolean): Promise<string[]> {
  const files = (await client.call("listFiles", { uid, stale })).body.files;
  return files.map((file) => file.name);
}

/** A change sent to the full node, until it answers with something other than "retry". */
async function redirectFrom(client: RpcClient): Promise<FtfsError> {
  const deadline = Date.now() + ELECTION_WAIT_MS;
  for (;;) {
    const answer = await failure(client.call("connect", { uid: "erin" }));
    if (answer.code !== "UNAVAILABLE" || Date.now() > deadline) return answer;
    await Bun.sleep(20);
  }
}

describe("a directory node of a group of one whose disk fills", () => {
  test("answers DISK_FULL, stays up, serves its state, recovers with every change", async () => {
    const { node, faults, fatal, logs } = startNode("d1", 1, []);
    await until("the node of a group of one is primary", () => node.isPrimary);
    const client = await connectTo(node.address);
    await client.call("connect", { uid: "alice" });
    for (const name of ["a", "b", "c"]) await commitEmpty(client, "alice", name);

    faults.full = true;
    const uploadId = await placeEmpty(client, "alice", "d");
    // The change in flight when the disk filled: not recorded, and the caller may retry.
    const inFlight = await failure(commitEmpty(client, "alice", "d", uploadId));
    expect(inFlight.code).toBe("UNAVAILABLE");
    expect(node.isDiskFull).toBe(true);
    const refused: FtfsError = await failure(commitEmpty(client, "alice", "d", uploadId));
    expect(refused.code).toBe("DISK_FULL");
    expect(refused.message).toContain("disk is full");
    expect(refused.message).toContain("reads still work");
    expect((await failure(placeEmpty(client, "alice", "e"))).code).toBe("DISK_FULL");
    expect((await failure(client.call("connect", { uid: "bob" }))).code).toBe("DISK_FULL");

    // Reads that need no write of its own go on: alone in its group, its state is current.
    expect(await names(client, "alice", true)).toEqual(["a", "b", "c"]);
    expect(await names(client, "alice", false)).toEqual(["a", "b", "c"]);
    const manifest = await client.call("getManifest", { uid: "alice", name: "b" });
    expect(manifest.body.manifest.name).toBe("b");
    expect((await client.call("clusterStatus", {})).body.node).toBe("d1");

    // Probes go through the same store, so they are refused while the disk is full.
    const refusedBefore = faults.refused;
    await until(
      `${PROBES_REFUSED_MIN} probes refused`,
      () => faults.refused >= refusedBefore + PROBES_REFUSED_MIN,
      REJOIN_WAIT_MS,
    );
    expect(node.isDiskFull).toBe(true);

    faults.full = false;
    await until("the node leads again", () => node.isPrimary, REJOIN_WAIT_MS);
    expect(node.isDiskFull).toBe(false);
    expect(await commitEmpty(client, "alice", "d", uploadId)).toBe(1);
    expect(await names(client, "alice", false)).toEqual(["a", "b", "c", "d"]);
    expect((await client.call("connect", { uid: "bob" })).body.created).toBe(true);
    expect(fatal).toEqual([]);
    expect(logs.some((line) => line.includes("disk has room again"))).toBe(true);
  });

  test("any other disk error is still fatal", async () => {
    const { node, faults, fatal } = startNode("d1", 1, []);
    await until("the node of a group of one is primary", () => node.isPrimary);
    const client = await connectTo(node.address);
    faults.other = sqliteError("other");
    await failure(client.call("connect", { uid: "carol" }));
    await until("onFatal was called", () => fatal.length === 1);
    expect(fatal[0]).toBeInstanceOf(SQLiteError);
    expect(node.isDiskFull).toBe(false);
    expect(node.isPrimary).toBe(false);
  });
});

describe("a directory group of three whose primary's disk fills", () => {
  test("the others take over, the full node points at them, and it catches up later", async () => {
    const group: Started[] = [];
    const addresses: string[] = [];
    for (const id of ["d1", "d2", "d3"]) {
      const started = startNode(id, 3, addresses);
      group.push(started);
      addresses.push(started.node.address);
    }
    const leaders = () => group.filter((member) => member.node.isPrimary);
    await until("one primary", () => leaders().length === 1, ELECTION_WAIT_MS);
    const full = leaders()[0];
    if (full === undefined) throw new Error("no primary");
    const primaryClient = await connectTo(full.node.address);
    await primaryClient.call("connect", { uid: "dana" });
    const acknowledged = ["a", "b", "c"];
    for (const name of acknowledged) await commitEmpty(primaryClient, "dana", name);

    full.faults.full = true;
    expect((await failure(commitEmpty(primaryClient, "dana", "lost"))).code).toBe("UNAVAILABLE");
    expect(full.node.isDiskFull).toBe(true);
    const others = () => leaders().filter((member) => member !== full);
    await until("another node leads", () => others().length === 1, ELECTION_WAIT_MS);
    const successor = others()[0];
    if (successor === undefined) throw new Error("no successor");
    // Once it hears the new primary's heartbeats, the full node sends callers there.
    const redirected = await redirectFrom(primaryClient);
    expect([redirected.code, redirected.hint?.primary]).toEqual([
      "NOT_PRIMARY",
      successor.node.address,
    ]);
    const successorClient = await connectTo(successor.node.address);
    for (const name of ["d", "e"]) {
      await commitEmpty(successorClient, "dana", name);
      acknowledged.push(name);
    }
    expect(await names(primaryClient, "dana", true)).toEqual(["a", "b", "c"]);

    full.faults.full = false;
    await until("the full node rejoined", () => !full.node.isDiskFull, REJOIN_WAIT_MS);
    const deadline = Date.now() + REJOIN_WAIT_MS;
    let caughtUp: string[] = [];
    while (Date.now() < deadline && caughtUp.length < acknowledged.length) {
      caughtUp = await names(primaryClient, "dana", true);
      await Bun.sleep(20);
    }
    // Exactly the acknowledged changes: the one whose batch could not be persisted was never
    // sent to the others either, so it exists nowhere.
    expect(caughtUp).toEqual(acknowledged);
    expect(await names(successorClient, "dana", false)).toEqual(acknowledged);
    expect(group.flatMap((member) => member.fatal)).toEqual([]);
  });
});
