/**
 * The storage node's request handlers: putChunk, getChunk, hasChunks, commitRefs, dropRefs,
 * dropUploadRefs, listOwned, syncRefs, uploadHeld. Each checks names, asks core/request-rules.ts whether
 * this node may accept a write, applies it locally and (as primary) forwards it through the
 * Replicator. User and peer faults are answered as values; only our own bugs and unexpected
 * I/O failures throw.
 */

import {
  checkActsFor,
  fail,
  ok,
  SYNC_REFS_PER_PAGE_MAX,
  validateStoredName,
  validateUid,
  type ChunkOwner,
  type Op,
  type RequestBody,
  type Result,
} from "@ftfs/protocol/core";
import {
  checkTicket,
  issueReceipt,
  type Handler,
  type Keyring,
  type Logger,
  type Reply,
  type RequestContext,
} from "@ftfs/protocol/io";
import {
  admitWrite,
  OwnedFilesAggregate,
  viewIsBehind,
  type Admission,
  type NodeState,
} from "../core/index.ts";
import type { ChunkStore, VerifiedChunk } from "./chunk-store.ts";
import type { GroupCommit } from "./group-commit.ts";
import type { RefsStore } from "./refs-store.ts";
import { applyNotice, type RefsNotice } from "./notices.ts";
import type { Replicator } from "./replicator.ts";

export interface StorageContext {
  readonly node: string;
  /** This node's group; null for a spare not assigned one yet (it holds nothing). */
  readonly group: () => string | null;
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  /** Requests' reference changes go through here: those that arrive together share a commit. */
  readonly refsCommit: GroupCommit;
  readonly replicator: Replicator;
  readonly logger: Logger;
  /** Checks users' placement tickets and signs receipts; open in insecure mode. */
  readonly keyring: Keyring;
  /** Wall-clock time, for what is recorded (when a reference was made). */
  readonly nowMs: () => number;
  /** Monotonic time, for the primary lease: a wall-clock step must not stretch it. */
  readonly monotonicMs: () => number;
  /** This node's id, latest group view and primary lease. */
  readonly state: () => NodeState;
  /** Ask the heartbeat for a fresh view now. */
  readonly refreshView: () => void;
}

/** The ops a storage node serves. */
export type StorageOp =
  | "putChunk"
  | "getChunk"
  | "hasChunks"
  | "commitRefs"
  | "dropRefs"
  | "dropUploadRefs"
  | "listOwned"
  | "syncRefs"
  | "uploadHeld";
export type StorageHandlers = { readonly [O in StorageOp]: Handler<O> };

type Answer<O extends Op> = Promise<Result<Reply<O>>>;

export function storageHandlers(context: StorageContext): StorageHandlers {
  return {
    putChunk: (body, request) => onPutChunk(context, body, request),
    getChunk: (body) => onGetChunk(context, body),
    hasChunks: async (body) =>
      ok({ body: { present: body.chunkIds.filter((id) => context.chunks.has(id)) } }),
    commitRefs: (body, request) => onNotice(context, "commitRefs", body, request),
    dropRefs: (body, request) => onNotice(context, "dropRefs", body, request),
    dropUploadRefs: (body, request) => onNotice(context, "dropUploadRefs", body, request),
    listOwned: (body, request) => onListOwned(context, body, request),
    syncRefs: (body) => onSyncRefs(context, body),
    uploadHeld: (body, request) => onUploadHeld(context, body, request),
  };
}

/**
 * A resumed upload asks which of its chunks need not be sent again: those this node holds
 * under a reference of that very upload. Such a reference keeps the chunk from garbage
 * collection until the upload commits or is swept (README: Garbage collection, interrupted uploads), so the answer stays
 * true until the commit; a bare chunk without it could be confirmed garbage at any moment.
 */
async function onUploadHeld(
  context: StorageContext,
  body: RequestBody<"uploadHeld">,
  request: RequestContext,
): Answer<"uploadHeld"> {
  const valid = validateOwner(body.owner.uid, body.owner.name);
  if (!valid.ok) return valid;
  const allowed = checkActsFor(request.principal, request.authenticated, body.owner.uid);
  if (!allowed.ok) return allowed;
  const present = body.chunkIds.filter(
    (chunkId) => context.refs.uploadReferences(body.owner, chunkId) && context.chunks.has(chunkId),
  );
  return ok({ body: { present } });
}

