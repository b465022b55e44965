/**
 * listOwned's answer from owner-reference rows, pure. Rows stream in one at a time (the refs
 * store iterates its table), so memory is bounded by the user's uploads, not by their chunks.
 *
 * Per name the answer is the newest version this node knows: the highest committed version,
 * or, only when no version of the name is committed here, the most recently started pending
 * upload (version null). `bytes` and `chunks` count the upload's distinct chunks held here
 * (a file that repeats a chunk has one reference to it, so it counts once).
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
  /** Insertion order: a larger seq was recorded later. */
  readonly seq: number;
}

interface UploadTotal {
  readonly uploadId: string;
  version: number | null;
  bytes: number;
  chunks: number;
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
      bytes: 0,
      chunks: 0,
      lastSeq: 0,
    };
    // A retried put that landed after the commit leaves a pending row beside committed ones:
    // the upload's version is the one any of its rows carries.
    if (row.version !== null) total.version = Math.max(total.version ?? 0, row.version);
    total.bytes += row.chunkBytes;
    total.chunks += 1;
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
      files.push({
        name,
        version: chosen.version,
        uploadId: chosen.uploadId,
        bytes: chosen.bytes,
        chunks: chosen.chunks,
        group,
      });
    }
    return { files, truncated: false };
  }
}

/** Committed beats pending; among committed the highest version; otherwise the latest seq. */
function newestUpload(uploads: Iterable<UploadTotal>): UploadTotal | null {
  let best: UploadTotal | null = null;
  for (const upload of uploads) {
    // An upload past the manifest bounds can never become a file; it is not listed.
    if (upload.bytes > FILE_BYTES_MAX || upload.chunks > MANIFEST_CHUNKS_MAX) continue;
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
