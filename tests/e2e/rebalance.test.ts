/**
 * `ftfs rebalance` on real processes (the issue: "adding a group spreads new data; a rebalance
 * command moves old data"). Files go into group s1 while it is the only group; then group s2
 * joins, empty, and a rebalance moves data from s1 to s2 until their used shares are within
 * the threshold, no faster than the directory's --rebalance-rate. Afterwards both groups hold
 * data, the storage nodes' own listings agree with the move, every file reads back exactly
 * through the CLI, and once the storage GC grace has passed the moved chunks' files are gone
 * from every node of s1, while the chunks that stayed are still there.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { RebalanceRun } from "@ftfs/protocol/core";
import { freePort, NodeProcess, STORAGE_MAIN } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  KIB,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  useCluster,
  storedChunks,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "rita";
const GRACE_MS = 2_000;
/** Each storage node offers this much, so a few MiB of files are a share worth moving. */
const CAPACITY_BYTES = 64 * MIB;
const REBALANCE_BYTES_PER_SECOND = 16 * MIB;
const THRESHOLD_PERCENT = 4;
const FILE_COUNT = 12;
/** Sizes from 640 KiB to about 1.7 MiB: ten chunks and up each, 13 MiB in all. */
const fileBytes = (at: number): number => 640 * KIB + at * 96 * KIB + 1_234;
/**
 * The rebalancer may run a few chunks ahead of its rate before it first rests (its chunks in
 * flight), and a rest shorter than the pacer's least sleep may still be owed at the end.
 */
const PACING_SLACK_BYTES = 4 * E2E_CHUNK_BYTES;
const PACING_SLACK_MS = 10;

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 3 }],
  chunkBytes: E2E_CHUNK_BYTES,
  env: {
    FTFS_GC_GRACE: `${GRACE_MS}ms`,
    FTFS_CAPACITY: String(CAPACITY_BYTES),
    FTFS_REBALANCE_RATE: String(REBALANCE_BYTES_PER_SECOND),
  },
});

const files = new Map<string, Uint8Array>();
const added: NodeProcess[] = [];

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
  for (let at = 0; at < FILE_COUNT; at += 1) {
    const bytes = randomBytes(fileBytes(at));
    const name = `f${String(at).padStart(2, "0")}.bin`;
    await fx.client.uploadBytes(UID, name, bytes);
    files.set(name, bytes);
  }
  await addGroup("s2", 3);
});

afterAll(async () => {
  await Promise.all(added.map((node) => node.stop()));
});

/** Start a new group's nodes beside the cluster and wait until the directory configures it. */
async function addGroup(group: string, size: number): Promise<void> {
  const { cluster } = fx;
  for (let at = 0; at < size; at += 1) {
    const id = `${group}${String.fromCharCode(97 + at)}`;
    const address = `127.0.0.1:${await freePort()}`;
    const dataDir = join(cluster.dataRoot, id);
    const argv = [STORAGE_MAIN, "--node", id, "--group", group, "--listen", address, "--insecure"];
    const node = new NodeProcess({
      id,
      role: "storage",
      group,
      address,
      dataDir,
      logPath: join(cluster.dataRoot, `${id}.log`),
      argv: [...argv, "--data", dataDir, "--join", cluster.directoryAddresses.join(",")],
      env: { FTFS_GC_GRACE: `${GRACE_MS}ms`, FTFS_CAPACITY: String(CAPACITY_BYTES) },
    });
    node.start();
    added.push(node);
  }
  await pollUntil(`group ${group} configured with ${size} nodes and usage`, async () => {
    const status = await fx.client.status();
    const view = status.groups.find((candidate) => candidate.group === group);
    const reporting = status.members.filter(
      (member) => member.group === group && member.capacityBytes === CAPACITY_BYTES,
    );
    const ready = view?.primary != null && view.replicas.length === size;
    return ready && reporting.length === size ? true : undefined;
  });
}

function s1Nodes(): NodeProcess[] {
  return fx.cluster.nodes.filter((node) => node.group === "s1");
}

function chunkIdsOf(bytes: Uint8Array): string[] {
  const ids: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += E2E_CHUNK_BYTES) {
    ids.push(sha256(bytes.subarray(offset, Math.min(bytes.length, offset + E2E_CHUNK_BYTES))));
  }
  return ids;
}

async function onDisk(node: NodeProcess, chunkId: string): Promise<boolean> {
  return (await storedChunks(node.dataDir)).has(chunkId);
}

interface StoredFileJson {
  readonly name: string;
  readonly version: number | null;
  readonly groups: readonly string[];
}

