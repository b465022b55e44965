/**
 * Majority arithmetic for a static voter set, as pure functions (etcd's quorum/ package, in
 * miniature): how many make a majority, the highest index a majority has, and whether a vote
 * is won, lost or still open. No node state lives here.
 */

import { assert } from "../assert.ts";

export function majority(voters: number): number {
  assert(voters > 0, "a group has at least one voter");
  return Math.floor(voters / 2) + 1;
}

/** The largest index that at least a majority of `matches` (one per voter) has reached. */
export function committedIndex(matches: readonly number[]): number {
  const sorted = [...matches].sort((a, b) => b - a);
  const value = sorted[majority(matches.length) - 1];
  assert(value !== undefined, "one match index per voter");
  return value;
}

export type VoteOutcome = "won" | "lost" | "pending";

/** Granted and rejected counts out of `voters`: decided as soon as either side is a majority. */
export function voteOutcome(granted: number, rejected: number, voters: number): VoteOutcome {
  const needed = majority(voters);
  if (granted >= needed) return "won";
  if (rejected > voters - needed) return "lost";
  return "pending";
}
