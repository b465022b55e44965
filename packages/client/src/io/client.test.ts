/**
 * The client library against an in-process fake cluster: uploads and reads round-trip exact
 * bytes through several groups; memory stays bounded by the chunk window; the directory
 * primary is found by hints; retryable failures become pauses, not errors; a corrupt or
 * missing replica is skipped; bad names fail before any network I/O; a file changed during
 * upload is never committed; a lost commit answer does not make two versions.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { FakeCluster } from "../testing/fake-cluster.ts";
import { FtfsClient, type FtfsClientOptions } from "./client.ts";
import { sha256Hex } from "@ftfs/protocol/io";

const CHUNK_BYTES = 4096;
const clusters: FakeCluster[] = [];
const clients: FtfsClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const cluster of clusters.splice(0)) cluster.stop();
});

function setUp(
  options: Partial<FtfsClientOptions> = {},
  directories = 1,
): { cluster: FakeCluster; client: FtfsClient } {
  const cluster = FakeCluster.start({ chunkBytes: CHUNK_BYTES, directories });
  clusters.push(cluster);
  const client = new FtfsClient({
    directories: cluster.directoryAddresses,
    retryDeadlineMs: 3_000,
    ...options,
  });
  clients.push(client);
  return { cluster, client };
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  return bytes;
}

async function caught(promise: Promise<unknown>): Promise<FtfsError> {
  const error = await promise.then(
    () => null,
    (failure: unknown) => failure,
  );
  if (!(error instanceof FtfsError)) throw new Error(`expected an FtfsError, got ${String(error)}`);
  return error;
}

describe("round trips", () => {
  test("a multi-chunk file uploads, spreads over groups, and reads back exactly", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    const bytes = randomBytes(CHUNK_BYTES * 20 + 123);
    const uploaded = await client.uploadBytes("alice", "big.bin", bytes);
    expect(uploaded).toMatchObject({
      name: "big.bin",
      version: 1,
      bytes: bytes.length,
      sha256: sha256Hex(bytes),
    });
    const groups = new Set(
      cluster.versions.get("alice/big.bin")?.[0]?.chunks.map((chunk) => chunk.group),
    );
    expect([...groups].sort()).toEqual(["s1", "s2"]);
    expect(sha256Hex(await client.readBytes("alice", "big.bin"))).toBe(sha256Hex(bytes));
  });

  test("a stream of unknown length uploads exactly: short, on a chunk boundary, empty", async () => {
    const { client } = setUp({ chunksInFlight: 2 });
    await client.connect("alice");
    for (const length of [CHUNK_BYTES * 3 + 17, CHUNK_BYTES * 4, 0]) {
      const bytes = randomBytes(length);
      // Pieces of odd sizes, as a pipe delivers them.
      const stream = (async function* () {
        for (let offset = 0; offset < bytes.length; offset += 1000) {
          yield bytes.subarray(offset, offset + 1000);
        }
      })();
      const seen: Array<number | null> = [];
      const result = await client.uploadStream("alice", `s${length}`, stream, (now) =>
        seen.push(now.totalBytes),
      );
      expect(result.bytes).toBe(length);
      expect(result.sha256).toBe(sha256Hex(bytes));
      expect(sha256Hex(await client.readBytes("alice", `s${length}`))).toBe(sha256Hex(bytes));
      // Unknown until the end, then known: a progress bar can finish.
      expect(seen[0]).toBeNull();
      expect(seen.at(-1)).toBe(length);
    }
  });

  test("a zero-byte file has no chunks and the empty hash", async () => {
    const { client } = setUp();
    await client.connect("alice");
    const uploaded = await client.uploadBytes("alice", "empty", new Uint8Array(0));
    expect(uploaded.sha256).toBe(sha256Hex(new Uint8Array(0)));
    expect((await client.readBytes("alice", "empty")).length).toBe(0);
  });

  test("re-uploading a name makes v2; reads get the newest unless a version is asked", async () => {
    const { client } = setUp();
    await client.connect("alice");
    await client.uploadBytes("alice", "n", new TextEncoder().encode("one"));
    expect((await client.uploadBytes("alice", "n", new TextEncoder().encode("two"))).version).toBe(
      2,
    );
    expect(new TextDecoder().decode(await client.readBytes("alice", "n"))).toBe("two");
    expect(new TextDecoder().decode(await client.readBytes("alice", "n", 1))).toBe("one");
    expect((await client.list("alice")).map((file) => [file.name, file.version])).toEqual([
      ["n", 2],
    ]);
  });

  test("a local file uploads under its base name; listFromStorage agrees", async () => {
    const { client } = setUp();
    const folder = await mkdtemp(join(tmpdir(), "ftfs-client-test-"));
    try {
      const bytes = randomBytes(CHUNK_BYTES * 3);
      await writeFile(join(folder, "local.bin"), bytes);
      await client.connect("alice");
      const uploaded = await client.upload("alice", join(folder, "local.bin"));
      expect(uploaded.name).toBe("local.bin");
      const stored = await client.listFromStorage("alice");
      expect(stored.map((file) => [file.name, file.version, file.bytes, file.chunks])).toEqual([
        ["local.bin", 1, bytes.length, 3],
      ]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe("bounded memory", () => {
  test("no more than chunksInFlight puts are outstanding at once", async () => {
    const { cluster, client } = setUp({ chunksInFlight: 3 });
    for (const node of cluster.storage) node.faults.delayMs = 5;
    await client.connect("alice");
    await client.uploadBytes("alice", "f", randomBytes(CHUNK_BYTES * 24));
    // The window is filled (so the test measures something) and never exceeded.
    expect(cluster.storageInFlightMax).toBe(3);
  });

  test("a slow sink holds the read: fetches never run more than the window ahead", async () => {
    const { cluster, client } = setUp({ chunksInFlight: 2 });
    await client.connect("alice");
    await client.uploadBytes("alice", "f", randomBytes(CHUNK_BYTES * 10));
    const fetched = (): number =>
      cluster.storage.reduce((sum, node) => sum + (node.faults.calls.get("getChunk") ?? 0), 0);
    let written = 0;
    await client.read("alice", "f", async () => {
      written += 1;
      expect(fetched() - written).toBeLessThanOrEqual(2);
      await Bun.sleep(2);
    });
    expect(written).toBe(10);
  });

  test("a sink that keeps nothing gets chunks in reused buffers, each one exact", async () => {
    // Chunks this large arrive in pooled buffers (POOLED_FRAME_BYTES_MIN).
    const chunkBytes = 1024 * 1024;
    const chunks = 8;
    const cluster = FakeCluster.start({ chunkBytes });
    clusters.push(cluster);
    const client = new FtfsClient({ directories: cluster.directoryAddresses, chunksInFlight: 2 });
    clients.push(client);
    await client.connect("alice");
    const bytes = randomBytes(chunkBytes * chunks + 5);
    await client.uploadBytes("alice", "f", bytes);
    const buffers = new Set<ArrayBufferLike>();
    const copies: Uint8Array[] = [];
    const result = await client.read(
      "alice",
      "f",
      (chunk) => {
        buffers.add(chunk.buffer);
        copies.push(chunk.slice());
      },
      undefined,
      undefined,
      { reuseChunkBuffers: true },
    );
    expect(result.sha256).toBe(sha256Hex(bytes));
    expect(Buffer.compare(Buffer.concat(copies), bytes)).toBe(0);
    // Each buffer is back in the pool once the sink returned: the window's worth, not one each.
    expect(buffers.size).toBeLessThan(chunks / 2);
    // A sink that keeps its chunks (the default) is given buffers nobody else reuses.
    const kept: Uint8Array[] = [];
    await client.read("alice", "f", (chunk) => void kept.push(chunk));
    expect(new Set(kept.map((chunk) => chunk.buffer)).size).toBe(kept.length);
    expect(Buffer.compare(Buffer.concat(kept), bytes)).toBe(0);
  });

  test("a byte range fetches only the chunks that hold it and yields exactly its bytes", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    const bytes = randomBytes(CHUNK_BYTES * 10 + 17);
    await client.uploadBytes("alice", "f", bytes);
    const fetched = (): number =>
      cluster.storage.reduce((sum, node) => sum + (node.faults.calls.get("getChunk") ?? 0), 0);
    const object = { bucket: "ftfs", key: "f" };
    const cases = [
      { start: CHUNK_BYTES * 3 + 5, end: CHUNK_BYTES * 4 + 9, chunks: 2 },
      { start: CHUNK_BYTES * 10, end: CHUNK_BYTES * 10 + 16, chunks: 1 },
      { start: 0, end: 0, chunks: 1 },
    ];
    for (const { start, end, chunks } of cases) {
      const before = fetched();
      const parts: Uint8Array[] = [];
      await client.getObject("alice", object, (chunk) => void parts.push(chunk), {
        range: { start, end },
      });
      expect(Buffer.concat(parts)).toEqual(Buffer.from(bytes.subarray(start, end + 1)));
      expect(fetched() - before).toBe(chunks);
    }
    const outside = client.getObject("alice", object, () => undefined, {
      range: { start: 0, end: bytes.length },
    });
    expect((await caught(outside)).code).toBe("BAD_REQUEST");
  });
});

describe("finding the primary and retrying", () => {
  test("a backup directory's NOT_PRIMARY hint is followed", async () => {
    const { cluster, client } = setUp({}, 3);
    cluster.primaryIndex = 2;
    const answer = await client.connect("alice");
    expect(answer.primary).toBe(cluster.directoryAddresses[2] ?? "");
    expect(client.primary).toBe(cluster.directoryAddresses[2] ?? "");
  });

  test("a stale list is served by the first node reached, a backup: no hint followed", async () => {
    const { cluster, client: writer } = setUp({}, 3);
    cluster.primaryIndex = 2;
    await writer.connect("alice");
    await writer.uploadBytes("alice", "f", randomBytes(10));
    const written = await writer.list("alice");
    cluster.listRequests.length = 0;
    const reader = new FtfsClient({ directories: cluster.directoryAddresses });
    clients.push(reader);
    expect(await reader.list("alice", { stale: true })).toEqual(written);
    expect(cluster.listRequests).toEqual([{ node: 0, body: { uid: "alice", stale: true } }]);
  });

  test("with no primary elected, a stale list passes a refusing node", async () => {
    const { cluster, client } = setUp({}, 3);
    await client.connect("alice");
    cluster.primaryIndex = -1;
    cluster.directoryFaults[0]?.failNext("listFiles", "UNAVAILABLE");
    cluster.listRequests.length = 0;
    expect(await client.list("alice", { stale: true })).toEqual([]);
    expect(cluster.listRequests.map((request) => request.node)).toEqual([0, 1]);
  });

  test("a stale list with every node down: the usual one-line error", async () => {
    const client = new FtfsClient({ directories: ["127.0.0.1:1", "127.0.0.1:2"] });
    clients.push(client);
    const error = await caught(client.list("alice", { stale: true }));
    expect(error.code).toBe("CONNECT_FAILED");
    expect(error.message).toMatch(
      /^cannot reach the cluster at 127\.0\.0\.1:1,127\.0\.0\.1:2: nothing listens at 127\.0\.0\.1:[12] \(connection refused\); is it running\?$/,
    );
  });

  test("a busy directory primary is retried in place, not abandoned for a backup", async () => {
    const { cluster, client } = setUp({}, 2);
    await client.connect("alice");
    cluster.directoryFaults[0]?.failNext("placeUpload", "UNAVAILABLE", 2);
    await client.uploadBytes("alice", "f", randomBytes(10));
    expect(cluster.directoryFaults[0]?.calls.get("placeUpload")).toBe(3);
    expect(cluster.directoryFaults[1]?.calls.get("placeUpload")).toBeUndefined();
  });

  test("retryable storage errors are retried until the put lands", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    for (const node of cluster.storage) node.faults.failNext("putChunk", "TOO_BUSY", 2);
    cluster.storage[0]?.faults.failNext("putChunk", "STALE_EPOCH", 1);
    const bytes = randomBytes(CHUNK_BYTES * 6);
    await client.uploadBytes("alice", "f", bytes);
    expect(sha256Hex(await client.readBytes("alice", "f"))).toBe(sha256Hex(bytes));
  });

  test("a commit whose answer was lost is retried once, making one version", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    cluster.directoryFaults[0]?.failNext("commitUpload", "UNAVAILABLE", 1, true);
    const uploaded = await client.uploadBytes("alice", "f", randomBytes(100));
    expect(uploaded.version).toBe(1);
    expect(cluster.versions.get("alice/f")?.length).toBe(1);
  });

  test("a dead storage primary: the directory's fresh view sends the put to the new one", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    await client.uploadBytes("alice", "warm", randomBytes(10)); // connections to every primary are open
    cluster.placementViews = cluster.groupViews(); // placement will still name the dead primaries
    for (const group of ["s1", "s2"]) {
      cluster.nodesOf(group)[0]?.stop();
      cluster.epochs.set(group, 2);
    }
    const bytes = randomBytes(CHUNK_BYTES * 4);
    await client.uploadBytes("alice", "after", bytes);
    expect(cluster.directoryFaults[0]?.calls.get("listGroups")).toBeGreaterThan(0);
    expect(sha256Hex(await client.readBytes("alice", "after"))).toBe(sha256Hex(bytes));
  });

  test("a whole group down: its chunks spill to the next-ranked group, no error", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    cluster.placementViews = cluster.groupViews(); // the directory has not noticed yet
    cluster.directoryFaults[0]?.failNext("clusterStatus", "UNAVAILABLE", 1_000); // nor will
    for (const node of cluster.nodesOf("s1")) node.stop();
    const bytes = randomBytes(CHUNK_BYTES * 8);
    await client.uploadBytes("alice", "spilled", bytes);
    const groups = cluster.versions.get("alice/spilled")?.[0]?.chunks.map((chunk) => chunk.group);
    expect(new Set(groups)).toEqual(new Set(["s2"]));
    expect(sha256Hex(await client.readBytes("alice", "spilled"))).toBe(sha256Hex(bytes));
  });

  test("a corrupt primary copy is skipped and a healthy replica serves the read", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    const bytes = randomBytes(CHUNK_BYTES * 4);
    await client.uploadBytes("alice", "f", bytes);
    for (const group of ["s1", "s2"]) {
      for (const stored of cluster.nodesOf(group)[0]?.chunks.values() ?? [])
        stored.bytes = randomBytes(stored.bytes.length);
    }
    expect(sha256Hex(await client.readBytes("alice", "f"))).toBe(sha256Hex(bytes));
  });

  test("a chunk no replica has fails CHUNK_NOT_FOUND; all corrupt fails INTEGRITY", async () => {
    const { cluster, client } = setUp();
    await client.connect("alice");
    await client.uploadBytes("alice", "f", randomBytes(CHUNK_BYTES));
    await client.uploadBytes("alice", "g", randomBytes(CHUNK_BYTES));
    const [fChunk] = cluster.versions.get("alice/f")?.[0]?.chunks ?? [];
    const [gChunk] = cluster.versions.get("alice/g")?.[0]?.chunks ?? [];
    for (const node of cluster.storage) {
      node.chunks.delete(fChunk?.id ?? "");
      const stored = node.chunks.get(gChunk?.id ?? "");
      if (stored !== undefined) stored.bytes = randomBytes(stored.bytes.length);
    }
    expect((await caught(client.readBytes("alice", "f"))).code).toBe("CHUNK_NOT_FOUND");
    expect((await caught(client.readBytes("alice", "g"))).code).toBe("INTEGRITY");
  });
});

describe("errors a user sees", () => {
  test("hostile names and uids fail with INVALID_NAME/INVALID_UID before any network I/O", async () => {
    const client = new FtfsClient({ directories: ["127.0.0.1:1"], firstContactDeadlineMs: 0 });
    clients.push(client);
    for (const name of [
      "../x",
      "/etc/passwd",
      "a/../../b",
      "",
      "a\u0000b",
      "x".repeat(300),
      "..",
    ]) {
      expect((await caught(client.uploadBytes("alice", name, new Uint8Array(1)))).code).toBe(
        "INVALID_NAME",
      );
      expect((await caught(client.readBytes("alice", name))).code).toBe("INVALID_NAME");
    }
    expect((await caught(client.connect("../bob"))).code).toBe("INVALID_UID");
  });

  test("a malformed directory address is refused when the client is made", () => {
    expect(() => new FtfsClient({ directories: [""] })).toThrow("is not host:port");
    expect(() => new FtfsClient({ directories: [] })).toThrow("no directory addresses");
  });

  test("an unreachable cluster is reported, with its addresses, within the first-contact deadline", async () => {
    const client = new FtfsClient({
      directories: ["127.0.0.1:1", "127.0.0.1:2"],
      firstContactDeadlineMs: 300,
    });
    clients.push(client);
    const startedMs = Date.now();
    const error = await caught(client.connect("alice"));
    expect(error.code).toBe("CONNECT_FAILED");
    expect(error.message).toMatch(
      /^cannot reach the cluster at 127\.0\.0\.1:1,127\.0\.0\.1:2: nothing listens at 127\.0\.0\.1:[12] \(connection refused\); is it running\?$/,
    );
    expect(Date.now() - startedMs).toBeLessThan(2_000);
  });

  test("a name that does not resolve, and a web server, are named as such", async () => {
    const named = new FtfsClient({
      directories: ["no-such-host.invalid:7101"],
      firstContactDeadlineMs: 300,
    });
    clients.push(named);
    expect((await caught(named.connect("alice"))).message).toBe(
      "cannot reach the cluster at no-such-host.invalid:7101: " +
        "no such host 'no-such-host.invalid' (the name does not resolve)",
    );
    const web = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("hi") });
    try {
      const address = `127.0.0.1:${web.port}`;
      const http = new FtfsClient({ directories: [address], firstContactDeadlineMs: 300 });
      clients.push(http);
      expect((await caught(http.connect("alice"))).message).toBe(
        `${address} is not an FTFS node (it answered HTTP)`,
      );
    } finally {
      web.stop(true);
    }
  });

  test("unknown users and names are errors, not retried", async () => {
    const { client } = setUp();
    expect((await caught(client.list("nobody"))).code).toBe("NO_SUCH_USER");
    await client.connect("alice");
    expect((await caught(client.readBytes("alice", "missing"))).code).toBe("NOT_FOUND");
    await client.uploadBytes("alice", "f", randomBytes(5));
    expect(await client.remove("alice", "f")).toEqual({ deletedVersion: 1 });
    expect((await caught(client.readBytes("alice", "f"))).code).toBe("NOT_FOUND");
  });

  test("a missing local file is LOCAL_FILE, and a file changed mid-upload is not committed", async () => {
    const { cluster, client } = setUp({ chunksInFlight: 1 });
    await client.connect("alice");
    expect((await caught(client.upload("alice", "/no/such/file.txt"))).message).toBe(
      "/no/such/file.txt: no such file",
    );
    const folder = await mkdtemp(join(tmpdir(), "ftfs-client-test-"));
    try {
      const path = join(folder, "moving.bin");
      await writeFile(path, randomBytes(CHUNK_BYTES * 8));
      for (const node of cluster.storage) node.faults.delayMs = 20;
      const upload = client.upload("alice", path);
      await Bun.sleep(30);
      await writeFile(path, randomBytes(CHUNK_BYTES * 8));
      const error = await caught(upload);
      expect(error.code).toBe("LOCAL_FILE");
      expect(error.message).toBe(`${path} changed while uploading; nothing was committed`);
      expect(cluster.versions.get("alice/moving.bin")).toBeUndefined();
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
