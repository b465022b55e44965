/**
 * Checks shared by the state machine and the read queries: a request's uid and name follow the
 * rules of @ftfs/protocol's names.ts, and the user exists. Answers are error values with one
 * line a person can act on.
 */

import {
  fail,
  HOME_BUCKET,
  objectOfStoredName,
  ok,
  partOfStoredName,
  validateStoredName,
  validateUid,
  type Result,
} from "@ftfs/protocol/core";
import type { MetadataView } from "./store.ts";

export type Failure = ReturnType<typeof fail>;

/**
 * The one answer a directory backup gives to what only the primary may serve: NOT_PRIMARY with
 * the primary's address as a hint, or UNAVAILABLE (retry) while no primary is known (an
 * election is under way).
 */
export function notPrimary(node: string, primary: string | null): Failure {
  if (primary === null) {
    return fail("UNAVAILABLE", `directory node ${node} knows no primary yet (election); retry`);
  }
  return fail("NOT_PRIMARY", `directory node ${node} is a backup; the primary is ${primary}`, {
    primary,
  });
}

export function noSuchUser(uid: string): Failure {
  return fail("NO_SUCH_USER", `no user '${uid}'; run \`ftfs ${uid} c\` to connect first`);
}

export function noSuchFile(uid: string, name: string): Failure {
  return fail("NOT_FOUND", `no file '${name}' for user '${uid}'`);
}

/** The uid's and the name's rules (name null: no name involved), then the user must exist. */
export function checkUserAndName(
  view: MetadataView,
  uid: string,
  name: string | null,
): Result<void> {
  const validUid = validateUid(uid);
  if (!validUid.ok) return validUid;
  if (name !== null) {
    const validName = validateStoredName(name);
    if (!validName.ok) return validName;
  }
  if (view.getUser(uid) === undefined) return noSuchUser(uid);
  const part = name === null ? null : partOfStoredName(name);
  if (part !== null) {
    // A part exists only while its upload is open: its bucket was checked when it opened.
    if (view.getMultipart(uid, part.uploadId) === undefined) return noSuchUpload(part.uploadId);
  } else if (name !== null) {
    const { bucket } = objectOfStoredName(name);
    if (bucket !== HOME_BUCKET && view.getBucket(uid, bucket) === undefined) {
      return noSuchBucket(uid, bucket);
    }
  }
  return ok(undefined);
}

export function noSuchUpload(uploadId: string): Failure {
  return fail(
    "NO_SUCH_UPLOAD",
    `no open multipart upload '${uploadId.slice(0, 64)}' (it may have been completed or aborted)`,
  );
}

export function noSuchBucket(uid: string, bucket: string): Failure {
  return fail("NO_SUCH_BUCKET", `user '${uid}' has no bucket '${bucket}'`);
}
