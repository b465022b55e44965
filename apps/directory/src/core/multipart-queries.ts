/**
 * Read-side answers about S3 multipart uploads: an upload's parts, a bucket's open uploads, and
 * the parts a completion would join (pinned to the versions read, so the digest computed over
 * their chunks is the one the command carries). Pure, like queries.ts.
 */

import {
  fail,
  HOME_BUCKET,
  MULTIPART_UPLOADS_PER_USER_MAX,
  objectOfStoredName,
  ok,
  partNamePrefix,
  partStoredName,
  validateUid,
  type ChunkRef,
  type Result,
} from "@ftfs/protocol/core";
import { noSuchBucket, noSuchUpload, noSuchUser } from "./checks.ts";
import type { MultipartRecord } from "./model.ts";
import { compareNames, type MetadataView } from "./store.ts";

export interface PartEntry {
  readonly partNumber: number;
  readonly bytes: number;
  readonly md5: string;
  readonly createdAtMs: number;
}

export interface PartsPage {
  readonly upload: MultipartRecord;
  readonly parts: readonly PartEntry[];
  readonly truncated: boolean;
}

function openUpload(view: MetadataView, uid: string, uploadId: string): Result<MultipartRecord> {
  const validUid = validateUid(uid);
  if (!validUid.ok) return validUid;
  if (view.getUser(uid) === undefined) return noSuchUser(uid);
  const upload = view.getMultipart(uid, uploadId);
  return upload === undefined ? noSuchUpload(uploadId) : ok(upload);
}

/** One page of an open upload's parts (their newest versions), numbered after `afterPart`. */
export function listParts(
  view: MetadataView,
  uid: string,
  uploadId: string,
  afterPart: number,
  countMax: number,
): Result<PartsPage> {
  const upload = openUpload(view, uid, uploadId);
  if (!upload.ok) return upload;
  const prefix = partNamePrefix(uploadId);
  const after = afterPart === 0 ? null : partStoredName(uploadId, afterPart);
  const records = view.listLiveFilesFrom(uid, prefix, after, countMax + 1);
  const parts = records.slice(0, countMax).map((record) => ({
    partNumber: Number(record.name.slice(prefix.length)),
    bytes: record.bytes,
    md5: record.attrs?.md5 ?? "",
    createdAtMs: record.createdAtMs,
  }));
  return ok({ upload: upload.value, parts, truncated: records.length > countMax });
}

export interface UploadEntry {
  readonly key: string;
  readonly uploadId: string;
  readonly initiatedAtMs: number;
}

/**
 * One page of a bucket's open uploads of keys beginning with `prefix`, in (key, upload id)
 * order, after `after`. The home bucket's keys are stored under two forms of name
 * (object-names.ts), so its uploads are read whole (a user has at most
 * MULTIPART_UPLOADS_PER_USER_MAX) and ordered here; another bucket's are one range.
 */
export function listBucketUploads(
  view: MetadataView,
  uid: string,
  bucket: string,
  prefix: string,
  after: { readonly key: string; readonly uploadId?: string | undefined } | null,
  countMax: number,
): Result<{ uploads: UploadEntry[]; truncated: boolean }> {
  const validUid = validateUid(uid);
  if (!validUid.ok) return validUid;
  if (view.getUser(uid) === undefined) return noSuchUser(uid);
  if (bucket !== HOME_BUCKET && view.getBucket(uid, bucket) === undefined) {
    return noSuchBucket(uid, bucket);
  }
  const records =
    bucket === HOME_BUCKET
      ? view.listMultiparts(uid, "", null, MULTIPART_UPLOADS_PER_USER_MAX)
      : view.listMultiparts(
          uid,
          `/${bucket}/${prefix}`,
          after === null
            ? null
            : { name: `/${bucket}/${after.key}`, uploadId: after.uploadId ?? "" },
          countMax + 1,
        );
  const uploads = records
    .map((record) => ({ record, object: objectOfStoredName(record.name) }))
    .filter(({ object }) => object.bucket === bucket && object.key.startsWith(prefix))
    .map(({ record, object }) => ({
      key: object.key,
      uploadId: record.uploadId,
      initiatedAtMs: record.initiatedAtMs,
    }))
    .sort((a, b) => compareNames(a.key, b.key) || compareNames(a.uploadId, b.uploadId))
    .filter(
      (entry) =>
        after === null ||
        compareNames(entry.key, after.key) > 0 ||
        (entry.key === after.key && compareNames(entry.uploadId, after.uploadId ?? "") > 0),
    );
  return ok({ uploads: uploads.slice(0, countMax), truncated: uploads.length > countMax });
}

export interface JoinedPart {
  readonly partNumber: number;
  readonly version: number;
  readonly md5: string;
  readonly chunks: readonly ChunkRef[];
}

/**
 * The listed parts as they stand: each one's newest version and chunks, for the completion
 * to pin. A part missing or of another MD5 is refused here already (the command would be).
 */
export function partsToJoin(
  view: MetadataView,
  uid: string,
  uploadId: string,
  parts: ReadonlyArray<{ readonly partNumber: number; readonly md5: string }>,
): Result<{ upload: MultipartRecord; parts: JoinedPart[] }> {
  const upload = openUpload(view, uid, uploadId);
  if (!upload.ok) return upload;
  const joined: JoinedPart[] = [];
  for (const { partNumber, md5 } of parts) {
    const record = view.currentVersion(uid, partStoredName(uploadId, partNumber));
    if (record?.kind !== "live" || record.attrs?.md5 !== md5) {
      return fail(
        "INVALID_PART",
        `part ${partNumber} was not uploaded, or not with ETag ${md5}; upload it again`,
      );
    }
    joined.push({ partNumber, version: record.version, md5, chunks: record.chunks });
  }
  return ok({ upload: upload.value, parts: joined });
}
