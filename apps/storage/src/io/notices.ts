/**
 * The directory's notices, applied to this node's owner references: commitRefs (the upload's
 * chunks here are a kept version's), dropUploadRefs (that upload's references go: deleted, or
 * moved to another group) and dropRefs (a name deleted, from outbox rows of older builds). The
 * handlers (handlers.ts) apply them on every node of the group; the simulation in
 * tests/simulation drives the same function.
 *
 * Every notice is exact and idempotent: it names the upload it changes, so a late or repeated
 * delivery cannot touch another upload of the same name, and a commit that finds no pending
 * reference records a committed one. A notice from an older directory term than one this node
 * heard is a deposed primary's stale batch and is refused, so it cannot undo a newer one.
 */

import { fail, ok, type RequestBody, type Result } from "@ftfs/protocol/core";
import type { RefsStore } from "./refs-store.ts";

type Body<O extends "commitRefs" | "dropRefs" | "dropUploadRefs"> = Omit<
  RequestBody<O>,
  "forwarded"
>;

export type RefsNotice =
  | { readonly op: "commitRefs"; readonly body: Body<"commitRefs"> }
  | { readonly op: "dropRefs"; readonly body: Body<"dropRefs"> }
  | { readonly op: "dropUploadRefs"; readonly body: Body<"dropUploadRefs"> };

export interface NoticeEffects {
  /** Wall-clock time recorded on references a commit creates. */
  readonly nowMs: number;
  /** The chunks of an upload about to be dropped (the chunk store keeps them a grace). */
  readonly beforeDropUpload?: (chunkIds: readonly string[]) => void;
}

/** Apply one notice; answers how many references changed, or why it was refused. */
export function applyNotice(
  refs: RefsStore,
  notice: RefsNotice,
  effects: NoticeEffects,
): Result<number> {
  const term = notice.body.term;
  if (term !== undefined && !refs.admitDirectoryTerm(term)) {
    return fail(
      "NOT_PRIMARY",
      `a newer directory primary than term ${term} speaks for the cluster`,
    );
  }
  switch (notice.op) {
    case "commitRefs": {
      const { uid, name, uploadId, version, chunkIds, chunkBytes, chunkUses } = notice.body;
      const { nowMs } = effects;
      return ok(refs.commit(uid, name, uploadId, version, chunkIds, chunkBytes, nowMs, chunkUses));
    }
    case "dropRefs":
      return ok(refs.drop(notice.body.uid, notice.body.name));
    case "dropUploadRefs": {
      const { uid, name, uploadId } = notice.body;
      effects.beforeDropUpload?.(refs.chunksOfUpload(uid, name, uploadId));
      return ok(refs.dropUpload(uid, name, uploadId));
    }
  }
}
