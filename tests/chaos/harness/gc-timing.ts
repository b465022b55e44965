/**
 * The garbage-collection settings every chaos cluster runs with (grace, upload deadline, keep
 * policy), and the fault lengths derived from them, in one place. Pure: the cluster (flags),
 * the schedule (fault lengths), the checker and the final checks (how long to wait for GC) all
 * read these.
 *
 * Production runs a 1 h grace and a 24 h upload deadline, so GC there rarely meets live data.
 * Here both are seconds: storage asks the directory about chunks every half second, and
 * uploads a client leaves unfinished are swept while the workload is still writing, so GC runs
 * constantly on live data and must never delete anything acknowledged.
 */

const SECOND_MS = 1_000;

/** Storage `--gc-grace` (FTFS_GC_GRACE): a chunk unreferenced this long is asked about. */
export const CHAOS_GC_GRACE_MS = 2 * SECOND_MS;
/**
 * Directory `--upload-deadline` (FTFS_UPLOAD_DEADLINE). A workload upload (at most 256 KiB)
 * takes tens of ms, but one that meets a storage failover retries for up to the client's
 * 20 s retry deadline: such uploads are swept and refused (UPLOAD_EXPIRED) and the client
 * starts them over, which is part of what this exercises. 8 s fits the CLI's paused upload
 * (PAUSED_UPLOAD_BYTES) re-sent whole on a loaded 2-core machine.
 */
export const CHAOS_UPLOAD_DEADLINE_MS = 8 * SECOND_MS;

/** Durations as the nodes' duration flags read them. */
export function durationFlag(ms: number): string {
  return `${ms / SECOND_MS}s`;
}

/**
 * A paused client sleeps at least this long: past its upload's deadline, then a grace and a
 * GC interval more for storage to ask and the directory to sweep the upload and confirm its
 * chunks as garbage, with a margin for a loaded machine. (The nemesis also waits until storage
 * lists none of the upload's chunks before it wakes the client, bounded separately.)
 */
export const PAUSE_CLIENT_S_MIN =
  (CHAOS_UPLOAD_DEADLINE_MS + 2 * CHAOS_GC_GRACE_MS) / SECOND_MS + 2;

/**
 * How far a clock jump moves one storage node's wall clock forward: far past both the grace
 * and the upload deadline, so every chunk file on it looks old enough to ask about, and every
 * placement ticket it is shown looks expired (it refuses those puts: UPLOAD_EXPIRED).
 */
export const CLOCK_JUMP_S = 3_600;

/**
 * Directory `--keep-versions` (FTFS_KEEP_VERSIONS): a commit prunes the name's versions past the
 * newest this many, so GC frees old versions of live names while they are written, not only
 * deleted names. The checker (checker.ts) holds the cluster to exactly this number.
 */
export const CHAOS_KEEP_VERSIONS = 3;

/**
 * After the load stops: GC passes every storage node must complete once the last upload's
 * deadline and a grace have passed, before the final read-back and the disk check. Two audit
 * passes (one in 4, GC_AUDIT_EVERY_PASSES) plus the one in progress when counting starts.
 */
export const GC_PASSES_AFTER_LOAD = 9;
