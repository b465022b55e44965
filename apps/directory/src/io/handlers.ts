/**
 * The directory's RPC handlers: decode-checked requests in, answers out. Each handler checks
 * what a request claims (names, uid, manifest sums) before proposing, so the log holds few
 * refused commands; the state machine checks again, since the log is the authority. Reads come
 * from the applied state through the pure queries of core/queries.ts.
 */

import {
  FILE_BYTES_MAX,
  checkActsFor,
  fail,
  memberViewSchema,
  ok,
  parseAddress,
  tryDecode,
  uploadIdWithDeadline,
  type GroupView,
  type MemberView,
  validateUid,
  type Op,
  type RequestBody,
  type Result,
  type Ticket,
  type TrafficSample,
} from "@ftfs/protocol/core";
import {
  issueTicket,
  receiptValid,
  type Handler,
  type Handlers,
  type Keyring,
  type Logger,
  type Reply,
  type RequestContext,
} from "@ftfs/protocol/io";
import {
  checkManifest,
  checkUserAndName,
  clusterMembers,
  directorySelfView,
  findManifest,
  heartbeatOf,
  mergeGossipMembers,
  type GossipMember,
  listLiveFiles,
  noSuchFile,
  type MetadataView,
  checkQuota,
  limitsOf,
  type QuotaDefaults,
  keepPolicy,
  planCommit,
  REBALANCE_THRESHOLD_BASIS_POINTS_DEFAULT,
  judgeGarbage,
  uploadKeeps,
  uploadsToSweep,
  type GarbageFacts,
  notPrimary,
} from "../core/index.ts";
import type { GroupManager } from "./group-manager.ts";
import type { Rebalancer } from "./rebalancer.ts";
import type { Proposer } from "./replicator.ts";
import { checkKeyOwner, onKeyCreate, onKeyList, onKeyRemove, onKeyResolve } from "./access-keys.ts";
import {
  onBucketCreate,
  onBucketDelete,
  onBucketList,
  onBucketVersioning,
  onListObjects,
  onListObjectVersions,
} from "./buckets.ts";
import {
  onMultipartAbort,
  onMultipartComplete,
  onMultipartCreate,
  onMultipartList,
  onMultipartParts,
} from "./multipart.ts";
import { onLoginFinish, onLoginStart, onUserAdd, onUserList, onUserRemove } from "./users.ts";

/** Where this node stands in its directory group. */
export type Leadership =
  | { readonly kind: "primary" }
  /** `primary`: the address of the one that is, or null while an election runs. */
  | { readonly kind: "backup"; readonly primary: string | null }
  /** The group has not formed yet (`--expect` members not all seen): `error` says so. */
  | { readonly kind: "forming"; readonly error: Result<never> };

/** What the operator set for this directory (its flags), as requests need it. */
export interface DirectorySettings {
  readonly chunkBytes: number;
  /** A storage node silent this long is dead (its group is reconfigured). */
  readonly deadAfterMs: number;
  /** The quota defaults (`--quota-bytes-default`, `--quota-files-default`) commits carry. */
  readonly quotaDefaults: Required<QuotaDefaults>;
  /** How long an upload may take from placement to commit (`--upload-deadline`). */
  readonly uploadDeadlineMs: number;
  /** Versions each name keeps (`--keep-versions`), carried by commits. */
  readonly keepVersions: number;
}

/** What only the primary runs; null elsewhere. */
export interface PrimaryServices {
  /** The storage-group manager. */
  readonly groups: GroupManager;
  readonly rebalancer: Rebalancer;
}

