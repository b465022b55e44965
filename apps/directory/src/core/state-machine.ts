/**
 * The directory's deterministic state machine: applyCommand applies one committed log entry's
 * command to a MetadataStore in one atomic step. Same log, same state, on every node: nothing
 * here reads a clock, draws a random number or consults node configuration; each command brings
 * its own time and ids. A command that breaks a rule is still logged and answers a typed error
 * value; it changes nothing. Checks come first, writes last, so a failure writes nothing.
 */

import {
  ACCESS_KEYS_PER_USER_MAX,
  assert,
  BUCKETS_PER_USER_MAX,
  bucketNamePrefix,
  HOME_BUCKET,
  validateBucketName,
  assertNever,
  CHUNK_BYTES_MAX,
  fail,
  ok,
  uploadDeadlineMs,
  uploadSweepableAfterMs,
  validateUid,
  FILE_BYTES_MAX,
  MANIFEST_CHUNKS_MAX,
  MULTIPART_PART_BYTES_MIN,
  MULTIPART_UPLOADS_PER_USER_MAX,
  partNamePrefix,
  partOfStoredName,
  partStoredName,
  MULTIPART_PARTS_MAX,
  validateMultipartUploadId,
  type ChunkRef,
  type ObjectAttrs,
  type Result,
} from "@ftfs/protocol/core";
import { checkUserAndName, noSuchBucket, noSuchFile, noSuchUpload, noSuchUser } from "./checks.ts";
import type {
  AccessKeyAdd,
  BucketCreate,
  BucketDelete,
  BucketVersioningSet,
  AccessKeyRemove,
  AccessKeysReseal,
  Command,
  CommitVersion,
  CopyVersion,
  CreateUser,
  DeleteFile,
  DeleteVersion,
  MoveVersion,
  MultipartAbort,
  MultipartComplete,
  MultipartCreate,
  MultipartExpire,
  Outcome,
  OutcomeOf,
  Outcomes,
  SetGroupConfig,
  SweepUploads,
  UserAdd,
  UserRemove,
} from "./commands.ts";
import { SWEPT_UPLOADS_KEPT_MS, SWEPT_UPLOADS_PRUNED_PER_COMMAND_MAX } from "./limits.ts";
import { checkManifest, groupsOfChunks } from "./manifest-rules.ts";
import type { LiveVersion, MultipartRecord, Notice, UserRecord, UserUsage } from "./model.ts";
import {
  checkQuota,
  keepPolicy,
  keptVersions,
  limitsOf,
  planCommit,
  usageAfterDelete,
  versioningOn,
  type CommitPlan,
  type QuotaDefaults,
} from "./quota-rules.ts";
import type { MetadataStore, MetadataTx } from "./store.ts";

/**
 * Apply `command`, committed as log entry `index`. `index` must follow the store's lastApplied;
 * the answer is the command's outcome or the rule it broke.
 */
export function applyCommand<C extends Command>(
  store: MetadataStore,
  index: number,
  command: C,
): Result<OutcomeOf<C>> {
  const result = store.applyEntry(index, (tx) => execute(tx, index, command));
  // execute answers each command type with that type's outcome (see its switch), which the
  // compiler cannot follow through the generic; this is the one place the link is asserted.
  return result as Result<OutcomeOf<C>>;
}

function execute(tx: MetadataTx, index: number, command: Command): Result<Outcome> {
  switch (command.type) {
    case "createUser":
      return createUser(tx, command);
    case "commitVersion":
      return commitVersion(tx, index, command);
    case "copyVersion":
      return copyVersion(tx, index, command);
    case "deleteFile":
      return deleteFile(tx, index, command);
    case "setGroupConfig":
      return setGroupConfig(tx, command);
    case "ackNotices":
      return ok({ acked: tx.ackNotices(command.group, command.throughIndex, command.throughSeq) });
    case "moveVersion":
      return moveVersion(tx, index, command);
    case "userAdd":
      return userAdd(tx, index, command);
    case "userRemove":
      return userRemove(tx, command);
    case "sweepUploads":
      return sweepUploads(tx, command);
    case "accessKeyAdd":
      return accessKeyAdd(tx, command);
    case "accessKeyRemove":
      return accessKeyRemove(tx, command);
    case "accessKeysReseal":
      return accessKeysReseal(tx, command);
    case "bucketCreate":
      return bucketCreate(tx, command);
    case "bucketDelete":
      return bucketDelete(tx, command);
    case "multipartCreate":
      return multipartCreate(tx, command);
    case "multipartComplete":
      return multipartComplete(tx, index, command);
    case "multipartAbort":
      return multipartAbort(tx, index, command);
    case "bucketVersioning":
      return bucketVersioning(tx, command);
    case "deleteVersion":
      return deleteVersion(tx, index, command);
    case "multipartExpire":
      return multipartExpire(tx, index, command);
    default:
      return assertNever(command, "metadata command");
  }
}

function createUser(tx: MetadataTx, command: CreateUser): Result<Outcomes["createUser"]> {
  const validUid = validateUid(command.uid);
  if (!validUid.ok) return validUid;
  if (tx.getUser(command.uid) !== undefined) return ok({ created: false });
  tx.putUser({ uid: command.uid, createdAtMs: command.atMs });
  return ok({ created: true });
}

/**
 * Credentials for a new user, or for one `connect` made without any. The generation is this
 * entry's index: unique for ever, so sessions of a removed and re-added user stay dead.
 */
