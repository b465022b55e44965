/**
 * The metadata commands: every change to the directory's state is one of these, appended to the
 * log and applied by state-machine.ts. A command carries everything apply needs (its time, its
 * ids), decided once by the proposer, so applying the same log gives the same state on every
 * node. Also the outcome each command produces and the codec for the log's JSON.
 * The list of command types is append-only: a logged command must mean the same forever.
 */

import {
  accessKeyIdField,
  bucketField,
  chunkRefSchema,
  keyIdField,
  md5Field,
  objectAttrsSchema,
  partNumberField,
  MULTIPART_PARTS_MAX,
  sealedSecretSchema,
  type ObjectAttrs,
  type WritePrecondition,
  writePreconditionSchema,
  type SealedSecret,
  fileNameField,
  groupField,
  groupViewSchema,
  int,
  literal,
  MANIFEST_CHUNKS_MAX,
  FILE_BYTES_MAX,
  GC_CANDIDATES_PER_REQUEST_MAX,
  GC_UPLOADS_PER_CANDIDATE_MAX,
  obj,
  requestIdField,
  sha256Field,
  timeMsField,
  tryDecode,
  uidField,
  versionField,
  arr,
  bool,
  nullable,
  opt,
  scramVerifierSchema,
  type ChunkRef,
  type Schema,
  type ScramVerifier,
} from "@ftfs/protocol/core";
import {
  ACCESS_KEYS_RESEALED_PER_COMMAND_MAX,
  KEEP_VERSIONS_MAX,
  MULTIPART_EXPIRED_PER_COMMAND_MAX,
} from "./limits.ts";
import type { BucketVersioning, GroupConfig } from "./model.ts";

/** A user's first connect. Creating an existing user is a no-op that says so. */
export interface CreateUser {
  readonly type: "createUser";
  readonly uid: string;
  readonly atMs: number;
}

/**
 * Make an uploaded manifest the name's newest version. Idempotent by uploadId. The quota
 * defaults are the proposer's flags, carried so every replica judges the commit alike; a user's
 * own quota overrides them; absent (commands logged before quotas), there is no default limit.
 */
export interface CommitVersion {
  readonly type: "commitVersion";
  readonly uid: string;
  readonly name: string;
  readonly uploadId: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly chunks: readonly ChunkRef[];
  readonly atMs: number;
  readonly quotaBytesDefault?: number;
  readonly quotaFilesDefault?: number;
  /**
   * The proposer's keep policy (`--keep-versions`): the name keeps this many newest versions,
   * this one included, and older ones are pruned. Absent (logged before the policy): all kept.
   */
  readonly keepVersions?: number;
  /** An S3 object's attributes, kept with the version. */
  readonly attrs?: ObjectAttrs;
  /** A conditional write: the name's newest live version must be this one (null: none). */
  readonly precondition?: WritePrecondition;
}

/**
 * Give a user credentials: a new user, or one `connect` made in insecure mode. The same
 * verifier again (a retried add) answers as the first did; another verifier for a user that
 * has one is refused: remove the user first.
 */
export interface UserAdd {
  readonly type: "userAdd";
  readonly uid: string;
  readonly verifier: ScramVerifier;
  readonly admin: boolean;
  readonly quotaBytes: number | null;
  readonly quotaFiles: number | null;
  readonly atMs: number;
}

/** Remove a user: its sessions die (the directory checks users at every connection). */
export interface UserRemove {
  readonly type: "userRemove";
  readonly uid: string;
  readonly atMs: number;
}

/**
 * Give a user an S3 access key (id and sealed secret made by the proposing primary). The same
 * record again (a retried create) answers as the first did.
 */
export interface AccessKeyAdd {
  readonly type: "accessKeyAdd";
  readonly uid: string;
  readonly accessKeyId: string;
  readonly sealed: SealedSecret;
  readonly atMs: number;
}

