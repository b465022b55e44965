/**
 * One upload, start to commit: ask the directory for a placement, read the source chunk by
 * chunk (hashing each chunk and the whole file as it goes), keep at most `chunksInFlight`
 * chunk puts in flight, check the source did not change, then commit the manifest. The commit
 * is retried with the same uploadId, which the directory makes idempotent, so a retry after a
 * lost answer never makes two versions. Until the commit nothing is visible.
 *
 * With a journal (a local file's upload), each acknowledged chunk is noted, and a later run of
 * the same upload resumes it: same upload id, and the chunks its groups confirm they hold for
 * that upload are read and hashed but not sent again (resume.ts; README, interrupted uploads).
 */

import {
  type ObjectAttrs,
  type WritePrecondition,
  FtfsError,
  FILE_BYTES_MAX,
  formatBytes,
  MANIFEST_CHUNKS_MAX,
  type ChunkOwner,
  type ChunkRef,
  type GroupView,
  type Ticket,
} from "@ftfs/protocol/core";
import {
  CLIENT_CHUNK_HEDGE_MS,
  CLIENT_RESUME_DEADLINE_MARGIN_MS,
  CLIENT_UPLOAD_RESTARTS_MAX,
} from "../core/limits.ts";
import { judgeResume, type JournalState } from "../core/upload-journal.ts";
import type { ByteSource } from "./byte-source.ts";
import { ChunkBuffers } from "./chunk-buffers.ts";
import { sha256Hex } from "@ftfs/protocol/io";
import { putChunk, type ChunkTransferOptions, type PlacedChunk } from "./chunks.ts";
import { GroupViews } from "./groups.ts";
import { chunksStillHeld } from "./resume.ts";
import type { TransferContext } from "./transfer-context.ts";
import type { UploadJournal } from "./upload-journal.ts";

/** Reported as bytes reach the storage groups; `chunks` tells a progress bar if it is worth it. */
export interface TransferProgress {
  readonly doneBytes: number;
  /** Null while a stream's length is unknown (an upload from stdin). */
  readonly totalBytes: number | null;
  /** Chunks in the transfer (of a stream: read so far). */
  readonly chunks: number;
  /** Of doneBytes, those stored before this run began (a resumed upload): not this run's rate. */
  readonly resumedBytes?: number;
}
export type ProgressListener = (progress: TransferProgress) => void;

export interface UploadResult {
  readonly name: string;
  readonly version: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly createdAtMs: number;
  /** Bytes an earlier, interrupted run had stored, which this one did not send again. */
  readonly resumedBytes: number;
}

interface Placement {
  readonly uploadId: string;
  readonly chunkBytes: number;
  readonly groups: readonly GroupView[];
  readonly tickets?: readonly Ticket[] | undefined;
}

/**
 * An upload that ran past its deadline (the client slept: its chunks may have been collected)
 * starts over with a new placement and sends every chunk again: the directory refuses to
 * commit it, so nothing was acknowledged that storage may have dropped.
 */
export interface UploadOptions {
  readonly progress?: ProgressListener | undefined;
  /** An object's attributes, asked for once every byte was read (its MD5 is known then). */
  readonly attrs?: (() => ObjectAttrs) | undefined;
  /** A conditional write (S3's If-Match, If-None-Match: *), judged at the commit. */
  readonly precondition?: WritePrecondition | undefined;
  /** Where acknowledged chunks are noted, so a re-run resumes (a local file's source only). */
  readonly journal?: UploadJournal | undefined;
}

/**
 * Answers to a resumed upload that say it cannot go on as it was (its tickets or receipts are
 * not this cluster's, or its id was committed with other bytes): start a new upload instead.
 */
const RESUME_REFUSALS: ReadonlySet<string> = new Set([
  "UPLOAD_EXPIRED",
  "TICKET_INVALID",
  "TICKET_REQUIRED",
  "RECEIPT_INVALID",
  "MANIFEST_MISMATCH",
]);

