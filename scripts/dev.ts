/**
 * `bun run dev`: the local cluster of CONTRACT.md. Three directory nodes on 127.0.0.1:7101-7103,
 * storage groups s1 (7111-7113) and s2 (7121-7123), data kept under .ftfs/dev/ so a restart
 * finds its files again. Runs secure: a cluster key made once in .ftfs/dev/cluster.key (mode
 * 0600) is read by every node. Prints where everything is and how to use the client; Ctrl-C
 * stops every node cleanly.
 */

import { join, resolve } from "node:path";
import { clusterNodeIds, startCluster, type LocalCluster } from "@ftfs/protocol/testing";

const DEV_DATA_ROOT = resolve(import.meta.dir, "../.ftfs/dev");
/** Made on the first run, kept: nodes restarted later must share the key. */
const DEV_CLUSTER_KEY_FILE = join(DEV_DATA_ROOT, "cluster.key");
const DEV_GROUPS = [
  { name: "s1", size: 3 },
  { name: "s2", size: 3 },
] as const;
const DEV_DIRECTORIES = 3;
const DIRECTORY_BASE_PORT = 7101;
const GROUP_BASE_PORT = { s1: 7111, s2: 7121 } as const;

function devPorts(): Record<string, number> {
  const ids = clusterNodeIds({ directories: DEV_DIRECTORIES, groups: DEV_GROUPS });
  const ports: Record<string, number> = {};
  ids.directories.forEach((id, index) => (ports[id] = DIRECTORY_BASE_PORT + index));
  for (const group of DEV_GROUPS) {
    ids.storage
      .filter((node) => node.group === group.name)
      .forEach((node, index) => (ports[node.id] = GROUP_BASE_PORT[group.name] + index));
  }
  return ports;
}

function describeCluster(cluster: LocalCluster): string {
  const rows = cluster.nodes.map(
    (node) => `  ${node.id.padEnd(5)} ${node.role.padEnd(10)} ${(node.group ?? "-").padEnd(4)} ${node.address.padEnd(16)} pid ${String(node.pid).padEnd(8)} log ${node.logPath}`,
  );
  return [
    "FTFS local cluster is up.",
    "",
    "  node  role       grp  address          process       log",
    ...rows,
    "",
    `data: ${DEV_DATA_ROOT}`,
    `cluster key: ${DEV_CLUSTER_KEY_FILE} (nodes authenticate each other with it)`,
    "",
    "Try it (in another terminal):",
    "  bunx ftfs alice c                 # connect as alice; prints the primary",
    "  bunx ftfs alice a README.md       # upload (again = new version)",
    "  bunx ftfs alice d                 # list alice's files",
    "  bunx ftfs alice r README.md       # print a file",
    "  bunx ftfs status                  # every member and group",
    "  bunx ftfs                         # interactive prompt",
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
    keep: true,
    clusterKeyFile: DEV_CLUSTER_KEY_FILE,
  });
  console.log(describeCluster(cluster));
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping every node…");
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