/** Take a user's access key away; requests signed with it are refused from then on. */
export interface AccessKeyRemove {
  readonly type: "accessKeyRemove";
  readonly uid: string;
  readonly accessKeyId: string;
  readonly atMs: number;
}

/**
 * Seal access keys' secrets again under the cluster key that signs now (a key rotation), each
 * only if it is still sealed as the primary read it (`from`): a newer seal is never undone.
 */
export interface AccessKeysReseal {
  readonly type: "accessKeysReseal";
  readonly keys: readonly {
    readonly accessKeyId: string;
    readonly fromKeyId: string;
    readonly sealed: SealedSecret;
  }[];
  readonly atMs: number;
}

/** Make a bucket for a user; making one it already has answers created: false. */
export interface BucketCreate {
  readonly type: "bucketCreate";
  readonly uid: string;
  readonly bucket: string;
  readonly atMs: number;
}

/** Delete a user's empty bucket (never the home bucket). */
export interface BucketDelete {
  readonly type: "bucketDelete";
  readonly uid: string;
  readonly bucket: string;
  readonly atMs: number;
}

/**
 * Make a kept version's bytes the newest version of another name, by its chunk list (S3's
 * CopyObject: no byte moves). Checked when applied, so a source deleted meanwhile is never
 * copied: its chunks may already be collected. Idempotent by uploadId, as a commit is.
 */
export interface CopyVersion {
  readonly type: "copyVersion";
  readonly uid: string;
  readonly from: string;
  /** The source's version; absent: its newest. */
  readonly fromVersion?: number;
  readonly name: string;
  readonly uploadId: string;
  readonly atMs: number;
  readonly quotaBytesDefault?: number;
  readonly quotaFilesDefault?: number;
  readonly keepVersions?: number;
  /** The copy's attributes; absent: the source's. */
  readonly attrs?: ObjectAttrs;
}

/**
 * Set a bucket's S3 versioning (model.ts, BucketRecord). Never the home bucket's: it follows
 * the directory's keep policy, as `ftfs` users expect.
 */
export interface BucketVersioningSet {
  readonly type: "bucketVersioning";
  readonly uid: string;
  readonly bucket: string;
  readonly versioning: BucketVersioning;
  readonly atMs: number;
}

/**
 * Delete one version of a name for good, or one delete marker (S3's DELETE with a versionId):
 * its chunks are released; if it was the current version, the newest below it is current
 * again. One already gone answers deleted: false, so a retry is harmless.
 */
export interface DeleteVersion {
  readonly type: "deleteVersion";
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  readonly atMs: number;
}

/**
 * Remove a name by writing a tombstone version. Idempotent by requestId. In a bucket with
 * versioning on, the tombstone is a delete marker and every version stays kept.
 */
export interface DeleteFile {
  readonly type: "deleteFile";
  readonly uid: string;
  readonly name: string;
  readonly requestId: string;
  readonly atMs: number;
}

/** Install a storage group's next configuration; its epoch must be newer than the current. */
export interface SetGroupConfig {
  readonly type: "setGroupConfig";
  readonly config: GroupConfig;
  readonly atMs: number;
}

/**
 * The primary delivered a group's notices through (throughIndex, throughSeq): every replica
 * forgets them, so a backup that takes over resends only what may not have arrived.
 */
export interface AckNotices {
  readonly type: "ackNotices";
  readonly group: string;
  readonly throughIndex: number;
  readonly throughSeq: number;
  readonly atMs: number;
}

/**
 * The rebalancer copied the chunks a live version keeps in group `from` to group `to`: switch
 * that version's references of those chunks to `to`, if the version is still live and its
 * chunks in `from` are still exactly `chunkIds` (what was copied). Otherwise nothing changes.
 */
export interface MoveVersion {
  readonly type: "moveVersion";
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  readonly uploadId: string;
  readonly from: string;
  readonly to: string;
  /** The distinct ids of the version's chunks in `from` that were copied, sorted. */
  readonly chunkIds: readonly string[];
  readonly atMs: number;
}