/** A page of our references for a learner; the epoch lets it check we answer as its primary. */
async function onSyncRefs(
  context: StorageContext,
  body: RequestBody<"syncRefs">,
): Answer<"syncRefs"> {
  const view = context.state().view;
  if (view === null) {
    return fail("UNAVAILABLE", `storage node ${context.node} has no group view yet; retry`);
  }
  const refs = context.refs.pageAfter(body.afterSeq, SYNC_REFS_PER_PAGE_MAX);
  return ok({ body: { epoch: view.epoch, refs, done: refs.length < SYNC_REFS_PER_PAGE_MAX } });
}

function admit(
  context: StorageContext,
  forwarded: boolean | undefined,
  epoch: number,
): Result<Admission> {
  const state = context.state();
  if (viewIsBehind(state.view, epoch)) context.refreshView();
  return admitWrite(state, { forwarded: forwarded === true, epoch }, context.monotonicMs());
}

function validateOwner(uid: string, name: string): Result<void> {
  const validUid = validateUid(uid);
  if (!validUid.ok) return validUid;
  const validName = validateStoredName(name);
  if (!validName.ok) return validName;
  return ok(undefined);
}

async function onPutChunk(
  context: StorageContext,
  body: RequestBody<"putChunk">,
  request: RequestContext,
): Answer<"putChunk"> {
  const valid = validateOwner(body.owner.uid, body.owner.name);
  if (!valid.ok) return valid;
  // A user stores chunks under its own name only: references decide whose files they are.
  const allowed = checkActsFor(request.principal, request.authenticated, body.owner.uid);
  if (!allowed.ok) return allowed;
  const ticketed = checkPutTicket(context, body, request);
  if (!ticketed.ok) return ticketed;
  const admitted = admit(context, body.forwarded, request.epoch);
  if (!admitted.ok) return admitted;
  // Verified before anything is stored or forwarded: bad bytes never become visible anywhere.
  // (The frame's MAC leaves these bytes out for that reason: see channel-auth.ts.)
  const chunk = context.chunks.verify(body.chunkId, request.payload);
  if (!chunk.ok) return chunk;
  const forwardBody = { chunkId: body.chunkId, owner: body.owner, forwarded: true };
  const [local, remote] = await Promise.all([
    storeLocally(context, chunk.value, body.owner),
    context.replicator.forward(admitted.value.forwardTo, "putChunk", forwardBody, {
      epoch: admitted.value.epoch,
      payload: request.payload,
    }),
  ]);
  if (!local.ok) return local;
  if (!remote.ok) return remote;
  const bytes = chunk.value.bytes.length;
  const answer = { chunkId: body.chunkId, bytes, replicas: 1 + remote.value };
  // The primary vouches for the stored chunk; the directory commits only what it vouched for.
  const group = context.group();
  const receipt =
    body.forwarded === true || group === null
      ? null
      : issueReceipt(context.keyring, {
          group,
          chunkId: body.chunkId,
          bytes,
          uploadId: body.owner.uploadId,
        });
  return ok({ body: receipt === null ? answer : { ...answer, receipt } });
}

/**
 * A user's write needs the directory's ticket for this group and upload, within its bytes;
 * nodes (forwarding, rebalancing) need none, and an insecure node checks nothing.
 */
function checkPutTicket(
  context: StorageContext,
  body: RequestBody<"putChunk">,
  request: RequestContext,
): Result<void> {
  if (!request.authenticated || request.principal.kind !== "user") return ok(undefined);
  if (body.forwarded === true) return fail("FORBIDDEN", "only storage nodes forward chunk writes");
  const ticket = body.ticket;
  if (ticket === undefined) {
    return fail("TICKET_REQUIRED", "a chunk write needs the placement ticket placeUpload gave");
  }
  const { uid, name, uploadId } = body.owner;
  const use = { group: context.group(), uid, name, uploadId };
  const checked = checkTicket(context.keyring, ticket, use, context.nowMs());
  if (!checked.ok) return checked;
  const after =
    context.refs.uploadBytes(uid, name, uploadId, body.chunkId) + request.payload.length;
  if (after > ticket.bytesMax) {
    return fail(
      "TICKET_INVALID",
      `the upload would hold ${after} bytes here, over its ticket's ${ticket.bytesMax}`,
    );
  }
  return ok(undefined);
}

/**
 * The reference first, then the chunk: garbage collection asks the directory about a chunk
 * with the uploads that hold it, and re-reads them before it deletes, so a reference recorded
 * before the write means no put is ever in flight unseen. The reference is committed in a round
 * shared with the other requests of the moment (group-commit.ts), and the chunk's store starts
 * in the same synchronous step as that commit. A write that fails takes back the reference it
 * made, so no reference names a chunk that is not here.
 */
