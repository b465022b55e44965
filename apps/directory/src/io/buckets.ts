/**
 * Buckets and a bucket's objects, S3's view of a user's names (object-names.ts): the user's
 * buckets are made and deleted through the log; listings are linearizable reads through the
 * primary, one bounded page at a time.
 */

import { HOME_BUCKET, ok, type Op, type RequestBody, type Result } from "@ftfs/protocol/core";
import type { Logger, Reply } from "@ftfs/protocol/io";
import {
  listBucketObjects,
  listBucketObjectVersions,
  noSuchUser,
  type MetadataView,
} from "../core/index.ts";
import type { Proposer } from "./replicator.ts";

export interface BucketsContext {
  readonly store: MetadataView;
  readonly proposer: Proposer;
  readonly nowMs: () => number;
  readonly logger: Logger;
}

type Answer<O extends Op> = Promise<Result<Reply<O>>>;

export async function onBucketCreate(
  context: BucketsContext,
  body: RequestBody<"bucketCreate">,
): Answer<"bucketCreate"> {
  const made = await context.proposer.propose({
    type: "bucketCreate",
    uid: body.uid,
    bucket: body.bucket,
    atMs: context.nowMs(),
  });
  if (!made.ok) return made;
  if (made.value.created) context.logger.info("bucket created", body);
  return ok({ body: { bucket: body.bucket, ...made.value } });
}

export async function onBucketDelete(
  context: BucketsContext,
  body: RequestBody<"bucketDelete">,
): Answer<"bucketDelete"> {
  const deleted = await context.proposer.propose({
    type: "bucketDelete",
    uid: body.uid,
    bucket: body.bucket,
    atMs: context.nowMs(),
  });
  if (!deleted.ok) return deleted;
  context.logger.info("bucket deleted", body);
  return ok({ body: { bucket: body.bucket } });
}

export async function onBucketList(
  context: BucketsContext,
  body: RequestBody<"bucketList">,
): Answer<"bucketList"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const user = context.store.getUser(body.uid);
  if (user === undefined) return noSuchUser(body.uid);
  const home = { bucket: HOME_BUCKET, createdAtMs: user.createdAtMs };
  const others = context.store.listBuckets(body.uid).map(({ bucket, createdAtMs, versioning }) => ({
    bucket,
    createdAtMs,
    ...(versioning === undefined ? {} : { versioning }),
  }));
  return ok({ body: { buckets: [home, ...others] } });
}

export async function onBucketVersioning(
  context: BucketsContext,
  body: RequestBody<"bucketVersioning">,
): Answer<"bucketVersioning"> {
  const set = await context.proposer.propose({
    type: "bucketVersioning",
    uid: body.uid,
    bucket: body.bucket,
    versioning: body.versioning,
    atMs: context.nowMs(),
  });
  if (!set.ok) return set;
  context.logger.info("bucket versioning set", body);
  return ok({ body: set.value });
}

export async function onListObjectVersions(
  context: BucketsContext,
  body: RequestBody<"listObjectVersions">,
): Answer<"listObjectVersions"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const { uid, bucket, prefix, after, countMax } = body;
  const page = listBucketObjectVersions(
    context.store,
    uid,
    bucket,
    prefix,
    after ?? null,
    countMax,
  );
  if (!page.ok) return page;
  return ok({ body: { versions: [...page.value.versions], truncated: page.value.truncated } });
}

export async function onListObjects(
  context: BucketsContext,
  body: RequestBody<"listObjects">,
): Answer<"listObjects"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const { uid, bucket, prefix, after, countMax } = body;
  const page = listBucketObjects(context.store, uid, bucket, prefix, after ?? null, countMax);
  if (!page.ok) return page;
  return ok({ body: { objects: [...page.value.objects], truncated: page.value.truncated } });
}
