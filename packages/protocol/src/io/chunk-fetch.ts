/**
 * The one way to fetch a chunk from a storage group, for every reader (the client library, the
 * directory's rebalancer, a storage node's repairer and catch-up): replicas in the caller's
 * order, a quiet one given company after `hedgeMs` (quiet: nothing heard on its connection,
 * see hedge.ts), and the bytes checked against the chunk's id before anyone uses them; a
 * replica whose copy is bad or missing is passed over. Every failure is kept, by address, for
 * the caller to judge (retry, report, repair).
 */

import { FtfsError, ok, type Result } from "../core/index.ts";
import { AllAttemptsFailed, hedgedFirst } from "./hedge.ts";
import type { RpcPool } from "./rpc-client.ts";
import { sha256Hex } from "./security/node-hashes.ts";

export interface ChunkFetch<T> {
  readonly chunkId: string;
  /** Replicas to ask, in order. */
  readonly addresses: readonly string[];
  readonly timeoutMs: number;
  /** A replica quiet this long gets company (the next one is asked too); absent: one at a time. */
  readonly hedgeMs?: number;
  /**
   * Whether the bytes are the chunk, and what the caller keeps of them (storage's verified
   * chunk); by default their SHA-256 must be the id. A refusal passes the replica over.
   */
  readonly verify?: (bytes: Uint8Array) => Result<T>;
}

export interface FetchFailure {
  readonly address: string;
  readonly error: FtfsError;
}

export type FetchOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly from: string }
  | { readonly ok: false; readonly failures: readonly FetchFailure[] };

/** The bytes are the chunk: their SHA-256 is its id. */
export function checkChunkBytes(chunkId: string, bytes: Uint8Array): Result<Uint8Array> {
  if (sha256Hex(bytes) === chunkId) return ok(bytes);
  return {
    ok: false,
    error: new FtfsError("INTEGRITY", `chunk ${chunkId.slice(0, 12)} does not match its sha256`),
  };
}

export async function fetchChunk<T = Uint8Array>(
  pool: RpcPool,
  fetch: ChunkFetch<T>,
): Promise<FetchOutcome<T>> {
  const { chunkId, timeoutMs, addresses } = fetch;
  const verify =
    fetch.verify ?? ((bytes: Uint8Array) => checkChunkBytes(chunkId, bytes) as Result<T>);
  const failures: FetchFailure[] = [];
  let won = false;
  const attempts = addresses.map((address) => async () => {
    let checked: Result<T>;
    try {
      const answer = await pool.call(address, "getChunk", { chunkId }, { timeoutMs });
      // A hedge that lost the race: its bytes are not used, so they are not hashed either.
      if (won) {
        pool.release(answer.payload);
        throw new FtfsError("UNAVAILABLE", "another replica answered first");
      }
      checked = verify(answer.payload);
      if (!checked.ok) pool.release(answer.payload);
    } catch (error) {
      if (!(error instanceof FtfsError)) throw error;
      checked = { ok: false, error };
    }
    if (checked.ok) {
      won = true;
      return { value: checked.value, from: address };
    }
    failures.push({ address, error: checked.error });
    throw checked.error;
  });
  try {
    const first = await hedgedFirst(attempts, fetch.hedgeMs ?? Number.POSITIVE_INFINITY, {
      heardAgoMs: (index) => pool.heardAgoMs(addresses[index] ?? ""),
    });
    return { ok: true, ...first };
  } catch (error) {
    if (!(error instanceof AllAttemptsFailed)) throw error;
    return { ok: false, failures };
  }
}
