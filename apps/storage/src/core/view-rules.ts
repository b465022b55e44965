/**
 * Which group view a storage node keeps, pure. The directory's registerStorage answer is the
 * view; a node never goes back to an older epoch (an answer from a directory node that lags,
 * or one delayed in the network, must not undo a newer view), and never adopts another
 * group's view (that would be a directory bug, reported by the caller).
 */

import type { GroupView } from "@ftfs/protocol/core";
import { PRIMARY_LEASE_MS } from "./limits.ts";

export type ViewDecision =
  | { readonly kind: "adopt"; readonly view: GroupView; readonly changed: boolean }
  | { readonly kind: "older"; readonly view: GroupView }
  | { readonly kind: "wrongGroup"; readonly view: GroupView | null };

export function decideView(
  current: GroupView | null,
  group: string,
  incoming: GroupView,
): ViewDecision {
  if (incoming.group !== group) return { kind: "wrongGroup", view: current };
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

/** This node is catching up in `view`: it takes writes but is not yet in sync. */
export function isLearner(view: GroupView | null, node: string): boolean {
  return view?.learners?.some((member) => member.node === node) ?? false;
}

/** The lease a heartbeat sent at `sentAtMs` and answered grants. */
export function leaseExpiry(sentAtMs: number): number {
  return sentAtMs + PRIMARY_LEASE_MS;
}
