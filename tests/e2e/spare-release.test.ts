/**
 * Spares go back to the pool (DESIGN.md, storage groups: "spares are released when not
 * needed"): a group of two plus one `--spare`. A backup is killed; past the grace the spare is
 * assigned and catches up. The backup restarts on its folder, catches up and takes its place
 * again: the group, at its factor without the spare, releases it, and the spare forgets the
 * group's chunks, references and assignment (raw disk use falls back to live bytes × factor).
 * Back in the pool, it is the one assigned when the group loses a node again, and then serves
 * every file alone.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdir } from "node:fs/promises";
import {
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  KIB,
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
const SPARE = "x1";
const CHUNK_BYTES = 64 * KIB;
const FILES = 4;
const FILE_BYTES = 256 * KIB;
const REREPLICATION_GRACE_MS = 1_000;
/** Kill → detection (3 s) → grace → copy → join, on a machine a benchmark may be loading. */
const CHANGE_DEADLINE_MS = 45_000;

const fx = useCluster({
  directories: 1,
  groups: [{ name: GROUP, size: 2 }],
  spares: 1,
  chunkBytes: CHUNK_BYTES,
  env: { FTFS_REREPLICATION_GRACE: `${REREPLICATION_GRACE_MS}ms` },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function group() {
  return groupView(fx.client, GROUP);
}

/** The group's in-sync nodes once it has no learner and they are exactly `nodes`. */
async function inSyncBecomes(what: string, nodes: readonly string[]) {
  return pollUntil(
    what,
    async () => {
      const view = await group();
      const inSync = view.replicas.map((replica) => replica.node).sort();
      const settled = (view.learners ?? []).length === 0 && view.primary !== null;
      return settled && inSync.join(",") === [...nodes].sort().join(",") ? view : undefined;
    },
    CHANGE_DEADLINE_MS,
  );
}

async function chunkFiles(dataDir: string): Promise<number> {
  return (await storedChunks(dataDir)).size;
}

async function hasAssignment(dataDir: string): Promise<boolean> {
  return (await readdir(dataDir)).includes("assignment.json");
}

test("a spare the group no longer needs forgets its data and serves the next group that needs it", async () => {
  const uploaded = new Map<string, string>();
  for (let n = 0; n < FILES; n += 1) {
    const bytes = randomBytes(FILE_BYTES + n);
    const name = `file-${n}.bin`;
    expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file(name, bytes)]));
    uploaded.set(name, sha256(bytes));
  }
  const spare = fx.cluster.node(SPARE);
  const before = await group();
  const backup = fx.cluster.node(
    before.replicas.find((r) => r.node !== before.primaryNode)?.node ?? "",
  );
  const primary = fx.cluster.node(before.primaryNode ?? "");
  const liveChunks = await chunkFiles(primary.dataDir);
  expect(liveChunks).toBeGreaterThanOrEqual(FILES * (FILE_BYTES / CHUNK_BYTES));

  backup.kill("SIGKILL");
  await backup.exited();
  await inSyncBecomes("the spare in sync in place of the killed backup", [primary.id, SPARE]);
  expect(await chunkFiles(spare.dataDir)).toBe(liveChunks);
  expect(await hasAssignment(spare.dataDir)).toBe(true);

  backup.start();
  const back = await inSyncBecomes("the backup in sync again, the spare released", [
    primary.id,
    backup.id,
  ]);
  expect(back.replicationFactor).toBe(2);
  await pollUntil("the released spare forgot the group's data and assignment", async () =>
    (await chunkFiles(spare.dataDir)) === 0 && !(await hasAssignment(spare.dataDir))
      ? true
      : undefined,
  );
  expect(await chunkFiles(backup.dataDir)).toBe(liveChunks);
  await pollUntil("ftfs status shows it a spare in no group", async () => {
    const run = await fx.ws.ftfs(["status", "--cluster", fx.clusterList]);
    return /^x1\s+storage\s+spare\s/m.test(text(run)) ? true : undefined;
  });

  // Back in the pool: the next loss assigns it again, and it alone then holds every file.
  primary.kill("SIGKILL");
  await inSyncBecomes("the spare in sync again, in place of the killed primary", [
    backup.id,
    SPARE,
  ]);
  backup.kill("SIGKILL");
  await pollUntil("the spare is the only replica and primary", async () => {
    const view = await group();
    return view.primaryNode === SPARE && view.replicas.length === 1 ? true : undefined;
  });
  for (const [name, digest] of uploaded) {
    expect(sha256(expectOk(await fx.ws.ftfs([UID, "r", name])).stdout)).toBe(digest);
  }
});
