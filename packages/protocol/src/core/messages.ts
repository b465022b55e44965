/**
 * Every operation of the wire protocol: its request schema and its response schema. A request
 * header is `{ op, epoch, body }`; a response header is `{ body }`; an error header is
 * `{ code, message, hint? }`. File bytes never go in a header: they are the frame's payload.
 * The op list is append-only; an op's meaning never changes.
 */

import {
  CHUNK_BYTES_MAX,
  CHUNK_IDS_PER_REQUEST_MAX,
  GC_CANDIDATES_PER_REQUEST_MAX,
  GC_UPLOADS_PER_CANDIDATE_MAX,
  COMMIT_CHUNK_IDS_MAX,
  FILE_BYTES_MAX,
  STORED_NAME_BYTES_MAX,
  BUCKETS_PER_USER_MAX,
  LIST_OBJECTS_MAX,
  OBJECT_KEY_BYTES_MAX,
  BUCKET_NAME_CHARS_MAX,
  BUCKET_NAME_CHARS_MIN,
  LIST_FILES_MAX,
  MANIFEST_CHUNKS_MAX,
  LIST_MULTIPART_UPLOADS_MAX,
  LIST_PARTS_MAX,
  MULTIPART_PARTS_MAX,
  NODE_ID_BYTES_MAX,
  UID_BYTES_MAX,
} from "./limits.ts";
import { SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN } from "./auth/scram.ts";
import { LOGIN_NONCE_BYTES_MAX, SESSION_TOKEN_BYTES_MAX } from "./auth/session-token.ts";
import { RAFT_FOLDER_ID_BYTES_MAX } from "./raft/types.ts";
import { SNAPSHOT_IMAGE_PART_BYTES } from "./raft/snapshot-image.ts";
import { raftWireHeaderSchema } from "./raft/wire.ts";
import { TRAFFIC_LATENCY_BUCKETS } from "./traffic.ts";
import type { Infer, Schema } from "./schema.ts";
import { arr, bool, int, literal, nullable, obj, opt, str, tryDecode } from "./schema.ts";

const MEMBERS_MAX = 1024;
/** Storage groups one answer (or a client's upload journal) may name. */
export const GROUPS_MAX = 1024;
const ADDRESS_BYTES_MAX = 64;
const REQUEST_ID_BYTES_MAX = 64;
const EPOCH_MAX = Number.MAX_SAFE_INTEGER;
const BYTES_MAX = Number.MAX_SAFE_INTEGER;

// Field schemas. Names and uids are only bounded here; their rules live in names.ts, which
// servers apply so the error says exactly what is wrong with the name.
export const uidField = str({ bytesMax: UID_BYTES_MAX });
/** A bucket name's bytes (object-names.ts checks S3's rules). */
export const bucketField = str({
  bytesMin: BUCKET_NAME_CHARS_MIN,
  bytesMax: BUCKET_NAME_CHARS_MAX,
});
/** A key or a part of one (a listing's prefix), up to S3's bound. */
export const objectKeyPartField = str({ bytesMax: OBJECT_KEY_BYTES_MAX });
/** A stored name: a file name, or an object's "/bucket/key" (object-names.ts). */
export const fileNameField = str({ bytesMax: STORED_NAME_BYTES_MAX });
/** Node ids and group names: letters, digits, '.', '_', '-' (they name files and log lines). */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]+$/;
export const nodeIdField = str({
  bytesMin: 1,
  bytesMax: NODE_ID_BYTES_MAX,
  pattern: NODE_ID_PATTERN,
});
export const addressField = str({ bytesMin: 3, bytesMax: ADDRESS_BYTES_MAX });
export const groupField = nodeIdField;
export const sha256Field = str({ bytesMax: 64, bytesMin: 64, pattern: /^[0-9a-f]{64}$/ });
export const requestIdField = str({ bytesMin: 1, bytesMax: REQUEST_ID_BYTES_MAX });
export const epochField = int({ min: 0, max: EPOCH_MAX });
export const versionField = int({ min: 1, max: Number.MAX_SAFE_INTEGER });
export const timeMsField = int({ min: 0, max: Number.MAX_SAFE_INTEGER });
/** A cluster key's id: the first 4 bytes of its SHA-256, in hex. */
export const keyIdField = str({ bytesMin: 8, bytesMax: 8, pattern: /^[0-9a-f]{8}$/ });
/** A handshake nonce: HELLO_NONCE_BYTES random bytes in base64. */
export const nonceField = str({ bytesMin: 44, bytesMax: 44, pattern: /^[A-Za-z0-9+/]{43}=$/ });
/** Session tokens are a few hundred bytes; the handshake refuses anything much longer. */
const HELLO_TOKEN_BYTES_MAX = 2048;

export const chunkRefSchema = obj({
  id: sha256Field,
  bytes: int({ min: 1, max: CHUNK_BYTES_MAX }),
  group: groupField,
});
export type ChunkRef = Infer<typeof chunkRefSchema>;

/** Random bytes in a storage data folder's id: enough that two folders never share one. */
export const FOLDER_ID_BYTES = 16;
/** A storage data folder's identity, made at the folder's first start: lowercase hex. */
export const folderIdField = str({
  bytesMin: 2 * FOLDER_ID_BYTES,
  bytesMax: 2 * FOLDER_ID_BYTES,
  pattern: /^[0-9a-f]+$/,
});

/**
 * `folderId`: the data folder the member was admitted with. A node that comes back on another
 * folder (its disk was wiped or replaced) is a new member. Absent for nodes of older builds.
 */
const replicaSchema = obj({
  node: nodeIdField,
  address: addressField,
  folderId: opt(folderIdField),
});
/**
 * `since`: the epoch from which the learner has been listed without a break. Every write
 * acknowledged from then on reached it, so one copy of the primary's data taken at or after
 * `since` completes it, however many other changes bump the epoch meanwhile.
 */
const learnerSchema = obj({
  node: nodeIdField,
  address: addressField,
  since: opt(epochField),
  folderId: opt(folderIdField),
});

