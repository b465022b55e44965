/**
 * Moving one chunk to or from the storage groups. A put goes to the group's primary stamped
 * with the group's epoch; a refusal or failure refreshes the view and retries (perhaps on the
 * next group in the chunk's rendezvous ranking, if its own group has no primary). A get tries
 * the in-sync replicas, starting at the one the chunk's id picks (reads spread over all of them),
 * verifying the SHA-256 of what comes back; a bad, missing or unreachable replica is skipped.
 * Both hedge: a request that stays quiet gets a second one.
 */

import {
  FtfsError,
  fail,
  chunkReadAddresses,
  type ChunkOwner,
  type ChunkRef,
  type Ticket,
} from "@ftfs/protocol/core";
import {
  AllAttemptsFailed,
  checkChunkBytes,
  fetchChunk,
  hedgedFirst,
  type RpcPool,
} from "@ftfs/protocol/io";
import { rankGroups } from "../core/rendezvous.ts";
import type { GroupViews } from "./groups.ts";
import { isRetryableError, withRetry, type RetryObserver } from "./retry.ts";

export interface ChunkTransferOptions {
  readonly pool: RpcPool;
  readonly views: GroupViews;
  readonly timeoutMs: number;
  /** A chunk request quiet this long gets a second one, to another replica or group. */
  readonly hedgeMs: number;
  readonly retryDeadlineMs: number;
  readonly signal?: AbortSignal;
  readonly observer?: RetryObserver | undefined;
  /** Group → the placement ticket to write there (a cluster with a key gives them). */
  readonly tickets?: ReadonlyMap<string, Ticket>;
}

/** A stored chunk, and the receipt its group's primary gave (a cluster with a key gives them). */
export interface PlacedChunk extends ChunkRef {
  readonly receipt?: string;
}

/**
 * Store one chunk; resolves with its reference once every in-sync replica of its group has it.
 * `groups` is the set placement offered. The chunk goes to its best-ranked group with a
 * primary; if that group fails, the next attempt goes to the next-ranked group instead of
 * waiting out the failover: the manifest records each chunk's group, so any group will do,
 * and the user sees a blip rather than the seconds it takes to detect a dead primary.
 */
export async function putChunk(
  options: ChunkTransferOptions,
  chunkId: string,
  bytes: Uint8Array,
  owner: ChunkOwner,
  groups: readonly string[],
): Promise<PlacedChunk> {
  const ranked = rankGroups(chunkId, groups);
  const failedGroups = new Set<string>();
  const putTo = async (group: string): Promise<PlacedChunk> => {
    const view = options.views.get(group);
    if (view === undefined || view.primary === null) {
      throw new FtfsError("UNAVAILABLE", "no storage group has a primary to take writes");
    }
    const ticket = options.tickets?.get(group);
    let receipt: string | undefined;
    try {
      const answer = await options.pool.call(
        view.primary,
        "putChunk",
        ticket === undefined ? { chunkId, owner } : { chunkId, owner, ticket },
        { payload: bytes, epoch: view.epoch, timeoutMs: options.timeoutMs },
      );
      receipt = answer.body.receipt;
    } catch (error) {
      if (isRetryableError(error)) failedGroups.add(group);
      throw error;
    }
    const ref = { id: chunkId, bytes: bytes.length, group };
    return receipt === undefined ? ref : { ...ref, receipt };
  };
  return withRetry(
    async () => {
      const first = chooseGroup(ranked, options.views, failedGroups);
      // A primary that stops answering (paused, disk stalled) is hedged onto another group:
      // the manifest records each chunk's group, so any group will do. Both may store it; the
      // loser's copy is an unreferenced chunk that garbage collection removes.
      const other = chooseGroup(ranked, options.views, new Set([...failedGroups, first]));
      const targets = other === first ? [first] : [first, other];
      return firstOf(
        targets.map((group) => () => putTo(group)),
        options.hedgeMs,
      );
    },
    retryPolicy(options, `putChunk ${chunkId.slice(0, 12)}`),
  );
}

