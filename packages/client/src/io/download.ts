/**
 * One read, manifest to last byte: fetch the manifest (newest version, or the one asked for),
 * fetch its chunks with at most `chunksInFlight` outstanding, verify each, and hand them to
 * the sink strictly in order, waiting for the sink before fetching further (backpressure):
 * memory is bounded by the window, never by the file. The whole file's SHA-256 is checked at
 * the end against the manifest's; an object joined from multipart parts records the SHA-256 of
 * its chunk list instead (chunk-list-digest.ts), checked the same way.
 */

import { FtfsError, type ChunkRef, type Manifest } from "@ftfs/protocol/core";
import { chunkListSha256 } from "@ftfs/protocol/io";
import { CLIENT_CHUNK_HEDGE_MS } from "../core/limits.ts";
import { getChunk, type ChunkTransferOptions } from "./chunks.ts";
import { GroupViews } from "./groups.ts";
import type { TransferContext } from "./transfer-context.ts";
import type { ProgressListener, UploadResult } from "./upload.ts";

export type ChunkSink = (chunk: Uint8Array) => Promise<void> | void;

export type ReadResult = UploadResult;

export async function runDownload(
  context: TransferContext,
  uid: string,
  name: string,
  sink: ChunkSink,
  version?: number,
  progress?: ProgressListener,
): Promise<ReadResult> {
  const answer = await context.directory.call(
    "getManifest",
    version === undefined ? { uid, name } : { uid, name, version },
  );
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
  try {
    const gc = collector(context.gcIntervalBytes);
    await streamChunks(context.chunksInFlight, transfer, manifest, sink, gc, progress);
  } finally {
    abort.abort(); // on failure, stops fetches still retrying ahead of the one that failed
  }
  return {
    name: manifest.name,
    version: manifest.version,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    createdAtMs: manifest.createdAtMs,
  };
}

async function streamChunks(
  window: number,
  transfer: ChunkTransferOptions,
  manifest: Manifest,
  sink: ChunkSink,
  afterChunk: (bytes: number) => void,
  progress?: ProgressListener,
): Promise<void> {
  const refs: readonly ChunkRef[] = manifest.chunks;
  const ahead: Array<Promise<Uint8Array>> = [];
  // Each chunk is checked against its id as it arrives; a joined object's digest is its list's.
  const joined = manifest.attrs?.parts !== undefined;
  const fileHash = joined ? null : new Bun.CryptoHasher("sha256");
  let started = 0;
  let doneBytes = 0;
  progress?.({ doneBytes, totalBytes: manifest.bytes, chunks: refs.length });
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
    fileHash?.update(bytes);
    await sink(bytes);
    afterChunk(bytes.length);
    doneBytes += bytes.length;
    progress?.({ doneBytes, totalBytes: manifest.bytes, chunks: refs.length });
  }
  const sha256 =
    fileHash === null ? chunkListSha256(refs.map((ref) => ref.id)) : fileHash.digest("hex");
  if (doneBytes !== manifest.bytes || sha256 !== manifest.sha256) {
    throw new FtfsError(
      "INTEGRITY",
      `${manifest.name} v${manifest.version} read back as ${sha256.slice(0, 12)}…, ` +
        `not ${manifest.sha256.slice(0, 12)}…`,
    );
  }
}

/** Counts bytes read and collects garbage after every `intervalBytes` of them (0: never). */
function collector(intervalBytes: number): (bytes: number) => void {
  if (intervalBytes <= 0) return () => undefined;
  let sinceBytes = 0;
  return (bytes) => {
    sinceBytes += bytes;
    if (sinceBytes < intervalBytes) return;
    sinceBytes = 0;
    Bun.gc(true);
  };
}
