/**
 * Bounds and timings of the directory node, each with its reason. Wire and file-model limits
 * live in @ftfs/protocol's limits; these are the directory's own. Nothing else invents a limit.
 */

import { STORAGE_HEARTBEAT_INTERVAL_MS, STORAGE_HEARTBEAT_TIMEOUT_MS } from "@ftfs/protocol/core";

/** Storage nodes the directory tracks; leaves room for directory nodes in a 1024-member answer. */
export const STORAGE_NODES_MAX = 1000;

/** A storage node silent for this long counts as dead for its group's configuration. */
export const STORAGE_DEAD_AFTER_MS = STORAGE_HEARTBEAT_TIMEOUT_MS;

/** How often group configurations are recomputed, so a silent primary is noticed promptly. */
export const GROUP_CHECK_INTERVAL_MS = STORAGE_HEARTBEAT_INTERVAL_MS;

/**
 * How long a storage group stays below its replication factor before a spare node is assigned
 * to it. Long enough that a node's reboot (a minute or two) does not start a full copy that
 * ends over-replicated once the node is back; short against the time a second failure takes
 * to arrive. Ceph waits 10 minutes (mon_osd_down_out_interval), HDFS 10.5: our groups are
 * smaller (a group of 3 down one is one failure from a single copy), so half of that.
 */
export const REREPLICATION_GRACE_MS_DEFAULT = 5 * 60_000;

/** Notices read from the outbox per group per round: bounds memory, not throughput. */
export const OUTBOX_BATCH_NOTICES_MAX = 64;
/** Groups looked at per drain round: all of them (a group has at least one storage node). */
export const OUTBOX_GROUPS_PER_ROUND_MAX = STORAGE_NODES_MAX;
/** Poll interval of the outbox loop when nothing kicks it (a safety net, not the fast path). */
export const OUTBOX_POLL_INTERVAL_MS = 1_000;
/** First retry delay after a storage group failed to take a notice; doubles per failure. */
export const OUTBOX_RETRY_DELAY_MS_MIN = 100;
/** Retries never wait longer than this, so a group that comes back is served within it. */
export const OUTBOX_RETRY_DELAY_MS_MAX = 10_000;
/** Wait for a storage primary to answer one notice. */
export const OUTBOX_CALL_TIMEOUT_MS = 5_000;
/** On shutdown, wait at most this long for notices already on the wire. */
export const SHUTDOWN_FLUSH_TIMEOUT_MS = 2_000;

/** Directory nodes in a directory group (Raft quorum sizes the contract allows). */
export const DIRECTORY_GROUP_SIZES = [1, 3, 5] as const;

/**
 * One Raft tick. With the core's defaults (election 10 ticks, heartbeat 2) the fallback
 * election timeout is 1-2 s and the primary heartbeats every 200 ms; suspicion (a dead TCP
 * link to the primary, or gossip) starts an election well before the timeout.
 */
export const RAFT_TICK_MS = 100;
/** Raft's timing in ticks for the directory group. */
export const RAFT_ELECTION_TICKS = 10;
export const RAFT_HEARTBEAT_TICKS = 2;
/**
 * Backups that suspect the primary together wait a random delay up to this before campaigning,
 * so one usually asks first and wins, rather than both splitting the vote.
 */
export const RAFT_SUSPECT_JITTER_MS_MAX = 150;
/** A linearizable read waits at most this for its heartbeat round and apply; then UNAVAILABLE. */
export const RAFT_READ_TIMEOUT_MS = 3_000;
/** A proposal waits at most this for its commit; then UNAVAILABLE (the client retries). */
export const RAFT_PROPOSAL_TIMEOUT_MS = 10_000;
/** The log is folded into a snapshot once this many applied entries follow the last one. */
export const RAFT_COMPACT_EVERY_ENTRIES = 50_000;
/**
 * While a live member is catching up (fetching a snapshot image, checking it, or replaying the
 * log after it), the primary keeps its log: a fold now would drop the entries that member
 * needs and send it a newer image, which on a large directory under load it may never finish
 * either. Up to this many applied entries (the log is held in memory), so a member that never
 * finishes cannot grow it without end.
 */
export const RAFT_COMPACT_HELD_ENTRIES_MAX = 5 * RAFT_COMPACT_EVERY_ENTRIES;
/**
 * A follower catching up (far behind its leader's commit) holds its own fold back up to this
 * many applied entries: a fold competes with the replay, but the held entries are in memory,
 * and at 10,000,000 files a new member holding RAFT_COMPACT_HELD_ENTRIES_MAX peaked at 585 MiB
 * (the aim is under 512 MiB; folding every RAFT_COMPACT_EVERY_ENTRIES, 359 MiB).
 */
export const RAFT_COMPACT_BEHIND_HELD_ENTRIES_MAX = 2 * RAFT_COMPACT_EVERY_ENTRIES;
/** A live member whose log matches ours less than this far back is keeping up, not catching up. */
export const RAFT_COMPACT_LAG_SLACK_ENTRIES = 1_024;
/** A member heard from within this many ticks is live (its lag holds the fold back). */
export const RAFT_COMPACT_LIVE_TICKS = 50;
/** Messages queued for one unreachable peer; past it new ones are dropped (Raft resends). */
export const RAFT_PEER_QUEUE_MESSAGES_MAX = 4_096;
/** Wait for a TCP connection to a peer directory node. */
export const RAFT_CONNECT_TIMEOUT_MS = 1_000;
/** Wait for a peer's receipt of one Raft message before counting the link broken. */
export const RAFT_SEND_TIMEOUT_MS = 5_000;
/** How often a forming group looks at gossip for the members `--expect` asks for. */
export const MEMBERS_POLL_INTERVAL_MS = 100;

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/**
 * Bytes per second a rebalance run copies (`--rebalance-rate`). Every byte is read from the
 * source group, passes through the directory primary and is written to each replica of the
 * target, all of which keep serving clients meanwhile. HDFS's balancer moves up to 100 MB/s
 * per datanode; ours all funnel through one process, so about two thirds of that.
 */