export interface DirectoryContext {
  readonly node: string;
  /** The address clients reach this node at (known once the server listens). */
  readonly address: () => string;
  readonly store: MetadataView;
  readonly proposer: Proposer;
  readonly primary: () => PrimaryServices | null;
  readonly leadership: () => Leadership;
  readonly settings: DirectorySettings;
  /** The cluster keyring; null in insecure mode (no logins, users made by connect). */
  readonly keyring: Keyring | null;
  readonly nowMs: () => number;
  readonly newId: () => string;
  /** Every member as our gossip sees it (empty without gossip). */
  readonly gossipMembers: () => readonly GossipMember[];
  /** The file requests this node answered since it started (clusterStatus carries them). */
  readonly userTraffic: () => TrafficSample;
  /** A Raft message (or part of one) from a peer directory node. */
  readonly onRaftMessage: (header: unknown, payload: Uint8Array) => Result<void>;
  readonly logger: Logger;
}

type Answer<O extends Op> = Promise<Result<Reply<O>>>;

/**
 * A refusal read from the local state ("no such user", "no such file") is only as current as
 * that state: a primary that lost leadership without knowing it yet, or a new one still
 * applying its predecessor's entries, may not have seen the change that makes the request
 * valid. Before refusing, prove the state current (read index), then check again.
 */
async function checkedCurrent<T>(
  context: DirectoryContext,
  check: () => Result<T>,
): Promise<Result<T>> {
  const first = check();
  if (first.ok || (first.error.code !== "NO_SUCH_USER" && first.error.code !== "NOT_FOUND")) {
    return first;
  }
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  return check();
}

/**
 * A request stamped with a term older than ours was routed by a stale view of the directory
 * group; 0 means the caller did not stamp it. Newer terms are fine: we may be the one behind.
 */
function withTermCheck<O extends Op>(context: DirectoryContext, handler: Handler<O>): Handler<O> {
  return async (body: RequestBody<O>, request: RequestContext) => {
    const term = context.proposer.term;
    if (request.epoch > 0 && request.epoch < term) {
      return fail("STALE_EPOCH", `directory term is ${term}; request was for ${request.epoch}`, {
        epoch: term,
        primary: context.address(),
      });
    }
    return handler(body, request);
  };
}

async function onConnect(
  context: DirectoryContext,
  body: RequestBody<"connect">,
  request: RequestContext,
): Answer<"connect"> {
  const valid = validateUid(body.uid);
  if (!valid.ok) return valid;
  let created = false;
  // With a cluster key, users exist only by `ftfs admin user add`: connect creates nobody.
  if (request.authenticated && context.store.getUser(body.uid) === undefined) {
    return fail(
      "NO_SUCH_USER",
      `no user '${body.uid}'; an administrator adds users (ftfs admin user add ${body.uid})`,
    );
  }
  // A known user needs no command: connect is mostly a read, and the log should not grow by it.
  if (context.store.getUser(body.uid) === undefined) {
    const result = await context.proposer.propose({
      type: "createUser",
      uid: body.uid,
      atMs: context.nowMs(),
    });
    if (!result.ok) return result;
    created = result.value.created;
    if (created) context.logger.info("user created", { uid: body.uid });
  }
  const answer = {
    uid: body.uid,
    created,
    node: context.node,
    primary: context.address(),
    term: context.proposer.term,
  };
  return ok({ body: answer });
}

async function onPlaceUpload(
  context: DirectoryContext,
  body: RequestBody<"placeUpload">,
): Answer<"placeUpload"> {
  const valid = await checkedCurrent(context, () =>
    checkUserAndName(context.store, body.uid, body.name),
  );
  if (!valid.ok) return valid;
  // Asked early so a refused upload stores nothing; the commit decides for good. A stream's
  // size is unknown: only the name is judged now, and its tickets allow what room is left.
  const unknown = body.bytesUnknown === true;
  const quota = checkUploadQuota(context, body.uid, body.name, unknown ? 0 : body.bytes);
  if (!quota.ok) return quota;
  const bytesMax = unknown
    ? Math.min(body.bytes, quotaRoom(context, body.uid, body.name))
    : body.bytes;
  const groups = context.primary()?.groups.placementGroups() ?? [];
  // An empty file has no chunks, so it needs no storage group.
  if (groups.length === 0 && (body.bytes > 0 || unknown)) {
    return fail("UNAVAILABLE", "no storage group is available; retry when storage nodes are up");
  }
  const deadlineMs = context.nowMs() + context.settings.uploadDeadlineMs;
  const uploadId = uploadIdWithDeadline(deadlineMs, context.newId());
  const tickets = ticketsFor(context, { ...body, bytes: bytesMax }, uploadId, deadlineMs, groups);
  const answer = { uploadId, chunkBytes: context.settings.chunkBytes, groups };
  return ok({ body: tickets === null ? answer : { ...answer, tickets } });
}

