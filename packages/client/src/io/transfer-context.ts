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
  /** Collect garbage after each this many bytes moved; 0 never (see CLI_READ_GC_INTERVAL_BYTES). */
  readonly gcIntervalBytes: number;
}
