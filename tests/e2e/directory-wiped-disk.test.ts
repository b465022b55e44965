/**
 * A directory node whose disk was wiped, restarted under its old id without `--new-member`
 * (the mistake the identity guards against): the group binds each member to the data folder
 * it formed from, so the node on its new folder is a stranger. Its votes and acknowledgements
 * are ignored (it could otherwise help elect a primary missing entries it had acknowledged),
 * the primary says so in its log, and the node says it will not vote. The group commits on
 * the two others meanwhile. Removing and adding it back binds its new folder: it catches up,
 * votes again, and with the other backup killed the group commits on the primary and it.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { FtfsClient } from "@ftfs/client";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { E2E_CHUNK_BYTES, pollUntil, randomBytes } from "./helpers.ts";

const WIPED_TEST_TIMEOUT_MS = 120_000;
/** Catching up a short log and staying close for the promotion's 2 s: well within. */
const PROMOTED_DEADLINE_MS = 30_000;

setDefaultTimeout(WIPED_TEST_TIMEOUT_MS);

let cluster: LocalCluster;
let admin: FtfsClient;

beforeAll(async () => {
  cluster = await startCluster({
    directories: 3,
    groups: [{ name: "s1", size: 1 }],
    chunkBytes: E2E_CHUNK_BYTES,
  });
  admin = new FtfsClient({ directories: cluster.directoryAddresses });
});

afterAll(async () => {
  admin?.close();
  await cluster?.stop();
});

async function logged(id: string, text: string): Promise<true | undefined> {
  return (await cluster.node(id).log()).includes(text) ? true : undefined;
}

test("a wiped directory node back under its old id is a stranger until removed and added back", async () => {
  const user = new FtfsClient({ directories: cluster.directoryAddresses });
  await user.connect("wen");
  const files = new Map<string, Uint8Array>();
  const upload = async (name: string) => {
    const bytes = randomBytes(2 * E2E_CHUNK_BYTES + files.size);
    await user.uploadBytes("wen", name, bytes);
    files.set(name, bytes);
  };
  await upload("before.bin");
  const primary = (await admin.directoryMembers()).primary;
  const [wiped, other] = ["d1", "d2", "d3"].filter((id) => id !== primary);
  if (wiped === undefined || other === undefined) throw new Error("no two backups");

  const node = cluster.node(wiped);
  node.kill("SIGKILL");
  await node.exited();
  for (const entry of await readdir(node.dataDir)) {
    await rm(join(node.dataDir, entry), { recursive: true, force: true });
  }
  node.start(); // as it always started: it forms again from what it sees
  await pollUntil("the primary reports the stranger", () =>
    logged(primary, "answers from another data folder than the group knows for it"),
  );
  await pollUntil("the wiped node says it will not vote", () =>
    logged(wiped, "it will not vote or campaign"),
  );
  await upload("while-stranger.bin");

  await admin.directoryChange("remove", wiped);
  await admin.directoryChange("add", wiped, node.address);
  await pollUntil(
    `${wiped} promoted on its new folder`,
    async () => {
      const view = await admin.directoryMembers();
      return view.members.some((member) => member.node === wiped && member.voter)
        ? true
        : undefined;
    },
    PROMOTED_DEADLINE_MS,
  );
  cluster.node(other).kill("SIGKILL");
  await upload("after.bin");
  const reader = new FtfsClient({ directories: cluster.directoryAddresses });
  for (const [name, bytes] of files) expect(await reader.readBytes("wen", name)).toEqual(bytes);
  reader.close();
  user.close();
});
