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

/**
 * A member of the group as a configuration entry names it. `address` is the driver's (where to
 * reach it); the core carries it and never reads it. A voter counts toward every majority; a
 * learner receives the log but neither votes nor counts, until a later entry promotes it.
 */
export interface RaftMember {
  readonly id: RaftId;
  readonly address: string;
  readonly voter: boolean;
  /**
   * The data folder this member votes and acknowledges from (its identity on disk). Bound
   * when the group forms and when a learner is promoted; messages from the id sent from any
   * other folder (a wiped disk under the old id) are ignored. Absent: unbound (a learner, or a
   * group formed before folders were bound): any folder is heard.
   */
  readonly folder?: string;
}

/** A data folder's identity, as nodes stamp it on their messages. */
export const RAFT_FOLDER_ID_BYTES_MAX = 64;

/** The group's configuration: who is in it (thesis §4.1). Member ids are distinct. */
export interface Membership {
  readonly members: readonly RaftMember[];
}

/**
 * One log entry. `command` is null for the no-op a new leader appends to commit its term, and
 * for a configuration entry, which carries `membership` instead: the configuration it starts,
 * in force on every node from the moment the entry is in its log (committed or not).
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly command: Uint8Array | null;
  readonly membership?: Membership;
}

/** What must be on disk before any message that depends on it is sent (Raft Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: RaftId | null;
  readonly commit: number;
}

/**
 * The state machine as of `index`, replacing every entry up to and including it, and the
 * configuration in force at `index` (absent: the group's first, from its bootstrap).
 */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
  readonly membership?: Membership;
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
  /** The sender's data folder (RaftNodeOptions.folder); absent from a node that has none. */
  readonly folder?: string;
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
  /**
   * The group it was bootstrapped with, including `id`: 1, 3 or 5 voters, the same list on
   * every node that formed it; later configurations come through the log. Empty for a node
   * that joins an existing group: it neither campaigns nor votes until the log (or a snapshot)
   * makes it a member.
   */
  readonly peers: readonly RaftId[];
  /** Each peer's data folder when the group formed: bound in the first configuration. */
  readonly peerFolders?: ReadonlyMap<RaftId, string>;
  /**
   * This node's data folder identity, stamped on every message it sends. A node whose
   * configuration binds its id to another folder is a stranger to the group (its disk was
   * wiped or replaced): it neither votes nor campaigns until removed and added back.
   */
  readonly folder?: string;
  readonly config: RaftConfig;
  readonly prng: Random;
  /** Empty for a first boot; what the durable store holds on a restart. */
  readonly durable?: DurableState;
  /**
   * False for a node that joined with an empty folder and has not yet seen a configuration
   * that added it as a learner: it must never vote or campaign, because an empty folder may
   * be a wiped member that forgot its votes and the entries it acknowledged. It becomes
   * admitted on its own once the log lists it as a learner (the driver persists that).
   * Default true.
   */
  readonly admitted?: boolean;
}

export type ProposeError =
  | { readonly code: "NOT_LEADER"; readonly leaderHint: RaftId | null }
  | { readonly code: "BUSY"; readonly uncommittedEntries: number };

/** One server at a time (thesis §4.1): add a learner, promote it to voter, or remove one. */
export type MembershipChange =
  | { readonly kind: "addLearner"; readonly id: RaftId; readonly address: string }
  | { readonly kind: "promote"; readonly id: RaftId }
  | { readonly kind: "remove"; readonly id: RaftId };

export type MembershipChangeError =
  | { readonly code: "NOT_LEADER"; readonly leaderHint: RaftId | null }
  /** A leader must commit an entry of its own term before changing the configuration. */
  | { readonly code: "LEADER_NOT_READY" }
  /** The last change is not committed yet: one at a time. */
  | { readonly code: "CHANGE_IN_PROGRESS"; readonly configIndex: number }
  /** The change does not fit the configuration (a member added twice, an unknown id...). */
  | { readonly code: "INVALID_CHANGE"; readonly reason: string }
  /** After it, the voters the leader hears from would be fewer than the new majority. */
  | { readonly code: "QUORUM_AT_RISK"; readonly liveVoters: number; readonly needed: number };

export type MembershipChangeResult =
  | { readonly ok: true; readonly index: number; readonly membership: Membership }
  | { readonly ok: false; readonly error: MembershipChangeError };

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

/** Group sizes a group may be formed with: odd, so a majority survives ⌊n/2⌋ failures. */
export const RAFT_GROUP_SIZES = [1, 3, 5] as const;

/** Voters a configuration may have (changes pass through even sizes on their way). */
export const RAFT_VOTERS_MAX = 7;

/** Members (voters and learners) a configuration may have. */
export const RAFT_MEMBERS_MAX = 9;

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
