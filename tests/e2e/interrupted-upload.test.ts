/**
 * A client killed in the middle of an upload leaves no visible version: the directory never
 * saw a commit, so `d` does not list the file and `r` says it does not exist; the cluster goes
 * on serving uploads and reads. (The orphaned chunks are the garbage collector's business.)
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FTFS_MAIN } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  expectOk,
  expectOneLineError,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  E2E_TEST_TIMEOUT_MS,
  useCluster,
} from "./helpers.ts";

/** Big enough that the upload is still running when the first chunks are seen on storage. */
const BIG_FILE_BYTES = 64 * MIB;

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const fx = useCluster({
  directories: 1,
  groups: [
    { name: "s1", size: 2 },
    { name: "s2", size: 2 },
  ],
  chunkBytes: E2E_CHUNK_BYTES,
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs(["dave", "c", "--cluster", fx.cluster.directoryAddresses.join(",")]));
});

test("killing ftfs mid-upload leaves no partial version, and the cluster keeps serving", async () => {
  const path = await fx.ws.file("huge.bin", randomBytes(BIG_FILE_BYTES));
  const child = Bun.spawn([process.execPath, FTFS_MAIN, "dave", "a", path], {
    env: { ...process.env, FTFS_CONFIG_DIR: fx.ws.configDir, FTFS_CLUSTER: "" },
    stdout: "ignore",
    stderr: "ignore",
  });
  // Wait until the storage nodes hold some of the upload's chunks: the upload is under way.
  await pollUntil("chunks of huge.bin on storage", async () => {
    const stored = await fx.client.listFromStorage("dave");
    return stored.some((file) => file.name === "huge.bin") ? true : undefined;
  });
  child.kill("SIGKILL");
  expect(await child.exited).not.toBe(0);

  expect(text(expectOk(await fx.ws.ftfs(["dave", "d"])))).not.toContain("huge.bin");
  expectOneLineError(await fx.ws.ftfs(["dave", "r", "huge.bin"]), /huge\.bin/);
  expect((await fx.client.list("dave")).map((file) => file.name)).not.toContain("huge.bin");

  const small = randomBytes(3 * E2E_CHUNK_BYTES + 5);
  const smallPath = await fx.ws.file("after.bin", small);
  expectOk(await fx.ws.ftfs(["dave", "a", smallPath]));
  expect(sha256(expectOk(await fx.ws.ftfs(["dave", "r", "after.bin"])).stdout)).toBe(sha256(small));
});
