/**
 * Replacing a directory node whose disk died, as an operator would with the real `ftfs`
 * binary: a removal that would leave the live voters short of the new majority is refused
 * with one clear line; the dead node is removed; a new node (empty folder, `--new-member`) is
 * added, catches up and is promoted to voter on its own; then another original member is
 * killed with kill -9 and the group still commits, with every file uploaded before and after
 * read back exact.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { rm } from "node:fs/promises";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  pollUntil,
  randomBytes,
  text,
  workspace,
  type Workspace,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

/** Catching up an almost empty log and staying close for the promotion's 2 s: well within. */
const PROMOTED_DEADLINE_MS = 30_000;

let cluster: LocalCluster;
let ws: Workspace;

beforeAll(async () => {
  cluster = await startCluster({
    directories: 3,
    groups: [{ name: "s1", size: 2 }],
    chunkBytes: E2E_CHUNK_BYTES,
  });
  ws = await workspace();
});

afterAll(async () => {
  await cluster?.stop();
  await rm(ws?.folder ?? "", { recursive: true, force: true });
});

interface MembersJson {
  primary: string;
  members: Array<{ node: string; voter: boolean; address: string }>;
}

function ftfs(args: readonly string[], env: Record<string, string> = {}) {
  return ws.ftfs(args, { env: { FTFS_CLUSTER: cluster.directoryAddresses.join(","), ...env } });
}

async function members(): Promise<MembersJson> {
  return JSON.parse(
    text(expectOk(await ftfs(["admin", "directory", "ls", "--json"]))),
  ) as MembersJson;
}

test("replace a dead directory node: a quorum-losing removal is refused, the new node catches up and votes, and the group survives another kill -9", async () => {
  expectOk(await ftfs(["alice", "c"]));
  const before = await ws.file("before.bin", randomBytes(3 * E2E_CHUNK_BYTES + 7));
  expectOk(await ftfs(["alice", "a", before]));

  const start = await members();
  expect(start.members.map((m) => `${m.node}:${m.voter}`).sort()).toEqual([
    "d1:true",
    "d2:true",
    "d3:true",
  ]);
  const [dead, other] = ["d1", "d2", "d3"].filter((id) => id !== start.primary);
  if (dead === undefined || other === undefined) throw new Error("no two backups");

  // The disk of `dead` dies: its process is gone and its folder with it.
  cluster.node(dead).kill("SIGKILL");
  await cluster.node(dead).exited();
  await rm(cluster.node(dead).dataDir, { recursive: true, force: true });
  // The operator acts once the cluster says the node is dead (gossip's verdict, about a second).
  await pollUntil(`${dead} reported dead`, async () => {
    const status = JSON.parse(text(expectOk(await ftfs(["status", "--json"])))) as {
      members: Array<{ node: string; state: string }>;
    };
    return status.members.find((m) => m.node === dead)?.state === "dead" ? true : undefined;
  });

  // Removing the live backup would leave {primary, dead}: one live voter of a needed two.
  const risky = await ftfs(["admin", "directory", "remove", other]);
  expect(risky.exitCode).toBe(1);
  expect(risky.stderr).toContain("would need 2 voters to agree, and only 1 answer now");
  expect(risky.stderr.trim().split("\n")).toHaveLength(1);

  const removed = expectOk(await ftfs(["admin", "directory", "remove", dead]));
  expect(text(removed)).toContain(`removed ${dead} from the directory group`);
  expect((await members()).members.map((m) => m.node).sort()).toEqual(
    [start.primary, other].sort(),
  );

  const fresh = await cluster.addDirectory("d4");
  const added = expectOk(await ftfs(["admin", "directory", "add", "d4", fresh.address]));
  expect(text(added)).toContain("learner (catching up)");
  const promoted = await pollUntil(
    "d4 promoted to voter",
    async () => {
      const view = await members();
      return view.members.find((m) => m.node === "d4")?.voter === true ? view : undefined;
    },
    PROMOTED_DEADLINE_MS,
  );
  expect(promoted.members.filter((m) => m.voter)).toHaveLength(3);

  // Another original member dies: the primary and d4 are a majority of three.
  cluster.node(other).kill("SIGKILL");
  await cluster.node(other).exited();
  const after = await ws.file("after.bin", randomBytes(2 * E2E_CHUNK_BYTES + 3));
  expectOk(await ftfs(["alice", "a", after]));
  for (const [name, path] of [
    ["before.bin", before],
    ["after.bin", after],
  ] as const) {
    const read = expectOk(await ftfs(["alice", "r", name]));
    expect(
      Buffer.compare(Buffer.from(read.stdout), Buffer.from(await Bun.file(path).bytes())),
    ).toBe(0);
  }
});
