/**
 * A client killed in the middle of an upload leaves no visible version: the directory never
 * saw a commit, so `d` does not list the file and `r` says it does not exist; the cluster goes
 * on serving uploads and reads. (The orphaned chunks are the garbage collector's business.)
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FTFS_MAIN, startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { FtfsClient } from "ftfs";
import {
  E2E_CHUNK_BYTES,
  expectOk,
  expectOneLineError,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  workspace,
  type Workspace,
  E2E_TEST_TIMEOUT_MS,
} from "./helpers.ts";

/** Big enough that the upload is still running when the first chunks are seen on storage. */
const BIG_FILE_BYTES = 64 * MIB;

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

let cluster: LocalCluster;
let ws: Workspace;
let client: FtfsClient;

beforeAll(async () => {
  cluster = await startCluster({
    directories: 1,
    groups: [
      { name: "s1", size: 2 },
      { name: "s2", size: 2 },
    ],
    chunkBytes: E2E_CHUNK_BYTES,
  });
  ws = await workspace();
  client = new FtfsClient({ directories: cluster.directoryAddresses });
  expectOk(await ws.ftfs(["dave", "c", "--cluster", cluster.directoryAddresses.join(",")]));
});

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

test("killing ftfs mid-upload leaves no partial version, and the cluster keeps serving", async () => {
  const path = await ws.file("huge.bin", randomBytes(BIG_FILE_BYTES));
  const child = Bun.spawn([process.execPath, FTFS_MAIN, "dave", "a", path], {
    env: { ...process.env, FTFS_CONFIG_DIR: ws.configDir, FTFS_CLUSTER: "" },
    stdout: "ignore",
    stderr: "ignore",
  });
  // Wait until the storage nodes hold some of the upload's chunks: the upload is under way.
  await pollUntil("chunks of huge.bin on storage", async () => {
    const stored = await client.listFromStorage("dave");
    return stored.some((file) => file.name === "huge.bin") ? true : undefined;
  });
  child.kill("SIGKILL");
  expect(await child.exited).not.toBe(0);

  expect(text(expectOk(await ws.ftfs(["dave", "d"])))).not.toContain("huge.bin");
  expectOneLineError(await ws.ftfs(["dave", "r", "huge.bin"]), /huge\.bin/);
  expect((await client.list("dave")).map((file) => file.name)).not.toContain("huge.bin");

  const small = randomBytes(3 * E2E_CHUNK_BYTES + 5);
  const smallPath = await ws.file("after.bin", small);
  expectOk(await ws.ftfs(["dave", "a", smallPath]));
  expect(sha256(expectOk(await ws.ftfs(["dave", "r", "after.bin"])).stdout)).toBe(sha256(small));
});
