/**
 * The Raft core's vocabulary: node ids, log entries, the durable state a driver persists, the
 * typed message union, the config with its bounds, and the Ready batch. Types and constants
 * only; no behaviour lives here.
 */

import type { Random } from "../prng.ts";

/** A directory node's id in the group (branded so a term or an index never passes for one). */
export type RaftId = string & { readonly __brand: "RaftId" };

export function raftId(value: string): RaftId {
  return value as RaftId;
}

/** One log entry. `command` is null for the no-op a new leader appends to commit its term. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly command: Uint8Array | null;
}

/** What must be on disk before any message that depends on it is sent (Raft Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: RaftId | null;
  readonly commit: number;
}

/** The state machine as of `index`, replacing every entry up to and including it. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/** Everything a node restarts from: what a durable store survived a crash with. */
export interface DurableState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous and in order. */
  readonly entries: readonly Entry[];
}

interface Envelope {
  readonly from: RaftId;
  readonly to: RaftId;
  readonly term: number;
}

/** `term` is the term the sender would campaign at, one above its own (thesis §9.6). */
export interface PreVote extends Envelope {
  readonly type: "preVote";
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export interface Vote extends Envelope {
  readonly type: "vote";
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export interface VoteResponse extends Envelope {
  readonly type: "preVoteResponse" | "voteResponse";
  readonly granted: boolean;
}

export interface Append extends Envelope {
  readonly type: "append";
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * `index`: on success the follower's last index matching the leader; on rejection the
 * `prevIndex` that did not match. `hintIndex`: the highest index the leader should try next.
 */
export interface AppendResponse extends Envelope {
  readonly type: "appendResponse";
  readonly success: boolean;
  readonly index: number;
  readonly hintIndex: number;
}

/** `readSeq`: the newest read-index round the leader wants confirmed by this heartbeat. */
export interface Heartbeat extends Envelope {
  readonly type: "heartbeat";
  readonly commit: number;
  readonly readSeq: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: "heartbeatResponse";
  readonly readSeq: number;
}

export interface InstallSnapshot extends Envelope {
  readonly type: "installSnapshot";
  readonly snapshot: Snapshot;
}

export type RaftMessage =
  | PreVote
  | Vote
  | VoteResponse
  | Append
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot;

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly requestId: string;
  readonly index: number;
}

/**
 * One batch of work for the driver, in this order: persist `hardState`, `snapshot` and
 * `entries` durably (fsync); then send `messages`; then restore from `snapshot` if it is newer
 * than the state machine, and apply `committedEntries`; answer `readStates` once applied; then
 * call `advance(ready)`.
 */
export interface Ready {
  readonly hardState: HardState | null;
  /** Append these, first deleting any stored entry at or after the first one's index. */
  readonly entries: readonly Entry[];
  /** Store this and drop stored entries it covers (all of them if its last one disagrees). */
  readonly snapshot: Snapshot | null;
  readonly messages: readonly RaftMessage[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

export interface RaftConfig {
  /** Election timeout: randomized in [electionTicks, 2·electionTicks) per term. */
  readonly electionTicks: number;
  /** A leader heartbeats every heartbeatTicks; must be well below electionTicks. */
  readonly heartbeatTicks: number;
}

export interface RaftNodeOptions {
  readonly id: RaftId;
  /** The whole group including `id`: 1, 3 or 5 members, the same list on every node. */
  readonly peers: readonly RaftId[];
  readonly config: RaftConfig;
  readonly prng: Random;
  /** Empty for a first boot; what the durable store holds on a restart. */
  readonly durable?: DurableState;
}

export type ProposeError =
  | { readonly code: "NOT_LEADER"; readonly leaderHint: RaftId | null }
  | { readonly code: "BUSY"; readonly uncommittedEntries: number };

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly error: ProposeError };

export type ReadIndexError =
  | { readonly code: "NOT_LEADER"; readonly leaderHint: RaftId | null }
  /** A new leader must commit an entry of its own term before it knows the commit index. */
  | { readonly code: "LEADER_NOT_READY" }
  | { readonly code: "BUSY"; readonly pendingReads: number };

export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: ReadIndexError };

/** Group sizes the design allows: odd, so a majority survives ⌊n/2⌋ failures. */
export const RAFT_GROUP_SIZES = [1, 3, 5] as const;

/** Entries per append message: bounds a message's size and a slow follower's catch-up burst. */
export const RAFT_APPEND_ENTRIES_MAX = 64;

/**
 * Command bytes per append message: with the payload cap of a frame (CHUNK_BYTES_MAX, 16 MiB)
 * well above it, so a batch of large commands (long chunk lists) still fits one frame.
 */
export const RAFT_APPEND_BYTES_MAX = 4 * 1024 * 1024;

/** Append messages in flight to one follower before the leader waits for an ack. */
export const RAFT_INFLIGHT_APPENDS_MAX = 8;

/** Proposals a leader holds uncommitted before refusing more (back-pressure, not a queue). */
export const RAFT_UNCOMMITTED_ENTRIES_MAX = 4096;

/** Read-index requests a leader holds awaiting a heartbeat quorum. */
export const RAFT_PENDING_READS_MAX = 1024;

/** Defaults for a LAN directory group: 1 tick = 50 ms gives a 0.5–1 s election timeout. */
export const RAFT_DEFAULT_CONFIG: RaftConfig = {
  electionTicks: 10,
  heartbeatTicks: 2,
};
