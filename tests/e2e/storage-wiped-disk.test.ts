/**
 * A wiped disk on real processes (issue 13, "a data folder has an identity"): a backup of a
 * group of three is killed with kill -9, its data folder deleted, and restarted under the same
 * node id before the directory could notice it was gone (the directory is down meanwhile and
 * comes back remembering the backup in sync: without that, gossip and a quick restart race,
 * and a lost race hides the case). Its new folder makes it a new member: from its first
 * heartbeat until it has copied the group's chunks it is a learner, never in the in-sync set;
 * every time the status lists it in sync, its disk holds every chunk the primary holds; and
 * the file reads back exact throughout. Then every node of the group is
 * wiped the same way: the group says its data is lost (`dataLost` in `ftfs status --json`, one
 * error line in the directory's log), promotes none of the new folders, and a read of the
 * file fails with one clear line instead of bytes.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { rm } from "node:fs/promises";
import {
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  expectOneLineError,
  KIB,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  useCluster,
  groupView,
  storedChunks,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "ines";
const GROUP = "s1";
const CHUNK_BYTES = 64 * KIB;
/** At the slowest catch-up rate the copy takes about 3 s: long enough to see the learner. */
const FILE_BYTES = 3 * MIB;
const CATCH_UP_BYTES_PER_SECOND = 1 * MIB;
/** Detection is not needed (the node is back at once); the copy takes a few seconds. */
const SYNC_DEADLINE_MS = 30_000;

const fx = useCluster({
  directories: 1,
  groups: [{ name: GROUP, size: 3 }],
  chunkBytes: CHUNK_BYTES,
  env: { FTFS_CATCH_UP_RATE: `${CATCH_UP_BYTES_PER_SECOND}` },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function group() {
  return groupView(fx.client, GROUP);
}

/** The chunk ids in a storage node's data folder (none if the folder is gone). */
async function chunksOn(dataDir: string): Promise<Set<string>> {
  return new Set((await storedChunks(dataDir)).keys());
}

interface Configured {
  readonly epoch: number;
  readonly replicas: readonly string[];
  readonly learners: readonly string[];
}

/** The directory's "group configured" lines for the group, logged at or after `afterMs`. */
async function configuredSince(afterMs: number): Promise<Configured[]> {
  const log = await fx.cluster.node("d1").log();
  return log
    .split("\n")
    .filter((line) => line.includes('"msg":"group configured"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.group === GROUP && Date.parse(String(line.time)) >= afterMs)
    .map((line) => ({
      epoch: Number(line.epoch),
      replicas: String(line.replicas)
        .split(",")
        .filter((node) => node !== ""),
      learners: String(line.learners)
        .split(",")
        .filter((node) => node !== ""),
    }));
}

test("a backup restarted on an empty folder is a learner until it holds every chunk", async () => {
  const bytes = randomBytes(FILE_BYTES);
  const digest = sha256(bytes);
  expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file("kept.bin", bytes)]));
  const before = await group();
  const primary = fx.cluster.node(before.primaryNode ?? "");
  const backup = before.replicas.find((replica) => replica.node !== before.primaryNode);
  if (backup === undefined) throw new Error(`group ${GROUP} has no backup`);
  const victim = fx.cluster.node(backup.node);
  const held = await chunksOn(primary.dataDir);
  expect(held.size).toBe(FILE_BYTES / CHUNK_BYTES);
  expect(await chunksOn(victim.dataDir)).toEqual(held);

  const directory = fx.cluster.node("d1");
  await directory.stop();
  victim.kill("SIGKILL");
  await victim.exited();
  await rm(victim.dataDir, { recursive: true, force: true });
  const restartedAtMs = Date.now();
  victim.start();
  directory.start();

  // Until its first heartbeat the directory cannot know the disk is gone; from then on it must.
  await pollUntil("the restarted node's heartbeat is answered", async () => {
    const views = (await victim.log()).split("\n").filter((line) => line.includes('"group view"'));
    const atMs = (line: string): number => Date.parse(String(JSON.parse(line).time));
    return views.some((line) => atMs(line) >= restartedAtMs) ? true : undefined;
  });
  let reads = 0;
  await pollUntil(
    "the wiped node is in sync again",
    async () => {
      const view = await group();
      const inSync = view.replicas.some((replica) => replica.node === victim.id);
      // The property: whenever it is in sync, it holds every chunk the primary holds.
      if (inSync) {
        const onDisk = await chunksOn(victim.dataDir);
        const lacking = [...held].filter((id) => !onDisk.has(id)).length;
        expect({ epoch: view.epoch, lacking }).toEqual({ epoch: view.epoch, lacking: 0 });
      }
      expect(sha256(expectOk(await fx.ws.ftfs([UID, "r", "kept.bin"])).stdout)).toBe(digest);
      reads += 1;
      return inSync ? view : undefined;
    },
    SYNC_DEADLINE_MS,
  );

  // The directory's record, whatever the polls caught: after the restart the node was first
  // listed as a learner (the directory said why), and in sync only later, at a later epoch.
  const history = await configuredSince(restartedAtMs);
  const listing = (config: Configured) =>
    config.replicas.includes(victim.id) || config.learners.includes(victim.id);
  const firstListed = history.find(listing);
  expect(firstListed?.learners).toContain(victim.id);
  expect(firstListed?.replicas).not.toContain(victim.id);
  const joined = history.find((config) => config.replicas.includes(victim.id));
  expect(joined?.epoch).toBeGreaterThan(firstListed?.epoch ?? Number.MAX_SAFE_INTEGER);
  const said = (await directory.log())
    .split("\n")
    .filter((line) => line.includes("storage node came back on a new data folder"));
  expect(said.some((line) => line.includes(`"node":"${victim.id}"`))).toBe(true);
  expect(await victim.log()).toContain("caught up with the group primary");
  expect(await chunksOn(victim.dataDir)).toEqual(held);
  expect(reads).toBeGreaterThan(0);
});

test("every node back on a new folder: data lost, said loudly, nobody promoted", async () => {
  const nodes = fx.cluster.nodes.filter((node) => node.group === GROUP);
  for (const each of nodes) each.kill("SIGKILL");
  for (const each of nodes) {
    await each.exited();
    await rm(each.dataDir, { recursive: true, force: true });
    each.start();
  }
  const lost = await pollUntil(
    "the group says its data is lost",
    async () => {
      const view = await group();
      return view.dataLost === true ? view : undefined;
    },
    SYNC_DEADLINE_MS,
  );
  expect(lost.primaryNode).toBeNull();
  const run = expectOk(await fx.ws.ftfs(["status", "--json", "--cluster", fx.clusterList]));
  const status = JSON.parse(text(run)) as { groups: Array<Record<string, unknown>> };
  expect(status.groups.find((view) => view.group === GROUP)).toMatchObject({
    dataLost: true,
    primaryNode: null,
  });
  const errors = await pollUntil("the directory says the group lost its data", async () => {
    const log = await fx.cluster.node("d1").log();
    const lines = log.split("\n").filter((line) => line.includes('"storage group lost its data'));
    return lines.length > 0 ? lines : undefined;
  });
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain(`"group":"${GROUP}"`);
  expectOneLineError(await fx.ws.ftfs([UID, "r", "kept.bin"]), /no replica in group s1 has chunk/);
  // Still lost, still no primary: a new folder is never promoted as if nothing happened.
  const later = await group();
  expect({ dataLost: later.dataLost, primary: later.primaryNode }).toEqual({
    dataLost: true,
    primary: null,
  });
});