/**
 * A storage group as the directory configures it: who is primary, who is in sync (`replicas`),
 * at what epoch. `learners` are live members catching up: writes reach them too (so they miss
 * nothing new), but they serve no reads and cannot become primary until they are in sync.
 * `replicationFactor` is the most nodes started for this group that were ever in sync at once;
 * below it for a grace period, the group gets a spare node. Absent in configurations recorded
 * before spares existed: their in-sync size stands in for it. `dataLost`: every in-sync
 * replica came back on a new data folder, so no node holds the group's acknowledged chunks;
 * the group has no primary until one of those folders returns (absent: false).
 */
export const groupViewSchema = obj({
  group: groupField,
  epoch: epochField,
  primary: nullable(addressField),
  primaryNode: nullable(nodeIdField),
  replicas: arr(replicaSchema, { itemsMax: MEMBERS_MAX }),
  learners: opt(arr(learnerSchema, { itemsMax: MEMBERS_MAX })),
  replicationFactor: opt(int({ min: 1, max: MEMBERS_MAX })),
  dataLost: opt(bool),
  /**
   * Nodes an operator asked to leave the group (`ftfs admin storage drain`): each stays in sync
   * until the group has its replication factor of in-sync replicas without it, then leaves and
   * is never listed again while it is named here.
   */
  draining: opt(arr(nodeIdField, { itemsMax: MEMBERS_MAX })),
});
export type GroupView = Infer<typeof groupViewSchema>;

/**
 * Where a chunk of this group can be read: the primary first (it surely has every acknowledged
 * chunk), then every other in-sync replica. Learners are never read: they may lack chunks.
 */
export function readAddresses(view: GroupView): string[] {
  const addresses = view.primary === null ? [] : [view.primary];
  for (const replica of view.replicas) {
    if (!addresses.includes(replica.address)) addresses.push(replica.address);
  }
  return addresses;
}

/** Hex digits of a chunk id that pick the replica it is read from first. */
const READ_SPREAD_HEX_DIGITS = 8;

/**
 * readAddresses in the order to read `chunkId` in: every in-sync replica has every acknowledged
 * chunk, so reads are spread over them, each chunk starting at the replica its id picks. The
 * same chunk is read from the same replica first by every reader (its pages stay cached on one
 * node, not three), and the others follow in the usual order in case it fails.
 */
export function chunkReadAddresses(view: GroupView, chunkId: string): string[] {
  const addresses = readAddresses(view);
  if (addresses.length < 2) return addresses;
  const picked = Number.parseInt(chunkId.slice(0, READ_SPREAD_HEX_DIGITS), 16);
  const first = Number.isFinite(picked) ? picked % addresses.length : 0;
  return [...addresses.slice(first), ...addresses.slice(0, first)];
}

/** One directory node in the group's configuration, as its primary sees it. */
export const directoryMemberSchema = obj({
  node: nodeIdField,
  address: addressField,
  /** Voters elect and commit; a learner is catching up, to be promoted. */
  voter: bool,
  /** How far its log matches the primary's (the primary: its own last index). */
  matchIndex: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
});
export type DirectoryMember = Infer<typeof directoryMemberSchema>;

export const directoryMembersSchema = obj({
  primary: nodeIdField,
  commitIndex: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  /** False while the last change is still being committed. */
  committed: bool,
  members: arr(directoryMemberSchema, { itemsMax: MEMBERS_MAX }),
});

export const fileEntrySchema = obj({
  name: fileNameField,
  version: versionField,
  bytes: int({ min: 0, max: FILE_BYTES_MAX }),
  sha256: sha256Field,
  createdAtMs: timeMsField,
});
export type FileEntry = Infer<typeof fileEntrySchema>;

/** User metadata an object keeps (S3's x-amz-meta-*): S3 bounds it to 2 KB in all. */
export const OBJECT_META_BYTES_MAX = 2048;
export const OBJECT_META_ENTRIES_MAX = 64;
const objectMetaField = str({ bytesMax: OBJECT_META_BYTES_MAX });

/**
 * What S3 clients expect an object to carry beyond its bytes: the MD5 of its bytes (hex, its
 * ETag), its Content-Type, and its user metadata. Absent for files `ftfs` uploaded.
 */
/** An MD5 in lowercase hex: an S3 object's ETag. */
export const md5Field = str({ bytesMin: 32, bytesMax: 32, pattern: /^[0-9a-f]{32}$/ });
export const partNumberField = int({ min: 1, max: MULTIPART_PARTS_MAX });

/**
 * A conditional write: the name's newest live version must be `version` when the write is
 * applied (null: the name must have none), or the write is refused with PRECONDITION_FAILED.
 * S3's If-Match (compare and swap) and If-None-Match: * (create only).
 */
export const writePreconditionSchema = obj({ version: nullable(versionField) });
export type WritePrecondition = Infer<typeof writePreconditionSchema>;

export const objectAttrsSchema = obj({
  md5: opt(md5Field),
  /**
   * Joined from this many parts of a multipart upload: `md5` is then the MD5 of the parts'
   * MD5s (S3's ETag "md5-N"), and the version's sha256 that of its chunk ids (multipart.ts).
   */
  parts: opt(partNumberField),
  contentType: opt(str({ bytesMax: 256 })),
  meta: opt(
    arr(obj({ name: objectMetaField, value: objectMetaField }), {
      itemsMax: OBJECT_META_ENTRIES_MAX,
    }),
  ),
});
export type ObjectAttrs = Infer<typeof objectAttrsSchema>;

export const manifestSchema = obj({
  uid: uidField,
  name: fileNameField,
  version: versionField,
  bytes: int({ min: 0, max: FILE_BYTES_MAX }),
  sha256: sha256Field,
  createdAtMs: timeMsField,
  chunks: arr(chunkRefSchema, { itemsMax: MANIFEST_CHUNKS_MAX }),
  attrs: opt(objectAttrsSchema),
});
export type Manifest = Infer<typeof manifestSchema>;