/**
 * Record that these unfinished uploads can never commit, so storage may collect their chunks:
 * each one not committed whose deadline is before `atMs` (the others are left alone). Swept
 * records older than SWEPT_UPLOADS_KEPT_MS past their deadline are forgotten in the same step.
 */
export interface SweepUploads {
  readonly type: "sweepUploads";
  readonly uploads: readonly { readonly uid: string; readonly uploadId: string }[];
  readonly atMs: number;
}

/** Open a multipart upload of `name` under the id the proposer made. Idempotent by id. */
export interface MultipartCreate {
  readonly type: "multipartCreate";
  readonly uid: string;
  readonly uploadId: string;
  readonly name: string;
  readonly attrs?: ObjectAttrs;
  readonly atMs: number;
}

/**
 * Join the listed parts, as of the versions the proposer read (so the chunk ids its `sha256`
 * was computed over), into the object's newest version, and drop every part of the upload, in
 * one step: the object's chunks are kept before the parts' are released. Checked when applied
 * (a part uploaded again since no longer matches). Idempotent by uploadId, as a commit is.
 */
export interface MultipartComplete {
  readonly type: "multipartComplete";
  readonly uid: string;
  readonly uploadId: string;
  readonly parts: readonly {
    readonly partNumber: number;
    readonly version: number;
    readonly md5: string;
  }[];
  /** SHA-256 of the joined chunk list's ids (see chunkListSha256). */
  readonly sha256: string;
  /** MD5 of the parts' MD5s: with the part count, the object's ETag. */
  readonly md5: string;
  readonly precondition?: WritePrecondition;
  readonly atMs: number;
  readonly quotaBytesDefault?: number;
  readonly quotaFilesDefault?: number;
  readonly keepVersions?: number;
  /** The parts' records go (PARTS_FORGOTTEN); absent (logged before): each is tombstoned. */
  readonly forgetParts?: boolean;
}

/** Drop an open multipart upload and all its parts. */
export interface MultipartAbort {
  readonly type: "multipartAbort";
  readonly uid: string;
  readonly uploadId: string;
  readonly atMs: number;
  /** As MultipartComplete's. */
  readonly forgetParts?: boolean;
}

/**
 * Abort these multipart uploads, each only if it is still open and its lifetime (the deadline
 * its id carries) ended before `atMs`: the primary's clean-up of uploads clients abandoned.
 */
export interface MultipartExpire {
  readonly type: "multipartExpire";
  readonly uploads: readonly { readonly uid: string; readonly uploadId: string }[];
  readonly atMs: number;
}

export type Command =
  | CreateUser
  | CommitVersion
  | DeleteFile
  | SetGroupConfig
  | AckNotices
  | MoveVersion
  | UserAdd
  | UserRemove
  | AccessKeyAdd
  | AccessKeyRemove
  | AccessKeysReseal
  | BucketCreate
  | BucketDelete
  | CopyVersion
  | SweepUploads
  | MultipartCreate
  | MultipartComplete
  | MultipartAbort
  | BucketVersioningSet
  | DeleteVersion
  | MultipartExpire;
export type CommandType = Command["type"];