export const REBALANCE_BYTES_PER_SECOND_DEFAULT = 64 * MIB;
/** Least rate the flag takes: slower, a single run of its budget would last days. */
export const REBALANCE_BYTES_PER_SECOND_MIN = MIB;
/**
 * Bytes one run moves at most, as HDFS's balancer bounds an iteration (10 GB): under three
 * minutes at the default rate, after which a new run starts from fresh heartbeats.
 */
export const REBALANCE_RUN_BYTES_MAX = 10 * GIB;
/** Default spread between the fullest and emptiest group's used share: HDFS's 10%. */
export const REBALANCE_THRESHOLD_BASIS_POINTS_DEFAULT = 1_000;
/** Versions read per step of a run's walk over the metadata: bounds memory, not the run. */
export const REBALANCE_SCAN_PAGE_VERSIONS = 256;
/**
 * Chunks of one version copied at once: enough to hide a copy's round trips and the target's
 * fsyncs, few enough that the directory holds at most this many chunks (16 MiB each at most).
 */
export const REBALANCE_CHUNKS_IN_FLIGHT = 4;
/** Wait for one chunk of up to CHUNK_BYTES_MAX to come from, or go to, a storage node. */
export const REBALANCE_CALL_TIMEOUT_MS = 10_000;
/** Tries to put one chunk in the target while its primary fails over; then the version waits. */
export const REBALANCE_PUT_ATTEMPTS_MAX = 5;
/** Pause between two tries of a put: about what a storage failover takes to show. */
export const REBALANCE_RETRY_DELAY_MS = 200;
/** Versions in a row that could not be copied before a run gives up (a group down or full). */
export const REBALANCE_FAILED_VERSIONS_IN_A_ROW_MAX = 5;

/**
 * How long an upload may take from placement to commit (`--upload-deadline`). Past it the
 * directory may sweep the upload (it can never commit) and storage may collect its chunks.
 * Long, so a laptop closed for a night mid-upload still commits; the cost is how long an
 * abandoned upload's chunks wait to be collected.
 */
export const UPLOAD_DEADLINE_MS_DEFAULT = 24 * 60 * 60_000;
/** The shortest deadline the flag takes: tests use seconds; less would sweep healthy uploads. */
export const UPLOAD_DEADLINE_MS_MIN = 1_000;
/**
 * A swept upload is remembered this long past its deadline, so a commit of it is refused by
 * the record, not only by comparing clocks. Past it, the deadline check alone refuses (a
 * directory node whose clock is a week slow is broken in worse ways).
 */
export const SWEPT_UPLOADS_KEPT_MS = 7 * 24 * 60 * 60_000;
/** Swept-upload records forgotten per sweep command: bounds one log entry's work. */
export const SWEPT_UPLOADS_PRUNED_PER_COMMAND_MAX = 1_000;

/**
 * Versions a name keeps by default (`--keep-versions`): the newest and two before it, so an
 * overwrite by mistake can be undone (`ftfs r name --version N`) while a file rewritten often
 * takes at most three times its size. Quotas count every kept version.
 */
export const KEEP_VERSIONS_DEFAULT = 3;
/** The most versions a name may keep: bounds one commit's pruning and a name's history. */
export const KEEP_VERSIONS_MAX = 1_000;

/**
 * How often the primary looks for multipart uploads past their lifetime (S3's clients abandon
 * uploads; their parts would hold space and quota forever).
 */
export const MULTIPART_EXPIRY_INTERVAL_MS = 60_000;
/** Expired multipart uploads aborted per command: bounds one log entry's work. */
export const MULTIPART_EXPIRED_PER_COMMAND_MAX = 64;

/** Access keys resealed per command during a key rotation: bounds one log entry. */
export const ACCESS_KEYS_RESEALED_PER_COMMAND_MAX = 256;
/**
 * How often the primary looks for access keys sealed under a cluster key that no longer signs
 * (a rotation in progress); also once as it becomes primary. SECURITY.md's rotation steps wait
 * this long before dropping the old key.
 */
export const ACCESS_KEY_RESEAL_INTERVAL_MS = 10_000;

/**
 * A learner directory node is promoted to voter once its log is within this many entries of
 * the primary's commit index (a few batches: it keeps up with the live traffic)...
 */
export const DIRECTORY_PROMOTE_LAG_ENTRIES_MAX = 256;
/** ...and has stayed that close for this long (not a lucky moment between bursts). */
export const DIRECTORY_PROMOTE_STABLE_MS = 2_000;
/** How often a directory primary looks for learners to promote. */
export const DIRECTORY_MEMBERSHIP_CHECK_INTERVAL_MS = 500;

/** How long a forming node waits for a peer to say which data folder it runs on. */
export const IDENTITY_CALL_TIMEOUT_MS = 1_000;
