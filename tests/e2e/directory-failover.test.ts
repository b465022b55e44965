/**
 * The directory group on real processes (guarantees 1 and 5 of DESIGN.md): kill -9 of the
 * directory primary while clients upload loses no acknowledged upload, a backup takes over,
 * and the killed node restarts and catches up; a primary paused past the suspicion timeout
 * steps down when resumed, and nothing it accepted after losing leadership is acknowledged.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { RpcClient } from "@ftfs/protocol/io";
import type { NodeProcess } from "@ftfs/protocol/testing";
import {
  directoryViews as viewsOf,
  primaryDirectory as primaryOf,
  type DirectoryView,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  KIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "dana";
const UPLOADERS = 4;
const FILE_BYTES = 8 * KIB;
/** Uploads acknowledged before the kill, so the kill lands on a busy primary. */
const UPLOADS_BEFORE_KILL = 20;
/** Longer than gossip's suspicion and Raft's fallback election timeout (1-2 s). */
const PAUSE_MS = 4_000;

const fx = useCluster({ directories: 3, groups: [{ name: "s1", size: 3 }], chunkBytes: 64 * KIB });

beforeAll(async () => {
  expectOk(await fx.ws.ftfs([UID, "c", "--cluster", fx.clusterList]));
});

function directoryViews(): Promise<DirectoryView[]> {
  return viewsOf(fx.cluster.nodes);
}

function primaryDirectory(other?: NodeProcess): Promise<DirectoryView> {
  return primaryOf(fx.cluster.nodes, other);
}

/** Uploads files named prefix-<uploader>-<n> until stopped; records each acknowledged one. */
function uploadLoop(prefix: string, acknowledged: Map<string, string>, errors: string[]) {
  let running = true;
  const loops = Array.from({ length: UPLOADERS }, async (_, uploader) => {
    for (let n = 0; running; n += 1) {
      const name = `${prefix}-${uploader}-${n}`;
      const bytes = randomBytes(FILE_BYTES);
      try {
        await fx.client.uploadBytes(UID, name, bytes);
        acknowledged.set(name, sha256(bytes));
      } catch (error) {
        errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

async function expectAllListedAndReadable(acknowledged: ReadonlyMap<string, string>) {
  const listing = text(expectOk(await fx.ws.ftfs([UID, "d", "--json"])));
  const listed = new Set((JSON.parse(listing) as Array<{ name: string }>).map((file) => file.name));
  const missing = [...acknowledged.keys()].filter((name) => !listed.has(name));
  expect(missing).toEqual([]);
  for (const [name, digest] of acknowledged) {
    expect(sha256(await fx.client.readBytes(UID, name))).toBe(digest);
  }
}

test("kill -9 of the directory primary under uploads: no acknowledged upload lost; it rejoins", async () => {
  const before = await primaryDirectory();
  const acknowledged = new Map<string, string>();
  const errors: string[] = [];
  const stop = uploadLoop("kill", acknowledged, errors);
  await pollUntil("uploads under way", async () =>
    acknowledged.size >= UPLOADS_BEFORE_KILL ? true : undefined,
  );
  before.node.kill("SIGKILL");
  const after = await primaryDirectory(before.node);
  expect(after.term).toBeGreaterThan(before.term);
  const countAtTakeover = acknowledged.size;
  await pollUntil("uploads acknowledged by the new primary", async () =>
    acknowledged.size >= countAtTakeover + UPLOADS_BEFORE_KILL ? true : undefined,
  );
  await stop();
  // The client retries through the failover: no upload surfaced an error.
  expect(errors).toEqual([]);
  await expectAllListedAndReadable(acknowledged);
  // `ftfs status` is honest about it: the dead node is not primary, one live node is.
  const table = await pollUntil("ftfs status shows the killed primary dead", async () => {
    const run = await fx.ws.ftfs(["status"]);
    const shown = text(run);
    return new RegExp(`^${before.node.id}\\s+directory\\s.*\\sdead\\s`, "m").test(shown)
      ? shown
      : undefined;
  });
  const directoryRows = table.split("\n").filter((line) => /^\S+\s+directory\s/.test(line));
  expect(directoryRows.filter((line) => /\sprimary\s/.test(line))).toEqual([
    expect.stringMatching(new RegExp(`^${after.node.id}\\s.*\\salive\\s`)),
  ]);
  expect(table.split("\n")[0]).toMatch(new RegExp(`^degraded: .*${before.node.id} is dead`));

  await before.node.restart();
  // The restarted node catches up: its own state lists every acknowledged upload.
  await pollUntil("the restarted node caught up", async () => {
    const client = await RpcClient.connect(before.node.address, 500).catch(() => null);
    if (client === null) return undefined;
    try {
      const answer = await client.call(
        "listFiles",
        { uid: UID, stale: true },
        { timeoutMs: 1_000 },
      );
      const names = new Set(answer.body.files.map((file) => file.name));
      return [...acknowledged.keys()].every((name) => names.has(name)) ? true : undefined;
    } catch {
      return undefined;
    } finally {
      client.close();
    }
  });
});

test("a paused primary steps down when resumed; what it took while deposed is not acknowledged", async () => {
  const before = await primaryDirectory();
  const acknowledged = new Map<string, string>();
  const errors: string[] = [];
  // Connected (handshake done) while it runs: a paused node cannot answer a hello.
  const straight = await RpcClient.connect(before.node.address, 1_000);
  before.node.kill("SIGSTOP");
  let resumed = false;
  try {
    // A commit sent straight to the paused primary waits in its socket buffer.
    const deposedWrite = straight
      .call("connect", { uid: "deposed-user" }, { timeoutMs: PAUSE_MS * 3 })
      .then(
        () => "acknowledged",
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
    const after = await primaryDirectory(before.node);
    expect(after.term).toBeGreaterThan(before.term);
    const stop = uploadLoop("pause", acknowledged, errors);
    await Bun.sleep(PAUSE_MS);
    before.node.kill("SIGCONT");
    resumed = true;
    // The old primary hears the higher term and steps down: one primary, the new one.
    await pollUntil("the resumed node is a backup", async () => {
      const views = await directoryViews();
      const old = views.find((view) => view.node === before.node);
      return old !== undefined && !old.primary ? true : undefined;
    });
    const outcome = await deposedWrite;
    straight.close();
    // It was deposed before it read the request: it must redirect, never acknowledge.
    expect(outcome).not.toBe("acknowledged");
    expect(outcome).toMatch(/backup|primary|retry/);
    await stop();
  } finally {
    if (!resumed) before.node.kill("SIGCONT");
  }
  expect(errors).toEqual([]);
  expect(acknowledged.size).toBeGreaterThan(0);
  await expectAllListedAndReadable(acknowledged);
  const primaries = (await directoryViews()).filter((view) => view.primary);
  expect(primaries.length).toBe(1);
});
