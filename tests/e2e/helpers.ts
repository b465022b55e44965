/**
 * Shared helpers for the end-to-end tests: run the real `ftfs` binary with this file's own
 * config folder (so test files never share a session), make local files of known content, and
 * check the CLI's error contract (one stderr line, `ftfs: …`, no stack trace, non-zero exit).
 */

import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtemp, open, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  runFtfs,
  startCluster,
  type ClusterOptions,
  type FtfsRun,
  type FtfsRunOptions,
  type LocalCluster,
  type NodeProcess,
} from "@ftfs/protocol/testing";
import { createMemoryLogger, RpcClient, sha256Hex } from "@ftfs/protocol/io";
import { type ChunkOnDisk, chunksOnDisk } from "@ftfs/storage/io";
import { parseAddress } from "@ftfs/protocol/core";
import { FtfsClient } from "@ftfs/client";

export const KIB = 1024;
export const MIB = 1024 * KIB;
/** Small chunks so a few hundred KiB already spans several chunks and both groups. */
export const E2E_CHUNK_BYTES = 64 * KIB;
/** Polls in these tests give up after this long; each poll step waits this much. */
export const POLL_DEADLINE_MS = 15_000;
export const POLL_INTERVAL_MS = 25;
/**
 * Ceiling for one end-to-end test or cluster start: a test makes a few dozen `ftfs` runs, and
 * one of them may ride out a failover (CLIENT_RETRY_DEADLINE_MS, 20 s) on a loaded machine.
 */
export const E2E_TEST_TIMEOUT_MS = 90_000;

export interface Workspace {
  readonly folder: string;
  readonly configDir: string;
  /** Run `ftfs` with this workspace's session folder and no inherited FTFS_CLUSTER. */
  ftfs(args: readonly string[], options?: FtfsRunOptions): Promise<FtfsRun>;
  /** Write a local file and return its path. */
  file(name: string, bytes: Uint8Array | string): Promise<string>;
}

export async function workspace(): Promise<Workspace> {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-e2e-"));
  const configDir = join(folder, "config");
  return {
    folder,
    configDir,
    ftfs: (args, options = {}) =>
      runFtfs(args, {
        ...options,
        env: { FTFS_CONFIG_DIR: configDir, FTFS_CLUSTER: "", ...options.env },
      }),
    file: async (name, bytes) => {
      const path = join(folder, name);
      await writeFile(path, bytes);
      return path;
    },
  };
}

/** The e2e tests name it by what it is for them: a file's or chunk's SHA-256. */
export const sha256 = sha256Hex;

export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const randomBlockBytes = 65_536; // getRandomValues fills at most 64 KiB per call
  for (let offset = 0; offset < length; offset += randomBlockBytes) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + randomBlockBytes)));
  }
  return bytes;
}

export function text(run: FtfsRun): string {
  return new TextDecoder().decode(run.stdout);
}

/** The run succeeded; on failure the message shows what ftfs said. */
export function expectOk(run: FtfsRun): FtfsRun {
  expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 0, stderr: "" });
  return run;
}

