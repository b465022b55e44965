/**
 * The retry loop every client operation runs in: retryable FtfsErrors (failover, a paused
 * node, a full queue) are retried with capped exponential backoff and jitter until a deadline
 * counted from the first failure; anything else is thrown at once. Owns the clock and sleeps;
 * the delays themselves come from the pure core/backoff.ts.
 */

import { backoffDelayMs, FtfsError } from "@ftfs/protocol/core";
import { CLIENT_RETRY_DELAY_MS_BASE, CLIENT_RETRY_DELAY_MS_MAX } from "../core/limits.ts";

/** One retry about to happen: for debugging (FTFS_DEBUG) and for the bench's counters. */
export interface RetryEvent {
  /** What is being retried: an op name, with its target where there is one. */
  readonly what: string;
  readonly attempt: number;
  readonly error: FtfsError;
  readonly delayMs: number;
}

export type RetryObserver = (event: RetryEvent) => void;

export interface RetryPolicy {
  readonly what: string;
  readonly observer?: RetryObserver | undefined;
  /** Give up once this long has passed since the first failure; read on every failure. */
  readonly deadlineMs: () => number;
  /** Stop retrying (and throw the last error) once aborted: a sibling already failed. */
  readonly signal?: AbortSignal;
  /** Called before sleeping, e.g. to refresh a stale view. Its own errors are ignored. */
  readonly onRetry?: (error: FtfsError, attempt: number) => Promise<void> | void;
  /** The error to throw when the deadline passes, from the last one seen. */
  readonly onGiveUp?: (error: FtfsError) => FtfsError;
  /** Immediate retries (no sleep) allowed for this error, e.g. following a primary hint. */
  readonly skipSleep?: (error: FtfsError) => boolean;
}

export function isRetryableError(error: unknown): error is FtfsError {
  return error instanceof FtfsError && error.retryable;
}

export async function withRetry<T>(
  attempt: (attemptIndex: number) => Promise<T>,
  policy: RetryPolicy,
): Promise<T> {
  let firstFailureMs: number | null = null;
  let sleeps = 0;
  for (let attemptIndex = 0; ; attemptIndex += 1) {
    try {
      return await attempt(attemptIndex);
    } catch (error) {
      if (!isRetryableError(error)) throw error;
      const nowMs = Date.now();
      firstFailureMs ??= nowMs;
      if (policy.signal?.aborted === true) throw error;
      const delayMs =
        policy.skipSleep?.(error) === true ? 0 : retryDelayMs(error, sleeps, Math.random());
      if (nowMs + delayMs - firstFailureMs > policy.deadlineMs()) {
        throw policy.onGiveUp === undefined ? error : policy.onGiveUp(error);
      }
      policy.observer?.({ what: policy.what, attempt: attemptIndex, error, delayMs });
      await runHook(policy, error, attemptIndex);
      if (delayMs > 0) {
        sleeps += 1;
        await Bun.sleep(delayMs);
      }
    }
  }
}

async function runHook(policy: RetryPolicy, error: FtfsError, attemptIndex: number): Promise<void> {
  try {
    await policy.onRetry?.(error, attemptIndex);
  } catch {
    // A failed refresh is one more failure the next attempt will meet and report; the retry
    // loop itself must not die of it.
  }
}

/** Backoff, but never sooner than a rate limit's retry-after: earlier would be refused again. */
export function retryDelayMs(error: FtfsError, sleeps: number, random01: number): number {
  const backoffMs = backoffDelayMs(
    sleeps,
    random01,
    CLIENT_RETRY_DELAY_MS_BASE,
    CLIENT_RETRY_DELAY_MS_MAX,
  );
  const retryAfterMs = error.code === "RATE_LIMITED" ? (error.hint?.retryAfterMs ?? 0) : 0;
  return Math.max(backoffMs, retryAfterMs);
}
