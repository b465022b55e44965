/**
 * What a directory node whose disk filled says, pure (the node owns the probe timer and the
 * clock, and passes `nowMs`). Raft stopped on it, so it is out of its group: a change (or, in
 * a larger group, a current read) is sent to a leader heard from lately; while the others may
 * still be electing one it answers UNAVAILABLE (retry); after that, DISK_FULL, which no retry
 * fixes until space is freed. Alone in its group, nobody can take over, so DISK_FULL at once.
 */

import { fail } from "@ftfs/protocol/core";
import type { Failure } from "./checks.ts";
import { RAFT_ELECTION_TICKS, RAFT_TICK_MS } from "./limits.ts";

/** The longest election timeout: Raft randomizes it in [1, 2) × RAFT_ELECTION_TICKS ticks. */
const ELECTION_TIMEOUT_MS_MAX = 2 * RAFT_ELECTION_TICKS * RAFT_TICK_MS;
/**
 * How long a member of a larger group whose disk filled answers UNAVAILABLE (retry: another
 * member should take over) before it answers DISK_FULL: three of the longest elections. Well
 * under a client's retry deadline, so a takeover is a pause and a group that cannot take over
 * is one clear line.
 */
export const DISK_FULL_TAKEOVER_GRACE_MS = 3 * ELECTION_TIMEOUT_MS_MAX;
/** A leader heard over Raft this recently still leads: it heartbeats every few ticks. */
export const HEARD_LEADER_FRESH_MS = ELECTION_TIMEOUT_MS_MAX;

/** A leader heard from over Raft while the disk was full. */
export interface HeardLeader {
  readonly id: string;
  readonly term: number;
  readonly atMs: number;
}

/** While the disk is full: this node is out of its group, waiting for space. */
export interface DiskFullState {
  /** When it filled (monotonic): how long the others have had to take over. */
  readonly sinceMs: number;
  /** The last term on this node's disk: its epoch while it waits. */
  readonly term: number;
  /** The newest leader heard from meanwhile: where to send callers. */
  readonly heard: HeardLeader | null;
}

/** What a Raft message heard while full says about the leader (only a leader's own kinds). */
export function hearWhileFull(
  state: DiskFullState,
  message: { readonly type: string; readonly from: string; readonly term: number },
  nowMs: number,
): DiskFullState {
  const fromLeader =
    message.type === "append" || message.type === "heartbeat" || message.type === "installSnapshot";
  if (!fromLeader || message.term < state.term) return state;
  if (state.heard !== null && message.term < state.heard.term) return state;
  return { ...state, heard: { id: message.from, term: message.term, atMs: nowMs } };
}

export interface RefusalContext {
  readonly node: string;
  readonly dataFolder: string;
  /** A group of one: nobody else can take over. */
  readonly alone: boolean;
  readonly nowMs: number;
  /** A directory node's client address, if known. */
  readonly addressOf: (node: string) => string | undefined;
}

export function diskFullRefusal(state: DiskFullState, context: RefusalContext): Failure {
  const { node, dataFolder, alone, nowMs } = context;
  const where = `directory node ${node}'s disk is full (data folder ${dataFolder})`;
  const heard = state.heard;
  const primary =
    heard !== null && nowMs - heard.atMs <= HEARD_LEADER_FRESH_MS
      ? context.addressOf(heard.id)
      : undefined;
  if (primary !== undefined) {
    return fail("NOT_PRIMARY", `${where}; the primary is ${primary}`, { primary });
  }
  const resumes = "it resumes by itself once space is freed there";
  if (alone) {
    return fail(
      "DISK_FULL",
      `${where}: uploads, deletes and new users are refused; reads still work; ${resumes}`,
    );
  }
  if (nowMs - state.sinceMs < DISK_FULL_TAKEOVER_GRACE_MS) {
    return fail("UNAVAILABLE", `${where}; another directory node should take over; retry`);
  }
  return fail(
    "DISK_FULL",
    `${where} and no other directory node leads: changes are refused; stale listings ` +
      `still work (ftfs <uid> d --stale); ${resumes}`,
  );
}
