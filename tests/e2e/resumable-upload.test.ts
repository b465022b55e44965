/**
 * Resumable uploads with the real `ftfs` binary on a secure cluster (tickets and receipts):
 * Ctrl-C mid-upload says what was kept and how to resume, and exits 130; the same command run
 * again continues the same upload, sending only what the groups do not confirm holding for it,
 * even after the storage nodes' garbage collection has passed over the waiting chunks (an open
 * upload's chunks are never garbage); after a kill -9 too. The file reads back exactly and the
 * journal is gone once it committed. `put -r` run again after Ctrl-C sends no file the cluster
 * already holds with the same content, resumes the interrupted one, and its progress line starts
 * where the last run stopped. All through the real binary, on a pseudo-terminal where the
 * progress line matters.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FTFS_MAIN } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  useCluster,
} from "./helpers.ts";
import { CLEAR_LINE, ftfsInTerminal, KEY } from "./terminal.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "rosa";
const GC_GRACE_MS = 1_000;
/** Big enough that the upload is still going when a few dozen chunks are journaled. */
const FILE_BYTES = 12 * MIB;
const CHUNKS_BEFORE_STOP = 24;
/** The launcher's copy of a Ctrl-C comes a moment after the terminal's. */
const SECOND_INTERRUPT_DELAY_MS = 1;

const fx = useCluster({
  directories: 1,
  groups: [
    { name: "s1", size: 2 },
    { name: "s2", size: 2 },
  ],
  chunkBytes: E2E_CHUNK_BYTES,
  secure: true,
  env: { FTFS_GC_GRACE: `${GC_GRACE_MS}ms`, FTFS_LOG_LEVEL: "info" },
});

function env(): Record<string, string> {
  return { FTFS_CLUSTER: fx.clusterList };
}

beforeAll(async () => {
  const key = fx.cluster.clusterKey ?? "";
  const added = expectOk(
    await fx.ws.ftfs(["admin", "user", "add", UID, "--json"], {
      env: { ...env(), FTFS_CLUSTER_KEY: key },
    }),
  );
  const { secret } = JSON.parse(text(added)) as { secret: string };
  expectOk(await fx.ws.ftfs([UID, "c"], { env: { ...env(), FTFS_SECRET: secret } }));
});

/** The lines of every upload journal: a start line, then one per stored chunk. */
async function journalLines(): Promise<string[][]> {
  const folder = join(fx.ws.configDir, "uploads");
  const names = await readdir(folder).catch(() => []);
  return Promise.all(
    names.map(async (name) =>
      (await readFile(join(folder, name), "utf8")).split("\n").filter((line) => line !== ""),
    ),
  );
}