export async function storeLocally(
  context: Pick<StorageContext, "refs" | "refsCommit" | "chunks" | "nowMs" | "logger">,
  chunk: VerifiedChunk,
  owner: ChunkOwner,
): Promise<Result<void>> {
  const started = await guardRefs(
    context.refsCommit.submit(
      () => context.refs.addPending(chunk.id, owner, chunk.bytes.length, context.nowMs()),
      (recorded) => {
        const put = context.chunks.put(chunk);
        // Awaited below once the round is durable; if the round fails, its error is the answer
        // and the store's outcome (an orphan chunk at worst, for GC) is nobody's to hear.
        put.catch(() => undefined);
        // Wrapped, so the round hands back the store under way rather than waiting for it.
        return { recorded, put };
      },
    ),
  );
  if (!started.ok) return started;
  const { recorded, put: putting } = started.value;
  const put = await putting;
  if (!put.ok) {
    // Nothing was stored: the reference this put made would name a chunk that is not here.
    if (recorded) {
      const dropped = await guardRefs(
        context.refsCommit.submit(() =>
          context.refs.dropPendingRef(chunk.id, owner.uid, owner.uploadId),
        ),
      );
      if (!dropped.ok) return dropped;
    }
    return put;
  }
  context.logger.debug("chunk stored", {
    chunkId: chunk.id,
    bytes: chunk.bytes.length,
    written: put.value.written,
  });
  return ok(undefined);
}

async function onGetChunk(
  context: StorageContext,
  body: RequestBody<"getChunk">,
): Answer<"getChunk"> {
  const read = await context.chunks.get(body.chunkId);
  if (!read.ok) return read;
  return ok({ body: { chunkId: body.chunkId, bytes: read.value.length }, payload: read.value });
}

/**
 * A directory notice (commitRefs, dropRefs, dropUploadRefs): admitted like a write (epoch,
 * primary lease), applied here (notices.ts), then forwarded to the group's other nodes.
 */
async function onNotice<O extends RefsNotice["op"]>(
  context: StorageContext,
  op: O,
  body: RequestBody<O>,
  request: RequestContext,
): Promise<Result<Reply<O>>> {
  const valid = validateOwner(body.uid, body.name);
  if (!valid.ok) return valid;
  const admitted = admit(context, body.forwarded, request.epoch);
  if (!admitted.ok) return admitted;
  const { forwarded: _, ...fields } = body;
  // The three ops' bodies are told apart by `op`; the union cannot follow the generic.
  const notice = { op, body: fields } as RefsNotice;
  const applied = await guardRefs(
    context.refsCommit.submit(() =>
      applyNotice(context.refs, notice, {
        nowMs: context.nowMs(),
        // A moved or deleted upload's chunks stay a grace for readers of the old manifest.
        beforeDropUpload: (chunkIds) => {
          for (const chunkId of chunkIds) context.chunks.hold(chunkId);
        },
      }),
    ),
  );
  if (!applied.ok) return applied;
  if (!applied.value.ok) return applied.value;
  const remote = await context.replicator.forward(
    admitted.value.forwardTo,
    op,
    { ...fields, forwarded: true } as RequestBody<O>,
    admitted.value,
  );
  if (!remote.ok) return remote;
  context.logger.debug("directory notice applied", {
    op,
    uid: body.uid,
    name: body.name,
    refs: applied.value.value,
  });
  return ok({ body: {} } as Reply<O>);
}

async function onListOwned(
  context: StorageContext,
  body: RequestBody<"listOwned">,
  request: RequestContext,
): Answer<"listOwned"> {
  const valid = validateUid(body.uid);
  if (!valid.ok) return valid;
  const allowed = checkActsFor(request.principal, request.authenticated, body.uid);
  if (!allowed.ok) return allowed;
  const group = context.group();
  if (group === null) return ok({ body: { node: context.node, files: [] } });
  const aggregate = new OwnedFilesAggregate();
  context.refs.forEachOwnedBy(body.uid, (row) => aggregate.add(row));
  const listing = aggregate.listing(group);
  if (listing.truncated) {
    context.logger.warn("listOwned answer truncated", {
      uid: body.uid,
      files: listing.files.length,
    });
  }
  return ok({ body: { node: context.node, files: listing.files } });
}

/** The references database ran out of room: that is DISK_FULL to the caller, not a bug. */
async function guardRefs<T>(applied: Promise<T>): Promise<Result<T>> {
  try {
    return ok(await applied);
  } catch (error) {
    if (isSqliteFull(error)) {
      return fail("DISK_FULL", "storage node's disk is full (owner references)");
    }
    throw error;
  }
}

function isSqliteFull(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("code" in error)) return false;
  return (error as { code: unknown }).code === "SQLITE_FULL";
}