export const memberViewSchema = obj({
  node: nodeIdField,
  role: literal("directory", "storage"),
  group: nullable(groupField),
  address: addressField,
  state: literal("alive", "suspect", "dead", "left"),
  incarnation: int({ min: 0, max: EPOCH_MAX }),
  primary: bool,
  epoch: epochField,
  usedBytes: int({ min: 0, max: BYTES_MAX }),
  capacityBytes: int({ min: 0, max: BYTES_MAX }),
  /** A storage node's file bytes received and sent since it started (its heartbeat's word). */
  bytesInTotal: opt(int({ min: 0, max: BYTES_MAX })),
  bytesOutTotal: opt(int({ min: 0, max: BYTES_MAX })),
});
export type MemberView = Infer<typeof memberViewSchema>;

/** A directory node's file requests since it started (see traffic.ts). */
export const trafficSchema = obj({
  requests: int({ min: 0, max: BYTES_MAX }),
  failed: int({ min: 0, max: BYTES_MAX }),
  latencyBuckets: arr(int({ min: 0, max: BYTES_MAX }), { itemsMax: TRAFFIC_LATENCY_BUCKETS }),
});

export const chunkOwnerSchema = obj({
  uid: uidField,
  name: fileNameField,
  uploadId: requestIdField,
});
export type ChunkOwner = Infer<typeof chunkOwnerSchema>;

export const ownedFileSchema = obj({
  name: fileNameField,
  version: nullable(versionField),
  uploadId: requestIdField,
  bytes: int({ min: 0, max: FILE_BYTES_MAX }),
  chunks: int({ min: 0, max: MANIFEST_CHUNKS_MAX }),
  group: groupField,
});
export type OwnedFile = Infer<typeof ownedFileSchema>;

const empty = obj({});

/**
 * A placement ticket (io/placement-tickets.ts): the directory lets `uid` write up to `bytesMax`
 * bytes of one upload into one group until `expiresAtMs`; `mac` (base64url HMAC-SHA256 under
 * the cluster key `keyId`'s "ticket" sub-key) makes it unforgeable.
 */
export const ticketSchema = obj({
  uploadId: requestIdField,
  uid: uidField,
  name: fileNameField,
  group: groupField,
  bytesMax: int({ min: 0, max: FILE_BYTES_MAX }),
  expiresAtMs: timeMsField,
  keyId: keyIdField,
  mac: str({ bytesMin: 43, bytesMax: 43, pattern: /^[A-Za-z0-9_-]{43}$/ }),
});
export type Ticket = Infer<typeof ticketSchema>;

/** A chunk's receipt: the signing key's id, a dot, and a 128-bit MAC in base64url. */
export const receiptField = str({
  bytesMin: 31,
  bytesMax: 31,
  pattern: /^[0-9a-f]{8}\.[A-Za-z0-9_-]{22}$/,
});

/** Owner references per syncRefs page: bounds the answer, not the catch-up. */
export const SYNC_REFS_PER_PAGE_MAX = 4096;

/** How many times one file holds one chunk: at most every chunk of a manifest. */
const chunkUsesField = int({ min: 1, max: MANIFEST_CHUNKS_MAX });

