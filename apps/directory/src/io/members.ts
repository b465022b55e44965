/**
 * The directory group's members: formed once, when gossip shows exactly `--expect` directory
 * nodes, recorded, and read back on every restart: Raft's quorum is over a fixed list, so a
 * node must never forget who it is with.
 */

import {
  addressField,
  arr,
  fail,
  nodeIdField,
  obj,
  opt,
  raft,
  str,
  tryDecode,
} from "@ftfs/protocol/core";
import type { Logger } from "@ftfs/protocol/io";
import { DIRECTORY_GROUP_SIZES, MEMBERS_POLL_INTERVAL_MS, type Failure } from "../core/index.ts";
import type { GroupMember } from "./replicator.ts";
import { isDiskFull, StoreCorruptError, type SqliteMetadataStore } from "./sqlite-store.ts";

const META_MEMBERS = "members";
const GROUP_SIZE_MAX = Math.max(...DIRECTORY_GROUP_SIZES);
const membersSchema = arr(
  obj({
    id: nodeIdField,
    address: addressField,
    folder: opt(str({ bytesMin: 1, bytesMax: raft.RAFT_FOLDER_ID_BYTES_MAX })),
  }),
  { itemsMax: GROUP_SIZE_MAX },
);

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
  /**
   * The folder a member answers from (this node's own too), and the folder its group binds
   * this node to if it has formed one; null: no answer yet.
   */
  readonly identify: (
    id: string,
    address: string,
  ) => Promise<{ readonly folder: string; readonly boundSelf: string | null } | null>;
  /** This node's own folder. */
  readonly folder: string;
  readonly onFormed: (members: readonly GroupMember[]) => void;
  /**
   * A member's group already binds this node's id to another folder: this node is a wiped
   * or replaced disk under an old id, and must wait to be added back as a new member.
   */
  readonly onStranger: (boundFolder: string) => void;
}

/** Polls gossip until exactly `expect` directory nodes are seen; they are then the group. */
export class GroupFormation {
  private readonly options: GroupFormationOptions;
  private readonly timer: ReturnType<typeof setInterval>;
  /** The member set last refused for being larger than --expect (logged once per change). */
  private lastRefusal = "";
  /** Asking the peers for their folders; one round at a time. */
  private identifying = false;
  private stopped = false;

  constructor(options: GroupFormationOptions) {
    this.options = options;
    this.timer = setInterval(() => this.tryForming(), MEMBERS_POLL_INTERVAL_MS);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private tryForming(): void {
    if (this.identifying) return;
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
    this.identifying = true;
    void this.withFolders(members)
      .then((answer) => {
        if (answer === null || this.stopped) return;
        if (answer.kind === "stranger") {
          this.stop();
          this.options.onStranger(answer.boundFolder);
          return;
        }
        this.form(answer.group);
      })
      .finally(() => {
        this.identifying = false;
      });
  }

  /**
   * Each member with the folder it answers from: the group binds them, so the same id on a
   * wiped disk is a stranger rather than a voter that forgot its votes. Null until all answer.
   */
  private async withFolders(
    members: ReadonlyMap<string, string>,
  ): Promise<
    | { readonly kind: "group"; readonly group: GroupMember[] }
    | { readonly kind: "stranger"; readonly boundFolder: string }
    | null
  > {
    const answers = await Promise.all(
      [...members].map(async ([id, address]) => ({
        id,
        address,
        answer: await this.options.identify(id, address),
      })),
    );
    const group: GroupMember[] = [];
    for (const { id, address, answer } of answers) {
      if (answer === null) return null;
      const bound = answer.boundSelf;
      if (bound !== null && bound !== this.options.folder) {
        return { kind: "stranger", boundFolder: bound };
      }
      group.push({ id, address, folder: answer.folder });
    }
    return { kind: "group", group };
  }

  private form(group: readonly GroupMember[]): void {
    const { logger } = this.options;
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
