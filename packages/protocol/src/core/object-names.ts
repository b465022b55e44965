/**
 * One namespace for `ftfs` and S3. A user's files are S3 objects: every user has a home bucket
 * (HOME_BUCKET) whose keys are the user's file names, and may make more buckets. The directory
 * keeps every object under one stored name per user:
 *
 *   key K in the home bucket, K a valid file name (one component)   ->  K
 *   any other (bucket, key)                                         ->  "/" bucket "/" key
 *
 * A file name never starts with "/", so the two forms never meet, and the mapping is one to
 * one (the "/" form of a home key that is a valid file name is refused as not canonical). S3
 * keys are opaque: "/" and all, never turned into a local path by anything here.
 *
 * A multipart upload's parts are stored as names of a third form, "//" uploadId "/" part
 * number (five digits, so they sort by number). A bucket name is never empty, so no object is
 * ever stored under such a name, and no listing of a bucket or of files shows one; the
 * directory joins a completed upload's parts into its object and deletes them in one step.
 */

import type { Result } from "./errors.ts";
import {
  BUCKET_NAME_CHARS_MAX,
  BUCKET_NAME_CHARS_MIN,
  MULTIPART_PARTS_MAX,
  OBJECT_KEY_BYTES_MAX,
} from "./limits.ts";
import { fail, ok } from "./errors.ts";
import { validateFileName } from "./names.ts";

/** The bucket holding the files `ftfs` stores; every user has it, and it is never deleted. */
export const HOME_BUCKET = "ftfs";

const utf8 = new TextEncoder();
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const IPV4_PATTERN = /^\d{1,3}(\.\d{1,3}){3}$/;
// biome-ignore lint: the control range is the point of this pattern.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

export interface ObjectName {
  readonly bucket: string;
  readonly key: string;
}

/** S3's rules for a bucket name (the ones that make it safe in a host name too). */
export function validateBucketName(name: string): Result<string> {
  const invalid = (why: string) =>
    fail("INVALID_NAME", `bucket name '${name.slice(0, 80)}' ${why}`);
  if (name.length < BUCKET_NAME_CHARS_MIN || name.length > BUCKET_NAME_CHARS_MAX) {
    return invalid(`must be ${BUCKET_NAME_CHARS_MIN} to ${BUCKET_NAME_CHARS_MAX} characters`);
  }
  if (!BUCKET_PATTERN.test(name)) {
    return invalid(
      "may use only lowercase letters, digits, '.' and '-', and must begin and end with a letter or digit",
    );
  }
  if (name.includes("..")) return invalid("may not contain '..'");
  if (IPV4_PATTERN.test(name)) return invalid("may not look like an IP address");
  if (name.startsWith("xn--")) return invalid("may not begin with 'xn--'");
  return ok(name);
}

/** A key: 1 to 1,024 bytes of UTF-8, without control characters (they break XML listings). */
export function validateObjectKey(key: string): Result<string> {
  if (key.length === 0) return fail("INVALID_NAME", "object key is empty");
  if (!key.isWellFormed()) {
    return fail("INVALID_NAME", "object key contains a lone surrogate (not Unicode)");
  }
  if (utf8.encode(key).length > OBJECT_KEY_BYTES_MAX) {
    return fail("INVALID_NAME", `object key is longer than ${OBJECT_KEY_BYTES_MAX} bytes`);
  }
  if (CONTROL_CHARACTERS.test(key)) {
    return fail("INVALID_NAME", "object key contains a control character");
  }
  return ok(key);
}

/** The stored name of (bucket, key); both must be valid. */
export function storedNameOf(object: ObjectName): string {
  if (object.bucket === HOME_BUCKET && validateFileName(object.key).ok) return object.key;
  return `/${object.bucket}/${object.key}`;
}

/** The object a stored name is (a file name is a key of the home bucket). */
export function objectOfStoredName(name: string): ObjectName {
  if (!name.startsWith("/")) return { bucket: HOME_BUCKET, key: name };
  const slash = name.indexOf("/", 1);
  return { bucket: name.slice(1, slash), key: name.slice(slash + 1) };
}

/** The stored names of a bucket's keys begin with this (home keys that are file names aside). */
export function bucketNamePrefix(bucket: string): string {
  return `/${bucket}/`;
}

/** A multipart upload id: what the directory makes (upload-id.ts), nothing that needs escaping. */
const MULTIPART_UPLOAD_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const PART_NAME_PATTERN = /^\/\/([A-Za-z0-9._-]{1,64})\/(\d{5})$/;
const PART_NUMBER_DIGITS = 5;

export interface PartName {
  readonly uploadId: string;
  readonly partNumber: number;
}

export function validateMultipartUploadId(uploadId: string): Result<string> {
  return MULTIPART_UPLOAD_ID_PATTERN.test(uploadId)
    ? ok(uploadId)
    : fail("NO_SUCH_UPLOAD", "that is not a multipart upload id");
}

/** The stored names of an upload's parts begin with this. */
export function partNamePrefix(uploadId: string): string {
  return `//${uploadId}/`;
}

/** The stored name of part `partNumber` (1 to MULTIPART_PARTS_MAX) of a multipart upload. */
export function partStoredName(uploadId: string, partNumber: number): string {
  return `${partNamePrefix(uploadId)}${String(partNumber).padStart(PART_NUMBER_DIGITS, "0")}`;
}

/** The part a stored name is, or null for a file's or an object's name. */
export function partOfStoredName(name: string): PartName | null {
  const match = PART_NAME_PATTERN.exec(name);
  if (match === null) return null;
  const partNumber = Number(match[2]);
  if (partNumber < 1 || partNumber > MULTIPART_PARTS_MAX) return null;
  return { uploadId: match[1] ?? "", partNumber };
}

/**
 * What the directory and storage accept as a name: a file name, the canonical stored name of
 * a valid (bucket, key), or a multipart upload's part.
 */
export function validateStoredName(name: string): Result<string> {
  if (name.startsWith("//")) {
    return partOfStoredName(name) === null
      ? fail("INVALID_NAME", "not a part of a multipart upload")
      : ok(name);
  }
  if (!name.startsWith("/")) return validateFileName(name);
  const slash = name.indexOf("/", 1);
  if (slash < 0) return fail("INVALID_NAME", "object name has no key after its bucket");
  const object = objectOfStoredName(name);
  const bucket = validateBucketName(object.bucket);
  if (!bucket.ok) return bucket;
  const key = validateObjectKey(object.key);
  if (!key.ok) return key;
  if (storedNameOf(object) !== name) {
    return fail(
      "INVALID_NAME",
      `'${object.key}' in bucket ${HOME_BUCKET} is stored as a file name`,
    );
  }
  return ok(name);
}
