/**
 * The storage node's own bounds and timings, each with its reason. Wire-level limits live in
 * @ftfs/protocol/core (limits.ts); this file holds only what the storage node alone decides.
 */

import { REQUEST_TIMEOUT_MS_DEFAULT, STORAGE_HEARTBEAT_TIMEOUT_MS } from "@ftfs/protocol/core";

/**
 * How long a primary may take writes after the send time of its last answered heartbeat. The
 * directory counts a node silent for STORAGE_HEARTBEAT_TIMEOUT_MS (measured from when it
 * *received* the heartbeat) as gone and may promote another; stopping at 4/5 of that, counted
 * from when we *sent* it, leaves a margin for clock-rate drift, so two primaries never both
 * accept writes.
 */
export const PRIMARY_LEASE_MS = (STORAGE_HEARTBEAT_TIMEOUT_MS * 4) / 5;

/**
 * Wait for a backup to store a forwarded chunk (loopback transfer plus fsync of up to
 * CHUNK_BYTES_MAX). Kept well under the client's request timeout, so the client hears our
 * UNAVAILABLE instead of timing out itself.
 */
export const FORWARD_TIMEOUT_MS = REQUEST_TIMEOUT_MS_DEFAULT / 3;
/** Wait to open a connection to a backup; loopback or LAN, so a dead peer is known quickly. */
export const FORWARD_CONNECT_TIMEOUT_MS = 1_000;

/** Wait for one registerStorage answer; longer than this and the next directory is tried. */
export const HEARTBEAT_CALL_TIMEOUT_MS = 1_000;
/** Wait to open a connection to a directory node. */
export const HEARTBEAT_CONNECT_TIMEOUT_MS = 500;
/** Least time between heartbeat rounds that requests asked for early (a view seemed stale). */
export const HEARTBEAT_REFRESH_GAP_MS_MIN = 50;
/** NOT_PRIMARY hints followed in one heartbeat round; bounds a ping-pong between stale nodes. */
export const HEARTBEAT_HINT_FOLLOWS_MAX = 2;

/** On SIGTERM, how long in-flight requests may take to finish before the node exits anyway. */
export const STOP_DRAIN_TIMEOUT_MS = 5_000;

/** A learner checks this often whether it has catching up to do (cheap when it has none). */
export const CATCH_UP_CHECK_INTERVAL_MS = 250;
/**
 * Chunks a learner copies at once: a few in flight keep the link busy without taking the
 * primary's disk from clients (each chunk is read once from the primary and written once).
 */
export const CATCH_UP_CHUNKS_IN_FLIGHT = 4;
/** Wait for one catch-up call (a page of references, or one chunk) from the primary. */
export const CATCH_UP_CALL_TIMEOUT_MS = 10_000;
