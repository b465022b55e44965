/**
 * A real FTFS cluster with every node in its own network namespace (see net.ts): 3 directory
 * nodes and 2 storage groups of 3, started by the shared launcher through `ip netns exec`, small
 * chunks so files span chunks and groups, and one storage node whose data folder is a small
 * tmpfs the nemesis can fill.
 */

import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { clusterNodeIds, startCluster, type ClusterOptions, type LocalCluster } from "@ftfs/protocol/testing";
import { ChaosNet } from "./net.ts";

/** Every node listens on this port of its own address (namespaces share no ports). */
const NODE_PORT = 7000;
const KIB = 1024;
const MIB = 1024 * KIB;
/** Small chunks (as the e2e tests use) so a 200 KiB file spans several chunks and both groups. */
export const CHAOS_CHUNK_BYTES = 64 * KIB;
/** The storage node whose data folder is a small disk the nemesis fills. */
export const SMALL_DISK_NODE = "s2c";
/** Room for a schedule's writes (~60 MiB per group in 45 s), so only the nemesis fills it. */
const SMALL_DISK_BYTES = 256 * MIB;

export const CHAOS_SHAPE: ClusterOptions = {
  directories: 3,
  groups: [{ name: "s1", size: 3 }, { name: "s2", size: 3 }],
};

export interface ChaosCluster {
  readonly net: ChaosNet;
  readonly cluster: LocalCluster;
  readonly dataRoot: string;
  readonly smallDiskDir: string;
  /** Stops every node, deletes the network and (unless kept) the data. */
  stop(keep: boolean): Promise<void>;
}

/** `secure`: every node gets the cluster key (its own key file); otherwise nodes run `--insecure`. */
/** The most `--keep-versions` takes; no name in a schedule gets near it. */
const KEEP_EVERY_VERSION = 1_000;

export async function startChaosCluster(dataRoot: string, secure = true): Promise<ChaosCluster> {
  await mkdir(dataRoot, { recursive: true });
  const net = ChaosNet.create();
  try {
    const ids = clusterNodeIds(CHAOS_SHAPE);
    const all = [...ids.directories, ...ids.storage.map((node) => node.id), ...ids.spares];
    const ports: Record<string, number> = {};
    for (const id of all) {
      net.addNode(id);
      ports[id] = NODE_PORT;
    }
    const smallDiskDir = join(dataRoot, SMALL_DISK_NODE);
    net.mountSmallDisk(smallDiskDir, SMALL_DISK_BYTES);
    const cluster = await startCluster({
      ...CHAOS_SHAPE,
      chunkBytes: CHAOS_CHUNK_BYTES,
      dataRoot,
      keep: true,
      ports,
      secure,
      hostOf: (id) => net.ipOf(id),
      wrapOf: (id) => net.wrap(id),
      // The checker reads back every acknowledged version after healing: keep them all.
      env: { FTFS_KEEP_VERSIONS: String(KEEP_EVERY_VERSION) },
    });
    return {
      net, cluster, dataRoot, smallDiskDir,
      stop: async (keep) => {
        await cluster.stop();
        net.destroy();
        if (!keep) await rm(dataRoot, { recursive: true, force: true });
      },
    };
  } catch (error) {
    net.destroy();
    throw error;
  }
}
