/**
 * `ftfs cluster init`: a new cluster key and one config file per node for the hosts given,
 * written to a new folder, then the commands to run on each host and the first admin's login
 * line. The plan is core/cluster-plan.ts's; this file reads the flags, makes the key, writes
 * the files (the key mode 0600) and refuses to overwrite a folder that already holds a key:
 * a second key for a running cluster would lock its nodes out of each other.
 */

import { existsSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  EXIT_OK,
  EXIT_USAGE,
  type FlagSpec,
  generateClusterKey,
  type ProgramOutput,
  parseAddressListFlag,
  parseIntegerFlag,
  readFlags,
  UsageError,
  usage,
} from "@ftfs/protocol/io";
import { CLUSTER_KEY_FILE, instructions, planCluster } from "./core/cluster-plan.ts";

const PROGRAM = "ftfs cluster init";
const SUMMARY =
  "Make a new cluster: a cluster key and a config file per node, for the hosts given. " +
  "Prints what to copy to each host, the command that starts each node there, and how to " +
  "log in as the first admin.";
/** Each node's /metrics (and the console) on its port + 1000, as `bun run dev` does. */
const HTTP_PORT_OFFSET_DEFAULT = 1000;
const PORT_MAX = 65_535;

const FLAGS: readonly FlagSpec[] = [
  {
    name: "directory",
    description: "directory nodes' addresses, comma-separated: 1, 3 or 5 (host:port)",
  },
  {
    name: "storage",
    description: "storage nodes, comma-separated group=host:port (s1=10.0.0.1:7111,…)",
  },
  { name: "s3", description: "S3 gateways' addresses, comma-separated", default: "" },
  {
    name: "out",
    description: "new folder to write the key and configs to",
    default: "ftfs-cluster",
  },
  {
    name: "config-root",
    description: "where the configs and key will be on the hosts",
    default: "/etc/ftfs",
  },
  {
    name: "data-root",
    description: "where each node keeps its data on its host (<root>/<node>)",
    default: "/var/lib/ftfs",
  },
  {
    name: "http-port-offset",
    description: "each node serves /metrics (a directory: the console) on its port + this; 0: off",
    default: String(HTTP_PORT_OFFSET_DEFAULT),
  },
];

/** Runs `ftfs cluster init` with these arguments (after `init`); answers the exit status. */
export async function clusterInit(argv: readonly string[], output: ProgramOutput): Promise<number> {
  try {
    // Flags only: an environment variable must not quietly reshape a new cluster.
    const flags = readFlags(argv, FLAGS, {});
    if (flags.help) {
      output.out(usage(PROGRAM, SUMMARY, FLAGS));
      return EXIT_OK;
    }
    const values = flags.values;
    const list = (name: string): string[] =>
      (values[name] ?? "")
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
    const result = planCluster({
      directories: parseAddressListFlag("directory", values.directory, 1),
      storage: list("storage"),
      s3: list("s3"),
      dataRoot: values["data-root"] ?? "",
      configRoot: values["config-root"] ?? "",
      httpPortOffset: parseIntegerFlag(
        "http-port-offset",
        values["http-port-offset"] ?? "",
        0,
        PORT_MAX,
      ),
    });
    if (!result.ok) throw new UsageError(result.problems);
    const outDir = values.out ?? "";
    await writeCluster(outDir, result.plan.nodes);
    output.out(instructions(result.plan, outDir, values["config-root"] ?? ""));
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const problem of error.problems) output.err(`${PROGRAM}: ${problem}\n`);
    return EXIT_USAGE;
  }
}

async function writeCluster(
  outDir: string,
  nodes: ReadonlyArray<{ readonly file: string; readonly text: string }>,
): Promise<void> {
  const keyFile = join(outDir, CLUSTER_KEY_FILE);
  if (existsSync(keyFile)) {
    throw new UsageError(
      `${keyFile} exists: a cluster is already made there; give another --out (a second key ` +
        "would lock a running cluster's nodes out of each other)",
    );
  }
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, `${generateClusterKey()}\n`, { mode: 0o600, flag: "wx" });
  await chmod(keyFile, 0o600); // whatever the umask
  for (const node of nodes) await writeFile(join(outDir, node.file), node.text, { mode: 0o644 });
}
