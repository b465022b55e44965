/**
 * The S3 gateway driven by the AWS SDK for JavaScript v3 (@aws-sdk/client-s3, with its default
 * checksums on: CRC32 in headers, and in aws-chunked trailers for streamed bodies) and its
 * managed uploads (@aws-sdk/lib-storage: parts in parallel, each with its checksum): buckets,
 * puts from buffers and streams, reads, listings by the SDK's paginator, copies, batch deletes,
 * a multipart upload read back exact, and a checksum that does not match refused.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { E2E_TEST_TIMEOUT_MS, expectOk, sha256 } from "../e2e/helpers.ts";
import { useGateway } from "./gateway-fixture.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const MIB = 1024 * 1024;
const { fx, endpoint, accessKey, aliceSecret } = useGateway();

function client(): S3Client {
  return new S3Client({
    endpoint: endpoint(),
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey().accessKeyId, secretAccessKey: accessKey().secret },
    maxAttempts: 3,
  });
}

async function bodyOf(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await got.Body?.transformToByteArray()) ?? new Uint8Array();
}

async function codeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return "ok";
  } catch (error) {
    if (error instanceof S3ServiceException) return error.name;
    throw error;
  }
}

test("the JavaScript SDK: buckets, buffer and stream puts, reads, paginated listing, copy, batch delete", async () => {
  const s3 = client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: "js-bucket" }));
    const small = new TextEncoder().encode("hello from the JavaScript SDK\n");
    await s3.send(
      new PutObjectCommand({
        Bucket: "js-bucket",
        Key: "notes/hello.txt",
        Body: small,
        ContentType: "text/plain",
        Metadata: { lang: "en" },
      }),
    );
    const streamed = crypto.getRandomValues(new Uint8Array(3 * MIB + 11));
    await s3.send(
      new PutObjectCommand({
        Bucket: "js-bucket",
        Key: "data/streamed.bin",
        Body: Readable.from([streamed.subarray(0, MIB), streamed.subarray(MIB)]),
        ContentLength: streamed.length,
      }),
    );
    expect(sha256(await bodyOf(s3, "js-bucket", "data/streamed.bin"))).toBe(sha256(streamed));
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: "js-bucket", Key: "notes/hello.txt" }),
    );
    expect({ type: head.ContentType, meta: head.Metadata, length: head.ContentLength }).toEqual({
      type: "text/plain",
      meta: { lang: "en" },
      length: small.length,
    });
    for (let n = 0; n < 5; n += 1) {
      await s3.send(new PutObjectCommand({ Bucket: "js-bucket", Key: `many/${n}`, Body: `${n}` }));
    }
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: s3, pageSize: 2 },
      { Bucket: "js-bucket" },
    )) {
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ""));
    }
    expect(keys).toEqual([
      "data/streamed.bin",
      "many/0",
      "many/1",
      "many/2",
      "many/3",
      "many/4",
      "notes/hello.txt",
    ]);
    await s3.send(
      new CopyObjectCommand({
        Bucket: "js-bucket",
        Key: "notes/copy.txt",
        CopySource: "js-bucket/notes/hello.txt",
      }),
    );
    expect(new TextDecoder().decode(await bodyOf(s3, "js-bucket", "notes/copy.txt"))).toBe(
      "hello from the JavaScript SDK\n",
    );
    const deleted = await s3.send(
      new DeleteObjectsCommand({
        Bucket: "js-bucket",
        Delete: { Objects: [...keys, "notes/copy.txt"].map((Key) => ({ Key })) },
      }),
    );
    expect(deleted.Errors ?? []).toEqual([]);
    expect(deleted.Deleted?.length).toBe(keys.length + 1);
    await s3.send(new DeleteBucketCommand({ Bucket: "js-bucket" }));
  } finally {
    s3.destroy();
  }
});

test("lib-storage's managed upload: parts in parallel with checksums, read back exact, by ftfs too", async () => {
  const s3 = client();
  try {
    const bytes = crypto.getRandomValues(new Uint8Array(17 * MIB + 3));
    const upload = new Upload({
      client: s3,
      params: {
        Bucket: "ftfs",
        Key: "managed-js.bin",
        Body: Readable.from(
          Array.from({ length: Math.ceil(bytes.length / MIB) }, (_, at) =>
            bytes.subarray(at * MIB, (at + 1) * MIB),
          ),
        ),
      },
      partSize: 5 * MIB,
      queueSize: 3,
    });
    const done = await upload.done();
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-4"$/);
    expect(sha256(await bodyOf(s3, "ftfs", "managed-js.bin"))).toBe(sha256(bytes));
    const env = { FTFS_CLUSTER: fx.clusterList, FTFS_SECRET: aliceSecret() };
    expectOk(await fx.ws.ftfs(["alice", "c"], { env }));
    const read = expectOk(await fx.ws.ftfs(["alice", "r", "managed-js.bin"], { env }));
    expect(sha256(read.stdout)).toBe(sha256(bytes));
  } finally {
    s3.destroy();
  }
});

test("a checksum the body does not match is refused, and nothing is stored", async () => {
  const s3 = client();
  try {
    const wrong = await codeOf(() =>
      s3.send(
        new PutObjectCommand({
          Bucket: "ftfs",
          Key: "bad-checksum.txt",
          Body: "the body",
          ChecksumCRC32: "AAAAAA==",
        }),
      ),
    );
    expect(wrong).toBe("BadDigest");
    const missing = await codeOf(() =>
      s3.send(new HeadObjectCommand({ Bucket: "ftfs", Key: "bad-checksum.txt" })),
    );
    expect(missing).toBe("NotFound");
  } finally {
    s3.destroy();
  }
});
