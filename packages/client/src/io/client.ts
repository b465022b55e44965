/**
 * FtfsClient: the client library the CLI and the bench are built on. One RpcPool of
 * connections; directory calls find the primary and retry; uploads and reads stream chunk by
 * chunk with a bounded window. Names and uids are validated here, before any network I/O, so
 * a hostile name never leaves the machine (the servers check again).
 */

import {
  CLIENT_CHUNKS_IN_FLIGHT_DEFAULT,
  FtfsError,
  CONNECT_TIMEOUT_MS_DEFAULT,
  uploadIdWithDeadline,
  type AccessKeySummary,
  type ObjectAttrs,
  type WritePrecondition,
  type ObjectName,
  type FileEntry,
  type Manifest,
  type RebalanceRun,
  type RequestBody,
  type ResponseBody,
  type UserSummary,
} from "@ftfs/protocol/core";
import {
  CONNECTION_FAILURE_CODES,
  RpcPool,
  type ClientCredentials,
  type ClientTls,
} from "@ftfs/protocol/io";
import hyperid from "hyperid";
import {
  CLIENT_CHUNK_TIMEOUT_MS,
  CLIENT_DIRECTORY_TIMEOUT_MS,
  CLIENT_FIRST_CONTACT_DEADLINE_MS,
  CLIENT_REBALANCE_POLL_INTERVAL_MS,
  CLIENT_RETRY_DEADLINE_MS,
  COPY_DEADLINE_MS,
} from "../core/limits.ts";
import { mergeStatus, type ClusterStatus, type StatusAnswer } from "../core/status.ts";
import { mergeOwned, type StoredFile } from "../core/storage-listing.ts";
import { memorySource, openFileSource, unsizedSource, type ByteSource } from "./byte-source.ts";
import { collector, type TransferContext } from "./transfer-context.ts";
import { DirectoryClient } from "./directory.ts";
import {
  runDownload,
  type ByteRange,
  type ChunkSink,
  type ObjectLocation,
  type ReadResult,
} from "./download.ts";
import type { RetryObserver } from "./retry.ts";
import { listEveryGroup } from "./storage-list.ts";
import { fileJournal } from "./upload-journal.ts";
import type { JournalState } from "../core/upload-journal.ts";
import { runUpload, type ProgressListener, type UploadResult } from "./upload.ts";
import {
  baseName,
  checkAccessKeyId,
  checkBucket,
  checkedPartName,
  checkedStoredName,
  checkName,
  checkedRemoteName,
  checkUid,
} from "./validate.ts";
import {
  newClientNonce,
  newUserCredentials,
  proveLogin,
  type LoginChallenge,
  type LoginSession,
} from "./login.ts";

export interface FtfsClientOptions {
  /** Directory addresses (host:port); any live one works. */
  readonly directories: readonly string[];
  readonly chunksInFlight?: number;
  readonly retryDeadlineMs?: number;
  readonly firstContactDeadlineMs?: number;
  readonly directoryTimeoutMs?: number;
  readonly chunkTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Told of every retry (the CLI prints them under FTFS_DEBUG; the bench counts them). */
  readonly onRetry?: RetryObserver | undefined;
  /**
   * Collect garbage after each this many bytes moved by all the client's transfers (default
   * 0: never; see collector). The CLI sets CLI_GC_INTERVAL_BYTES, the S3 gateway its own.
   */
  readonly gcIntervalBytes?: number;
  /** Share connections with other clients (the bench); closed by its owner, not by close(). */
  readonly pool?: RpcPool;
  /** Who the client proves itself as (a logged-in user, an admin node); anonymous by default. */
  readonly credentials?: ClientCredentials;
  /** Connect with TLS, trusting this CA (a cluster started with --tls-cert); else plain TCP. */
  readonly tls?: ClientTls | undefined;
}

export type ConnectResult = ResponseBody<"connect">;

export interface UploadFileOptions {
  /** The name to store it under; default its base name. */
  readonly name?: string | undefined;
  readonly progress?: ProgressListener | undefined;
  /** Keep a journal here, so an interrupted upload resumes when run again. */
  readonly journalDir?: string | undefined;
}

