/**
 * One upload, start to commit: ask the directory for a placement, read the source chunk by
 * chunk (hashing each chunk and the whole file as it goes), keep at most `chunksInFlight`
 * chunk puts in flight, check the source did not change, then commit the manifest. The commit
 * is retried with the same uploadId, which the directory makes idempotent, so a retry after a
 * lost answer never makes two versions. Until the commit nothing is visible.
 */

import {
  type ObjectAttrs,
  type WritePrecondition,
  FtfsError,
  MANIFEST_CHUNKS_MAX,
  type ChunkRef,
  type GroupView,
  type Ticket,
} from "@ftfs/protocol/core";
import { CLIENT_CHUNK_HEDGE_MS, CLIENT_UPLOAD_RESTARTS_MAX } from "../core/limits.ts";
import type { ByteSource } from "./byte-source.ts";
import { ChunkBuffers } from "./chunk-buffers.ts";
import { sha256Hex } from "@ftfs/protocol/io";
import { putChunk, type ChunkTransferOptions, type PlacedChunk } from "./chunks.ts";
import { GroupViews } from "./groups.ts";
import type { TransferContext } from "./transfer-context.ts";

/** Reported as bytes reach the storage groups; `chunks` tells a progress bar if it is worth it. */
export interface TransferProgress {
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly chunks: number;
}
export type ProgressListener = (progress: TransferProgress) => void;

export interface UploadResult {
  readonly name: string;
  readonly version: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly createdAtMs: number;
}

interface Placement {
  readonly uploadId: string;
  readonly chunkBytes: number;
  readonly groups: readonly GroupView[];
  readonly tickets?: readonly Ticket[] | undefined;
}

/**
 * An upload that ran past its deadline (the client slept: its chunks may have been collected)
 * starts over with a new placement and sends every chunk again: the directory refuses to
 * commit it, so nothing was acknowledged that storage may have dropped.
 */
export interface UploadOptions {
  readonly progress?: ProgressListener | undefined;
  /** An object's attributes, asked for once every byte was read (its MD5 is known then). */
  readonly attrs?: (() => ObjectAttrs) | undefined;
  /** A conditional write (S3's If-Match, If-None-Match: *), judged at the commit. */
  readonly precondition?: WritePrecondition | undefined;
}

export async function runUpload(
  context: TransferContext,
  uid: string,
  name: string,
  source: ByteSource,
  options: UploadOptions = {},
): Promise<UploadResult> {
  for (let restarts = 0; ; restarts += 1) {
    try {
      return await uploadOnce(context, uid, name, source, options);
    } catch (error) {
      const expired = error instanceof FtfsError && error.code === "UPLOAD_EXPIRED";
      if (!expired || restarts >= CLIENT_UPLOAD_RESTARTS_MAX) throw error;
      context.observer?.({ what: `upload of ${name}`, attempt: restarts + 1, error, delayMs: 0 });
    }
  }
}

async function uploadOnce(
  context: TransferContext,
  uid: string,
  name: string,
  source: ByteSource,
  { progress, attrs, precondition }: UploadOptions,
): Promise<UploadResult> {
  const placement: Placement = await context.directory.call("placeUpload", {
    uid,
    name,
    bytes: source.bytes,
  });
  const chunkCount = Math.ceil(source.bytes / placement.chunkBytes);
  if (chunkCount > MANIFEST_CHUNKS_MAX) {
    throw new FtfsError(
      "LOCAL_FILE",
      `${source.label} needs ${chunkCount} chunks; at most ${MANIFEST_CHUNKS_MAX} fit a file`,
    );
  }
  if (chunkCount > 0 && placement.groups.length === 0) {
    throw new FtfsError("UNAVAILABLE", "the cluster has no storage groups to place the file on");
  }
  const placed = await putAllChunks(context, uid, name, source, placement, progress);
  const { chunks, receipts, sha256 } = placed;
  await source.checkUnchanged();
  // Known only now: an object's MD5 is of every byte read.
  const objectAttrs = attrs?.();
  const committed = await context.directory.call("commitUpload", {
    uid,
    name,
    uploadId: placement.uploadId,
    bytes: source.bytes,
    sha256,
    chunks,
    ...(receipts === null ? {} : { receipts }),
    ...(objectAttrs === undefined ? {} : { attrs: objectAttrs }),
    ...(precondition === undefined ? {} : { precondition }),
  });
  return {
    name,
    version: committed.version,
    bytes: source.bytes,
    sha256,
    createdAtMs: committed.createdAtMs,
  };
}

