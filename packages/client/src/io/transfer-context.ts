/**
 * What an upload or a download needs from the client that runs it: connections, the directory,
 * the chunk window and deadlines. One shape for both directions; the client builds it once.
 */

import type { RpcPool } from "@ftfs/protocol/io";
import type { DirectoryClient } from "./directory.ts";
import type { RetryObserver } from "./retry.ts";

export interface TransferContext {
  readonly pool: RpcPool;
  readonly directory: DirectoryClient;
  readonly chunksInFlight: number;
  readonly chunkTimeoutMs: number;
  readonly retryDeadlineMs: number;
  readonly observer?: RetryObserver | undefined;
  /** Told of each chunk's bytes moved, either way: collects garbage now and then (collector). */
  readonly moved: (bytes: number) => void;
}

/**
 * Counts the bytes a client moves, across all its transfers, and asks for a full garbage
 * collection after every `intervalBytes` of them (0: never). Every chunk a transfer moves
 * leaves buffers behind (socket reads, chunk frames) that live outside the collector's heap,
 * so it lets hundreds of MiB of them pile up before it runs on its own; a process judged by its
 * memory (the CLI, the S3 gateway) collects by bytes moved instead.
 */
export function collector(intervalBytes: number): (bytes: number) => void {
  if (intervalBytes <= 0) return () => undefined;
  let sinceBytes = 0;
  return (bytes) => {
    sinceBytes += bytes;
    if (sinceBytes < intervalBytes) return;
    sinceBytes = 0;
    Bun.gc(true);
  };
}
