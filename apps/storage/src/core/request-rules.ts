/**
 * Who may accept which request, pure (the PacificA write path's admission rules). Given this
 * node's id, its latest group view, its primary lease and a request's epoch stamp, a write is
 * admitted (with the replicas the primary must forward it to) or refused with a typed error
 * whose hint tells the caller where to go. Reads (getChunk, hasChunks, listOwned) need no
 * admission: chunks are immutable, so any replica that has one may serve it.
 *
 * Rules, in order:
 *   1. no view yet                             UNAVAILABLE (we do not know our group yet)
 *   2. stamped epoch > 0 and < our epoch       STALE_EPOCH {epoch, primary}
 *   3. forwarded by a primary                  accept; store locally, forward to nobody
 *   4. stamped epoch > our epoch               UNAVAILABLE (our view is behind; it refreshes)
 *   5. we are not the view's primary           NOT_PRIMARY {primary, epoch}
 *   6. our lease expired                       UNAVAILABLE (we may have been replaced)
 *   7. otherwise                               accept; forward to every other replica and
 *                                              learner
 *
 * A forwarded write stamped with a newer epoch than ours is accepted (rule 3 before 4): its
 * primary knows a newer view, and storing an immutable chunk or a reference is harmless.
 */

import { fail, ok, type ErrorHint, type GroupView, type Result } from "@ftfs/protocol/core";

export type Replica = GroupView["replicas"][number];

export interface WriteRequest {
  /** Sent by the group's primary as part of a replicated write, not by a client. */
  readonly forwarded: boolean;
  /** The epoch the sender believes current; 0 means "not checked". */
  readonly epoch: number;
}

export interface NodeState {
  readonly node: string;
  readonly view: GroupView | null;
  /** Writes as primary are allowed strictly before this time. */
  readonly leaseExpiresAtMs: number;
}

export interface Admission {
  /** The epoch to stamp on forwards: our view's. */
  readonly epoch: number;
  /** The replicas this node must forward the write to before it answers (none on a backup). */
  readonly forwardTo: readonly Replica[];
}

export function groupHint(view: GroupView): ErrorHint {
  return view.primary === null
    ? { epoch: view.epoch }
    : { primary: view.primary, epoch: view.epoch };
}

export function admitWrite(
  state: NodeState,
  request: WriteRequest,
  nowMs: number,
): Result<Admission> {
  const view = state.view;
  if (view === null) {
    return fail("UNAVAILABLE", `storage node ${state.node} has no group view yet; retry`);
  }
  if (request.epoch > 0 && request.epoch < view.epoch) {
    return fail(
      "STALE_EPOCH",
      `request stamped with epoch ${request.epoch}; group ${view.group} is at epoch ${view.epoch}`,
      groupHint(view),
    );
  }
  if (request.forwarded) return ok({ epoch: view.epoch, forwardTo: [] });
  if (request.epoch > view.epoch) {
    return fail(
      "UNAVAILABLE",
      `storage node ${state.node} knows group ${view.group} at epoch ${view.epoch}, ` +
        `older than the request's ${request.epoch}; retry`,
    );
  }
  if (view.primaryNode !== state.node) {
    const who = view.primary === null ? "no primary now" : `the primary is ${view.primary}`;
    return fail(
      "NOT_PRIMARY",
      `storage node ${state.node} is not primary of group ${view.group}; ${who}`,
      groupHint(view),
    );
  }
  if (nowMs >= state.leaseExpiresAtMs) {
    return fail(
      "UNAVAILABLE",
      `primary lease of ${state.node} expired (the directory has not answered); retry`,
    );
  }
  // Learners take every write too, so that once they have copied the backlog they hold
  // everything; the write waits for them like for any replica (a dead one is dropped first).
  const members = [...view.replicas, ...(view.learners ?? [])];
  return ok({
    epoch: view.epoch,
    forwardTo: members.filter((replica) => replica.node !== state.node),
  });
}

/** Does a request's stamp show that a newer view exists than ours (so we should refresh)? */
export function viewIsBehind(view: GroupView | null, requestEpoch: number): boolean {
  return view === null || requestEpoch > view.epoch;
}