function userAdd(tx: MetadataTx, index: number, command: UserAdd): Result<Outcomes["userAdd"]> {
  const validUid = validateUid(command.uid);
  if (!validUid.ok) return validUid;
  const existing = tx.getUser(command.uid);
  if (existing?.verifier !== undefined) {
    // A retried add (same verifier, so the same secret) answers as the first one did.
    if (existing.verifier.storedKey === command.verifier.storedKey) {
      return ok({ generation: existing.generation ?? 0 });
    }
    return fail(
      "BAD_REQUEST",
      `user ${command.uid} already exists; remove it first (ftfs admin user rm ${command.uid})`,
    );
  }
  const user: UserRecord = {
    uid: command.uid,
    createdAtMs: existing?.createdAtMs ?? command.atMs,
    verifier: command.verifier,
    generation: index,
    ...(command.admin ? { admin: true } : {}),
    ...(command.quotaBytes === null ? {} : { quotaBytes: command.quotaBytes }),
    ...(command.quotaFiles === null ? {} : { quotaFiles: command.quotaFiles }),
  };
  if (existing === undefined) tx.putUser(user);
  else tx.replaceUser(user);
  return ok({ generation: index });
}

/**
 * The user goes (its sessions and access keys with it: nothing it signed works any more); its
 * files and usage stay under the uid.
 */
function userRemove(tx: MetadataTx, command: UserRemove): Result<Outcomes["userRemove"]> {
  if (tx.getUser(command.uid) === undefined) return ok({ removed: false });
  for (const key of tx.listAccessKeys(command.uid)) tx.removeAccessKey(key.accessKeyId);
  tx.removeUser(command.uid);
  return ok({ removed: true });
}

function bucketCreate(tx: MetadataTx, command: BucketCreate): Result<Outcomes["bucketCreate"]> {
  const { uid, bucket } = command;
  const validName = validateBucketName(bucket);
  if (!validName.ok) return validName;
  const user = tx.getUser(uid);
  if (user === undefined) return noSuchUser(uid);
  if (bucket === HOME_BUCKET) return ok({ created: false, createdAtMs: user.createdAtMs });
  const existing = tx.getBucket(uid, bucket);
  if (existing !== undefined) return ok({ created: false, createdAtMs: existing.createdAtMs });
  if (tx.listBuckets(uid).length >= BUCKETS_PER_USER_MAX) {
    return fail(
      "QUOTA_EXCEEDED",
      `user ${uid} already has ${BUCKETS_PER_USER_MAX} buckets; delete one first`,
    );
  }
  tx.putBucket({ uid, bucket, createdAtMs: command.atMs });
  return ok({ created: true, createdAtMs: command.atMs });
}

/** Only an empty bucket goes; the home bucket holds the user's files and never goes. */
function bucketDelete(tx: MetadataTx, command: BucketDelete): Result<Outcomes["bucketDelete"]> {
  const { uid, bucket } = command;
  if (bucket === HOME_BUCKET) {
    return fail(
      "BAD_REQUEST",
      `bucket '${HOME_BUCKET}' holds the user's files; it cannot be deleted`,
    );
  }
  if (tx.getBucket(uid, bucket) === undefined) return noSuchBucket(uid, bucket);
  // Versions and delete markers count: a bucket made again later must not find them.
  if (tx.listObjectVersions(uid, bucketNamePrefix(bucket), null, 1).length > 0) {
    return fail(
      "BUCKET_NOT_EMPTY",
      `bucket '${bucket}' still holds objects or versions of them; delete them first`,
    );
  }
  if (tx.listMultiparts(uid, bucketNamePrefix(bucket), null, 1).length > 0) {
    return fail(
      "BUCKET_NOT_EMPTY",
      `bucket '${bucket}' has multipart uploads in progress; complete or abort them first`,
    );
  }
  tx.removeBucket(uid, bucket);
  return ok({ deleted: true });
}

function bucketVersioning(
  tx: MetadataTx,
  command: BucketVersioningSet,
): Result<Outcomes["bucketVersioning"]> {
  const { uid, bucket, versioning } = command;
  if (bucket === HOME_BUCKET) {
    return fail(
      "BAD_REQUEST",
      `bucket '${HOME_BUCKET}' keeps versions by the cluster's keep policy; ` +
        "make a bucket of your own to turn versioning on",
    );
  }
  const record = tx.getBucket(uid, bucket);
  if (record === undefined) return noSuchBucket(uid, bucket);
  if (record.versioning !== versioning) tx.setBucketVersioning(uid, bucket, versioning);
  return ok({ versioning });
}

function accessKeyAdd(tx: MetadataTx, command: AccessKeyAdd): Result<Outcomes["accessKeyAdd"]> {
  const { uid, accessKeyId, sealed } = command;
  const earlier = tx.getAccessKey(accessKeyId);
  if (earlier !== undefined) {
    const same = earlier.uid === uid && earlier.sealed.ciphertext === sealed.ciphertext;
    if (same) return ok({ createdAtMs: earlier.createdAtMs });
    // Ids are 80 random bits: a clash is a bug or an attack, never chance.
    return fail("BAD_REQUEST", `access key ${accessKeyId} already exists`);
  }
  if (tx.getUser(uid) === undefined) return noSuchUser(uid);
  if (tx.listAccessKeys(uid).length >= ACCESS_KEYS_PER_USER_MAX) {
    return fail(
      "QUOTA_EXCEEDED",
      `user ${uid} already has ${ACCESS_KEYS_PER_USER_MAX} access keys; remove one first`,
    );
  }
  tx.putAccessKey({ accessKeyId, uid, sealed, createdAtMs: command.atMs });
  return ok({ createdAtMs: command.atMs });
}

