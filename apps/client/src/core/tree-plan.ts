/**
 * `put -r DIR`: which remote name each file under a folder gets, and what cannot be stored.
 * A file at DIR/a/b.txt becomes `DIR/a/b.txt` (the folder's own name first, or --as NAME): a
 * key of the home bucket, which `ls` lists and S3 clients see as folders. Every part of a name
 * must be a valid file name and the whole a valid key; links to folders are not followed (a
 * loop would never end); sockets, devices and pipes hold no file. Pure: the walk is io/tree.ts.
 */

import { assertNever, validateFileName, validateObjectKey } from "@ftfs/protocol/core";

/** One thing found under the folder: its path parts below it, and what it is. */
export interface TreeEntry {
  readonly parts: readonly string[];
  readonly kind: "file" | "folder-link" | "broken-link" | "other";
  readonly bytes: number;
}

export interface PlannedFile {
  /** The local path parts below the folder. */
  readonly parts: readonly string[];
  readonly name: string;
  readonly bytes: number;
}

export interface TreeProblem {
  /** As the user would type it: the remote name, from the folder's name down. */
  readonly name: string;
  readonly why: string;
}

export interface TreePlan {
  readonly files: readonly PlannedFile[];
  readonly problems: readonly TreeProblem[];
  readonly bytes: number;
}

export function planTree(prefix: string, entries: readonly TreeEntry[]): TreePlan {
  const files: PlannedFile[] = [];
  const problems: TreeProblem[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const name = [prefix, ...entry.parts].join("/");
    const why = problemOf(entry, name);
    if (why !== null) {
      problems.push({ name, why });
      continue;
    }
    files.push({ parts: entry.parts, name, bytes: entry.bytes });
    bytes += entry.bytes;
  }
  files.sort((a, b) => compareText(a.name, b.name));
  problems.sort((a, b) => compareText(a.name, b.name));
  return { files, problems, bytes };
}

function problemOf(entry: TreeEntry, name: string): string | null {
  switch (entry.kind) {
    case "folder-link":
      return "a symbolic link to a folder (links to folders are not followed)";
    case "broken-link":
      return "a symbolic link to nothing";
    case "other":
      return "not a regular file (a socket, device or pipe)";
    case "file":
      return nameProblem(entry.parts, name);
    default:
      return assertNever(entry.kind);
  }
}

/** Every part a file name, and the whole a key of at most OBJECT_KEY_BYTES_MAX bytes. */
function nameProblem(parts: readonly string[], name: string): string | null {
  for (const part of parts) {
    const valid = validateFileName(part);
    if (!valid.ok) return valid.error.message;
  }
  const key = validateObjectKey(name);
  return key.ok ? null : key.error.message;
}

/** One line for the refusal: how many, and the first few with why. */
export function describeProblems(
  folder: string,
  problems: readonly TreeProblem[],
  shownMax: number,
): string {
  const shown = problems.slice(0, shownMax).map((problem) => `${problem.name}: ${problem.why}`);
  const more = problems.length > shownMax ? `; and ${problems.length - shownMax} more` : "";
  const count = problems.length === 1 ? "1 entry" : `${problems.length} entries`;
  return (
    `cannot store ${count} under ${folder}: ${shown.join("; ")}${more}; ` +
    "nothing was uploaded (move or rename them, then run again)"
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
