/**
 * A notice replayed after `rm` and `put` of the same name, across a directory primary kill
 * (DESIGN.md: notices are exact and idempotent). The outbox forgets a batch only once its
 * acknowledgement commits; a primary that delivered a batch and died before that leaves it to
 * the next primary, which sends it again. Here the batch is [delete of f's first version, commit
 * of f's second], delivered, never acknowledged, then replayed. A delete notice that named only
 * the file (every reference of the name) dropped the second version's references on the
 * replay, and GC then deleted its chunks: an acknowledged file unreadable.
 *
 * Forcing the replay: group s2's only node is paused while a notice for it is on the wire, so
 * the outbox round waits out its call timeout (OUTBOX_CALL_TIMEOUT_MS, 5 s); f's two notices
 * for group s1 commit meanwhile and go together in the next round; the directory backups are
 * killed just before that round, so its acknowledgement cannot commit; then the primary is
 * killed, and the backups restarted elect a primary that sends the batch again.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { RpcClient } from "@ftfs/protocol/io";
import type { NodeProcess } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  pollUntil,
  primaryDirectory,
  randomBytes,
  sha256,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "rhea";
const GRACE_MS = 1_000;
/** The directory outbox's call timeout (apps/directory core limits): a paused group's round. */
const OUTBOX_CALL_TIMEOUT_MS = 5_000;
/**
 * When, after the round to paused s2 began, the directory backups are killed: before that
 * round times out (so f's batch goes in the next round, whose acknowledgement cannot commit)
 * and less than an election timeout before it (so the primary still leads when it delivers).
 */
const STOP_BACKUPS_AFTER_MS = OUTBOX_CALL_TIMEOUT_MS - 400;
/** After the round timed out: f's batch has been delivered by then. */
const KILL_PRIMARY_AFTER_MS = OUTBOX_CALL_TIMEOUT_MS + 600;
/** Enough that a file's chunks land in both groups. */
const CHUNKS_PER_FILE = 8;
/** GC passes on s1 after the replay that must leave the second version whole. */
const GC_PASSES_AFTER_REPLAY = 3;
const GC_PASSES_DEADLINE_MS = 30_000;