/**
 * With a cluster key, a ticket per group lets the user write this upload there: each allows
 * the whole file, since placement decides chunk by chunk (and hedged writes move chunks).
 */
function ticketsFor(
  context: DirectoryContext,
  body: RequestBody<"placeUpload">,
  uploadId: string,
  deadlineMs: number,
  groups: readonly GroupView[],
): Ticket[] | null {
  const keyring = context.keyring;
  if (keyring === null) return null;
  const tickets: Ticket[] = [];
  for (const view of groups) {
    const grant = {
      uploadId,
      uid: body.uid,
      name: body.name,
      group: view.group,
      bytesMax: body.bytes,
    };
    const ticket = issueTicket(keyring, grant, deadlineMs);
    if (ticket !== null) tickets.push(ticket);
  }
  return tickets;
}

/** With a cluster key, every chunk of a manifest needs its group primary's receipt. */
function checkReceipts(context: DirectoryContext, body: RequestBody<"commitUpload">): Result<void> {
  const keyring = context.keyring;
  if (keyring === null || body.chunks.length === 0) return ok(undefined);
  const receipts = body.receipts ?? [];
  if (receipts.length !== body.chunks.length) {
    return fail("RECEIPT_INVALID", `${body.chunks.length} chunks but ${receipts.length} receipts`);
  }
  for (const [index, chunk] of body.chunks.entries()) {
    const fields = {
      group: chunk.group,
      chunkId: chunk.id,
      bytes: chunk.bytes,
      uploadId: body.uploadId,
    };
    if (!receiptValid(keyring, receipts[index] ?? "", fields)) {
      return fail(
        "RECEIPT_INVALID",
        `chunk ${index} (${chunk.id.slice(0, 12)}) has no valid receipt from group ${chunk.group}`,
      );
    }
  }
  return ok(undefined);
}

/**
 * Bytes a new version of `name` may take before the user's byte quota refuses its commit (the
 * versions its commit prunes freed); unlimited is the largest file.
 */
function quotaRoom(context: DirectoryContext, uid: string, name: string): number {
  const user = context.store.getUser(uid);
  if (user === undefined) return 0; // checkUserAndName answered that already
  const limit = limitsOf(user, context.settings.quotaDefaults).bytes;
  if (limit === null) return FILE_BYTES_MAX;
  const keep = keepPolicy(context.store, uid, name, context.settings.keepVersions);
  const afterEmpty = planCommit(context.store, uid, name, 0, keep).usage.bytes;
  return Math.max(0, limit - afterEmpty);
}

function checkUploadQuota(
  context: DirectoryContext,
  uid: string,
  name: string,
  bytes: number,
): Result<void> {
  const user = context.store.getUser(uid);
  if (user === undefined) return ok(undefined); // checkUserAndName answered that already
  const limits = limitsOf(user, context.settings.quotaDefaults);
  // No quota: nothing to judge, and the plan's reads are a tenth of a commit's work.
  if (limits.bytes === null && limits.files === null) return ok(undefined);
  const usage = context.store.getUsage(uid);
  const keep = keepPolicy(context.store, uid, name, context.settings.keepVersions);
  const plan = planCommit(context.store, uid, name, bytes, keep);
  return checkQuota(uid, name, usage, plan.usage, limits);
}

