/**
 * A storage primary that crashes is a pause, not an error (guarantee 4 of DESIGN.md): an
 * upload under way when the primary of a group is SIGKILLed completes and reads back exactly;
 * a read right after a primary dies is served by the group's other replicas; and both keep
 * working once the directory has promoted a backup. Afterwards the storage nodes' listing
 * (`d --from storage`) tells the same sizes and versions as the directory's, empty files too,
 * and a file that repeats a chunk counts that chunk once per time the file holds it.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FTFS_MAIN } from "@ftfs/protocol/testing";
import {
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  KIB,
  MIB,
  pollUntil,
  randomBytes,
  sha256,
  text,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const CHUNK_BYTES = 256 * KIB;
/** Long enough (about a hundred chunks) that the kill lands while chunks are moving. */
const UPLOAD_BYTES = 24 * MIB;

const fx = useCluster({
  directories: 1,
  groups: [
    { name: "s1", size: 3 },
    { name: "s2", size: 3 },
  ],
  chunkBytes: CHUNK_BYTES,
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs(["erin", "c", "--cluster", fx.cluster.directoryAddresses.join(",")]));
});

async function primaryOf(group: string): Promise<string> {
  const status = await fx.client.status();
  const node = status.groups.find((view) => view.group === group)?.primaryNode ?? null;
  if (node === null) throw new Error(`group ${group} has no primary`);
  return node;
}

test("an upload survives the SIGKILL of a group primary mid-transfer", async () => {
  const bytes = randomBytes(UPLOAD_BYTES);
  const path = await fx.ws.file("through-the-crash.bin", bytes);
  const victim = fx.cluster.node(await primaryOf("s1"));
  const upload = Bun.spawn([process.execPath, FTFS_MAIN, "erin", "a", path], {
    env: { ...process.env, FTFS_CONFIG_DIR: fx.ws.configDir, FTFS_CLUSTER: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  await pollUntil("the upload's first chunks on storage", async () => {
    const stored = await fx.client.listFromStorage("erin");
    return stored.some((file) => file.name === "through-the-crash.bin") ? true : undefined;
  });
  victim.kill("SIGKILL");
  const [exitCode, stdout, stderr] = await Promise.all([
    upload.exited,
    new Response(upload.stdout).text(),
    new Response(upload.stderr).text(),
  ]);
  expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
  expect(stdout).toContain("uploaded through-the-crash.bin  v1  24.0 MiB");
  const read = expectOk(await fx.ws.ftfs(["erin", "r", "through-the-crash.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
});

test("a read right after a primary dies is served by the other replicas", async () => {
  const bytes = randomBytes(4 * MIB + 3);
  expectOk(await fx.ws.ftfs(["erin", "a", await fx.ws.file("replicated.bin", bytes)]));
  // One chunk-sized block three times over, and another: four chunks, two distinct. Stored
  // before the failover, listed (last test) by the group's new primary.
  const block = randomBytes(CHUNK_BYTES);
  const repeating = Buffer.concat([block, block, randomBytes(CHUNK_BYTES), block]);
  expectOk(await fx.ws.ftfs(["erin", "a", await fx.ws.file("repeats.bin", repeating)]));
  fx.cluster.node(await primaryOf("s2")).kill("SIGKILL");
  const read = expectOk(await fx.ws.ftfs(["erin", "r", "replicated.bin"]));
  expect(sha256(read.stdout)).toBe(sha256(bytes));
  const again = randomBytes(2 * MIB);
  expectOk(await fx.ws.ftfs(["erin", "a", await fx.ws.file("after-crash.bin", again)]));
  expect(sha256(expectOk(await fx.ws.ftfs(["erin", "r", "after-crash.bin"])).stdout)).toBe(
    sha256(again),
  );
  expect(text(expectOk(await fx.ws.ftfs(["erin", "d"])))).toMatch(
    /^after-crash\.bin\s+2\.0 MiB\s+v1/m,
  );
});

test("after the failovers, d --from storage agrees with d, empty files included", async () => {
  expectOk(await fx.ws.ftfs(["erin", "a", await fx.ws.file("empty.txt", "")]));
  const fromDirectory = async () =>
    JSON.parse(text(expectOk(await fx.ws.ftfs(["erin", "d", "--json"])))) as Array<{
      name: string;
      version: number;
      bytes: number;
    }>;
  const expected = (await fromDirectory())
    .map(({ name, version, bytes }) => ({ name, version, bytes }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  expect(expected.map((file) => file.name)).toContain("empty.txt");
  // Notices reach the groups after the commits: poll until storage tells the same story.
  await pollUntil("d --from storage agrees with d", async () => {
    const run = await fx.ws.ftfs(["erin", "d", "--from", "storage", "--json"]);
    if (run.exitCode !== 0) return undefined;
    const stored = (
      JSON.parse(text(run)) as Array<{ name: string; version: number; bytes: number }>
    )
      .map(({ name, version, bytes }) => ({ name, version, bytes }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return JSON.stringify(stored) === JSON.stringify(expected) ? true : undefined;
  }).catch(async (error: unknown) => {
    const run = await fx.ws.ftfs(["erin", "d", "--from", "storage"]);
    throw new Error(`${error}; d --from storage says:\n${text(run)}`);
  });
  const table = text(expectOk(await fx.ws.ftfs(["erin", "d", "--from", "storage"])));
  expect(table).toMatch(/^repeats\.bin\s+1\.0 MiB\s+v1\s+4\s/m);
});
