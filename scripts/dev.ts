/**
 * `bun run dev`: the local cluster of CONTRACT.md. Three directory nodes on 127.0.0.1:7101-7103,
 * storage groups s1 (7111-7113) and s2 (7121-7123), data kept under .ftfs/dev/ so a restart
 * finds its files again. Runs secure: a cluster key made once in .ftfs/dev/cluster.key (mode
 * 0600) is read by every node. The S3 gateway serves on 127.0.0.1:7180; each directory node
 * serves the web console on its HTTP port (7101 → http://127.0.0.1:8101/). Prints where
 * everything is and how to use the client and an S3 client; Ctrl-C stops everything cleanly.
 */

import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Keyring } from "@ftfs/protocol/io";
import {
  clusterNodeIds,
  startCluster,
  startS3Gateway,
  type LocalCluster,
} from "@ftfs/protocol/testing";
import { FtfsClient } from "@ftfs/client";

const DEV_DATA_ROOT = resolve(import.meta.dir, "../.ftfs/dev");
/** Made on the first run, kept: nodes restarted later must share the key. */
const DEV_CLUSTER_KEY_FILE = join(DEV_DATA_ROOT, "cluster.key");
/** The demo user's secret, made with the user on the first run (mode 0600, as a key file). */
const DEV_DEMO_SECRET_FILE = join(DEV_DATA_ROOT, "demo.secret");
const DEV_DEMO_UID = "demo";
const DEV_GROUPS = [
  { name: "s1", size: 3 },
  { name: "s2", size: 3 },
] as const;
const DEV_DIRECTORIES = 3;
/** The S3 gateway's address, and the demo user's access key (made once, kept, mode 0600). */
const DEV_S3_LISTEN = "127.0.0.1:7180";
/** The gateway's /metrics, /healthz and /readyz, as the nodes' (port + 1000). */
const DEV_S3_HTTP_LISTEN = "127.0.0.1:8180";
const DEV_DEMO_ACCESS_KEY_FILE = join(DEV_DATA_ROOT, "demo.s3-key.json");
const DEV_S3_LOG = join(DEV_DATA_ROOT, "s3.log");
const DIRECTORY_BASE_PORT = 7101;
const GROUP_BASE_PORT = { s1: 7111, s2: 7121 } as const;
/** Each node's /metrics, /healthz and /readyz: its port plus this (7101 → 8101). */
const HTTP_PORT_OFFSET = 1000;

function devPorts(): Record<string, number> {
  const ids = clusterNodeIds({ directories: DEV_DIRECTORIES, groups: DEV_GROUPS });
  const ports: Record<string, number> = {};
  for (const [index, id] of ids.directories.entries()) ports[id] = DIRECTORY_BASE_PORT + index;
  for (const group of DEV_GROUPS) {
    const members = ids.storage.filter((node) => node.group === group.name);
    for (const [index, node] of members.entries()) {
      ports[node.id] = GROUP_BASE_PORT[group.name] + index;
    }
  }
  return ports;
}

function devHttpPorts(): Record<string, number> {
  return Object.fromEntries(
    Object.entries(devPorts()).map(([id, port]) => [id, port + HTTP_PORT_OFFSET]),
  );
}

/**
 * The demo user, added once with the cluster key (as `ftfs admin user add demo` would); its
 * secret is kept beside the data so every later run prints the same login line.
 */
async function demoSecret(cluster: LocalCluster): Promise<string> {
  const kept = await readFile(DEV_DEMO_SECRET_FILE, "utf8").catch(() => null);
  if (kept !== null) return kept.trim();
  const keyText = (await readFile(DEV_CLUSTER_KEY_FILE, "utf8")).trim();
  const admin = new FtfsClient({
    directories: cluster.directoryAddresses,
    credentials: { kind: "node", node: "dev-admin", keyring: Keyring.parse(keyText) },
  });
  try {
    const { secret } = await admin.userAdd(DEV_DEMO_UID, { admin: true });
    await writeFile(DEV_DEMO_SECRET_FILE, `${secret}\n`, { mode: 0o600 });
    return secret;
  } finally {
    admin.close();
  }
}

/** The demo user's S3 access key, made once (as `ftfs key create` would) and kept. */
async function demoAccessKey(
  cluster: LocalCluster,
): Promise<{ accessKeyId: string; secret: string }> {
  const kept = await readFile(DEV_DEMO_ACCESS_KEY_FILE, "utf8").catch(() => null);
  if (kept !== null) return JSON.parse(kept) as { accessKeyId: string; secret: string };
  const keyText = (await readFile(DEV_CLUSTER_KEY_FILE, "utf8")).trim();
  const admin = new FtfsClient({
    directories: cluster.directoryAddresses,
    credentials: { kind: "node", node: "dev-admin", keyring: Keyring.parse(keyText) },
  });
  try {
    const { accessKeyId, secret } = await admin.keyCreate(DEV_DEMO_UID);
    await writeFile(DEV_DEMO_ACCESS_KEY_FILE, JSON.stringify({ accessKeyId, secret }), {
      mode: 0o600,
    });
    return { accessKeyId, secret };
  } finally {
    admin.close();
  }
}

