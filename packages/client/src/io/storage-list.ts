/**
 * Ask every storage group what a user owns: one live node per group (the primary first, then
 * each replica until one answers), all groups in parallel. A group with no live node is an
 * error: a listing silently missing a group's files would lie.
 */

import { FtfsError, readAddresses, type GroupView } from "@ftfs/protocol/core";
import type { RpcPool } from "@ftfs/protocol/io";
import type { GroupListing } from "../core/storage-listing.ts";

export async function listEveryGroup(
  pool: RpcPool,
  groups: readonly GroupView[],
  uid: string,
  timeoutMs: number,
): Promise<GroupListing[]> {
  return Promise.all(groups.map((view) => listOneGroup(pool, view, uid, timeoutMs)));
}

async function listOneGroup(
  pool: RpcPool,
  view: GroupView,
  uid: string,
  timeoutMs: number,
): Promise<GroupListing> {
  let lastError: unknown = null;
  for (const address of readAddresses(view)) {
    try {
      const answer = await pool.call(address, "listOwned", { uid }, { timeoutMs });
      return { group: view.group, node: answer.body.node, files: answer.body.files };
    } catch (error) {
      if (error instanceof FtfsError && !error.retryable) throw error;
      lastError = error;
    }
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new FtfsError("UNAVAILABLE", `no node of storage group ${view.group} answered${reason}`);
}