function accessKeyRemove(
  tx: MetadataTx,
  command: AccessKeyRemove,
): Result<Outcomes["accessKeyRemove"]> {
  const key = tx.getAccessKey(command.accessKeyId);
  // Another user's key is answered as no key at all: ids are not to be probed.
  if (key === undefined || key.uid !== command.uid) return ok({ removed: false });
  tx.removeAccessKey(command.accessKeyId);
  return ok({ removed: true });
}

function accessKeysReseal(
  tx: MetadataTx,
  command: AccessKeysReseal,
): Result<Outcomes["accessKeysReseal"]> {
  let resealed = 0;
  for (const { accessKeyId, fromKeyId, sealed } of command.keys) {
    const key = tx.getAccessKey(accessKeyId);
    if (key === undefined || key.sealed.keyId !== fromKeyId) continue;
    tx.resealAccessKey(accessKeyId, sealed);
    resealed += 1;
  }
  return ok({ resealed });
}

function commitVersion(
  tx: MetadataTx,
  index: number,
  command: CommitVersion,
): Result<Outcomes["commitVersion"]> {
  const { uid, name, uploadId } = command;
  const earlier = tx.findUpload(uid, uploadId);
  if (earlier !== undefined) {
    const same =
      earlier.name === name && earlier.bytes === command.bytes && earlier.sha256 === command.sha256;
    if (!same) {
      return fail(
        "MANIFEST_MISMATCH",
        `upload ${uploadId} was already committed with other content`,
      );
    }
    return ok({ version: earlier.version, createdAtMs: earlier.createdAtMs });
  }
  const deadlineMs = uploadDeadlineMs(uploadId) ?? command.atMs;
  return refusedForGood(tx, uid, uploadId, deadlineMs, commitNewVersion(tx, index, command));
}

/** A copy is the commit of the source's manifest under a new upload, judged when applied. */
function copyVersion(
  tx: MetadataTx,
  index: number,
  command: CopyVersion,
): Result<Outcomes["copyVersion"]> {
  const { uid, from, fromVersion, name, uploadId } = command;
  const earlier = tx.findUpload(uid, uploadId);
  if (earlier !== undefined) {
    if (earlier.name !== name) {
      return fail("MANIFEST_MISMATCH", `upload ${uploadId} was already committed as another name`);
    }
    return ok({ version: earlier.version, createdAtMs: earlier.createdAtMs });
  }
  const valid = checkUserAndName(tx, uid, from);
  if (!valid.ok) return valid;
  const source = keptSource(tx, uid, from, fromVersion);
  const deadlineMs = uploadDeadlineMs(uploadId) ?? command.atMs;
  if (!source.ok) return refusedForGood(tx, uid, uploadId, deadlineMs, source);
  const { bytes, sha256, chunks } = source.value;
  // Whether the version's digest is its bytes' or its chunk list's goes with the bytes.
  const parts = source.value.attrs?.parts;
  const attrs =
    command.attrs === undefined
      ? source.value.attrs
      : { ...withoutParts(command.attrs), ...(parts === undefined ? {} : { parts }) };
  const commit: CommitVersion = {
    type: "commitVersion",
    uid,
    name,
    uploadId,
    bytes,
    sha256,
    chunks,
    atMs: command.atMs,
    ...commitPolicy(command),
    ...(attrs === undefined ? {} : { attrs }),
  };
  return refusedForGood(tx, uid, uploadId, deadlineMs, commitNewVersion(tx, index, commit));
}

function withoutParts(attrs: ObjectAttrs): ObjectAttrs {
  const { parts: _parts, ...rest } = attrs;
  return rest;
}

/** The quota defaults and keep policy a command carries, for the commit it makes. */
function commitPolicy(command: QuotaDefaults & { readonly keepVersions?: number }): {
  quotaBytesDefault?: number;
  quotaFilesDefault?: number;
  keepVersions?: number;
} {
  const { quotaBytesDefault, quotaFilesDefault, keepVersions } = command;
  return {
    ...(quotaBytesDefault === undefined ? {} : { quotaBytesDefault }),
    ...(quotaFilesDefault === undefined ? {} : { quotaFilesDefault }),
    ...(keepVersions === undefined ? {} : { keepVersions }),
  };
}

/** The version a copy reads: live, not pruned, not below a tombstone. */
function keptSource(
  tx: MetadataTx,
  uid: string,
  name: string,
  version: number | undefined,
): Result<LiveVersion> {
  const record =
    version === undefined ? tx.currentVersion(uid, name) : tx.getVersion(uid, name, version);
  const deletedThrough = tx.deletedThrough(uid, name);
  if (
    record === undefined ||
    record.kind !== "live" ||
    record.pruned === true ||
    record.version < deletedThrough
  ) {
    return noSuchFile(uid, name);
  }
  return ok(record);
}

function commitNewVersion(
  tx: MetadataTx,
  index: number,
  command: CommitVersion,
): Result<Outcomes["commitVersion"]> {
  const checked = checkNewVersion(tx, command, tx.getUsage(command.uid));
  if (!checked.ok) return checked;
  enqueueNotices(tx, index, writeNewVersion(tx, command, checked.value));
  return ok({ version: checked.value.version, createdAtMs: command.atMs });
}

