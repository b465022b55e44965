/**
 * Every server joins one gossip cluster: the directory's status is the gossip view (states and
 * incarnations), and a storage node killed with kill -9 is declared dead there and leaves its
 * group's in-sync set under a new epoch. (Which path removes it first — gossip's death event or
 * the heartbeat timeout kept as a fallback — depends on load; both must end here.)
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { ResponseBody } from "@ftfs/protocol/core";
import { RpcClient } from "@ftfs/protocol/io";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { E2E_TEST_TIMEOUT_MS, POLL_DEADLINE_MS, POLL_INTERVAL_MS } from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster({ directories: 1, groups: [{ name: "s1", size: 3 }] });
});

afterAll(async () => {
  await cluster?.stop();
});

type StatusView = ResponseBody<"clusterStatus">;

async function clusterStatusView(): Promise<StatusView> {
  const client = await RpcClient.connect(cluster.directoryAddresses[0] ?? "");
  try {
    return (await client.call("clusterStatus", {})).body;
  } finally {
    client.close();
  }
}

async function until<T>(what: string, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + POLL_DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(POLL_INTERVAL_MS);
  }
}

test("status shows every member alive through gossip, then a killed backup dead and out of its group", async () => {
  await until("every member alive in the gossip view", async () => {
    const view = await clusterStatusView();
    const alive = view.members
      .filter((member) => member.state === "alive")
      .map((member) => member.node);
    return ["d1", "s1a", "s1b", "s1c"].every((node) => alive.includes(node)) ? view : null;
  });
  const before = await clusterStatusView();
  const group = before.groups.find((candidate) => candidate.group === "s1");
  const victim = group?.replicas.find((replica) => replica.node !== group.primaryNode)?.node;
  expect(victim).toBeDefined();
  cluster.node(victim ?? "").kill("SIGKILL");
  const after = await until("the killed backup dead and out of s1", async () => {
    const view = await clusterStatusView();
    const member = view.members.find((candidate) => candidate.node === victim);
    const s1 = view.groups.find((candidate) => candidate.group === "s1");
    const gone = s1 !== undefined && !s1.replicas.some((replica) => replica.node === victim);
    return member?.state === "dead" && gone ? view : null;
  });
  expect(after.groups.find((candidate) => candidate.group === "s1")?.epoch).toBeGreaterThan(
    group?.epoch ?? 0,
  );
});
