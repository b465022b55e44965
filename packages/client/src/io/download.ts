/**
 * One read, manifest to last byte: fetch the manifest (newest version, or the one asked for),
 * fetch its chunks with at most `chunksInFlight` outstanding, verify each, and hand them to
 * the sink strictly in order, waiting for the sink before fetching further (backpressure):
 * memory is bounded by the window, never by the file. The whole file's SHA-256 is checked at
 * the end against the manifest's (a one-chunk file's is its chunk's id, checked already); an
 * object joined from multipart parts records the SHA-256 of its chunk list instead
 * (chunk-list-digest.ts), checked the same way. A byte range fetches only
 * the chunks that hold it (each still checked against its id) and hands the sink exactly it.
 * A caller whose sink is done with each chunk when it returns (it wrote or copied the bytes)
 * says so (reuseChunkBuffers): each chunk's buffer then goes back to the connection pool after
 * the sink, and later chunks arrive in the same pages instead of freshly faulted ones.
 */

import { FtfsError, type ChunkRef, type Manifest, type ResponseBody } from "@ftfs/protocol/core";
import { chunkListSha256 } from "@ftfs/protocol/io";
import { CLIENT_CHUNK_HEDGE_MS } from "../core/limits.ts";
import { getChunk, type ChunkTransferOptions } from "./chunks.ts";
import { GroupViews } from "./groups.ts";
import type { TransferContext } from "./transfer-context.ts";
import type { ProgressListener, UploadResult } from "./upload.ts";

export type ChunkSink = (chunk: Uint8Array) => Promise<void> | void;

/** A file read: which version, its size and hash, when it was made. */
export type ReadResult = Omit<UploadResult, "resumedBytes">;

/** Bytes `start` to `end`, both included. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** What the directory answers for a read: the manifest and the groups its chunks are in. */
export type ObjectLocation = ResponseBody<"getManifest">;

export interface DownloadOptions {
  /** Default: the newest version. */
  readonly version?: number | undefined;
  /** The manifest already fetched (by objectLocation): the read starts at the chunks. */
  readonly location?: ObjectLocation | undefined;
  readonly progress?: ProgressListener | undefined;
  /** Default: every byte. */
  readonly range?: ByteRange | undefined;
  /**
   * The sink keeps nothing of a chunk once it has returned (and its promise settled): the
   * chunk's buffer may be reused for another. Default false: the sink owns what it is given.
   */
  readonly reuseChunkBuffers?: boolean | undefined;
}

export async function runDownload(
  context: TransferContext,
  uid: string,
  name: string,
  sink: ChunkSink,
  { version, progress, range, location, reuseChunkBuffers }: DownloadOptions = {},
): Promise<ReadResult> {
  const answer =
    location ??
    (await context.directory.call(
      "getManifest",
      version === undefined ? { uid, name } : { uid, name, version },
    ));
  const manifest = answer.manifest;
  const abort = new AbortController();
  const transfer: ChunkTransferOptions = {
    pool: context.pool,
    views: new GroupViews(context.directory, answer.groups),
    timeoutMs: context.chunkTimeoutMs,
    hedgeMs: CLIENT_CHUNK_HEDGE_MS,
    retryDeadlineMs: context.retryDeadlineMs,
    signal: abort.signal,
    observer: context.observer,
  };
  const pool = context.pool;
  const done = reuseChunkBuffers === true ? (bytes: Uint8Array) => pool.release(bytes) : noop;
  try {
    await streamChunks(
      { window: context.chunksInFlight, transfer, done },
      manifest,
      sink,
      context.moved,
      progress,
      range,
    );
  } catch (error) {
    // Stops fetches still retrying ahead of the one that failed. A read that succeeded awaited
    // every fetch it started, so it has nothing to stop (and aborting costs an event dispatch).
    abort.abort();
    throw error;
  }
  return {
    name: manifest.name,
    version: manifest.version,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    createdAtMs: manifest.createdAtMs,
  };
}

/** How chunks are fetched, and what is done with each once its sink returned. */
interface Fetching {
  readonly window: number;
  readonly transfer: ChunkTransferOptions;
  readonly done: (bytes: Uint8Array) => void;
}

function noop(): void {}

