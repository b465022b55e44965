/**
 * The nemesis: turns a scheduled fault into real damage on the running cluster and undoes it.
 * Process faults are signals (SIGKILL then a restart, SIGSTOP then SIGCONT); network faults are
 * nftables drop rules in the affected nodes' own namespaces (see net.ts); a full disk is a
 * filler file on the one node whose data folder is a small tmpfs. Clients (in the host
 * namespace) keep reaching every node: a node cut off from its peers must refuse or redirect
 * them, never answer wrongly. The GC faults: a real `ftfs` client stopped mid-upload past its
 * deadline (cli-upload.ts), a storage node's wall clock jumped forward (clock.ts), and a storage
 * backup restarted on an empty data folder. The operator's faults: a directory node whose disk
 * died replaced (removed, wiped, added back as a new member), and a storage node drained (its
 * drain cancelled at heal, so it rejoins and the spare goes back to the pool).
 */

import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { FtfsClient } from "@ftfs/client";
import { FtfsError } from "@ftfs/protocol/core";
import { clusterView, resolveTarget, type NodeProcess } from "@ftfs/protocol/testing";
import { CliUpload, PAUSED_UPLOAD_CHUNKS, pauseMidUpload, waitCollected } from "./cli-upload.ts";
import type { ChaosUsers } from "./client.ts";
import type { ChaosCluster } from "./cluster.ts";
import { CLOCK_JUMP_S } from "./gc-timing.ts";
import type { Fault } from "./schedule.ts";
import type { Workload } from "./workload.ts";

export interface ActiveFault {
  /** Who it hit, as resolved when it started (e.g. `kill s1b`). */
  readonly label: string;
  /** Undoes it; may answer a note on how (e.g. whether a paused upload was collected first). */
  heal(): Promise<string | null>;
}

/** What the nemesis acts on: the cluster, and for pause-client the users and the history. */
export interface NemesisContext {
  readonly chaos: ChaosCluster;
  readonly users: ChaosUsers;
  readonly workload: Workload;
}

/** pause-client: the CLI must show stored chunks within this (start-up, login, placement). */
const MID_UPLOAD_WAIT_MS = 20_000;
/** pause-client: past its scheduled pause, how long to wait more for its chunks to be collected. */
const COLLECTED_WAIT_MS = 20_000;
/** wipe: how long to wait for the group to be whole (a previous fault's node caught up). */
const GROUP_WHOLE_WAIT_MS = 30_000;
/** wipe: how long to wait for the directory to drop the killed node from the in-sync set. */
const OUT_OF_SYNC_WAIT_MS = 20_000;
const VIEW_POLL_MS = 200;
/** An operator's command, retried through a directory election or a refused moment. */
const ADMIN_DEADLINE_MS = 20_000;
const ADMIN_RETRY_MS = 250;
const ADMIN_CONNECT_TIMEOUT_MS = 1_000;
/** replace-directory: how long the new member has to catch up and be promoted at heal. */
const PROMOTED_WAIT_MS = 30_000;
/** The name the nemesis's admin connections claim (it holds the cluster key, as an operator). */
const ADMIN_NODE = "chaos-operator";

const healed = (): Promise<string | null> => Promise.resolve(null);

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
export function cut(chaos: ChaosCluster, sideA: readonly string[], sideB: readonly string[]): void {
  const ipsA = sideA.map((id) => chaos.net.ipOf(id));
  const ipsB = sideB.map((id) => chaos.net.ipOf(id));
  for (const id of sideA) chaos.net.setRules(id, { dropFrom: ipsB, lossPercent: 0 });
  for (const id of sideB) chaos.net.setRules(id, { dropFrom: ipsA, lossPercent: 0 });
}

function healNetwork(chaos: ChaosCluster): Promise<string | null> {
  for (const node of chaos.cluster.nodes) chaos.net.clearRules(node.id);
  return healed();
}

