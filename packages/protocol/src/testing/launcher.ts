/**
 * Starts a whole FTFS cluster of real processes on free loopback ports, for end-to-end tests,
 * the bench and `bun run dev`: directory nodes, storage groups, each with its own data folder
 * and a log file. Also runs the real `ftfs` binary. This file spawns the apps by path; it does
 * not import them (packages never import apps).
 */

import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { closeSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { makeVerifier, SCRAM_ITERATIONS_MIN } from "../core/auth/scram.ts";
import { CHUNK_BYTES_DEFAULT } from "../core/limits.ts";
import { NODE_HASHES, secureRandomBytes } from "../io/security/node-hashes.ts";
import { generateClusterKey } from "../io/security/cluster-key-flags.ts";
import { Keyring } from "../io/security/keyring.ts";
import { RpcClient, type ClientTls, type ConnectOptions } from "../io/rpc-client.ts";
import { freePort } from "./free-port.ts";

const REPO_ROOT = resolve(import.meta.dir, "../../../..");
export const DIRECTORY_MAIN = join(REPO_ROOT, "apps/directory/src/main.ts");

/**
 * One insecure directory node outside a LocalCluster (a bench or test that builds its own
 * group), its log beside its data in `dataDir`; `extraArgs` add --join, --new-member and such.
 */
export function standaloneDirectory(
  id: string,
  address: string,
  dataDir: string,
  extraArgs: readonly string[],
): NodeProcess {
  return new NodeProcess({
    id,
    role: "directory",
    group: null,
    address,
    dataDir,
    logPath: join(dataDir, `${id}.log`),
    env: {},
    argv: [
      DIRECTORY_MAIN,
      "--node",
      id,
      "--listen",
      address,
      "--data",
      dataDir,
      "--insecure",
      ...extraArgs,
    ],
  });
}
export const STORAGE_MAIN = join(REPO_ROOT, "apps/storage/src/main.ts");
export const FTFS_MAIN = join(REPO_ROOT, "apps/client/src/main.ts");

/** How long a cluster may take to come up before the launcher gives up. */
export const CLUSTER_READY_TIMEOUT_MS = 30_000;
/** How long a node may take to exit on SIGTERM before it is killed. */
export const NODE_STOP_TIMEOUT_MS = 5_000;
const READY_POLL_INTERVAL_MS = 50;
/** How much of a dead node's log a failed start shows. */
const LOG_TAIL_CHARS = 2_000;
const FTFS_RUN_TIMEOUT_MS_DEFAULT = 30_000;

/** An S3 gateway takes part in no group; the deployment test starts one beside the nodes. */
export type NodeRole = "directory" | "storage" | "s3";

export interface GroupSpec {
  readonly name: string;
  readonly size: number;
}

export interface ClusterOptions {
  readonly directories?: number;
  readonly groups?: readonly GroupSpec[];
  /** Storage nodes started with `--spare` (ids x1, x2, …), in no group until assigned. */
  readonly spares?: number;
  readonly chunkBytes?: number;
  /** Keep the data folder after stop (for a post-mortem). */
  readonly keep?: boolean;
  /** Use this folder instead of a fresh temporary one. */
  readonly dataRoot?: string;
  /** Fixed ports (the dev cluster) instead of free ones: node id → port. */
  readonly ports?: Readonly<Record<string, number>>;
  readonly env?: Readonly<Record<string, string>>;
  /** Each node's listen host (default 127.0.0.1): the chaos harness gives each its namespace's. */
  readonly hostOf?: (id: string) => string;
  /** A command that execs the node, per node (see NodeProcess's `wrap`). */
  readonly wrapOf?: (id: string) => readonly string[];
  /**
   * Authenticate everything with a fresh random cluster key (each node reads it from its own
   * key file, so a test can rotate keys node by node). Default: every node `--insecure`.
   */
  readonly secure?: boolean;
  /** Use the keys in this file (created with a fresh key if missing); implies `secure`. */
  readonly clusterKeyFile?: string;
  /** More flags for every node (TLS, connection limits). */
  readonly nodeArgs?: readonly string[];
  /** TLS the launcher's own probes use, when `nodeArgs` make the nodes serve TLS. */
  readonly clientTls?: ClientTls;
  /** Each node serves /metrics, /healthz and /readyz on a port of its own (httpAddress). */
  readonly statusHttp?: boolean;
  /** Fixed ports for statusHttp (the dev cluster): node id → port; others get free ones. */
  readonly httpPorts?: Readonly<Record<string, number>>;
}

export class NodeProcess {
  readonly id: string;
  readonly role: NodeRole;
  readonly group: string | null;
  readonly address: string;
  /** Where the node serves /metrics (ClusterOptions.statusHttp); null: it does not. */
  readonly httpAddress: string | null;
  readonly dataDir: string;
  readonly logPath: string;
  private readonly argv: readonly string[];
  private readonly env: Readonly<Record<string, string>>;
  /**
   * A command that execs the node (`ip netns exec <ns>` for the chaos harness); it must exec, not
   * fork, so the spawned pid stays the node's own and signals reach it.
   */
  private readonly wrap: readonly string[];
  /** The program and its first arguments: Bun (running argv's script), or the one binary. */
  private readonly program: readonly string[];
  private readonly cwd: string | undefined;
  private child: Subprocess | null = null;

  constructor(init: {
    id: string;
    role: NodeRole;
    group: string | null;
    address: string;
    httpAddress?: string | null;
    dataDir: string;
    logPath: string;
    argv: readonly string[];
    env: Readonly<Record<string, string>>;
    wrap?: readonly string[];
    program?: readonly string[];
    cwd?: string;
  }) {
    this.id = init.id;
    this.role = init.role;
    this.group = init.group;
    this.address = init.address;
    this.httpAddress = init.httpAddress ?? null;
    this.dataDir = init.dataDir;
    this.logPath = init.logPath;
    this.argv = init.argv;
    this.env = init.env;
    this.wrap = init.wrap ?? [];
    this.program = init.program ?? [process.execPath];
    this.cwd = init.cwd;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Started, then exited: crashed, killed, or stopped. */
  get hasExited(): boolean {
    return this.child !== null && !this.running;
  }

  /** `extraArgs`: for this start only (a wiped directory node back with `--new-member`). */
  start(extraArgs: readonly string[] = []): void {
    if (this.running) throw new Error(`node ${this.id} is already running`);
    // Appended, so a restarted node's log follows its previous life instead of overwriting it.
    const log = openSync(this.logPath, "a");
    try {
      this.child = Bun.spawn([...this.wrap, ...this.program, ...this.argv, ...extraArgs], {
        env: { ...process.env, FTFS_PARENT_PID: String(process.pid), ...this.env },
        ...(this.cwd === undefined ? {} : { cwd: this.cwd }),
        stdin: "ignore",
        stdout: "ignore",
        stderr: log,
      });
    } finally {
      closeSync(log);
    }
  }

  /** Send a signal: SIGKILL to crash it, SIGSTOP/SIGCONT to pause it, SIGTERM to stop it. */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.child?.kill(signal);
  }

  async exited(): Promise<number | null> {
    return this.child === null ? null : this.child.exited;
  }

  /** Graceful stop: SIGTERM, then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || !this.running) return;
    child.kill("SIGCONT"); // a paused process cannot handle SIGTERM
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), NODE_STOP_TIMEOUT_MS);
    await child.exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop();
    this.start();
  }

  async log(): Promise<string> {
    return Bun.file(this.logPath).text();
  }
}

/** How a cluster authenticates: its key text (null: insecure) and the files nodes read it from. */
export interface ClusterSecurity {
  readonly clusterKey: string | null;
  readonly keyFileOf: (id: string) => string | null;
  readonly clientTls?: ClientTls | undefined;
}

/** The name the launcher's own connections claim as a node. */
const LAUNCHER_NODE = "launcher";

export class LocalCluster {
  readonly dataRoot: string;
  private readonly nodeList: NodeProcess[];
  private readonly newDirectory:
    | ((id: string, peers: readonly string[]) => Promise<NodeProcess>)
    | undefined;
  /** The cluster keys in `--cluster-key` format (base64, comma list); null when insecure. */
  readonly clusterKey: string | null;
  private readonly keep: boolean;
  private readonly security: ClusterSecurity;

  constructor(
    dataRoot: string,
    nodes: readonly NodeProcess[],
    keep: boolean,
    security: ClusterSecurity = { clusterKey: null, keyFileOf: () => null },
    newDirectory?: (id: string, peers: readonly string[]) => Promise<NodeProcess>,
  ) {
    this.dataRoot = dataRoot;
    this.nodeList = [...nodes];
    this.newDirectory = newDirectory;
    this.keep = keep;
    this.security = security;
    this.clusterKey = security.clusterKey;
  }

  get keyring(): Keyring {
    return this.clusterKey === null ? Keyring.open() : Keyring.parse(this.clusterKey);
  }

  /** Connect options that prove a node of this cluster (for tests that act as one, or admin). */
  nodeConnectOptions(node = LAUNCHER_NODE): ConnectOptions {
    const credentials = { kind: "node", node, keyring: this.keyring } as const;
    const tls = this.security.clientTls;
    return tls === undefined ? { credentials } : { credentials, tls };
  }

  /**
   * Add a user as an administrator holding the cluster key would (`ftfs admin user add`), with
   * a fresh secret at the fewest PBKDF2 rounds (tests log in quickly). Answers its generation
   * (what a session token for it names) and the secret.
   */
  async addUser(uid: string, admin = false): Promise<{ generation: number; secret: string }> {
    const secret = Buffer.from(secureRandomBytes(32)).toString("base64url");
    const verifier = makeVerifier(NODE_HASHES, secret, secureRandomBytes(16), SCRAM_ITERATIONS_MIN);
    let lastError: unknown = new Error("no directory node");
    for (const address of this.directoryAddresses) {
      const client = await RpcClient.connect(address, 2_000, this.nodeConnectOptions()).catch(
        (error: unknown) => {
          lastError = error;
          return null;
        },
      );
      if (client === null) continue;
      try {
        const added = await client.call("userAdd", { uid, verifier, admin });
        return { generation: added.body.generation, secret };
      } catch (error) {
        lastError = error; // a backup directory answers NOT_PRIMARY: ask the next
      } finally {
        client.close();
      }
    }
    throw lastError;
  }

  /** The keys node `id` reads at its next start (a rotation step); `--cluster-key` format. */
  async writeNodeKeys(id: string, keys: string): Promise<void> {
    const file = this.security.keyFileOf(this.node(id).id);
    if (file === null) throw new Error(`node ${id} has no key file: start the cluster secure`);
    await writeFile(file, `${keys}\n`, { mode: 0o600 });
  }

  get nodes(): readonly NodeProcess[] {
    return this.nodeList;
  }

  /**
   * Starts a new directory node `id` with an empty folder and `--new-member`, joining the
   * running ones (`ftfs admin directory add` makes it a member); it stops with the cluster.
   */
  async addDirectory(id: string): Promise<NodeProcess> {
    if (this.newDirectory === undefined) throw new Error("this cluster cannot add nodes");
    if (this.nodeList.some((node) => node.id === id)) throw new Error(`${id} already exists`);
    const node = await this.newDirectory(id, this.directoryAddresses);
    this.nodeList.push(node);
    node.start();
    return node;
  }

  get directoryAddresses(): string[] {
    return this.nodes.filter((node) => node.role === "directory").map((node) => node.address);
  }

  node(id: string): NodeProcess {
    const found = this.nodes.find((node) => node.id === id);
    if (found === undefined) throw new Error(`no node '${id}' in this cluster`);
    return found;
  }

  /** Wait until a directory answers and every storage group has a primary and all its nodes. */
  async waitReady(timeoutMs = CLUSTER_READY_TIMEOUT_MS): Promise<void> {
    const expected = new Map<string, number>();
    for (const node of this.nodes) {
      if (node.group !== null) expected.set(node.group, (expected.get(node.group) ?? 0) + 1);
    }
    const deadline = Date.now() + timeoutMs;
    let lastProblem = "no directory answered";
    while (Date.now() < deadline) {
      const dead = this.nodes.find((node) => node.hasExited);
      if (dead !== undefined) {
        // Waiting on would only time out: say at once which node died, and why.
        const log = await readFile(dead.logPath, "utf8").catch(() => "");
        throw new Error(
          `cluster not ready: node ${dead.id} exited; the end of its log (${dead.logPath}):\n${log.slice(-LOG_TAIL_CHARS)}`,
        );
      }
      const problem = await this.readinessProblem(expected);
      if (problem === null) return;
      lastProblem = problem;
      await Bun.sleep(READY_POLL_INTERVAL_MS);
    }
    throw new Error(
      `cluster not ready after ${timeoutMs} ms: ${lastProblem} (logs in ${this.dataRoot})`,
    );
  }

  private async readinessProblem(expected: ReadonlyMap<string, number>): Promise<string | null> {
    for (const address of this.directoryAddresses) {
      let client: RpcClient | null = null;
      try {
        client = await RpcClient.connect(address, 500, this.nodeConnectOptions());
        const status = await client.call("clusterStatus", {}, { timeoutMs: 1_000 });
        const answeredByPrimary = status.body.members.some(
          (member) => member.node === status.body.node && member.primary,
        );
        if (!answeredByPrimary) continue; // a backup directory knows no groups: ask the next
        for (const [group, size] of expected) {
          const view = status.body.groups.find((candidate) => candidate.group === group);
          if (view === undefined || view.primary === null)
            return `group ${group} has no primary yet`;
          if (view.replicas.length < size)
            return `group ${group} has ${view.replicas.length}/${size} nodes`;
        }
        return null;
      } catch (error) {
        // Not up yet: try the next directory address, then poll again.
        void error;
      } finally {
        client?.close();
      }
    }
    return "no directory answered";
  }

  /** Stop every node (gracefully), then remove the data unless asked to keep it. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    if (!this.keep) await rm(this.dataRoot, { recursive: true, force: true });
  }
}

const DEFAULT_GROUPS: readonly GroupSpec[] = [
  { name: "s1", size: 3 },
  { name: "s2", size: 3 },
];

/**
 * Node ids: d1, d2, … for directories; s1a, s1b, … for group s1 (the seed's naming);
 * x1, x2, … for spares.
 */
export function clusterNodeIds(options: ClusterOptions): {
  directories: string[];
  storage: Array<{ id: string; group: string }>;
  spares: string[];
} {
  const directories = Array.from(
    { length: options.directories ?? 1 },
    (_, index) => `d${index + 1}`,
  );
  const storage = (options.groups ?? DEFAULT_GROUPS).flatMap((group) =>
    Array.from({ length: group.size }, (_, index) => ({
      id: `${group.name}${String.fromCharCode(97 + index)}`,
      group: group.name,
    })),
  );
  const spares = Array.from({ length: options.spares ?? 0 }, (_, index) => `x${index + 1}`);
  return { directories, storage, spares };
}

export async function startCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const dataRoot = options.dataRoot ?? (await mkdtemp(join(tmpdir(), "ftfs-cluster-")));
  await mkdir(dataRoot, { recursive: true });
  const ids = clusterNodeIds(options);
  const portOf = async (id: string): Promise<number> => options.ports?.[id] ?? (await freePort());
  const addressOf = async (id: string): Promise<string> =>
    `${options.hostOf?.(id) ?? "127.0.0.1"}:${await portOf(id)}`;
  const wrapOf = (id: string): readonly string[] => options.wrapOf?.(id) ?? [];
  const directoryAddresses: string[] = [];
  for (const id of ids.directories) directoryAddresses.push(await addressOf(id));
  const chunkBytes = String(options.chunkBytes ?? CHUNK_BYTES_DEFAULT);
  const env = options.env ?? {};
  const allIds = [...ids.directories, ...ids.storage.map((node) => node.id), ...ids.spares];
  const security = await prepareSecurity(options, dataRoot, allIds);
  const httpAddresses = new Map<string, string>();
  if (options.statusHttp === true) {
    for (const id of allIds) {
      const port = options.httpPorts?.[id] ?? (await freePort());
      httpAddresses.set(id, `${options.hostOf?.(id) ?? "127.0.0.1"}:${port}`);
    }
  }
  const securityArgs = (id: string): string[] => {
    const file = security.keyFileOf(id);
    const http = httpAddresses.get(id);
    return [
      ...(file === null ? ["--insecure"] : ["--cluster-key-file", file]),
      ...(http === undefined ? [] : ["--http-listen", http]),
      ...(options.nodeArgs ?? []),
    ];
  };
  const directoryProcess = (
    id: string,
    address: string,
    peers: string,
    extraArgs: readonly string[],
  ): NodeProcess => {
    const dataDir = join(dataRoot, id);
    return new NodeProcess({
      id,
      role: "directory",
      group: null,
      address,
      httpAddress: httpAddresses.get(id) ?? null,
      dataDir,
      logPath: join(dataRoot, `${id}.log`),
      env,
      wrap: wrapOf(id),
      argv: [
        DIRECTORY_MAIN,
        "--node",
        id,
        "--listen",
        address,
        "--data",
        dataDir,
        "--join",
        peers,
        "--expect",
        String(ids.directories.length),
        "--chunk-bytes",
        chunkBytes,
        ...securityArgs(id),
        ...extraArgs,
      ],
    });
  };
  const nodes: NodeProcess[] = ids.directories.map((id, index) => {
    const address = directoryAddresses[index] ?? "";
    const peers = directoryAddresses.filter((other) => other !== address).join(",");
    return directoryProcess(id, address, peers, []);
  });
  /** A directory node that joins the running group as a new member (`--new-member`). */
  const newDirectory = async (id: string, peers: readonly string[]): Promise<NodeProcess> => {
    const keyFile = security.keyFileOf(id);
    if (keyFile !== null && security.clusterKey !== null) {
      await writeFile(keyFile, `${security.clusterKey}\n`, { mode: 0o600 });
    }
    if (options.statusHttp === true) {
      httpAddresses.set(id, `${options.hostOf?.(id) ?? "127.0.0.1"}:${await freePort()}`);
    }
    return directoryProcess(id, await addressOf(id), peers.join(","), ["--new-member"]);
  };
  for (const { id, group } of ids.storage) {
    const address = await addressOf(id);
    const dataDir = join(dataRoot, id);
    nodes.push(
      new NodeProcess({
        id,
        role: "storage",
        group,
        address,
        httpAddress: httpAddresses.get(id) ?? null,
        dataDir,
        logPath: join(dataRoot, `${id}.log`),
        env,
        wrap: wrapOf(id),
        argv: [
          STORAGE_MAIN,
          "--node",
          id,
          "--group",
          group,
          "--listen",
          address,
          "--data",
          dataDir,
          "--join",
          directoryAddresses.join(","),
          ...securityArgs(id),
        ],
      }),
    );
  }
  for (const id of ids.spares) {
    const address = await addressOf(id);
    const dataDir = join(dataRoot, id);
    nodes.push(
      new NodeProcess({
        id,
        role: "storage",
        group: null,
        address,
        httpAddress: httpAddresses.get(id) ?? null,
        dataDir,
        logPath: join(dataRoot, `${id}.log`),
        env,
        wrap: wrapOf(id),
        argv: [
          STORAGE_MAIN,
          "--node",
          id,
          "--spare",
          "--listen",
          address,
          "--data",
          dataDir,
          "--join",
          directoryAddresses.join(","),
          ...securityArgs(id),
        ],
      }),
    );
  }
  const cluster = new LocalCluster(dataRoot, nodes, options.keep ?? false, security, newDirectory);
  for (const node of nodes) node.start();
  try {
    await cluster.waitReady();
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return cluster;
}

/**
 * Key files: with `clusterKeyFile`, every node reads that one (made with a fresh key if it is
 * missing); with `secure`, each node gets its own copy under <dataRoot>/keys, so a test can
 * rotate keys one node at a time. Otherwise nodes run `--insecure`.
 */
async function prepareSecurity(
  options: ClusterOptions,
  dataRoot: string,
  ids: readonly string[],
): Promise<ClusterSecurity> {
  const clientTls = options.clientTls;
  if (options.clusterKeyFile !== undefined) {
    const file = options.clusterKeyFile;
    const existing = await readFile(file, "utf8").catch(() => null);
    const clusterKey = existing?.trim() || generateClusterKey();
    if (existing === null || existing.trim() === "") {
      await writeFile(file, `${clusterKey}\n`, { mode: 0o600 });
    }
    return { clusterKey, keyFileOf: () => file, clientTls };
  }
  if (options.secure !== true) return { clusterKey: null, keyFileOf: () => null, clientTls };
  const clusterKey = generateClusterKey();
  const folder = join(dataRoot, "keys");
  await mkdir(folder, { recursive: true, mode: 0o700 });
  for (const id of ids)
    await writeFile(join(folder, `${id}.key`), `${clusterKey}\n`, { mode: 0o600 });
  return { clusterKey, keyFileOf: (id) => join(folder, `${id}.key`), clientTls };
}

export interface FtfsRun {
  readonly exitCode: number;
  readonly stdout: Uint8Array;
  readonly stderr: string;
}

export interface FtfsRunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: string | Uint8Array;
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** What runs: `bun apps/client/src/main.ts` unless this names another (the one binary). */
  readonly program?: readonly string[];
}

let privateConfigDir: Promise<string> | null = null;

/** One config folder per test process, so tests never read or write the user's own session. */
function testConfigDir(): Promise<string> {
  privateConfigDir ??= mkdtemp(join(tmpdir(), "ftfs-config-"));
  return privateConfigDir;
}

/**
 * Start the real `ftfs` binary with its output piped, for a command that runs until stopped
 * (`ftfs status --watch`); the caller reads it and kills it. Same environment as runFtfs.
 */
export async function spawnFtfs(
  args: readonly string[],
  options: Omit<FtfsRunOptions, "timeoutMs"> = {},
): Promise<Subprocess<"ignore" | Blob, "pipe", "pipe">> {
  const configDir = await testConfigDir();
  return Bun.spawn([...(options.program ?? [process.execPath, FTFS_MAIN]), ...args], {
    env: { ...process.env, FTFS_CONFIG_DIR: configDir, ...options.env },
    cwd: options.cwd ?? REPO_ROOT,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
}

/**
 * Run the real `ftfs` binary to completion and capture what it printed. Unless the caller sets
 * FTFS_CONFIG_DIR, its session lives in a private folder shared by this test process's runs.
 */
export async function runFtfs(
  args: readonly string[],
  options: FtfsRunOptions = {},
): Promise<FtfsRun> {
  const child = await spawnFtfs(args, options);
  const timeoutMs = options.timeoutMs ?? FTFS_RUN_TIMEOUT_MS_DEFAULT;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).bytes(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

export const S3_GATEWAY_MAIN = join(REPO_ROOT, "apps/s3/src/main.ts");
/** How long the S3 gateway may take to answer after it is spawned. */
export const S3_GATEWAY_START_TIMEOUT_MS = 10_000;

export interface S3GatewayOptions {
  readonly listen: string;
  readonly cluster: readonly string[];
  readonly clusterKeyFile: string;
  /** HTTPS (and TLS to the nodes), as the gateway's --tls-cert/--tls-key mean. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly ca: string };
  /** Where its log goes (default: this process's stderr). */
  readonly logFile?: string;
  /** Extra environment (FTFS_PARENT_PID, so it ends with its parent). */
  readonly env?: Readonly<Record<string, string>>;
  /** Serve its /metrics, /healthz and /readyz here (--http-listen). */
  readonly httpListen?: string;
}

/** The S3 gateway as a child process; answers once it serves at its endpoint. */
export async function startS3Gateway(
  options: S3GatewayOptions,
): Promise<{ readonly endpoint: string; readonly process: Subprocess }> {
  const tlsArgs =
    options.tls === undefined
      ? []
      : ["--tls-cert", options.tls.certFile, "--tls-key", options.tls.keyFile];
  const output = options.logFile === undefined ? "inherit" : Bun.file(options.logFile);
  const child = Bun.spawn(
    [
      process.execPath,
      S3_GATEWAY_MAIN,
      "--listen",
      options.listen,
      "--cluster",
      options.cluster.join(","),
      "--cluster-key-file",
      options.clusterKeyFile,
      ...tlsArgs,
      ...(options.httpListen === undefined ? [] : ["--http-listen", options.httpListen]),
    ],
    { stdout: output, stderr: output, env: { ...process.env, ...options.env } },
  );
  const endpoint = `${options.tls === undefined ? "http" : "https"}://${options.listen}`;
  const fetchOptions = options.tls === undefined ? {} : { tls: { ca: options.tls.ca } };
  const deadline = Date.now() + S3_GATEWAY_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const up = await fetch(endpoint, fetchOptions).then(
      () => true,
      () => false,
    );
    if (up) return { endpoint, process: child };
    await Bun.sleep(READY_POLL_INTERVAL_MS);
  }
  child.kill();
  throw new Error(`the S3 gateway at ${endpoint} did not start`);
}
