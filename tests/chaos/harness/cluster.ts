/**
 * A real FTFS cluster with every node in its own network namespace (see net.ts): 3 directory
 * nodes, 2 storage groups of 3 and one spare storage node, started by the shared launcher through `ip netns exec`, small
 * chunks so files span chunks and groups, one storage node whose data folder is a small tmpfs
 * the nemesis can fill, GC timings of seconds (gc-timing.ts) so GC runs on live data, and, when
 * asked, every storage node's wall clock under the nemesis's control (clock.ts).
 */

import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  clusterNodeIds,
  startCluster,
  type ClusterOptions,
  type LocalCluster,
} from "@ftfs/protocol/testing";
import { clockFile, fakeClockEnv, setClockOffset } from "./clock.ts";
import {
  CHAOS_GC_GRACE_MS,
  CHAOS_KEEP_VERSIONS,
  CHAOS_UPLOAD_DEADLINE_MS,
  durationFlag,
} from "./gc-timing.ts";
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
  groups: [
    { name: "s1", size: 3 },
    { name: "s2", size: 3 },
  ],
  // Assigned to a group a node left (a kill or wipe longer than the grace below), released
  // when that node is back in sync: the final checks require it back in the pool, its disk empty.
  spares: 1,
};

/**
 * Directory `--rereplication-grace`: short enough that a killed or wiped node's group gets the
 * spare within a fault, so spares come and go under the other faults.
 */
const CHAOS_REREPLICATION_GRACE_MS = 3_000;

/**
 * Every node's environment: GC grace (storage), upload deadline, keep policy and
 * re-replication grace (directory).
 */
const CHAOS_NODE_ENV: Readonly<Record<string, string>> = {
  FTFS_REREPLICATION_GRACE: durationFlag(CHAOS_REREPLICATION_GRACE_MS),
  FTFS_GC_GRACE: durationFlag(CHAOS_GC_GRACE_MS),
  FTFS_UPLOAD_DEADLINE: durationFlag(CHAOS_UPLOAD_DEADLINE_MS),
  FTFS_KEEP_VERSIONS: String(CHAOS_KEEP_VERSIONS),
};

export interface ChaosClusterOptions {
  /** Nodes get the cluster key (their own key files); otherwise they run `--insecure`. */
  readonly secure?: boolean;
  /** Storage nodes run with libfaketime preloaded, so the nemesis can move their clocks. */
  readonly fakeClocks?: boolean;
}

export interface ChaosCluster {
  readonly net: ChaosNet;
  readonly cluster: LocalCluster;
  readonly dataRoot: string;
  readonly smallDiskDir: string;
  /**
   * Moves a storage node's wall clock by `byS` seconds (within a second) and answers its offset
   * from real time now; throws unless started with `fakeClocks`.
   */
  jumpClock(id: string, byS: number): number;
  /** The nodes whose clocks were moved at some point. */
  movedClocks(): readonly string[];
  /** Stops every node, deletes the network and (unless kept) the data. */
  stop(keep: boolean): Promise<void>;
}

export async function startChaosCluster(
  dataRoot: string,
  options: ChaosClusterOptions = {},
): Promise<ChaosCluster> {
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
    const faked = options.fakeClocks === true ? ids.storage.map((node) => node.id) : [];
    const offsetsS = new Map<string, number>(faked.map((id) => [id, 0]));
    for (const id of faked) setClockOffset(clockFile(dataRoot, id), 0);
    const clockFileOf = (id: string): string | null =>
      offsetsS.has(id) ? clockFile(dataRoot, id) : null;
    const moved = new Set<string>();
    const jumpClock = (id: string, byS: number): number => {
      const offsetS = offsetsS.get(id);
      if (offsetS === undefined) throw new Error(`node ${id} runs on the real clock`);
      const next = offsetS + byS;
      offsetsS.set(id, next);
      setClockOffset(clockFile(dataRoot, id), next);
      moved.add(id);
      return next;
    };
    const movedClocks = (): readonly string[] => [...moved];
    // `env` execs, as `ip netns exec` does: the spawned pid stays the node's own.
    const wrapOf = (id: string): string[] => {
      const file = clockFileOf(id);
      return file === null ? net.wrap(id) : [...net.wrap(id), ...fakeClockEnv(file)];
    };
    const smallDiskDir = join(dataRoot, SMALL_DISK_NODE);
    net.mountSmallDisk(smallDiskDir, SMALL_DISK_BYTES);
    const cluster = await startCluster({
      ...CHAOS_SHAPE,
      chunkBytes: CHAOS_CHUNK_BYTES,
      dataRoot,
      keep: true,
      ports,
      secure: options.secure ?? true,
      env: CHAOS_NODE_ENV,
      hostOf: (id) => net.ipOf(id),
      wrapOf,
    });
    return {
      net,
      cluster,
      dataRoot,
      smallDiskDir,
      jumpClock,
      movedClocks,
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
