/**
 * The S3 gateway with TLS, by the same flags as the nodes: a secure cluster whose nodes serve
 * TLS, a gateway that serves HTTPS with --tls-cert/--tls-key and reaches the nodes over TLS
 * (trusting --tls-ca), and boto3 trusting that CA puts and reads an object. Plain HTTP to the
 * HTTPS port gets nothing. .ci/run installs python3-boto3; without it this fails under CI=true.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsClient } from "@ftfs/client";
import { Keyring } from "@ftfs/protocol/io";
import { freePort, startCluster, startS3Gateway, type LocalCluster } from "@ftfs/protocol/testing";
import { E2E_TEST_TIMEOUT_MS, selfSignedCertificate } from "../e2e/helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const PYTHON = "/usr/bin/python3";
const boto3Missing =
  !existsSync(PYTHON) || Bun.spawnSync([PYTHON, "-c", "import boto3"]).exitCode !== 0;

let folder = "";
let cluster: LocalCluster | null = null;
let gateway: Bun.Subprocess | null = null;
let endpoint = "";
let certFile = "";
let accessKey = { accessKeyId: "", secret: "" };

test("Debian's python3-boto3 is installed (.ci/run installs it; the test below needs it)", () => {
  expect(boto3Missing).toBe(false);
});

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "ftfs-s3-tls-"));
  const { cert, key } = await selfSignedCertificate(folder, "cluster");
  certFile = cert;
  const ca = await readFile(cert, "utf8");
  cluster = await startCluster({
    secure: true,
    directories: 1,
    groups: [{ name: "s1", size: 2 }],
    nodeArgs: ["--tls-cert", cert, "--tls-key", key],
    clientTls: { ca },
  });
  await cluster.addUser("alice");
  const keyFile = join(folder, "cluster.key");
  await writeFile(keyFile, cluster.clusterKey ?? "", { mode: 0o600 });
  const admin = new FtfsClient({
    directories: cluster.directoryAddresses,
    credentials: {
      kind: "node",
      node: "s3-tls-test",
      keyring: Keyring.parse(cluster.clusterKey ?? ""),
    },
    tls: { ca },
  });
  try {
    accessKey = await admin.keyCreate("alice");
  } finally {
    admin.close();
  }
  const started = await startS3Gateway({
    listen: `127.0.0.1:${await freePort()}`,
    cluster: cluster.directoryAddresses,
    clusterKeyFile: keyFile,
    tls: { certFile: cert, keyFile: key, ca },
  });
  endpoint = started.endpoint;
  gateway = started.process;
});

afterAll(async () => {
  gateway?.kill("SIGTERM");
  await gateway?.exited;
  await cluster?.stop();
  if (folder !== "") await rm(folder, { recursive: true, force: true });
});

test("boto3 over HTTPS, trusting the cluster's CA; plain HTTP gets nothing", async () => {
  const script = [
    "import boto3, os",
    "s3 = boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT'], verify=os.environ['S3_CA'],",
    "  aws_access_key_id=os.environ['S3_KEY_ID'], aws_secret_access_key=os.environ['S3_SECRET'],",
    "  region_name='us-east-1')",
    "s3.put_object(Bucket='ftfs', Key='secret/plan.txt', Body=b'over tls')",
    "print(s3.get_object(Bucket='ftfs', Key='secret/plan.txt')['Body'].read().decode())",
  ].join("\n");
  const run = Bun.spawnSync([PYTHON, "-c", script], {
    env: {
      ...process.env,
      S3_ENDPOINT: endpoint,
      S3_CA: certFile,
      S3_KEY_ID: accessKey.accessKeyId,
      S3_SECRET: accessKey.secret,
      AWS_EC2_METADATA_DISABLED: "true",
    },
  });
  if (run.exitCode !== 0) throw new Error(run.stderr.toString());
  expect(run.stdout.toString().trim()).toBe("over tls");
  const plain = await fetch(endpoint.replace("https:", "http:")).then(
    (response) => response.status,
    () => "refused",
  );
  expect(plain).toBe("refused");
});
