/**
 * The S3 gateway on a real cluster, driven by clients nobody here wrote. boto3 (Debian's
 * python3-boto3) makes a bucket; puts objects with '/' and Unicode in their keys, metadata, a
 * content type, an empty body; reads whole and by range; lists with a delimiter and in pages
 * (v1 and v2, boto3's own paginators); opens a presigned URL; hits the errors S3 clients act
 * on (NoSuchKey, NoSuchBucket, BucketNotEmpty, BadDigest, a wrong secret, an unknown key); and
 * cleans up. Objects put over S3 into the home bucket read back through `ftfs`. The AWS CLI
 * (Debian's awscli v2) makes and removes a bucket, copies and syncs a tree both ways, lists.
 * .ci/run installs python3-boto3 and awscli; without them this fails under CI=true.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { E2E_TEST_TIMEOUT_MS, expectOk, sha256 } from "../e2e/helpers.ts";
import { useGateway } from "./gateway-fixture.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const PYTHON = "/usr/bin/python3";

const { fx, endpoint, accessKey, aliceSecret, withAdmin, awsCliEnv, httpAddress } = useGateway();

const boto3Missing =
  !existsSync(PYTHON) || Bun.spawnSync([PYTHON, "-c", "import boto3"]).exitCode !== 0;

test("Debian's python3-boto3 is installed (.ci/run installs it; the tests below need it)", () => {
  expect(boto3Missing).toBe(false);
});

/** Where the Python clients find the gateway and alice's access key. */
function pythonEnv(): Record<string, string | undefined> {
  return {
    ...process.env,
    S3_ENDPOINT: endpoint(),
    S3_KEY_ID: accessKey().accessKeyId,
    S3_SECRET: accessKey().secret,
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

test("boto3's journey: buckets, objects, listings, ranges, presigned URLs, errors", () => {
  const run = Bun.spawnSync([PYTHON, join(import.meta.dir, "boto3-journey.py")], {
    env: pythonEnv(),
  });
  if (run.exitCode !== 0) throw new Error(`boto3 journey failed:\n${run.stderr.toString()}`);
  const out = JSON.parse(run.stdout.toString());
  expect(out.buckets_before).toEqual(["ftfs"]);
  expect(out.buckets_after).toEqual(["ftfs", "photos"]);
  expect(out.location).toBeNull();
  expect(out.head.etag).toBe(out.head.md5);
  expect(out.head).toMatchObject({
    length: 3 * 1024 * 1024 + 17,
    type: "image/jpeg",
    meta: { owner: "alice", taken: "2026-12-07" },
  });
  expect(out.get_sha256_ok).toBe(true);
  expect(out.range).toEqual({
    ok: true,
    status: 206,
    content_range: `bytes 1048570-1048590/${3 * 1024 * 1024 + 17}`,
  });
  expect(out.unicode_key).toBe("a b/ü ✓.txt");
  expect(out.dots_key).toBe("dir/../dots.txt");
  expect(out.empty_len).toBe(0);
  expect(out.top_level).toEqual({
    keys: ["empty", "top.txt", "x&y<z>'.txt"],
    prefixes: ["2025/", "2026/", "a b/", "dir/"],
  });
  const all = [
    "2025/old.jpg",
    "2026/cat.jpg",
    "2026/dog.jpg",
    "a b/ü ✓.txt",
    "dir/../dots.txt",
    "empty",
    "top.txt",
    "x&y<z>'.txt",
  ];
  expect(out.paged_v2).toEqual(all);
  expect(out.paged_v1).toEqual(all);
  expect(out.prefix_2026).toEqual(["2026/cat.jpg", "2026/dog.jpg"]);
  expect(out.presigned).toBe("top.txt");
  expect(out.copy).toEqual({
    same: true,
    etag: out.head.md5,
    type: "image/jpeg",
    meta: { owner: "alice", taken: "2026-12-07" },
  });
  expect(out.copy_replaced).toEqual({
    type: "image/png",
    meta: { new: "yes" },
    etag: out.head.md5,
  });
  expect([out.copy_self, out.copy_missing]).toEqual(["InvalidRequest", "NoSuchKey"]);
  expect({
    no_such_key: out.no_such_key,
    no_such_bucket: out.no_such_bucket,
    not_empty: out.not_empty,
    bad_name: out.bad_name,
    bad_md5: out.bad_md5,
    wrong_secret: out.wrong_secret,
    unknown_key: out.unknown_key,
    delete_missing: out.delete_missing,
  }).toEqual({
    no_such_key: "NoSuchKey",
    no_such_bucket: "NoSuchBucket",
    not_empty: "BucketNotEmpty",
    bad_name: "InvalidBucketName",
    bad_md5: "BadDigest",
    wrong_secret: "SignatureDoesNotMatch",
    unknown_key: "InvalidAccessKeyId",
    delete_missing: "ok",
  });
  expect(out.delete_objects).toEqual(
    [...all.filter((key) => key !== "2026/cat.jpg"), "never-was"].sort(),
  );
  expect(out.delete_objects_errors).toEqual([]);
  expect(out.after_deletes).toBe(0);
  expect(out.buckets_end).toEqual(["ftfs"]);
});

test("an object put over S3 into the home bucket is a file ftfs reads", async () => {
  const body = new Uint8Array(5000).map((_, at) => at % 256);
  const script = [
    "import boto3, os, sys",
    "s3 = boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT'],",
    "  aws_access_key_id=os.environ['S3_KEY_ID'], aws_secret_access_key=os.environ['S3_SECRET'],",
    "  region_name='us-east-1')",
    "s3.put_object(Bucket='ftfs', Key='via-s3.bin', Body=sys.stdin.buffer.read())",
  ].join("\n");
  const run = Bun.spawnSync([PYTHON, "-c", script], {
    stdin: body,
    env: pythonEnv(),
  });
  if (run.exitCode !== 0) throw new Error(run.stderr.toString());
  const env = { FTFS_CLUSTER: fx.clusterList, FTFS_SECRET: aliceSecret() };
  expectOk(await fx.ws.ftfs(["alice", "c"], { env }));
  const read = expectOk(await fx.ws.ftfs(["alice", "r", "via-s3.bin"], { env }));
  expect(sha256(read.stdout)).toBe(sha256(body));
});

test("boto3 multipart: parts, a part again, listings, completion, errors, abort, part copy, managed transfer", async () => {
  const run = Bun.spawnSync([PYTHON, join(import.meta.dir, "boto3-multipart.py")], {
    env: pythonEnv(),
  });
  if (run.exitCode !== 0) throw new Error(`boto3 multipart failed:\n${run.stderr.toString()}`);
  const out = JSON.parse(run.stdout.toString());
  const MIB = 1024 * 1024;
  expect(out.part_etags_are_md5s).toBe(true);
  expect(out.parts).toEqual([
    [1, 5 * MIB, true],
    [2, 5 * MIB + 7, true],
    [3, 1000, true],
  ]);
  expect(out.parts_paged).toEqual([true, 2, 2]);
  expect(out.parts_rest).toEqual([3]);
  expect(out.uploads).toEqual([["videos/big.bin", true]]);
  expect(out.part_to_other_key).toBe("NoSuchUpload");
  expect(out.objects_while_open).toBe(0);
  expect(out.rb_while_open).toBe("BucketNotEmpty");
  expect([out.wrong_etag, out.wrong_order, out.too_small, out.other_key]).toEqual([
    "InvalidPart",
    "InvalidPartOrder",
    "EntityTooSmall",
    "NoSuchUpload",
  ]);
  expect(out.complete_etag).toBe(true);
  expect(out.get).toEqual({
    same: true,
    etag: true,
    type: "video/mp4",
    meta: { camera: "left" },
    length: 10 * MIB + 7 + 1000,
  });
  expect(out.range_across_parts).toBe(true);
  expect(out.listed).toEqual([["videos/big.bin", 10 * MIB + 1007, true]]);
  expect(out.uploads_after).toBe(0);
  expect([out.part_after_complete, out.unknown_upload, out.abort_unknown]).toEqual([
    "NoSuchUpload",
    "NoSuchUpload",
    "NoSuchUpload",
  ]);
  expect(out.part_copy).toBe(true);
  expect(out.after_abort).toEqual([0, "NoSuchUpload", "404"]);
  expect(out.managed).toEqual({ same: true, etag: true });
  // Joined from parts, read by ftfs: each chunk checked by its id, the list by its digest.
  const env = { FTFS_CLUSTER: fx.clusterList, FTFS_SECRET: aliceSecret() };
  expectOk(await fx.ws.ftfs(["alice", "c"], { env }));
  const read = expectOk(await fx.ws.ftfs(["alice", "r", "joined.bin"], { env }));
  expect(sha256(read.stdout)).toBe(out.home_sha256);
});

test("boto3 conditional requests: reads, create-only and compare-and-swap writes, racing writers, copies", () => {
  const run = Bun.spawnSync([PYTHON, join(import.meta.dir, "boto3-conditions.py")], {
    env: pythonEnv(),
  });
  if (run.exitCode !== 0) throw new Error(`boto3 conditions failed:\n${run.stderr.toString()}`);
  const out = JSON.parse(run.stdout.toString());
  expect(out.reads).toEqual({
    if_match: 200,
    if_match_other: "PreconditionFailed",
    if_none_match: 304,
    if_none_match_other: 200,
    if_modified_since_earlier: 200,
    if_modified_since_later: 304,
    if_unmodified_since_earlier: "PreconditionFailed",
    if_unmodified_since_later: 200,
    head_if_none_match: 304,
  });
  expect(out.create_only).toEqual({ new_key: 200, existing_key: "PreconditionFailed" });
  expect(out.compare_and_swap).toEqual({
    stale_etag: "PreconditionFailed",
    missing_key: "NoSuchKey",
    current_etag: 200,
    after: "two",
  });
  expect(out.race).toEqual(["200", ...Array(7).fill("PreconditionFailed")]);
  expect(out.race_body).toBe(true);
  expect(out.copies).toEqual({
    if_match: 200,
    if_match_other: "PreconditionFailed",
    if_none_match: "PreconditionFailed",
    if_unmodified_since_earlier: "PreconditionFailed",
  });
  expect(out.completion_retry).toEqual({
    first: 200,
    retry: 200,
    other_upload: "PreconditionFailed",
    body: "first upload",
  });
});

test("boto3 versioning: ids, listings in pages, reads and copies by id, delete markers, suspension", () => {
  const run = Bun.spawnSync([PYTHON, join(import.meta.dir, "boto3-versioning.py")], {
    env: pythonEnv(),
  });
  if (run.exitCode !== 0) throw new Error(`boto3 versioning failed:\n${run.stderr.toString()}`);
  const out = JSON.parse(run.stdout.toString());
  expect([out.status_before, out.status_enabled]).toEqual([null, "Enabled"]);
  expect(out.ids_distinct).toBe(true);
  expect(out.versions.map((v: unknown[]) => [v[2], v[3]])).toEqual([
    [true, 5],
    [false, 3],
    [false, 3],
  ]);
  expect(out.ids_listed).toBe(true);
  expect(out.markers).toEqual([]);
  expect([out.read_v1, out.head_v2, out.get_version_header]).toEqual(["one", 3, true]);
  expect(out.delete).toEqual({ marker: true, new_id: true });
  expect([out.read_deleted, out.listed_deleted]).toEqual(["NoSuchKey", 0]);
  expect(out.versions_after_delete.map((v: unknown[]) => v[2])).toEqual([false, false, false]);
  expect(out.markers_after_delete.map((m: unknown[]) => m[2])).toEqual([true]);
  expect(out.read_marker).toBe("MethodNotAllowed");
  expect(out.read_missing_version).toBe("NoSuchVersion");
  expect(out.read_bad_version).toBe("InvalidArgument");
  expect(out.read_old_after_delete).toBe("two");
  expect(out.undelete).toEqual({ marker: true, id: true });
  expect(out.read_after_undelete).toBe("three");
  expect(out.copy).toEqual({ source_id: true, body: "one" });
  expect(out.read_after_deleting_latest).toBe("two");
  expect(out.versions_after_deleting_latest.map((v: unknown[]) => [v[0], v[2]])).toEqual([
    ["k", true],
    ["k", false],
    ["k-copy", true],
  ]);
  const listed = out.versions_after_deleting_latest.map((v: unknown[]) => [v[0], v[1]]);
  expect(out.paged).toEqual(listed);
  expect(out.paginated).toEqual(listed);
  expect(out.after_key_marker).toEqual(["k-copy"]);
  expect(out.bucket_with_versions).toBe("BucketNotEmpty");
  expect([out.status_suspended, out.suspended_delete_marker]).toEqual(["Suspended", true]);
  expect(out.delete_objects).toEqual({ deleted: 5, named: 5, errors: [], markers: 2 });
  expect(out.left).toEqual([[], []]);
  expect(out.bucket_emptied).toBe("ok");
  expect(out.home_bucket).toBe("InvalidBucketState");
});

const AWS = "/usr/bin/aws";

function aws(args: readonly string[], cwd: string) {
  const run = Bun.spawnSync([AWS, "--endpoint-url", endpoint(), "--no-cli-pager", ...args], {
    cwd,
    env: awsCliEnv(cwd),
  });
  return { code: run.exitCode, out: run.stdout.toString(), err: run.stderr.toString() };
}

test("the AWS CLI: mb, cp both ways (multipart over 8 MiB) and bucket to bucket, ls, sync, s3api head-object, rm, rb", async () => {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-aws-"));
  const files = new Map([
    ["one.txt", "first file\n"],
    ["sub/two.bin", "x".repeat(200_000)],
    ["sub/deeper/three.txt", "third\n"],
  ]);
  for (const [name, text] of files) {
    await Bun.write(join(folder, "up", name), text);
  }
  const ok = (run: { code: number; out: string; err: string }) => {
    expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: "" });
    return run.out;
  };
  ok(aws(["s3", "mb", "s3://cli-bucket"], folder));
  ok(aws(["s3", "cp", join(folder, "up", "one.txt"), "s3://cli-bucket/one.txt"], folder));
  ok(aws(["s3", "sync", join(folder, "up", "sub"), "s3://cli-bucket/sub"], folder));
  const listing = ok(aws(["s3", "ls", "--recursive", "s3://cli-bucket/"], folder));
  expect(
    listing
      .trim()
      .split("\n")
      .map((line) => line.split(/\s+/).at(-1)),
  ).toEqual(["one.txt", "sub/deeper/three.txt", "sub/two.bin"]);
  const top = ok(aws(["s3", "ls", "s3://cli-bucket/"], folder));
  expect(top).toContain("PRE sub/");
  ok(aws(["s3", "sync", "s3://cli-bucket", join(folder, "down")], folder));
  for (const [name, text] of files) {
    expect(await Bun.file(join(folder, "down", name)).text()).toBe(text);
  }
  const head = JSON.parse(
    ok(aws(["s3api", "head-object", "--bucket", "cli-bucket", "--key", "one.txt"], folder)),
  ) as { ContentLength: number; ETag: string };
  expect(head.ContentLength).toBe(11);
  expect(head.ETag).toBe(`"${new Bun.CryptoHasher("md5").update("first file\n").digest("hex")}"`);
  ok(aws(["s3", "cp", "s3://cli-bucket/one.txt", "s3://cli-bucket/copied.txt"], folder));
  // Over its 8 MiB threshold the CLI uploads in parts, copies by part copies, reads in ranges.
  const large = crypto.getRandomValues(new Uint8Array(20 * 1024 * 1024 + 5));
  await Bun.write(join(folder, "large.bin"), large);
  ok(aws(["s3", "cp", join(folder, "large.bin"), "s3://cli-bucket/large.bin"], folder));
  const largeHead = JSON.parse(
    ok(aws(["s3api", "head-object", "--bucket", "cli-bucket", "--key", "large.bin"], folder)),
  ) as { ContentLength: number; ETag: string };
  expect(largeHead.ContentLength).toBe(large.length);
  expect(largeHead.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
  ok(aws(["s3", "cp", "s3://cli-bucket/large.bin", "s3://cli-bucket/large-copy.bin"], folder));
  ok(aws(["s3", "cp", "s3://cli-bucket/large-copy.bin", join(folder, "large-back.bin")], folder));
  expect(sha256(await Bun.file(join(folder, "large-back.bin")).bytes())).toBe(sha256(large));
  expect(ok(aws(["s3", "cp", "s3://cli-bucket/copied.txt", "-"], folder))).toBe("first file\n");
  const refused = aws(["s3", "rb", "s3://cli-bucket"], folder);
  expect(refused.code).not.toBe(0);
  expect(refused.err).toContain("BucketNotEmpty");
  ok(aws(["s3", "rm", "--recursive", "s3://cli-bucket/"], folder));
  ok(aws(["s3", "rb", "s3://cli-bucket"], folder));
  expect(ok(aws(["s3", "ls"], folder))).not.toContain("cli-bucket");
});

test("the AWS CLI's s3api versioning: put-bucket-versioning, list-object-versions, get and delete by --version-id", async () => {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-aws-versions-"));
  const ok = (run: { code: number; out: string; err: string }) => {
    expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: "" });
    return run.out;
  };
  const api = (...args: string[]) => ok(aws(["s3api", ...args, "--bucket", "cli-vers"], folder));
  ok(aws(["s3", "mb", "s3://cli-vers"], folder));
  api("put-bucket-versioning", "--versioning-configuration", "Status=Enabled");
  expect(JSON.parse(api("get-bucket-versioning"))).toEqual({ Status: "Enabled" });
  const ids: string[] = [];
  for (const text of ["first\n", "second version\n"]) {
    await Bun.write(join(folder, "body"), text);
    const put = JSON.parse(api("put-object", "--key", "notes.txt", "--body", join(folder, "body")));
    ids.push(put.VersionId);
  }
  const listed = JSON.parse(api("list-object-versions")) as {
    Versions: { VersionId: string; IsLatest: boolean; Size: number }[];
  };
  expect(listed.Versions.map((v) => [v.VersionId, v.IsLatest, v.Size])).toEqual([
    [ids[1] ?? "", true, 15],
    [ids[0] ?? "", false, 6],
  ]);
  const first = join(folder, "first.txt");
  api("get-object", "--key", "notes.txt", "--version-id", ids[0] ?? "", first);
  expect(await Bun.file(first).text()).toBe("first\n");
  const removed = JSON.parse(api("delete-object", "--key", "notes.txt"));
  expect(removed.DeleteMarker).toBe(true);
  const gone = aws(["s3", "cp", "s3://cli-vers/notes.txt", join(folder, "gone.txt")], folder);
  expect(gone.code).not.toBe(0);
  api("delete-object", "--key", "notes.txt", "--version-id", removed.VersionId);
  ok(aws(["s3", "cp", "s3://cli-vers/notes.txt", join(folder, "back.txt")], folder));
  expect(await Bun.file(join(folder, "back.txt")).text()).toBe("second version\n");
});