/**
 * Read, hash and put every chunk with a bounded window. Reading is sequential (so the
 * whole-file hash is incremental); puts overlap. The first failure aborts the rest.
 */
async function putAllChunks(
  context: TransferContext,
  uid: string,
  name: string,
  source: ByteSource,
  placement: Placement,
  progress?: ProgressListener,
): Promise<{ chunks: ChunkRef[]; receipts: string[] | null; sha256: string }> {
  const chunkCount = Math.ceil(source.bytes / placement.chunkBytes);
  const abort = new AbortController();
  const transfer: ChunkTransferOptions = {
    pool: context.pool,
    views: new GroupViews(context.directory, placement.groups),
    timeoutMs: context.chunkTimeoutMs,
    hedgeMs: CLIENT_CHUNK_HEDGE_MS,
    retryDeadlineMs: context.retryDeadlineMs,
    signal: abort.signal,
    observer: context.observer,
    tickets: new Map((placement.tickets ?? []).map((ticket) => [ticket.group, ticket])),
  };
  const groupNames = placement.groups.map((view) => view.group);
  const owner = { uid, name, uploadId: placement.uploadId };
  const fileHash = new Bun.CryptoHasher("sha256");
  const buffers = new ChunkBuffers(placement.chunkBytes, context.chunksInFlight + 1);
  const refs: PlacedChunk[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  let doneBytes = 0;
  progress?.({ doneBytes, totalBytes: source.bytes, chunks: chunkCount });
  try {
    for (let index = 0; index < chunkCount && failure === null; index += 1) {
      while (inFlight.size >= context.chunksInFlight) await Promise.race(inFlight);
      if (failure !== null) break;
      const offset = index * placement.chunkBytes;
      const buffer = buffers.take();
      const length = Math.min(placement.chunkBytes, source.bytes - offset);
      const bytes = await source.read(offset, length, buffer).catch((error: unknown) => {
        buffers.give(buffer);
        throw error;
      });
      fileHash.update(bytes);
      const put: Promise<void> = putChunk(transfer, sha256Hex(bytes), bytes, owner, groupNames)
        .then((ref) => {
          refs[index] = ref;
          context.moved(ref.bytes);
          doneBytes += ref.bytes;
          progress?.({ doneBytes, totalBytes: source.bytes, chunks: chunkCount });
        })
        .catch((error: unknown) => {
          failure ??= error;
          abort.abort();
        })
        .finally(() => {
          buffers.give(buffer);
          inFlight.delete(put);
        });
      inFlight.add(put);
    }
  } catch (error) {
    // The source failed (changed, unreadable): stop the puts still retrying, then report it.
    failure ??= error;
    abort.abort();
  }
  await Promise.all(inFlight);
  if (failure !== null) throw failure;
  return { ...withoutReceipts(refs), sha256: fileHash.digest("hex") };
}

/** The manifest's chunk list, and the receipts beside it if every chunk got one. */
function withoutReceipts(placed: readonly PlacedChunk[]): {
  chunks: ChunkRef[];
  receipts: string[] | null;
} {
  const chunks = placed.map(({ id, bytes, group }) => ({ id, bytes, group }));
  const receipts = placed.flatMap((chunk) => (chunk.receipt === undefined ? [] : [chunk.receipt]));
  return {
    chunks,
    receipts: receipts.length === placed.length && receipts.length > 0 ? receipts : null,
  };
}
