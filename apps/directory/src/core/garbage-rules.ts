/**
 * Which chunks a storage group may delete: the directory's answer to a garbage collector's
 * candidates, pure. The directory is the authority over what is live; storage proposes, and
 * deletes only what this confirms. A chunk may go from a group only when
 * - no kept version names it in that group (the chunk index: live versions above the name's
 *   last deletion, with their chunks where the manifest puts them);
 * - no move in flight is copying it there (the rebalancer's copies, held until moveVersion
 *   commits or fails);
 * - every upload whose pending reference holds it is closed: committed (its kept chunks are
 *   in the index) or swept (its deadline passed and a replicated sweepUploads recorded that it
 *   can never commit).
 * Deadlines only decide when an upload may be swept; the sweep is a command in the log, so a
 * commit and a sweep of one upload are ordered the same on every replica and exactly one wins.
 * Clocks therefore bound how long garbage waits, never whether a chunk is garbage.
 */

import { uploadSweepableAfterMs } from "@ftfs/protocol/core";

export interface UploadKey {
  readonly uid: string;
  readonly uploadId: string;
}

export interface GarbageCandidate {
  readonly chunkId: string;
  /** Unfinished uploads whose pending references hold the chunk on the asking node. */
  readonly uploads: readonly UploadKey[];
  /** It has more such uploads than it named. */
  readonly moreUploads?: boolean | undefined;
}

/** What the directory knows, as of one consistent state. */
export interface GarbageFacts {
  /** The upload committed a version (whether or not it is still kept). */
  uploadCommitted(uid: string, uploadId: string): boolean;
  /** A sweepUploads recorded that the upload can never commit. */
  uploadSwept(uid: string, uploadId: string): boolean;
  /** The upload committed a version still kept that names the chunk in the group. */
  uploadKeeps(uid: string, uploadId: string, group: string, chunkId: string): boolean;
  /** Some kept version names the chunk in the group. */
  chunkKept(group: string, chunkId: string): boolean;
  /** The rebalancer is copying the chunk into the group (soft state of this primary). */
  moveInFlight(group: string, chunkId: string): boolean;
}

/** A pending reference: one upload's hold on one chunk. */
export interface PendingRef {
  readonly chunkId: string;
  readonly uid: string;
  readonly uploadId: string;
}

export interface GarbageVerdict {
  readonly collectable: readonly string[];
  /**
   * Pending references that protect nothing: their upload was swept, or committed without
   * keeping this chunk in this group (a hedged put, or a version since deleted). A reference
   * a kept version still needs is never released, even before its commitRefs arrives: a
   * learner copies what its primary's references name.
   */
  readonly releasedRefs: readonly PendingRef[];
}

function uploadClosed(facts: GarbageFacts, upload: UploadKey): boolean {
  return (
    facts.uploadCommitted(upload.uid, upload.uploadId) ||
    facts.uploadSwept(upload.uid, upload.uploadId)
  );
}

/**
 * The candidates' uploads that are neither committed nor swept and whose deadline passed by
 * `nowMs`: a sweepUploads of them lets their chunks go. Each upload once, in first-seen order.
 */
export function uploadsToSweep(
  facts: GarbageFacts,
  candidates: readonly GarbageCandidate[],
  nowMs: number,
): UploadKey[] {
  const seen = new Set<string>();
  const due: UploadKey[] = [];
  for (const candidate of candidates) {
    for (const upload of candidate.uploads) {
      const key = JSON.stringify([upload.uid, upload.uploadId]);
      if (seen.has(key)) continue;
      seen.add(key);
      if (uploadClosed(facts, upload)) continue;
      if (uploadSweepableAfterMs(upload.uploadId) < nowMs) due.push(upload);
    }
  }
  return due;
}

/** Which candidates `group` may delete, and which of their pending references may go. */
export function judgeGarbage(
  facts: GarbageFacts,
  group: string,
  candidates: readonly GarbageCandidate[],
): GarbageVerdict {
  const collectable: string[] = [];
  const releasedRefs: PendingRef[] = [];
  for (const { chunkId, uploads, moreUploads } of candidates) {
    // A copy for a move in flight is held by the moved upload's id: leave it all alone.
    if (facts.moveInFlight(group, chunkId)) continue;
    let allReleased = moreUploads !== true;
    for (const { uid, uploadId } of uploads) {
      const released =
        uploadClosed(facts, { uid, uploadId }) && !facts.uploadKeeps(uid, uploadId, group, chunkId);
      if (released) releasedRefs.push({ chunkId, uid, uploadId });
      else allReleased = false;
    }
    if (allReleased && !facts.chunkKept(group, chunkId)) collectable.push(chunkId);
  }
  return { collectable, releasedRefs };
}
