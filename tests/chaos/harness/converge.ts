/**
 * After healing: is the cluster whole again? Every node running; every directory answering,
 * exactly one of them primary; every storage group with a primary, all of its nodes in sync
 * (no learners) and its replication factor met; every directory node's own applied state
 * listing the same files as the primary; and every chunk of every acknowledged version no
 * acknowledged delete removed on every node of its group. Asked of each node directly, with
 * short timeouts.
 */

import { CHUNK_IDS_PER_REQUEST_MAX, FtfsError, type Manifest } from "@ftfs/protocol/core";
import type { RpcPool } from "@ftfs/protocol/io";
import type { LocalCluster } from "@ftfs/protocol/testing";
import { chaosNodePool } from "./client.ts";

const CALL_TIMEOUT_MS = 2_000;
const POOL_CONNECT_TIMEOUT_MS = 1_000;
const POLL_INTERVAL_MS = 500;

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((item) => set.has(item));
}

/** Shown when two holders differ: a few entries only one of them has. */
const DIFFERENCE_SHOWN_MAX = 4;

function difference(a: readonly string[], b: readonly string[]): string {
  const inB = new Set(b);
  const inA = new Set(a);
  const onlyA = a.filter((item) => !inB.has(item)).slice(0, DIFFERENCE_SHOWN_MAX);
  const onlyB = b.filter((item) => !inA.has(item)).slice(0, DIFFERENCE_SHOWN_MAX);
  return `only first: [${onlyA.join(" ")}]; only second: [${onlyB.join(" ")}]`;
}

/** The first reason the cluster is not converged, or null when it is. */
export async function convergenceProblem(
  cluster: LocalCluster,
  pool: RpcPool,
  versions: readonly FileVersion[],
  manifests: Map<string, Manifest>,
): Promise<string | null> {
  const uids = [...new Set(versions.map((version) => version.uid))];
  const stopped = cluster.nodes.filter((node) => !node.running);
  if (stopped.length > 0) return `not running: ${stopped.map((node) => node.id).join(", ")}`;
  const directories = cluster.nodes.filter((node) => node.role === "directory");
  const statuses = [];
  for (const node of directories) {
    try {
      statuses.push({
        node,
        status: (await pool.call(node.address, "clusterStatus", {}, { timeoutMs: CALL_TIMEOUT_MS }))
          .body,
      });
    } catch (error) {
      return `directory ${node.id} does not answer clusterStatus: ${String(error)}`;
    }
  }
  const primaries = statuses.filter(({ status }) =>
    status.members.some((member) => member.node === status.node && member.primary),
  );
  if (primaries.length !== 1) return `${primaries.length} directory nodes call themselves primary`;
  const primary = primaries[0];
  if (primary === undefined) return "no directory primary";
  for (const node of cluster.nodes) {
    const member = primary.status.members.find((candidate) => candidate.node === node.id);
    if (member?.state !== "alive")
      return `primary ${primary.node.id} sees ${node.id} as ${member?.state ?? "absent"}`;
  }
  for (const group of primary.status.groups) {
    const expected = cluster.nodes
      .filter((node) => node.group === group.group)
      .map((node) => node.id);
    const inSync = group.replicas.map((replica) => replica.node);
    if (group.primaryNode === null) return `group ${group.group} has no primary`;
    if ((group.learners ?? []).length > 0)
      return `group ${group.group} still has learners ${(group.learners ?? []).map((l) => l.node).join(",")}`;
    if (!sameSet(inSync, expected))
      return `group ${group.group} in sync: ${inSync.join(",")}; expected ${expected.join(",")}`;
    if (group.replicationFactor !== undefined && inSync.length < group.replicationFactor) {
      return `group ${group.group} has ${inSync.length}/${group.replicationFactor} replicas`;
    }
  }
  for (const uid of uids) {
    const listings: Array<{ id: string; files: string[] }> = [];
    for (const node of directories) {
      try {
        const answer = (
          await pool.call(
            node.address,
            "listFiles",
            { uid, stale: true },
            { timeoutMs: CALL_TIMEOUT_MS },
          )
        ).body;
        listings.push({
          id: node.id,
          files: answer.files.map((f) => `${f.name}@${f.version}:${f.sha256}`),
        });
      } catch (error) {
        return `directory ${node.id} cannot list ${uid}: ${String(error)}`;
      }
    }
    const [first, ...rest] = listings;
    for (const other of rest) {
      if (first !== undefined && !sameSet(first.files, other.files)) {
        return `directories ${first.id} and ${other.id} list ${uid} differently: ${difference(first.files, other.files)}`;
      }
    }
  }
  return missingChunks(cluster, pool, primary.node.address, versions, manifests);
}

