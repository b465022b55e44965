/**
 * The bulk build (rows by SQL) leaves the state the command-by-command build does, but for the
 * made-up hashes: the same names per user, sizes, chunk groups, usage and chunk index.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "@ftfs/directory/io";
import { buildDatabase, filesPerUser, type ScaleOptions } from "./scale.ts";

const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

const PLAN: ScaleOptions = {
  files: 60,
  users: 4,
  bigUserFiles: 30,
  midUserFiles: 10,
  listRepeats: 1,
  commits: 1,
};

async function built(method: "commands" | "bulk") {
  const folder = await mkdtemp(join(tmpdir(), `ftfs-scale-${method}-`));
  folders.push(folder);
  await buildDatabase(folder, "127.0.0.1:1", PLAN, method);
  const store = SqliteMetadataStore.open(join(folder, "directory.sqlite"));
  try {
    return filesPerUser(PLAN).map(([uid]) => ({
      uid,
      usage: store.getUsage(uid),
      files: store.listLiveFiles(uid, 1_000).map((file) => ({
        name: file.name,
        bytes: file.bytes,
        groups: file.chunks.map((chunk) => chunk.group),
      })),
      kept: store.database
        .query<{ count: number }, [string]>(
          "SELECT COUNT(*) AS count FROM kept_chunks WHERE uid = ?",
        )
        .get(uid)?.count,
    }));
  } finally {
    store.close();
  }
}

test("bulk and command-by-command builds agree on every user's files, usage and chunk index", async () => {
  const bulk = await built("bulk");
  expect(bulk.reduce((sum, user) => sum + user.files.length, 0)).toBe(PLAN.files);
  expect(bulk).toEqual(await built("commands"));
});