test("aws-chunked bodies as SDKs stream them: signed chunks, checksum trailers", async () => {
  const run = Bun.spawnSync([PYTHON, join(import.meta.dir, "aws-chunked-put.py")], {
    env: pythonEnv(),
  });
  if (run.exitCode !== 0) throw new Error(run.stderr.toString());
  const out = JSON.parse(run.stdout.toString()) as Record<string, unknown>;
  expect(out).toMatchObject({
    signed: 200,
    trailer: 200,
    signed_trailer: 200,
    corrupt: [403, true],
    bad_checksum: [400, true],
    forged_trailer: [403, true],
  });
  await withAdmin(async (admin) => {
    for (const key of ["chunked/signed.bin", "chunked/trailer.bin", "chunked/signed-trailer.bin"]) {
      const parts: Uint8Array[] = [];
      await admin.getObject("alice", { bucket: "ftfs", key }, (chunk) => void parts.push(chunk));
      expect(sha256(Buffer.concat(parts))).toBe(out.sha256 as string);
    }
    // Refused bodies committed nothing.
    const listed = await admin.listObjects("alice", "ftfs", {
      prefix: "chunked/",
      after: null,
      countMax: 10,
    });
    expect(listed.objects.map((object) => object.key)).toEqual([
      "chunked/signed-trailer.bin",
      "chunked/signed.bin",
      "chunked/trailer.bin",
    ]);
  });
});