export class FtfsClient {
  private readonly pool: RpcPool;
  private readonly ownsPool: boolean;
  private readonly directory: DirectoryClient;
  private readonly transfer: TransferContext;
  private readonly directoryTimeoutMs: number;
  private readonly requestIds = hyperid({ urlSafe: true });

  constructor(options: FtfsClientOptions) {
    this.pool =
      options.pool ??
      new RpcPool(options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT, {
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      });
    this.ownsPool = options.pool === undefined;
    const retryDeadlineMs = options.retryDeadlineMs ?? CLIENT_RETRY_DEADLINE_MS;
    this.directory = new DirectoryClient(this.pool, {
      addresses: options.directories,
      timeoutMs: options.directoryTimeoutMs ?? CLIENT_DIRECTORY_TIMEOUT_MS,
      retryDeadlineMs,
      firstContactDeadlineMs: options.firstContactDeadlineMs ?? CLIENT_FIRST_CONTACT_DEADLINE_MS,
      observer: options.onRetry,
    });
    this.directoryTimeoutMs = options.directoryTimeoutMs ?? CLIENT_DIRECTORY_TIMEOUT_MS;
    this.transfer = {
      pool: this.pool,
      directory: this.directory,
      chunksInFlight: Math.max(1, options.chunksInFlight ?? CLIENT_CHUNKS_IN_FLIGHT_DEFAULT),
      chunkTimeoutMs: options.chunkTimeoutMs ?? CLIENT_CHUNK_TIMEOUT_MS,
      retryDeadlineMs,
      observer: options.onRetry,
      moved: collector(options.gcIntervalBytes ?? 0),
    };
  }

  /** The directory primary as last learned, or null before the first answer. */
  get primary(): string | null {
    return this.directory.primary;
  }

  /** Reach the cluster as `uid`; the directory creates the user on first connect. */
  async connect(uid: string): Promise<ConnectResult> {
    checkUid(uid);
    const answer = await this.directory.call("connect", { uid });
    this.directory.primary = answer.primary;
    return answer;
  }

  /**
   * A login's first step; null when the cluster has no logins (insecure mode: no cluster key,
   * so `connect` alone makes the session).
   */
  async loginStart(uid: string): Promise<LoginChallenge | null> {
    checkUid(uid);
    const clientNonce = newClientNonce();
    try {
      const start = await this.directory.call("loginStart", { uid, clientNonce });
      return { uid, clientNonce, start };
    } catch (error) {
      // An insecure directory serves no logins; a storage node (a wrong address) is an error.
      const insecure = error instanceof FtfsError && error.code === "UNKNOWN_OP";
      if (insecure && error.hint?.role !== "storage") return null;
      throw error;
    }
  }

  /** A login's proof with the user's secret; the session it yields, once the server proved itself. */
  async loginFinish(challenge: LoginChallenge, secret: string): Promise<LoginSession> {
    const { proof, finish } = proveLogin(challenge, secret);
    const { uid, clientNonce } = challenge;
    const serverNonce = challenge.start.serverNonce;
    const answer = await this.directory.call("loginFinish", {
      uid,
      clientNonce,
      serverNonce,
      proof,
    });
    return finish(answer);
  }

  /** Give `uid` credentials (admin); answers the secret, which nobody else ever sees. */
  async userAdd(
    uid: string,
    options: Omit<RequestBody<"userAdd">, "uid" | "verifier">,
  ): Promise<{ readonly secret: string; readonly generation: number }> {
    checkUid(uid);
    const { secret, verifier } = newUserCredentials();
    const answer = await this.directory.call("userAdd", { uid, verifier, ...options });
    return { secret, generation: answer.generation };
  }

  /** The directory group's members, as its primary's log has them (admin). */
  async directoryMembers(): Promise<ResponseBody<"directoryMembers">> {
    return this.directory.call("directoryMembers", {});
  }

