/**
 * The directory autopilot on real processes (`--autopilot-dead-after`, off by default): a
 * fourth directory node is added and promoted, then killed with kill -9; the primary removes
 * it once it has been silent past the threshold, and says so in its log. With three voters
 * left (the minimum), another killed node stays a voter however long it is silent, and the
 * group keeps committing on the two that answer.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FtfsClient } from "@ftfs/client";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { E2E_CHUNK_BYTES, pollUntil } from "./helpers.ts";

const AUTOPILOT_TEST_TIMEOUT_MS = 90_000;
const DEAD_AFTER_MS = 2_000;
/** Promotion (2 s once caught up), then the silence, with room on a loaded machine. */
const CHANGE_DEADLINE_MS = 30_000;
/** The silence starts at d4's last answer, up to a heartbeat before the kill. */
const LAST_ANSWER_BEFORE_KILL_MS = 500;
/** Well past the threshold: long enough for a removal that must not happen to have happened. */
const STAYS_MS = 3 * DEAD_AFTER_MS;

setDefaultTimeout(AUTOPILOT_TEST_TIMEOUT_MS);

let cluster: LocalCluster;
let admin: FtfsClient;

beforeAll(async () => {
  cluster = await startCluster({
    directories: 3,
    groups: [{ name: "s1", size: 1 }],
    chunkBytes: E2E_CHUNK_BYTES,
    env: { FTFS_AUTOPILOT_DEAD_AFTER: `${DEAD_AFTER_MS}ms` },
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

test("a voter dead past the threshold is removed; never below three voters", async () => {
  const d4 = await cluster.addDirectory("d4");
  await admin.directoryChange("add", "d4", d4.address);
  await pollUntil(
    "d4 promoted",
    async () => ((await voters()).includes("d4") ? true : undefined),
    CHANGE_DEADLINE_MS,
  );
  d4.kill("SIGKILL");
  const killedMs = Date.now();
  await pollUntil(
    "the autopilot removes d4",
    async () => ((await voters()).includes("d4") ? undefined : true),
    CHANGE_DEADLINE_MS,
  );
  const removedMs = Date.now() - killedMs;
  expect(removedMs).toBeGreaterThanOrEqual(DEAD_AFTER_MS - LAST_ANSWER_BEFORE_KILL_MS);
  expect(await voters()).toEqual(["d1", "d2", "d3"]);
  const primary = (await admin.directoryMembers()).primary;
  await pollUntil("the primary logs the removal", async () => {
    const log = await cluster.node(primary).log();
    return log.includes('"msg":"autopilot removed a dead directory voter","voter":"d4"')
      ? true
      : undefined;
  });
  console.log(
    `autopilot: d4 killed, removed ${removedMs} ms later (threshold ${DEAD_AFTER_MS} ms)`,
  );

  const backup = ["d1", "d2", "d3"].find((id) => id !== primary) ?? "";
  cluster.node(backup).kill("SIGKILL");
  await Bun.sleep(STAYS_MS);
  expect(await voters()).toEqual(["d1", "d2", "d3"]);
  const user = new FtfsClient({ directories: cluster.directoryAddresses });
  await user.connect("ann");
  const bytes = new TextEncoder().encode("still committing on two of three");
  await user.uploadBytes("ann", "after.txt", bytes);
  expect(await user.readBytes("ann", "after.txt")).toEqual(bytes);
  user.close();
});