export async function runUpload(
  context: TransferContext,
  uid: string,
  name: string,
  source: ByteSource,
  options: UploadOptions = {},
): Promise<UploadResult> {
  for (let restarts = 0; ; restarts += 1) {
    const resume = restarts === 0 ? await resumable(uid, name, source, options.journal) : null;
    try {
      const result = await uploadOnce(context, { uid, name, source, resume }, options);
      await options.journal?.forget();
      return result;
    } catch (error) {
      const code = error instanceof FtfsError ? error.code : null;
      const startOver =
        code === "UPLOAD_EXPIRED" ||
        (resume !== null && code !== null && RESUME_REFUSALS.has(code));
      if (!startOver || restarts >= CLIENT_UPLOAD_RESTARTS_MAX) throw error;
      await options.journal?.forget();
      if (error instanceof FtfsError) {
        context.observer?.({ what: `upload of ${name}`, attempt: restarts + 1, error, delayMs: 0 });
      }
    }
  }
}

/** What an earlier run of this upload left that this one may continue, or null. */
async function resumable(
  uid: string,
  name: string,
  source: ByteSource,
  journal: UploadJournal | undefined,
): Promise<JournalState | null> {
  if (journal === undefined || source.identity === undefined) return null;
  const state = await journal.load();
  if (state === null) return null;
  const wanted = { uid, name, source: source.identity };
  const verdict = judgeResume(state, wanted, Date.now(), CLIENT_RESUME_DEADLINE_MARGIN_MS);
  return verdict.resume ? state : null;
}

interface UploadTask {
  readonly uid: string;
  readonly name: string;
  readonly source: ByteSource;
  readonly resume: JournalState | null;
}

async function uploadOnce(
  context: TransferContext,
  task: UploadTask,
  { progress, attrs, precondition, journal }: UploadOptions,
): Promise<UploadResult> {
  const { uid, name, source } = task;
  const placement = await placeOrResume(context, task, journal);
  if (source.bytes !== null) {
    const chunkCount = Math.ceil(source.bytes / placement.chunkBytes);
    if (chunkCount > MANIFEST_CHUNKS_MAX) throw tooManyChunks(source, chunkCount);
    if (chunkCount > 0 && placement.groups.length === 0) {
      throw new FtfsError("UNAVAILABLE", "the cluster has no storage groups to place the file on");
    }
  }
  const held = await heldChunks(context, task, placement);
  const placed = await putAllChunks(context, task, placement, { progress, held, journal }).catch(
    (error: unknown) => {
      throw source.bytes === null ? streamTooLarge(source, placement, error) : error;
    },
  );
  const { chunks, receipts, sha256, bytes } = placed;
  await source.checkUnchanged();
  // Known only now: an object's MD5 is of every byte read.
  const objectAttrs = attrs?.();
  const committed = await context.directory.call("commitUpload", {
    uid,
    name,
    uploadId: placement.uploadId,
    bytes,
    sha256,
    chunks,
    ...(receipts === null ? {} : { receipts }),
    ...(objectAttrs === undefined ? {} : { attrs: objectAttrs }),
    ...(precondition === undefined ? {} : { precondition }),
  });
  return {
    name,
    version: committed.version,
    bytes,
    sha256,
    createdAtMs: committed.createdAtMs,
    resumedBytes: placed.resumedBytes,
  };
}

/**
 * A stream's tickets allow what room the user's quota leaves; a storage node refusing a chunk
 * past that is the quota speaking, and is said as such.
 */
function streamTooLarge(source: ByteSource, placement: Placement, error: unknown): unknown {
  if (!(error instanceof FtfsError) || error.code !== "TICKET_INVALID") return error;
  const room = Math.min(...(placement.tickets ?? []).map((ticket) => ticket.bytesMax));
  if (!Number.isFinite(room)) return error;
  return new FtfsError(
    "QUOTA_EXCEEDED",
    `${source.label} is larger than the ${formatBytes(room)} the quota leaves room for; ` +
      "nothing was committed",
    { cause: error },
  );
}

function tooManyChunks(source: ByteSource, chunkCount: number): FtfsError {
  const count = chunkCount > MANIFEST_CHUNKS_MAX ? `${chunkCount}` : `over ${MANIFEST_CHUNKS_MAX}`;
  return new FtfsError(
    "LOCAL_FILE",
    `${source.label} needs ${count} chunks; at most ${MANIFEST_CHUNKS_MAX} fit a file`,
  );
}

/**
 * A new placement from the directory (noted in the journal), or the resumed upload's own:
 * its id, chunk size and tickets, with the groups' current views.
 */
