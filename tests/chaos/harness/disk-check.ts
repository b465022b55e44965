/**
 * After healing, garbage collection must have left exactly the live data on disk. Owns: waiting
 * for GC passes (counted from the storage nodes' logs, "garbage collection pass done"), what
 * the directory says is live (every version it still keeps: not deleted, not pruned by its keep
 * policy; their chunks per group),
 * and what each storage node's disk holds (chunk files and segment records). A node must hold every live chunk of its
 * group (a missing one is lost data, acknowledged or not) and at most DISK_SLACK_BYTES more.
 *
 * No exemption: a node whose clock was stepped back (clock-jump) holds in memory, by its wall
 * clock, the puts and the deleted uploads' chunks it saw while ahead, for up to the step (by
 * design: chunk-store.ts `hold`, gc-rules.ts "recentlyPut"), so the run restarts such nodes
 * before this check (a restart ends those holds; nothing persisted counts wall time).
 */

import { FtfsError, type Manifest } from "@ftfs/protocol/core";
import { createMemoryLogger, type RpcPool } from "@ftfs/protocol/io";
import { clusterView, type LocalCluster, type NodeProcess } from "@ftfs/protocol/testing";
import { chunksOnDisk as storedChunksOnDisk } from "@ftfs/storage/io";
import { chaosNodePool } from "./client.ts";

const GC_PASS_LINE = '"msg":"garbage collection pass done"';
const POLL_MS = 250;
const CALL_TIMEOUT_MS = 5_000;
const POOL_CONNECT_TIMEOUT_MS = 1_000;
/** Manifests asked of the directory at once while listing what is live. */
const MANIFEST_CONCURRENCY = 8;
/**
 * Chunk bytes a storage node may hold beyond its group's live chunks once GC has settled: after
 * the load stopped no upload is in flight, every unfinished one is past its deadline, and two
 * audit passes have run, so the expected excess is zero. One workload file's worth (four 64 KiB
 * chunks) allows for a put the harness's own reads cannot cause, without hiding a real leak.
 */
export const DISK_SLACK_BYTES = 256 * 1024;

export interface GcTally {
  readonly passes: number;
  readonly collected: number;
  readonly bytesFreed: number;
}

/** The GC passes a storage node has logged (over every life of the node), and what they freed. */
export async function gcTally(node: NodeProcess): Promise<GcTally> {
  let passes = 0;
  let collected = 0;
  let bytesFreed = 0;
  for (const line of (await node.log()).split("\n")) {
    if (!line.includes(GC_PASS_LINE)) continue;
    const pass = JSON.parse(line) as { collected?: number; bytesFreed?: number };
    passes += 1;
    collected += pass.collected ?? 0;
    bytesFreed += pass.bytesFreed ?? 0;
  }
  return { passes, collected, bytesFreed };
}

function storageNodes(cluster: LocalCluster): NodeProcess[] {
  return cluster.nodes.filter((node) => node.role === "storage");
}

/**
 * Waits until `notBeforeMs` (performance.now time) has passed, then until every storage node
 * started for a group has logged `passes` more GC passes than it had then. Spares are left out:
 * convergence already required them back in the pool, where they hold nothing and collect
 * nothing (the disk check still requires their folders empty). Answers null, or what was
 * still missing.
 */
export async function waitForGcPasses(
  cluster: LocalCluster,
  notBeforeMs: number,
  passes: number,
  timeoutMs: number,
): Promise<string | null> {
  const restMs = notBeforeMs - performance.now();
  if (restMs > 0) await Bun.sleep(restMs);
  const nodes = storageNodes(cluster).filter((node) => node.group !== null);
  const from = await Promise.all(nodes.map(async (node) => (await gcTally(node)).passes));
  let behind: string[] = [];
  for (const deadline = performance.now() + timeoutMs; performance.now() < deadline; ) {
    const now = await Promise.all(nodes.map(async (node) => (await gcTally(node)).passes));
    behind = nodes.flatMap((node, at) => {
      const done = (now[at] ?? 0) - (from[at] ?? 0);
      return done < passes ? [`${node.id} (${done} of ${passes})`] : [];
    });
    if (behind.length === 0) return null;
    await Bun.sleep(POLL_MS);
  }
  return `GC passes after the load stopped: ${behind.join(", ")}`;
}

/** Live chunks per group: chunk id → bytes, over every live version the directory keeps. */
type LiveChunks = Map<string, Map<string, number>>;

interface LiveFigures {
  readonly chunks: LiveChunks;
  readonly versions: number;
  readonly names: number;
}

interface VersionRef {
  readonly uid: string;
  readonly name: string;
  readonly version: number;
}

/** A version's manifest, or null when it is not live (deleted, or a deletion's own number). */
async function manifestOf(
  pool: RpcPool,
  address: string,
  ref: VersionRef,
): Promise<Manifest | null> {
  try {
    const answer = await pool.call(address, "getManifest", ref, { timeoutMs: CALL_TIMEOUT_MS });
    return answer.body.manifest;
  } catch (error) {
    if (error instanceof FtfsError && error.code === "NOT_FOUND") return null;
    throw error;
  }
}

