/**
 * Every bound and timing of the client, in one place, each with its reason. The wire limits
 * (chunk sizes, name lengths, chunks in flight) live in @ftfs/protocol; these are the client's
 * own policy: how long it retries, how long it waits for one answer, how often it redraws.
 */

/**
 * How long one operation keeps retrying retryable errors (failover, a paused node, a full
 * queue), counted from its first failure. Long enough to ride out a primary's detection
 * (STORAGE_HEARTBEAT_TIMEOUT_MS) plus an election; short enough that a dead cluster is reported.
 */
export const CLIENT_RETRY_DEADLINE_MS = 20_000;

/**
 * How long a client that has never had an answer from any directory address keeps trying
 * before it reports the cluster unreachable. A typo in `--cluster` should not cost 20 s.
 */
export const CLIENT_FIRST_CONTACT_DEADLINE_MS = 4_000;

/** First backoff delay; doubled per attempt up to the cap, then jittered. */
export const CLIENT_RETRY_DELAY_MS_BASE = 50;
/**
 * Backoff cap: a client never sleeps longer than this between two attempts. A directory or
 * storage failover takes 0.1-1.5 s; a longer cap would add most of a second after it ends.
 */
export const CLIENT_RETRY_DELAY_MS_MAX = 400;

/**
 * Wait for one directory answer. Metadata answers are small; a directory that is silent this
 * long is paused or partitioned, and the next address should be tried.
 */
export const CLIENT_DIRECTORY_TIMEOUT_MS = 5_000;

/**
 * Wait for one chunk put or get: a 16 MiB chunk replicated three times with fsyncs, on a busy
 * machine, fits; a paused primary does not hold the upload much longer than this.
 */
export const CLIENT_CHUNK_TIMEOUT_MS = 10_000;

/**
 * A chunk request quiet this long gets a second one (another replica for a read, another
 * group for a write). A healthy put of a 4 MiB chunk with three fsyncs takes tens of ms; the
 * 100-client churn bench's p99 was about 1.2 s; a paused node answers nothing until resumed.
 */
export const CLIENT_CHUNK_HEDGE_MS = 1_000;

/**
 * Times an upload starts over from its placement when it ran past its deadline (a client
 * paused for longer than the directory's `--upload-deadline`): once is what a woken laptop
 * needs; more would mean the deadline is shorter than the upload itself takes.
 */
export const CLIENT_UPLOAD_RESTARTS_MAX = 2;

/** NOT_PRIMARY redirects followed in a row before backing off: bounds a redirect loop. */
export const CLIENT_PRIMARY_REDIRECTS_MAX = 4;

/**
 * Retries of a directory node that is alive but answers "busy" or "unavailable" before the
 * client tries another address: it is probably still the primary, but may have been deposed.
 */
export const CLIENT_SAME_NODE_RETRIES_MAX = 3;

/**
 * The CLI asks for a garbage collection after each this many bytes moved. A transfer's chunk
 * payloads become garbage as soon as they are written out, but the collector lets a few
 * hundred MiB of them pile up before it runs; one collection per 32 MiB (about 10 ms) holds a
 * 1 GiB read to about half the memory for a few percent of its time. Off (0) in the library
 * by default: a process running many clients (the bench) must not collect that often.
 */
export const CLI_GC_INTERVAL_BYTES = 32 * 1024 * 1024;

/**
 * How often `ftfs rebalance` asks for its run's progress. A run lasts seconds to minutes; twice
 * a second shows progress promptly and costs the directory nothing.
 */
export const CLIENT_REBALANCE_POLL_INTERVAL_MS = 500;
/**
 * A server-side copy's upload id carries a deadline this far ahead: the copy commits in one
 * directory command, so an hour is slack for any failover (and for clocks that differ).
 */
export const COPY_DEADLINE_MS = 60 * 60_000;

/**
 * A journal's upload is resumed only while its deadline is at least this far off: nearer, the
 * commit would likely come too late and be refused, and every chunk would go again anyway.
 */
export const CLIENT_RESUME_DEADLINE_MARGIN_MS = 60_000;
