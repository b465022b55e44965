/**
 * Upload ids carry their deadline. The directory makes an id at placement; whoever holds only
 * the id (a storage node's pending reference, a commit) can tell when the upload stops being
 * allowed to commit, without a lookup. After the deadline the directory may declare the upload
 * swept (see apps/directory/src/core/garbage-rules.ts); a swept upload never commits, so its
 * chunks may go. The deadline is a bound on how long garbage can wait, never what decides that
 * a chunk is garbage: that is the directory's replicated state.
 */

const DEADLINE_PREFIX = "d";
const DEADLINE_SEPARATOR = ".";
const DEADLINE_RADIX = 36;
/** Deadlines fit in 11 base-36 digits until the year 5188; more is not a deadline we made. */
const DEADLINE_DIGITS_MAX = 11;
const DEADLINE_PATTERN = /^d([0-9a-z]{1,11})\./;

/** An upload id with `deadlineMs` in front of a unique part (the directory's random id). */
export function uploadIdWithDeadline(deadlineMs: number, unique: string): string {
  const digits = Math.max(0, Math.floor(deadlineMs)).toString(DEADLINE_RADIX);
  if (digits.length > DEADLINE_DIGITS_MAX) throw new RangeError(`deadline ${deadlineMs} too far`);
  return `${DEADLINE_PREFIX}${digits}${DEADLINE_SEPARATOR}${unique}`;
}

/**
 * When the upload stops being allowed to commit (wall-clock ms); null for an id without a
 * deadline (made before ids carried one, or by hand). Such an upload has no deadline to hold
 * its commit to, and is never waited for by garbage collection: see uploadSweepableAfterMs.
 */
export function uploadDeadlineMs(uploadId: string): number | null {
  const match = DEADLINE_PATTERN.exec(uploadId);
  if (match === null) return null;
  return Number.parseInt(match[1] ?? "0", DEADLINE_RADIX);
}

/** From when an unfinished upload may be swept: its deadline, or at once if it has none. */
export function uploadSweepableAfterMs(uploadId: string): number {
  return uploadDeadlineMs(uploadId) ?? 0;
}