/** What applying each command type answers when it succeeds. */
export interface Outcomes {
  readonly createUser: { readonly created: boolean };
  readonly commitVersion: { readonly version: number; readonly createdAtMs: number };
  /** markerVersion: the delete marker's version, when the deletion left one. */
  readonly deleteFile: { readonly deletedVersion: number; readonly markerVersion?: number };
  readonly setGroupConfig: { readonly epoch: number };
  readonly ackNotices: { readonly acked: number };
  /** Chunk references switched (a chunk used twice in the file counts twice), and their bytes. */
  readonly moveVersion: { readonly movedRefs: number; readonly movedBytes: number };
  readonly userAdd: { readonly generation: number };
  readonly userRemove: { readonly removed: boolean };
  readonly accessKeyAdd: { readonly createdAtMs: number };
  readonly accessKeyRemove: { readonly removed: boolean };
  readonly accessKeysReseal: { readonly resealed: number };
  readonly bucketCreate: { readonly created: boolean; readonly createdAtMs: number };
  readonly bucketDelete: { readonly deleted: boolean };
  readonly copyVersion: { readonly version: number; readonly createdAtMs: number };
  /** Uploads newly recorded as swept. */
  readonly sweepUploads: { readonly swept: number };
  readonly multipartCreate: { readonly initiatedAtMs: number };
  readonly multipartComplete: {
    readonly name: string;
    readonly version: number;
    readonly bytes: number;
    readonly createdAtMs: number;
  };
  /** Part names deleted with the upload. */
  readonly multipartAbort: { readonly partsDropped: number };
  readonly bucketVersioning: { readonly versioning: BucketVersioning };
  /** marker: what was deleted was a delete marker. */
  readonly deleteVersion: { readonly deleted: boolean; readonly marker: boolean };
  /** Uploads aborted (the others were gone already or not yet expired). */
  readonly multipartExpire: { readonly expired: number };
}

export type OutcomeOf<C extends Command> = Outcomes[C["type"]];
export type Outcome = Outcomes[CommandType];

const bytesField = int({ min: 0, max: FILE_BYTES_MAX });
const quotaField = int({ min: 0, max: Number.MAX_SAFE_INTEGER });

