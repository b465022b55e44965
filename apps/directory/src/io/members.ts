/**
 * The directory group's members: formed once, when gossip shows exactly `--expect` directory
 * nodes, recorded, and read back on every restart: Raft's quorum is over a fixed list, so a
 * node must never forget who it is with.
 */

import { arr, fail, nodeIdField, addressField, obj, tryDecode } from "@ftfs/protocol/core";
import type { Logger } from "@ftfs/protocol/io";
import { DIRECTORY_GROUP_SIZES, MEMBERS_POLL_INTERVAL_MS, type Failure } from "../core/index.ts";
import type { GroupMember } from "./replicator.ts";
import { isDiskFull, StoreCorruptError, type SqliteMetadataStore } from "./sqlite-store.ts";

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

/** Records `members` (sorted by id) as the group, for good. */
export function formGroup(
  store: SqliteMetadataStore,
  logger: Logger,
  members: readonly GroupMember[],
): readonly GroupMember[] {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  saveMembers(store, sorted);
  logger.info("directory group formed", {
    members: sorted.map((member) => `${member.id}@${member.address}`).join(","),
  });
  return sorted;
}

/** What a request hears before the group has formed. */
export function formingRefusal(seen: number, expect: number): Failure {
  return fail(
    "UNAVAILABLE",
    `directory group is forming: ${seen} of ${expect} directory nodes seen; retry`,
  );
}

export interface GroupFormationOptions {
  readonly store: SqliteMetadataStore;
  readonly logger: Logger;
  readonly expect: number;
  /** Directory nodes alive in gossip, this one included: id → address. */
  readonly seen: () => ReadonlyMap<string, string>;
  readonly dataFolder: string;
  readonly onFormed: (members: readonly GroupMember[]) => void;
}

/** Polls gossip until exactly `expect` directory nodes are seen; they are then the group. */
export class GroupFormation {
  private readonly options: GroupFormationOptions;
  private readonly timer: ReturnType<typeof setInterval>;
  /** The member set last refused for being larger than --expect (logged once per change). */
  private lastRefusal = "";

  constructor(options: GroupFormationOptions) {
    this.options = options;
    this.timer = setInterval(() => this.tryForming(), MEMBERS_POLL_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tryForming(): void {
    const { expect, logger } = this.options;
    const members = this.options.seen();
    if (members.size < expect) return;
    if (members.size > expect) {
      const seen = [...members.keys()].sort().join(",");
      if (seen !== this.lastRefusal) {
        logger.error("more directory nodes than --expect; not forming a group", { expect, seen });
      }
      this.lastRefusal = seen;
      return;
    }
    const group = [...members].map(([id, address]) => ({ id, address }));
    let formed: readonly GroupMember[];
    try {
      formed = formGroup(this.options.store, logger, group);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      // Nothing was recorded: the next poll tries again, as it would have before formation.
      logger.error("disk is full: cannot record the directory group's members; retrying", {
        dataFolder: this.options.dataFolder,
      });
      return;
    }
    this.stop();
    this.options.onFormed(formed);
  }
}
