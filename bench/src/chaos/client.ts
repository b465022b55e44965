/**
 * Every FtfsClient and every raw connection pool the chaos harness makes comes from here, so
 * switching the harness to logged-in users and to the cluster key (cluster security) is a
 * change to this one file.
 */

import { RpcPool } from "@ftfs/protocol/io";
import { FtfsClient } from "ftfs";

const POOL_CONNECT_TIMEOUT_MS = 2_000;

export interface ChaosClient {
  readonly client: FtfsClient;
  close(): void;
}

/** A client with its own connection pool, as one application process would have. */
export function chaosClient(directories: readonly string[]): ChaosClient {
  const pool = new RpcPool(POOL_CONNECT_TIMEOUT_MS);
  const client = new FtfsClient({ directories, pool });
  return {
    client,
    close: () => {
      client.close();
      pool.close();
    },
  };
}

/**
 * A pool for the harness's own calls to nodes (clusterStatus, stale listings, manifests,
 * hasChunks), which a secured cluster will take only from a holder of the cluster key.
 */
export function chaosNodePool(connectTimeoutMs: number): RpcPool {
  return new RpcPool(connectTimeoutMs);
}
