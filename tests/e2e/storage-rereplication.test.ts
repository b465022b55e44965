/**
 * Re-replication on real processes (issue: "a group below its replication factor for a grace
 * period gets a spare node assigned and re-replicated, at a bounded rate"): a group of three
 * plus one `--spare` node. The group's primary is killed with kill -9 and never restarted; past
 * the grace the directory assigns the spare, which copies the group's chunks at no more than
 * its catch-up rate and joins the in-sync set, so the group is back at three. Proof that it
 * holds everything: with both other original nodes killed, the spare alone serves every file,
 * byte for byte. The log shows the time from the kill to the restored factor and the rate of
 * the spare's copy.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  KIB,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  useCluster,
  groupView,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "hana";
const GROUP = "s1";
const SPARE = "x1";
const CHUNK_BYTES = 256 * KIB;
const FILES = 8;
/** 16 MiB in all: at the rate below the copy takes about 2 s, long enough to measure. */
const FILE_BYTES = 2 * MIB;
const REREPLICATION_GRACE_MS = 2_000;
const CATCH_UP_BYTES_PER_SECOND = 8 * MIB;
/** The measured rate may pass the bound by the chunks in flight when the last rest began. */
const RATE_TOLERANCE = 1.15;
/** Kill → detection (3 s) → grace → copy → join, on a machine a benchmark may be loading. */
const RESTORE_DEADLINE_MS = 45_000;

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

function group() {
  return groupView(fx.client, GROUP);
}

/** When the directory logged `msg` first after `afterMs` (wall clock, as the logs are). */
function loggedAtMs(log: string, msg: string, afterMs: number): number {
  for (const line of log.split("\n")) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const atMs = Date.parse((JSON.parse(line) as { time: string }).time);
    if (atMs >= afterMs) return atMs;
  }
  throw new Error(`no '${msg}' logged after the kill`);
}

/** The spare's "caught up" log line with the most bytes (its copy of the whole group). */
async function caughtUpLine(): Promise<{ bytesCopied: number; tookMs: number }> {
  const lines = (await fx.cluster.node(SPARE).log()).split("\n");
  const passes = lines
    .filter((line) => line.includes('"caught up with the group primary"'))
    .map((line) => JSON.parse(line) as { bytesCopied: number; tookMs: number });
  const biggest = passes.sort((a, b) => b.bytesCopied - a.bytesCopied)[0];
  if (biggest === undefined) throw new Error(`${SPARE} never logged that it caught up`);
  return biggest;
}

test("a node lost for good: a spare is assigned, copies at a bounded rate, serves", async () => {
  await pollUntil("ftfs status shows the spare", async () => {
    const run = await fx.ws.ftfs(["status", "--cluster", fx.clusterList]);
    return /^x1\s+storage\s+spare\s/m.test(text(run)) ? true : undefined;
  });
  const uploaded = new Map<string, string>();
  for (let n = 0; n < FILES; n += 1) {
    const bytes = randomBytes(FILE_BYTES + n);
    const name = `kept-${n}.bin`;
    expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file(name, bytes)]));
    uploaded.set(name, sha256(bytes));
  }
  const before = await group();
  expect([before.replicas.length, before.replicationFactor]).toEqual([3, 3]);
  const victim = fx.cluster.node(before.primaryNode ?? "");

  const killedAtMs = Date.now();
  victim.kill("SIGKILL");
  const restored = await pollUntil(
    "the spare is in sync and the group is back at three",
    async () => {
      const view = await group();
      const inSync = view.replicas.map((replica) => replica.node);
      const back = inSync.length === 3 && inSync.includes(SPARE) && !inSync.includes(victim.id);
      return back ? view : undefined;
    },
    RESTORE_DEADLINE_MS,
  );
  const restoredMs = Date.now() - killedAtMs;
  expect(restored.learners ?? []).toEqual([]);
  expect(restored.replicationFactor).toBe(3);
  const directoryLog = await fx.cluster.node("d1").log();
  const assigned = "spare assigned to an under-replicated group";
  const assignedMs = loggedAtMs(directoryLog, assigned, killedAtMs);
  const assignment = await readFile(join(fx.cluster.node(SPARE).dataDir, "assignment.json"));
  expect(JSON.parse(assignment.toString())).toEqual({ group: GROUP });

  const copy = await caughtUpLine();
  const totalBytes = FILES * FILE_BYTES;
  expect(copy.bytesCopied).toBeGreaterThanOrEqual(totalBytes);
  const rateMiBPerSecond = copy.bytesCopied / MIB / (copy.tookMs / 1_000);
  const boundMiBPerSecond = CATCH_UP_BYTES_PER_SECOND / MIB;
  console.log(
    `re-replication: kill -9 of ${victim.id} → replication factor 3 restored in ${restoredMs} ms ` +
      `(grace ${REREPLICATION_GRACE_MS} ms; spare assigned ${assignedMs - killedAtMs} ms after ` +
      `the kill); ${SPARE} copied ` +
      `${(copy.bytesCopied / MIB).toFixed(1)} MiB in ${copy.tookMs} ms = ` +
      `${rateMiBPerSecond.toFixed(2)} MiB/s (bound ${boundMiBPerSecond} MiB/s)`,
  );
  expect(rateMiBPerSecond).toBeLessThanOrEqual(boundMiBPerSecond * RATE_TOLERANCE);

  for (const other of fx.cluster.nodes.filter((node) => node.group === GROUP)) {
    other.kill("SIGKILL");
  }
  await pollUntil("the spare is the only replica and primary", async () => {
    const view = await group();
    return view.primaryNode === SPARE && view.replicas.length === 1 ? true : undefined;
  });
  for (const [name, digest] of uploaded) {
    expect(sha256(expectOk(await fx.ws.ftfs([UID, "r", name])).stdout)).toBe(digest);
  }
});
