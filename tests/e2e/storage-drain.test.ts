/**
 * Draining a storage node on real processes, under uploads and reads (issue 15): the group of
 * three and one `--spare`, with the re-replication grace far longer than the test, so only the
 * drain can bring the spare in. `ftfs admin storage drain <primary> --wait` (the real binary)
 * moves the primary role off the node, the spare copies the group's data while the node keeps
 * serving, and the node leaves only once the group is back at three in-sync copies without it.
 * No client operation fails meanwhile. Proof that the spare holds every acknowledged byte: the
 * drained node and both other original members are killed with kill -9, and the spare alone
 * serves every file acknowledged before and during the drain, byte for byte.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FtfsClient } from "@ftfs/client";
import {
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  expectOneLineError,
  groupView,
  KIB,
  MIB,
  pollUntil,
  randomBytes,
  text,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "ines";
const GROUP = "s1";
const SPARE = "x1";
const CHUNK_BYTES = 256 * KIB;
const SEED_FILES = 6;
const SEED_FILE_BYTES = MIB;
/** Far past the test: a spare that comes is the drain's, not the grace's. */
const REREPLICATION_GRACE_MS = 600_000;
const CATCH_UP_BYTES_PER_SECOND = 32 * MIB;
/** Between a client's operations: steady traffic, not a flood. */
const LOAD_PAUSE_MS = 20;
/** The spare's copy of a few MiB, and its joining, on a machine a benchmark may be loading. */
const DRAIN_DEADLINE_MS = 45_000;

const fx = useCluster({
  directories: 1,
  groups: [{ name: GROUP, size: 3 }],
  spares: 1,
  chunkBytes: CHUNK_BYTES,
  env: {
    FTFS_REREPLICATION_GRACE: `${REREPLICATION_GRACE_MS}ms`,
    FTFS_CATCH_UP_RATE: `${CATCH_UP_BYTES_PER_SECOND}`,
  },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

test("a node that is in no group is refused in one line", async () => {
  const run = await fx.ws.ftfs(["admin", "storage", "drain", "zz9", "--cluster", fx.clusterList]);
  expectOneLineError(run, /storage node zz9 is in no storage group/);
});

test("drain the primary under uploads and reads: the spare takes its place, nothing fails", async () => {
  const user = new FtfsClient({ directories: fx.cluster.directoryAddresses });
  await user.connect(UID);
  const acknowledged = new Map<string, Uint8Array>();
  for (let n = 0; n < SEED_FILES; n += 1) {
    const bytes = randomBytes(SEED_FILE_BYTES + n);
    await user.uploadBytes(UID, `seed-${n}`, bytes);
    acknowledged.set(`seed-${n}`, bytes);
  }
  const before = await groupView(fx.client, GROUP);
  const victim = before.primaryNode ?? "";
  expect(before.replicas).toHaveLength(3);

  const failures: string[] = [];
  let reads = 0;
  let stop = false;
  const load = (async () => {
    for (let n = 0; !stop; n += 1) {
      const name = `during-${n}`;
      const bytes = randomBytes(64 * KIB + n);
      try {
        await user.uploadBytes(UID, name, bytes);
        acknowledged.set(name, bytes);
        const readBack = `seed-${n % SEED_FILES}`;
        const got = await user.readBytes(UID, readBack);
        if (!Buffer.from(got).equals(Buffer.from(acknowledged.get(readBack) ?? []))) {
          failures.push(`${readBack}: read back different bytes`);
        }
        reads += 1;
      } catch (error) {
        failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
      await Bun.sleep(LOAD_PAUSE_MS);
    }
  })();

  const startedMs = Date.now();
  const drain = await fx.ws.ftfs(
    ["admin", "storage", "drain", victim, "--wait", "--cluster", fx.clusterList],
    { timeoutMs: DRAIN_DEADLINE_MS },
  );
  const drainMs = Date.now() - startedMs;
  expectOk(drain);
  const lines = text(drain).trim().split("\n");
  expect(lines[0]).toBe(`draining ${victim} out of ${GROUP}; \`ftfs admin storage ls\` shows it`);
  expect(lines.at(-1)).toBe(
    `${victim} drained out of ${GROUP}: the group holds 3 copies without it; safe to stop`,
  );
  await Bun.sleep(500); // the load goes on with the new configuration
  stop = true;
  await load;
  expect(failures).toEqual([]);
  expect(reads).toBeGreaterThan(5);

  const after = await groupView(fx.client, GROUP);
  const inSync = after.replicas.map((replica) => replica.node).sort();
  expect(inSync).toEqual(
    [
      ...before.replicas.map((replica) => replica.node).filter((node) => node !== victim),
      SPARE,
    ].sort(),
  );
  expect(after.primaryNode).not.toBe(victim);
  expect(after.learners ?? []).toEqual([]);
  expect(after.draining).toEqual([victim]);
  expect(after.replicationFactor).toBe(3);

  const table = text(
    expectOk(await fx.ws.ftfs(["admin", "storage", "ls", "--cluster", fx.clusterList])),
  );
  expect(table).toMatch(
    new RegExp(`^${victim}\\s+${GROUP}\\s+drained\\s+alive\\s.*safe to stop$`, "m"),
  );
  console.log(
    `storage drain: ${victim} (primary) drained out of ${GROUP} in ${drainMs} ms under load; ` +
      `${acknowledged.size} files acknowledged, ${reads} reads, ${failures.length} failures`,
  );

  // Only the spare left: it serves every acknowledged file, byte for byte.
  for (const node of fx.cluster.nodes.filter((each) => each.group === GROUP)) {
    node.kill("SIGKILL");
  }
  await pollUntil("the spare alone is primary", async () => {
    const view = await groupView(fx.client, GROUP);
    return view.primaryNode === SPARE ? true : undefined;
  });
  const reader = new FtfsClient({ directories: fx.cluster.directoryAddresses });
  for (const [name, bytes] of acknowledged) {
    expect(Buffer.from(await reader.readBytes(UID, name)).equals(Buffer.from(bytes))).toBe(true);
  }
  reader.close();
  user.close();
});
