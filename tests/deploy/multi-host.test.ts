/**
 * The README's "Deploying on hosts", done as a newcomer would, on three hosts that share only a
 * network (network namespaces on a bridge: the chaos harness's ChaosNet): `bun run build` makes
 * the one binary (into a temporary folder, outside the checkout); `ftfs cluster init` writes the
 * key and configs; on each host, exactly the commands it printed for that host start the nodes,
 * with no Bun, no Node and no checkout in reach (PATH is an empty folder, the working folder a
 * temporary one). From the host side, through the binary alone: the first admin's login line
 * as printed, a user, the seed's journey (`c`, `a`, `r`, `d`, `d --from storage`), the web
 * console's page and script, and the S3 gateway answering. Then every process of the host
 * holding the directory primary gets kill -9, and the journey must still pass: reads of what
 * was written, listings, and a new upload. Where namespaces cannot be made this is reported as
 * skipped, except under CI=true, where it fails: CI runs as root and must run it.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LocalCluster, NodeProcess, type NodeRole, runFtfs } from "@ftfs/protocol/testing";
import { ChaosNet } from "../chaos/harness/net.ts";

const REPO_ROOT = resolve(import.meta.dir, "../..");
const HOSTS = ["h1", "h2", "h3"] as const;
const DIRECTORY_PORT = 7101;
const STORAGE_PORT = 7111;
const S3_PORT = 7180;
/** As `ftfs cluster init` defaults: each node's HTTP page on its port + 1000. */
const HTTP_PORT_OFFSET = 1000;
/** Building takes about a second; the cluster, its journey and a failover well under a minute. */
const TEST_TIMEOUT_MS = 150_000;
const BUILD_TIMEOUT_MS = 60_000;
/** A failover (gossip sees the kill in about a second, then an election) fits well within this. */
const FAILOVER_DEADLINE_MS = 45_000;
const RETRY_PAUSE_MS = 500;
const PHOTO_BYTES = 9 * 1024 * 1024;

const unavailable = ChaosNet.unavailableReason();

interface Deployment {
  readonly root: string;
  readonly binary: string;
  readonly net: ChaosNet;
  readonly cluster: LocalCluster;
  readonly gateway: NodeProcess;
  readonly initOutput: string;
  readonly configDir: string;
}

let deployment: Deployment | null = null;
afterAll(async () => {
  if (deployment === null) return;
  await Promise.all([deployment.cluster.stop(), deployment.gateway.stop()]);
  deployment.net.destroy();
  if (process.env.FTFS_KEEP !== "1") await rm(deployment.root, { recursive: true, force: true });
});

/** `bun run build`, as CI and the README run it, with the binary written outside the checkout. */
async function build(outfile: string): Promise<{ output: string; ms: number }> {
  const startedMs = performance.now();
  const child = Bun.spawn([process.execPath, "run", "build", "--outfile", outfile], {
    cwd: REPO_ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), BUILD_TIMEOUT_MS);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`bun run build failed (${code}):\n${stdout}\n${stderr}`);
  return { output: stdout, ms: Math.round(performance.now() - startedMs) };
}

/** The commands `ftfs cluster init` printed for each host, by host address. */
function commandsByHost(output: string): Map<string, string[][]> {
  const byHost = new Map<string, string[][]>();
  let host: string | null = null;
  for (const line of output.split("\n")) {
    const heading = /^host (\S+)/.exec(line);
    if (heading !== null) {
      host = heading[1] ?? null;
      byHost.set(host ?? "", []);
    } else if (host !== null && line.startsWith("  ftfs server ")) {
      byHost.get(host)?.push(line.trim().split(/\s+/).slice(1));
    } else if (line.trim() === "") {
      host = null;
    }
  }
  return byHost;
}

/** The printed line that starts with `  <prefix>`, as words. */
function printedLine(output: string, prefix: string): string[] {
  const line = output.split("\n").find((candidate) => candidate.trim().startsWith(prefix));
  if (line === undefined) throw new Error(`cluster init printed no '${prefix}' line:\n${output}`);
  return line.trim().split(/\s+/);
}

/** Start each printed command in its host's namespace, with nothing but the binary in reach. */
function startHosts(
  root: string,
  binary: string,
  net: ChaosNet,
  printed: Map<string, string[][]>,
): NodeProcess[] {
  const ip = Bun.which("ip");
  if (ip === null) throw new Error("iproute2's ip is missing");
  const nothing = join(root, "empty-path");
  const processes: NodeProcess[] = [];
  for (const host of HOSTS) {
    const address = net.ipOf(host);
    for (const argv of printed.get(address) ?? []) {
      const [, role = "", , configPath = ""] = argv; // server <role> --config <path>
      const id = /([^/]+)\.toml$/.exec(configPath)?.[1] ?? role;
      const port =
        role === "directory" ? DIRECTORY_PORT : role === "storage" ? STORAGE_PORT : S3_PORT;
      processes.push(
        new NodeProcess({
          id,
          role: role as NodeRole,
          group: role === "storage" ? id.replace(/[a-z]$/, "") : null,
          address: `${address}:${port}`,
          dataDir: join(root, "data", id),
          logPath: join(root, `${id}.log`),
          argv,
          // The host has no Bun and no Node: an empty PATH, and a folder that is no checkout.
          env: { PATH: nothing, HOME: root },
          wrap: [ip, ...net.wrap(host).slice(1)],
          program: [binary],
          cwd: root,
        }),
      );
    }
  }
  return processes;
}

