/**
 * The directory group's membership as the operator changes it: `directoryMembers` and
 * `directoryChange` (what `ftfs admin directory ls|add|remove` call, served by the primary),
 * the primary's promotion of learners that have caught up, and a new member's admission kept
 * on disk. The rules are Raft's single-server changes (the core's); this owns only asking for
 * them and remembering what a restart must know.
 */

import {
  fail,
  ok,
  parseAddress,
  raft,
  type RequestBody,
  type ResponseBody,
  type Result,
} from "@ftfs/protocol/core";
import type { Logger, Reply } from "@ftfs/protocol/io";
import {
  type AutopilotSettings,
  deadVoterToRemove,
  DIRECTORY_MEMBERSHIP_CHECK_INTERVAL_MS,
  PromotionWatch,
} from "../core/index.ts";
import type { Replicator } from "./replicator.ts";
import type { SqliteMetadataStore } from "./sqlite-store.ts";

/** This data folder's identity, made on its first start: a wiped or new disk has another. */
const META_FOLDER = "folderId";
/** The node this folder belongs to, written on its first start. */
const META_NODE = "nodeId";

/** A folder started under another node's id: it holds that node's votes and log. */
export class ForeignFolderError extends Error {
  override readonly name = "ForeignFolderError";

  constructor(owner: string, node: string) {
    super(
      `this data folder belongs to directory node ${owner}, not ${node}: start it with ` +
        `--node ${owner}, or give ${node} a folder of its own`,
    );
  }
}

/**
 * The folder's identity, made and written down on first use, with the node it belongs to; a
 * folder of another node is refused (it would vote with that node's votes).
 */
export function directoryFolderId(store: SqliteMetadataStore, node: string): string {
  const owner = store.readMeta(META_NODE);
  if (owner !== undefined && owner !== node) throw new ForeignFolderError(owner, node);
  if (owner === undefined) store.writeMeta(META_NODE, node);
  const recorded = store.readMeta(META_FOLDER);
  if (recorded !== undefined) return recorded;
  const made = `f-${crypto.randomUUID()}`;
  store.writeMeta(META_FOLDER, made);
  return made;
}

/** Set once a node started with --new-member: it joined an existing group, never formed one. */
const META_JOINED = "joinedAsNewMember";
/** Set once such a node's log added it as a learner: it may vote from then on. */
const META_ADMITTED = "admittedAsMember";

export function joinedAsNewMember(store: SqliteMetadataStore): boolean {
  return store.readMeta(META_JOINED) !== undefined;
}

export function admittedAsMember(store: SqliteMetadataStore): boolean {
  return store.readMeta(META_ADMITTED) !== undefined;
}

export function markJoinedAsNewMember(store: SqliteMetadataStore): void {
  store.writeMeta(META_JOINED, "1");
}

type MembersView = ResponseBody<"directoryMembers">;

/** The configuration as the primary's log has it, with how far each member has caught up. */
export function membersView(
  replicator: Replicator,
  self: string,
  addressOf: (id: string) => string | undefined,
): MembersView {
  const matches = replicator.matchIndexes();
  return {
    primary: self,
    commitIndex: replicator.commitIndex,
    committed: replicator.membershipCommitted,
    members: replicator.membership.members.map((member) => ({
      node: member.id,
      // The group's first configuration names no addresses: gossip's (or the bootstrap's) then.
      address: member.address === "" ? (addressOf(member.id) ?? "-") : member.address,
      voter: member.voter,
      matchIndex: member.id === self ? replicator.commitIndex : (matches.get(member.id) ?? 0),
    })),
  };
}

/** `directoryChange` at the primary: the change, then the configuration once committed. */
export async function changeMembership(
  replicator: Replicator,
  self: string,
  body: RequestBody<"directoryChange">,
  addressOf: (id: string) => string | undefined,
): Promise<Result<Reply<"directoryChange">>> {
  let change: raft.MembershipChange;
  if (body.change === "add") {
    const address = body.address ?? "";
    if (!parseAddress(address).ok) {
      return fail("BAD_REQUEST", `adding ${body.node} needs its address as host:port`);
    }
    change = { kind: "addLearner", id: raft.raftId(body.node), address };
  } else {
    change = { kind: "remove", id: raft.raftId(body.node) };
  }
  const changed = await replicator.proposeMembership(change);
  if (!changed.ok) return changed;
  return ok({ body: membersView(replicator, self, addressOf) });
}