  /**
   * Adds a directory node (it joins as a learner and is promoted once caught up) or removes
   * one (admin); answers once the change is committed.
   */
  async directoryChange(
    change: "add" | "remove",
    node: string,
    address?: string,
  ): Promise<ResponseBody<"directoryChange">> {
    return this.directory.call("directoryChange", {
      change,
      node,
      ...(address === undefined ? {} : { address }),
    });
  }

  /**
   * Drains a storage node out of its group, or cancels that (admin); answers its group's
   * configuration once the drain is recorded (the copy to a spare follows).
   */
  async storageDrain(node: string, cancel: boolean): Promise<ResponseBody<"storageDrain">> {
    return this.directory.call("storageDrain", { node, ...(cancel ? { cancel } : {}) });
  }

  async userRemove(uid: string): Promise<void> {
    checkUid(uid);
    await this.directory.call("userRemove", { uid });
  }

  /** Every user, and the default quotas of those without their own (null: not told). */
  async userList(): Promise<{
    readonly users: UserSummary[];
    readonly quotaBytesDefault: number | null;
    readonly quotaFilesDefault: number | null;
  }> {
    const answer = await this.directory.call("userList", {});
    return {
      users: [...answer.users],
      quotaBytesDefault: answer.quotaBytesDefault ?? null,
      quotaFilesDefault: answer.quotaFilesDefault ?? null,
    };
  }

  /** A new S3 access key for `uid`: the answer is the only time its secret is seen. */
  async keyCreate(uid: string): Promise<ResponseBody<"keyCreate">> {
    checkUid(uid);
    return this.directory.call("keyCreate", { uid });
  }

  async keyList(uid: string): Promise<AccessKeySummary[]> {
    checkUid(uid);
    return [...(await this.directory.call("keyList", { uid })).keys];
  }

  /** A bucket for `uid` (S3's namespace); one it already has answers created: false. */
  async bucketCreate(uid: string, bucket: string): Promise<ResponseBody<"bucketCreate">> {
    checkUid(uid);
    checkBucket(bucket);
    return this.directory.call("bucketCreate", { uid, bucket });
  }

  async bucketDelete(uid: string, bucket: string): Promise<void> {
    checkUid(uid);
    checkBucket(bucket);
    await this.directory.call("bucketDelete", { uid, bucket });
  }

  /** The user's buckets, its home bucket first. */
  async bucketList(uid: string): Promise<ResponseBody<"bucketList">["buckets"]> {
    checkUid(uid);
    return (await this.directory.call("bucketList", { uid })).buckets;
  }

  /** One page of a bucket's objects (keys beginning with `prefix`, after `after`). */
  async listObjects(
    uid: string,
    bucket: string,
    page: { readonly prefix: string; readonly after: string | null; readonly countMax: number },
  ): Promise<ResponseBody<"listObjects">> {
    checkUid(uid);
    checkBucket(bucket);
    const { prefix, after, countMax } = page;
    return this.directory.call("listObjects", {
      uid,
      bucket,
      prefix,
      countMax,
      ...(after === null ? {} : { after }),
    });
  }

  /** Turn a bucket's S3 versioning on ("enabled") or suspend it. */
  async bucketVersioning(
    uid: string,
    bucket: string,
    versioning: ResponseBody<"bucketVersioning">["versioning"],
  ): Promise<void> {
    checkUid(uid);
    checkBucket(bucket);
    await this.directory.call("bucketVersioning", { uid, bucket, versioning });
  }

  /** One page of a bucket's object versions and delete markers, by key, newest first. */
  async listObjectVersions(
    uid: string,
    bucket: string,
    page: {
      readonly prefix: string;
      readonly after: { readonly key: string; readonly version: number } | null;
      readonly countMax: number;
    },
  ): Promise<ResponseBody<"listObjectVersions">> {
    checkUid(uid);
    checkBucket(bucket);
    const { prefix, after, countMax } = page;
    return this.directory.call("listObjectVersions", {
      uid,
      bucket,
      prefix,
      countMax,
      ...(after === null ? {} : { after }),
    });
  }