interface NewVersionPlan {
  readonly version: number;
  readonly plan: CommitPlan;
}

/** Every rule a new version must pass, with `usage` as the user's usage before it. */
function checkNewVersion(
  tx: MetadataTx,
  command: CommitVersion,
  usage: UserUsage,
): Result<NewVersionPlan> {
  const { uid, name } = command;
  const valid = checkUserAndName(tx, uid, name);
  if (!valid.ok) return valid;
  const open = checkUploadOpen(tx, command);
  if (!open.ok) return open;
  const precondition = command.precondition;
  if (precondition !== undefined) {
    const current = tx.currentVersion(uid, name);
    const live = current?.kind === "live" ? current.version : null;
    if (live !== precondition.version) {
      return fail(
        "PRECONDITION_FAILED",
        live === null
          ? `'${name}' does not exist (the write was to replace version ${precondition.version})`
          : `'${name}' is at version ${live}, not ${precondition.version ?? "absent"} as the write required`,
      );
    }
  }
  // The node's own chunk size is checked before proposing; the log only enforces the wire's cap.
  const shape = checkManifest(command, CHUNK_BYTES_MAX);
  if (!shape.ok) return shape;
  for (const [at, chunk] of command.chunks.entries()) {
    if (tx.getGroup(chunk.group) === undefined) {
      return fail("MANIFEST_MISMATCH", `chunk ${at} names unknown storage group '${chunk.group}'`);
    }
  }
  const keep = keepPolicy(tx, uid, name, command.keepVersions);
  const plan = planCommit(tx, uid, name, command.bytes, keep, usage);
  const user = tx.getUser(uid);
  assert(user !== undefined, "checkUserAndName saw the user");
  const quota = checkQuota(uid, name, usage, plan.usage, limitsOf(user, command));
  if (!quota.ok) return quota;
  return ok({ version: nextVersion(tx, uid, name), plan });
}

/** Write a checked new version; answers the notices its groups need, in order. */
function writeNewVersion(
  tx: MetadataTx,
  command: CommitVersion,
  { version, plan }: NewVersionPlan,
): GroupNotice[] {
  const { uid, name, uploadId, bytes, sha256, chunks } = command;
  tx.setUsage(uid, plan.usage);
  tx.putVersion({
    kind: "live",
    uid,
    name,
    version,
    bytes,
    sha256,
    createdAtMs: command.atMs,
    uploadId,
    chunks,
    ...(command.attrs === undefined ? {} : { attrs: command.attrs }),
  });
  tx.keepChunks(uid, name, version, chunks);
  // Each group commits only the chunks the manifest keeps there: a put re-routed or hedged
  // away from it may have left it a pending reference of this upload, which must not commit.
  const notices = groupsOfChunks(chunks).map((group) => ({
    group,
    notice: commitNotice(command, version, chunks, group),
  }));
  // Versions past the keep policy are pruned in the same step: their chunks are released and
  // their groups drop exactly their uploads' references.
  for (const record of plan.pruned) {
    tx.pruneVersion(uid, name, record.version);
    notices.push(...releaseVersion(tx, record));
  }
  forgetExpiredRecords(tx, uid, name, command.atMs);
  return notices;
}

interface GroupNotice {
  readonly group: string;
  readonly notice: Notice;
}

/** A command's notices, numbered in the order its groups must receive them. */
function enqueueNotices(tx: MetadataTx, index: number, notices: readonly GroupNotice[]): void {
  for (const [seq, { group, notice }] of notices.entries()) {
    tx.enqueueNotice({ index, seq, group, notice });
  }
}

function deleteFile(
  tx: MetadataTx,
  index: number,
  command: DeleteFile,
): Result<Outcomes["deleteFile"]> {
  const { uid, name, requestId } = command;
  const earlier = tx.findDeleteRequest(uid, requestId);
  if (earlier !== undefined) {
    if (earlier.name !== name) {
      return fail("BAD_REQUEST", `request ${requestId} already deleted another file`);
    }
    return ok({
      deletedVersion: earlier.deletedVersion,
      ...(earlier.marker === true ? { markerVersion: earlier.version } : {}),
    });
  }
  // A copy of a delete already refused (a retry in flight when the answer came) stays refused.
  if (tx.uploadSwept(uid, requestId)) return noSuchFile(uid, name);
  if (requestId.startsWith(RESERVED_REQUEST_ID_PREFIX)) {
    return fail(
      "BAD_REQUEST",
      `request ids beginning with '${RESERVED_REQUEST_ID_PREFIX}' are reserved`,
    );
  }
  const valid = checkUserAndName(tx, uid, name);
  if (!valid.ok) return refusedForGood(tx, uid, requestId, command.atMs, valid);
  const current = tx.currentVersion(uid, name);
  if (current === undefined || current.kind === "tombstone") {
    return refusedForGood(tx, uid, requestId, command.atMs, noSuchFile(uid, name));
  }
  if (versioningOn(tx, uid, name)) {
    // A delete marker: the name reads as deleted; its versions stay, and so do their bytes.
    const markerVersion = nextVersion(tx, uid, name);
    tx.putVersion({
      kind: "tombstone",
      uid,
      name,
      version: markerVersion,
      createdAtMs: command.atMs,
      requestId,
      deletedVersion: current.version,
      marker: true,
    });
    const usage = tx.getUsage(uid);
    tx.setUsage(uid, { bytes: usage.bytes, files: usage.files - 1 });
    return ok({ deletedVersion: current.version, markerVersion });
  }
  enqueueNotices(tx, index, removeName(tx, uid, name, requestId, current.version, command.atMs));
  return ok({ deletedVersion: current.version });
}

