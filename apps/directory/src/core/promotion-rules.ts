/**
 * When a learner of the directory group becomes a voter: once its log has stayed within
 * DIRECTORY_PROMOTE_LAG_ENTRIES_MAX of the commit index for DIRECTORY_PROMOTE_STABLE_MS. A
 * voter that cannot keep up would slow every commit (or, with two of them, stop it), so a
 * learner earns its vote by keeping up first. Pure: the primary's driver feeds it the
 * configuration, how far each member matches, and the time.
 */

import type { raft } from "@ftfs/protocol/core";
import { DIRECTORY_PROMOTE_LAG_ENTRIES_MAX, DIRECTORY_PROMOTE_STABLE_MS } from "./limits.ts";

export class PromotionWatch {
  /** Learner → since when it has been close enough, without a break. */
  private readonly closeSince = new Map<string, number>();

  /** The learner to promote now, if any (one at a time: changes go one by one). */
  observe(
    membership: raft.Membership,
    matches: ReadonlyMap<string, number>,
    commitIndex: number,
    nowMs: number,
  ): string | null {
    const learners = membership.members.filter((member) => !member.voter).map((m) => m.id);
    for (const id of [...this.closeSince.keys()]) {
      if (!learners.includes(id as raft.RaftId)) this.closeSince.delete(id);
    }
    let ready: string | null = null;
    for (const id of learners) {
      const match = matches.get(id) ?? 0;
      if (match + DIRECTORY_PROMOTE_LAG_ENTRIES_MAX < commitIndex || match === 0) {
        this.closeSince.delete(id);
        continue;
      }
      const since = this.closeSince.get(id) ?? nowMs;
      this.closeSince.set(id, since);
      if (ready === null && nowMs - since >= DIRECTORY_PROMOTE_STABLE_MS) ready = id;
    }
    return ready;
  }
}
