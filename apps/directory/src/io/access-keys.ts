/**
 * S3 access keys on the directory: a user makes, lists and removes its own (an admin anyone's),
 * and the S3 gateway (a node, holding the cluster key) resolves an access key id to its user
 * and its sealed secret, which it opens itself: the secret crosses the wire in the clear only
 * once, in the answer to its creation. While the primary serves, it seals again under the
 * signing cluster key any secret an older key of the ring sealed (a rotation), so dropping the
 * old key afterwards loses no access key.
 */

import {
  ACCESS_KEYS_PER_USER_MAX,
  fail,
  ok,
  validateUid,
  type Op,
  type RequestBody,
  type Result,
} from "@ftfs/protocol/core";
import {
  newAccessKey,
  openAccessKeySecret,
  sealAccessKeySecret,
  type Keyring,
  type Logger,
  type Reply,
  type RequestContext,
} from "@ftfs/protocol/io";
import { ACCESS_KEYS_RESEALED_PER_COMMAND_MAX, type MetadataView } from "../core/index.ts";
import type { Proposer } from "./replicator.ts";

export interface AccessKeysContext {
  readonly store: MetadataView;
  readonly proposer: Proposer;
  readonly nowMs: () => number;
  readonly logger: Logger;
  /** Null in insecure mode: there is no cluster key to seal secrets under. */
  readonly keyring: Keyring | null;
}

type Answer<O extends Op> = Promise<Result<Reply<O>>>;

/** A user manages its own keys; an admin user, or a node, anyone's. */
export function checkKeyOwner(request: RequestContext, uid: string): Result<void> {
  if (!request.authenticated) return ok(undefined);
  const { principal } = request;
  if (principal.kind === "node") return ok(undefined);
  if (principal.kind === "user" && (principal.uid === uid || principal.admin)) {
    return ok(undefined);
  }
  const who = principal.kind === "user" ? `user ${principal.uid}` : "an anonymous caller";
  return fail("FORBIDDEN", `${who} may not manage the access keys of ${uid}`);
}

const NO_CLUSTER_KEY = fail(
  "BAD_REQUEST",
  "S3 access keys need a secure cluster: start the nodes with a cluster key (--cluster-key-file)",
);

export async function onKeyCreate(
  context: AccessKeysContext,
  body: RequestBody<"keyCreate">,
): Answer<"keyCreate"> {
  const valid = validateUid(body.uid);
  if (!valid.ok) return valid;
  const { accessKeyId, secret } = newAccessKey();
  const sealed =
    context.keyring === null ? null : sealAccessKeySecret(context.keyring, accessKeyId, secret);
  if (sealed === null) return NO_CLUSTER_KEY;
  const added = await context.proposer.propose({
    type: "accessKeyAdd",
    uid: body.uid,
    accessKeyId,
    sealed,
    atMs: context.nowMs(),
  });
  if (!added.ok) return added;
  context.logger.info("access key created", { uid: body.uid, accessKeyId });
  return ok({ body: { accessKeyId, secret, uid: body.uid } });
}

export async function onKeyRemove(
  context: AccessKeysContext,
  body: RequestBody<"keyRemove">,
): Answer<"keyRemove"> {
  const removed = await context.proposer.propose({
    type: "accessKeyRemove",
    uid: body.uid,
    accessKeyId: body.accessKeyId,
    atMs: context.nowMs(),
  });
  if (!removed.ok) return removed;
  if (!removed.value.removed) {
    return fail("NOT_FOUND", `no access key ${body.accessKeyId} for user '${body.uid}'`);
  }
  context.logger.info("access key removed", { uid: body.uid, accessKeyId: body.accessKeyId });
  return ok({ body: { accessKeyId: body.accessKeyId } });
}

export async function onKeyList(
  context: AccessKeysContext,
  body: RequestBody<"keyList">,
): Answer<"keyList"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const keys = context.store
    .listAccessKeys(body.uid)
    .slice(0, ACCESS_KEYS_PER_USER_MAX)
    .map(({ accessKeyId, uid, createdAtMs }) => ({ accessKeyId, uid, createdAtMs }));
  return ok({ body: { keys } });
}

export async function onKeyResolve(
  context: AccessKeysContext,
  body: RequestBody<"keyResolve">,
): Answer<"keyResolve"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const key = context.store.getAccessKey(body.accessKeyId);
  if (key === undefined) return fail("NOT_FOUND", `no access key ${body.accessKeyId}`);
  return ok({ body: { uid: key.uid, sealed: key.sealed } });
}

/**
 * One pass of the primary's reseal: every secret sealed under a key of the ring other than the
 * signing one is sealed again under the signing key, a command per page. Secrets whose key has
 * left the ring cannot be opened and are reported, never changed. Answers how many moved.
 */
export async function resealAccessKeys(context: AccessKeysContext): Promise<number> {
  const keyring = context.keyring;
  const signing = keyring?.subKeys("access-key").signing ?? null;
  if (keyring === null || signing === null) return 0;
  let moved = 0;
  let after: string | null = null;
  for (;;) {
    const page = context.store.scanAccessKeys(after, ACCESS_KEYS_RESEALED_PER_COMMAND_MAX);
    const last = page.at(-1);
    if (last === undefined) return moved;
    after = last.accessKeyId;
    const keys = [];
    for (const record of page) {
      if (record.sealed.keyId === signing.keyId) continue;
      const secret = openAccessKeySecret(keyring, record.accessKeyId, record.sealed);
      if (secret === null) {
        context.logger.error("access key sealed under a cluster key this node lacks", {
          accessKeyId: record.accessKeyId,
          sealedWith: record.sealed.keyId,
        });
        continue;
      }
      const sealed = sealAccessKeySecret(keyring, record.accessKeyId, secret);
      if (sealed === null) return moved;
      keys.push({ accessKeyId: record.accessKeyId, fromKeyId: record.sealed.keyId, sealed });
    }
    if (keys.length === 0) continue;
    const resealed = await context.proposer.propose({
      type: "accessKeysReseal",
      keys,
      atMs: context.nowMs(),
    });
    if (!resealed.ok) return moved; // not primary any more, or busy: the next pass retries
    moved += resealed.value.resealed;
    context.logger.info("access keys resealed under the signing cluster key", {
      count: resealed.value.resealed,
      keyId: signing.keyId,
    });
  }
}