/** The number the name's next version takes (numbers are never reused). */
function nextVersion(tx: MetadataTx, uid: string, name: string): number {
  return (tx.latestVersion(uid, name)?.version ?? 0) + 1;
}

function deleteVersion(
  tx: MetadataTx,
  index: number,
  command: DeleteVersion,
): Result<Outcomes["deleteVersion"]> {
  const { uid, name, version } = command;
  if (partOfStoredName(name) !== null) {
    return fail("BAD_REQUEST", "a part of a multipart upload goes only with its upload");
  }
  const valid = checkUserAndName(tx, uid, name);
  if (!valid.ok) return valid;
  const record = tx.getVersion(uid, name, version);
  const standing =
    record !== undefined &&
    record.pruned !== true &&
    record.version > tx.deletedThrough(uid, name) &&
    (record.kind === "live" || record.marker === true);
  if (!standing) return ok({ deleted: false, marker: false });
  const wasCurrent = tx.currentVersion(uid, name)?.version === version;
  tx.pruneVersion(uid, name, version);
  const usage = tx.getUsage(uid);
  let { bytes, files } = usage;
  const notices: GroupNotice[] = [];
  if (record.kind === "live") {
    bytes -= record.bytes;
    notices.push(...releaseVersion(tx, record));
  }
  if (wasCurrent) {
    // The newest version below becomes current: the name may be a file again, or no longer.
    const liveBefore = record.kind === "live" ? 1 : 0;
    const liveAfter = tx.currentVersion(uid, name)?.kind === "live" ? 1 : 0;
    files += liveAfter - liveBefore;
  }
  tx.setUsage(uid, { bytes, files });
  enqueueNotices(tx, index, notices);
  forgetExpiredRecords(tx, uid, name, command.atMs);
  return ok({ deleted: true, marker: record.kind === "tombstone" });
}

/**
 * A name goes: a tombstone takes the next version number, each kept version is released, and
 * each group holding its chunks is told to drop exactly that upload's references: a notice
 * that names the upload cannot touch a later upload of the same name, however late or often
 * it is delivered. Versions before the previous tombstone were released by that deletion.
 * Answers the notices.
 */
function removeName(
  tx: MetadataTx,
  uid: string,
  name: string,
  requestId: string,
  deletedVersion: number,
  atMs: number,
): GroupNotice[] {
  const kept = keptVersions(tx, uid, name);
  const notices = kept.flatMap((record) => releaseVersion(tx, record));
  const keptBytes = kept.reduce((sum, record) => sum + record.bytes, 0);
  tx.setUsage(uid, usageAfterDelete(tx.getUsage(uid), keptBytes));
  tx.putVersion({
    kind: "tombstone",
    uid,
    name,
    version: nextVersion(tx, uid, name),
    createdAtMs: atMs,
    requestId,
    deletedVersion,
  });
  forgetExpiredRecords(tx, uid, name, atMs);
  return notices;
}

/**
 * A change a rule refused is refused for good: its request id is recorded beside the swept
 * uploads, so a late copy of the same request (a retry still in flight when the client got its
 * answer) cannot take effect after the client was told it did not (Raft thesis §6.3, applied
 * to refusals). The record goes SWEPT_UPLOADS_KEPT_MS past `deadlineMs`, as a swept upload's.
 */
function refusedForGood<T>(
  tx: MetadataTx,
  uid: string,
  requestId: string,
  deadlineMs: number,
  result: Result<T>,
): Result<T> {
  if (!result.ok && !tx.uploadSwept(uid, requestId)) tx.sweepUpload(uid, requestId, deadlineMs);
  return result;
}

function setGroupConfig(
  tx: MetadataTx,
  command: SetGroupConfig,
): Result<Outcomes["setGroupConfig"]> {
  const { config } = command;
  const current = tx.getGroup(config.group);
  if (current !== undefined && config.epoch <= current.epoch) {
    return fail(
      "STALE_EPOCH",
      `group ${config.group} is at epoch ${current.epoch}; ` +
        `a configuration for epoch ${config.epoch} is stale`,
      { epoch: current.epoch },
    );
  }
  const nodes = config.replicas.map((replica) => replica.node);
  if (new Set(nodes).size !== nodes.length) {
    return fail("BAD_REQUEST", `group ${config.group} lists a replica twice`);
  }
  const primary = config.replicas.find((replica) => replica.node === config.primaryNode);
  const primaryAgrees =
    config.primaryNode === null
      ? config.primary === null
      : primary !== undefined && primary.address === config.primary;
  if (!primaryAgrees) {
    return fail("BAD_REQUEST", `group ${config.group}'s primary is not one of its replicas`);
  }
  tx.putGroup(config);
  return ok({ epoch: config.epoch });
}