const fx = useCluster({
  directories: 3,
  groups: [
    { name: "s1", size: 1 },
    { name: "s2", size: 1 },
  ],
  chunkBytes: E2E_CHUNK_BYTES,
  // Debug: the test counts the notices s1 applied (the replay must happen for the test to mean
  // anything) and GC passes.
  env: { FTFS_GC_GRACE: `${GRACE_MS}ms`, FTFS_LOG_LEVEL: "debug" },
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function storageNode(group: string): NodeProcess {
  const node = fx.cluster.nodes.find((candidate) => candidate.group === group);
  if (node === undefined) throw new Error(`no storage node in group ${group}`);
  return node;
}

interface LogEntry {
  readonly msg: string;
  readonly op?: string;
  readonly name?: string;
}

async function logEntries(node: NodeProcess): Promise<LogEntry[]> {
  return (await node.log())
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogEntry);
}

/** Delete notices for `name` that the node applied. */
async function dropsApplied(node: NodeProcess, name: string): Promise<number> {
  return (await logEntries(node)).filter(
    (entry) =>
      entry.msg === "directory notice applied" &&
      entry.name === name &&
      /^drop/.test(entry.op ?? ""),
  ).length;
}

async function gcPasses(node: NodeProcess): Promise<number> {
  return (await logEntries(node)).filter((entry) => entry.msg === "garbage collection pass done")
    .length;
}

/** Upload a file through the CLI; answers its content. */
async function upload(name: string): Promise<Uint8Array> {
  const bytes = randomBytes(CHUNKS_PER_FILE * E2E_CHUNK_BYTES);
  expectOk(await fx.ws.ftfs([UID, "a", await fx.ws.file(name, bytes)]));
  return bytes;
}

async function primaryAddress(): Promise<string> {
  return (await primaryDirectory(fx.cluster.nodes)).node.address;
}

/** The groups holding chunks of the name's newest version. */
async function groupsOf(name: string): Promise<string[]> {
  const directory = await RpcClient.connect(await primaryAddress());
  try {
    const answer = await directory.call("getManifest", { uid: UID, name });
    return [...new Set(answer.body.manifest.chunks.map((chunk) => chunk.group))];
  } finally {
    directory.close();
  }
}

/** Place an upload of `bytes` for `name` and store every chunk in s1; commit it later. */
async function stageInS1(name: string, bytes: Uint8Array) {
  const directory = await RpcClient.connect(await primaryAddress());
  const placed = await directory.call("placeUpload", { uid: UID, name, bytes: bytes.length });
  directory.close();
  const { uploadId } = placed.body;
  const storage = await RpcClient.connect(storageNode("s1").address);
  const chunks = [];
  for (let offset = 0; offset < bytes.length; offset += E2E_CHUNK_BYTES) {
    const payload = bytes.subarray(offset, offset + E2E_CHUNK_BYTES);
    const id = sha256(payload);
    await storage.call(
      "putChunk",
      { chunkId: id, owner: { uid: UID, name, uploadId } },
      { payload },
    );
    chunks.push({ id, bytes: payload.length, group: "s1" });
  }
  storage.close();
  return { uid: UID, name, uploadId, bytes: bytes.length, sha256: sha256(bytes), chunks };
}

test("a delete notice replayed after rm and put of the same name leaves the new version whole", async () => {
  const s1 = storageNode("s1");
  const s2 = storageNode("s2");
  const directories = fx.cluster.nodes.filter((node) => node.role === "directory");
  await upload("f");
  await upload("g");
  // f's first version has chunks in s1 (its delete goes there); g has chunks in s2 (its delete
  // is the notice the outbox waits on while s2 is paused).
  expect(await groupsOf("f")).toContain("s1");
  expect(await groupsOf("g")).toContain("s2");
  const secondBytes = randomBytes(CHUNKS_PER_FILE * E2E_CHUNK_BYTES);
  const second = await stageInS1("f", secondBytes);
  const primary = (await primaryDirectory(directories)).node;
  const backups = directories.filter((node) => node !== primary);
  s2.kill("SIGSTOP");
  try {
    expectOk(await fx.ws.ftfs(["rm", "g", "--user", UID]));
    const roundStartedMs = Date.now();
    // Committed while that round waits on s2: the next round carries both to s1.
    expectOk(await fx.ws.ftfs(["rm", "f", "--user", UID]));
    const rpc = await RpcClient.connect(primary.address);
    expect((await rpc.call("commitUpload", second)).body.version).toBeGreaterThan(1);
    rpc.close();
    expect(Date.now() - roundStartedMs).toBeLessThan(STOP_BACKUPS_AFTER_MS);
    // Killed, not paused: a paused backup would still find the acknowledgement in its socket
    // buffer when resumed, and commit it as the next primary.
    await Bun.sleep(roundStartedMs + STOP_BACKUPS_AFTER_MS - Date.now());
    for (const backup of backups) backup.kill("SIGKILL");
    await Bun.sleep(roundStartedMs + KILL_PRIMARY_AFTER_MS - Date.now());
    // Delivered, not acknowledged (no quorum): the batch stays in every replica's outbox.
    expect(await dropsApplied(s1, "f")).toBe(1);
    primary.kill("SIGKILL");
  } finally {
    s2.kill("SIGCONT");
  }
  await Promise.all(backups.map((backup) => backup.exited()));
  await primary.exited();
  // The old primary stays down until a backup leads: its log alone holds the acknowledgement.
  for (const backup of backups) backup.start();
  await primaryDirectory(directories);
  await pollUntil("the new primary replayed f's delete notice", async () =>
    (await dropsApplied(s1, "f")) >= 2 ? true : undefined,
  );
  primary.start();
  const passesAtReplay = await gcPasses(s1);
  await pollUntil(
    "GC passes on s1 after the replay",
    async () =>
      (await gcPasses(s1)) >= passesAtReplay + GC_PASSES_AFTER_REPLAY ? true : undefined,
    GC_PASSES_DEADLINE_MS,
  );
  expect(sha256(await fx.client.readBytes(UID, "f"))).toBe(sha256(secondBytes));
});
