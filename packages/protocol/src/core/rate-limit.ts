/**
 * Request rate limits: one token bucket per principal per node, sans I/O (the caller passes
 * the time). A bucket holds up to `burst` requests and refills at `perSecond`; a request that
 * finds it empty is refused with the time until one token is back, which the server sends as
 * RATE_LIMITED's retry-after hint. The table of buckets is bounded; see RateLimiter.
 */

import { assert } from "./assert.ts";

/**
 * Requests per second one user (or one anonymous connection) may make of one node, sustained.
 * A person's CLI makes a few per file; a script uploading small files makes a few hundred.
 * Storage nodes count one request per 4 MiB chunk, so this is also ~8 GiB/s of chunk writes.
 */
export const RATE_LIMIT_PER_SECOND_DEFAULT = 2_000;
/** A burst after a quiet spell: one second's worth at the sustained rate. */
export const RATE_LIMIT_BURST_DEFAULT = 2_000;
/**
 * Principals tracked per node. When full, the least recently seen bucket goes: it has been
 * refilling the longest, so forgetting it (as if full) grants the least that was not due.
 */
export const RATE_LIMIT_PRINCIPALS_MAX = 10_000;
const MS_PER_SECOND = 1000;

export interface RateLimitConfig {
  readonly perSecond: number;
  readonly burst: number;
}

export type RateVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly retryAfterMs: number };

/** One bucket: `tokens` as of `atMs`. */
export class TokenBucket {
  private tokens: number;
  private atMs: number;
  private readonly config: RateLimitConfig;

  constructor(config: RateLimitConfig, nowMs: number) {
    assert(config.perSecond > 0 && config.burst >= 1, "a rate limit needs a rate and a burst");
    this.config = config;
    this.tokens = config.burst;
    this.atMs = nowMs;
  }

  take(nowMs: number): RateVerdict {
    // A clock that steps back refills nothing and takes nothing away.
    const elapsedMs = Math.max(0, nowMs - this.atMs);
    this.tokens = Math.min(
      this.config.burst,
      this.tokens + (elapsedMs * this.config.perSecond) / MS_PER_SECOND,
    );
    this.atMs = Math.max(this.atMs, nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    const missing = 1 - this.tokens;
    return {
      ok: false,
      retryAfterMs: Math.ceil((missing * MS_PER_SECOND) / this.config.perSecond),
    };
  }
}

/** Buckets by principal key, at most RATE_LIMIT_PRINCIPALS_MAX of them (least recent goes). */
export class RateLimiter {
  private readonly config: RateLimitConfig;
  private readonly principalsMax: number;
  /** Map order is recency order: a bucket is re-inserted at each use. */
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(config: RateLimitConfig, principalsMax = RATE_LIMIT_PRINCIPALS_MAX) {
    this.config = config;
    this.principalsMax = principalsMax;
  }

  admit(principal: string, nowMs: number): RateVerdict {
    let bucket = this.buckets.get(principal);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.config, nowMs);
      if (this.buckets.size >= this.principalsMax) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
    } else {
      this.buckets.delete(principal);
    }
    this.buckets.set(principal, bucket);
    return bucket.take(nowMs);
  }

  get tracked(): number {
    return this.buckets.size;
  }
}
