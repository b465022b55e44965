/**
 * `d --from storage`: what the storage groups say a user owns, merged into one listing. A
 * file's chunks are spread over groups, so each group reports its share of an upload; the
 * committed shares of one upload (same uploadId) add up to the file. A pending share is kept
 * apart, even of an upload another group reports committed: it holds chunks the manifest put
 * elsewhere (a put hedged across a failover), or an upload never committed (interrupted,
 * awaiting garbage collection); adding it would make a file look larger than it is.
 */

import { HOME_BUCKET, objectOfStoredName, type OwnedFile } from "@ftfs/protocol/core";

/** A file as the storage nodes know it: merged over every group that holds some of its chunks. */
export interface StoredFile {
  readonly name: string;
  readonly version: number | null;
  readonly uploadId: string;
  readonly bytes: number;
  readonly chunks: number;
  readonly groups: readonly string[];
  readonly nodes: readonly string[];
}

export interface GroupListing {
  readonly group: string;
  readonly node: string;
  readonly files: readonly OwnedFile[];
}

/** Files of the home bucket (named by key), as the directory's listing names them. */
export function mergeOwned(listings: readonly GroupListing[]): StoredFile[] {
  const byUpload = new Map<string, { file: StoredFile; groups: Set<string>; nodes: Set<string> }>();
  for (const listing of listings) {
    for (const stored of listing.files) {
      const object = objectOfStoredName(stored.name);
      if (object.bucket !== HOME_BUCKET) continue;
      const owned = { ...stored, name: object.key };
      const state = owned.version === null ? "pending" : "committed";
      const key = `${owned.name}\u0000${owned.uploadId}\u0000${state}`;
      const known = byUpload.get(key);
      if (known === undefined) {
        byUpload.set(key, {
          file: { ...owned, groups: [], nodes: [] },
          groups: new Set([owned.group]),
          nodes: new Set([listing.node]),
        });
        continue;
      }
      known.groups.add(owned.group);
      known.nodes.add(listing.node);
      known.file = {
        ...known.file,
        version: known.file.version ?? owned.version,
        bytes: known.file.bytes + owned.bytes,
        chunks: known.file.chunks + owned.chunks,
      };
    }
  }
  const merged = [...byUpload.values()].map((entry) => ({
    ...entry.file,
    groups: [...entry.groups].sort(),
    nodes: [...entry.nodes].sort(),
  }));
  return merged.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : (a.version ?? 0) - (b.version ?? 0),
  );
}

/** Per name, the newest committed version: what `d` would show, as storage knows it. */
export function newestCommitted(files: readonly StoredFile[]): StoredFile[] {
  const newest = new Map<string, StoredFile>();
  for (const file of files) {
    if (file.version === null) continue;
    const known = newest.get(file.name);
    if (known === undefined || (known.version ?? 0) < file.version) newest.set(file.name, file);
  }
  return [...newest.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
