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
 * The directory's term before elections exist. Every node starts in term 1 as its own primary;
 * Raft will take over this number.
 */
export const INITIAL_TERM = 1;
