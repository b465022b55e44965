/**
 * The directory group's members, recorded once when the group forms and read back on every
 * restart: Raft's quorum is over a fixed list, so a node must never forget who it is with.
 */

import { arr, nodeIdField, addressField, obj, tryDecode } from "@ftfs/protocol/core";
import { DIRECTORY_GROUP_SIZES } from "../core/index.ts";
import type { GroupMember } from "./replicator.ts";
import { StoreCorruptError, type SqliteMetadataStore } from "./sqlite-store.ts";

const META_MEMBERS = "members";
const GROUP_SIZE_MAX = Math.max(...DIRECTORY_GROUP_SIZES);
const membersSchema = arr(obj({ id: nodeIdField, address: addressField }), {
  itemsMax: GROUP_SIZE_MAX,
});

/** The recorded members, or null before the group formed. */
export function loadMembers(store: SqliteMetadataStore): readonly GroupMember[] | null {
  const text = store.readMeta(META_MEMBERS);
  if (text === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StoreCorruptError("recorded directory members are not JSON", { cause: error });
  }
  const decoded = tryDecode(membersSchema, parsed);
  if (!decoded.ok) throw new StoreCorruptError(`recorded directory members: ${decoded.message}`);
  return decoded.value;
}

export function saveMembers(store: SqliteMetadataStore, members: readonly GroupMember[]): void {
  store.writeMeta(META_MEMBERS, JSON.stringify(members));
}
