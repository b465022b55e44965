/**
 * The cluster's status as an operator reads it (`ftfs status`: FtfsClient.status, the
 * directory primary's view completed by the other directories), for benches that watch a
 * cluster while they hurt it. Bounded in time: during a failover the status call may retry
 * for seconds, and a watcher must take its next sample instead. Owns no client.
 */

import type { ClusterStatus, FtfsClient } from "@ftfs/client";

/** A directory answers status in milliseconds; this long means busy or electing. */
export const STATUS_ANSWER_TIMEOUT_MS = 2_000;

/** The status, or null when none came within `timeoutMs` (the caller asks again later). */
export async function statusWithin(
  client: FtfsClient,
  timeoutMs: number = STATUS_ANSWER_TIMEOUT_MS,
): Promise<ClusterStatus | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    return await Promise.race([client.status(), timeout]);
  } catch {
    return null; // the directory is busy, electing or down: ask again on the next poll
  } finally {
    clearTimeout(timer);
  }
}