/** Every version 1…latest of every listed name, asked of the directory primary. */
async function liveChunks(
  cluster: LocalCluster,
  pool: RpcPool,
  uids: readonly string[],
): Promise<LiveFigures> {
  const primary = (await clusterView(cluster)).directoryPrimary;
  if (primary === null) throw new Error("no directory primary to list live versions");
  const wanted: VersionRef[] = [];
  let names = 0;
  for (const uid of uids) {
    const options = { timeoutMs: CALL_TIMEOUT_MS };
    const listed = await pool.call(primary.address, "listFiles", { uid, stale: true }, options);
    for (const file of listed.body.files) {
      names += 1;
      for (let version = 1; version <= file.version; version += 1) {
        wanted.push({ uid, name: file.name, version });
      }
    }
  }
  const chunks: LiveChunks = new Map();
  let versions = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < wanted.length; index = next++) {
      const item = wanted[index];
      if (item === undefined) continue;
      const manifest = await manifestOf(pool, primary.address, item);
      if (manifest === null) continue;
      versions += 1;
      for (const chunk of manifest.chunks) {
        const group = chunks.get(chunk.group) ?? new Map<string, number>();
        group.set(chunk.id, chunk.bytes);
        chunks.set(chunk.group, group);
      }
    }
  };
  await Promise.all(Array.from({ length: MANIFEST_CONCURRENCY }, worker));
  return { chunks, versions, names };
}

/** Chunk id → bytes of every chunk a storage node's disk holds (chunk files and segment records). */
async function chunksOnDisk(dataDir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const [id, chunk] of await storedChunksOnDisk(dataDir, createMemoryLogger())) {
    found.set(id, chunk.bytes);
  }
  return found;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

const KIB = 1024;

function kib(bytes: number): string {
  return `${(bytes / KIB).toFixed(0)} KiB`;
}

export interface DiskReport {
  readonly figures: readonly string[];
  /** Nodes lacking chunks of live versions (data lost, acknowledged or not). */
  readonly lost: readonly string[];
  /** Nodes holding more than DISK_SLACK_BYTES of chunks no live version names. */
  readonly garbage: readonly string[];
}

interface NodeDisk {
  readonly node: NodeProcess;
  readonly liveBytes: number;
  readonly diskBytes: number;
  readonly missing: readonly string[];
  /** Chunks no live version names. */
  readonly extra: readonly string[];
  readonly extraBytes: number;
  readonly figure: string;
}

async function nodeDisk(node: NodeProcess, live: ReadonlyMap<string, number>): Promise<NodeDisk> {
  const found = await chunksOnDisk(node.dataDir);
  const missing = [...live.keys()].filter((id) => !found.has(id));
  const extra = [...found.keys()].filter((id) => !live.has(id));
  const extraBytes = sum(extra.map((id) => found.get(id) ?? 0));
  const liveBytes = sum(live.values());
  const diskBytes = sum(found.values());
  const figure =
    `${node.id}: ${kib(diskBytes)} in ${found.size} chunks; ` +
    `live ${kib(liveBytes)} in ${live.size}; ${extra.length} extra (${kib(extraBytes)}), ` +
    `${missing.length} missing`;
  return { node, liveBytes, diskBytes, missing, extra, extraBytes, figure };
}

/** Compares every storage node's stored chunks with its group's live chunks. */
export async function checkDiskUse(
  cluster: LocalCluster,
  uids: readonly string[],
): Promise<DiskReport> {
  const pool = chaosNodePool(cluster, POOL_CONNECT_TIMEOUT_MS);
  let live: LiveFigures;
  try {
    live = await liveChunks(cluster, pool, uids);
  } finally {
    pool.close();
  }
  const disks = await Promise.all(
    storageNodes(cluster).map((node) =>
      nodeDisk(node, live.chunks.get(node.group ?? "") ?? new Map<string, number>()),
    ),
  );
  const lost = disks
    .filter((disk) => disk.missing.length > 0)
    .map(
      (disk) =>
        `${disk.node.id} lacks ${disk.missing.length} chunks of live versions ` +
        `(e.g. ${disk.missing[0]?.slice(0, 12)})`,
    );
  const garbage = disks
    .filter((disk) => disk.extraBytes > DISK_SLACK_BYTES)
    .map(
      (disk) =>
        `${disk.node.id} holds ${disk.extra.length} chunks (${kib(disk.extraBytes)}) no live version ` +
        `names, past the ${kib(DISK_SLACK_BYTES)} slack (e.g. ${disk.extra[0]?.slice(0, 12)})`,
    );
  const onDisk = sum(disks.map((disk) => disk.diskBytes));
  const total =
    `disk: ${kib(onDisk)} of chunks stored; ` +
    `live × replicas ${kib(sum(disks.map((disk) => disk.liveBytes)))} ` +
    `(${live.versions} live versions of ${live.names} names); ` +
    `slack ${kib(DISK_SLACK_BYTES)} per node`;
  return { figures: [total, ...disks.map((disk) => disk.figure)], lost, garbage };
}

/** One line on GC over the whole run: passes, chunks and bytes collected, per storage node. */
export async function gcFigures(cluster: LocalCluster): Promise<string> {
  const parts = await Promise.all(
    storageNodes(cluster).map(async (node) => {
      const tally = await gcTally(node);
      const freed = kib(tally.bytesFreed);
      return `${node.id} ${tally.passes} passes, ${tally.collected} chunks (${freed})`;
    }),
  );
  return `GC: ${parts.join("; ")}`;
}

/** One line on spares: how often each was assigned to a group and released back to the pool. */
export async function spareFigures(cluster: LocalCluster): Promise<string> {
  const spares = storageNodes(cluster).filter((node) => node.group === null);
  const parts = await Promise.all(
    spares.map(async (node) => {
      const lines = (await node.log()).split("\n");
      const count = (msg: string): number =>
        lines.filter((line) => line.includes(`"msg":"${msg}"`)).length;
      const assigned = count("spare assigned to a group");
      const released = count("released spare forgot its group");
      return `${node.id} assigned ${assigned} times, released ${released} times`;
    }),
  );
  return `spares: ${parts.join("; ")}`;
}