export interface MembershipDutiesOptions {
  readonly store: SqliteMetadataStore;
  readonly replicator: () => Replicator | null;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /** Remove voters silent too long (core/autopilot-rules.ts); null: off, the default. */
  readonly autopilot: AutopilotSettings | null;
  /** This node's id: the autopilot never removes the primary itself. */
  readonly self: string;
}

/**
 * A timer for what membership asks of a node over time: as primary, promote a learner that
 * has caught up; as a new member, write down its admission once its log has it.
 */
export class MembershipDuties {
  private readonly options: MembershipDutiesOptions;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly watch = new PromotionWatch();
  private promoting = false;
  /** Strangers already reported (id/folder), and whether this node was told it is one. */
  private readonly reportedStrangers = new Set<string>();
  private reportedSelfStranger = false;

  constructor(options: MembershipDutiesOptions) {
    this.options = options;
    this.timer = setInterval(() => this.check(), DIRECTORY_MEMBERSHIP_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const replicator = this.options.replicator();
    if (replicator === null) return;
    const { store } = this.options;
    this.reportStrangers(replicator);
    if (replicator.admitted && joinedAsNewMember(store) && !admittedAsMember(store)) {
      store.writeMeta(META_ADMITTED, "1");
      this.options.logger.info("added to the directory group as a learner; catching up", {});
    }
    if (!replicator.isLeader || this.promoting || !replicator.membershipCommitted) return;
    const learner = this.watch.observe(
      replicator.membership,
      replicator.matchIndexes(),
      replicator.commitIndex,
      this.options.nowMs(),
    );
    if (learner === null) {
      this.removeDeadVoter(replicator);
      return;
    }
    this.promoting = true;
    void replicator
      .proposeMembership({ kind: "promote", id: raft.raftId(learner) })
      .then((promoted) => {
        if (promoted.ok)
          this.options.logger.info("directory learner promoted to voter", { learner });
        else {
          this.options.logger.warn("directory learner not promoted; will retry", {
            learner,
            reason: promoted.error.message,
          });
        }
      })
      .finally(() => {
        this.promoting = false;
      });
  }

  /**
   * Said once each: a member heard from another data folder than the group binds it to (its
   * disk was wiped or replaced), and, on such a node, that it will not vote. Either way the
   * way out is the operator's: remove the id, then add it back.
   */
  private reportStrangers(replicator: Replicator): void {
    const { logger, self } = this.options;
    if (replicator.strangerToGroup && !this.reportedSelfStranger) {
      this.reportedSelfStranger = true;
      logger.error(
        "this node's data folder is not the one the directory group knows for it " +
          "(a wiped or replaced disk): it will not vote or campaign",
        {
          action: `ftfs admin directory remove ${self}, then ftfs admin directory add ${self} <address>`,
        },
      );
    }
    for (const [peer, folder] of replicator.strangerFolders()) {
      const key = `${peer}/${folder}`;
      if (this.reportedStrangers.has(key)) continue;
      this.reportedStrangers.add(key);
      logger.warn(
        "a directory node answers from another data folder than the group knows for it " +
          "(a wiped or replaced disk); its votes and acknowledgements are ignored",
        {
          peer,
          folder,
          action: `ftfs admin directory remove ${peer}, then ftfs admin directory add ${peer} <address>`,
        },
      );
    }
  }

  /** The autopilot's one removal at a time, as an operator's `remove` would be. */
  private removeDeadVoter(replicator: Replicator): void {
    const { autopilot, logger, self } = this.options;
    if (autopilot === null) return;
    const dead = deadVoterToRemove(replicator.membership, self, replicator.silentMs(), autopilot);
    if (dead === null) return;
    this.promoting = true;
    const silentMs = replicator.silentMs().get(dead) ?? 0;
    void replicator
      .proposeMembership({ kind: "remove", id: raft.raftId(dead) })
      .then((removed) => {
        if (removed.ok) {
          logger.warn("autopilot removed a dead directory voter", {
            voter: dead,
            silentMs,
            voters: removed.value.members.filter((member) => member.voter).length,
          });
        } else {
          logger.warn("autopilot could not remove a dead directory voter; will retry", {
            voter: dead,
            reason: removed.error.message,
          });
        }
      })
      .finally(() => {
        this.promoting = false;
      });
  }
}
