/**
 * Client-side checks of names and uids, thrown as FtfsErrors before any network I/O. The rules
 * themselves are the protocol's (names.ts); this only turns their results into throws.
 */

import { FtfsError, validateFileName, validateUid } from "@ftfs/protocol/core";

export function checkUid(uid: string): void {
  const valid = validateUid(uid);
  if (!valid.ok) throw valid.error;
}

export function checkName(name: string): void {
  const valid = validateFileName(name);
  if (!valid.ok) throw valid.error;
}

/** The last path component, as the seed stored uploads; `a/b/` gives `b`. */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  if (base.length === 0)
    throw new FtfsError("INVALID_NAME", `'${path}' has no file name to store it under`);
  return base;
}