async function onCopyObject(
  context: DirectoryContext,
  body: RequestBody<"copyObject">,
): Answer<"copyObject"> {
  const { uid, from, fromVersion, name, uploadId, attrs } = body;
  const valid = checkUserAndName(context.store, uid, name);
  if (!valid.ok) return valid;
  const copied = await context.proposer.propose({
    type: "copyVersion",
    uid,
    from,
    ...(fromVersion === undefined ? {} : { fromVersion }),
    name,
    uploadId,
    atMs: context.nowMs(),
    ...context.settings.quotaDefaults,
    keepVersions: context.settings.keepVersions,
    ...(attrs === undefined ? {} : { attrs }),
  });
  if (!copied.ok) return copied;
  context.logger.info("version copied", { uid, name, version: copied.value.version });
  return ok({ body: copied.value });
}

async function onCommitUpload(
  context: DirectoryContext,
  body: RequestBody<"commitUpload">,
): Answer<"commitUpload"> {
  if (body.attrs?.parts !== undefined) {
    // Only a multipart completion joins parts (and records its chunk list's digest).
    return fail("BAD_REQUEST", "an upload cannot claim to be joined from parts");
  }
  const valid = await checkedCurrent(context, () =>
    checkUserAndName(context.store, body.uid, body.name),
  );
  if (!valid.ok) return valid;
  // A retried commit of an upload already in the log answers from the log, whatever the
  // chunk size is now; only a new commit is held to this node's chunk size.
  if (context.store.findUpload(body.uid, body.uploadId) === undefined) {
    const shape = checkManifest(body, context.settings.chunkBytes);
    if (!shape.ok) return shape;
  }
  const vouched = checkReceipts(context, body);
  if (!vouched.ok) return vouched;
  const { uid, name, uploadId, bytes, sha256, chunks } = body;
  const command = {
    type: "commitVersion",
    uid,
    name,
    uploadId,
    bytes,
    sha256,
    chunks,
    atMs: context.nowMs(),
    ...context.settings.quotaDefaults,
    keepVersions: context.settings.keepVersions,
    ...(body.attrs === undefined ? {} : { attrs: body.attrs }),
    ...(body.precondition === undefined ? {} : { precondition: body.precondition }),
  } as const;
  const result = await context.proposer.propose(command);
  if (!result.ok) return result;
  context.logger.info("version committed", {
    uid,
    name,
    version: result.value.version,
    bytes,
    uploadId,
  });
  return ok({ body: result.value });
}

async function onGetManifest(
  context: DirectoryContext,
  body: RequestBody<"getManifest">,
): Answer<"getManifest"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const found = findManifest(context.store, body.uid, body.name, body.version);
  if (!found.ok) return found;
  return ok({ body: found.value });
}

async function onListFiles(
  context: DirectoryContext,
  body: RequestBody<"listFiles">,
): Answer<"listFiles"> {
  // A stale read is what the caller asked for: this node's applied state, whatever its role.
  if (body.stale !== true) {
    const current = await context.proposer.readBarrier();
    if (!current.ok) return current;
  }
  const files = listLiveFiles(context.store, body.uid);
  if (!files.ok) return files;
  return ok({ body: { files: files.value } });
}

async function onDeleteFile(
  context: DirectoryContext,
  body: RequestBody<"deleteFile">,
): Answer<"deleteFile"> {
  const { uid, name, requestId } = body;
  const valid = await checkedCurrent(context, () => {
    const known = checkUserAndName(context.store, uid, name);
    if (!known.ok) return known;
    const retried = context.store.findDeleteRequest(uid, requestId) !== undefined;
    // Refuse a missing name here, so a stream of bad deletes does not grow the log.
    const exists = context.store.currentVersion(uid, name)?.kind === "live";
    return !retried && !exists ? noSuchFile(uid, name) : known;
  });
  if (!valid.ok) return valid;
  const result = await context.proposer.propose({
    type: "deleteFile",
    uid,
    name,
    requestId,
    atMs: context.nowMs(),
  });
  if (!result.ok) return result;
  context.logger.info("file deleted", { uid, name, deletedVersion: result.value.deletedVersion });
  return ok({ body: result.value });
}