/**
 * Switch a version's chunks in `from` to `to`, which already holds copies. Refused, changing
 * nothing, when the version is gone (deleted: its references were dropped, so switching would
 * resurrect nothing but garbage) or its chunks in `from` are not exactly the ones copied (a
 * concurrent move, perhaps a previous primary's, changed them): then `to` may lack a chunk.
 * Until the commitRefs notice reaches `to`, its copies are held by pending references, as an
 * upload's chunks are before their commit; readers of the old manifest find `from`'s chunks
 * until that group's garbage collection, a grace after the dropUploadRefs notice.
 */
function moveVersion(
  tx: MetadataTx,
  index: number,
  command: MoveVersion,
): Result<Outcomes["moveVersion"]> {
  const { uid, name, version, uploadId, from, to } = command;
  const valid = checkUserAndName(tx, uid, name);
  if (!valid.ok) return valid;
  const record = tx.getVersion(uid, name, version);
  const deletedThrough = tx.deletedThrough(uid, name);
  const gone = record?.kind !== "live" || record.pruned === true || version < deletedThrough;
  if (gone || record.uploadId !== uploadId) {
    return fail("NOT_FOUND", `version ${version} of '${name}' (user '${uid}') is gone`);
  }
  if (from === to) return fail("BAD_REQUEST", `a move from group ${from} to itself`);
  if (tx.getGroup(to) === undefined) {
    return fail("BAD_REQUEST", `no storage group '${to}' to move chunks to`);
  }
  if (!sameIds(chunkIdsIn(record.chunks, from), command.chunkIds)) {
    return fail(
      "MANIFEST_MISMATCH",
      `version ${version} of '${name}' no longer keeps exactly the copied chunks in ${from}`,
    );
  }
  let movedRefs = 0;
  let movedBytes = 0;
  const chunks = record.chunks.map((chunk) => {
    if (chunk.group !== from) return chunk;
    movedRefs += 1;
    movedBytes += chunk.bytes;
    return { ...chunk, group: to };
  });
  tx.replaceChunks(uid, name, version, chunks);
  tx.releaseChunks(uid, name, version);
  tx.keepChunks(uid, name, version, chunks);
  tx.enqueueNotice({
    index,
    seq: 0,
    group: to,
    notice: commitNotice(command, version, chunks, to),
  });
  tx.enqueueNotice({
    index,
    seq: 1,
    group: from,
    notice: { op: "dropUploadRefs", body: { uid, name, uploadId } },
  });
  return ok({ movedRefs, movedBytes });
}

/**
 * A name's records of versions no longer kept (pruned, or below its newest tombstone) go once
 * their upload's deadline has passed: until then a retried commit of that upload must find its
 * record (and answer the version it made), after it the deadline refuses the commit anyway. So
 * a name's history stays bounded: its kept versions, its tombstones, and what expired lately.
 * Records of uploads without a deadline (logged before ids had one) stay.
 */
function forgetExpiredRecords(tx: MetadataTx, uid: string, name: string, atMs: number): void {
  const deletedThrough = tx.deletedThrough(uid, name);
  const newest = tx.latestVersion(uid, name)?.version ?? 0;
  for (const record of tx.listVersions(uid, name, 0)) {
    if (record.kind !== "live" || record.version === newest) continue;
    if (record.pruned !== true && record.version > deletedThrough) continue;
    const deadlineMs = uploadDeadlineMs(record.uploadId);
    if (deadlineMs !== null && deadlineMs < atMs) tx.forgetVersion(uid, name, record.version);
  }
}

/**
 * A kept version stops being kept (deleted or pruned): its chunks leave the chunk index, and
 * each group holding them is told to drop exactly that upload's references. A notice naming
 * the upload cannot touch a later upload of the same name, however late or often it arrives.
 */
function releaseVersion(tx: MetadataTx, record: LiveVersion): GroupNotice[] {
  const { uid, name, uploadId } = record;
  tx.releaseChunks(uid, name, record.version);
  return groupsOfChunks(record.chunks).map((group) => ({
    group,
    notice: { op: "dropUploadRefs", body: { uid, name, uploadId } },
  }));
}

/**
 * The commitRefs notice to `group` for one upload committed as `version` with `chunks`. A file
 * that holds a chunk more than once says how often (chunkUses), so the group's listing of the
 * user's files counts the file's whole size; otherwise the notice is as it always was.
 */
function commitNotice(
  owner: { readonly uid: string; readonly name: string; readonly uploadId: string },
  version: number,
  chunks: readonly ChunkRef[],
  group: string,
): Notice {
  const { uid, name, uploadId } = owner;
  const chunkIds = chunkIdsIn(chunks, group);
  const bytesOf = new Map(chunks.map((chunk) => [chunk.id, chunk.bytes]));
  const chunkBytes = chunkIds.map((id) => bytesOf.get(id) ?? 0);
  // Counted in this group only: a chunk the manifest keeps in two groups (a put re-routed
  // across a failover) is each group's that often.
  const usesOf = new Map<string, number>();
  for (const chunk of chunks) {
    if (chunk.group === group) usesOf.set(chunk.id, (usesOf.get(chunk.id) ?? 0) + 1);
  }
  const chunkUses = chunkIds.map((id) => usesOf.get(id) ?? 1);
  const repeats = chunkUses.some((uses) => uses > 1);
  return {
    op: "commitRefs",
    body: {
      uid,
      name,
      uploadId,
      version,
      chunkIds,
      chunkBytes,
      ...(repeats ? { chunkUses } : {}),
    },
  };
}

