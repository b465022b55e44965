/**
 * Which chunk files garbage collection may delete, and when it runs, pure. The io loop
 * (io/gc.ts) gathers the facts (references, the file's age, the last put) and acts.
 *
 * A chunk is kept while anything may still need it:
 * - a reference names it: a committed file's version (until the directory's dropRefs), or a
 *   pending upload (until that upload has been idle for the grace and expires);
 * - it was put (stored or deduplicated) within the grace: the put's reference may not be
 *   recorded yet, or its upload may be about to name it again; a chunk whose upload the
 *   rebalancer moved to another group counts as put at the move, so readers holding the old
 *   manifest still find it;
 * - its file is younger than the grace: a put or a repair just wrote it.
 * Every test is against the same grace, so one setting says how long garbage may linger.
 */

import { assert } from "@ftfs/protocol/core";
import { GC_INTERVAL_MS_MAX, GC_INTERVAL_MS_MIN, GC_PASSES_PER_GRACE } from "./limits.ts";

export interface ChunkFacts {
  /** References naming the chunk (committed or pending), all owners together. */
  readonly references: number;
  /** When a put last named it on this node since start-up; null if none did. */
  readonly lastPutAtMs: number | null;
  /** When its file was last written. */
  readonly fileModifiedAtMs: number;
}

export type ChunkVerdict =
  | { readonly collect: true }
  | { readonly collect: false; readonly reason: "referenced" | "recentlyPut" | "youngFile" };

export function judgeChunk(facts: ChunkFacts, nowMs: number, graceMs: number): ChunkVerdict {
  assert(graceMs > 0, "garbage collection needs a positive grace");
  if (facts.references > 0) return { collect: false, reason: "referenced" };
  if (facts.lastPutAtMs !== null && nowMs - facts.lastPutAtMs < graceMs) {
    return { collect: false, reason: "recentlyPut" };
  }
  // A file dated in the future (a clock stepped back) counts as young until the clock passes it.
  if (nowMs - facts.fileModifiedAtMs < graceMs) return { collect: false, reason: "youngFile" };
  return { collect: true };
}

/**
 * Pending references recorded before this time belong to expired uploads, if nothing newer of
 * the same upload was recorded: an upload is judged by its latest chunk, so a long upload that
 * is still streaming keeps its first chunks.
 */
export function pendingExpiryCutoffMs(nowMs: number, graceMs: number): number {
  assert(graceMs > 0, "garbage collection needs a positive grace");
  return nowMs - graceMs;
}

/** Time between GC passes: a fraction of the grace, bounded both ways. */
export function gcIntervalMs(graceMs: number): number {
  const share = Math.floor(graceMs / GC_PASSES_PER_GRACE);
  return Math.min(GC_INTERVAL_MS_MAX, Math.max(GC_INTERVAL_MS_MIN, share));
}