/**
 * pause-client: a real `ftfs` upload of 96 chunks to a fresh file of a workload user, SIGSTOPped
 * once storage lists some of its chunks (pauseMidUpload); woken only after its scheduled pause
 * (longer than the upload deadline) and once storage lists none of them (swept by the
 * directory, collected by GC). It must then be refused, start over and succeed, or fail: never
 * "uploaded" for bytes that are gone. Its outcome is in the history, checked like any write.
 */
async function pauseClient(context: NemesisContext, fault: Fault): Promise<ActiveFault> {
  const [uid = "", name = ""] = fault.target.split("/");
  const folder = join(context.chaos.dataRoot, `cli-${fault.atS.toFixed(1)}`);
  const directories = context.chaos.cluster.directoryAddresses;
  const lister = await context.users.client(uid);
  let upload: CliUpload;
  try {
    const { users, workload } = context;
    upload = await CliUpload.start({ users, workload, directories, uid, name, folder });
  } catch (error) {
    lister.close();
    return { label: `pause-client ${fault.target}: not started (${String(error)})`, heal: healed };
  }
  const stepped = await pauseMidUpload(lister.client, upload, MID_UPLOAD_WAIT_MS);
  const { paused } = stepped;
  if (paused === null) {
    lister.close();
    const why = upload.running ? `not seen in ${MID_UPLOAD_WAIT_MS} ms` : "ended before seen";
    const failed =
      stepped.failures === 0 ? "" : `, ${stepped.failures} failed (${stepped.lastError ?? ""})`;
    const looks = `${stepped.looks} looks${failed}`;
    const label = `pause-client ${fault.target} #${upload.op.id}: ${why} mid-upload (${looks})`;
    return { label, heal: healed };
  }
  const { uploadId, chunks } = paused;
  return {
    label:
      `pause-client ${fault.target} #${upload.op.id} (upload ${uploadId.slice(0, 12)}, ` +
      `stopped with ${chunks} of ${PAUSED_UPLOAD_CHUNKS} chunks stored)`,
    heal: async () => {
      const collected = await waitCollected(lister.client, uid, uploadId, COLLECTED_WAIT_MS);
      upload.resume();
      lister.close();
      return collected
        ? "its chunks were collected before it woke"
        : "its chunks were still listed when it woke";
    },
  };
}

/**
 * clock-jump: a storage node's wall clock leaps forward by an hour (past the grace and every
 * upload's deadline, so GC asks about every chunk it holds) and steps back at heal, as a
 * corrected clock would, while the node keeps running.
 */
async function clockJump(chaos: ChaosCluster, fault: Fault): Promise<ActiveFault> {
  const node = await resolve(chaos, fault.target);
  chaos.jumpClock(node.id, CLOCK_JUMP_S);
  return {
    label: `clock-jump ${node.id} +${CLOCK_JUMP_S}s`,
    heal: () => {
      chaos.jumpClock(node.id, -CLOCK_JUMP_S);
      return healed();
    },
  };
}

/** A group as the primary directory sees it: its primary, in-sync nodes and learners. */
interface GroupState {
  readonly primary: string;
  readonly inSync: readonly string[];
  readonly learners: number;
}

/** Polls the primary directory's view until `wanted` holds of the group; false on timeout. */
async function waitGroup(
  chaos: ChaosCluster,
  group: string,
  timeoutMs: number,
  wanted: (state: GroupState) => boolean,
): Promise<boolean> {
  for (const deadline = performance.now() + timeoutMs; performance.now() < deadline; ) {
    const { groups } = await clusterView(chaos.cluster);
    const view = groups.find((candidate) => candidate.group === group);
    if (view !== undefined && view.primaryNode !== null) {
      const inSync = view.replicas.map((replica) => replica.node);
      const learners = (view.learners ?? []).length;
      if (wanted({ primary: view.primaryNode, inSync, learners })) return true;
    }
    await Bun.sleep(VIEW_POLL_MS);
  }
  return false;
}

