/**
 * Property: a spare's assignment read back is the one written (none before any write); a file
 * that is not ours is refused, never guessed at; and a data folder assigned to one group as a
 * spare does not start under another --group.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger } from "@ftfs/protocol/io";
import { AssignmentFileError, readAssignment, writeAssignment } from "./assignment.ts";
import { StorageNode } from "./storage-node.ts";

const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), "ftfs-assignment-"));
  folders.push(path);
  return path;
}

test("none before the first write; the written group after it", async () => {
  const dataDir = await folder();
  expect(await readAssignment(dataDir)).toBeNull();
  await writeAssignment(dataDir, "s1");
  expect(await readAssignment(dataDir)).toBe("s1");
});

test("a file that is not an assignment is refused", async () => {
  for (const content of ["{", '{"group":"../x"}', '{"name":"s1"}', "[]"]) {
    const dataDir = await folder();
    await writeFile(join(dataDir, "assignment.json"), content);
    await expect(readAssignment(dataDir)).rejects.toBeInstanceOf(AssignmentFileError);
  }
});

test("a folder assigned to s1 as a spare does not start with --group s2", async () => {
  const dataDir = await folder();
  await writeAssignment(dataDir, "s1");
  const started = StorageNode.start({
    node: "x1",
    group: "s2",
    listen: "127.0.0.1:0",
    dataDir,
    join: ["127.0.0.1:1"],
    logger: createMemoryLogger("x1"),
  });
  await expect(started).rejects.toThrow("holds group s1 (assigned as a spare), not s2");
});
