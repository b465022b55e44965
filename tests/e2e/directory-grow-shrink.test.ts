/**
 * Growing and shrinking the directory group online, under uploads: two nodes are added (each
 * joins as a learner, catches up and is promoted), then two of the original three are removed
 * (the primary among them when it is one, which hands over once its removal commits), while a
 * client keeps uploading; no client operation fails, and every acknowledged upload reads back.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FtfsClient } from "@ftfs/client";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { E2E_CHUNK_BYTES, pollUntil } from "./helpers.ts";

/** Two promotions (2 s each once caught up), two removals and a handover, with slack. */
const GROW_SHRINK_TEST_TIMEOUT_MS = 120_000;
const PROMOTED_DEADLINE_MS = 30_000;
/** Between a client's uploads: steady traffic, not a flood. */
const UPLOAD_PAUSE_MS = 20;

setDefaultTimeout(GROW_SHRINK_TEST_TIMEOUT_MS);

let cluster: LocalCluster;
let admin: FtfsClient;

beforeAll(async () => {
  cluster = await startCluster({
    directories: 3,
    groups: [{ name: "s1", size: 2 }],
    chunkBytes: E2E_CHUNK_BYTES,
  });
  admin = new FtfsClient({ directories: cluster.directoryAddresses });
});

afterAll(async () => {
  admin?.close();
  await cluster?.stop();
});

async function voters(): Promise<string[]> {
  const view = await admin.directoryMembers();
  return view.members
    .filter((member) => member.voter)
    .map((member) => member.node)
    .sort();
}

async function addAndPromote(id: string): Promise<void> {
  const node = await cluster.addDirectory(id);
  await admin.directoryChange("add", id, node.address);
  await pollUntil(
    `${id} promoted`,
    async () => ((await voters()).includes(id) ? true : undefined),
    PROMOTED_DEADLINE_MS,
  );
}

test("add two directory nodes and remove two originals under uploads: no operation fails", async () => {
  const user = new FtfsClient({ directories: cluster.directoryAddresses });
  await user.connect("alice");
  const acknowledged = new Map<string, Uint8Array>();
  const failures: string[] = [];
  let stop = false;
  const uploads = (async () => {
    for (let n = 0; !stop; n += 1) {
      const name = `f${n}`;
      const bytes = crypto.getRandomValues(new Uint8Array(1024 + n));
      try {
        await user.uploadBytes("alice", name, bytes);
        acknowledged.set(name, bytes);
      } catch (error) {
        failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
      await Bun.sleep(UPLOAD_PAUSE_MS);
    }
  })();
  await addAndPromote("d4");
  await addAndPromote("d5");
  expect(await voters()).toEqual(["d1", "d2", "d3", "d4", "d5"]);
  for (const id of ["d1", "d2"]) {
    await admin.directoryChange("remove", id);
    await cluster.node(id).stop();
  }
  expect(await voters()).toEqual(["d3", "d4", "d5"]);
  await Bun.sleep(1_000); // uploads go on with the new group
  stop = true;
  await uploads;
  expect(failures).toEqual([]);
  expect(acknowledged.size).toBeGreaterThan(20);
  const reader = new FtfsClient({ directories: cluster.directoryAddresses.slice(2) });
  for (const [name, bytes] of acknowledged) {
    expect(await reader.readBytes("alice", name)).toEqual(bytes);
  }
  reader.close();
  user.close();
});
