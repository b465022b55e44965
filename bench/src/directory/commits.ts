/**
 * The directory's commit rate: metadata-only commits (placeUpload + commitUpload of an empty
 * file, which needs no storage) over raw RPC straight to the primary of a 3-node directory
 * group, from many concurrent clients and from one, beside the machine's fdatasync rate on the
 * same filesystem measured in the same run. A ratio above 1 means commits share fsyncs (group
 * commit). Raw RPC, not FtfsClient: what is timed is the directory's own cost, not the client
 * library's retry layer. Owns its cluster and connections.
 */

import { join } from "node:path";
import { EMPTY_SHA256 } from "@ftfs/directory/core";
import { startCluster } from "@ftfs/protocol/testing";
import type { LocalCluster } from "@ftfs/protocol/testing";
import {
  errorText,
  log,
  PrimaryConnection,
  summarize,
  waitForSettled,
  type DirectoryView,
  type LatencySummary,
} from "./probe.ts";
import { measureFdatasyncRateMedian } from "../machine/fdatasync-rate.ts";
import { cpuSeconds } from "../common/proc-stats.ts";

const KIB = 1024;
const DIRECTORIES = 3;
const STORAGE_REPLICAS = 3;
const STORAGE_GROUPS = 1;
const CHUNK_BYTES = 64 * KIB;
const SETTLE_DEADLINE_MS = 30_000;
const CONNECT_TIMEOUT_MS = 2_000;
/** One commit waits at most this; a longer one is counted as an error, not a latency. */
const COMMIT_TIMEOUT_MS = 10_000;
/** Commits before the measured window, so connections and the JIT are warm. */
const WARMUP_MS = 1_000;
/** After an error a loop pauses briefly instead of spinning on a failing primary. */
const ERROR_PAUSE_MS = 50;

export interface CommitOptions {
  readonly clients: number;
  readonly windowMs: number;
  readonly sequentialWindowMs: number;
  readonly fsyncWindowMs: number;
  readonly fsyncRuns: number;
}

export interface CommitWindow {
  readonly clients: number;
  readonly commitsPerSecond: number;
  /** placeUpload + commitUpload, as a client waits for them. */
  readonly pair: LatencySummary;
  readonly commitOnly: LatencySummary;
  readonly errors: number;
  readonly firstErrors: readonly string[];
  readonly redirects: number;
  /** CPU used during the measured window, in cores (1.0 = one core busy all the time). */
  readonly cpuCores: ReadonlyArray<{ readonly id: string; readonly cores: number }>;
}

export interface CommitFigures {
  readonly fdatasyncsPerSecond: number;
  readonly fdatasyncRuns: readonly number[];
  readonly concurrent: CommitWindow;
  readonly sequential: CommitWindow;
}

export interface CommitTiming {
  readonly pairMs: number;
  readonly commitMs: number;
}

/** One empty-file commit: where to put it (nowhere: no chunks), then make it a version. */
export async function commitEmptyFile(
  connection: PrimaryConnection,
  uid: string,
  name: string,
): Promise<CommitTiming> {
  const startMs = performance.now();
  const placed = await connection.call("placeUpload", { uid, name, bytes: 0 }, COMMIT_TIMEOUT_MS);
  const commitStartMs = performance.now();
  const { uploadId } = placed.body;
  const manifest = { uid, name, uploadId, bytes: 0, sha256: EMPTY_SHA256, chunks: [] };
  await connection.call("commitUpload", manifest, COMMIT_TIMEOUT_MS);
  const endMs = performance.now();
  return { pairMs: endMs - startMs, commitMs: endMs - commitStartMs };
}

export async function runCommits(options: CommitOptions, dataRoot: string): Promise<CommitFigures> {
  const { fsyncRuns, fsyncWindowMs } = options;
  log(`fdatasync probe: ${fsyncRuns} × ${fsyncWindowMs} ms of 4 KiB append + fdatasync`);
  const fsync = measureFdatasyncRateMedian(dataRoot, fsyncWindowMs, fsyncRuns);
  const cluster = await startCluster({
    directories: DIRECTORIES,
    groups: [{ name: "s1", size: STORAGE_REPLICAS }],
    chunkBytes: CHUNK_BYTES,
    dataRoot: join(dataRoot, "commit-cluster"),
  });
  try {
    const primary = await waitForSettled(cluster.nodes, STORAGE_GROUPS, SETTLE_DEADLINE_MS);
    const watched = watchedProcesses(cluster, primary);
    const address = primary.node.address;
    log(`commit rate: ${options.clients} clients for ${options.windowMs} ms at ${primary.node.id}`);
    const { clients, windowMs } = options;
    const concurrent = await measureWindow(address, clients, windowMs, "many", watched);
    log(`commit rate: 1 client for ${options.sequentialWindowMs} ms`);
    const sequential = await measureWindow(address, 1, options.sequentialWindowMs, "one", watched);
    return { fdatasyncsPerSecond: fsync.median, fdatasyncRuns: fsync.runs, concurrent, sequential };
  } finally {
    await cluster.stop();
  }
}