const COMMAND_SCHEMAS: { readonly [T in CommandType]: Schema<Extract<Command, { type: T }>> } = {
  createUser: obj({ type: literal("createUser"), uid: uidField, atMs: timeMsField }),
  commitVersion: obj({
    type: literal("commitVersion"),
    uid: uidField,
    name: fileNameField,
    uploadId: requestIdField,
    bytes: bytesField,
    sha256: sha256Field,
    chunks: arr(chunkRefSchema, { itemsMax: MANIFEST_CHUNKS_MAX }),
    atMs: timeMsField,
    quotaBytesDefault: opt(quotaField),
    quotaFilesDefault: opt(quotaField),
    keepVersions: opt(int({ min: 1, max: KEEP_VERSIONS_MAX })),
    attrs: opt(objectAttrsSchema),
    precondition: opt(writePreconditionSchema),
  }),
  deleteFile: obj({
    type: literal("deleteFile"),
    uid: uidField,
    name: fileNameField,
    requestId: requestIdField,
    atMs: timeMsField,
  }),
  setGroupConfig: obj({
    type: literal("setGroupConfig"),
    config: groupViewSchema,
    atMs: timeMsField,
  }),
  ackNotices: obj({
    type: literal("ackNotices"),
    group: groupField,
    throughIndex: int({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    throughSeq: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    atMs: timeMsField,
  }),
  moveVersion: obj({
    type: literal("moveVersion"),
    uid: uidField,
    name: fileNameField,
    version: versionField,
    uploadId: requestIdField,
    from: groupField,
    to: groupField,
    chunkIds: arr(sha256Field, { itemsMax: MANIFEST_CHUNKS_MAX }),
    atMs: timeMsField,
  }),
  userAdd: obj({
    type: literal("userAdd"),
    uid: uidField,
    verifier: scramVerifierSchema,
    admin: bool,
    quotaBytes: nullable(quotaField),
    quotaFiles: nullable(quotaField),
    atMs: timeMsField,
  }),
  userRemove: obj({ type: literal("userRemove"), uid: uidField, atMs: timeMsField }),
  accessKeyAdd: obj({
    type: literal("accessKeyAdd"),
    uid: uidField,
    accessKeyId: accessKeyIdField,
    sealed: sealedSecretSchema,
    atMs: timeMsField,
  }),
  accessKeyRemove: obj({
    type: literal("accessKeyRemove"),
    uid: uidField,
    accessKeyId: accessKeyIdField,
    atMs: timeMsField,
  }),
  copyVersion: obj({
    type: literal("copyVersion"),
    uid: uidField,
    from: fileNameField,
    fromVersion: opt(versionField),
    name: fileNameField,
    uploadId: requestIdField,
    atMs: timeMsField,
    quotaBytesDefault: opt(quotaField),
    quotaFilesDefault: opt(quotaField),
    keepVersions: opt(int({ min: 1, max: KEEP_VERSIONS_MAX })),
    attrs: opt(objectAttrsSchema),
  }),
  bucketCreate: obj({
    type: literal("bucketCreate"),
    uid: uidField,
    bucket: bucketField,
    atMs: timeMsField,
  }),
  bucketDelete: obj({
    type: literal("bucketDelete"),
    uid: uidField,
    bucket: bucketField,
    atMs: timeMsField,
  }),
  accessKeysReseal: obj({
    type: literal("accessKeysReseal"),
    keys: arr(
      obj({ accessKeyId: accessKeyIdField, fromKeyId: keyIdField, sealed: sealedSecretSchema }),
      { itemsMax: ACCESS_KEYS_RESEALED_PER_COMMAND_MAX },
    ),
    atMs: timeMsField,
  }),
  multipartCreate: obj({
    type: literal("multipartCreate"),
    uid: uidField,
    uploadId: requestIdField,
    name: fileNameField,
    attrs: opt(objectAttrsSchema),
    atMs: timeMsField,
  }),
  multipartComplete: obj({
    type: literal("multipartComplete"),
    uid: uidField,
    uploadId: requestIdField,
    parts: arr(obj({ partNumber: partNumberField, version: versionField, md5: md5Field }), {
      itemsMax: MULTIPART_PARTS_MAX,
    }),
    sha256: sha256Field,
    md5: md5Field,
    precondition: opt(writePreconditionSchema),
    atMs: timeMsField,
    quotaBytesDefault: opt(quotaField),
    quotaFilesDefault: opt(quotaField),
    keepVersions: opt(int({ min: 1, max: KEEP_VERSIONS_MAX })),
    forgetParts: opt(bool),
  }),
  multipartAbort: obj({
    type: literal("multipartAbort"),
    uid: uidField,
    uploadId: requestIdField,
    atMs: timeMsField,
    forgetParts: opt(bool),
  }),
  bucketVersioning: obj({
    type: literal("bucketVersioning"),
    uid: uidField,
    bucket: bucketField,
    versioning: literal("enabled", "suspended"),
    atMs: timeMsField,
  }),
  deleteVersion: obj({
    type: literal("deleteVersion"),
    uid: uidField,
    name: fileNameField,
    version: versionField,
    atMs: timeMsField,
  }),
  multipartExpire: obj({
    type: literal("multipartExpire"),
    uploads: arr(obj({ uid: uidField, uploadId: requestIdField }), {
      itemsMax: MULTIPART_EXPIRED_PER_COMMAND_MAX,
    }),
    atMs: timeMsField,
  }),
  sweepUploads: obj({
    type: literal("sweepUploads"),
    uploads: arr(obj({ uid: uidField, uploadId: requestIdField }), {
      itemsMax: GC_CANDIDATES_PER_REQUEST_MAX * GC_UPLOADS_PER_CANDIDATE_MAX,
    }),
    atMs: timeMsField,
  }),
};

function isCommandType(value: unknown): value is CommandType {
  return typeof value === "string" && Object.hasOwn(COMMAND_SCHEMAS, value);
}

export function encodeCommand(command: Command): string {
  return JSON.stringify(command);
}

/** Decode a command read back from the log; a failure means the log is damaged. */
export function decodeCommand(
  text: string,
): { ok: true; value: Command } | { ok: false; message: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      message: `not JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const type: unknown =
    typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "type") : undefined;
  if (!isCommandType(type)) {
    return { ok: false, message: `unknown command type ${JSON.stringify(type)}` };
  }
  const schema: Schema<Command> = COMMAND_SCHEMAS[type];
  return tryDecode(schema, parsed);
}
