/**
 * A group's configuration as pure values: who votes, who learns, and what one single-server
 * change (thesis §4.1) makes of it. Changing one server at a time keeps every majority of the
 * old configuration overlapping every majority of the new one, so two leaders can never be
 * elected in one term across a change. No node state lives here.
 */

import { assertNever } from "../assert.ts";
import {
  RAFT_MEMBERS_MAX,
  RAFT_VOTERS_MAX,
  type Membership,
  type MembershipChange,
  type RaftId,
  type RaftMember,
} from "./types.ts";

/**
 * The configuration a group was formed with: every peer a voter, addresses the driver's, each
 * bound to the folder it formed the group from (when known).
 */
export function bootstrapMembership(
  peers: readonly RaftId[],
  folders: ReadonlyMap<RaftId, string> = new Map(),
): Membership {
  return {
    members: peers.map((id) => {
      const folder = folders.get(id);
      return { id, address: "", voter: true, ...(folder === undefined ? {} : { folder }) };
    }),
  };
}

export function voterIds(membership: Membership): RaftId[] {
  return membership.members.filter((member) => member.voter).map((member) => member.id);
}

export function memberIds(membership: Membership): RaftId[] {
  return membership.members.map((member) => member.id);
}

export function isVoter(membership: Membership, id: RaftId): boolean {
  return membership.members.some((member) => member.id === id && member.voter);
}

export function memberOf(membership: Membership, id: RaftId): RaftMember | undefined {
  return membership.members.find((member) => member.id === id);
}

/**
 * The configuration after `change`, or why it cannot be made. A promotion binds the learner
 * to `heardFolder`, the folder the leader hears it from: from then on only that folder votes.
 */
export function changedMembership(
  membership: Membership,
  change: MembershipChange,
  heardFolder?: string,
): { readonly ok: true; readonly membership: Membership } | { readonly ok: false; reason: string } {
  const existing = memberOf(membership, change.id);
  switch (change.kind) {
    case "addLearner": {
      if (existing !== undefined) return refused(`${change.id} is already a member`);
      if (membership.members.length >= RAFT_MEMBERS_MAX) {
        return refused(`the group already has ${RAFT_MEMBERS_MAX} members`);
      }
      const learner: RaftMember = { id: change.id, address: change.address, voter: false };
      return { ok: true, membership: { members: [...membership.members, learner] } };
    }
    case "promote": {
      if (existing === undefined) return refused(`${change.id} is not a member`);
      if (existing.voter) return refused(`${change.id} already votes`);
      if (voterIds(membership).length >= RAFT_VOTERS_MAX) {
        return refused(`the group already has ${RAFT_VOTERS_MAX} voters`);
      }
      const bound = heardFolder === undefined ? {} : { folder: heardFolder };
      const members = membership.members.map((member) =>
        member.id === change.id ? { ...member, voter: true, ...bound } : member,
      );
      return { ok: true, membership: { members } };
    }
    case "remove": {
      if (existing === undefined) return refused(`${change.id} is not a member`);
      const members = membership.members.filter((member) => member.id !== change.id);
      if (!members.some((member) => member.voter)) {
        return refused(`${change.id} is the last voter`);
      }
      return { ok: true, membership: { members } };
    }
    default:
      return assertNever(change, "membership change");
  }
}

function refused(reason: string): { readonly ok: false; reason: string } {
  return { ok: false, reason };
}

export function sameMembership(a: Membership, b: Membership): boolean {
  if (a.members.length !== b.members.length) return false;
  return a.members.every((member, at) => {
    const other = b.members[at];
    return (
      other !== undefined &&
      other.id === member.id &&
      other.address === member.address &&
      other.voter === member.voter &&
      other.folder === member.folder
    );
  });
}