/** An acknowledged version whose chunks must be on every in-sync node of their groups. */
export interface FileVersion {
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  /** An unknown delete or unknown writes may have removed it: NOT_FOUND is then an answer. */
  readonly mayBeGone?: boolean;
}

/**
 * The replication factor restored for the data itself: every chunk of every acknowledged
 * version is on every in-sync node of the group its manifest places it in (asked of each node
 * with hasChunks). Manifests never change, so they are fetched once and kept across polls.
 */
async function missingChunks(
  cluster: LocalCluster,
  pool: RpcPool,
  directory: string,
  versions: readonly FileVersion[],
  manifests: Map<string, Manifest>,
): Promise<string | null> {
  const wanted = new Map<string, Map<string, string>>(); // group -> chunk id -> one version naming it
  for (const version of versions) {
    const key = `${version.uid}/${version.name}@v${version.version}`;
    let manifest = manifests.get(key);
    if (manifest === undefined) {
      try {
        const answer = await pool.call(
          directory,
          "getManifest",
          { uid: version.uid, name: version.name, version: version.version },
          { timeoutMs: CALL_TIMEOUT_MS },
        );
        manifest = answer.body.manifest;
      } catch (error) {
        const gone = error instanceof FtfsError && error.code === "NOT_FOUND";
        if (gone && version.mayBeGone === true) continue;
        return `no manifest for ${key}: ${String(error)}`;
      }
      manifests.set(key, manifest);
    }
    for (const chunk of manifest.chunks) {
      const chunks = wanted.get(chunk.group) ?? new Map<string, string>();
      chunks.set(chunk.id, key);
      wanted.set(chunk.group, chunks);
    }
  }
  for (const [group, chunks] of wanted) {
    const ids = [...chunks.keys()];
    for (const node of cluster.nodes.filter((candidate) => candidate.group === group)) {
      const present = new Set<string>();
      for (let from = 0; from < ids.length; from += CHUNK_IDS_PER_REQUEST_MAX) {
        try {
          const answer = await pool.call(
            node.address,
            "hasChunks",
            { chunkIds: ids.slice(from, from + CHUNK_IDS_PER_REQUEST_MAX) },
            { timeoutMs: CALL_TIMEOUT_MS },
          );
          for (const id of answer.body.present) present.add(id);
        } catch (error) {
          return `storage ${node.id} does not answer hasChunks: ${String(error)}`;
        }
      }
      const missing = ids.filter((id) => !present.has(id));
      if (missing.length > 0) {
        const example = missing[0] ?? "";
        return (
          `storage ${node.id} lacks ${missing.length} of the ${ids.length} chunks group ${group} holds for ` +
          `acknowledged versions (e.g. ${chunks.get(example)} chunk ${example.slice(0, 12)})`
        );
      }
    }
  }
  return null;
}

/** Polls until converged; returns null, or the last problem seen when `timeoutMs` runs out. */
export async function waitConverged(
  cluster: LocalCluster,
  versions: readonly FileVersion[],
  timeoutMs: number,
): Promise<string | null> {
  const pool = chaosNodePool(cluster, POOL_CONNECT_TIMEOUT_MS);
  const manifests = new Map<string, Manifest>();
  const deadline = performance.now() + timeoutMs;
  let problem: string | null = "not checked";
  try {
    while (performance.now() < deadline) {
      problem = await convergenceProblem(cluster, pool, versions, manifests);
      if (problem === null) return null;
      await Bun.sleep(POLL_INTERVAL_MS);
    }
    return problem;
  } finally {
    pool.close();
  }
}
