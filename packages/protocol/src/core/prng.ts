/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded through splitmix32) for cores and
 * the simulator. It owns determinism: the same seed yields the same stream on every run and
 * every platform, because it uses only 32-bit integer math (`Math.imul`, `>>>`). It is not
 * cryptographic and must never be used for keys or tokens.
 */

import { assert } from "./assert.ts";

const UINT32_RANGE = 0x1_0000_0000;

/** The interface cores depend on, so a test may pass a scripted source instead. */
export interface Random {
  /** A uniform integer in 0..2^32-1. */
  nextUint32(): number;
  /** A uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number;
  /** A uniform integer in 0..n-1, without modulo bias. `n` must be a positive safe integer. */
  intBelow(n: number): number;
  /** True with probability `p` (0 never, 1 always). */
  chance(p: number): boolean;
  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
}

/** splitmix32: spreads a small seed over the whole state, so seeds 1, 2, 3 are unrelated. */
function splitmix32(state: { value: number }): number {
  state.value = (state.value + 0x9e3779b9) >>> 0;
  let z = state.value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Prng implements Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any safe integer; its low and high 32-bit halves both feed the state. */
  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `prng seed must be a safe integer, got ${seed}`);
    const low = seed >>> 0;
    const high = Math.floor(Math.abs(seed) / UINT32_RANGE) >>> 0;
    const mixer = { value: (low ^ Math.imul(high, 0x27d4eb2f)) >>> 0 };
    this.s0 = splitmix32(mixer);
    this.s1 = splitmix32(mixer);
    this.s2 = splitmix32(mixer);
    this.s3 = splitmix32(mixer);
    // xoshiro's one forbidden state is all zeros; splitmix32 cannot produce four zeros in a row,
    // but the check costs nothing and documents the invariant.
    assert((this.s0 | this.s1 | this.s2 | this.s3) !== 0, "prng state must not be all zeros");
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  nextFloat(): number {
    return this.nextUint32() / UINT32_RANGE;
  }

  intBelow(n: number): number {
    assert(Number.isSafeInteger(n) && n > 0, `intBelow needs a positive integer, got ${n}`);
    if (n <= UINT32_RANGE) {
      // Rejection sampling: drop the top sliver of the range that would bias small results.
      const limit = UINT32_RANGE - (UINT32_RANGE % n);
      for (;;) {
        const value = this.nextUint32();
        if (value < limit) return value % n;
      }
    }
    // Wider than 32 bits (rare): combine two draws; the bias is below 2^-20 for safe integers.
    const wide = this.nextUint32() * UINT32_RANGE + this.nextUint32();
    return wide % n;
  }

  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.nextFloat() < p;
  }

  /** One of `items`, each equally likely; the list must not be empty. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "pick needs at least one item");
    return items[this.intBelow(items.length)] as T;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i -= 1) {
      const j = this.intBelow(i + 1);
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  }

  /**
   * A new generator whose stream is independent of this one's future draws: the simulator gives
   * each node its own, so adding a node does not shift every other node's randomness.
   */
  fork(): Prng {
    return new Prng(this.nextUint32() * 0x20_0000 + (this.nextUint32() >>> 11));
  }
}