/** Each file's groups as the storage nodes' own references say, once they say it for all. */
async function storageGroups(): Promise<Map<string, readonly string[]>> {
  return pollUntil("storage listings that name one group per file", async () => {
    const run = await fx.ws.ftfs([UID, "d", "--from", "storage", "--json"]);
    expectOk(run);
    const listed = JSON.parse(text(run)) as StoredFileJson[];
    const settled =
      listed.length === FILE_COUNT &&
      listed.every((file) => file.version !== null && file.groups.length === 1);
    return settled ? new Map(listed.map((file) => [file.name, file.groups])) : undefined;
  });
}

let run: RebalanceRun;

test("rebalance moves data from the full group to the new one, within the rate", async () => {
  const started = await fx.ws.ftfs(
    ["rebalance", "--json", "--threshold", String(THRESHOLD_PERCENT)],
    { env: { FTFS_CLUSTER: fx.clusterList } },
  );
  expectOk(started);
  run = JSON.parse(text(started)) as RebalanceRun;
  expect(run.state).toBe("balanced");
  expect(run.movedVersions).toBeGreaterThan(0);
  expect(run.movedVersions).toBeLessThan(FILE_COUNT);
  expect(run.skippedVersions).toBe(0);
  const s1 = run.groups.find((group) => group.group === "s1");
  const s2 = run.groups.find((group) => group.group === "s2");
  expect(s1?.bytesOut).toBe(run.movedBytes);
  expect(s2?.bytesIn).toBe(run.movedBytes);
  expect(s2?.usedBytesBefore).toBe(0);
  // Used shares after the move (once GC ran) are within the threshold of each other.
  const shareAfter = (group: typeof s1): number =>
    group === undefined
      ? Number.NaN
      : (group.usedBytesBefore - group.bytesOut + group.bytesIn) / group.capacityBytes;
  expect(Math.abs(shareAfter(s1) - shareAfter(s2))).toBeLessThanOrEqual(THRESHOLD_PERCENT / 100);
  const durationMs = (run.finishedAtMs ?? 0) - run.startedAtMs;
  const boundMs =
    ((run.movedBytes - PACING_SLACK_BYTES) / REBALANCE_BYTES_PER_SECOND) * 1_000 - PACING_SLACK_MS;
  expect(durationMs).toBeGreaterThanOrEqual(boundMs);
  const mibPerSecond = run.movedBytes / MIB / (durationMs / 1_000);
  console.log(
    `rebalance moved ${run.movedVersions} versions, ${(run.movedBytes / MIB).toFixed(1)} MiB ` +
      `in ${durationMs} ms: ${mibPerSecond.toFixed(1)} MiB/s ` +
      `(limit ${REBALANCE_BYTES_PER_SECOND / MIB} MiB/s)`,
  );
});

test("both groups hold data, every file reads back, and s1 drops the moved chunks", async () => {
  const groups = await storageGroups();
  const moved = [...groups].filter(([, where]) => where[0] === "s2").map(([name]) => name);
  expect(moved.length).toBe(run.movedVersions);
  expect([...groups.values()].filter((where) => where[0] === "s1").length).toBeGreaterThan(0);
  const statusRun = await fx.ws.ftfs(["status", "--json"], {
    env: { FTFS_CLUSTER: fx.clusterList },
  });
  const status = JSON.parse(text(expectOk(statusRun))) as {
    members: Array<{ group: string | null; usedBytes: number }>;
  };
  for (const group of ["s1", "s2"]) {
    const members = status.members.filter((member) => member.group === group);
    expect(members.length).toBe(3);
    expect(members.every((member) => member.usedBytes > 0)).toBe(true);
  }
  for (const [name, bytes] of files) {
    const read = await fx.ws.ftfs([UID, "r", name]);
    expectOk(read);
    expect(read.stdout.length).toBe(bytes.length);
    expect(sha256(read.stdout)).toBe(sha256(bytes));
  }
  const movedChunks = moved.flatMap((name) => chunkIdsOf(files.get(name) ?? new Uint8Array()));
  const keptChunks = [...files]
    .filter(([name]) => !moved.includes(name))
    .flatMap(([, bytes]) => chunkIdsOf(bytes));
  await pollUntil("the moved chunks gone from every node of s1", async () => {
    for (const node of s1Nodes()) {
      for (const chunkId of movedChunks) if (await onDisk(node, chunkId)) return undefined;
    }
    return true;
  });
  for (const node of s1Nodes()) {
    for (const chunkId of keptChunks) expect(await onDisk(node, chunkId)).toBe(true);
  }
  for (const node of added) {
    for (const chunkId of movedChunks) expect(await onDisk(node, chunkId)).toBe(true);
  }
});