async function onDeleteVersion(
  context: DirectoryContext,
  body: RequestBody<"deleteVersion">,
): Answer<"deleteVersion"> {
  const { uid, name, version } = body;
  const valid = await checkedCurrent(context, () => checkUserAndName(context.store, uid, name));
  if (!valid.ok) return valid;
  const result = await context.proposer.propose({
    type: "deleteVersion",
    uid,
    name,
    version,
    atMs: context.nowMs(),
  });
  if (!result.ok) return result;
  if (result.value.deleted) context.logger.info("version deleted", { uid, name, version });
  return ok({ body: result.value });
}

async function onClusterStatus(
  context: DirectoryContext,
  groups: GroupManager,
): Answer<"clusterStatus"> {
  const configs = context.store.listGroups();
  const self = { node: context.node, address: context.address(), term: context.proposer.term };
  const known = clusterMembers(
    self,
    groups.nodes(),
    configs,
    context.nowMs(),
    context.settings.deadAfterMs,
  );
  const members = withGossip(context, known, configs);
  const traffic = context.userTraffic();
  return ok({ body: { node: context.node, members, groups: configs, traffic } });
}

/**
 * A backup has no registrations, but its gossip view is as live as the primary's, and its
 * replicated group configurations are at most a heartbeat behind.
 */
async function onBackupStatus(context: DirectoryContext): Answer<"clusterStatus"> {
  const self = { node: context.node, address: context.address(), term: context.proposer.term };
  const configs = context.store.listGroups();
  const members = withGossip(context, [directorySelfView(self, false)], configs);
  return ok({ body: { node: context.node, members, groups: configs } });
}

/** Merges the gossip view in, keeping only members whose fields fit the wire schema. */
function withGossip(
  context: DirectoryContext,
  known: readonly MemberView[],
  configs: Parameters<typeof mergeGossipMembers>[2],
): MemberView[] {
  const merged = mergeGossipMembers(known, context.gossipMembers(), configs);
  // Ids and addresses come from peers: one a peer mis-set must not break the whole answer.
  return merged.filter((member) => tryDecode(memberViewSchema, member).ok);
}

async function onRegisterStorage(
  context: DirectoryContext,
  body: RequestBody<"registerStorage">,
): Answer<"registerStorage"> {
  const address = parseAddress(body.address);
  if (!address.ok) return address;
  const heartbeat = heartbeatOf(body);
  if (!heartbeat.ok) return heartbeat;
  const groups = context.primary()?.groups ?? null;
  if (groups === null) return fail("UNAVAILABLE", "this directory node is not the primary; retry");
  const answer = await groups.onHeartbeat(heartbeat.value);
  if (!answer.ok) return answer;
  const directoryNode = context.node;
  const { config, released } = answer.value;
  // A spare no group has been assigned gets no group: it waits, holding nothing.
  if (config === undefined) return ok({ body: { directoryNode } });
  return ok({ body: { group: config, directoryNode, ...(released ? { released } : {}) } });
}

/** `ftfs admin storage drain [--cancel] <node>`, at the primary (which owns the groups). */
async function onStorageDrain(
  context: DirectoryContext,
  body: RequestBody<"storageDrain">,
): Answer<"storageDrain"> {
  const groups = context.primary()?.groups ?? null;
  if (groups === null) return fail("UNAVAILABLE", "this directory node is not the primary; retry");
  const config = await groups.drain(body.node, body.cancel === true);
  if (!config.ok) return config;
  return ok({ body: { group: config.value } });
}

/**
 * Start a rebalance run (or join the running one), or report a run by id. A runId this
 * primary does not know belonged to a previous primary, or to a run long replaced.
 */
