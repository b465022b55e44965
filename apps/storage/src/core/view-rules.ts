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

export function sameView(left: GroupView, right: GroupView): boolean {
  if (left.epoch !== right.epoch || left.primary !== right.primary) return false;
  if (left.primaryNode !== right.primaryNode || left.replicas.length !== right.replicas.length) {
    return false;
  }
  return left.replicas.every((replica, at) => {
    const other = right.replicas[at];
    return other !== undefined && other.node === replica.node && other.address === replica.address;
  });
}

/** The lease a heartbeat sent at `sentAtMs` and answered grants. */
export function leaseExpiry(sentAtMs: number): number {
  return sentAtMs + PRIMARY_LEASE_MS;
}
