/**
 * A full disk is an answer, not a crash (issue 13), for a cluster with ONE directory node whose
 * data folder is a small tmpfs filled to the last byte: uploads are refused with one clear
 * DISK_FULL line from the `ftfs` CLI, the node keeps answering (its process never exits, and a
 * restart on the still-full disk comes up the same way), its listing and reads of what was
 * there still work, and once the filler is removed uploads succeed again with every
 * acknowledged file intact. Needs root for the tmpfs: without it the
 * test is skipped, except under CI=true, where it fails naming why.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { FtfsClient } from "@ftfs/client";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  expectOneLineError,
  KIB,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  workspace,
  type Workspace,
} from "./helpers.ts";
import {
  fillDisk,
  mountSmallDisk,
  guardSmallDiskSuite,
  unfillDisk,
  unmountAll,
} from "./small-disk.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "fay";
/** Room for the directory's database and its WAL in a short test, and little more. */
const DISK_BYTES = 8 * MIB;
const FILE_BYTES = 4 * KIB;
/**
 * A filled disk does not refuse the very next commit: SQLite reuses the WAL space it already
 * holds. Writes go on until the database needs a byte more; this bounds how many that takes.
 */
const WRITES_UNTIL_REFUSED_MAX = 1_000;
/** A DISK_FULL answer is immediate: the client does not retry it through a whole deadline. */
const DISK_FULL_ANSWER_MS_MAX = 5_000;
/** Space back, the node rejoins within a few probes and an election. */
const RECOVERY_DEADLINE_MS = 30_000;

describe("one directory node whose disk fills", () => {
  if (!guardSmallDiskSuite()) return;

  let dataRoot = "";
  let cluster: LocalCluster | null = null;
  let ws: Workspace | null = null;
  let client: FtfsClient | null = null;

  beforeAll(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), "ftfs-disk-full-"));
    mountSmallDisk(join(dataRoot, "d1"), DISK_BYTES);
    cluster = await startCluster({
      directories: 1,
      groups: [{ name: "s1", size: 1 }],
      chunkBytes: E2E_CHUNK_BYTES,
      dataRoot,
      keep: true,
    });
    ws = await workspace();
    client = new FtfsClient({ directories: cluster.directoryAddresses });
  });

  afterAll(async () => {
    client?.close();
    if (cluster !== null) await Promise.all(cluster.nodes.map((node) => node.stop()));
    unmountAll();
    if (dataRoot !== "") await rm(dataRoot, { recursive: true, force: true });
  });

  test("uploads get DISK_FULL, listing and reads work, uploads resume with space", async () => {
    if (cluster === null || ws === null || client === null) throw new Error("cluster not started");
    const directory = cluster.node("d1");
    const clusterList = cluster.directoryAddresses.join(",");
    expectOk(await ws.ftfs([UID, "c", "--cluster", clusterList]));
    const acknowledged = new Map<string, string>();
    for (const name of ["before-1", "before-2", "before-3"]) {
      const bytes = randomBytes(FILE_BYTES);
      expectOk(await ws.ftfs([UID, "a", await ws.file(name, bytes)]));
      acknowledged.set(name, sha256(bytes));
    }

    const filler = fillDisk(directory.dataDir);
    const refusal = await writeUntilRefused(client, acknowledged);
    expect(refusal.error.code).toBe("DISK_FULL");
    expect(refusal.tookMs).toBeLessThan(DISK_FULL_ANSWER_MS_MAX);
    expect(directory.running).toBe(true);

    // The CLI says so in one line, at once, naming what is full and that reads still work.
    const refusedPath = await ws.file("refused.bin", randomBytes(FILE_BYTES));
    const refusedAtMs = performance.now();
    const refused = await ws.ftfs([UID, "a", refusedPath]);
    expectOneLineError(refused, /disk is full.*reads still work/);
    expect(performance.now() - refusedAtMs).toBeLessThan(DISK_FULL_ANSWER_MS_MAX);
    const stale = text(expectOk(await ws.ftfs([UID, "d", "--stale", "--json"])));
    expectListing(stale, acknowledged, refusal.name);
    const [firstName, firstDigest] = [...acknowledged][0] ?? ["", ""];
    expect(sha256(expectOk(await ws.ftfs([UID, "r", firstName])).stdout)).toBe(firstDigest);
    expect(directory.running).toBe(true);

    // Restarted on the still-full disk, it comes up and answers the same way.
    await directory.restart();
    const restarted = await pollUntil("the restarted node lists its files", async () => {
      const run = await ws?.ftfs([UID, "d", "--stale", "--json"]);
      return run?.exitCode === 0 ? text(run) : undefined;
    });
    expectListing(restarted, acknowledged, refusal.name);
    expectOneLineError(await ws.ftfs([UID, "a", refusedPath]), /disk is full/);
    expect(directory.running).toBe(true);

    unfillDisk(filler);
    const after = randomBytes(FILE_BYTES);
    const afterPath = await ws.file("after.bin", after);
    await pollUntil(
      "an upload accepted once space returned",
      async () => ((await ws?.ftfs([UID, "a", afterPath]))?.exitCode === 0 ? true : undefined),
      RECOVERY_DEADLINE_MS,
    );
    acknowledged.set("after.bin", sha256(after));
    const listing = text(expectOk(await ws.ftfs([UID, "d", "--json"])));
    expectListing(listing, acknowledged, refusal.name);
    for (const [name, digest] of acknowledged) {
      expect(sha256(await client.readBytes(UID, name))).toBe(digest);
    }
    expect(directory.running).toBe(true);
  });
});

/** Uploads small files until one is refused; records each acknowledged one. */
async function writeUntilRefused(
  client: FtfsClient,
  acknowledged: Map<string, string>,
): Promise<{ name: string; error: FtfsError; tookMs: number }> {
  for (let n = 0; n < WRITES_UNTIL_REFUSED_MAX; n += 1) {
    const name = `full-${n}`;
    const bytes = randomBytes(FILE_BYTES);
    const startedMs = performance.now();
    try {
      await client.uploadBytes(UID, name, bytes);
      acknowledged.set(name, sha256(bytes));
    } catch (error) {
      if (!(error instanceof FtfsError)) throw error;
      return { name, error, tookMs: performance.now() - startedMs };
    }
  }
  throw new Error(`${WRITES_UNTIL_REFUSED_MAX} uploads after the disk filled were all accepted`);
}

/**
 * Every acknowledged file is listed, and nothing else but perhaps the upload in flight when
 * the disk filled: its outcome is unknown to its client (as after a crash mid-commit).
 */
function expectListing(json: string, acknowledged: ReadonlyMap<string, string>, inFlight: string) {
  const listed = (JSON.parse(json) as Array<{ name: string }>).map((file) => file.name);
  const missing = [...acknowledged.keys()].filter((name) => !listed.includes(name));
  const unexpected = listed.filter((name) => !acknowledged.has(name) && name !== inFlight);
  expect({ missing, unexpected }).toEqual({ missing: [], unexpected: [] });
}
