/**
 * Failures under S3 clients, on real processes: the directory primary and a storage group's
 * primary are killed with SIGKILL while the AWS CLI copies a 1 GiB file (in parts) and while
 * rclone syncs 1,000 small files; each client finishes, and every byte reads back exact. A
 * gateway killed in the middle of a PUT leaves nothing of it visible and loses nothing it had
 * acknowledged; a new gateway serves at once. .ci/run installs awscli and rclone.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FtfsClient } from "@ftfs/client";
import type { NodeProcess } from "@ftfs/protocol/testing";
import { pollUntil, sha256 } from "../e2e/helpers.ts";
import { useGateway } from "./gateway-fixture.ts";

const FAULT_TEST_TIMEOUT_MS = 300_000;
setDefaultTimeout(FAULT_TEST_TIMEOUT_MS);

const MIB = 1024 * 1024;
const BIG_FILE_BYTES = 1024 * MIB;
const SMALL_FILES = 1_000;
/** rclone's requests per second: slow enough that the kills land inside the sync. */
const RCLONE_REQUESTS_PER_SECOND = "150";
/** How far into a 256 MiB PUT the gateway dies (it takes seconds through the gateway). */
const GATEWAY_KILL_AFTER_MS = 1_000;
/** How long a client may wait for progress before a kill (generous: a shared machine). */
const PROGRESS_DEADLINE_MS = 120_000;

const { fx, endpoint, accessKey, withAdmin, killGateway, startGateway, awsCliEnv } = useGateway({
  directories: 3,
  groupSize: 3,
});

/** The CLI retries through a failover as a user would configure it to. */
function awsEnv(home: string): Record<string, string> {
  return { ...awsCliEnv(home), AWS_MAX_ATTEMPTS: "10", AWS_RETRY_MODE: "standard" };
}

function aws(
  args: readonly string[],
  home: string,
  env: Record<string, string> = {},
): Bun.Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn(["/usr/bin/aws", "--endpoint-url", endpoint(), "--no-cli-pager", ...args], {
    cwd: home,
    env: { ...awsEnv(home), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function finished(run: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<void> {
  const [code, err] = await Promise.all([run.exited, new Response(run.stderr).text()]);
  expect({ code, err: err.split("\n").filter((line) => /error|fail/i.test(line)) }).toEqual({
    code: 0,
    err: [],
  });
}

/** The directory primary and the storage group's primary, as the cluster reports them. */
async function primaries(admin: FtfsClient): Promise<{ directory: string; storage: string }> {
  const status = await admin.status();
  const directory = status.members.find((member) => member.role === "directory" && member.primary);
  const storage = status.groups.find((group) => group.group === "s1")?.primaryNode;
  if (directory === undefined || storage == null) throw new Error("no primary to kill yet");
  return { directory: directory.node, storage };
}

/** SIGKILL a node; it restarts once the cluster has moved on without it (a fresh backup). */
function kill(id: string): NodeProcess {
  const node = fx.cluster.node(id);
  node.kill("SIGKILL");
  return node;
}

const scratchFolders: string[] = [];

/** A folder for one test's files (a GiB or more), removed after the file's tests. */
async function scratch(prefix: string): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), prefix));
  scratchFolders.push(folder);
  return folder;
}