/** Exactly one clear line on stderr, starting `ftfs: `, no stack trace, the expected exit code. */
export function expectOneLineError(run: FtfsRun, pattern: RegExp, exitCode = 1): void {
  const lines = run.stderr.split("\n").filter((line) => line.length > 0);
  expect({ exitCode: run.exitCode, lines }).toEqual({
    exitCode,
    lines: [expect.stringMatching(/^ftfs: /)],
  });
  expect(lines[0] ?? "").toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

/** A pattern matching exactly `text`, a whole line: for messages too long for one literal. */
export function wholeLine(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`);
}

/** Poll `probe` until it returns a value (not undefined) or the deadline passes. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  deadlineMs = POLL_DEADLINE_MS,
): Promise<T> {
  const giveUpAtMs = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > giveUpAtMs)
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await Bun.sleep(POLL_INTERVAL_MS);
  }
}

export interface ClusterFixture {
  readonly cluster: LocalCluster;
  readonly ws: Workspace;
  /** A library client on the cluster (for tests that drive uploads without the CLI). */
  readonly client: FtfsClient;
  /** The directory addresses as one `--cluster` value. */
  readonly clusterList: string;
}

/**
 * One real cluster per test file: started before the file's tests and stopped after them, with
 * a workspace of its own and a library client. Read the fields inside tests or later hooks.
 */
export function useCluster(options: ClusterOptions): ClusterFixture {
  let started: ClusterFixture | null = null;
  beforeAll(async () => {
    const cluster = await startCluster(options);
    started = {
      cluster,
      ws: await workspace(),
      client: new FtfsClient({ directories: cluster.directoryAddresses }),
      clusterList: cluster.directoryAddresses.join(","),
    };
  });
  afterAll(async () => {
    started?.client.close();
    await started?.cluster.stop();
  });
  const get = (): ClusterFixture => {
    if (started === null) throw new Error("the cluster is not started yet (use it inside tests)");
    return started;
  };
  return {
    get cluster() {
      return get().cluster;
    },
    get ws() {
      return get().ws;
    },
    get client() {
      return get().client;
    },
    get clusterList() {
      return get().clusterList;
    },
  };
}

/** A storage group's configuration as the cluster reports it now (it must have one). */
export async function groupView(client: FtfsClient, group: string) {
  const view = (await client.status()).groups.find((candidate) => candidate.group === group);
  if (view === undefined) throw new Error(`group ${group} has no configuration`);
  return view;
}

/** A status probe must not hang on a killed or paused node. */
const STATUS_CONNECT_TIMEOUT_MS = 500;
const STATUS_CALL_TIMEOUT_MS = 1_000;

export interface DirectoryView {
  readonly node: NodeProcess;
  readonly primary: boolean;
  readonly term: number;
}

/** What each directory node among `nodes` says of itself; one that does not answer is left out. */
export async function directoryViews(nodes: readonly NodeProcess[]): Promise<DirectoryView[]> {
  const directories = nodes.filter((node) => node.role === "directory");
  const views = await Promise.all(
    directories.map(async (node): Promise<DirectoryView | null> => {
      let client: RpcClient | null = null;
      try {
        client = await RpcClient.connect(node.address, STATUS_CONNECT_TIMEOUT_MS);
        const timeoutMs = STATUS_CALL_TIMEOUT_MS;
        const status = (await client.call("clusterStatus", {}, { timeoutMs })).body;
        const self = status.members.find((member) => member.node === status.node);
        return { node, primary: self?.primary === true, term: self?.epoch ?? 0 };
      } catch {
        return null; // a killed, paused or starting node does not answer: not in the view
      } finally {
        client?.close();
      }
    }),
  );
  return views.filter((view): view is DirectoryView => view !== null);
}

/** The one directory node that says it is primary (polled until exactly one does, not `other`). */
export async function primaryDirectory(
  nodes: readonly NodeProcess[],
  other?: NodeProcess,
): Promise<DirectoryView> {
  return pollUntil("one directory primary", async () => {
    const primaries = (await directoryViews(nodes)).filter((view) => view.primary);
    const found = primaries.length === 1 ? primaries[0] : undefined;
    return found !== undefined && found.node !== other ? found : undefined;
  });
}

/** How long a raw exchange waits for the server before it gives up. */
const RAW_ANSWER_TIMEOUT_MS = 5_000;

/**
 * Send raw bytes to a server's port; return what came back as text (error frames are JSON):
 * the first read (`until: "answer"`, an error frame is small and arrives in one read), or
 * everything until the server closes (`until: "close"`), or what came by the deadline.
 */
export async function sendRaw(
  address: string,
  bytes: Uint8Array,
  options: { readonly closeAfterSend?: boolean; readonly until?: "answer" | "close" } = {},
): Promise<string> {
  const parsed = parseAddress(address);
  if (!parsed.ok) throw parsed.error;
  const received: Uint8Array[] = [];
  const done = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: parsed.value.host,
    port: parsed.value.port,
    socket: {
      data: (_socket, chunk) => {
        received.push(new Uint8Array(chunk));
        if (options.until !== "close") done.resolve();
      },
      close: () => done.resolve(),
      error: () => done.resolve(),
    },
  });
  socket.write(bytes);
  if (options.closeAfterSend === true) socket.end();
  const timer = setTimeout(() => {
    socket.end();
    done.resolve();
  }, RAW_ANSWER_TIMEOUT_MS);
  await done.promise;
  clearTimeout(timer);
  socket.end();
  return new TextDecoder().decode(Buffer.concat(received));
}

/** A self-signed certificate for 127.0.0.1 (the name clients check), and its key. */
export async function selfSignedCertificate(
  into: string,
  name: string,
): Promise<{ cert: string; key: string }> {
  const cert = join(into, `${name}.cert.pem`);
  const key = join(into, `${name}.key.pem`);
  const made = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  return { cert, key };
}

/**
 * Every chunk a storage node's data folder holds, read from its disk alone (chunk files and
 * segment records, as the node would find them at start), with where each one's bytes are.
 */
export function storedChunks(dataDir: string): Promise<Map<string, ChunkOnDisk>> {
  return chunksOnDisk(dataDir, createMemoryLogger());
}

/** A stored chunk's bytes, read from the disk. */
export async function readStoredChunk(chunk: ChunkOnDisk): Promise<Uint8Array> {
  const file = await open(chunk.path, "r");
  try {
    const bytes = Buffer.alloc(chunk.bytes);
    await file.read(bytes, 0, chunk.bytes, chunk.offset);
    return bytes;
  } finally {
    await file.close();
  }
}

/** Flip one byte of a stored chunk on the disk, as bit rot would (`at`: its offset in the chunk). */
export async function rotStoredChunk(chunk: ChunkOnDisk, at = 0): Promise<void> {
  const file = await open(chunk.path, "r+");
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, chunk.offset + at);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await file.write(byte, 0, 1, chunk.offset + at);
  } finally {
    await file.close();
  }
}