interface WatchedProcess {
  readonly id: string;
  readonly pids: readonly number[];
}

/** The primary, its backups, the storage nodes together, and the bench (the clients run here). */
function watchedProcesses(cluster: LocalCluster, primary: DirectoryView): WatchedProcess[] {
  const directories = cluster.nodes.filter((node) => node.role === "directory");
  const backups = directories.filter((node) => node !== primary.node);
  const storage = cluster.nodes.filter((node) => node.role === "storage");
  return [
    { id: `${primary.node.id} (primary)`, pids: [primary.node.pid ?? 0] },
    ...backups.map((node) => ({ id: node.id, pids: [node.pid ?? 0] })),
    { id: `storage ×${storage.length}`, pids: storage.map((node) => node.pid ?? 0) },
    { id: "bench", pids: [process.pid] },
  ];
}

async function cpuOf(watched: readonly WatchedProcess[]): Promise<number[]> {
  return Promise.all(
    watched.map(async (entry) => {
      const each = await Promise.all(entry.pids.map((pid) => cpuSeconds(pid)));
      return each.reduce<number>((sum, value) => sum + (value ?? Number.NaN), 0);
    }),
  );
}

interface Sample {
  readonly endMs: number;
  readonly timing: CommitTiming;
}

/** `clients` loops, one connection and one user each, committing until the window closes. */
async function measureWindow(
  address: string,
  clients: number,
  windowMs: number,
  tag: string,
  watched: readonly WatchedProcess[],
): Promise<CommitWindow> {
  const connections = await Promise.all(
    Array.from({ length: clients }, () => PrimaryConnection.open(address, CONNECT_TIMEOUT_MS)),
  );
  const samples: Sample[] = [];
  const errors: string[] = [];
  try {
    // Users are created before the clock starts: connect is a one-time cost, not a commit.
    await Promise.all(
      connections.map((connection, index) =>
        connection.call("connect", { uid: `${tag}-${index}` }, COMMIT_TIMEOUT_MS),
      ),
    );
    const windowStartMs = performance.now() + WARMUP_MS;
    const windowEndMs = windowStartMs + windowMs;
    const cpuAtStart = Bun.sleep(WARMUP_MS).then(() => cpuOf(watched));
    const cpuAtEnd = Bun.sleep(WARMUP_MS + windowMs).then(() => cpuOf(watched));
    await Promise.all(
      connections.map(async (connection, index) => {
        const uid = `${tag}-${index}`;
        for (let n = 0; performance.now() < windowEndMs; n += 1) {
          try {
            const timing = await commitEmptyFile(connection, uid, `f${n}`);
            samples.push({ endMs: performance.now(), timing });
          } catch (error) {
            errors.push(errorText(error));
            await Bun.sleep(ERROR_PAUSE_MS);
          }
        }
      }),
    );
    const [before, after] = await Promise.all([cpuAtStart, cpuAtEnd]);
    const cpuCores = watched.map((entry, at) => ({
      id: entry.id,
      cores: ((after[at] ?? Number.NaN) - (before[at] ?? Number.NaN)) / (windowMs / 1000),
    }));
    const inWindow = (sample: Sample): boolean =>
      sample.endMs >= windowStartMs && sample.endMs <= windowEndMs;
    const counted = samples.filter(inWindow);
    return {
      clients,
      commitsPerSecond: counted.length / (windowMs / 1000),
      pair: summarize(counted.map((sample) => sample.timing.pairMs)),
      commitOnly: summarize(counted.map((sample) => sample.timing.commitMs)),
      errors: errors.length,
      firstErrors: errors.slice(0, 3),
      redirects: connections.reduce((sum, connection) => sum + connection.redirects, 0),
      cpuCores,
    };
  } finally {
    for (const connection of connections) connection.close();
  }
}