async function placeOrResume(
  context: TransferContext,
  task: UploadTask,
  journal: UploadJournal | undefined,
): Promise<Placement> {
  const { uid, name, source, resume } = task;
  if (resume === null) {
    // A stream's length is known only at its end: ask for room up to the largest file.
    const placement = await context.directory.call(
      "placeUpload",
      source.bytes === null
        ? { uid, name, bytes: FILE_BYTES_MAX, bytesUnknown: true }
        : { uid, name, bytes: source.bytes },
    );
    if (source.identity !== undefined) {
      journal?.begin({
        uid,
        name,
        source: source.identity,
        uploadId: placement.uploadId,
        chunkBytes: placement.chunkBytes,
        groups: placement.groups.map((view) => view.group),
        tickets: placement.tickets ?? [],
      });
    }
    return placement;
  }
  const { start } = resume;
  const { groups } = await context.directory.call("listGroups", {});
  return {
    uploadId: start.uploadId,
    chunkBytes: start.chunkBytes,
    groups: groups.filter((view) => start.groups.includes(view.group)),
    tickets: start.tickets,
  };
}

/** A resumed upload's chunks its groups confirm they still hold for it, by index. */
async function heldChunks(
  context: TransferContext,
  task: UploadTask,
  placement: Placement,
): Promise<ReadonlyMap<number, PlacedChunk>> {
  if (task.resume === null) return new Map();
  const owner = { uid: task.uid, name: task.name, uploadId: placement.uploadId };
  const query = {
    pool: context.pool,
    views: new GroupViews(context.directory, placement.groups),
    owner,
    timeoutMs: context.chunkTimeoutMs,
  };
  const held = await chunksStillHeld(query, task.resume.chunks.values());
  return new Map(
    [...held].map(([index, { id, bytes, group, receipt }]) => [
      index,
      receipt === undefined ? { id, bytes, group } : { id, bytes, group, receipt },
    ]),
  );
}

interface PutOptions {
  readonly progress?: ProgressListener | undefined;
  /** Chunks already stored for this upload (a resume), by index: read and hashed, not sent. */
  readonly held: ReadonlyMap<number, PlacedChunk>;
  readonly journal?: UploadJournal | undefined;
}

interface PutOutcome {
  readonly chunks: ChunkRef[];
  readonly receipts: string[] | null;
  readonly sha256: string;
  /** Bytes read: the file's size, which a stream tells only at its end. */
  readonly bytes: number;
  readonly resumedBytes: number;
}

/**
 * Read, hash and put every chunk with a bounded window. Reading is sequential (so the
 * whole-file hash is incremental); puts overlap. The first failure aborts the rest. A source
 * of unknown length (a stream) ends at its first short read.
 */
async function putAllChunks(
  context: TransferContext,
  task: UploadTask,
  placement: Placement,
  options: PutOptions,
): Promise<PutOutcome> {
  const { source } = task;
  const pump = new ChunkPump(context, task, placement, options);
  const { chunkBytes } = placement;
  const buffers = new ChunkBuffers(chunkBytes, context.chunksInFlight + 1);
  const fileHash = new Bun.CryptoHasher("sha256");
  let offset = 0;
  pump.report();
  try {
    for (let index = 0; pump.failure === null; index += 1) {
      if (source.bytes !== null && offset >= source.bytes) break;
      if (index >= MANIFEST_CHUNKS_MAX) throw tooManyChunks(source, index + 1);
      await pump.roomForOne();
      if (pump.failure !== null) break;
      const buffer = buffers.take();
      const length =
        source.bytes === null ? chunkBytes : Math.min(chunkBytes, source.bytes - offset);
      const bytes = await source.read(offset, length, buffer).catch((error: unknown) => {
        buffers.give(buffer);
        throw error;
      });
      if (bytes.length === 0) {
        buffers.give(buffer); // a stream that ended on a chunk boundary
        break;
      }
      fileHash.update(bytes);
      offset += bytes.length;
      pump.put(index, bytes, () => buffers.give(buffer));
      if (bytes.length < length) break; // a stream's last chunk
    }
  } catch (error) {
    // The source failed (changed, unreadable): stop the puts still retrying, then report it.
    pump.fail(error);
  }
  const refs = await pump.settled(offset);
  const sha256 = fileHash.digest("hex");
  return { ...withoutReceipts(refs), sha256, bytes: offset, resumedBytes: pump.resumed };
}

