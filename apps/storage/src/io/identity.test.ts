/**
 * Property: a data folder's identity is made once, at its first start, and read back unchanged
 * at every later start; another node is refused the folder, before anything in it is opened or
 * created, with one clear error; a folder an older build wrote (chunks, references or an
 * assignment, no identity) is adopted and says so; an identity file that is not ours is
 * refused, never guessed at; and a crash leftover of a write is ignored.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger } from "@ftfs/protocol/io";
import { ForeignFolderError, IdentityFileError, openIdentity, readIdentity } from "./identity.ts";
import { StorageNode } from "./storage-node.ts";

const T0_MS = 1_700_000_000_000;
const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), "ftfs-identity-"));
  folders.push(path);
  return path;
}

function open(dataDir: string, node = "s1a", nowMs = T0_MS) {
  const logger = createMemoryLogger(node);
  const opened = openIdentity({ dataDir, node, logger, nowMs: () => nowMs });
  return { logger, opened };
}

test("first start on an empty folder: an identity is made and written to disk", async () => {
  const dataDir = await folder();
  const { logger, opened } = open(dataDir);
  const identity = await opened;
  expect(identity.node).toBe("s1a");
  expect(identity.folderId).toMatch(/^[0-9a-f]{32}$/);
  expect(identity.createdAtMs).toBe(T0_MS);
  expect(await readIdentity(dataDir)).toEqual(identity);
  expect(JSON.parse(await readFile(join(dataDir, "identity.json"), "utf8"))).toEqual(identity);
  expect(logger.lines.join("\n")).toContain("new data folder: identity made");
  expect(await readdir(dataDir)).toEqual(["identity.json"]);
});

test("a folder that does not exist yet is made, with its identity", async () => {
  const dataDir = join(await folder(), "deeper", "data");
  expect((await open(dataDir).opened).node).toBe("s1a");
  expect(await readIdentity(dataDir)).not.toBeNull();
});

test("two first starts make two different folder ids", async () => {
  const first = await open(await folder()).opened;
  const second = await open(await folder()).opened;
  expect(first.folderId).not.toBe(second.folderId);
});

test("a restart reads the same identity back and writes nothing", async () => {
  const dataDir = await folder();
  const made = await open(dataDir).opened;
  const { logger, opened } = open(dataDir, "s1a", T0_MS + 60_000);
  expect(await opened).toEqual(made);
  expect(logger.lines).toEqual([]);
});

test("another node's folder is refused with one clear error naming its owner", async () => {
  const dataDir = await folder();
  const made = await open(dataDir).opened;
  const refused = open(dataDir, "s1b").opened;
  await expect(refused).rejects.toBeInstanceOf(ForeignFolderError);
  await expect(refused).rejects.toThrow(
    `data folder ${dataDir} belongs to storage node s1a (folder ${made.folderId}), not s1b`,
  );
  expect(await readIdentity(dataDir)).toEqual(made);
});

test("an older build's folder is adopted (an identity made for its data), says so", async () => {
  const markers: ReadonlyArray<(dataDir: string) => Promise<void>> = [
    async (dataDir) => {
      await mkdir(join(dataDir, "chunks", "ab"), { recursive: true });
    },
    (dataDir) => writeFile(join(dataDir, "refs.sqlite"), ""),
    (dataDir) => writeFile(join(dataDir, "assignment.json"), '{"group":"s1"}\n'),
  ];
  for (const mark of markers) {
    const dataDir = await folder();
    await mark(dataDir);
    const { logger, opened } = open(dataDir);
    const identity = await opened;
    expect(await readIdentity(dataDir)).toEqual(identity);
    expect(logger.lines.join("\n")).toContain("written by an older build (no identity): adopted");
  }
});

test("an empty chunks folder (an older build that stored nothing) is not data", async () => {
  const dataDir = await folder();
  await mkdir(join(dataDir, "chunks"), { recursive: true });
  const { logger, opened } = open(dataDir);
  await opened;
  expect(logger.lines.join("\n")).toContain("new data folder: identity made");
  expect(logger.lines.join("\n")).not.toContain("adopted");
});

test("an identity file that is not ours is refused, never guessed at", async () => {
  const contents = [
    "{",
    "[]",
    '{"node":"s1a"}',
    `{"node":"s1a","folderId":"xyz","createdAtMs":1}`,
    `{"node":"../x","folderId":"${"a".repeat(32)}","createdAtMs":-1}`,
  ];
  for (const content of contents) {
    const dataDir = await folder();
    await writeFile(join(dataDir, "identity.json"), content);
    await expect(open(dataDir).opened).rejects.toBeInstanceOf(IdentityFileError);
  }
});

test("a crash leftover of an identity being written is ignored: still empty", async () => {
  const dataDir = await folder();
  await writeFile(join(dataDir, "identity.json.tmp"), '{"node":"s9z"');
  const identity = await open(dataDir).opened;
  expect(identity.node).toBe("s1a");
  expect((await readdir(dataDir)).sort()).toEqual(["identity.json"]);
});

test("a storage node does not start on another node's folder, nor touch it", async () => {
  const dataDir = await folder();
  await open(dataDir, "s1a").opened;
  const started = StorageNode.start({
    node: "s1b",
    group: "s1",
    listen: "127.0.0.1:0",
    dataDir,
    join: ["127.0.0.1:1"],
    logger: createMemoryLogger("s1b"),
  });
  await expect(started).rejects.toBeInstanceOf(ForeignFolderError);
  expect(await readdir(dataDir)).toEqual(["identity.json"]);
});

test("a storage node keeps its folder id across restarts and reports it", async () => {
  const dataDir = await folder();
  const start = () =>
    StorageNode.start({
      node: "s1a",
      group: "s1",
      listen: "127.0.0.1:0",
      dataDir,
      join: ["127.0.0.1:1"],
      logger: createMemoryLogger("s1a"),
    });
  const first = await start();
  await first.stop();
  const second = await start();
  await second.stop();
  expect(second.folderId).toBe(first.folderId);
  expect((await readIdentity(dataDir))?.folderId).toBe(first.folderId);
});
