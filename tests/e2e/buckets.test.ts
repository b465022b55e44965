/**
 * One namespace for `ftfs` and S3, on real processes (the S3 gateway is built on these ops):
 * what `ftfs alice a` stores is a key of alice's home bucket, and an object put into the home
 * bucket under a file name is a file `ftfs` lists and reads; other buckets hold keys with '/'
 * and any Unicode, listed in pages in S3's order; buckets are per user; only an empty bucket
 * is deleted, never the home bucket.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { Keyring } from "@ftfs/protocol/io";
import { HOME_BUCKET, type ObjectEntry } from "@ftfs/protocol/core";
import { FtfsClient } from "@ftfs/client";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  randomBytes,
  sha256,
  text,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 2 }],
  chunkBytes: E2E_CHUNK_BYTES,
  secure: true,
});

function ftfs(args: readonly string[], env: Record<string, string> = {}) {
  return fx.ws.ftfs(args, {
    env: { FTFS_CLUSTER: fx.cluster.directoryAddresses.join(","), ...env },
  });
}

/** A library client acting as a node (the gateway's standing), for `uid`'s objects. */
function nodeClient(): FtfsClient {
  return new FtfsClient({
    directories: fx.cluster.directoryAddresses,
    credentials: {
      kind: "node",
      node: "bucket-test",
      keyring: Keyring.parse(fx.cluster.clusterKey ?? ""),
    },
    retryDeadlineMs: 5_000,
  });
}

async function readObject(client: FtfsClient, uid: string, bucket: string, key: string) {
  const parts: Uint8Array[] = [];
  await client.getObject(uid, { bucket, key }, (chunk) => void parts.push(chunk));
  return Buffer.concat(parts);
}

async function allKeys(client: FtfsClient, uid: string, bucket: string, pageSize: number) {
  const keys: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await client.listObjects(uid, bucket, { prefix: "", after, countMax: pageSize });
    keys.push(...page.objects.map((object: ObjectEntry) => object.key));
    if (!page.truncated) return keys;
    after = keys.at(-1) ?? null;
  }
}

test("ftfs files are home-bucket keys, and home-bucket objects are ftfs files", async () => {
  await fx.cluster.addUser("alice");
  const client = nodeClient();
  try {
    const fileBytes = randomBytes(E2E_CHUNK_BYTES + 5);
    const { secret } = await fx.cluster.addUser("carol");
    expectOk(await ftfs(["carol", "c"], { FTFS_SECRET: secret }));
    expectOk(await ftfs(["carol", "a", await fx.ws.file("notes.txt", fileBytes)]));
    const home = await client.listObjects("carol", HOME_BUCKET, {
      prefix: "",
      after: null,
      countMax: 10,
    });
    expect(home.objects.map((object) => [object.key, object.sha256])).toEqual([
      ["notes.txt", sha256(fileBytes)],
    ]);
    expect(sha256(await readObject(client, "carol", HOME_BUCKET, "notes.txt"))).toBe(
      sha256(fileBytes),
    );
    const objectBytes = randomBytes(3 * E2E_CHUNK_BYTES);
    await client.putObjectBytes("carol", { bucket: HOME_BUCKET, key: "from-s3.bin" }, objectBytes);
    await client.putObjectBytes(
      "carol",
      { bucket: HOME_BUCKET, key: "dir/deep.txt" },
      randomBytes(9),
    );
    await client.bucketCreate("carol", "elsewhere");
    await client.putObjectBytes(
      "carol",
      { bucket: "elsewhere", key: "hidden.txt" },
      randomBytes(3),
    );
    const listed = text(expectOk(await ftfs(["carol", "d"])));
    expect(listed).toContain("from-s3.bin");
    expect(listed).toContain("dir/deep.txt");
    expect(listed).not.toContain("/ftfs/");
    expect(listed).not.toContain("hidden.txt");
    const fromStorage = text(expectOk(await ftfs(["carol", "d", "--from", "storage"])));
    expect(fromStorage).toContain("dir/deep.txt");
    expect(fromStorage).not.toContain("hidden.txt");
    const read = expectOk(await ftfs(["carol", "r", "from-s3.bin"]));
    expect(sha256(read.stdout)).toBe(sha256(objectBytes));
    expect(await allKeys(client, "carol", HOME_BUCKET, 1)).toEqual([
      "dir/deep.txt",
      "from-s3.bin",
      "notes.txt",
    ]);
  } finally {
    client.close();
  }
});

test("a bucket's keys: '/' and Unicode kept, listed in pages in code point order", async () => {
  const client = nodeClient();
  try {
    expect((await client.bucketCreate("alice", "photos")).created).toBe(true);
    expect((await client.bucketCreate("alice", "photos")).created).toBe(false);
    const keys = ["2026/01/cat.jpg", "2026/01/dog.jpg", "a b/ü.txt", "z", "é/last", "2025/x"];
    const bytes = new Map(keys.map((key) => [key, randomBytes(100 + key.length)]));
    for (const [key, body] of bytes)
      await client.putObjectBytes("alice", { bucket: "photos", key }, body);
    const sorted = [...keys].sort((a, b) => (a < b ? -1 : 1));
    for (const size of [1, 4, 1000])
      expect(await allKeys(client, "alice", "photos", size)).toEqual(sorted);
    const prefixed = await client.listObjects("alice", "photos", {
      prefix: "2026/",
      after: null,
      countMax: 10,
    });
    expect(prefixed.objects.map((object) => object.key)).toEqual([
      "2026/01/cat.jpg",
      "2026/01/dog.jpg",
    ]);
    for (const [key, body] of bytes) {
      expect(sha256(await readObject(client, "alice", "photos", key))).toBe(sha256(body));
    }
    expect((await client.bucketList("alice")).map((b) => b.bucket)).toEqual([
      HOME_BUCKET,
      "photos",
    ]);
  } finally {
    client.close();
  }
});

test("buckets are per user; only an empty one is deleted, never the home bucket", async () => {
  const client = nodeClient();
  try {
    await fx.cluster.addUser("bob");
    // bob's own "photos" is another bucket than alice's.
    expect((await client.bucketCreate("bob", "photos")).created).toBe(true);
    expect(await allKeys(client, "bob", "photos", 10)).toEqual([]);
    await expect(client.bucketDelete("alice", "photos")).rejects.toThrow(/still holds objects/);
    await expect(client.bucketDelete("alice", HOME_BUCKET)).rejects.toThrow(/cannot be deleted/);
    for (const key of await allKeys(client, "alice", "photos", 1000)) {
      await client.deleteObject("alice", { bucket: "photos", key });
    }
    await client.bucketDelete("alice", "photos");
    await expect(
      client.putObjectBytes("alice", { bucket: "photos", key: "late" }, randomBytes(5)),
    ).rejects.toThrow(/has no bucket 'photos'/);
    await expect(client.bucketCreate("alice", "Not_Valid")).rejects.toThrow(/bucket name/);
  } finally {
    client.close();
  }
});
