/**
 * The token bucket admits a burst, then the sustained rate, and tells a refused caller how
 * long until a request would be admitted; the limiter keeps principals apart and bounded.
 */
import { describe, expect, test } from "bun:test";
import { RateLimiter, TokenBucket } from "./rate-limit.ts";

describe("token bucket", () => {
  test("admits the burst, refuses the next with the time one token takes, refills", () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)].every((v) => v.ok)).toBe(true);
    expect(bucket.take(0)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(bucket.take(40)).toEqual({ ok: false, retryAfterMs: 60 });
    expect(bucket.take(100).ok).toBe(true);
    expect(bucket.take(100).ok).toBe(false);
  });

  test("never holds more than the burst, and a clock stepping back refills nothing", () => {
    const bucket = new TokenBucket({ perSecond: 1000, burst: 2 }, 0);
    expect(bucket.take(60_000).ok && bucket.take(60_000).ok).toBe(true);
    expect(bucket.take(60_000).ok).toBe(false);
    expect(bucket.take(1_000).ok).toBe(false);
  });

  test("sustained use is held to the rate", () => {
    const bucket = new TokenBucket({ perSecond: 50, burst: 5 }, 0);
    let admitted = 0;
    for (let ms = 0; ms < 10_000; ms += 1) if (bucket.take(ms).ok) admitted += 1;
    expect(admitted).toBeGreaterThanOrEqual(500);
    expect(admitted).toBeLessThanOrEqual(505);
  });
});

describe("rate limiter", () => {
  test("principals have separate buckets", () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 });
    expect(limiter.admit("user:alice", 0).ok).toBe(true);
    expect(limiter.admit("user:alice", 0).ok).toBe(false);
    expect(limiter.admit("user:bob", 0).ok).toBe(true);
  });

  test("the table stays bounded; the least recently seen principal is forgotten", () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 2);
    limiter.admit("a", 0);
    limiter.admit("b", 0);
    limiter.admit("a", 0); // a is now the most recent
    limiter.admit("c", 0);
    expect(limiter.tracked).toBe(2);
    expect(limiter.admit("a", 0).ok).toBe(false); // a was kept, still empty
    expect(limiter.admit("b", 0).ok).toBe(true); // b was forgotten: a fresh bucket
  });
});
