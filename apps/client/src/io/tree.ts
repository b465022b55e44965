/**
 * Walking a local folder for `put -r`: every entry under it, with what kind it is, in a
 * bounded walk (at most PUT_TREE_FILES_MAX entries; more is refused, nothing sent). Links to
 * files are followed (their target's bytes are uploaded); links to folders are reported, not
 * followed. What each entry's remote name is, and what cannot be stored, is core/tree-plan.ts.
 */

import { lstat, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { fileErrorReason } from "@ftfs/client";
import { PUT_TREE_FILES_MAX } from "../core/limits.ts";
import type { TreeEntry } from "../core/tree-plan.ts";

export async function walkTree(folder: string): Promise<TreeEntry[]> {
  const top = await stat(folder).catch((error: unknown) => {
    throw new FtfsError("LOCAL_FILE", `${folder}: ${fileErrorReason(error, "no such folder")}`);
  });
  if (!top.isDirectory()) {
    throw new FtfsError("LOCAL_FILE", `${folder} is not a folder (-r uploads folders)`);
  }
  const entries: TreeEntry[] = [];
  const pending: string[][] = [[]];
  for (let parts = pending.pop(); parts !== undefined; parts = pending.pop()) {
    const here = join(folder, ...parts);
    const names = await readdir(here).catch((error: unknown) => {
      throw new FtfsError("LOCAL_FILE", `${here}: ${fileErrorReason(error, "gone")}`);
    });
    for (const name of names) {
      const path = [...parts, name];
      const entry = await entryOf(join(folder, ...path), path);
      if (entry === "folder") pending.push(path);
      else entries.push(entry);
      if (entries.length > PUT_TREE_FILES_MAX) {
        throw new FtfsError(
          "LOCAL_FILE",
          `${folder} holds more than ${PUT_TREE_FILES_MAX} files; upload it in parts`,
        );
      }
    }
  }
  return entries;
}

async function entryOf(path: string, parts: string[]): Promise<TreeEntry | "folder"> {
  const info = await lstat(path).catch((error: unknown) => {
    throw new FtfsError("LOCAL_FILE", `${path}: ${fileErrorReason(error, "gone")}`);
  });
  if (info.isDirectory()) return "folder";
  if (info.isFile()) return { parts, kind: "file", bytes: info.size };
  if (!info.isSymbolicLink()) return { parts, kind: "other", bytes: 0 };
  const target = await stat(path).catch(() => null); // a link to nothing
  if (target === null) return { parts, kind: "broken-link", bytes: 0 };
  if (target.isDirectory()) return { parts, kind: "folder-link", bytes: 0 };
  return target.isFile()
    ? { parts, kind: "file", bytes: target.size }
    : { parts, kind: "other", bytes: 0 };
}
