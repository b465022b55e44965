/**
 * Resuming an upload: which chunks an earlier run stored need not be sent again. Asked, never
 * guessed: a chunk counts only when every in-sync replica of its group answers that it holds
 * it under a reference of this very upload. That reference keeps the chunk from garbage
 * collection until the upload commits or is swept past its deadline, and a swept upload's
 * commit is refused (README: Garbage collection, interrupted uploads), so a chunk skipped here is there at the commit.
 */

import { CHUNK_IDS_PER_REQUEST_MAX, readAddresses, type ChunkOwner } from "@ftfs/protocol/core";
import type { RpcPool } from "@ftfs/protocol/io";
import type { JournalChunk } from "../core/upload-journal.ts";
import type { GroupViews } from "./groups.ts";

export interface HeldQuery {
  readonly pool: RpcPool;
  readonly views: GroupViews;
  readonly owner: ChunkOwner;
  readonly timeoutMs: number;
}

/** The journal's chunks that are still held, by index. */
export async function chunksStillHeld(
  query: HeldQuery,
  chunks: Iterable<JournalChunk>,
): Promise<Map<number, JournalChunk>> {
  const byGroup = new Map<string, JournalChunk[]>();
  for (const chunk of chunks) {
    const list = byGroup.get(chunk.group) ?? [];
    list.push(chunk);
    byGroup.set(chunk.group, list);
  }
  const answers = await Promise.all(
    [...byGroup].map(async ([group, list]) => {
      const held = await heldInGroup(
        query,
        group,
        list.map((chunk) => chunk.id),
      );
      return list.filter((chunk) => held.has(chunk.id));
    }),
  );
  return new Map(answers.flat().map((chunk) => [chunk.index, chunk]));
}

/**
 * The ids every in-sync replica of `group` holds for the upload. A replica that does not
 * answer (down, or a node too old to know the question) makes the whole group's answer empty:
 * sending a chunk again is always safe, skipping one that is not there never is.
 */
async function heldInGroup(
  query: HeldQuery,
  group: string,
  chunkIds: readonly string[],
): Promise<Set<string>> {
  const view = query.views.get(group);
  const addresses = view === undefined ? [] : readAddresses(view);
  if (addresses.length === 0) return new Set();
  const perNode = await Promise.all(addresses.map((address) => heldOn(query, address, chunkIds)));
  if (perNode.some((answer) => answer === null)) return new Set();
  const answers = perNode.filter((answer): answer is Set<string> => answer !== null);
  return new Set(chunkIds.filter((id) => answers.every((answer) => answer.has(id))));
}

async function heldOn(
  query: HeldQuery,
  address: string,
  chunkIds: readonly string[],
): Promise<Set<string> | null> {
  const held = new Set<string>();
  for (let start = 0; start < chunkIds.length; start += CHUNK_IDS_PER_REQUEST_MAX) {
    const batch = chunkIds.slice(start, start + CHUNK_IDS_PER_REQUEST_MAX);
    try {
      const answer = await query.pool.call(
        address,
        "uploadHeld",
        { owner: query.owner, chunkIds: [...batch] },
        { timeoutMs: query.timeoutMs },
      );
      for (const id of answer.body.present) held.add(id);
    } catch {
      return null; // no answer is no confirmation: those chunks are sent again
    }
  }
  return held;
}
