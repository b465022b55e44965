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

/**
 * Reference changes one group-commit round holds at most (io/group-commit.ts). A round's
 * transaction holds the event loop while it runs; a few hundred inserts take about a
 * millisecond, the fsync they share dominates, and changes past this wait for the next round.
 */
export const REFS_ROUND_CHANGES_MAX = 512;

/** Wait for one registerStorage answer; longer than this and the next directory is tried. */
export const HEARTBEAT_CALL_TIMEOUT_MS = 1_000;
/** Wait to open a connection to a directory node. */
export const HEARTBEAT_CONNECT_TIMEOUT_MS = 500;
/** Least time between heartbeat rounds that requests asked for early (a view seemed stale). */
export const HEARTBEAT_REFRESH_GAP_MS_MIN = 50;
/** NOT_PRIMARY hints followed in one heartbeat round; bounds a ping-pong between stale nodes. */
export const HEARTBEAT_HINT_FOLLOWS_MAX = 2;
/**
 * Rounds a directory node that is alive but busy (no quorum yet, overloaded) stays the first
 * one asked: it is most likely still the primary, but may have been deposed.
 */
export const HEARTBEAT_BUSY_RETRIES_MAX = 3;

/**
 * Chunks a released spare removes at once: their tombstones share segment fsyncs, and the
 * count bounds what one batch holds in memory.
 */
export const RELEASE_REMOVALS_IN_FLIGHT = 256;

/** On SIGTERM, how long in-flight requests may take to finish before the node exits anyway. */
export const STOP_DRAIN_TIMEOUT_MS = 5_000;

/** A learner checks this often whether it has catching up to do (cheap when it has none). */
export const CATCH_UP_CHECK_INTERVAL_MS = 250;
/**
 * Chunks a learner copies at once, across pages of references (core/catch-up-window.ts). Each
 * costs a round trip to the primary and an fsync here, which a loaded disk takes tens of ms
 * over: with 4 the copy of small chunks was bound by that latency, not by the rate limit
 * (22.6 MiB/s against 64). Concurrent fsyncs of a filesystem share its journal commits, so
 * more in flight costs the disk less than one each. The rate limit, not this, is what keeps
 * the primary's disk for clients.
 */
export const CATCH_UP_CHUNKS_IN_FLIGHT = 16;
/**
 * Bytes of chunks a learner holds in flight at most: bounds its memory whatever the chunk size
 * (16 chunks of CHUNK_BYTES_MAX would be 256 MiB); a chunk larger than this goes alone.
 */
export const CATCH_UP_BYTES_IN_FLIGHT_MAX = 32 * 1024 * 1024;
/** Wait for one catch-up call (a page of references, or one chunk) from the primary. */
export const CATCH_UP_CALL_TIMEOUT_MS = 10_000;
/**
 * A replica a learner fetches a chunk from that says nothing for this long gets company (the
 * next replica is asked too): a paused or dead backup costs the copy a second, not the call
 * timeout. A working one streaming a large chunk is heard from, so it is not doubled.
 */
export const CATCH_UP_HEDGE_MS = 1_000;
/**
 * Bytes per second a learner copies from its primary (a spare filling up, a node back from a
 * long outage). Each byte costs a read on the primary and a write here: a disk streams a few
 * hundred MiB/s, so a quarter of a slow one leaves clients most of both disks, and a node of
 * 1 TiB is still restored in under five hours.
 */
export const CATCH_UP_BYTES_PER_SECOND_DEFAULT = 64 * 1024 * 1024;
/**
 * Least catch-up rate `--catch-up-rate` takes: slower and a group stays under-replicated for
 * weeks (1 TiB at 1 MiB/s is 12 days), which is a misconfiguration, not a choice.
 */
export const CATCH_UP_BYTES_PER_SECOND_MIN = 1024 * 1024;

// ---- background maintenance: scrubber, repair, garbage collection ----

const KIB = 1024;
const MIB = 1024 * KIB;
const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Bytes per second the scrubber may read and hash. A disk streams a few hundred MiB/s; a tenth
 * of that keeps most of it for clients while a TiB is still checked in about nine hours.
 */
export const SCRUB_BYTES_PER_SECOND_DEFAULT = 32 * MIB;
/**
 * Least cost charged per scrubbed chunk: every chunk costs an open, a stat and a close whatever
 * its size, so a store of tiny chunks must not be scrubbed at thousands of files a second.
 */
export const SCRUB_CHUNK_COST_BYTES_MIN = 64 * KIB;
/**
 * Rest between two scrub passes. The rate bound is what protects clients; the rest only keeps
 * a small, idle node from hashing its few chunks over and over (Swift's auditor waits 30 min).
 */
export const SCRUB_PASS_PAUSE_MS_DEFAULT = 10 * MINUTE_MS;
/** Chunk ids read from the references per step of the missing-chunk sweep (one SQL page). */
export const SCRUB_SWEEP_PAGE_ROWS = 1_000;
/** Chunks waiting for repair; past it a request is dropped (the next scrub pass finds it). */
export const REPAIR_QUEUE_MAX = 1_024;
/** Wait for one replica to send a chunk of up to CHUNK_BYTES_MAX over loopback or a LAN. */
export const REPAIR_FETCH_TIMEOUT_MS = 10_000;
/** Wait to open a connection to a replica to repair from. */
export const REPAIR_CONNECT_TIMEOUT_MS = 1_000;

/**
 * How long a chunk no committed reference names waits before garbage collection asks the
 * directory whether it may go. A delay, never the judgement: the directory decides (an upload
 * runs until its deadline, `--upload-deadline` on the directory, whatever this says). Short
 * graces mean more questions; an hour keeps them rare.
 */
export const GC_GRACE_MS_DEFAULT = HOUR_MS;
/** Least grace: below it a node would ask about chunks its own puts are still writing. */
export const GC_GRACE_MS_MIN = SECOND_MS;
/** GC passes per grace period: garbage lingers at most a quarter grace past its confirmation. */
export const GC_PASSES_PER_GRACE = 4;
/**
 * One pass in this many also asks about chunks with committed references (an audit): a
 * reference left behind by a notice delivered out of order is then found within a grace.
 */
export const GC_AUDIT_EVERY_PASSES = GC_PASSES_PER_GRACE;
/** Bounds on the time between GC passes, whatever the grace. */
export const GC_INTERVAL_MS_MIN = 100;
export const GC_INTERVAL_MS_MAX = 10 * MINUTE_MS;
/** Chunks checked against the references per second (an indexed SQLite lookup each). */
export const GC_CHECKS_PER_SECOND_MAX = 5_000;
/** Chunk files deleted per second: each is an unlink plus an fsync of its folder. */
export const GC_DELETES_PER_SECOND_MAX = 100;
/** Wait for the directory primary's answer to one page of candidates. */
export const GC_CONFIRM_TIMEOUT_MS = 10_000;
/**
 * Puts remembered in memory (chunk id → when) so a chunk deduplicated by a put is not
 * collected before the put's reference is recorded. Past it the oldest goes: its put finished
 * recording long ago (that takes microseconds), so only the grace rule is lost for it.
 */
export const RECENT_PUTS_MAX = 100_000;
