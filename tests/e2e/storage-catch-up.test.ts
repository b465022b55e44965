/**
 * Catch-up on real processes (issue: storage groups): a backup killed with kill -9 misses the
 * uploads made while it is down; restarted on its data it comes back as a learner, copies what
 * it lacks from the primary (chunks and owner references), and only then rejoins the in-sync
 * set. Proof that it holds everything: with both other replicas killed, it alone serves every
 * file, byte for byte, and lists them from its own references.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import {
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  KIB,
  pollUntil,
  randomBytes,
  sha256,
  useCluster,
  groupView,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "gina";
const FILES_WHILE_DOWN = 5;
const FILE_BYTES = 300 * KIB;

const fx = useCluster({ directories: 1, groups: [{ name: "s1", size: 3 }], chunkBytes: 64 * KIB });

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function group() {
  return groupView(fx.client, "s1");
}

test("a restarted backup catches up as a learner, then alone serves every file", async () => {
  const before = await group();
  const backup = before.replicas.find((replica) => replica.node !== before.primaryNode);
  if (backup === undefined) throw new Error("group s1 has no backup");
  const victim = fx.cluster.node(backup.node);
  const early = randomBytes(FILE_BYTES);
  expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file("early.bin", early)]));
  victim.kill("SIGKILL");
  await pollUntil("the killed backup leaves the in-sync set", async () =>
    (await group()).replicas.some((replica) => replica.node === victim.id) ? undefined : true,
  );
  const uploaded = new Map<string, string>([["early.bin", sha256(early)]]);
  for (let n = 0; n < FILES_WHILE_DOWN; n += 1) {
    const bytes = randomBytes(FILE_BYTES + n);
    const name = `missed-${n}.bin`;
    expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file(name, bytes)]));
    uploaded.set(name, sha256(bytes));
  }
  expectOk(await fx.ws.ftfs(["rm", "early.bin", "--user", UID]));
  uploaded.delete("early.bin");

  await victim.restart();
  const learner = await pollUntil("the restarted node is a learner", async () => {
    const view = await group();
    return view.learners?.some((member) => member.node === victim.id) === true ? view : undefined;
  });
  expect(learner.replicas.some((replica) => replica.node === victim.id)).toBe(false);
  await pollUntil("the learner caught up and is in sync", async () =>
    (await group()).replicas.some((replica) => replica.node === victim.id) ? true : undefined,
  );
  expect(await victim.log()).toContain("caught up with the group primary");

  for (const other of fx.cluster.nodes.filter((node) => node.group === "s1" && node !== victim)) {
    other.kill("SIGKILL");
  }
  await pollUntil("the caught-up node is the only replica and primary", async () => {
    const view = await group();
    const alone = view.replicas.length === 1 && view.primaryNode === victim.id;
    return alone ? true : undefined;
  });
  for (const [name, digest] of uploaded) {
    expect(sha256(expectOk(await fx.ws.ftfs([UID, "r", name])).stdout)).toBe(digest);
  }
  // Its own references name exactly the live files: the deleted one's go too, once the
  // directory's dropRefs notice (delivered in the background, with backoff) has reached it.
  const live = [...uploaded.keys()].sort();
  const names = await pollUntil("the restarted node lists exactly the live files", async () => {
    const listed = (await fx.client.listFromStorage(UID)).map((file) => file.name).sort();
    return JSON.stringify(listed) === JSON.stringify(live) ? listed : undefined;
  });
  expect(names).toEqual(live);
});