const RCLONE = "/usr/bin/rclone";
const S3CMD = "/usr/bin/s3cmd";

function tool(command: readonly string[], cwd: string, env: Record<string, string> = {}) {
  const run = Bun.spawnSync([...command], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env },
  });
  return { code: run.exitCode, out: run.stdout.toString(), err: run.stderr.toString() };
}

async function treeOn(disk: string, files: ReadonlyMap<string, string>): Promise<void> {
  for (const [name, text] of files) await Bun.write(join(disk, name), text);
}

const TREE = new Map([
  ["a.txt", "alpha\n"],
  ["dir/b.bin", "b".repeat(300_000)],
  ["dir/sub/c.txt", "gamma\n"],
  ["ü space.txt", "unicode\n"],
]);

test("rclone: sync up, check (its own hashing), lsf, sync down, purge", async () => {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-rclone-"));
  await treeOn(join(folder, "up"), TREE);
  // A remote named ft, configured by environment (rclone's own way), no config file.
  const remote = "ft:";
  const config = {
    RCLONE_CONFIG_FT_TYPE: "s3",
    RCLONE_CONFIG_FT_PROVIDER: "Other",
    RCLONE_CONFIG_FT_ACCESS_KEY_ID: accessKey().accessKeyId,
    RCLONE_CONFIG_FT_SECRET_ACCESS_KEY: accessKey().secret,
    RCLONE_CONFIG_FT_ENDPOINT: endpoint(),
    RCLONE_CONFIG_FT_REGION: "us-east-1",
  };
  const rclone = (...args: string[]) =>
    tool([RCLONE, "--config", "/dev/null", ...args], folder, config);
  const ok = (run: { code: number; out: string; err: string }) => {
    expect({
      code: run.code,
      err: run.err.split("\n").filter((line) => /ERROR/.test(line)),
    }).toEqual({
      code: 0,
      err: [],
    });
    return run.out;
  };
  ok(rclone("mkdir", `${remote}rc-bucket`));
  ok(rclone("sync", join(folder, "up"), `${remote}rc-bucket`));
  ok(rclone("check", join(folder, "up"), `${remote}rc-bucket`));
  const listed = ok(rclone("lsf", "-R", "--files-only", `${remote}rc-bucket`));
  expect(listed.trim().split("\n").sort()).toEqual([...TREE.keys()].sort());
  ok(rclone("sync", `${remote}rc-bucket`, join(folder, "down")));
  for (const [name, text] of TREE)
    expect(await Bun.file(join(folder, "down", name)).text()).toBe(text);
  ok(rclone("purge", `${remote}rc-bucket`));
  expect(ok(rclone("lsf", remote))).not.toContain("rc-bucket");
});

