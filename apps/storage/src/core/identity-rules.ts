/**
 * A data folder's identity, pure: what `identity.json` holds and what a node does with what it
 * finds at start-up. The identity names the node the folder belongs to and a random folder id
 * made at the folder's first start; the node reports the folder id in every heartbeat, so the
 * directory can tell a node that kept its disk from one that came back on a new, empty one
 * (a new member, which must catch up before it is trusted with anything).
 *
 * Rules at start-up:
 *   - an identity naming this node: keep it (a restart on the same folder);
 *   - an identity naming another node: refuse to start (a foreign folder: its chunks and
 *     references are that node's, and serving them under our id would make two members one);
 *   - no identity, and the folder holds chunks, owner references or a spare's assignment: it
 *     was written by an older build, which made no identity; adopt it (make one now);
 *   - no identity and nothing of ours: a first start; make one.
 *
 * The io layer (io/identity.ts) reads and writes the file and makes the random id; nothing
 * here touches the disk or draws randomness.
 */

import { folderIdField, nodeIdField, obj, timeMsField, type Infer } from "@ftfs/protocol/core";

/** `identity.json`: `{"node":"s1a","folderId":"<32 hex>","createdAtMs":1700000000000}`. */
export const folderIdentitySchema = obj({
  node: nodeIdField,
  folderId: folderIdField,
  createdAtMs: timeMsField,
});
export type FolderIdentity = Infer<typeof folderIdentitySchema>;

export type IdentityDecision =
  /** The folder is this node's: use its identity. */
  | { readonly kind: "keep"; readonly identity: FolderIdentity }
  /** An empty folder: make an identity (a first start, or a disk wiped or replaced). */
  | { readonly kind: "create" }
  /** An older build's folder: make an identity for the data it holds. */
  | { readonly kind: "adopt" }
  /** Another node's folder: refuse to start. */
  | { readonly kind: "foreign"; readonly identity: FolderIdentity };

/**
 * What to do with the identity found in the folder (null: none), for `node`. `holdsData`: the
 * folder has chunks, owner references or a spare's assignment.
 */
export function decideIdentity(
  found: FolderIdentity | null,
  node: string,
  holdsData: boolean,
): IdentityDecision {
  if (found !== null) {
    const kind = found.node === node ? "keep" : "foreign";
    return { kind, identity: found };
  }
  return holdsData ? { kind: "adopt" } : { kind: "create" };
}
