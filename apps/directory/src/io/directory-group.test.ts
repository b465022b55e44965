/**
 * A directory group of three in-process nodes over real loopback TCP and UDP gossip: the group
 * forms from gossip, elects one primary, and the backups point callers at it; acknowledged
 * changes survive the primary's loss; a backup restarted on its folder catches up; stale reads
 * are served by backups only when asked for. Snapshots taken, sent and installed show in the
 * nodes' /metrics.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { RpcClient } from "@ftfs/protocol/io";
import { EMPTY_SHA256 } from "../core/index.ts";
import { failure, startGroup, until, type GroupHarness } from "../testing/harness.ts";

const ELECTION_WAIT_MS = 10_000;
/** Small, so a handful of commits already folds the log into a snapshot. */
const SNAPSHOT_EVERY_ENTRIES = 10;
const groups: GroupHarness[] = [];
const clients: RpcClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const group of groups.splice(0)) await group.stop();
});

async function group(
  size: number,
  options: Parameters<typeof startGroup>[1] = {},
): Promise<GroupHarness> {
  const started = await startGroup(size, options);
  groups.push(started);
  return started;
}

async function connectTo(address: string): Promise<RpcClient> {
  const client = await RpcClient.connect(address);
  clients.push(client);
  return client;
}

/** An empty file needs no storage group, so these tests need no storage nodes. */
async function commitEmpty(client: RpcClient, uid: string, name: string): Promise<number> {
  const placed = (await client.call("placeUpload", { uid, name, bytes: 0 })).body;
  const body = { uid, name, uploadId: placed.uploadId, bytes: 0, sha256: EMPTY_SHA256, chunks: [] };
  return (await client.call("commitUpload", body)).body.version;
}

async function staleNames(client: RpcClient, uid: string): Promise<string[]> {
  const files = (await client.call("listFiles", { uid, stale: true })).body.files;
  return files.map((file) => file.name);
}

/** Asks a node's own state until it lists `count` names; answers the last listing. */
async function staleNamesOnceCount(
  client: RpcClient,
  uid: string,
  count: number,
): Promise<string[]> {
  const deadline = Date.now() + ELECTION_WAIT_MS;
  let names: string[] = [];
  while (Date.now() < deadline) {
    names = await staleNames(client, uid).catch(() => []);
    if (names.length >= count) return names;
    await Bun.sleep(20);
  }
  throw new Error(`after ${ELECTION_WAIT_MS} ms the node lists ${names.length} of ${count} names`);
}