test("s3cmd: mb, put, ls, get, sync, del, rb; a multipart put (5 MiB parts) read back exact", async () => {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-s3cmd-"));
  await treeOn(join(folder, "up"), TREE);
  const host = endpoint().replace("http://", "");
  const s3cmd = (...args: string[]) =>
    tool(
      [
        S3CMD,
        "--config=/dev/null",
        `--access_key=${accessKey().accessKeyId}`,
        `--secret_key=${accessKey().secret}`,
        `--host=${host}`,
        `--host-bucket=${host}`,
        "--no-ssl",
        "--region=us-east-1",
        ...args,
      ],
      folder,
    );
  const ok = (run: { code: number; out: string; err: string }) => {
    expect({
      code: run.code,
      err: run.err.split("\n").filter((line) => /ERROR/.test(line)),
    }).toEqual({
      code: 0,
      err: [],
    });
    return run.out;
  };
  ok(s3cmd("mb", "s3://cmd-bucket"));
  ok(s3cmd("put", join(folder, "up", "a.txt"), "s3://cmd-bucket/a.txt"));
  ok(s3cmd("sync", `${join(folder, "up")}/`, "s3://cmd-bucket/tree/"));
  const listed = ok(s3cmd("ls", "-r", "s3://cmd-bucket"));
  for (const name of TREE.keys()) expect(listed).toContain(`s3://cmd-bucket/tree/${name}`);
  ok(s3cmd("get", "s3://cmd-bucket/tree/dir/b.bin", join(folder, "b.bin")));
  expect(await Bun.file(join(folder, "b.bin")).text()).toBe(TREE.get("dir/b.bin") ?? "");
  const large = crypto.getRandomValues(new Uint8Array(12 * 1024 * 1024 + 9));
  await Bun.write(join(folder, "large.bin"), large);
  const put = ok(
    s3cmd(
      "put",
      "--multipart-chunk-size-mb=5",
      join(folder, "large.bin"),
      "s3://cmd-bucket/large.bin",
    ),
  );
  expect(put).toContain("large.bin");
  // s3cmd lists a multipart object's MD5 from the metadata it stored with it.
  const md5 = new Bun.CryptoHasher("md5").update(large).digest("hex");
  expect(ok(s3cmd("ls", "--list-md5", "s3://cmd-bucket/large.bin"))).toContain(md5);
  const stored = await withAdmin((admin) =>
    admin.objectManifest("alice", { bucket: "cmd-bucket", key: "large.bin" }),
  );
  expect(stored.attrs?.parts).toBe(3);
  ok(s3cmd("get", "s3://cmd-bucket/large.bin", join(folder, "large-back.bin")));
  expect(sha256(await Bun.file(join(folder, "large-back.bin")).bytes())).toBe(sha256(large));
  ok(s3cmd("del", "--recursive", "--force", "s3://cmd-bucket"));
  ok(s3cmd("rb", "s3://cmd-bucket"));
});