  /**
   * Whose access key this is, and its secret sealed under the cluster key (the S3 gateway's
   * question; only a node, holding the cluster key, may ask, and only it can open the seal).
   */
  async resolveAccessKey(accessKeyId: string): Promise<ResponseBody<"keyResolve">> {
    checkAccessKeyId(accessKeyId);
    return this.directory.call("keyResolve", { accessKeyId });
  }

  async keyRemove(uid: string, accessKeyId: string): Promise<void> {
    checkUid(uid);
    checkAccessKeyId(accessKeyId);
    await this.directory.call("keyRemove", { uid, accessKeyId });
  }

  /**
   * Upload a local file as `name` (default: its base name); an existing name: new version.
   * With `journalDir`, the upload is journaled there and a re-run after an interruption
   * resumes it, sending only the chunks its groups do not hold for it yet.
   */
  async upload(
    uid: string,
    localPath: string,
    options: UploadFileOptions = {},
  ): Promise<UploadResult> {
    const remoteName = options.name ?? baseName(localPath);
    checkUid(uid);
    const stored = checkedRemoteName(remoteName);
    const source = await openFileSource(localPath);
    const journal =
      options.journalDir === undefined
        ? undefined
        : fileJournal(options.journalDir, { uid, name: stored }, localPath);
    try {
      const result = await runUpload(this.transfer, uid, stored, source, {
        progress: options.progress,
        journal,
      });
      return { ...result, name: remoteName };
    } finally {
      await source.close();
    }
  }

  /** What an interrupted upload of `localPath` as (uid, name) left to resume, or null. */
  async pendingUpload(
    uid: string,
    localPath: string,
    options: { readonly name?: string; readonly journalDir: string },
  ): Promise<JournalState | null> {
    const name = checkedRemoteName(options.name ?? baseName(localPath));
    return fileJournal(options.journalDir, { uid, name }, localPath).load();
  }

  /** pendingUpload, read at once (a Ctrl-C handler has no time to wait). */
  pendingUploadNow(
    uid: string,
    localPath: string,
    options: { readonly name?: string; readonly journalDir: string },
  ): JournalState | null {
    const name = checkedRemoteName(options.name ?? baseName(localPath));
    return fileJournal(options.journalDir, { uid, name }, localPath).loadNow();
  }

  /**
   * Upload a stream of unknown length (stdin) as `name`: read once, chunk by chunk, so memory
   * holds only the chunks in flight. Not resumable: a stream cannot be read again.
   */
  async uploadStream(
    uid: string,
    name: string,
    stream: AsyncIterable<Uint8Array>,
    progress?: ProgressListener,
  ): Promise<UploadResult> {
    checkUid(uid);
    const stored = checkedRemoteName(name);
    const source = unsizedSource(name, stream);
    try {
      return { ...(await runUpload(this.transfer, uid, stored, source, { progress })), name };
    } finally {
      await source.close();
    }
  }

  /** Upload bytes already in memory (tests, the bench). */
  async uploadBytes(
    uid: string,
    name: string,
    bytes: Uint8Array,
    progress?: ProgressListener,
  ): Promise<UploadResult> {
    checkUid(uid);
    checkName(name);
    return runUpload(this.transfer, uid, name, memorySource(name, bytes), { progress });
  }

  /** Stream a file's bytes, verified, in order, to `sink`; awaits the sink (backpressure). */
  /**
   * Stream a file to `sink`, chunk by chunk, in order. With `options.reuseChunkBuffers` the
   * sink promises to keep nothing of a chunk once it has returned (it wrote or copied the
   * bytes): chunks then arrive in reused buffers (see download.ts).
   */
  async read(
    uid: string,
    name: string,
    sink: ChunkSink,
    version?: number,
    progress?: ProgressListener,
    options: { readonly reuseChunkBuffers?: boolean } = {},
  ): Promise<ReadResult> {
    checkUid(uid);
    const stored = checkedRemoteName(name);
    const { reuseChunkBuffers } = options;
    return {
      ...(await runDownload(this.transfer, uid, stored, sink, {
        version,
        progress,
        reuseChunkBuffers,
      })),
      name,
    };
  }