/** One unlabelled sample of a node's /metrics text (NaN if absent). */
function metric(text: string, name: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name} `));
  return Number(line?.slice(name.length + 1) ?? Number.NaN);
}

describe("a directory group of three", () => {
  test("forms, elects one primary, and backups redirect to it", async () => {
    const cluster = await group(3);
    const leader = await cluster.primary(ELECTION_WAIT_MS);
    const primaryAddress = cluster.addresses[leader] ?? "";
    const backupAt = (leader + 1) % 3;
    const backup = await connectTo(cluster.addresses[backupAt] ?? "");
    await until("the backup knows the primary", () => {
      const node = cluster.nodes[backupAt];
      return node !== null && node !== undefined && node.term === cluster.nodes[leader]?.term;
    });
    const redirected = await failure(backup.call("connect", { uid: "alice" }));
    expect([redirected.code, redirected.hint?.primary]).toEqual(["NOT_PRIMARY", primaryAddress]);
    const primary = await connectTo(primaryAddress);
    expect((await primary.call("connect", { uid: "alice" })).body.created).toBe(true);
    expect(await commitEmpty(primary, "alice", "a.txt")).toBe(1);
    // A linearizable read on a backup is refused; a stale one is served from its own state.
    expect((await failure(backup.call("listFiles", { uid: "alice" }))).code).toBe("NOT_PRIMARY");
    expect(await staleNamesOnceCount(backup, "alice", 1)).toEqual(["a.txt"]);
  });

  test("the primary stops: a backup takes over with every acknowledged change", async () => {
    const cluster = await group(3);
    const leader = await cluster.primary(ELECTION_WAIT_MS);
    const primary = await connectTo(cluster.addresses[leader] ?? "");
    await primary.call("connect", { uid: "alice" });
    const acknowledged: string[] = [];
    for (let at = 0; at < 20; at += 1) {
      const name = `f${String(at).padStart(2, "0")}`;
      await commitEmpty(primary, "alice", name);
      acknowledged.push(name);
    }
    const oldTerm = cluster.nodes[leader]?.term ?? 0;
    await cluster.stopNode(leader);
    const next = await cluster.primary(ELECTION_WAIT_MS);
    expect(next).not.toBe(leader);
    expect(cluster.nodes[next]?.term ?? 0).toBeGreaterThan(oldTerm);
    const successor = await connectTo(cluster.addresses[next] ?? "");
    const listed = (await successor.call("listFiles", { uid: "alice" })).body.files;
    expect(listed.map((file) => file.name)).toEqual(acknowledged);
    // Retrying an acknowledged commit on the new primary answers the same version, once.
    expect(await commitEmpty(successor, "alice", "f00")).toBe(2);
  });

  test("a backup restarted on its folder catches up on what it missed", async () => {
    const cluster = await group(3);
    const leader = await cluster.primary(ELECTION_WAIT_MS);
    const backupAt = (leader + 1) % 3;
    await cluster.stopNode(backupAt);
    const primary = await connectTo(cluster.addresses[leader] ?? "");
    await primary.call("connect", { uid: "bob" });
    // Two of three still form a majority: commits go on while the backup is away.
    for (const name of ["x", "y", "z"]) await commitEmpty(primary, "bob", name);
    cluster.restartNode(backupAt);
    const backup = await connectTo(cluster.addresses[backupAt] ?? "");
    expect(await staleNamesOnceCount(backup, "bob", 3)).toEqual(["x", "y", "z"]);
  });

  test("a backup that missed compacted entries catches up from the primary's snapshot", async () => {
    const cluster = await group(3, { compactEveryEntries: SNAPSHOT_EVERY_ENTRIES });
    const leader = await cluster.primary(ELECTION_WAIT_MS);
    const backupAt = (leader + 1) % 3;
    await cluster.stopNode(backupAt);
    const primary = await connectTo(cluster.addresses[leader] ?? "");
    await primary.call("connect", { uid: "carol" });
    const names = Array.from({ length: 3 * SNAPSHOT_EVERY_ENTRIES }, (_, at) => `s${100 + at}`);
    for (const name of names) await commitEmpty(primary, "carol", name);
    expect(
      cluster.logs[leader]?.some((line) => line.includes("log compacted into a snapshot")),
    ).toBe(true);
    cluster.restartNode(backupAt);
    const backup = await connectTo(cluster.addresses[backupAt] ?? "");
    expect(await staleNamesOnceCount(backup, "carol", names.length)).toEqual(names);
    const restored = cluster.logs[backupAt]?.some((line) =>
      line.includes("state restored from the primary's snapshot"),
    );
    expect(restored).toBe(true);
    const leaderMetrics = cluster.nodes[leader]?.renderMetrics() ?? "";
    expect(metric(leaderMetrics, "ftfs_raft_snapshots_taken_total")).toBeGreaterThan(0);
    expect(metric(leaderMetrics, "ftfs_raft_snapshots_sent_total")).toBeGreaterThan(0);
    expect(metric(leaderMetrics, "ftfs_raft_snapshot_bytes")).toBeGreaterThan(0);
    const backupMetrics = cluster.nodes[backupAt]?.renderMetrics() ?? "";
    expect(metric(backupMetrics, "ftfs_raft_snapshots_installed_total")).toBeGreaterThan(0);
    expect(metric(backupMetrics, "ftfs_raft_snapshots_sent_total")).toBe(0);
  });
});
