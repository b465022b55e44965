/**
 * Which group view a storage node keeps, pure. The directory's registerStorage answer is the
 * view; a node never goes back to an older epoch (an answer from a directory node that lags,
 * or one delayed in the network, must not undo a newer view), and never adopts another
 * group's view (that would be a directory bug, reported by the caller).
 *
 * A spare with no group yet takes the first view that lists it as its assignment: the caller
 * records the group on disk before it adopts the view, and from then on the spare is a member
 * of that group like any other (so it never takes a second group's view). A view that does not
 * list the spare assigns it nothing.
 *
 * An assigned spare whose group released it (the directory says `released`, and the view does
 * not list it: the group has its replication factor without it) goes back to the pool: the
 * caller forgets the group's data, then the assignment, and the node is unassigned again.
 */

import type { GroupView } from "@ftfs/protocol/core";
import { PRIMARY_LEASE_MS } from "./limits.ts";

export type ViewDecision =
  | { readonly kind: "adopt"; readonly view: GroupView; readonly changed: boolean }
  /** A spare's first group: persist `view.group`, then adopt the view. */
  | { readonly kind: "assign"; readonly view: GroupView }
  /** A spare its group no longer needs: forget the group's data, then the assignment. */
  | { readonly kind: "release"; readonly group: string }
  | { readonly kind: "older"; readonly view: GroupView }
  | { readonly kind: "wrongGroup"; readonly view: GroupView | null }
  | { readonly kind: "notListed"; readonly view: GroupView | null };

/**
 * `group` is null for a spare that has not been assigned one; `released` is the directory's
 * word that the group released this node, heeded only by a spare the view does not list.
 */
export function decideView(
  current: GroupView | null,
  group: string | null,
  incoming: GroupView,
  node: string,
  spare = false,
  released = false,
): ViewDecision {
  if (group === null) {
    if (!listsNode(incoming, node)) return { kind: "notListed", view: current };
    return { kind: "assign", view: incoming };
  }
  if (incoming.group !== group) return { kind: "wrongGroup", view: current };
  if (spare && released && !listsNode(incoming, node)) return { kind: "release", group };
  if (current !== null && incoming.epoch < current.epoch) return { kind: "older", view: current };
  return {
    kind: "adopt",
    view: incoming,
    changed: current === null || !sameView(current, incoming),
  };
}

type Member = GroupView["replicas"][number];

function sameMembers(left: readonly Member[], right: readonly Member[]): boolean {
  if (left.length !== right.length) return false;
  return left.every((member, at) => {
    const other = right[at];
    return other !== undefined && other.node === member.node && other.address === member.address;
  });
}

export function sameView(left: GroupView, right: GroupView): boolean {
  if (left.epoch !== right.epoch || left.primary !== right.primary) return false;
  if (left.primaryNode !== right.primaryNode) return false;
  return (
    sameMembers(left.replicas, right.replicas) &&
    sameMembers(left.learners ?? [], right.learners ?? [])
  );
}

function listsNode(view: GroupView, node: string): boolean {
  return [...view.replicas, ...(view.learners ?? [])].some((member) => member.node === node);
}

/** This node is catching up in `view`: it takes writes but is not yet in sync. */
export function isLearner(view: GroupView | null, node: string): boolean {
  return learnerSince(view, node) !== null;
}

/**
 * The epoch since which this node has been a learner without a break (its stint), or null
 * when `view` does not list it as one. One full copy during the stint completes it.
 */
export function learnerSince(view: GroupView | null, node: string): number | null {
  const learner = view?.learners?.find((member) => member.node === node);
  if (learner === undefined || view === null) return null;
  return learner.since ?? view.epoch;
}

/** The lease a heartbeat sent at `sentAtMs` and answered grants. */
export function leaseExpiry(sentAtMs: number): number {
  return sentAtMs + PRIMARY_LEASE_MS;
}
