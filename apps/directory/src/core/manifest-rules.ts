/**
 * What makes a manifest add up: chunk sizes that sum to the file's size, no chunk over the chunk
 * size, and an empty file with no chunks and the SHA-256 of nothing. Pure checks used by the
 * server before it proposes a commit and by the state machine when it applies one.
 */

import { fail, ok, type ChunkRef, type Result } from "@ftfs/protocol/core";

/** SHA-256 of zero bytes: the only hash an empty file may have. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export interface ManifestShape {
  readonly bytes: number;
  readonly sha256: string;
  readonly chunks: readonly ChunkRef[];
}

/** Sizes and the empty-file rule. chunkBytesMax is the node's chunk size. */
export function checkManifest(manifest: ManifestShape, chunkBytesMax: number): Result<void> {
  const { bytes, sha256, chunks } = manifest;
  if (bytes === 0) {
    if (chunks.length !== 0) return fail("MANIFEST_MISMATCH", "an empty file has no chunks");
    if (sha256 !== EMPTY_SHA256) {
      return fail("MANIFEST_MISMATCH", "an empty file's sha256 must be the hash of no bytes");
    }
    return ok(undefined);
  }
  if (chunks.length === 0) {
    return fail("MANIFEST_MISMATCH", `a file of ${bytes} bytes needs chunks`);
  }
  let sum = 0;
  for (const [at, chunk] of chunks.entries()) {
    if (chunk.bytes > chunkBytesMax) {
      return fail(
        "MANIFEST_MISMATCH",
        `chunk ${at} has ${chunk.bytes} bytes, over the chunk size of ${chunkBytesMax}`,
      );
    }
    sum += chunk.bytes;
  }
  if (sum !== bytes) {
    return fail("MANIFEST_MISMATCH", `chunks add up to ${sum} bytes but the file has ${bytes}`);
  }
  return ok(undefined);
}

/** Each group a manifest's chunks live in, once, in order of first use. */
export function groupsOfChunks(chunks: readonly ChunkRef[]): string[] {
  return [...new Set(chunks.map((chunk) => chunk.group))];
}