async function onRebalance(
  context: DirectoryContext,
  body: RequestBody<"rebalance">,
): Answer<"rebalance"> {
  const rebalancer = context.primary()?.rebalancer ?? null;
  if (rebalancer === null) {
    return fail("UNAVAILABLE", "this directory node is not the primary; retry");
  }
  if (body.runId !== undefined) {
    const run = rebalancer.status(body.runId);
    if (run === undefined) {
      return fail(
        "NOT_FOUND",
        `rebalance run ${body.runId} is not this primary's latest run (a failover or a newer ` +
          "run ended it); run `ftfs rebalance` again",
      );
    }
    return ok({ body: run });
  }
  const threshold = body.thresholdBasisPoints ?? REBALANCE_THRESHOLD_BASIS_POINTS_DEFAULT;
  return ok({ body: rebalancer.start(threshold) });
}

/** A backup points every caller at the primary; with no primary known, the caller retries. */
function onPrimary<O extends Op>(context: DirectoryContext, handler: Handler<O>): Handler<O> {
  return async (body: RequestBody<O>, request: RequestContext) => {
    const leadership = context.leadership();
    if (leadership.kind === "forming") return leadership.error;
    if (leadership.kind === "backup") return notPrimary(context.node, leadership.primary);
    return handler(body, request);
  };
}

function onListFilesOf(context: DirectoryContext): Handler<"listFiles"> {
  return (body) => onListFiles(context, body);
}

/**
 * A storage group's garbage collector asks which of its candidates it may delete. Answered as
 * of a state proven current (read index), after a committed sweepUploads of the candidates'
 * uploads that passed their deadline: what is judged here is what every replica will hold.
 */
async function onConfirmGarbage(
  context: DirectoryContext,
  body: RequestBody<"confirmGarbage">,
): Answer<"confirmGarbage"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const { store } = context;
  const rebalancer = context.primary()?.rebalancer ?? null;
  const facts: GarbageFacts = {
    uploadCommitted: (uid, uploadId) => store.findUpload(uid, uploadId) !== undefined,
    uploadSwept: (uid, uploadId) => store.uploadSwept(uid, uploadId),
    uploadKeeps: (uid, uploadId, group, chunkId) =>
      uploadKeeps(store, uid, uploadId, group, chunkId),
    chunkKept: (group, chunkId) => store.chunkKept(group, chunkId),
    moveInFlight: (group, chunkId) => rebalancer?.copying(group, chunkId) ?? false,
  };
  const due = uploadsToSweep(facts, body.candidates, context.nowMs());
  if (due.length > 0) {
    const swept = await context.proposer.propose({
      type: "sweepUploads",
      uploads: due,
      atMs: context.nowMs(),
    });
    if (!swept.ok) return swept;
    if (swept.value.swept > 0) {
      context.logger.info("unfinished uploads past their deadline swept", {
        group: body.group,
        uploads: swept.value.swept,
      });
    }
  }
  return ok({ body: judgeGarbage(facts, body.group, body.candidates) });
}

async function onRaft(
  context: DirectoryContext,
  body: RequestBody<"raft">,
  request: RequestContext,
): Answer<"raft"> {
  const stepped = context.onRaftMessage(body, request.payload);
  if (!stepped.ok) return stepped;
  return ok({ body: {} });
}

/**
 * A user op runs only for the uid its caller may act for: a user for itself, a node for anyone
 * (insecure mode: whoever the body names). FORBIDDEN otherwise, before anything is read.
 */
function forUser<O extends Op>(handler: Handler<O>): Handler<O> {
  return async (body: RequestBody<O>, request: RequestContext) => {
    const uid = (body as { readonly uid: string }).uid;
    const allowed = checkActsFor(request.principal, request.authenticated, uid);
    if (!allowed.ok) return allowed;
    return handler(body, request);
  };
}

/** Access keys are managed by their user, an admin, or a node (checkKeyOwner). */
function forKeyOwner<O extends "keyCreate" | "keyRemove" | "keyList">(
  handler: Handler<O>,
): Handler<O> {
  return async (body: RequestBody<O>, request: RequestContext) => {
    const allowed = checkKeyOwner(request, body.uid);
    if (!allowed.ok) return allowed;
    return handler(body, request);
  };
}

