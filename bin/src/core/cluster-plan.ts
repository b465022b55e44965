/**
 * `ftfs cluster init`'s plan, pure: from the operator's list of hosts to each node's id, config
 * file (TOML, the keys being the flags `ftfs server …` takes) and the commands to run on each
 * host. It owns the naming (d1, d2, … for directories; s1a, s1b, … in group s1, as the local
 * cluster names them; s3-1, … for gateways) and the ports each node's HTTP status page gets.
 * It must not touch the disk or make the key: cluster-init.ts does.
 */

import { DIRECTORY_GROUP_SIZES } from "@ftfs/directory/core";
import { groupField, parseAddress, tryDecode } from "@ftfs/protocol/core";

export type NodeRole = "directory" | "storage" | "s3";

export interface ClusterInitInput {
  /** host:port of each directory node. */
  readonly directories: readonly string[];
  /** `group=host:port` of each storage node, in the order given. */
  readonly storage: readonly string[];
  /** host:port of each S3 gateway (may be none). */
  readonly s3: readonly string[];
  /** Folder on each host under which each node keeps its data (`<root>/<node>`). */
  readonly dataRoot: string;
  /** Folder on each host where the config files and the cluster key go. */
  readonly configRoot: string;
  /** Each node's /metrics (and a directory's console) listens on its port plus this; 0: off. */
  readonly httpPortOffset: number;
}

export interface PlannedNode {
  /** Node id; for a gateway, its config file's name. */
  readonly id: string;
  readonly role: NodeRole;
  readonly host: string;
  readonly address: string;
  readonly httpAddress: string | null;
  /** The config file's name, and its text. */
  readonly file: string;
  readonly text: string;
  /** The command that starts it on its host. */
  readonly command: string;
}

export interface ClusterPlan {
  readonly nodes: readonly PlannedNode[];
  /** The directory addresses: what every client's --cluster takes. */
  readonly cluster: readonly string[];
  readonly keyPath: string;
}

export const CLUSTER_KEY_FILE = "cluster.key";
const TCP_PORT_MAX = 65_535;

export type PlanResult =
  | { readonly ok: true; readonly plan: ClusterPlan }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The plan, or every problem with the input (one line each). */
export function planCluster(input: ClusterInitInput): PlanResult {
  const problems: string[] = [];
  const seen = new Set<string>();
  const checkAddress = (what: string, address: string): void => {
    const parsed = parseAddress(address);
    if (!parsed.ok) problems.push(`${what}: '${address}' is not host:port`);
    else if (parsed.value.port + input.httpPortOffset > TCP_PORT_MAX && input.httpPortOffset > 0) {
      problems.push(
        `${what}: port ${parsed.value.port} + --http-port-offset is past ${TCP_PORT_MAX}`,
      );
    }
    if (seen.has(address)) problems.push(`${what}: ${address} is given twice`);
    seen.add(address);
  };
  if (!DIRECTORY_GROUP_SIZES.some((size) => size === input.directories.length)) {
    problems.push(
      `--directory needs ${DIRECTORY_GROUP_SIZES.join(", ")} addresses (a majority must ` +
        `survive a loss), not ${input.directories.length}`,
    );
  }
  for (const address of input.directories) checkAddress("--directory", address);
  const storage = input.storage.map((item) => {
    const [group = "", address = ""] = item.split("=", 2);
    if (!item.includes("=") || !tryDecode(groupField, group).ok) {
      problems.push(`--storage: '${item}' is not group=host:port (e.g. s1=10.0.0.1:7111)`);
    } else {
      checkAddress("--storage", address);
    }
    return { group, address };
  });
  if (storage.length === 0) problems.push("--storage needs at least one group=host:port");
  for (const address of input.s3) checkAddress("--s3", address);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, plan: plan(input, storage) };
}

function plan(
  input: ClusterInitInput,
  storage: ReadonlyArray<{ readonly group: string; readonly address: string }>,
): ClusterPlan {
  const keyPath = `${input.configRoot}/${CLUSTER_KEY_FILE}`;
  const cluster = input.directories;
  const nodes: PlannedNode[] = [];
  const add = (id: string, role: NodeRole, address: string, keys: TomlKeys): void => {
    const httpAddress = httpAddressOf(address, input.httpPortOffset);
    const file = `${id}.toml`;
    const path = `${input.configRoot}/${file}`;
    const withHttp: TomlKeys =
      httpAddress === null ? keys : [...keys, ["http-listen", httpAddress]];
    const text = configText(role, id, path, [...withHttp, ["cluster-key-file", keyPath]]);
    const command = `ftfs server ${role} --config ${path}`;
    nodes.push({ id, role, host: hostOf(address), address, httpAddress, file, text, command });
  };
  input.directories.forEach((address, index) => {
    const id = `d${index + 1}`;
    add(id, "directory", address, [
      ["node", id],
      ["listen", address],
      ["data", `${input.dataRoot}/${id}`],
      ["join", cluster.filter((other) => other !== address)],
      ["expect", cluster.length],
    ]);
  });
  const perGroup = new Map<string, number>();
  for (const { group, address } of storage) {
    const index = perGroup.get(group) ?? 0;
    perGroup.set(group, index + 1);
    const id = `${group}${nodeLetter(index)}`;
    add(id, "storage", address, [
      ["node", id],
      ["group", group],
      ["listen", address],
      ["data", `${input.dataRoot}/${id}`],
      ["join", cluster],
    ]);
  }
  input.s3.forEach((address, index) => {
    add(`s3-${index + 1}`, "s3", address, [
      ["listen", address],
      ["cluster", cluster],
    ]);
  });
  return { nodes, cluster, keyPath };
}