/** The chunk puts of one upload: the window, the first failure, progress and the journal. */
class ChunkPump {
  failure: unknown = null;
  /** Bytes of chunks a resumed upload found already stored. */
  readonly resumed: number;
  private readonly refs: PlacedChunk[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly transfer: ChunkTransferOptions;
  private readonly owner: ChunkOwner;
  private readonly groupNames: readonly string[];
  private chunkCount: number;
  /** Null until a stream ends. */
  private totalBytes: number | null;
  private doneBytes: number;

  constructor(
    private readonly context: TransferContext,
    private readonly task: UploadTask,
    placement: Placement,
    private readonly options: PutOptions,
  ) {
    this.transfer = {
      pool: context.pool,
      views: new GroupViews(context.directory, placement.groups),
      timeoutMs: context.chunkTimeoutMs,
      hedgeMs: CLIENT_CHUNK_HEDGE_MS,
      retryDeadlineMs: context.retryDeadlineMs,
      signal: this.abort.signal,
      observer: context.observer,
      tickets: new Map((placement.tickets ?? []).map((ticket) => [ticket.group, ticket])),
    };
    this.owner = { uid: task.uid, name: task.name, uploadId: placement.uploadId };
    this.groupNames = placement.groups.map((view) => view.group);
    const total = task.source.bytes;
    this.chunkCount = total === null ? 0 : Math.ceil(total / placement.chunkBytes);
    this.totalBytes = total;
    let resumed = 0;
    for (const chunk of options.held.values()) resumed += chunk.bytes;
    this.resumed = resumed;
    this.doneBytes = resumed;
  }

  report(): void {
    const { doneBytes, chunkCount: chunks, resumed: resumedBytes, totalBytes } = this;
    this.options.progress?.({ doneBytes, totalBytes, chunks, resumedBytes });
  }

  async roomForOne(): Promise<void> {
    while (this.inFlight.size >= this.context.chunksInFlight) await Promise.race(this.inFlight);
  }

  /** Put chunk `index` (unless it is held already); `release` returns its buffer when done. */
  put(index: number, bytes: Uint8Array, release: () => void): void {
    if (this.task.source.bytes === null) this.chunkCount = index + 1;
    const id = sha256Hex(bytes);
    const held = this.options.held.get(index);
    if (held !== undefined && held.id === id) {
      this.refs[index] = held;
      release();
      return;
    }
    // Held under another id: the file's bytes differ from the last run's there; send them.
    if (held !== undefined) this.doneBytes -= held.bytes;
    const put: Promise<void> = putChunk(this.transfer, id, bytes, this.owner, this.groupNames)
      .then((ref) => this.onStored(index, ref))
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        release();
        this.inFlight.delete(put);
      });
    this.inFlight.add(put);
  }

  fail(error: unknown): void {
    this.failure ??= error;
    this.abort.abort();
  }

  /** Every put done; `bytesRead` is the whole source (a stream's length, known now). */
  async settled(bytesRead: number): Promise<PlacedChunk[]> {
    await Promise.all(this.inFlight);
    if (this.failure !== null) throw this.failure;
    if (this.totalBytes === null) {
      this.totalBytes = bytesRead;
      this.report();
    }
    return this.refs;
  }

  private onStored(index: number, ref: PlacedChunk): void {
    this.refs[index] = ref;
    this.options.journal?.stored(this.owner.uploadId, { index, ...ref });
    this.context.moved(ref.bytes);
    this.doneBytes += ref.bytes;
    this.report();
  }
}

/** The manifest's chunk list, and the receipts beside it if every chunk got one. */
function withoutReceipts(placed: readonly PlacedChunk[]): {
  chunks: ChunkRef[];
  receipts: string[] | null;
} {
  const chunks = placed.map(({ id, bytes, group }) => ({ id, bytes, group }));
  const receipts = placed.flatMap((chunk) => (chunk.receipt === undefined ? [] : [chunk.receipt]));
  return {
    chunks,
    receipts: receipts.length === placed.length && receipts.length > 0 ? receipts : null,
  };
}