/** The first success of hedged attempts; when all fail, the first failure as the caller's. */
async function firstOf<T>(attempts: ReadonlyArray<() => Promise<T>>, hedgeMs: number): Promise<T> {
  try {
    return await hedgedFirst(attempts, hedgeMs);
  } catch (error) {
    if (error instanceof AllAttemptsFailed) throw error.failures[0] ?? error;
    throw error;
  }
}

/**
 * The best-ranked group with a primary that has not failed this chunk yet; once every group
 * has failed it, start over from the best (the views have been refreshed in between).
 */
function chooseGroup(ranked: readonly string[], views: GroupViews, failed: Set<string>): string {
  const writable = ranked.filter((group) => (views.get(group)?.primary ?? null) !== null);
  const fresh = writable.find((group) => !failed.has(group));
  if (fresh !== undefined) return fresh;
  failed.clear();
  return writable[0] ?? ranked[0] ?? "";
}

/** Fetch one chunk and verify it; tries every replica, and retries while some are unreachable. */
export async function getChunk(options: ChunkTransferOptions, ref: ChunkRef): Promise<Uint8Array> {
  const what = `getChunk ${ref.id.slice(0, 12)}`;
  return withRetry(() => getFromSomeReplica(options, ref), retryPolicy(options, what));
}

function retryPolicy(options: ChunkTransferOptions, what: string): Parameters<typeof withRetry>[1] {
  return {
    what,
    observer: options.observer,
    deadlineMs: () => options.retryDeadlineMs,
    onRetry: () => options.views.refresh(),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
}

async function getFromSomeReplica(
  options: ChunkTransferOptions,
  ref: ChunkRef,
): Promise<Uint8Array> {
  const view = options.views.get(ref.group);
  const addresses = view === undefined ? [] : chunkReadAddresses(view, ref.id);
  if (addresses.length === 0) {
    throw new FtfsError(
      "UNAVAILABLE",
      `storage group ${ref.group} has no replica to read chunk ${ref.id.slice(0, 12)} from`,
    );
  }
  // One replica after another; one that stays quiet past the hedge delay gets company.
  const fetched = await fetchChunk(options.pool, {
    chunkId: ref.id,
    addresses,
    timeoutMs: options.timeoutMs,
    hedgeMs: options.hedgeMs,
    verify: (bytes) =>
      bytes.length === ref.bytes
        ? checkChunkBytes(ref.id, bytes)
        : fail("INTEGRITY", `chunk ${ref.id.slice(0, 12)} is not ${ref.bytes} bytes long`),
  });
  if (fetched.ok) return fetched.value;
  throw worstFailure(
    ref,
    fetched.failures.map((failure) => failure.error),
  );
}

/**
 * Every replica failed. If any failure may pass (a node down, a group failing over), the
 * answer is retryable and the caller waits and tries again; if all of them answered that the
 * chunk is bad or absent, retrying cannot help.
 */
function worstFailure(ref: ChunkRef, failures: readonly FtfsError[]): FtfsError {
  const short = ref.id.slice(0, 12);
  const transient = failures.find((failure) => isRetryableError(failure));
  if (transient !== undefined) {
    return new FtfsError(
      transient.code,
      `no replica of chunk ${short} in group ${ref.group} answered: ${transient.message}`,
      { cause: transient },
    );
  }
  if (failures.some((failure) => failure.code === "INTEGRITY")) {
    return new FtfsError(
      "INTEGRITY",
      `every replica of chunk ${short} in group ${ref.group} is missing or corrupt`,
    );
  }
  if (failures.every((failure) => failure.code === "CHUNK_NOT_FOUND")) {
    return new FtfsError("CHUNK_NOT_FOUND", `no replica in group ${ref.group} has chunk ${short}`);
  }
  return failures[0] ?? new FtfsError("UNAVAILABLE", `no replica of chunk ${short} answered`);
}