/**
 * A new commit's upload must still be open: not swept (its chunks may be gone), and not past
 * its deadline by this command's time. Ids without a deadline (logged before ids had one) are
 * held only to the first rule, so an old log replays as it applied.
 */
function checkUploadOpen(tx: MetadataTx, command: CommitVersion): Result<void> {
  const { uid, uploadId, atMs } = command;
  const deadlineMs = uploadDeadlineMs(uploadId);
  if (tx.uploadSwept(uid, uploadId) || (deadlineMs !== null && atMs > deadlineMs)) {
    return fail(
      "UPLOAD_EXPIRED",
      `the upload of '${command.name}' ran past its deadline and was not kept; upload it again`,
    );
  }
  return ok(undefined);
}

/** Record the uploads that can no longer commit; forget records long past their deadline. */
function sweepUploads(tx: MetadataTx, command: SweepUploads): Result<Outcomes["sweepUploads"]> {
  let swept = 0;
  for (const { uid, uploadId } of command.uploads) {
    if (tx.findUpload(uid, uploadId) !== undefined || tx.uploadSwept(uid, uploadId)) continue;
    if (uploadSweepableAfterMs(uploadId) >= command.atMs) continue;
    // An id without a deadline is remembered from its sweep: only the record refuses its commit.
    tx.sweepUpload(uid, uploadId, uploadDeadlineMs(uploadId) ?? command.atMs);
    swept += 1;
  }
  tx.forgetSweptBefore(command.atMs - SWEPT_UPLOADS_KEPT_MS, SWEPT_UPLOADS_PRUNED_PER_COMMAND_MAX);
  return ok({ swept });
}

/** Open a multipart upload of an object, named by its stored name (object-names.ts). */
function multipartCreate(
  tx: MetadataTx,
  command: MultipartCreate,
): Result<Outcomes["multipartCreate"]> {
  const { uid, uploadId, name } = command;
  const validId = validateMultipartUploadId(uploadId);
  if (!validId.ok) return validId;
  if (partOfStoredName(name) !== null) {
    return fail("INVALID_NAME", "a multipart upload is of an object, not of a part");
  }
  const valid = checkUserAndName(tx, uid, name);
  if (!valid.ok) return valid;
  const earlier = tx.getMultipart(uid, uploadId);
  if (earlier !== undefined) {
    if (earlier.name !== name) {
      return fail("BAD_REQUEST", `multipart upload ${uploadId} is of another object`);
    }
    return ok({ initiatedAtMs: earlier.initiatedAtMs });
  }
  if (tx.countMultiparts(uid) >= MULTIPART_UPLOADS_PER_USER_MAX) {
    return fail(
      "QUOTA_EXCEEDED",
      `user ${uid} has ${MULTIPART_UPLOADS_PER_USER_MAX} multipart uploads open; ` +
        "complete or abort some first",
    );
  }
  tx.putMultipart({
    uid,
    uploadId,
    name,
    initiatedAtMs: command.atMs,
    ...(command.attrs === undefined ? {} : { attrs: command.attrs }),
  });
  return ok({ initiatedAtMs: command.atMs });
}

/**
 * The listed parts become the object's newest version; every part of the upload goes, in the
 * same step. Checks come first (the parts, then the new version against the usage the parts
 * leave), writes last; the object's chunks are kept in the step that releases the parts', and
 * each group hears of the object before it is told to drop the parts' references.
 */
function multipartComplete(
  tx: MetadataTx,
  index: number,
  command: MultipartComplete,
): Result<Outcomes["multipartComplete"]> {
  const { uid, uploadId } = command;
  const earlier = tx.findUpload(uid, uploadId);
  if (earlier !== undefined) {
    const { name, version, bytes, createdAtMs } = earlier;
    return ok({ name, version, bytes, createdAtMs });
  }
  const upload = tx.getMultipart(uid, uploadId);
  if (upload === undefined) return noSuchUpload(uploadId);
  const joined = joinParts(tx, upload, command.parts);
  if (!joined.ok) return joined;
  const { bytes, chunks } = joined.value;
  const commit: CommitVersion = {
    type: "commitVersion",
    uid,
    name: upload.name,
    uploadId,
    bytes,
    sha256: command.sha256,
    chunks,
    atMs: command.atMs,
    ...commitPolicy(command),
    attrs: { ...upload.attrs, md5: command.md5, parts: command.parts.length },
    ...(command.precondition === undefined ? {} : { precondition: command.precondition }),
  };
  const partNames = openPartNames(tx, uid, uploadId);
  const usage = usageWithout(tx, uid, partNames);
  const checked = checkNewVersion(tx, commit, usage);
  if (!checked.ok) return checked;
  const dropped = dropParts(tx, uid, partNames, command);
  const kept = writeNewVersion(tx, commit, checked.value);
  tx.removeMultipart(uid, uploadId);
  enqueueNotices(tx, index, [...kept, ...dropped]);
  return ok({
    name: upload.name,
    version: checked.value.version,
    bytes,
    createdAtMs: command.atMs,
  });
}

function multipartAbort(
  tx: MetadataTx,
  index: number,
  command: MultipartAbort,
): Result<Outcomes["multipartAbort"]> {
  const { uid, uploadId } = command;
  if (tx.getMultipart(uid, uploadId) === undefined) return noSuchUpload(uploadId);
  const partNames = openPartNames(tx, uid, uploadId);
  enqueueNotices(tx, index, dropParts(tx, uid, partNames, command));
  tx.removeMultipart(uid, uploadId);
  return ok({ partsDropped: partNames.length });
}

