/**
 * Autopilot for the directory group (off by default, as Consul's): the primary removes a voter
 * that has not answered for `deadAfterMs`, one at a time, never leaving fewer than `minVoters`
 * voters. A group that keeps a long-dead voter needs a larger majority than it has members to
 * spare: with five voters and two dead, one more failure stops every commit; removing the dead
 * ones gives that margin back. The silence is the primary's own count since its election, so a
 * new primary waits the full time again before it removes anyone. Pure: the driver feeds it
 * the configuration and each member's silence.
 */

import type { raft } from "@ftfs/protocol/core";

export interface AutopilotSettings {
  /** A voter silent this long is removed. */
  readonly deadAfterMs: number;
  /** Never fewer voters than this after a removal. */
  readonly minVoters: number;
}

/** Voters the autopilot keeps at the least: below three, one failure stops every commit. */
export const AUTOPILOT_MIN_VOTERS_DEFAULT = 3;

/** The voter to remove now (the longest silent), or null. */
export function deadVoterToRemove(
  membership: raft.Membership,
  self: string,
  silentMs: ReadonlyMap<string, number>,
  settings: AutopilotSettings,
): string | null {
  const voters = membership.members.filter((member) => member.voter).map((member) => member.id);
  if (voters.length - 1 < settings.minVoters) return null;
  let longest: { id: string; silentMs: number } | null = null;
  for (const id of voters) {
    if (id === self) continue;
    const silent = silentMs.get(id) ?? 0;
    if (silent < settings.deadAfterMs) continue;
    if (
      longest === null ||
      silent > longest.silentMs ||
      (silent === longest.silentMs && id < longest.id)
    ) {
      longest = { id, silentMs: silent };
    }
  }
  return longest?.id ?? null;
}
