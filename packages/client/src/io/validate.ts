/**
 * Client-side checks of names and uids, thrown as FtfsErrors before any network I/O. The rules
 * themselves are the protocol's (names.ts); this only turns their results into throws.
 */

import {
  accessKeyIdField,
  FtfsError,
  HOME_BUCKET,
  MULTIPART_PARTS_MAX,
  partStoredName,
  storedNameOf,
  validateMultipartUploadId,
  tryDecode,
  validateBucketName,
  validateObjectKey,
  type ObjectName,
  validateFileName,
  validateUid,
} from "@ftfs/protocol/core";

export function checkUid(uid: string): void {
  const valid = validateUid(uid);
  if (!valid.ok) throw valid.error;
}

export function checkName(name: string): void {
  const valid = validateFileName(name);
  if (!valid.ok) throw valid.error;
}

/**
 * What `ftfs` accepts as a remote name: a file name, or file names joined by "/" (a key of the
 * home bucket, as `put -r` stores a folder's files and S3 clients see folders); answers the
 * stored name. Every part must be a file name, so no name can climb out of a folder: `..`, an
 * empty part (a leading, trailing or doubled "/") and a backslash are refused.
 */
export function checkedRemoteName(name: string): string {
  const plain = validateFileName(name);
  if (plain.ok) return name;
  if (!name.includes("/")) throw plain.error;
  for (const part of name.split("/")) {
    if (part === "") {
      throw new FtfsError(
        "INVALID_NAME",
        `name '${name}' has an empty part (a leading, trailing or doubled '/')`,
      );
    }
    const valid = validateFileName(part);
    if (!valid.ok) throw new FtfsError("INVALID_NAME", `name '${name}': ${valid.error.message}`);
  }
  const key = validateObjectKey(name);
  if (!key.ok) throw key.error;
  return storedNameOf({ bucket: HOME_BUCKET, key: name });
}

export function checkBucket(bucket: string): void {
  const valid = validateBucketName(bucket);
  if (!valid.ok) throw valid.error;
}

/** The stored name of a valid (bucket, key), after the uid's own check. */
export function checkedStoredName(uid: string, object: ObjectName): string {
  checkUid(uid);
  checkBucket(object.bucket);
  const key = validateObjectKey(object.key);
  if (!key.ok) throw key.error;
  return storedNameOf(object);
}

/** A multipart upload id and part number, as the cluster makes and S3 bounds them. */
export function checkedPartName(uid: string, uploadId: string, partNumber: number): string {
  checkUid(uid);
  const valid = validateMultipartUploadId(uploadId);
  if (!valid.ok) throw valid.error;
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MULTIPART_PARTS_MAX) {
    throw new FtfsError(
      "BAD_REQUEST",
      `part numbers run from 1 to ${MULTIPART_PARTS_MAX}, not ${partNumber}`,
    );
  }
  return partStoredName(uploadId, partNumber);
}

/** An S3 access key id as the cluster makes them; anything else is a typo, said plainly. */
export function checkAccessKeyId(accessKeyId: string): void {
  if (tryDecode(accessKeyIdField, accessKeyId).ok) return;
  const shown = accessKeyId.length > 40 ? `${accessKeyId.slice(0, 40)}…` : accessKeyId;
  throw new FtfsError(
    "BAD_REQUEST",
    `'${shown}' is not an access key id (ids are FTFS and 16 capital letters and digits 2-7)`,
  );
}

/** The last path component, as the seed stored uploads; `a/b/` gives `b`. */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  if (base.length === 0)
    throw new FtfsError("INVALID_NAME", `'${path}' has no file name to store it under`);
  return base;
}
