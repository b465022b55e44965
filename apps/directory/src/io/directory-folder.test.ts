/**
 * A directory folder's identity: made once and kept across restarts; a folder opened under
 * another node's id is refused with one line naming its owner (it holds that node's votes).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { directoryFolderId, ForeignFolderError } from "./directory-membership.ts";
import { SqliteMetadataStore } from "./sqlite-store.ts";

const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function databasePath(): string {
  const folder = mkdtempSync(join(tmpdir(), "ftfs-dir-folder-"));
  folders.push(folder);
  return join(folder, "directory.sqlite");
}

test("the same folder keeps its id across restarts; a new folder gets another", () => {
  const path = databasePath();
  const first = SqliteMetadataStore.open(path);
  const id = directoryFolderId(first, "d1");
  first.close();
  const again = SqliteMetadataStore.open(path);
  expect(directoryFolderId(again, "d1")).toBe(id);
  again.close();
  const other = SqliteMetadataStore.open(databasePath());
  expect(directoryFolderId(other, "d1")).not.toBe(id);
  other.close();
});

test("a folder started under another node's id is refused, naming its owner", () => {
  const path = databasePath();
  const store = SqliteMetadataStore.open(path);
  directoryFolderId(store, "d2");
  expect(() => directoryFolderId(store, "d3")).toThrow(ForeignFolderError);
  expect(() => directoryFolderId(store, "d3")).toThrow(
    "this data folder belongs to directory node d2, not d3: start it with --node d2, or give d3 a folder of its own",
  );
  store.close();
});
