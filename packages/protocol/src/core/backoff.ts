/**
 * Capped exponential backoff with jitter, as a pure function: the caller passes the attempt
 * number and a random draw, so tests pin every delay and the I/O loop owns the clock. The
 * client's retries and the directory's outbox both wait by it, with their own bounds.
 */

/**
 * "Equal jitter": half the exponential delay is fixed, half random. The fixed half keeps a
 * client from hammering a recovering node; the random half keeps a hundred clients that failed
 * together from retrying together.
 */
export function backoffDelayMs(
  attempt: number,
  random01: number,
  baseMs: number,
  maxMs: number,
): number {
  const exponent = Math.min(Math.max(0, attempt), 30); // 2^30 already exceeds any cap
  const ceilingMs = Math.min(maxMs, baseMs * 2 ** exponent);
  const jitter = Math.min(Math.max(random01, 0), 1);
  return Math.round(ceilingMs / 2 + (ceilingMs / 2) * jitter);
}