async function streamChunks(
  fetching: Fetching,
  manifest: Manifest,
  sink: ChunkSink,
  afterChunk: (bytes: number) => void,
  progress?: ProgressListener,
  range?: ByteRange,
): Promise<void> {
  const refs: readonly ChunkRef[] = manifest.chunks;
  const joined = manifest.attrs?.parts !== undefined;
  // Each chunk is checked against its id as it arrives; a joined object's digest is its list's.
  if (joined && chunkListSha256(refs.map((ref) => ref.id)) !== manifest.sha256) {
    throw new FtfsError(
      "INTEGRITY",
      `${manifest.name} v${manifest.version}'s chunk list is damaged`,
    );
  }
  if (range !== undefined) {
    return streamRange(fetching, manifest, sink, afterChunk, range);
  }
  const fileHash = joined || isOneChunk(manifest) ? null : new Bun.CryptoHasher("sha256");
  let doneBytes = 0;
  progress?.({ doneBytes, totalBytes: manifest.bytes, chunks: refs.length });
  await fetchInOrder(fetching, refs, async (bytes) => {
    fileHash?.update(bytes);
    await sink(bytes);
    afterChunk(bytes.length);
    doneBytes += bytes.length;
    progress?.({ doneBytes, totalBytes: manifest.bytes, chunks: refs.length });
  });
  const sha256 = fileHash === null ? manifest.sha256 : fileHash.digest("hex");
  if (doneBytes !== manifest.bytes || sha256 !== manifest.sha256) {
    throw new FtfsError(
      "INTEGRITY",
      `${manifest.name} v${manifest.version} read back as ${sha256.slice(0, 12)}…, ` +
        `not ${manifest.sha256.slice(0, 12)}…`,
    );
  }
}

/**
 * A file that is one chunk: that chunk's id is the file's SHA-256, and the chunk is checked
 * against its id as it arrives, so hashing the file again would only hash each byte twice.
 */
function isOneChunk(manifest: Manifest): boolean {
  const only = manifest.chunks.length === 1 ? manifest.chunks[0] : undefined;
  return only !== undefined && only.id === manifest.sha256 && only.bytes === manifest.bytes;
}

/**
 * Fetch `refs` with at most `window` outstanding and hand each to `deliver` in order, waiting
 * for it, then to `done`: memory is bounded by the window, never by the file.
 */
async function fetchInOrder(
  { window, transfer, done }: Fetching,
  refs: readonly ChunkRef[],
  deliver: (bytes: Uint8Array, index: number) => Promise<void>,
): Promise<void> {
  const ahead: Array<Promise<Uint8Array>> = [];
  let started = 0;
  for (let index = 0; index < refs.length; index += 1) {
    while (started < refs.length && started < index + window) {
      const ref = refs[started];
      if (ref === undefined) break;
      const fetch = getChunk(transfer, ref);
      fetch.catch(() => undefined); // awaited in order below; this only marks it handled
      ahead.push(fetch);
      started += 1;
    }
    const next = ahead.shift();
    if (next === undefined) throw new FtfsError("INTERNAL", "read window underrun");
    const bytes = await next;
    await deliver(bytes, index);
    done(bytes);
  }
}

/**
 * Only the chunks that hold bytes [start, end], fetched with the same window, each checked
 * against its id; the sink gets exactly the range.
 */
async function streamRange(
  fetching: Fetching,
  manifest: Manifest,
  sink: ChunkSink,
  afterChunk: (bytes: number) => void,
  range: ByteRange,
): Promise<void> {
  if (range.start < 0 || range.end < range.start || range.end >= manifest.bytes) {
    throw new FtfsError(
      "BAD_REQUEST",
      `bytes ${range.start}-${range.end} are not within ${manifest.name}'s ${manifest.bytes}`,
    );
  }
  const wanted: Array<{ ref: ChunkRef; from: number; to: number }> = [];
  let offset = 0;
  for (const ref of manifest.chunks) {
    const from = Math.max(range.start - offset, 0);
    const to = Math.min(range.end + 1 - offset, ref.bytes);
    if (to > from) wanted.push({ ref, from, to });
    offset += ref.bytes;
    if (offset > range.end) break;
  }
  const refs = wanted.map((piece) => piece.ref);
  await fetchInOrder(fetching, refs, async (bytes, index) => {
    const piece = wanted[index];
    if (piece === undefined) throw new FtfsError("INTERNAL", "read window underrun");
    await sink(bytes.subarray(piece.from, piece.to));
    afterChunk(bytes.length);
  });
}