afterAll(async () => {
  await Promise.all(scratchFolders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** Hash a file's bytes as they stream from disk. */
async function fileSha256(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** 1 GiB, every MiB distinct (nothing deduplicated away), written to disk a MiB at a time. */
async function writeBigFile(path: string): Promise<void> {
  const block = crypto.getRandomValues(new Uint8Array(MIB));
  const writer = Bun.file(path).writer();
  for (let at = 0; at < BIG_FILE_BYTES / MIB; at += 1) {
    new DataView(block.buffer).setUint32(0, at);
    writer.write(block);
    if (at % 64 === 63) await writer.flush();
  }
  await writer.end();
}

test("aws s3 cp of 1 GiB survives SIGKILL of the directory primary and the storage primary", async () => {
  const home = await scratch("ftfs-s3-faults-");
  const path = join(home, "big.bin");
  await writeBigFile(path);
  await finished(aws(["s3", "mb", "s3://faults"], home));
  await withAdmin(async (admin) => {
    const before = await primaries(admin);
    const partsStored = async () => {
      const open = await admin.multipartList("alice", "faults", {
        prefix: "",
        after: null,
        countMax: 1,
      });
      const upload = open.uploads[0];
      if (upload === undefined) return 0;
      return (await admin.multipartParts("alice", upload.uploadId, 0, 1_000)).parts.length;
    };
    const copy = aws(["s3", "cp", path, "s3://faults/big.bin"], home);
    await pollUntil(
      "parts stored",
      async () => ((await partsStored()) >= 8 ? true : undefined),
      PROGRESS_DEADLINE_MS,
    );
    const directory = kill(before.directory);
    await pollUntil(
      "more parts under the new directory primary",
      async () => ((await partsStored()) >= 24 ? true : undefined),
      PROGRESS_DEADLINE_MS,
    );
    const storage = kill(before.storage);
    await finished(copy);
    directory.start();
    storage.start();
    const after = await primaries(admin);
    expect(after.directory).not.toBe(before.directory);
    expect(after.storage).not.toBe(before.storage);
  });
  const back = join(home, "back.bin");
  await finished(aws(["s3", "cp", "s3://faults/big.bin", back], home));
  expect(await fileSha256(back)).toBe(await fileSha256(path));
});

test("rclone sync of 1,000 files survives SIGKILL of both primaries; rclone check agrees", async () => {
  const home = await scratch("ftfs-s3-faults-rclone-");
  const local = join(home, "tree");
  for (let n = 0; n < SMALL_FILES; n += 1) {
    const body = `file ${n}\n${"x".repeat(n % 4096)}`;
    await Bun.write(join(local, `d${n % 10}`, `f${n}.txt`), body);
  }
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    RCLONE_CONFIG_FT_TYPE: "s3",
    RCLONE_CONFIG_FT_PROVIDER: "Other",
    RCLONE_CONFIG_FT_ACCESS_KEY_ID: accessKey().accessKeyId,
    RCLONE_CONFIG_FT_SECRET_ACCESS_KEY: accessKey().secret,
    RCLONE_CONFIG_FT_ENDPOINT: endpoint(),
    RCLONE_CONFIG_FT_REGION: "us-east-1",
  };
  const rclone = (args: readonly string[]) =>
    Bun.spawn(["/usr/bin/rclone", ...args], {
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
  await finished(rclone(["mkdir", "ft:tree"]));
  await withAdmin(async (admin) => {
    const stored = async () =>
      (await admin.listObjects("alice", "tree", { prefix: "", after: null, countMax: 1_000 }))
        .objects.length;
    const before = await primaries(admin);
    const sync = rclone(["sync", "--tpslimit", RCLONE_REQUESTS_PER_SECOND, local, "ft:tree"]);
    await pollUntil(
      "files stored",
      async () => ((await stored()) >= 100 ? true : undefined),
      PROGRESS_DEADLINE_MS,
    );
    const directory = kill(before.directory);
    await pollUntil(
      "files stored under the new directory primary",
      async () => ((await stored()) >= 300 ? true : undefined),
      PROGRESS_DEADLINE_MS,
    );
    const storage = kill(before.storage);
    await finished(sync);
    directory.start();
    storage.start();
    expect(await stored()).toBe(SMALL_FILES);
  });
  // rclone's own comparison, by size and MD5 (the ETags), then every byte read back.
  await finished(rclone(["check", local, "ft:tree"]));
  await finished(rclone(["check", "--download", local, "ft:tree"]));
});

test("a gateway killed mid-PUT leaves nothing half-written and loses nothing acknowledged", async () => {
  const home = await scratch("ftfs-s3-faults-gw-");
  const kept = crypto.getRandomValues(new Uint8Array(2 * MIB));
  await Bun.write(join(home, "kept.bin"), kept);
  await finished(aws(["s3", "cp", join(home, "kept.bin"), "s3://faults/kept.bin"], home));
  const big = crypto.getRandomValues(new Uint8Array(256 * MIB));
  await Bun.write(join(home, "cut.bin"), big);
  // One PUT (s3api, no parts), cut off by the gateway's death partway through.
  // One PUT (s3api: no parts, and no retry), cut off by the gateway's death partway through.
  const body = join(home, "cut.bin");
  const putArgs = ["s3api", "put-object", "--bucket", "faults", "--key", "cut.bin", "--body", body];
  const put = aws(putArgs, home, { AWS_MAX_ATTEMPTS: "1" });
  await Bun.sleep(GATEWAY_KILL_AFTER_MS);
  await killGateway();
  expect(await put.exited).not.toBe(0);
  await startGateway();
  const head = aws(["s3api", "head-object", "--bucket", "faults", "--key", "cut.bin"], home);
  expect(await head.exited).not.toBe(0);
  expect(await new Response(head.stderr).text()).toContain("404");
  await finished(aws(["s3", "cp", "s3://faults/kept.bin", join(home, "kept-back.bin")], home));
  expect(sha256(await Bun.file(join(home, "kept-back.bin")).bytes())).toBe(sha256(kept));
  // The new gateway takes the same upload whole.
  await finished(aws(["s3", "cp", join(home, "cut.bin"), "s3://faults/cut.bin"], home));
  await finished(aws(["s3", "cp", "s3://faults/cut.bin", join(home, "cut-back.bin")], home));
  expect(await fileSha256(join(home, "cut-back.bin"))).toBe(sha256(big));
});