/** a, b, …, z, then aa, ab, …: a group of more than 26 nodes still gets distinct ids. */
function nodeLetter(index: number): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const letter = letters[index % letters.length] ?? "a";
  return index < letters.length
    ? letter
    : nodeLetter(Math.floor(index / letters.length) - 1) + letter;
}

function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(":"));
}

function httpAddressOf(address: string, offset: number): string | null {
  if (offset === 0) return null;
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  return `${hostOf(address)}:${port + offset}`;
}

type TomlValue = string | number | readonly string[];
type TomlKeys = ReadonlyArray<readonly [string, TomlValue]>;

function configText(role: NodeRole, id: string, path: string, keys: TomlKeys): string {
  const lines = [
    `# FTFS ${role === "s3" ? "S3 gateway" : `${role} node`} ${id}, made by \`ftfs cluster init\`.`,
    `# Start it with: ftfs server ${role} --config ${path}`,
    `# Keys are the flags of \`ftfs server ${role} --help\`; ` +
      "a flag or FTFS_ variable overrides one.",
    ...keys.map(([key, value]) => `${key} = ${tomlValue(value)}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** TOML's basic strings take JSON's escapes, so JSON.stringify writes them safely. */
function tomlValue(value: TomlValue): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  return `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
}

/** The hosts in the order first named, each with its nodes. */
export function nodesByHost(plan: ClusterPlan): Array<[string, PlannedNode[]]> {
  const hosts = new Map<string, PlannedNode[]>();
  for (const node of plan.nodes) hosts.set(node.host, [...(hosts.get(node.host) ?? []), node]);
  return [...hosts.entries()];
}

/** The first admin's uid in the printed login line (not "admin": that word is a command). */
export const FIRST_ADMIN_UID = "ops";

/** What `ftfs cluster init` prints after writing the files to `outDir`. */
export function instructions(plan: ClusterPlan, outDir: string, configRoot: string): string {
  const cluster = plan.cluster.join(",");
  const lines = [
    `Wrote ${outDir}/: ${CLUSTER_KEY_FILE} (the cluster's secret, mode 0600) and ` +
      `${plan.nodes.map((node) => node.file).join(", ")}.`,
    "",
    "On each host: copy the ftfs binary to /usr/local/bin/ftfs, and the files named for it",
    `below into ${configRoot}/ (${CLUSTER_KEY_FILE} readable only by the user that runs ftfs).`,
    "Then run each command (or use the systemd units in deploy/systemd/: see the README):",
  ];
  for (const [host, nodes] of nodesByHost(plan)) {
    const files = [CLUSTER_KEY_FILE, ...nodes.map((node) => node.file)].join(" ");
    lines.push("", `host ${host}  (files: ${files})`);
    for (const node of nodes) lines.push(`  ${node.command}`);
    const units = nodes.map((node) => `ftfs-${node.role}@${node.id}`).join(" ");
    lines.push(`  # or: systemctl enable --now ${units}`);
  }
  lines.push(
    "",
    "Then, from any machine with ftfs and the cluster key, make the first admin, and log in",
    "with the secret it prints:",
    `  ftfs admin user add ${FIRST_ADMIN_UID} --admin --cluster ${cluster} ` +
      `--cluster-key-file ${outDir}/${CLUSTER_KEY_FILE}`,
    `  FTFS_SECRET=<secret> ftfs ${FIRST_ADMIN_UID} c --cluster ${cluster}`,
  );
  const consoles = plan.nodes.filter((node) => node.role === "directory" && node.httpAddress);
  if (consoles.length > 0) {
    const urls = consoles.map((node) => `http://${node.httpAddress}/`).join(" ");
    lines.push(`The web console (log in as ${FIRST_ADMIN_UID}): ${urls}`);
  }
  return `${lines.join("\n")}\n`;
}