/**
 * wipe: a backup of a whole group (its two other replicas in sync) is killed, its data folder
 * emptied, and restarted under the same node id once the directory has dropped it from the
 * in-sync set: it must catch up as a learner. Restarting it before the directory noticed relies
 * on the directory telling a new data folder from the old one (tests/e2e/storage-wiped-disk);
 * this kind keeps to the case that is safe without it.
 */
async function wipe(chaos: ChaosCluster, fault: Fault): Promise<ActiveFault> {
  const group = fault.target.split(":")[1] ?? "s1";
  const size = chaos.cluster.nodes.filter((node) => node.group === group).length;
  const whole = (state: GroupState): boolean =>
    state.inSync.length === size && state.learners === 0;
  if (!(await waitGroup(chaos, group, GROUP_WHOLE_WAIT_MS, whole))) {
    const label = `wipe ${fault.target}: skipped, ${group} not whole in ${GROUP_WHOLE_WAIT_MS} ms`;
    return { label, heal: healed };
  }
  const node = await resolve(chaos, fault.target);
  node.kill("SIGKILL");
  await node.exited();
  // The folder's contents, not the folder: s2c's is a tmpfs mount point.
  for (const entry of await readdir(node.dataDir)) {
    await rm(join(node.dataDir, entry), { recursive: true, force: true });
  }
  const dropped = (state: GroupState): boolean => !state.inSync.includes(node.id);
  return {
    label: `wipe ${node.id}`,
    heal: async () => {
      const out = await waitGroup(chaos, group, OUT_OF_SYNC_WAIT_MS, dropped);
      node.start();
      return out
        ? "restarted empty once out of the in-sync set"
        : "restarted empty, still listed in sync";
    },
  };
}

/** A client proving the cluster key, as `ftfs admin …` run by an operator does. */
function adminClient(chaos: ChaosCluster): FtfsClient {
  return new FtfsClient({
    directories: chaos.cluster.directoryAddresses,
    connectTimeoutMs: ADMIN_CONNECT_TIMEOUT_MS,
    ...chaos.cluster.nodeConnectOptions(ADMIN_NODE),
  });
}

/** Retries an admin command refused for a moment (an election, a change in progress). */
async function asAdmin<T>(chaos: ChaosCluster, act: (admin: FtfsClient) => Promise<T>): Promise<T> {
  const admin = adminClient(chaos);
  try {
    for (const deadline = performance.now() + ADMIN_DEADLINE_MS; ; ) {
      try {
        return await act(admin);
      } catch (error) {
        if (!(error instanceof FtfsError) || performance.now() > deadline) throw error;
        await Bun.sleep(ADMIN_RETRY_MS);
      }
    }
  } finally {
    admin.close();
  }
}

/**
 * replace-directory: a directory backup's disk dies (kill -9, its folder emptied); the operator
 * removes it from the group, which runs on the two others meanwhile; at heal it is added back
 * under the same id as a new member (`--new-member`): it copies the log as a learner and is
 * promoted to voter. Its old votes and entries are gone with its disk, so it must never vote
 * before its log says it was added.
 */
async function replaceDirectory(chaos: ChaosCluster, fault: Fault): Promise<ActiveFault> {
  const node = await resolve(chaos, fault.target);
  node.kill("SIGKILL");
  await node.exited();
  for (const entry of await readdir(node.dataDir)) {
    await rm(join(node.dataDir, entry), { recursive: true, force: true });
  }
  let removed: string;
  try {
    await asAdmin(chaos, (admin) => admin.directoryChange("remove", node.id));
    removed = "removed";
  } catch (error) {
    removed = `not removed (${error instanceof Error ? error.message : String(error)})`;
  }
  return {
    label: `replace-directory ${node.id}: disk lost, ${removed}`,
    heal: async () => {
      node.start(["--new-member"]);
      await asAdmin(chaos, (admin) => admin.directoryChange("add", node.id, node.address));
      for (const deadline = performance.now() + PROMOTED_WAIT_MS; performance.now() < deadline; ) {
        const view = await asAdmin(chaos, (admin) => admin.directoryMembers());
        const member = view.members.find((each) => each.node === node.id);
        if (member?.voter === true) return "added back as a new member, caught up and promoted";
        await Bun.sleep(VIEW_POLL_MS);
      }
      return `added back as a new member, not promoted in ${PROMOTED_WAIT_MS} ms`;
    },
  };
}

