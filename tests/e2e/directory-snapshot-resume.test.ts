/**
 * A new directory node catches up from a snapshot image whose transfer is interrupted, on real
 * processes: a one-node group on a directory of 100,000 files (built in bulk, its snapshot an
 * image of ~45 MiB, about a dozen parts); a new member added with the real `ftfs` binary
 * starts pulling the image; it is frozen (SIGSTOP) once some parts are on its disk but not
 * all, and killed (kill -9). Restarted on its folder, it resumes from the parts it kept (not
 * from 0), checks and installs the image, is promoted to voter, and answers reads of its own
 * state exactly. Its memory stays far below the image's size plus the old in-memory copies.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { raft } from "@ftfs/protocol/core";
import { RpcClient } from "@ftfs/protocol/io";
import { freePort, type NodeProcess, standaloneDirectory } from "@ftfs/protocol/testing";
import { peakRssBytes } from "../../bench/src/common/process-memory.ts";
import { buildDatabase, MID_USER, type ScaleOptions } from "../../bench/src/directory/scale.ts";
import { expectOk, MIB, pollUntil, text, workspace, type Workspace } from "./helpers.ts";

/** Building 100,000 files and moving ~45 MiB twice takes a while on a shared machine. */
const TEST_TIMEOUT_MS = 180_000;
const CATCH_UP_DEADLINE_MS = 90_000;
/** How often the test looks at the receiver's partial image to freeze it mid-transfer. */
const FREEZE_POLL_MS = 2;
/** Far below what holding the image in memory (and its copies) used to cost. */
const RECEIVER_PEAK_RSS_BYTES_MAX = 256 * MIB;
const PLAN: ScaleOptions = {
  files: 100_000,
  users: 10,
  bigUserFiles: 50_000,
  midUserFiles: 1_000,
  listRepeats: 1,
  commits: 1,
};

setDefaultTimeout(TEST_TIMEOUT_MS);

let ws: Workspace;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  ws = await workspace();
});

afterAll(async () => {
  for (const node of nodes) await node.stop();
  await rm(ws?.folder ?? "", { recursive: true, force: true });
});

function directory(id: string, address: string, folder: string, extra: readonly string[]) {
  const node = standaloneDirectory(id, address, folder, extra);
  nodes.push(node);
  return node;
}

async function logOf(node: NodeProcess): Promise<string> {
  return readFile(node.logPath, "utf8").catch(() => "");
}

/** The receiver's partial image: its bytes, or null while there is none. */
async function partialBytes(folder: string): Promise<number | null> {
  const names = await readdir(join(folder, "snapshots")).catch(() => [] as string[]);
  const part = names.find((name) => name.endsWith(".part"));
  if (part === undefined) return null;
  return (await stat(join(folder, "snapshots", part)).catch(() => null))?.size ?? null;
}

async function staleNames(address: string, uid: string): Promise<string[]> {
  const client = await RpcClient.connect(address);
  try {
    const files = (await client.call("listFiles", { uid, stale: true })).body.files;
    return files.map((file) => file.name);
  } finally {
    client.close();
  }
}

test("a new member's snapshot transfer, killed midway, resumes from its parts on disk and installs a checked image", async () => {
  const d1Folder = join(ws.folder, "d1");
  const d2Folder = join(ws.folder, "d2");
  const d1Address = `127.0.0.1:${await freePort()}`;
  const d2Address = `127.0.0.1:${await freePort()}`;
  await Bun.write(join(d1Folder, ".keep"), "");
  await Bun.write(join(d2Folder, ".keep"), "");
  const built = await buildDatabase(d1Folder, d1Address, PLAN, "bulk");
  const imageBytes = built.snapshotBytes;
  expect(imageBytes).toBeGreaterThan(3 * raft.SNAPSHOT_IMAGE_PART_BYTES);

  const d1 = directory("d1", d1Address, d1Folder, ["--expect", "1"]);
  d1.start();
  const env = { FTFS_CLUSTER: d1Address };
  await pollUntil(
    "d1 to serve as primary",
    async () =>
      (await ws.ftfs(["admin", "directory", "ls"], { env })).exitCode === 0 ? true : undefined,
    CATCH_UP_DEADLINE_MS,
  );
  const d2 = directory("d2", d2Address, d2Folder, ["--join", d1Address, "--new-member"]);
  d2.start();
  expectOk(await ws.ftfs(["admin", "directory", "add", "d2", d2Address], { env }));

  // Freeze d2 once part of the image is on its disk, then kill it: an interrupted transfer.
  const deadline = Date.now() + CATCH_UP_DEADLINE_MS;
  let frozenAt: number | null = null;
  while (frozenAt === null && Date.now() < deadline) {
    const bytes = await partialBytes(d2Folder);
    if (bytes !== null && bytes >= raft.SNAPSHOT_IMAGE_PART_BYTES) {
      d2.kill("SIGSTOP");
      frozenAt = await partialBytes(d2Folder);
    } else await Bun.sleep(FREEZE_POLL_MS);
  }
  expect(frozenAt).not.toBeNull();
  expect(frozenAt ?? imageBytes).toBeLessThan(imageBytes);
  d2.kill("SIGKILL");
  await d2.exited();
  expect(await logOf(d2)).not.toContain("snapshot image received and checked");

  d2.start();
  await pollUntil(
    "d2 to install the image",
    async () =>
      (await logOf(d2)).includes("state restored from the primary's snapshot") ? true : undefined,
    CATCH_UP_DEADLINE_MS,
  );
  const log = await logOf(d2);
  const resumed = log.split("\n").find((line) => line.includes("snapshot image transfer resumed"));
  expect(resumed).toBeDefined();
  const offset = Number(/"offset":(\d+)/.exec(resumed ?? "")?.[1] ?? "0");
  expect(offset).toBeGreaterThanOrEqual(raft.SNAPSHOT_IMAGE_PART_BYTES);
  expect(offset % raft.SNAPSHOT_IMAGE_PART_BYTES).toBe(0);
  expect(log).toContain("snapshot image received and checked");

  const promoted = await pollUntil(
    "d2 promoted to voter",
    async () => {
      const run = await ws.ftfs(["admin", "directory", "ls", "--json"], { env });
      if (run.exitCode !== 0) return undefined;
      const view = JSON.parse(text(run)) as { members: Array<{ node: string; voter: boolean }> };
      return view.members.find((m) => m.node === "d2")?.voter === true ? view : undefined;
    },
    CATCH_UP_DEADLINE_MS,
  );
  expect(promoted.members.map((m) => m.node).sort()).toEqual(["d1", "d2"]);
  const expected = Array.from({ length: PLAN.midUserFiles }, (_, at) => {
    return `file-${String(at).padStart(6, "0")}.bin`;
  });
  expect(await staleNames(d2Address, MID_USER)).toEqual(expected);
  expect(await staleNames(d1Address, MID_USER)).toEqual(expected);
  const peak = await peakRssBytes(d2.pid ?? 0);
  console.log(
    `receiver peak RSS ${((peak ?? 0) / MIB).toFixed(0)} MiB; image ${(imageBytes / MIB).toFixed(0)} MiB`,
  );
  expect(peak).not.toBeNull();
  expect(peak ?? Number.POSITIVE_INFINITY).toBeLessThan(RECEIVER_PEAK_RSS_BYTES_MAX);
});
