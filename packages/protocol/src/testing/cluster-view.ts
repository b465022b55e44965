/**
 * Who is primary of what, asked of the directory nodes themselves over raw RPC with short
 * timeouts (a paused or killed node must not stall the sampler), as a node of the cluster (a
 * keyed cluster tells its status only to key holders), and the churn targets resolved against
 * that view. Owns no process.
 */

import { RpcClient } from "../io/index.ts";
import type { GroupView } from "../core/index.ts";
import type { LocalCluster, NodeProcess } from "./launcher.ts";

/** Who leads what at one moment, as the churn bench samples it each second. */
export interface MembershipSample {
  readonly tMs: number;
  /** Node id of the directory primary, null when no directory claims it. */
  readonly directoryPrimary: string | null;
  /** Group → primary node id (null: none), as the directory primary records it. */
  readonly groupPrimary: Readonly<Record<string, string | null>>;
  /** Group → in-sync replicas. */
  readonly groupInSync: Readonly<Record<string, number>>;
}

/** A status probe must answer well inside the 1 s sampling period, or it is skipped. */
const STATUS_CONNECT_TIMEOUT_MS = 400;
const STATUS_CALL_TIMEOUT_MS = 600;

interface DirectoryAnswer {
  readonly node: NodeProcess;
  readonly primary: boolean;
  readonly groups: readonly GroupView[];
}

async function ask(cluster: LocalCluster, node: NodeProcess): Promise<DirectoryAnswer | null> {
  if (!node.running) return null;
  let client: RpcClient | null = null;
  try {
    client = await RpcClient.connect(
      node.address,
      STATUS_CONNECT_TIMEOUT_MS,
      cluster.nodeConnectOptions(),
    );
    const answer = await client.call("clusterStatus", {}, { timeoutMs: STATUS_CALL_TIMEOUT_MS });
    const self = answer.body.members.find((member) => member.node === answer.body.node);
    return { node, primary: self?.primary === true, groups: answer.body.groups };
  } catch {
    return null; // killed, paused or starting: not part of this sample
  } finally {
    client?.close();
  }
}

export interface ClusterView {
  readonly directoryPrimary: NodeProcess | null;
  readonly groups: readonly GroupView[];
}

export async function clusterView(cluster: LocalCluster): Promise<ClusterView> {
  const directories = cluster.nodes.filter((node) => node.role === "directory");
  const answers = (await Promise.all(directories.map((node) => ask(cluster, node)))).filter(
    (answer): answer is DirectoryAnswer => answer !== null,
  );
  const primary = answers.find((answer) => answer.primary) ?? null;
  return { directoryPrimary: primary?.node ?? null, groups: primary?.groups ?? [] };
}

export function toSample(view: ClusterView, tMs: number): MembershipSample {
  const groupPrimary: Record<string, string | null> = {};
  const groupInSync: Record<string, number> = {};
  for (const group of view.groups) {
    groupPrimary[group.group] = group.primaryNode;
    groupInSync[group.group] = group.replicas.length;
  }
  return { tMs, directoryPrimary: view.directoryPrimary?.id ?? null, groupPrimary, groupInSync };
}

/** The node a role names now; null when the view does not say (no primary elected yet). */
export function resolveTarget(
  cluster: LocalCluster,
  view: ClusterView,
  target: string,
): NodeProcess | null {
  const [role, groupName] = target.split(":");
  const running = (node: NodeProcess): boolean => node.running;
  switch (role) {
    case "directory-primary":
      return view.directoryPrimary;
    case "directory-backup":
      return (
        cluster.nodes.find(
          (node) => node.role === "directory" && running(node) && node !== view.directoryPrimary,
        ) ?? null
      );
    case "storage-primary": {
      const group = view.groups.find((candidate) => candidate.group === groupName);
      return group?.primaryNode === null || group === undefined
        ? null
        : cluster.node(group.primaryNode);
    }
    case "storage-backup": {
      const group = view.groups.find((candidate) => candidate.group === groupName);
      const backup = group?.replicas.find((replica) => replica.node !== group.primaryNode);
      return backup === undefined ? null : cluster.node(backup.node);
    }
    default:
      return cluster.nodes.find((node) => node.id === target) ?? null;
  }
}