/**
 * drain: the operator drains a storage node (primary or backup) under the load: it hands over
 * its primary role, the spare copies its group's data, and it leaves once the group holds its
 * factor without it. At heal the drain is cancelled: the node rejoins as a learner and catches
 * up, and the spare, no longer needed, is released back to the pool (the final checks want it
 * there, its disk empty).
 */
async function drain(chaos: ChaosCluster, fault: Fault): Promise<ActiveFault> {
  const node = await resolve(chaos, fault.target);
  const drained = await asAdmin(chaos, (admin) => admin.storageDrain(node.id, false));
  const group = drained.group.group;
  return {
    label: `drain ${node.id} of ${group}`,
    heal: async () => {
      const view = (await clusterView(chaos.cluster)).groups.find((each) => each.group === group);
      const listed = [...(view?.replicas ?? []), ...(view?.learners ?? [])].some(
        (member) => member.node === node.id,
      );
      await asAdmin(chaos, (admin) => admin.storageDrain(node.id, true));
      return listed ? "cancelled while still in its group" : "cancelled after it left its group";
    },
  };
}

export async function startFault(context: NemesisContext, fault: Fault): Promise<ActiveFault> {
  const { chaos } = context;
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
          return null;
        },
      };
    }
    case "pause": {
      const node = await resolve(chaos, fault.target);
      node.kill("SIGSTOP");
      return {
        label: `pause ${node.id}`,
        heal: () => {
          node.kill("SIGCONT");
          return healed();
        },
      };
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
      return {
        label: `split ${minority.join(",")} | ${majority.join(",")}`,
        heal: () => healNetwork(chaos),
      };
    }
    case "bridge": {
      const bridge = await resolve(chaos, fault.target);
      const rest = all.filter((node) => node !== bridge);
      // Alternate so each side gets one of the two other directories and half of each group.
      const sideA = ids(rest.filter((_, index) => index % 2 === 0));
      const sideB = ids(rest.filter((_, index) => index % 2 === 1));
      cut(chaos, sideA, sideB);
      return {
        label: `bridge ${bridge.id}: ${sideA.join(",")} | ${sideB.join(",")}`,
        heal: () => healNetwork(chaos),
      };
    }
    case "oneway": {
      const node = await resolve(chaos, fault.target);
      const ip = chaos.net.ipOf(node.id);
      if (fault.outbound) {
        for (const id of others(node)) chaos.net.setRules(id, { dropFrom: [ip], lossPercent: 0 });
      } else {
        chaos.net.setRules(node.id, {
          dropFrom: others(node).map((id) => chaos.net.ipOf(id)),
          lossPercent: 0,
        });
      }
      return {
        label: `oneway ${fault.outbound ? "from" : "to"} ${node.id}`,
        heal: () => healNetwork(chaos),
      };
    }
    case "loss": {
      for (const node of all)
        chaos.net.setRules(node.id, { dropFrom: [], lossPercent: fault.percent });
      return { label: `loss ${fault.percent}%`, heal: () => healNetwork(chaos) };
    }
    case "disk-full": {
      const filler = chaos.net.fillDisk(chaos.smallDiskDir);
      return {
        label: `disk-full ${fault.target} (${filler.bytes} bytes filled)`,
        heal: () => {
          chaos.net.unfillDisk(filler.path);
          return healed();
        },
      };
    }
    case "pause-client":
      return pauseClient(context, fault);
    case "clock-jump":
      return clockJump(chaos, fault);
    case "wipe":
      return wipe(chaos, fault);
    case "replace-directory":
      return replaceDirectory(chaos, fault);
    case "drain":
      return drain(chaos, fault);
  }
}