export const syncRefSchema = obj({
  seq: int({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  chunkId: sha256Field,
  bytes: int({ min: 1, max: CHUNK_BYTES_MAX }),
  uid: uidField,
  name: fileNameField,
  uploadId: requestIdField,
  version: nullable(versionField),
  /** Times the committed file holds the chunk (commitRefs' chunkUses); absent: once. */
  uses: opt(chunkUsesField),
});
export type SyncRef = Infer<typeof syncRefSchema>;

/** 100% in basis points: the unit of a rebalance threshold. */
export const BASIS_POINTS_MAX = 10_000;

/** One storage group in a rebalance run: its usage when the run began, and what moved. */
export const rebalanceGroupSchema = obj({
  group: groupField,
  capacityBytes: int({ min: 0, max: BYTES_MAX }),
  /** Used bytes by heartbeat when the run began. */
  usedBytesBefore: int({ min: 0, max: BYTES_MAX }),
  /** What the run moved out and in: the group's usage once garbage collection has run. */
  bytesOut: int({ min: 0, max: BYTES_MAX }),
  bytesIn: int({ min: 0, max: BYTES_MAX }),
});
export type RebalanceGroup = Infer<typeof rebalanceGroupSchema>;

export const REBALANCE_STATES = [
  "running",
  /** Every group's used fraction is within the threshold of every other's. */
  "balanced",
  /** The run moved its byte budget; another run goes on. */
  "budgetSpent",
  /** A whole pass found no version whose move would narrow the spread. */
  "exhausted",
  /** Moves kept failing (a group unreachable or full); `message` says why. */
  "failed",
] as const;

export const rebalanceRunSchema = obj({
  runId: requestIdField,
  state: literal(...REBALANCE_STATES),
  /** One line for people: why the run ended, or what it is doing. */
  message: str({ bytesMax: 1024 }),
  startedAtMs: timeMsField,
  finishedAtMs: nullable(timeMsField),
  thresholdBasisPoints: int({ min: 1, max: BASIS_POINTS_MAX }),
  bytesPerSecondMax: int({ min: 1, max: BYTES_MAX }),
  budgetBytes: int({ min: 1, max: BYTES_MAX }),
  movedVersions: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  movedChunks: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  movedBytes: int({ min: 0, max: BYTES_MAX }),
  /** Versions copied but not switched (deleted or changed meanwhile) or not copied (errors). */
  skippedVersions: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  groups: arr(rebalanceGroupSchema, { itemsMax: GROUPS_MAX }),
});
export type RebalanceRun = Infer<typeof rebalanceRunSchema>;
export type RebalanceState = RebalanceRun["state"];

/** base64url text of a 32-byte digest (SCRAM proofs, keys, signatures). */
export const digestField = str({ bytesMin: 43, bytesMax: 43, pattern: /^[A-Za-z0-9_-]{43}$/ });
const base64UrlField = str({ bytesMin: 1, bytesMax: 128, pattern: /^[A-Za-z0-9_-]+$/ });
const loginNonceField = str({ bytesMin: 16, bytesMax: 64, pattern: /^[A-Za-z0-9_-]+$/ });
const quotaField = int({ min: 0, max: BYTES_MAX });

/** A user's SCRAM verifier as the directory keeps it (core/auth/scram.ts). */
export const scramVerifierSchema = obj({
  salt: base64UrlField,
  iterations: int({ min: SCRAM_ITERATIONS_MIN, max: SCRAM_ITERATIONS_MAX }),
  storedKey: digestField,
  serverKey: digestField,
});

/** Users per userList answer. */
export const USERS_LIST_MAX = 10_000;

export const userSummarySchema = obj({
  uid: uidField,
  admin: bool,
  /** False for a user `connect` made in insecure mode: it cannot log in. */
  credentials: bool,
  createdAtMs: timeMsField,
  /** The user's own quotas; null: the directory's defaults. */
  quotaBytes: nullable(quotaField),
  quotaFiles: nullable(quotaField),
  usedBytes: int({ min: 0, max: BYTES_MAX }),
  usedFiles: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
});
export type UserSummary = Infer<typeof userSummarySchema>;

/** A bucket's object as a listing shows it. */
export const objectEntrySchema = obj({
  key: objectKeyPartField,
  version: versionField,
  bytes: int({ min: 0, max: BYTES_MAX }),
  sha256: sha256Field,
  createdAtMs: timeMsField,
  /** The MD5 of the bytes, for objects S3 clients stored (see objectAttrsSchema). */
  md5: opt(md5Field),
  /** Joined from this many parts (see objectAttrsSchema). */
  parts: opt(partNumberField),
});
export type ObjectEntry = Infer<typeof objectEntrySchema>;

/** A bucket's S3 versioning state, once turned on. */
export const bucketVersioningField = literal("enabled", "suspended");

/** One version of an object, or a delete marker, as ListObjectVersions shows it. */
export const objectVersionEntrySchema = obj({
  key: objectKeyPartField,
  version: versionField,
  createdAtMs: timeMsField,
  /** The key's current version. */
  latest: bool,
  /** A delete marker: no bytes, no digests. */
  deleteMarker: bool,
  bytes: int({ min: 0, max: BYTES_MAX }),
  sha256: opt(sha256Field),
  md5: opt(md5Field),
  parts: opt(partNumberField),
});
export type ObjectVersionEntry = Infer<typeof objectVersionEntrySchema>;

/**
 * An S3 access key id: "FTFS" and 16 characters of RFC 4648 base32, 20 in all, as AWS's own
 * ids look (S3 clients and tools assume that shape).
 */
export const accessKeyIdField = str({
  bytesMin: 20,
  bytesMax: 20,
  pattern: /^FTFS[A-Z2-7]{16}$/,
});
/** An access key's secret: 40 base64url characters (240 random bits), as long as AWS's. */
export const accessKeySecretField = str({
  bytesMin: 40,
  bytesMax: 40,
  pattern: /^[A-Za-z0-9_-]{40}$/,
});
/** Access keys a user may hold at once (AWS allows 2; rotation needs 2, a few more is plenty). */
export const ACCESS_KEYS_PER_USER_MAX = 8;

/**
 * An access key's secret as the directory keeps it: AES-256-GCM under a sub-key of the cluster
 * key named by keyId (S3's signatures need the raw secret, so it cannot be kept as a hash).
 */
export const sealedSecretSchema = obj({
  keyId: keyIdField,
  nonce: str({ bytesMin: 16, bytesMax: 16, pattern: /^[A-Za-z0-9_-]{16}$/ }),
  ciphertext: str({ bytesMin: 1, bytesMax: 128, pattern: /^[A-Za-z0-9_-]+$/ }),
});
export type SealedSecret = Infer<typeof sealedSecretSchema>;

export const accessKeySummarySchema = obj({
  accessKeyId: accessKeyIdField,
  uid: uidField,
  createdAtMs: timeMsField,
});
export type AccessKeySummary = Infer<typeof accessKeySummarySchema>;

/**
 * Op name → request body schema, response body schema, and whether the request or response
 * carries a payload of file bytes.
 */
export const OPS = {
  // ---- directory, for clients ----
  /** Reach the cluster as a user; creates the user on first connect (the seed's `c`). */
  connect: {
    request: obj({ uid: uidField }),
    response: obj({
      uid: uidField,
      created: bool,
      node: nodeIdField,
      primary: addressField,
      term: epochField,
    }),
  },
  /** Ask where an upload's chunks go. */
  placeUpload: {
    request: obj({
      uid: uidField,
      name: fileNameField,
      /** The file's size; with bytesUnknown, the most it may turn out to be. */
      bytes: int({ min: 0, max: FILE_BYTES_MAX }),
      /**
       * A stream whose length is known only at its end (stdin): the quota is judged at the
       * commit, and the tickets allow what room the user's quota leaves, up to `bytes`.
       */
      bytesUnknown: opt(bool),
    }),
    response: obj({
      uploadId: requestIdField,
      chunkBytes: int({ min: 1, max: CHUNK_BYTES_MAX }),
      groups: arr(groupViewSchema, { itemsMax: GROUPS_MAX }),
      /** One per group, on a cluster with a key: what lets the user write there. */
      tickets: opt(arr(ticketSchema, { itemsMax: GROUPS_MAX })),
    }),
  },
  /** Make an uploaded file's manifest the name's newest version, atomically. Idempotent by uploadId. */
  commitUpload: {
    request: obj({
      uid: uidField,
      name: fileNameField,
      uploadId: requestIdField,
      bytes: int({ min: 0, max: FILE_BYTES_MAX }),
      sha256: sha256Field,
      chunks: arr(chunkRefSchema, { itemsMax: MANIFEST_CHUNKS_MAX }),
      /** Per chunk, the receipt its group's primary gave (a cluster with a key requires them). */
      receipts: opt(arr(receiptField, { itemsMax: MANIFEST_CHUNKS_MAX })),
      attrs: opt(objectAttrsSchema),
      precondition: opt(writePreconditionSchema),
    }),
    response: obj({ version: versionField, createdAtMs: timeMsField }),
  },
  /** The manifest of a name's newest version (or of `version`), with the groups to read from. */
  getManifest: {
    request: obj({ uid: uidField, name: fileNameField, version: opt(versionField) }),
    response: obj({
      manifest: manifestSchema,
      groups: arr(groupViewSchema, { itemsMax: GROUPS_MAX }),
    }),
  },
  listFiles: {
    request: obj({ uid: uidField, stale: opt(bool) }),
    response: obj({ files: arr(fileEntrySchema, { itemsMax: LIST_FILES_MAX }) }),
  },
  /** Remove a name; idempotent by requestId. */
  deleteFile: {
    request: obj({ uid: uidField, name: fileNameField, requestId: requestIdField }),
    /** markerVersion: the delete marker the deletion left (a bucket with versioning on). */
    response: obj({ deletedVersion: versionField, markerVersion: opt(versionField) }),
  },
  /**
   * Delete one version, or one delete marker, of a name for good (S3's DELETE with versionId).
   * Idempotent: one already gone answers deleted: false.
   */
  deleteVersion: {
    request: obj({ uid: uidField, name: fileNameField, version: versionField }),
    response: obj({ deleted: bool, marker: bool }),
  },
  /** Every member as this node sees it, and every storage group's configuration. */
  clusterStatus: {
    request: empty,
    response: obj({
      node: nodeIdField,
      members: arr(memberViewSchema, { itemsMax: MEMBERS_MAX }),
      groups: arr(groupViewSchema, { itemsMax: GROUPS_MAX }),
      /** The answering node's file requests (absent from older builds). */
      traffic: opt(trafficSchema),
    }),
  },

  // ---- directory, for storage nodes ----
  /**
   * A storage node announces itself and its usage; the answer is its group's configuration.
   * A node started with `--spare` says `spare: true` and names no group until the directory
   * assigned it one (the answer then carries that group, and the node keeps it for good). The
   * answer has no group only for a spare that is not assigned.
   */
  registerStorage: {
    request: obj({
      node: nodeIdField,
      group: opt(groupField),
      spare: opt(bool),
      address: addressField,
      capacityBytes: int({ min: 0, max: BYTES_MAX }),
      usedBytes: int({ min: 0, max: BYTES_MAX }),
      /** A learner that copied everything the group held at this epoch says so here. */
      syncedEpoch: opt(epochField),
      /** The node's data folder identity (absent from older builds). */
      folderId: opt(folderIdField),
      /** File bytes this node received and sent since it started. */
      bytesInTotal: opt(int({ min: 0, max: BYTES_MAX })),
      bytesOutTotal: opt(int({ min: 0, max: BYTES_MAX })),
    }),
    response: obj({
      group: opt(groupViewSchema),
      directoryNode: nodeIdField,
      /**
       * The group no longer needs this spare (it has its replication factor without it): the
       * spare forgets the group's data and returns to the pool.
       */
      released: opt(bool),
    }),
  },

  // ---- storage ----
  /** Store one chunk (payload); the primary forwards to in-sync backups before answering. */
  putChunk: {
    request: obj({
      chunkId: sha256Field,
      owner: chunkOwnerSchema,
      forwarded: opt(bool),
      /** The directory's permission to write this upload here; a user must carry one. */
      ticket: opt(ticketSchema),
    }),
    response: obj({
      chunkId: sha256Field,
      bytes: int({ min: 1, max: CHUNK_BYTES_MAX }),
      replicas: int({ min: 1, max: MEMBERS_MAX }),
      /** The primary's word that the chunk is stored, for the manifest's commit. */
      receipt: opt(receiptField),
    }),
  },
  /** Read one chunk; the response payload is its bytes. */
  getChunk: {
    request: obj({ chunkId: sha256Field }),
    response: obj({ chunkId: sha256Field, bytes: int({ min: 1, max: CHUNK_BYTES_MAX }) }),
  },
  /** Which of these chunks this node holds. */
  hasChunks: {
    request: obj({ chunkIds: arr(sha256Field, { itemsMax: CHUNK_IDS_PER_REQUEST_MAX }) }),
    response: obj({ present: arr(sha256Field, { itemsMax: CHUNK_IDS_PER_REQUEST_MAX }) }),
  },
  /** The directory tells a group which upload became which version (owner references). */
  commitRefs: {
    request: obj({
      uid: uidField,
      name: fileNameField,
      uploadId: requestIdField,
      version: versionField,
      /**
       * The upload's chunks the manifest keeps in this group: only their references commit;
       * the upload's other pending references here (a put re-routed or hedged to another
       * group) stay pending and expire. Absent in outbox notices written before it existed:
       * every reference of the upload commits, as it did then.
       */
      chunkIds: opt(arr(sha256Field, { itemsMax: COMMIT_CHUNK_IDS_MAX })),
      /** Each chunk's size, beside chunkIds: a reference the node lacks is recorded committed. */
      chunkBytes: opt(
        arr(int({ min: 1, max: CHUNK_BYTES_MAX }), { itemsMax: COMMIT_CHUNK_IDS_MAX }),
      ),
      /**
       * How many times the file holds each chunk, beside chunkIds (a file that repeats a block
       * holds one reference to it, used that often), so the group's listing counts the file's
       * size. Absent: once each (every id once, or a notice written before it existed).
       */
      chunkUses: opt(arr(chunkUsesField, { itemsMax: COMMIT_CHUNK_IDS_MAX })),
      /** The sending directory primary's term: a node refuses notices of older terms. */
      term: opt(epochField),
      forwarded: opt(bool),
    }),
    response: empty,
  },
  /**
   * The directory tells a group a name was deleted: its committed owner references go. Only in
   * outbox notices written before deletions named their uploads (dropUploadRefs).
   */
  dropRefs: {
    request: obj({
      uid: uidField,
      name: fileNameField,
      term: opt(epochField),
      forwarded: opt(bool),
    }),
    response: empty,
  },
  /** A user's files as this storage node's owner references know them. */
  listOwned: {
    request: obj({ uid: uidField }),
    response: obj({ node: nodeIdField, files: arr(ownedFileSchema, { itemsMax: LIST_FILES_MAX }) }),
  },

  // ---- storage, between the nodes of a group ----
  /**
   * A page of the primary's owner references in `seq` order, for a learner catching up: each
   * names a chunk and who owns it. `epoch` is the answering node's group epoch.
   */
  syncRefs: {
    request: obj({ afterSeq: int({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
    response: obj({
      epoch: epochField,
      refs: arr(syncRefSchema, { itemsMax: SYNC_REFS_PER_PAGE_MAX }),
      /** The page ends the listing. */
      done: bool,
    }),
  },

  // ---- directory, between directory nodes ----
  /** One Raft message between directory nodes; the reply is only a receipt. */
  raft: {
    request: raftWireHeaderSchema,
    response: empty,
  },
  /**
   * Bytes [offset, offset + bytes) of a snapshot image this node holds (core/raft/
   * snapshot-image.ts), for a member catching up; the payload carries them, `sha256` is theirs.
   */
  raftSnapshotPart: {
    request: obj({
      image: sha256Field,
      offset: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      bytes: int({ min: 1, max: SNAPSHOT_IMAGE_PART_BYTES }),
    }),
    response: obj({ offset: int({ min: 0, max: Number.MAX_SAFE_INTEGER }), sha256: sha256Field }),
  },

  // ---- storage, from the directory's rebalancer ----
  /**
   * The directory moved one upload's chunks out of this group: that upload's references go,
   * committed or pending, and nobody else's (dropRefs would drop every version of the name).
   */
  dropUploadRefs: {
    request: obj({
      uid: uidField,
      name: fileNameField,
      uploadId: requestIdField,
      term: opt(epochField),
      forwarded: opt(bool),
    }),
    response: empty,
  },

  // ---- directory, for storage nodes' garbage collection ----
  /**
   * Which of these chunks may a group delete? Each candidate names the unfinished uploads
   * whose pending references hold it on the asking node (`moreUploads`: more than it names).
   * The directory primary answers, as of its current state, the candidates no kept version
   * of the group names, no move in flight is copying there, and whose uploads are all
   * committed or swept (past their deadline: they can never commit); and which of the named
   * pending references protect nothing (swept, or committed without keeping that chunk here).
   */
  confirmGarbage: {
    request: obj({
      group: groupField,
      candidates: arr(
        obj({
          chunkId: sha256Field,
          uploads: arr(obj({ uid: uidField, uploadId: requestIdField }), {
            itemsMax: GC_UPLOADS_PER_CANDIDATE_MAX,
          }),
          moreUploads: opt(bool),
        }),
        { itemsMax: GC_CANDIDATES_PER_REQUEST_MAX },
      ),
    }),
    response: obj({
      collectable: arr(sha256Field, { itemsMax: GC_CANDIDATES_PER_REQUEST_MAX }),
      releasedRefs: arr(obj({ chunkId: sha256Field, uid: uidField, uploadId: requestIdField }), {
        itemsMax: GC_CANDIDATES_PER_REQUEST_MAX * GC_UPLOADS_PER_CANDIDATE_MAX,
      }),
    }),
  },

  // ---- directory, for administrators ----
  /**
   * Move file data from fuller storage groups to emptier ones. Without `runId`: start a run
   * (or join the one running) and answer it; with `runId`: answer that run's progress. Runs
   * live on the directory primary only: after a failover a runId is unknown (NOT_FOUND).
   */
  /**
   * Between directory nodes forming their group: who answers, and the data folder it runs on,
   * which the group binds it to (a wiped disk under the same id is then a stranger).
   */
  directoryIdentity: {
    /** `asking`: the caller's id, so the answer can say which folder the group binds it to. */
    request: obj({ asking: opt(nodeIdField) }),
    response: obj({
      node: nodeIdField,
      folder: str({ bytesMin: 1, bytesMax: RAFT_FOLDER_ID_BYTES_MAX }),
      /** The folder this node's group binds `asking` to; absent: none (not formed, unbound). */
      boundFolder: opt(str({ bytesMin: 1, bytesMax: RAFT_FOLDER_ID_BYTES_MAX })),
    }),
  },
  /** The directory group's configuration, as its primary's log has it. */
  directoryMembers: {
    request: empty,
    response: directoryMembersSchema,
  },
  /**
   * One change to the directory group: add a node (it joins as a learner and is promoted once
   * it has caught up) or remove one. Answers once the change is committed.
   */
  directoryChange: {
    request: obj({
      change: literal("add", "remove"),
      node: nodeIdField,
      /** Where the node is reached (add only). */
      address: opt(addressField),
    }),
    response: directoryMembersSchema,
  },
  /**
   * Drain a storage node out of its group (or cancel that): it stops being primary, a spare
   * takes its place, and it leaves once the group holds its factor of copies without it.
   * Answers the group's configuration once the change is committed; the rest follows.
   */
  storageDrain: {
    request: obj({ node: nodeIdField, cancel: opt(bool) }),
    response: obj({ group: groupViewSchema }),
  },
  rebalance: {
    request: obj({
      runId: opt(requestIdField),
      /** Stop once every group's used fraction is within this of every other's (1 bp = 0.01%). */
      thresholdBasisPoints: opt(int({ min: 1, max: BASIS_POINTS_MAX })),
    }),
    response: rebalanceRunSchema,
  },

  // ---- every connection, first ----
  /**
   * The handshake every connection opens with (io/channel-auth.ts): who the caller claims to
   * be and its nonce; the answer is the server's nonce and whether frames are MACed from now on.
   * `keyId` names the cluster key a node signs with; `token` is a user's session token.
   */
  hello: {
    request: obj({
      principal: obj({
        kind: literal("node", "user", "anonymous"),
        node: opt(nodeIdField),
        keyId: opt(keyIdField),
        token: opt(str({ bytesMin: 1, bytesMax: HELLO_TOKEN_BYTES_MAX })),
      }),
      clientNonce: nonceField,
    }),
    response: obj({ serverNonce: nonceField, mac: bool }),
  },

  // ---- directory, logging in (anonymous channels may call these) ----
  /** A login's first step: the user's salt and rounds, and a stateless server nonce. */
  loginStart: {
    request: obj({ uid: uidField, clientNonce: loginNonceField }),
    response: obj({
      salt: base64UrlField,
      iterations: int({ min: SCRAM_ITERATIONS_MIN, max: SCRAM_ITERATIONS_MAX }),
      serverNonce: str({ bytesMin: 1, bytesMax: LOGIN_NONCE_BYTES_MAX }),
    }),
  },
  /**
   * A login's proof (SCRAM); the answer is a session token, its session key sealed with the
   * ClientKey, and the server's signature proving it holds the user's verifier.
   */
  loginFinish: {
    request: obj({
      uid: uidField,
      clientNonce: loginNonceField,
      serverNonce: str({ bytesMin: 1, bytesMax: LOGIN_NONCE_BYTES_MAX }),
      proof: digestField,
    }),
    response: obj({
      token: str({ bytesMin: 1, bytesMax: SESSION_TOKEN_BYTES_MAX }),
      sealedSessionKey: digestField,
      serverSignature: digestField,
      expiresAtMs: timeMsField,
      admin: bool,
    }),
  },

  // ---- directory, users (admin) ----
  /** Give a user credentials (a verifier made by the client; the secret never leaves it). */
  userAdd: {
    request: obj({
      uid: uidField,
      verifier: scramVerifierSchema,
      admin: bool,
      quotaBytes: opt(quotaField),
      quotaFiles: opt(quotaField),
    }),
    response: obj({ uid: uidField, generation: int({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
  },
  /** Remove a user and end its sessions; its files stay under the uid. */
  userRemove: {
    request: obj({ uid: uidField }),
    response: obj({ uid: uidField }),
  },
  userList: {
    request: empty,
    response: obj({
      users: arr(userSummarySchema, { itemsMax: USERS_LIST_MAX }),
      /** The quotas of users without their own (absent from older directories). */
      quotaBytesDefault: opt(quotaField),
      quotaFilesDefault: opt(quotaField),
    }),
  },

  // ---- directory, S3 access keys (a user for itself, an admin for anyone) ----
  /** A new access key for `uid`; the answer is the only time its secret is shown. */
  keyCreate: {
    request: obj({ uid: uidField }),
    response: obj({ accessKeyId: accessKeyIdField, secret: accessKeySecretField, uid: uidField }),
  },
  keyRemove: {
    request: obj({ uid: uidField, accessKeyId: accessKeyIdField }),
    response: obj({ accessKeyId: accessKeyIdField }),
  },
  keyList: {
    request: obj({ uid: uidField }),
    response: obj({ keys: arr(accessKeySummarySchema, { itemsMax: ACCESS_KEYS_PER_USER_MAX }) }),
  },
  /** For the S3 gateway (a node): whose key it is, and its secret sealed under the cluster key. */
  keyResolve: {
    request: obj({ accessKeyId: accessKeyIdField }),
    response: obj({ uid: uidField, sealed: sealedSecretSchema }),
  },

  // ---- directory, buckets and objects (S3's view of a user's names) ----
  bucketCreate: {
    request: obj({ uid: uidField, bucket: bucketField }),
    response: obj({ bucket: bucketField, created: bool, createdAtMs: timeMsField }),
  },
  bucketDelete: {
    request: obj({ uid: uidField, bucket: bucketField }),
    response: obj({ bucket: bucketField }),
  },
  /** The user's buckets, its home bucket first. */
  bucketList: {
    request: obj({ uid: uidField }),
    response: obj({
      buckets: arr(
        obj({
          bucket: bucketField,
          createdAtMs: timeMsField,
          /** Absent: versioning was never turned on. */
          versioning: opt(bucketVersioningField),
        }),
        { itemsMax: BUCKETS_PER_USER_MAX + 1 },
      ),
    }),
  },
  /**
   * A kept version's bytes as the newest version of `name`, by chunk list (no byte moves);
   * `attrs` absent: the source's.
   */
  copyObject: {
    request: obj({
      uid: uidField,
      from: fileNameField,
      fromVersion: opt(versionField),
      name: fileNameField,
      uploadId: requestIdField,
      attrs: opt(objectAttrsSchema),
    }),
    response: obj({ version: versionField, createdAtMs: timeMsField }),
  },
  /** Turn a bucket's S3 versioning on ("enabled") or suspend it (its home bucket: never). */
  bucketVersioning: {
    request: obj({ uid: uidField, bucket: bucketField, versioning: bucketVersioningField }),
    response: obj({ versioning: bucketVersioningField }),
  },
  /**
   * One page of a bucket's object versions and delete markers with keys beginning with
   * `prefix`, by key, newest first within a key, after `after`.
   */
  listObjectVersions: {
    request: obj({
      uid: uidField,
      bucket: bucketField,
      prefix: objectKeyPartField,
      /** Version 0: after every version of the key. */
      after: opt(
        obj({ key: objectKeyPartField, version: int({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
      ),
      countMax: int({ min: 1, max: LIST_OBJECTS_MAX }),
    }),
    response: obj({
      versions: arr(objectVersionEntrySchema, { itemsMax: LIST_OBJECTS_MAX }),
      truncated: bool,
    }),
  },
  /** One page of a bucket's live objects with keys beginning with `prefix`, after `after`. */
  listObjects: {
    request: obj({
      uid: uidField,
      bucket: bucketField,
      prefix: objectKeyPartField,
      after: opt(objectKeyPartField),
      countMax: int({ min: 1, max: LIST_OBJECTS_MAX }),
    }),
    response: obj({
      objects: arr(objectEntrySchema, { itemsMax: LIST_OBJECTS_MAX }),
      /** More objects follow the last one listed. */
      truncated: bool,
    }),
  },

  // ---- directory, S3's multipart uploads: each part is uploaded as a name of its own ----
  /** Open a multipart upload of the object `name`, to get `attrs` once complete. */
  multipartCreate: {
    request: obj({ uid: uidField, name: fileNameField, attrs: opt(objectAttrsSchema) }),
    response: obj({ uploadId: requestIdField, initiatedAtMs: timeMsField }),
  },
  /** Drop an open multipart upload of `name` and its parts. */
  multipartAbort: {
    request: obj({ uid: uidField, name: fileNameField, uploadId: requestIdField }),
    response: obj({ uploadId: requestIdField }),
  },
  /**
   * Make the listed parts, in order, the object's newest version (their chunk lists joined; no
   * byte moves) and drop every part. `md5` is the MD5 of the parts' MD5s (the ETag's).
   * Idempotent: a completed upload answers the version it made.
   */
  multipartComplete: {
    request: obj({
      uid: uidField,
      /** The object the upload is of; an upload of another answers NO_SUCH_UPLOAD. */
      name: fileNameField,
      uploadId: requestIdField,
      parts: arr(obj({ partNumber: partNumberField, md5: md5Field }), {
        itemsMax: MULTIPART_PARTS_MAX,
      }),
      md5: md5Field,
      precondition: opt(writePreconditionSchema),
    }),
    response: obj({
      name: fileNameField,
      version: versionField,
      bytes: int({ min: 0, max: FILE_BYTES_MAX }),
      createdAtMs: timeMsField,
    }),
  },
  /** One page of an open upload's parts, numbered after `afterPart`. */
  multipartParts: {
    request: obj({
      uid: uidField,
      uploadId: requestIdField,
      afterPart: int({ min: 0, max: MULTIPART_PARTS_MAX }),
      countMax: int({ min: 1, max: LIST_PARTS_MAX }),
    }),
    response: obj({
      name: fileNameField,
      initiatedAtMs: timeMsField,
      parts: arr(
        obj({
          partNumber: partNumberField,
          bytes: int({ min: 0, max: FILE_BYTES_MAX }),
          md5: md5Field,
          createdAtMs: timeMsField,
        }),
        { itemsMax: LIST_PARTS_MAX },
      ),
      truncated: bool,
    }),
  },
  /** One page of a bucket's open uploads with keys beginning with `prefix`, by (key, id). */
  multipartList: {
    request: obj({
      uid: uidField,
      bucket: bucketField,
      prefix: objectKeyPartField,
      after: opt(obj({ key: objectKeyPartField, uploadId: opt(requestIdField) })),
      countMax: int({ min: 1, max: LIST_MULTIPART_UPLOADS_MAX }),
    }),
    response: obj({
      uploads: arr(
        obj({ key: objectKeyPartField, uploadId: requestIdField, initiatedAtMs: timeMsField }),
        { itemsMax: LIST_MULTIPART_UPLOADS_MAX },
      ),
      truncated: bool,
    }),
  },

  // ---- directory, for clients ----
  /** Every storage group's configuration: where a user's chunks can be listed and read. */
  listGroups: {
    request: empty,
    response: obj({ groups: arr(groupViewSchema, { itemsMax: GROUPS_MAX }) }),
  },

  // ---- storage, for clients ----
  /**
   * Which of these chunks this node holds under a reference of exactly this upload (pending
   * or committed): what a resumed upload may skip sending. Presence alone is not enough: a
   * chunk no open upload references may be garbage the directory has already confirmed.
   */
  uploadHeld: {
    request: obj({
      owner: chunkOwnerSchema,
      chunkIds: arr(sha256Field, { itemsMax: CHUNK_IDS_PER_REQUEST_MAX }),
    }),
    response: obj({ present: arr(sha256Field, { itemsMax: CHUNK_IDS_PER_REQUEST_MAX }) }),
  },
} as const satisfies Record<string, { request: Schema<unknown>; response: Schema<unknown> }>;

export type Op = keyof typeof OPS;
export type RequestBody<O extends Op> = Infer<(typeof OPS)[O]["request"]>;
export type ResponseBody<O extends Op> = Infer<(typeof OPS)[O]["response"]>;

const OP_NAMES: ReadonlySet<string> = new Set(Object.keys(OPS));

export function isOp(value: unknown): value is Op {
  return typeof value === "string" && OP_NAMES.has(value);
}

export interface RequestEnvelope {
  readonly op: Op;
  readonly epoch: number;
  readonly body: unknown;
}

const envelopeFields = obj({ op: str({ bytesMin: 1, bytesMax: 64 }), epoch: epochField });

/** Check a request header's envelope; the body is decoded by the op's own schema afterwards. */
export function decodeEnvelope(
  header: unknown,
):
  | { ok: true; value: RequestEnvelope }
  | { ok: false; code: "BAD_REQUEST" | "UNKNOWN_OP"; message: string } {
  const fields = tryDecode(envelopeFields, header);
  if (!fields.ok) return { ok: false, code: "BAD_REQUEST", message: fields.message };
  if (!isOp(fields.value.op)) {
    return { ok: false, code: "UNKNOWN_OP", message: `unknown operation '${fields.value.op}'` };
  }
  const body = (header as { body?: unknown }).body;
  return { ok: true, value: { op: fields.value.op, epoch: fields.value.epoch, body } };
}

export const errorHeaderSchema = obj({
  code: str({ bytesMin: 1, bytesMax: 64 }),
  message: str({ bytesMax: 4096 }),
  hint: opt(
    obj({
      primary: opt(addressField),
      epoch: opt(epochField),
      retryAfterMs: opt(timeMsField),
      deleteMarker: opt(bool),
      role: opt(literal("directory", "storage")),
    }),
  ),
});