/** The S3 gateway, a child that ends with this process; answers once it serves. */
async function startGateway(cluster: LocalCluster): Promise<Bun.Subprocess> {
  const started = await startS3Gateway({
    listen: DEV_S3_LISTEN,
    cluster: cluster.directoryAddresses,
    clusterKeyFile: DEV_CLUSTER_KEY_FILE,
    logFile: DEV_S3_LOG,
    httpListen: DEV_S3_HTTP_LISTEN,
    env: { FTFS_PARENT_PID: String(process.pid) },
  });
  return started.process;
}

function describeCluster(
  cluster: LocalCluster,
  secret: string,
  s3Key: { accessKeyId: string; secret: string },
): string {
  const rows = cluster.nodes.map(
    (node) =>
      `  ${node.id.padEnd(5)} ${node.role.padEnd(10)} ${(node.group ?? "-").padEnd(4)} ${node.address.padEnd(16)} ${`http://${node.httpAddress ?? "-"}/metrics`.padEnd(38)} pid ${String(node.pid).padEnd(8)} log ${node.logPath}`,
  );
  const consoles = cluster.nodes
    .filter((node) => node.role === "directory" && node.httpAddress !== null)
    .map((node) => `http://${node.httpAddress}/`);
  return [
    "FTFS local cluster is up.",
    "",
    `Web console: ${consoles[0] ?? "-"}  (any directory node serves it: ${consoles.slice(1).join(", ")})`,
    `  log in as ${DEV_DEMO_UID} with the secret below.`,
    "",
    `  node  role       grp  address          ${"metrics (also /healthz, /readyz)".padEnd(38)} process       log`,
    ...rows,
    "",
    `data: ${DEV_DATA_ROOT}`,
    `cluster key: ${DEV_CLUSTER_KEY_FILE} (nodes authenticate each other with it)`,
    "",
    `demo user: ${DEV_DEMO_UID} (admin), secret in ${DEV_DEMO_SECRET_FILE}`,
    "",
    "Try it (in another terminal):",
    `  FTFS_SECRET=${secret} bunx ftfs demo c   # log in once`,
    "  bunx ftfs demo a README.md        # upload (again = new version)",
    "  bunx ftfs demo d                  # list demo's files",
    "  bunx ftfs demo r README.md        # print a file",
    "  bunx ftfs status                  # every member and group (demo is an admin)",
    `  FTFS_CLUSTER_KEY_FILE=${DEV_CLUSTER_KEY_FILE} bunx ftfs admin user add alice`,
    "  bunx ftfs                         # interactive prompt",
    "",
    `S3: http://${DEV_S3_LISTEN} (region us-east-1; log ${DEV_S3_LOG}; metrics http://${DEV_S3_HTTP_LISTEN}/metrics).`,
    `Bucket "ftfs" holds demo's files; demo's access key is kept in ${DEV_DEMO_ACCESS_KEY_FILE}:`,
    `  export AWS_ACCESS_KEY_ID=${s3Key.accessKeyId} AWS_SECRET_ACCESS_KEY=${s3Key.secret}`,
    `  aws --endpoint-url http://${DEV_S3_LISTEN} s3 ls s3://ftfs/`,
    `  aws --endpoint-url http://${DEV_S3_LISTEN} s3 cp README.md s3://ftfs/docs/README.md`,
    "rclone, configured by environment (a remote named ftfs):",
    `  export RCLONE_CONFIG_FTFS_TYPE=s3 RCLONE_CONFIG_FTFS_PROVIDER=Other \\`,
    `    RCLONE_CONFIG_FTFS_ENDPOINT=http://${DEV_S3_LISTEN} \\`,
    `    RCLONE_CONFIG_FTFS_ACCESS_KEY_ID=${s3Key.accessKeyId} \\`,
    `    RCLONE_CONFIG_FTFS_SECRET_ACCESS_KEY=${s3Key.secret}`,
    "  rclone copy apps/s3/src ftfs:ftfs/s3-src && rclone check apps/s3/src ftfs:ftfs/s3-src",
    "",
    "Ctrl-C stops every node.",
  ].join("\n");
}

async function main(): Promise<void> {
  console.log("starting 3 directory nodes and storage groups s1, s2 (3 nodes each)…");
  const cluster = await startCluster({
    directories: DEV_DIRECTORIES,
    groups: DEV_GROUPS,
    dataRoot: DEV_DATA_ROOT,
    ports: devPorts(),
    statusHttp: true,
    httpPorts: devHttpPorts(),
    keep: true,
    clusterKeyFile: DEV_CLUSTER_KEY_FILE,
  });
  const secret = await demoSecret(cluster);
  const gateway = await startGateway(cluster);
  console.log(describeCluster(cluster, secret, await demoAccessKey(cluster)));
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping every node…");
    gateway.kill("SIGTERM");
    await gateway.exited;
    await cluster.stop();
    console.log("stopped. Data kept in", DEV_DATA_ROOT);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  for (const node of cluster.nodes) {
    void node.exited().then((code) => {
      if (!stopping) console.log(`node ${node.id} exited (status ${code}); see ${node.logPath}`);
    });
  }
}

await main().catch((error: unknown) => {
  console.error(`dev: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