const PROMTOOL = "/usr/bin/promtool";

test("the S3 clients and promtool are installed (.ci/run installs them; the tests here need them)", () => {
  const missing = [AWS, RCLONE, S3CMD, PROMTOOL].filter((path) => !existsSync(path));
  expect(missing).toEqual([]);
});

test("the gateway's /metrics counts S3 requests by operation and outcome, and passes promtool", async () => {
  const probe = Bun.spawnSync([PYTHON, "-c", METRICS_PROBE_PY, "metrics/probe.txt"], {
    env: pythonEnv(),
    cwd: import.meta.dir,
  });
  if (probe.exitCode !== 0) throw new Error(probe.stderr.toString());
  const response = await fetch(`http://${httpAddress()}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const lint = Bun.spawnSync([PROMTOOL, "check", "metrics"], { stdin: Buffer.from(text) });
  expect({ code: lint.exitCode, problems: lint.stderr.toString() }).toEqual({
    code: 0,
    problems: "",
  });
  const count = (series: string) =>
    Number(
      text
        .split("\n")
        .find((line) => line.startsWith(`${series} `))
        ?.slice(series.length + 1) ?? "0",
    );
  expect(count('ftfs_s3_requests_total{operation="PutObject",code="ok"}')).toBeGreaterThan(0);
  expect(count('ftfs_s3_requests_total{operation="GetObject",code="NoSuchKey"}')).toBeGreaterThan(
    0,
  );
  expect((await fetch(`http://${httpAddress()}/readyz`)).status).toBe(200);
});

/** One PUT and one GET of a key that is not there, with boto3 (the metrics test's traffic). */
const METRICS_PROBE_PY = `
import sys
from gateway_client import client, code_of
s3 = client(attempts=1)
s3.put_object(Bucket="ftfs", Key=sys.argv[1], Body=b"probe")
assert code_of(lambda: s3.get_object(Bucket="ftfs", Key=sys.argv[1] + ".missing")) == "NoSuchKey"
`;