function startUpload(path: string) {
  return Bun.spawn([process.execPath, FTFS_MAIN, UID, "a", path], {
    env: { ...process.env, FTFS_CONFIG_DIR: fx.ws.configDir, ...env() },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** Once the upload journaled `chunks` chunks. */
async function untilJournaled(chunks: number): Promise<void> {
  await pollUntil(`${chunks} chunks journaled`, async () => {
    const lines = await journalLines();
    return lines.some((journal) => journal.length > chunks) ? true : undefined;
  });
}

/** Bytes the journal says are stored. */
async function journaledBytes(): Promise<number> {
  const [journal] = await journalLines();
  return (journal ?? [])
    .slice(1)
    .map((line) => (JSON.parse(line) as { bytes: number }).bytes)
    .reduce((sum, bytes) => sum + bytes, 0);
}

/** Every storage node logged a GC pass that began at least a grace after `sinceMs`. */
async function untilGcPassedOver(sinceMs: number): Promise<void> {
  const storage = fx.cluster.nodes.filter((node) => node.role === "storage");
  await pollUntil("a GC pass on every storage node after the grace", async () => {
    for (const node of storage) {
      const passes = (await node.log())
        .split("\n")
        .filter((line) => line.includes('"msg":"garbage collection pass done"'))
        .map((line) => JSON.parse(line) as { time: string; durationMs: number })
        .map((entry) => Date.parse(entry.time) - entry.durationMs);
      if (!passes.some((startMs) => startMs > sinceMs + GC_GRACE_MS)) return undefined;
    }
    return true;
  });
}

async function resumeAndCheck(path: string, bytes: Uint8Array, name: string): Promise<void> {
  const kept = await journaledBytes();
  expect(kept).toBeGreaterThanOrEqual(CHUNKS_BEFORE_STOP * E2E_CHUNK_BYTES);
  const run = expectOk(await fx.ws.ftfs([UID, "a", path, "--json"], { env: env() }));
  const [result] = JSON.parse(text(run)) as Array<{ resumedBytes: number; version: number }>;
  // Everything the journal held was confirmed by both replicas of its group: none sent again.
  expect(result?.resumedBytes).toBe(kept);
  expect(result?.version).toBe(1);
  const read = expectOk(await fx.ws.ftfs([UID, "r", name], { env: env() }));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
  expect(await journalLines()).toEqual([]);
}

test("Ctrl-C keeps what was stored, says how to resume; a re-run sends only the rest", async () => {
  const bytes = randomBytes(FILE_BYTES);
  const path = await fx.ws.file("big.bin", bytes);
  const child = startUpload(path);
  await untilJournaled(CHUNKS_BEFORE_STOP);
  // Twice, as under `bunx ftfs`: the terminal's Ctrl-C, and the launcher passing it on.
  child.kill("SIGINT");
  await Bun.sleep(SECOND_INTERRUPT_DELAY_MS);
  child.kill("SIGINT");
  expect(await child.exited).toBe(130);
  const stoppedMs = Date.now();
  const stderr = await new Response(child.stderr).text();
  const until = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`;
  expect(stderr).toMatch(
    new RegExp(
      String.raw`^ftfs: stopped uploading .*big\.bin: [\d.]+ MiB of 12\.0 MiB are stored ` +
        `and kept until ${until}; run the same command again to resume\n$`,
    ),
  );
  expect(text(expectOk(await fx.ws.ftfs([UID, "d"], { env: env() })))).not.toContain("big.bin");
  // The storage nodes' GC looks at the waiting chunks and, the upload being open, keeps them.
  await untilGcPassedOver(stoppedMs);
  await resumeAndCheck(path, bytes, "big.bin");
});

test("after a kill -9 the same command resumes too", async () => {
  const bytes = randomBytes(FILE_BYTES);
  const path = await fx.ws.file("killed.bin", bytes);
  const child = startUpload(path);
  await untilJournaled(CHUNKS_BEFORE_STOP);
  child.kill("SIGKILL");
  await child.exited;
  await resumeAndCheck(path, bytes, "killed.bin");
});

function terminalEnv(): Record<string, string> {
  return { FTFS_CONFIG_DIR: fx.ws.configDir, ...env() };
}

/** The percent of the first progress line drawn in `raw` terminal output. */
function firstPercent(raw: string, label: string): number {
  const escaped = label.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const found = raw.match(new RegExp(`${escaped} \\[[#-]+\\] +(\\d+)%`));
  if (found === null) throw new Error(`no progress line for ${label} in ${JSON.stringify(raw)}`);
  return Number(found[1]);
}

test("put -r again after Ctrl-C: unchanged files are not sent, the stopped one resumes", async () => {
  const tree = join(fx.ws.folder, "tree");
  await mkdir(tree);
  const before = randomBytes(3 * E2E_CHUNK_BYTES + 7);
  const big = randomBytes(FILE_BYTES);
  const after = randomBytes(2 * E2E_CHUNK_BYTES);
  await writeFile(join(tree, "a.bin"), before);
  await writeFile(join(tree, "b.bin"), big);
  await writeFile(join(tree, "c.bin"), after);
  await writeFile(join(tree, "0-empty"), "");
  const first = ftfsInTerminal(["put", "-r", tree], { env: terminalEnv() });
  await untilJournaled(CHUNKS_BEFORE_STOP); // of b.bin: 0-empty and a.bin committed, their journals gone
  first.type(KEY.ctrlC);
  expect(await first.exited).toBe(130);
  expect(first.output()).toMatch(/uploaded tree\/a\.bin {2}v1 /);
  // After the erased progress line, on a line of its own, last.
  const said = first.output();
  const stopped = said.lastIndexOf(`${CLEAR_LINE}ftfs: stopped uploading`);
  expect(stopped).toBeGreaterThan(0);
  expect(said.slice(stopped + CLEAR_LINE.length)).toMatch(
    /^ftfs: stopped uploading .*tree\/b\.bin: [\d.]+ MiB of 12\.0 MiB are stored .*; run the same command again to resume\r\n$/,
  );
  const kept = await journaledBytes();
  expect(kept).toBeGreaterThanOrEqual(CHUNKS_BEFORE_STOP * E2E_CHUNK_BYTES);

  const again = ftfsInTerminal(["put", "-r", tree], { env: terminalEnv() });
  expect(await again.exited).toBe(0);
  const shown = again.output();
  expect(shown).toMatch(/unchanged tree\/a\.bin {2}v1 .*\(already stored, not sent\)/);
  expect(shown).toMatch(/unchanged tree\/0-empty {2}v1 /);
  expect(shown).toMatch(
    /uploaded tree\/b\.bin {2}v1 .*\(resumed: [\d.]+ MiB were already stored\)/,
  );
  expect(shown).toMatch(/uploaded tree\/c\.bin {2}v1 /);
  // The one bar starts where the last run stopped: a.bin and what b.bin had stored are done.
  const totalBytes = before.length + big.length + after.length;
  const startPercent = Math.floor(((before.length + kept) * 100) / totalBytes);
  expect(firstPercent(shown, "tree (4 files)")).toBeGreaterThanOrEqual(startPercent);

  const listed = JSON.parse(text(expectOk(await fx.ws.ftfs(["ls", "--json"], { env: env() }))));
  const versions = (listed as Array<{ name: string; version: number }>)
    .filter((file) => file.name.startsWith("tree/"))
    .map((file) => `${file.name} v${file.version}`);
  expect(versions).toEqual(["tree/0-empty v1", "tree/a.bin v1", "tree/b.bin v1", "tree/c.bin v1"]);
  for (const [name, bytes] of [
    ["tree/a.bin", before],
    ["tree/b.bin", big],
    ["tree/c.bin", after],
  ] as const) {
    const read = expectOk(await fx.ws.ftfs(["get", name, "-o", "-"], { env: env() }));
    expect(sha256(read.stdout)).toBe(sha256(bytes));
  }
  expect(await journalLines()).toEqual([]);
});