/** Logging in exists only with a cluster key: without one a client just connects. */
function loginHandlers(context: DirectoryContext): Handlers {
  const keyring = context.keyring;
  if (keyring === null) return {};
  const served = <O extends Op>(handler: Handler<O>): Handler<O> => onPrimary(context, handler);
  return {
    loginStart: served((body) => onLoginStart(context, keyring, body)),
    loginFinish: served((body) => onLoginFinish(context, keyring, body)),
  };
}

export function directoryHandlers(context: DirectoryContext): Handlers {
  const served = <O extends Op>(handler: Handler<O>): Handler<O> =>
    onPrimary(context, withTermCheck(context, handler));
  const servedForUser = <
    O extends "connect" | "placeUpload" | "commitUpload" | "getManifest" | "deleteFile",
  >(
    handler: Handler<O>,
  ): Handler<O> => forUser(served(handler));
  return {
    ...loginHandlers(context),
    userAdd: served((body) => onUserAdd(context, body)),
    userRemove: served((body) => onUserRemove(context, body)),
    userList: served(() => onUserList(context, context.settings.quotaDefaults)),
    keyCreate: forKeyOwner(served((body) => onKeyCreate(context, body))),
    keyRemove: forKeyOwner(served((body) => onKeyRemove(context, body))),
    keyList: forKeyOwner(served((body) => onKeyList(context, body))),
    keyResolve: served((body) => onKeyResolve(context, body)),
    bucketCreate: forUser(served((body) => onBucketCreate(context, body))),
    bucketDelete: forUser(served((body) => onBucketDelete(context, body))),
    bucketList: forUser(served((body) => onBucketList(context, body))),
    listObjects: forUser(served((body) => onListObjects(context, body))),
    listObjectVersions: forUser(served((body) => onListObjectVersions(context, body))),
    bucketVersioning: forUser(served((body) => onBucketVersioning(context, body))),
    deleteVersion: forUser(served((body) => onDeleteVersion(context, body))),
    copyObject: forUser(served((body) => onCopyObject(context, body))),
    multipartCreate: forUser(served((body) => onMultipartCreate(context, body))),
    multipartAbort: forUser(served((body) => onMultipartAbort(context, body))),
    multipartComplete: forUser(served((body) => onMultipartComplete(context, body))),
    multipartParts: forUser(served((body) => onMultipartParts(context, body))),
    multipartList: forUser(served((body) => onMultipartList(context, body))),
    listGroups: served(async () => ok({ body: { groups: context.store.listGroups() } })),
    connect: servedForUser((body, request) => onConnect(context, body, request)),
    placeUpload: servedForUser((body) => onPlaceUpload(context, body)),
    commitUpload: servedForUser((body) => onCommitUpload(context, body)),
    getManifest: servedForUser((body) => onGetManifest(context, body)),
    listFiles: forUser((body, request) =>
      body.stale === true
        ? onListFiles(context, body)
        : served(onListFilesOf(context))(body, request),
    ),
    deleteFile: servedForUser((body) => onDeleteFile(context, body)),
    // Every node answers status, so a client asking every address sees each of them.
    clusterStatus: () => {
      const groups = context.primary()?.groups ?? null;
      return groups === null ? onBackupStatus(context) : onClusterStatus(context, groups);
    },
    rebalance: served((body) => onRebalance(context, body)),
    storageDrain: served((body) => onStorageDrain(context, body)),
    // Storage nodes stamp their own group's epoch, not the directory's term: no term check.
    registerStorage: onPrimary(context, (body) => onRegisterStorage(context, body)),
    confirmGarbage: onPrimary(context, (body) => onConfirmGarbage(context, body)),
    // Between directory nodes: no primary check, no term check (Raft checks terms itself).
    raft: (body, request) => onRaft(context, body, request),
  };
}
