/**
 * The directory's metadata records: users, their S3 access keys, file versions (live ones and tombstones), storage
 * group configurations, outbox notices and the persistent term. Plain immutable values; the
 * rules that change them live in state-machine.ts, the places that keep them in the stores.
 */

import type {
  ChunkRef,
  GroupView,
  ObjectAttrs,
  RequestBody,
  ScramVerifier,
  SealedSecret,
} from "@ftfs/protocol/core";

/**
 * A user. Fields absent on a user `connect` made in insecure mode: it has no credentials (it
 * cannot log in to a secure cluster until `ftfs admin user add` gives it some), no role, and
 * the directory's default quotas.
 */
/** A user's bucket besides its home bucket (object-names.ts); its objects are stored names. */
export interface BucketRecord {
  readonly uid: string;
  readonly bucket: string;
  readonly createdAtMs: number;
  /**
   * S3 versioning, once turned on (absent: never). On, in either state, a delete leaves a delete
   * marker and keeps every version, and no commit prunes one: versions go only when deleted by
   * number. "suspended" differs only in what S3 clients are told.
   */
  readonly versioning?: BucketVersioning;
}

export type BucketVersioning = "enabled" | "suspended";

/**
 * An open S3 multipart upload: the object it will become (`name`, a stored name) and the
 * attributes it will have. Its parts are versions of names of their own (object-names.ts).
 */
export interface MultipartRecord {
  readonly uid: string;
  readonly uploadId: string;
  readonly name: string;
  readonly initiatedAtMs: number;
  /** Content-Type and user metadata, given when the upload was opened. */
  readonly attrs?: ObjectAttrs;
}

/** An S3 access key: whose it is, and its secret sealed under the cluster key. */
export interface AccessKeyRecord {
  readonly accessKeyId: string;
  readonly uid: string;
  readonly sealed: SealedSecret;
  readonly createdAtMs: number;
}

export interface UserRecord {
  readonly uid: string;
  readonly createdAtMs: number;
  /** What a login is checked against (SCRAM); never the secret itself. */
  readonly verifier?: ScramVerifier;
  /** May run admin ops (users, cluster status, rebalance). */
  readonly admin?: true;
  /** Overrides of the directory's default quotas. */
  readonly quotaBytes?: number;
  readonly quotaFiles?: number;
  /**
   * The log index of the userAdd that gave the user its credentials. Session tokens carry it:
   * a user removed and added again gets a new generation, so its old sessions stay dead.
   */
  readonly generation?: number;
}

/** What a user's live files take: newest live version of each name. Kept by the commands. */
export interface UserUsage {
  readonly bytes: number;
  readonly files: number;
}

export const NO_USAGE: UserUsage = { bytes: 0, files: 0 };

/** A committed upload: the name's content as of `version`. */
export interface LiveVersion {
  readonly kind: "live";
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly createdAtMs: number;
  readonly uploadId: string;
  readonly chunks: readonly ChunkRef[];
  /**
   * No longer kept: newer versions pushed it past the name's keep policy (`--keep-versions`),
   * or it was deleted by its number. Its record stays (numbering, a retried commit's answer);
   * its chunks are released.
   */
  readonly pruned?: true;
  /** An object's S3 attributes (ETag MD5, Content-Type, metadata); absent for `ftfs` files. */
  readonly attrs?: ObjectAttrs;
}

/**
 * A deletion. It takes a version number of its own, so an upload after `rm` continues the
 * numbering instead of reusing numbers readers may have seen.
 */
export interface Tombstone {
  readonly kind: "tombstone";
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  readonly createdAtMs: number;
  readonly requestId: string;
  /** The live version this deletion removed (what the user is told was deleted); 0: none. */
  readonly deletedVersion: number;
  /**
   * An S3 delete marker (a delete in a bucket with versioning on): the name reads as deleted,
   * but the versions below stay kept. Any other tombstone releases every version below it.
   */
  readonly marker?: true;
  /** A marker deleted by its number: the name reads as its newest version below again. */
  readonly pruned?: true;
}

export type VersionRecord = LiveVersion | Tombstone;

/** A storage group's configuration as the directory records it (PacificA's configuration). */
export type GroupConfig = GroupView;

/** What the directory must tell a storage group after a commit, a delete or a move. */
export type Notice =
  | { readonly op: "commitRefs"; readonly body: Omit<RequestBody<"commitRefs">, "forwarded"> }
  | { readonly op: "dropRefs"; readonly body: Omit<RequestBody<"dropRefs">, "forwarded"> }
  | {
      readonly op: "dropUploadRefs";
      readonly body: Omit<RequestBody<"dropUploadRefs">, "forwarded">;
    };

/**
 * An outbox row. (index, seq) orders notices: the log index of the command that wrote it and
 * its place among that command's notices; per group they are delivered in this order.
 */
export interface OutboxNotice {
  readonly index: number;
  readonly seq: number;
  readonly group: string;
  readonly notice: Notice;
}
