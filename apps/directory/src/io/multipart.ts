/**
 * S3 multipart uploads at the directory: an upload is opened and dropped through the log, its
 * parts are uploaded as names of their own (placeUpload and commitUpload, as any file), and a
 * completion reads the parts as they stand, computes the joined object's digest over their
 * chunk ids, and proposes the command that joins them, pinned to the versions read.
 * Listings are linearizable reads through the primary, one bounded page at a time.
 */

import {
  MULTIPART_UPLOAD_LIFETIME_MS,
  ok,
  uploadDeadlineMs,
  uploadIdWithDeadline,
  type Op,
  type RequestBody,
  type Result,
} from "@ftfs/protocol/core";
import { chunkListSha256, type Logger, type Reply } from "@ftfs/protocol/io";
import {
  listBucketUploads,
  listParts,
  MULTIPART_EXPIRED_PER_COMMAND_MAX,
  noSuchUpload,
  partsToJoin,
  type MetadataView,
  type MultipartRecord,
} from "../core/index.ts";
import type { DirectorySettings } from "./handlers.ts";
import type { Proposer } from "./replicator.ts";

export interface MultipartContext {
  readonly store: MetadataView;
  readonly proposer: Proposer;
  readonly settings: DirectorySettings;
  readonly nowMs: () => number;
  readonly newId: () => string;
  readonly logger: Logger;
}

type Answer<O extends Op> = Promise<Result<Reply<O>>>;

export async function onMultipartCreate(
  context: MultipartContext,
  body: RequestBody<"multipartCreate">,
): Answer<"multipartCreate"> {
  const atMs = context.nowMs();
  const uploadId = uploadIdWithDeadline(atMs + MULTIPART_UPLOAD_LIFETIME_MS, context.newId());
  const opened = await context.proposer.propose({
    type: "multipartCreate",
    uid: body.uid,
    uploadId,
    name: body.name,
    ...(body.attrs === undefined ? {} : { attrs: body.attrs }),
    atMs,
  });
  if (!opened.ok) return opened;
  context.logger.info("multipart upload opened", { uid: body.uid, name: body.name, uploadId });
  return ok({ body: { uploadId, initiatedAtMs: opened.value.initiatedAtMs } });
}

export async function onMultipartAbort(
  context: MultipartContext,
  body: RequestBody<"multipartAbort">,
): Answer<"multipartAbort"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  // An upload's object never changes: checked here, it holds when the command applies.
  const upload = context.store.getMultipart(body.uid, body.uploadId);
  if (upload !== undefined && upload.name !== body.name) return noSuchUpload(body.uploadId);
  const aborted = await context.proposer.propose({
    type: "multipartAbort",
    uid: body.uid,
    uploadId: body.uploadId,
    atMs: context.nowMs(),
    forgetParts: true,
  });
  if (!aborted.ok) return aborted;
  context.logger.info("multipart upload aborted", {
    uid: body.uid,
    uploadId: body.uploadId,
    parts: aborted.value.partsDropped,
  });
  return ok({ body: { uploadId: body.uploadId } });
}

export async function onMultipartComplete(
  context: MultipartContext,
  body: RequestBody<"multipartComplete">,
): Answer<"multipartComplete"> {
  const { uid, uploadId } = body;
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const completed = context.store.findUpload(uid, uploadId);
  const joined = partsToJoin(context.store, uid, uploadId, body.parts);
  const name = joined.ok ? joined.value.upload.name : completed?.name;
  if (name !== undefined && name !== body.name) return noSuchUpload(uploadId);
  // A completion retried after it applied finds no open upload: the command answers it.
  const parts = joined.ok ? joined.value.parts : [];
  if (!joined.ok && completed === undefined) return joined;
  const done = await context.proposer.propose({
    type: "multipartComplete",
    uid,
    uploadId,
    parts: parts.map(({ partNumber, version, md5 }) => ({ partNumber, version, md5 })),
    sha256: chunkListSha256(parts.flatMap((part) => part.chunks.map((chunk) => chunk.id))),
    md5: body.md5,
    ...(body.precondition === undefined ? {} : { precondition: body.precondition }),
    atMs: context.nowMs(),
    ...context.settings.quotaDefaults,
    keepVersions: context.settings.keepVersions,
    forgetParts: true,
  });
  if (!done.ok) return done;
  context.logger.info("multipart upload completed", {
    uid,
    uploadId,
    name: done.value.name,
    version: done.value.version,
    parts: parts.length,
  });
  return ok({ body: done.value });
}

export async function onMultipartParts(
  context: MultipartContext,
  body: RequestBody<"multipartParts">,
): Answer<"multipartParts"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const page = listParts(context.store, body.uid, body.uploadId, body.afterPart, body.countMax);
  if (!page.ok) return page;
  const { upload, parts, truncated } = page.value;
  return ok({
    body: { name: upload.name, initiatedAtMs: upload.initiatedAtMs, parts: [...parts], truncated },
  });
}

export async function onMultipartList(
  context: MultipartContext,
  body: RequestBody<"multipartList">,
): Answer<"multipartList"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const { uid, bucket, prefix, after, countMax } = body;
  const page = listBucketUploads(context.store, uid, bucket, prefix, after ?? null, countMax);
  if (!page.ok) return page;
  return ok({ body: page.value });
}

/**
 * Abort every multipart upload whose lifetime has ended (clients abandon uploads; their parts
 * would hold space and quota forever), a command's worth at a time. The command checks each
 * deadline again against its own time, so a primary whose clock runs ahead only proposes
 * early; the replicas judge by the time in the log. Answers how many went.
 */
export async function expireMultiparts(
  context: Pick<MultipartContext, "store" | "proposer" | "nowMs" | "logger">,
): Promise<number> {
  const atMs = context.nowMs();
  let expired = 0;
  let after: MultipartRecord | null = null;
  for (;;) {
    // Ids carry their deadline; an upload opened within the lifetime cannot be past it.
    const page = context.store.multipartsInitiatedBefore(
      atMs - MULTIPART_UPLOAD_LIFETIME_MS,
      after,
      MULTIPART_EXPIRED_PER_COMMAND_MAX,
    );
    const last = page.at(-1);
    if (last === undefined) return expired;
    after = last;
    const uploads = page
      .filter((record) => (uploadDeadlineMs(record.uploadId) ?? Number.POSITIVE_INFINITY) < atMs)
      .map(({ uid, uploadId }) => ({ uid, uploadId }));
    if (uploads.length === 0) continue;
    const done = await context.proposer.propose({ type: "multipartExpire", uploads, atMs });
    if (!done.ok) return expired; // not primary any more, or busy: the next pass retries
    expired += done.value.expired;
    context.logger.info("expired multipart uploads aborted", { count: done.value.expired });
  }
}