async function deploy(): Promise<Deployment> {
  const root = await mkdtemp(join(tmpdir(), "ftfs-deploy-"));
  await mkdir(join(root, "empty-path"));
  const net = ChaosNet.create();
  const binary = join(root, "ftfs");
  const built = await build(binary);
  console.log(`${built.output.trim()} (bun run build: ${built.ms} ms)`);
  const addresses = HOSTS.map((host) => net.addNode(host));
  const etc = join(root, "etc");
  const init = Bun.spawnSync(
    [
      binary,
      "cluster",
      "init",
      "--directory",
      addresses.map((address) => `${address}:${DIRECTORY_PORT}`).join(","),
      "--storage",
      addresses.map((address) => `s1=${address}:${STORAGE_PORT}`).join(","),
      "--s3",
      `${addresses[0]}:${S3_PORT}`,
      "--out",
      etc,
      "--config-root",
      etc,
      "--data-root",
      join(root, "data"),
    ],
    { cwd: root, env: { PATH: join(root, "empty-path") } },
  );
  const initOutput = init.stdout.toString();
  if (init.exitCode !== 0) throw new Error(`cluster init failed: ${init.stderr.toString()}`);
  const processes = startHosts(root, binary, net, commandsByHost(initOutput));
  const gateway = processes.find((node) => node.role === "s3");
  if (gateway === undefined) throw new Error(`no S3 command was printed:\n${initOutput}`);
  const keyPath = join(etc, "cluster.key");
  const clusterKey = (await readFile(keyPath, "utf8")).trim();
  const nodes = processes.filter((node) => node !== gateway);
  const cluster = new LocalCluster(root, nodes, true, { clusterKey, keyFileOf: () => keyPath });
  const configDir = join(root, "client-config");
  deployment = { root, binary, net, cluster, gateway, initOutput, configDir };
  for (const node of processes) node.start();
  await cluster.waitReady();
  return deployment;
}

/** The binary as a client on the host side; its session lives in the test's own folder. */
async function ftfs(
  d: Deployment,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const run = await runFtfs(args, {
    program: [d.binary],
    cwd: d.root,
    env: { FTFS_CONFIG_DIR: d.configDir, PATH: join(d.root, "empty-path"), ...env },
  });
  return {
    exitCode: run.exitCode,
    stdout: new TextDecoder().decode(run.stdout),
    stderr: run.stderr,
  };
}