function multipartExpire(
  tx: MetadataTx,
  index: number,
  command: MultipartExpire,
): Result<Outcomes["multipartExpire"]> {
  const notices: GroupNotice[] = [];
  let expired = 0;
  for (const { uid, uploadId } of command.uploads) {
    const deadlineMs = uploadDeadlineMs(uploadId);
    if (tx.getMultipart(uid, uploadId) === undefined) continue;
    if (deadlineMs === null || deadlineMs >= command.atMs) continue;
    const partNames = openPartNames(tx, uid, uploadId);
    notices.push(...dropParts(tx, uid, partNames, { atMs: command.atMs, forgetParts: true }));
    tx.removeMultipart(uid, uploadId);
    expired += 1;
  }
  enqueueNotices(tx, index, notices);
  return ok({ expired });
}

/** The chunk list the listed parts make, in order, each part checked against the listing. */
function joinParts(
  tx: MetadataTx,
  upload: MultipartRecord,
  parts: MultipartComplete["parts"],
): Result<{ bytes: number; chunks: ChunkRef[] }> {
  if (parts.length === 0) return fail("INVALID_PART", "a completion must name at least one part");
  const chunks: ChunkRef[] = [];
  let bytes = 0;
  let previous = 0;
  for (const [at, { partNumber, version, md5 }] of parts.entries()) {
    if (partNumber <= previous) {
      return fail("INVALID_PART_ORDER", "the parts must be listed in ascending order, each once");
    }
    previous = partNumber;
    const record = tx.currentVersion(upload.uid, partStoredName(upload.uploadId, partNumber));
    if (record?.kind !== "live" || record.version !== version || record.attrs?.md5 !== md5) {
      return fail(
        "INVALID_PART",
        `part ${partNumber} was not uploaded, or not with ETag ${md5}; upload it again`,
      );
    }
    if (at < parts.length - 1 && record.bytes < MULTIPART_PART_BYTES_MIN) {
      return fail(
        "PART_TOO_SMALL",
        `part ${partNumber} has ${record.bytes} bytes; every part but the last needs ` +
          `${MULTIPART_PART_BYTES_MIN}`,
      );
    }
    bytes += record.bytes;
    chunks.push(...record.chunks);
  }
  if (chunks.length > MANIFEST_CHUNKS_MAX || bytes > FILE_BYTES_MAX) {
    return fail(
      "INVALID_PART",
      `the parts make an object of ${bytes} bytes in ${chunks.length} chunks, over the ` +
        `limit of ${FILE_BYTES_MAX} bytes in ${MANIFEST_CHUNKS_MAX} chunks`,
    );
  }
  return ok({ bytes, chunks });
}

/** The upload's part names whose newest version is live. */
function openPartNames(tx: MetadataTx, uid: string, uploadId: string): string[] {
  return tx
    .listLiveFilesFrom(uid, partNamePrefix(uploadId), null, MULTIPART_PARTS_MAX)
    .map((record) => record.name);
}

/** The user's usage once these names are gone. */
function usageWithout(tx: MetadataTx, uid: string, names: readonly string[]): UserUsage {
  let usage = tx.getUsage(uid);
  for (const name of names) {
    const keptBytes = keptVersions(tx, uid, name).reduce((sum, record) => sum + record.bytes, 0);
    usage = usageAfterDelete(usage, keptBytes);
  }
  return usage;
}

/**
 * Request ids the directory gave the deletions it made itself: a part's name, when parts
 * were tombstoned (commands logged before forgetParts). No client's delete may take one.
 */
const RESERVED_REQUEST_ID_PREFIX = "//";

/**
 * Every part name goes, as a deleted file does; answers the notices. A part's name is never
 * used again (its upload's id is unique), so with forgetParts its records go too and an upload
 * leaves nothing behind: a late retry of a part's commit then finds no open upload and is
 * refused, as it would be anyway. Commands logged before forgetParts tombstone each part.
 */
function dropParts(
  tx: MetadataTx,
  uid: string,
  partNames: readonly string[],
  command: { readonly atMs: number; readonly forgetParts?: boolean },
): GroupNotice[] {
  return partNames.flatMap((name) => {
    const current = tx.currentVersion(uid, name);
    assert(current?.kind === "live", `part ${name} is open`);
    if (command.forgetParts !== true) {
      return removeName(tx, uid, name, name, current.version, command.atMs);
    }
    const kept = keptVersions(tx, uid, name);
    const notices = kept.flatMap((record) => releaseVersion(tx, record));
    const keptBytes = kept.reduce((sum, record) => sum + record.bytes, 0);
    tx.setUsage(uid, usageAfterDelete(tx.getUsage(uid), keptBytes));
    tx.forgetName(uid, name);
    return notices;
  });
}

/** The distinct ids of the chunks kept in `group`, sorted. */
export function chunkIdsIn(chunks: readonly ChunkRef[], group: string): string[] {
  const ids = new Set<string>();
  for (const chunk of chunks) if (chunk.group === group) ids.add(chunk.id);
  return [...ids].sort();
}

/** Both name the same non-empty set of ids. */
function sameIds(kept: readonly string[], copied: readonly string[]): boolean {
  const copiedSet = new Set(copied);
  return kept.length > 0 && kept.length === copiedSet.size && kept.every((id) => copiedSet.has(id));
}
