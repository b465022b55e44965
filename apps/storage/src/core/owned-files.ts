/**
 * listOwned's answer from owner-reference rows, pure. Rows stream in one at a time (the refs
 * store iterates its table), so memory is bounded by the user's uploads, not by their chunks.
 *
 * Per name the answer is the newest version this node knows: the highest committed version,
 * or, only when no version of the name is committed here, the most recently started pending
 * upload (version null). `bytes` and `chunks` count the upload's chunks held here as the file
 * holds them: a file that repeats a chunk has one reference to it, which says how many times
 * the file uses it (`uses`), and counts that often, so the listing tells the file's size. Of a
 * committed upload, only its committed references: a pending one beside them is a chunk the
 * manifest put in another group (a put hedged or retried there across a failover), not part of
 * the version here, and counting it would make the listing larger than the file.
 */

import {
  FILE_BYTES_MAX,
  LIST_FILES_MAX,
  MANIFEST_CHUNKS_MAX,
  type OwnedFile,
} from "@ftfs/protocol/core";

export interface RefRow {
  readonly name: string;
  readonly uploadId: string;
  readonly version: number | null;
  readonly chunkBytes: number;
  /** Times the committed file holds the chunk (1 for a pending reference). */
  readonly uses: number;
  /** Insertion order: a larger seq was recorded later. */
  readonly seq: number;
}

interface UploadTotal {
  readonly uploadId: string;
  version: number | null;
  /** The committed references' share, and the pending ones' apart. */
  committed: { bytes: number; chunks: number };
  pending: { bytes: number; chunks: number };
  lastSeq: number;
}

export interface OwnedListing {
  readonly files: readonly OwnedFile[];
  /** More names than LIST_FILES_MAX: the answer holds the first ones by name. */
  readonly truncated: boolean;
}

export class OwnedFilesAggregate {
  private readonly byName = new Map<string, Map<string, UploadTotal>>();

  add(row: RefRow): void {
    let uploads = this.byName.get(row.name);
    if (uploads === undefined) {
      uploads = new Map();
      this.byName.set(row.name, uploads);
    }
    const total = uploads.get(row.uploadId) ?? {
      uploadId: row.uploadId,
      version: null,
      committed: { bytes: 0, chunks: 0 },
      pending: { bytes: 0, chunks: 0 },
      lastSeq: 0,
    };
    // The upload's version is the one any of its rows carries; its pending rows then are
    // chunks kept in another group (see the file's comment).
    if (row.version !== null) total.version = Math.max(total.version ?? 0, row.version);
    const share = row.version === null ? total.pending : total.committed;
    share.bytes += row.chunkBytes * row.uses;
    share.chunks += row.uses;
    total.lastSeq = Math.max(total.lastSeq, row.seq);
    uploads.set(row.uploadId, total);
  }

  listing(group: string): OwnedListing {
    const names = [...this.byName.keys()].sort(compareCodeUnits);
    const files: OwnedFile[] = [];
    for (const name of names) {
      const chosen = newestUpload(this.byName.get(name)?.values() ?? []);
      if (chosen === null) continue;
      if (files.length === LIST_FILES_MAX) return { files, truncated: true };
      const { bytes, chunks } = shareOf(chosen);
      files.push({
        name,
        version: chosen.version,
        uploadId: chosen.uploadId,
        bytes,
        chunks,
        group,
      });
    }
    return { files, truncated: false };
  }
}

/** What an upload holds here as the listing counts it: committed rows, else pending ones. */
function shareOf(upload: UploadTotal): { bytes: number; chunks: number } {
  return upload.version === null ? upload.pending : upload.committed;
}

/** Committed beats pending; among committed the highest version; otherwise the latest seq. */
function newestUpload(uploads: Iterable<UploadTotal>): UploadTotal | null {
  let best: UploadTotal | null = null;
  for (const upload of uploads) {
    // An upload past the manifest bounds can never become a file; it is not listed.
    const { bytes, chunks } = shareOf(upload);
    if (bytes > FILE_BYTES_MAX || chunks > MANIFEST_CHUNKS_MAX) continue;
    if (best === null || isNewer(upload, best)) best = upload;
  }
  return best;
}

function isNewer(candidate: UploadTotal, than: UploadTotal): boolean {
  if (candidate.version !== null && than.version === null) return true;
  if (candidate.version === null && than.version !== null) return false;
  if (candidate.version !== null && than.version !== null && candidate.version !== than.version) {
    return candidate.version > than.version;
  }
  return candidate.lastSeq > than.lastSeq;
}

function compareCodeUnits(left: string, right: string): number {
  if (left === right) return 0;
  return left < right ? -1 : 1;
}

/** Convenience for callers holding all rows at once (tests, small stores). */
export function aggregateOwned(rows: Iterable<RefRow>, group: string): OwnedListing {
  const aggregate = new OwnedFilesAggregate();
  for (const row of rows) aggregate.add(row);
  return aggregate.listing(group);
}
