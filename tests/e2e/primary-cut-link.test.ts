/**
 * Issue 20, the directory's own evidence: a storage group's primary cut off by the network (its
 * process running, nothing closed, nothing refused: nftables drops between it and every other
 * node, in network namespaces) is replaced because the directory primary's keepalives to it go
 * unanswered and its host answers no connection attempt, not only when gossip gets there. Real
 * processes (the chaos harness's cluster: 3 directories, 2 groups of 3, a spare), as root.
 */
import { afterAll, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { clusterView, resolveTarget } from "@ftfs/protocol/testing";
import { startChaosCluster, type ChaosCluster } from "../chaos/harness/cluster.ts";
import { ChaosNet } from "../chaos/harness/net.ts";
import { cut } from "../chaos/harness/nemesis.ts";

const unavailable = ChaosNet.unavailableReason();
/** Starting ten nodes in namespaces, the cut, the failover and the teardown, with room. */
const TEST_TIMEOUT_MS = 120_000;
/** Keepalive silence 0.5 s + host check 0.3 s, the reconfiguration's commit, the view's poll. */
const REPLACED_WITHIN_MS = 5_000;
const POLL_MS = 50;
const KEEPALIVE_EVIDENCE = "its keepalives went unanswered and its host was silent";

let chaos: ChaosCluster | null = null;
afterAll(async () => {
  await chaos?.stop(false);
});

test("network namespaces can be created (CI runs as root)", () => {
  expect(unavailable).toBeNull();
});

test(
  "a storage primary behind a cut link is replaced on the directory's keepalive evidence",
  async () => {
    chaos = await startChaosCluster(`/tmp/ftfs-e2e-cut-primary-${process.pid}`);
    const { cluster } = chaos;
    const before = await clusterView(cluster);
    const primary = resolveTarget(cluster, before, "storage-primary:s1");
    const directory = before.directoryPrimary;
    if (primary === null || directory === null) throw new Error("no s1 or directory primary");
    const others = cluster.nodes.filter((node) => node !== primary).map((node) => node.id);
    const cutMs = performance.now();
    cut(chaos, [primary.id], others);
    let replacedMs: number | null = null;
    while (replacedMs === null && performance.now() - cutMs < REPLACED_WITHIN_MS * 2) {
      const view = await clusterView(cluster);
      const s1 = view.groups.find((group) => group.group === "s1");
      if (s1?.primaryNode !== undefined && s1.primaryNode !== primary.id) {
        replacedMs = performance.now() - cutMs;
      } else await Bun.sleep(POLL_MS);
    }
    console.log(`s1's primary ${primary.id} cut off: replaced after ${replacedMs?.toFixed(0)} ms`);
    expect(replacedMs).not.toBeNull();
    expect(replacedMs ?? Infinity).toBeLessThanOrEqual(REPLACED_WITHIN_MS);
    // The first evidence the directory primary recorded for the node is its own.
    const log = await readFile(directory.logPath, "utf8");
    const downs = log
      .split("\n")
      .filter((line) => line.includes('"storage node down"') && line.includes(primary.id));
    expect(downs[0] ?? "").toContain(KEEPALIVE_EVIDENCE);
  },
  TEST_TIMEOUT_MS,
);
