/**
 * Which chunk files garbage collection asks the directory about, and when it runs, pure. The
 * io loop (io/gc.ts) gathers the facts and asks; the directory primary answers which of the
 * candidates may go (apps/directory/src/core/garbage-rules.ts), and only those are deleted.
 *
 * Nothing here decides that a chunk is garbage: it decides only which chunks are not worth
 * asking about yet.
 * - a committed reference names it: a version the directory kept, as far as this node heard;
 * - a put named it within the grace (its reference is recorded first, so this only spares the
 *   directory a question), or the rebalancer moved it away within the grace, so readers of the
 *   old manifest still find it;
 * - its file is younger than the grace: a put or a repair just wrote it.
 */

import { assert } from "@ftfs/protocol/core";
import {
  GC_AUDIT_EVERY_PASSES,
  GC_INTERVAL_MS_MAX,
  GC_INTERVAL_MS_MIN,
  GC_PASSES_PER_GRACE,
} from "./limits.ts";

export interface ChunkFacts {
  /** Committed references naming the chunk, all owners together. */
  readonly committed: number;
  /** When a put last named it on this node since start-up; null if none did. */
  readonly lastPutAtMs: number | null;
  /** When its file was last written. */
  readonly fileModifiedAtMs: number;
}

export type ChunkVerdict =
  | { readonly ask: true }
  | { readonly ask: false; readonly reason: "referenced" | "recentlyPut" | "youngFile" };

/**
 * `audit`: this pass asks about committed chunks too. A committed reference is this node's
 * word, and a notice replayed out of order (a deposed directory primary's last batch) can
 * leave one the directory no longer keeps; an audit lets the directory say so, so such a leak
 * lasts at most until the next audit.
 */
export function judgeChunk(
  facts: ChunkFacts,
  nowMs: number,
  graceMs: number,
  audit = false,
): ChunkVerdict {
  assert(graceMs > 0, "garbage collection needs a positive grace");
  if (facts.committed > 0 && !audit) return { ask: false, reason: "referenced" };
  if (facts.lastPutAtMs !== null && nowMs - facts.lastPutAtMs < graceMs) {
    return { ask: false, reason: "recentlyPut" };
  }
  // A file dated in the future (a clock stepped back) counts as young until the clock passes it.
  if (nowMs - facts.fileModifiedAtMs < graceMs) return { ask: false, reason: "youngFile" };
  return { ask: true };
}

/** What a chunk's references say, when the directory was asked and when its answer came. */
export interface ReferenceMark {
  /** Committed references naming the chunk. */
  readonly committed: number;
  /** The newest reference's seq (0: none); references only ever get newer seqs. */
  readonly lastSeq: number;
}

/**
 * The directory's confirmation still holds at deletion time: no reference was committed and
 * none was added since the question (a put records its reference before it writes, so a put in
 * flight always shows here). Dropped references (closed uploads) only lower both marks.
 */
export function stillCollectable(asked: ReferenceMark, now: ReferenceMark): boolean {
  return now.committed <= asked.committed && now.lastSeq <= asked.lastSeq;
}

/** Whether pass number `pass` (from 0) is an audit: every GC_AUDIT_EVERY_PASSES-th. */
export function isAuditPass(pass: number): boolean {
  return pass % GC_AUDIT_EVERY_PASSES === GC_AUDIT_EVERY_PASSES - 1;
}

/** Time between GC passes: a fraction of the grace, bounded both ways. */
export function gcIntervalMs(graceMs: number): number {
  const share = Math.floor(graceMs / GC_PASSES_PER_GRACE);
  return Math.min(GC_INTERVAL_MS_MAX, Math.max(GC_INTERVAL_MS_MIN, share));
}