async function ok(d: Deployment, args: readonly string[], env: Record<string, string> = {}) {
  const run = await ftfs(d, args, env);
  if (run.exitCode !== 0) throw new Error(`ftfs ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

/** Retries while the cluster fails over; the last failure is the test's. */
async function eventually(d: Deployment, args: readonly string[]): Promise<string> {
  const deadline = Date.now() + FAILOVER_DEADLINE_MS;
  for (;;) {
    const run = await ftfs(d, args);
    if (run.exitCode === 0) return run.stdout;
    if (Date.now() > deadline) throw new Error(`ftfs ${args.join(" ")}: ${run.stderr}`);
    await Bun.sleep(RETRY_PAUSE_MS);
  }
}

function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("deploying the one binary on three hosts", () => {
  test("network namespaces can be created (CI runs as root)", () => {
    expect(unavailable).toBeNull();
  });

  test(
    "cluster init's configs and commands, the seed's journey through the binary, a host killed",
    async () => {
      const startedMs = performance.now();
      const d = await deploy();
      console.log(`three hosts up in ${Math.round(performance.now() - startedMs)} ms`);
      expect(await ok(d, ["--version"])).toMatch(/^ftfs \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}/);
      // The first admin, exactly as printed; then a user that admin adds from its session.
      const addAdmin = printedLine(d.initOutput, "ftfs admin user add");
      const secret = /^([A-Za-z0-9_-]{20,})$/m.exec(await ok(d, addAdmin.slice(1)))?.[1] ?? "";
      const login = printedLine(d.initOutput, "FTFS_SECRET=");
      await ok(d, login.slice(login.indexOf("ftfs") + 1), { FTFS_SECRET: secret });
      const alice = /^([A-Za-z0-9_-]{20,})$/m.exec(await ok(d, ["admin", "user", "add", "alice"]));
      const cluster = ["--cluster", d.cluster.directoryAddresses.join(",")];
      expect(await ok(d, ["alice", "c", ...cluster], { FTFS_SECRET: alice?.[1] ?? "" })).toMatch(
        /^connected as alice; primary directory node d\d at /,
      );
      await checkJourney(d);
      await checkConsoleAndGateway(d);
      await killPrimaryHost(d);
      await checkSurvivors(d);
      console.log(`whole deployment test: ${Math.round(performance.now() - startedMs)} ms`);
    },
    TEST_TIMEOUT_MS,
  );
});

let photoSha = "";

async function checkJourney(d: Deployment): Promise<void> {
  const notes = join(d.root, "notes.txt");
  const photo = join(d.root, "photo.bin");
  await writeFile(notes, "hello from three hosts\n");
  const photoBytes = crypto.getRandomValues(new Uint8Array(PHOTO_BYTES));
  await writeFile(photo, photoBytes);
  photoSha = sha256(photoBytes);
  expect(await ok(d, ["alice", "a", notes, photo])).toMatch(
    /uploaded notes\.txt\s+v1[\s\S]*photo\.bin/,
  );
  expect(await ok(d, ["alice", "r", "notes.txt"])).toBe("hello from three hosts\n");
  const read = await runFtfs(["alice", "r", "photo.bin"], {
    program: [d.binary],
    env: { FTFS_CONFIG_DIR: d.configDir },
  });
  expect(sha256(read.stdout)).toBe(photoSha);
  const listing = await ok(d, ["alice", "d"]);
  expect(listing).toMatch(/notes\.txt\s+23 B\s+v1/);
  expect(listing).toMatch(/photo\.bin\s+9\.0 MiB\s+v1/);
  expect(await ok(d, ["alice", "d", "--from", "storage"])).toMatch(
    /photo\.bin\s+9\.0 MiB\s+v1\s+3\s+s1/,
  );
}

async function checkConsoleAndGateway(d: Deployment): Promise<void> {
  const consoleNode = d.cluster.node("d1");
  const http = consoleNode.address.replace(
    `:${DIRECTORY_PORT}`,
    `:${DIRECTORY_PORT + HTTP_PORT_OFFSET}`,
  );
  const page = await fetch(`http://${http}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain("<script");
  const script = await fetch(`http://${http}/console/app.js`);
  expect(script.status).toBe(200);
  expect(script.headers.get("content-type")).toStartWith("text/javascript");
  expect((await script.text()).length).toBeGreaterThan(1_000);
  // Unsigned, so refused; but refused by S3 rules, in S3's words: the gateway serves.
  const gateway = await fetch(`http://${d.gateway.address}/`);
  expect(gateway.status).toBe(403);
  expect(await gateway.text()).toContain("<Code>");
}

/**
 * kill -9 of every process on the host of the storage group's primary: uploads must move to
 * the new primary (a user's client once could not learn of it on a secure cluster and wrote
 * to the dead one for its whole retry deadline). Often the directory primary dies with it.
 */
async function killPrimaryHost(d: Deployment): Promise<void> {
  const keyFile = join(d.root, "etc", "cluster.key");
  const status = JSON.parse(await ok(d, ["status", "--json", "--cluster-key-file", keyFile])) as {
    members: Array<{ node: string; role: string; primary: boolean }>;
    groups: Array<{ group: string; primary: string | null }>;
  };
  const primary = status.members.find((member) => member.role === "directory" && member.primary);
  expect(primary).toBeDefined();
  const directoryHost = d.cluster.node(primary?.node ?? "").address.split(":")[0] ?? "";
  const storageHost = status.groups[0]?.primary?.split(":")[0] ?? "";
  const host = storageHost;
  const victims = [...d.cluster.nodes, d.gateway].filter((node) =>
    node.address.startsWith(`${host}:`),
  );
  expect(victims.length).toBeGreaterThanOrEqual(2);
  for (const node of victims) node.kill("SIGKILL");
  await Promise.all(victims.map((node) => node.exited()));
  const also = directoryHost === host ? " (the directory primary's too)" : "";
  console.log(`killed -9 on host ${host}${also}: ${victims.map((node) => node.id).join(", ")}`);
}

async function checkSurvivors(d: Deployment): Promise<void> {
  const failoverStartMs = performance.now();
  expect(await eventually(d, ["alice", "r", "notes.txt"])).toBe("hello from three hosts\n");
  console.log(`read back after the kill in ${Math.round(performance.now() - failoverStartMs)} ms`);
  const after = join(d.root, "after.txt");
  await writeFile(after, "written after the kill\n");
  expect(await eventually(d, ["alice", "a", after])).toMatch(/uploaded after\.txt\s+v1/);
  console.log(
    `journey back after the kill in ${Math.round(performance.now() - failoverStartMs)} ms`,
  );
  expect(await ok(d, ["alice", "r", "after.txt"])).toBe("written after the kill\n");
  const read = await runFtfs(["alice", "r", "photo.bin"], {
    program: [d.binary],
    env: { FTFS_CONFIG_DIR: d.configDir },
  });
  expect(read.exitCode).toBe(0);
  expect(sha256(read.stdout)).toBe(photoSha);
  const listing = await ok(d, ["alice", "d"]);
  for (const name of ["notes.txt", "photo.bin", "after.txt"]) expect(listing).toContain(name);
  const fromStorage = await eventually(d, ["alice", "d", "--from", "storage"]);
  for (const name of ["notes.txt", "photo.bin", "after.txt"]) expect(fromStorage).toContain(name);
}
