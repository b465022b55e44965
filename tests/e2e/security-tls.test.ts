/**
 * TLS end to end: a cluster whose nodes serve TLS (--tls-cert/--tls-key, a self-signed
 * certificate made here with openssl) talks TLS node to node, and the real `ftfs` binary
 * uploads and reads back through it when given the CA (--tls-ca or FTFS_TLS_CA). A plain TCP
 * client, or a TLS client trusting another CA, gets nowhere.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { RpcClient } from "@ftfs/protocol/io";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  randomBytes,
  selfSignedCertificate,
  sha256,
  type Workspace,
  workspace,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

let cluster: LocalCluster;
let folder: string;
let ws: Workspace;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "ftfs-tls-"));
  const { cert, key } = await selfSignedCertificate(folder, "cluster");
  cluster = await startCluster({
    directories: 1,
    groups: [{ name: "s1", size: 2 }],
    chunkBytes: E2E_CHUNK_BYTES,
    nodeArgs: ["--tls-cert", cert, "--tls-key", key],
    clientTls: { ca: await readFile(cert, "utf8") },
  });
  ws = await workspace();
});

afterAll(async () => {
  await cluster?.stop();
  await rm(folder, { recursive: true, force: true });
});

test("the ftfs binary uploads and reads back over TLS with the cluster's CA", async () => {
  const cluster_ = cluster.directoryAddresses.join(",");
  const ca = join(folder, "cluster.cert.pem");
  const env = { FTFS_CLUSTER: cluster_, FTFS_TLS_CA: ca };
  expectOk(await ws.ftfs(["alice", "c"], { env }));
  const bytes = randomBytes(3 * E2E_CHUNK_BYTES + 17);
  const path = await ws.file("data.bin", bytes);
  expectOk(await ws.ftfs(["alice", "a", path], { env }));
  // The flag works as the environment variable does.
  const read = await ws.ftfs(["--tls-ca", ca, "alice", "r", "data.bin"], {
    env: { FTFS_CLUSTER: cluster_ },
  });
  expectOk(read);
  expect(sha256(read.stdout)).toBe(sha256(bytes));
});

test("plain TCP, or TLS trusting another CA, does not get in", async () => {
  const address = cluster.directoryAddresses[0] ?? "";
  const plain = await RpcClient.connect(address, 1_000).catch((error: unknown) => error);
  expect(plain).toBeInstanceOf(FtfsError);
  const other = await selfSignedCertificate(folder, "other");
  const wrongCa = { tls: { ca: await readFile(other.cert, "utf8") } };
  const untrusted = await RpcClient.connect(address, 1_000, wrongCa).catch(
    (error: unknown) => error,
  );
  expect(untrusted).toBeInstanceOf(FtfsError);
  const withoutCa = await ws.ftfs(["alice", "d"], { env: { FTFS_CLUSTER: address } });
  expect(withoutCa.exitCode).not.toBe(0);
  const trusted = await RpcClient.connect(address, 1_000, {
    tls: { ca: await readFile(join(folder, "cluster.cert.pem"), "utf8") },
  });
  expect(
    (await trusted.call("listFiles", { uid: "alice" })).body.files.map((file) => file.name),
  ).toEqual(["data.bin"]);
  trusted.close();
});