  /** A whole file in memory: for tests and small files only. */
  async readBytes(uid: string, name: string, version?: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    const result = await this.read(uid, name, (chunk) => void parts.push(chunk), version);
    // A one-chunk file is its chunk: the buffer it arrived in is handed over, not copied.
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only !== undefined && only.length === result.bytes) return only;
    const out = new Uint8Array(result.bytes);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
      // Copied out, and nobody else was given it: its buffer can take the next chunk.
      this.pool.release(part);
    }
    return out;
  }

  /**
   * The user's files as the directory records them (newest version of each name). `stale`:
   * from the first directory node that answers, primary or not, as of its applied state;
   * it may miss recent writes, but it needs no elected primary.
   */
  async list(uid: string, options: { readonly stale?: boolean } = {}): Promise<FileEntry[]> {
    checkUid(uid);
    const answer =
      options.stale === true
        ? await this.directory.callAnyNode("listFiles", { uid, stale: true })
        : await this.directory.call("listFiles", { uid });
    return [...answer.files];
  }

  /** The user's files as the storage nodes know them: one live node per group, merged. */
  async listFromStorage(uid: string): Promise<StoredFile[]> {
    checkUid(uid);
    const { groups } = await this.directory.call("listGroups", {});
    const listings = await listEveryGroup(this.pool, groups, uid, this.transfer.chunkTimeoutMs);
    return mergeOwned(listings);
  }

  /** Delete a name (every version). Retries reuse one requestId: never a second delete. */
  async remove(uid: string, name: string): Promise<{ deletedVersion: number }> {
    checkUid(uid);
    const stored = checkedRemoteName(name);
    return this.directory.call("deleteFile", { uid, name: stored, requestId: this.requestIds() });
  }

  /** Store `bytes` as `key` in one of the user's buckets (a new version if the key exists). */
  async putObjectBytes(
    uid: string,
    object: ObjectName,
    bytes: Uint8Array,
    progress?: ProgressListener,
  ): Promise<UploadResult> {
    const name = checkedStoredName(uid, object);
    return runUpload(this.transfer, uid, name, memorySource(object.key, bytes), { progress });
  }

  /**
   * Store what `source` holds as `key` in one of the user's buckets, with the attributes
   * `attrs` answers once every byte was read (an S3 PUT: its MD5 is known only at the end).
   * With a precondition, only if the key is still at that version when the write applies.
   */
  async putObject(
    uid: string,
    object: ObjectName,
    source: ByteSource,
    attrs: () => ObjectAttrs,
    precondition?: WritePrecondition,
  ): Promise<UploadResult> {
    const name = checkedStoredName(uid, object);
    return runUpload(this.transfer, uid, name, source, { attrs, precondition });
  }

  /** An object's newest version (or `version`): size, hashes, attributes, where its chunks are. */
  async objectManifest(uid: string, object: ObjectName, version?: number): Promise<Manifest> {
    return (await this.objectLocation(uid, object, version)).manifest;
  }

  /**
   * An object's manifest with the groups that hold its chunks: what a read needs, so a caller
   * that looks at the manifest first (a gateway) hands it to getObject instead of asking twice.
   */
  async objectLocation(uid: string, object: ObjectName, version?: number): Promise<ObjectLocation> {
    const name = checkedStoredName(uid, object);
    const request = version === undefined ? { uid, name } : { uid, name, version };
    return this.directory.call("getManifest", request);
  }

  /**
   * Stream an object's bytes (its newest version, or `version`; all, or `range`), verified, in
   * order, to `sink`: a range fetches only the chunks that hold it.
   */
  async getObject(
    uid: string,
    object: ObjectName,
    sink: ChunkSink,
    options: {
      readonly version?: number;
      readonly range?: ByteRange;
      readonly location?: ObjectLocation;
    } = {},
  ): Promise<ReadResult> {
    return runDownload(this.transfer, uid, checkedStoredName(uid, object), sink, options);
  }

  /**
   * Copy an object (its newest version, or `version`) to another key, by chunk list: no byte
   * moves. `attrs` absent: the source's.
   */
  async copyObject(
    uid: string,
    from: ObjectName,
    to: ObjectName,
    options: { readonly version?: number; readonly attrs?: ObjectAttrs } = {},
  ): Promise<ResponseBody<"copyObject">> {
    const request = {
      uid,
      from: checkedStoredName(uid, from),
      name: checkedStoredName(uid, to),
      uploadId: uploadIdWithDeadline(Date.now() + COPY_DEADLINE_MS, this.requestIds()),
      ...(options.version === undefined ? {} : { fromVersion: options.version }),
      ...(options.attrs === undefined ? {} : { attrs: options.attrs }),
    };
    return this.directory.call("copyObject", request);
  }

  /** Open a multipart upload of an object that gets `attrs` (type, metadata) once complete. */
  async multipartCreate(
    uid: string,
    object: ObjectName,
    attrs?: ObjectAttrs,
  ): Promise<ResponseBody<"multipartCreate">> {
    const name = checkedStoredName(uid, object);
    return this.directory.call("multipartCreate", {
      uid,
      name,
      ...(attrs === undefined ? {} : { attrs }),
    });
  }

  /**
   * Upload part `partNumber` of an open multipart upload from `source` (a part uploaded again
   * replaces the earlier one); `attrs` answers once every byte was read (the part's MD5).
   */
  async putPart(
    uid: string,
    uploadId: string,
    partNumber: number,
    source: ByteSource,
    attrs: () => ObjectAttrs,
  ): Promise<UploadResult> {
    const name = checkedPartName(uid, uploadId, partNumber);
    return runUpload(this.transfer, uid, name, source, { attrs });
  }

  /**
   * Join the listed parts, in order, into the object (no byte moves) and drop every part.
   * `md5`: the MD5 of the parts' MD5s, which with the count makes the S3 ETag.
   */
  async multipartComplete(
    uid: string,
    object: ObjectName,
    uploadId: string,
    parts: ReadonlyArray<{ readonly partNumber: number; readonly md5: string }>,
    md5: string,
    precondition?: WritePrecondition,
  ): Promise<ResponseBody<"multipartComplete">> {
    const name = checkedStoredName(uid, object);
    const request = {
      uid,
      name,
      uploadId,
      parts: [...parts],
      md5,
      ...(precondition === undefined ? {} : { precondition }),
    };
    return this.directory.call("multipartComplete", request);
  }

  /** Drop an open upload of `object` and its parts. */
  async multipartAbort(uid: string, object: ObjectName, uploadId: string): Promise<void> {
    const name = checkedStoredName(uid, object);
    await this.directory.call("multipartAbort", { uid, name, uploadId });
  }

  /** One page of an open upload's parts, numbered after `afterPart` (0: from the first). */
  async multipartParts(
    uid: string,
    uploadId: string,
    afterPart: number,
    countMax: number,
  ): Promise<ResponseBody<"multipartParts">> {
    checkUid(uid);
    return this.directory.call("multipartParts", { uid, uploadId, afterPart, countMax });
  }

  /** One page of a bucket's open uploads of keys beginning with `prefix`, by (key, id). */
  async multipartList(
    uid: string,
    bucket: string,
    page: {
      readonly prefix: string;
      readonly after: { readonly key: string; readonly uploadId?: string } | null;
      readonly countMax: number;
    },
  ): Promise<ResponseBody<"multipartList">> {
    checkUid(uid);
    return this.directory.call("multipartList", {
      uid,
      bucket,
      prefix: page.prefix,
      ...(page.after === null ? {} : { after: page.after }),
      countMax: page.countMax,
    });
  }

  /**
   * Delete an object: every version of its key, or, in a bucket with versioning on, none of
   * them (a delete marker is left, its number in markerVersion).
   */
  async deleteObject(uid: string, object: ObjectName): Promise<ResponseBody<"deleteFile">> {
    const name = checkedStoredName(uid, object);
    return this.directory.call("deleteFile", { uid, name, requestId: this.requestIds() });
  }

  /** Delete one version or delete marker of an object for good. */
  async deleteObjectVersion(
    uid: string,
    object: ObjectName,
    version: number,
  ): Promise<ResponseBody<"deleteVersion">> {
    const name = checkedStoredName(uid, object);
    return this.directory.call("deleteVersion", { uid, name, version });
  }

  /**
   * Start a rebalance run on the directory primary (or join the one running) and wait for it
   * to end, telling `onProgress` of each answer meanwhile. A failover ends the run: its id is
   * unknown to the next primary, and that NOT_FOUND is thrown (moves are safe to repeat).
   */
  async rebalance(
    options: {
      readonly thresholdBasisPoints?: number;
      readonly onProgress?: (run: RebalanceRun) => void;
      readonly pollIntervalMs?: number;
    } = {},
  ): Promise<RebalanceRun> {
    const { thresholdBasisPoints, onProgress } = options;
    const pollIntervalMs = options.pollIntervalMs ?? CLIENT_REBALANCE_POLL_INTERVAL_MS;
    let run = await this.directory.call(
      "rebalance",
      thresholdBasisPoints === undefined ? {} : { thresholdBasisPoints },
    );
    while (run.state === "running") {
      onProgress?.(run);
      await Bun.sleep(pollIntervalMs);
      run = await this.directory.call("rebalance", { runId: run.runId });
    }
    return run;
  }

  /**
   * Every member and group, as the directory primary sees them, completed by asking each
   * other configured directory address for its own view: a directory the primary does not
   * list is still shown, and one that does not answer is named in `unreachable`.
   */
  async status(): Promise<ClusterStatus> {
    const primaryView = await this.primaryStatus();
    const listed = new Set(primaryView.members.map((member) => member.address));
    const others = this.directory.clusterAddresses.filter((address) => !listed.has(address));
    const answers = await Promise.all(
      others.map(async (address) => ({ address, view: await this.askStatus(address) })),
    );
    const views = answers.flatMap(({ address, view }) =>
      view === "refused" ? [] : [{ address, view }],
    );
    return mergeStatus(primaryView, views);
  }

  /**
   * The directory primary's view: only it hears the storage nodes' heartbeats (their usage
   * and traffic) and counts the users' requests. Whichever node answers first names the
   * primary; if that was a backup, the primary is asked too, and the backup's view stands
   * only when the primary does not answer.
   */
  private async primaryStatus(): Promise<StatusAnswer> {
    const first = await this.directory.call("clusterStatus", {});
    const isPrimary = (member: StatusAnswer["members"][number]) =>
      member.role === "directory" && member.primary;
    if (first.members.some((member) => member.node === first.node && isPrimary(member))) {
      return first;
    }
    // A dead primary's last claim lingers in gossip beside the new one's: ask the live
    // claimant of the highest term first, and accept only an answer that is a primary's own.
    // Gossip may not have spread the new primary's claim yet: then any live directory may be it.
    const live = first.members.filter(
      (member) =>
        member.role === "directory" && member.state === "alive" && member.node !== first.node,
    );
    const claimants = [
      ...live.filter(isPrimary).sort((a, b) => b.epoch - a.epoch),
      ...live.filter((member) => !isPrimary(member)),
    ];
    for (const claimant of claimants) {
      const view = await this.askStatus(claimant.address);
      if (view === null || view === "refused") continue;
      if (view.members.some((member) => member.node === view.node && isPrimary(member))) {
        return view;
      }
    }
    return first;
  }

  /** A directory's own view; null if it is down; "refused" if it answered with an error. */
  private async askStatus(address: string): Promise<StatusAnswer | null | "refused"> {
    try {
      const answer = await this.pool.call(
        address,
        "clusterStatus",
        {},
        {
          timeoutMs: this.directoryTimeoutMs,
        },
      );
      return answer.body;
    } catch (error) {
      // A node that refuses (a backup answering NOT_PRIMARY) is up; only silence is reported.
      if (error instanceof FtfsError && !CONNECTION_FAILURE_CODES.has(error.code)) return "refused";
      return null;
    }
  }

  close(): void {
    if (this.ownsPool) this.pool.close();
  }
}
