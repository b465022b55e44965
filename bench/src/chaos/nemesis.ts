/**
 * The nemesis: turns a scheduled fault into real damage on the running cluster and undoes it.
 * Process faults are signals (SIGKILL then a restart, SIGSTOP then SIGCONT); network faults are
 * nftables drop rules in the affected nodes' own namespaces (see net.ts); a full disk is a
 * filler file on the one node whose data folder is a small tmpfs. Clients (in the host
 * namespace) keep reaching every node: a node cut off from its peers must refuse or redirect
 * them, never answer wrongly.
 */

import type { NodeProcess } from "@ftfs/protocol/testing";
import { clusterView, resolveTarget } from "../churn/cluster-view.ts";
import type { ChaosCluster } from "./cluster.ts";
import type { Fault } from "./schedule.ts";

export interface ActiveFault {
  /** Who it hit, as resolved when it started (e.g. `kill s1b`). */
  readonly label: string;
  heal(): Promise<void>;
}

/** Role names resolved to a node; when the cluster names no holder (mid-election), a fixed stand-in. */
async function resolve(chaos: ChaosCluster, target: string): Promise<NodeProcess> {
  const view = await clusterView(chaos.cluster);
  const node = resolveTarget(chaos.cluster, view, target);
  if (node !== null) return node;
  const group = target.split(":")[1];
  return chaos.cluster.node(target.startsWith("directory") ? "d1" : `${group ?? "s1"}a`);
}

function ids(nodes: readonly NodeProcess[]): string[] {
  return nodes.map((node) => node.id);
}

/** Each side drops every packet from the other (a two-way cut between the sets). */
function cut(chaos: ChaosCluster, sideA: readonly string[], sideB: readonly string[]): void {
  const ipsA = sideA.map((id) => chaos.net.ipOf(id));
  const ipsB = sideB.map((id) => chaos.net.ipOf(id));
  for (const id of sideA) chaos.net.setRules(id, { dropFrom: ipsB, lossPercent: 0 });
  for (const id of sideB) chaos.net.setRules(id, { dropFrom: ipsA, lossPercent: 0 });
}

function healNetwork(chaos: ChaosCluster): Promise<void> {
  for (const node of chaos.cluster.nodes) chaos.net.clearRules(node.id);
  return Promise.resolve();
}

export async function startFault(chaos: ChaosCluster, fault: Fault): Promise<ActiveFault> {
  const all = chaos.cluster.nodes;
  const others = (node: NodeProcess): string[] => ids(all.filter((other) => other !== node));
  switch (fault.kind) {
    case "kill": {
      const node = await resolve(chaos, fault.target);
      node.kill("SIGKILL");
      return {
        label: `kill ${node.id}`,
        heal: async () => {
          await node.exited();
          node.start();
        },
      };
    }
    case "pause": {
      const node = await resolve(chaos, fault.target);
      node.kill("SIGSTOP");
      return { label: `pause ${node.id}`, heal: () => Promise.resolve(node.kill("SIGCONT")) };
    }
    case "isolate": {
      const node = await resolve(chaos, fault.target);
      cut(chaos, [node.id], others(node));
      return { label: `isolate ${node.id}`, heal: () => healNetwork(chaos) };
    }
    case "split": {
      const directory = await resolve(chaos, "directory-primary");
      const storage = await resolve(chaos, fault.target);
      const otherGroup = storage.group === "s1" ? "s2" : "s1";
      const backup = await resolve(chaos, `storage-backup:${otherGroup}`);
      const minority = [directory.id, storage.id, backup.id];
      const majority = ids(all).filter((id) => !minority.includes(id));
      cut(chaos, minority, majority);
      return { label: `split ${minority.join(",")} | ${majority.join(",")}`, heal: () => healNetwork(chaos) };
    }
    case "bridge": {
      const bridge = await resolve(chaos, fault.target);
      const rest = all.filter((node) => node !== bridge);
      // Alternate so each side gets one of the two other directories and half of each group.
      const sideA = ids(rest.filter((_, index) => index % 2 === 0));
      const sideB = ids(rest.filter((_, index) => index % 2 === 1));
      cut(chaos, sideA, sideB);
      return { label: `bridge ${bridge.id}: ${sideA.join(",")} | ${sideB.join(",")}`, heal: () => healNetwork(chaos) };
    }
    case "oneway": {
      const node = await resolve(chaos, fault.target);
      const ip = chaos.net.ipOf(node.id);
      if (fault.outbound) {
        for (const id of others(node)) chaos.net.setRules(id, { dropFrom: [ip], lossPercent: 0 });
      } else {
        chaos.net.setRules(node.id, { dropFrom: others(node).map((id) => chaos.net.ipOf(id)), lossPercent: 0 });
      }
      return { label: `oneway ${fault.outbound ? "from" : "to"} ${node.id}`, heal: () => healNetwork(chaos) };
    }
    case "loss": {
      for (const node of all) chaos.net.setRules(node.id, { dropFrom: [], lossPercent: fault.percent });
      return { label: `loss ${fault.percent}%`, heal: () => healNetwork(chaos) };
    }
    case "disk-full": {
      const filler = chaos.net.fillDisk(chaos.smallDiskDir);
      return {
        label: `disk-full ${fault.target} (${filler.bytes} bytes filled)`,
        heal: () => Promise.resolve(chaos.net.unfillDisk(filler.path)),
      };
    }
  }
}
