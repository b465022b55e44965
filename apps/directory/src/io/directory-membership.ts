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
