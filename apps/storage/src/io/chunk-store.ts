/**
 * Chunks on disk, immutable and content-addressed, and an in-memory index of them with
 * used-bytes and count totals. A chunk of at most SEGMENT_CHUNK_BYTES_MAX is a record in the
 * append-only segment files (io/segment-log.ts: concurrent small writes share one fdatasync);
 * a larger one (and any an older build wrote) is a file of its own under `chunks/ab/cd/<id>`.
 *
 * Write path: the bytes are hashed first (only a VerifiedChunk can be written). A segment
 * record is acknowledged after an fdatasync begun after its write; a file is written to a
 * temporary name, fsync'd, renamed into place, and the folder fsync'd. Either way a chunk is
 * absent or whole and durable. A chunk already present is not rewritten. A learner's catch-up
 * may defer a chunk file's folder fsync (`put(chunk, "deferFolders")`; segment records are
 * durable when answered either way): a crash then loses the rename at worst, never the bytes
 * under it (the file is fsync'd before it is renamed), so the chunk is absent, not torn, and
 * copied again. `syncDeferred` makes every deferred name durable (once, per folder); the
 * learner calls it before it says it holds everything, and any other put of a deferred chunk
 * makes that one durable before it answers. Read path:
 * the bytes are served as stored, not hashed again: the client hashes every chunk it reads and
 * treats a mismatch as a bad replica (it tries the next), so a second hash here would only
 * spend the CPU a read is bound by. Rot at rest is found by `scrub` (the scrubber's check): a
 * chunk that rotted is moved to quarantine/ (so a later put of the same id can store it afresh).
 * A read that finds a file gone or cut short says so too. Such damage is reported to `onDamage`
 * (the repairer listens) after the store has put itself right.
 *
 * Removal (garbage collection) and quarantine take a chunk out of the index synchronously, so
 * a caller that decided from the index and the references in the same tick is never raced by a
 * deduplicating put; a put of that id meanwhile waits until the old file is gone, then writes.
 * Puts are remembered for a while (`lastPutAtMs`): a deduplicated put writes nothing, and its
 * owner reference is recorded only after it returns.
 *
 * This file does not know about owners, groups or the network.
 */

import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { CHUNK_BYTES_MAX, fail, ok, type Result } from "@ftfs/protocol/core";
import { sha256Hex, type Logger } from "@ftfs/protocol/io";
import {
  type DamageKind,
  RECENT_PUTS_MAX,
  SEGMENT_CHUNK_BYTES_MAX,
  chunkDirs,
  chunkIdAt,
  chunkPath,
  CHUNKS_DIR,
  isFanoutName,
  QUARANTINE_DIR,
  quarantinedChunkId,
  quarantinePath,
  RECORD_HEADER_BYTES,
  type SegmentLocation,
  SEGMENTS_DIR,
  segmentFileName,
  TEMP_DIR,
  tempPath,
} from "../core/index.ts";
import { errorCode, isNoSpace } from "./fs-errors.ts";
import { type Fsync, UNTIMED_FSYNC } from "./fsync.ts";
import { dropCachedPages } from "./page-cache.ts";
import {
  type ChunkOnDisk,
  type CompactionOutcome,
  RECORD_DAMAGED,
  RECORD_MOVED,
  SegmentLog,
  segmentChunksOnDisk,
} from "./segment-log.ts";

declare const verifiedBrand: unique symbol;

/** Bytes whose SHA-256 was checked against their id; the only thing `put` accepts. */
export interface VerifiedChunk {
  readonly id: string;
  readonly bytes: Uint8Array;
  readonly [verifiedBrand]: true;
}

export interface PutOutcome {
  /** False when the chunk was already present (dedupe): nothing was written. */
  readonly written: boolean;
}

/** Told that a chunk was found damaged on this node (after the store put itself right). */
export type DamageListener = (chunkId: string, kind: DamageKind) => void;

/** A chunk file could not be deleted; it stays indexed (unless it is gone from the folder). */
export class ChunkDeleteError extends Error {
  override readonly name = "ChunkDeleteError";
  readonly chunkId: string;

  constructor(chunkId: string, cause: unknown) {
    super(`could not delete chunk ${chunkId.slice(0, 12)}`, { cause });
    this.chunkId = chunkId;
  }
}

/** A fan-out leaf folder: when it exists, and when its name (and its parent's) is durable. */
interface LeafDir {
  readonly made: Promise<void>;
  readonly durable: Promise<void>;
}

/** A leaf folder found on disk at open: made and durable long ago. */
const KNOWN_LEAF: LeafDir = { made: Promise.resolve(), durable: Promise.resolve() };

export type { ChunkOnDisk } from "./segment-log.ts";

export class ChunkStore {
  readonly dataDir: string;
  /** Bytes the store may hold; past it a put answers DISK_FULL before the disk does. */
  capacityBytes = Number.MAX_SAFE_INTEGER;
  /** Damage found by reads and scrubs goes here; null: nobody listens (tests, tools). */
  onDamage: DamageListener | null = null;
  private readonly logger: Logger;
  private readonly nowMs: () => number;
  /** Every fsync of chunk files and folders goes through this (it times them). */
  private readonly fsync: Fsync;
  /** Chunks stored as files of their own: id → bytes. */
  private readonly index = new Map<string, number>();
  /** Chunks stored as segment records (the log's book says where). */
  private readonly segments: SegmentLog;
  /** Chunks up to this size are segment records; larger ones files (0: files only, for tests). */
  private segmentChunkBytesMax = SEGMENT_CHUNK_BYTES_MAX;
  private readonly writing = new Map<string, Promise<Result<PutOutcome>>>();
  /** Puts under way per chunk id, from their start to their answer. */
  private readonly putsInFlight = new Map<string, number>();
  /** Chunks being taken out (deleted or quarantined): a put of the same id waits for these. */
  private readonly removing = new Map<string, Promise<void>>();
  /** chunk id → wall-clock time of its latest put, oldest first; at most RECENT_PUTS_MAX. */
  private readonly recentPuts = new Map<string, number>();
  /** Fan-out folders known made and durable (or being so): leaf path → when each is. */
  private readonly leafDirs = new Map<string, LeafDir>();
  /** Chunks renamed into place whose names are not durable yet (deferred): id → its leaf. */
  private readonly deferred = new Map<string, { leaf: string; made: LeafDir }>();
  private used = 0;
  private reservedBytes = 0;
  private serial = 0;

  private constructor(
    dataDir: string,
    logger: Logger,
    nowMs: () => number,
    fsync: Fsync,
    segments: SegmentLog,
  ) {
    this.dataDir = dataDir;
    this.logger = logger;
    this.nowMs = nowMs;
    this.fsync = fsync;
    this.segments = segments;
    for (const chunkId of segments.book.ids()) {
      this.used += segments.book.locate(chunkId)?.payloadBytes ?? 0;
    }
  }

  /**
   * Open (creating) the store: remove temp leftovers of a crash, then index the chunks.
   * `nowMs` is the wall clock puts are remembered by (the one file times are compared with).
   * `segmentChunkBytesMax`: chunks up to this size are segment records (0: every chunk a file).
   */
  static async open(
    dataDir: string,
    logger: Logger,
    nowMs: () => number = Date.now,
    fsync: Fsync = UNTIMED_FSYNC,
    segmentChunkBytesMax: number = SEGMENT_CHUNK_BYTES_MAX,
  ): Promise<ChunkStore> {
    await mkdir(dataDir, { recursive: true });
    const leftovers = await readdir(join(dataDir, TEMP_DIR)).catch(() => []);
    await rm(join(dataDir, TEMP_DIR), { recursive: true, force: true });
    for (const dir of [CHUNKS_DIR, TEMP_DIR, QUARANTINE_DIR]) {
      await mkdir(join(dataDir, dir), { recursive: true });
    }
    const segments = await SegmentLog.open(dataDir, logger, fsync);
    await fsync.folder(dataDir);
    if (leftovers.length > 0) {
      logger.info("removed temporary files left by a crash", { files: leftovers.length });
    }
    const store = new ChunkStore(dataDir, logger, nowMs, fsync, segments);
    store.segmentChunkBytesMax = segmentChunkBytesMax;
    await store.scan();
    return store;
  }

  /** Finish the writes under way and index the active segment; nothing may be written after. */
  async close(): Promise<void> {
    await this.segments.close();
  }

  get usedBytes(): number {
    return this.used;
  }

  get chunkCount(): number {
    return this.index.size + this.segments.book.size;
  }

  /** Segment files: how many, their bytes, and the bytes of live chunks in them. */
  get segmentUsage(): { segments: number; totalBytes: number; liveBytes: number } {
    return this.segments.book.usageOf();
  }

  has(chunkId: string): boolean {
    return this.index.has(chunkId) || this.segments.book.has(chunkId);
  }

  /** The stored size of a chunk, if present. */
  sizeOf(chunkId: string): number | undefined {
    return this.index.get(chunkId) ?? this.segments.book.locate(chunkId)?.payloadBytes;
  }

  /** Every stored chunk's id, as of now (a copy: the store may change while it is walked). */
  ids(): string[] {
    return [...this.index.keys(), ...this.segments.book.ids()];
  }

  /**
   * Rewrite the segment most worth it (mostly dead records, or small), if any: its live chunks
   * are copied to the active segment and the file deleted. Null when none is worth it.
   */
  compactSegments(): Promise<CompactionOutcome | null> {
    return this.segments.compactOnce(async (chunkId) => {
      await this.quarantineRot(chunkId);
    });
  }

  /** When a put last named this chunk (stored or deduplicated), if it is still remembered. */
  lastPutAtMs(chunkId: string): number | null {
    return this.recentPuts.get(chunkId) ?? null;
  }

  /**
   * Count a stored chunk as put now, so garbage collection keeps it for a grace from here:
   * its last reference was moved to another group, and a reader holding the old manifest may
   * still come for it. Held in memory only, as puts are: a restart ends the hold early.
   */
  hold(chunkId: string): void {
    if (this.has(chunkId)) this.notePut(chunkId);
  }

  /** Forget puts made before `cutoffMs`: past the grace they protect nothing. */
  forgetPutsBefore(cutoffMs: number): void {
    for (const [chunkId, atMs] of this.recentPuts) {
      if (atMs >= cutoffMs) return;
      this.recentPuts.delete(chunkId);
    }
  }

  /** When a stored chunk's file was last written (wall clock), or null if it is not stored. */
  async modifiedAtMs(chunkId: string): Promise<number | null> {
    const record = this.segments.book.locate(chunkId);
    if (record !== undefined) return record.atMs;
    if (!this.index.has(chunkId)) return null;
    try {
      return (await stat(join(this.dataDir, chunkPath(chunkId)))).mtimeMs;
    } catch (error) {
      if (errorCode(error) === "ENOENT") return null;
      throw error;
    }
  }

  /** Check bytes against the id they were sent as; nothing is written before this passes. */
  verify(chunkId: string, bytes: Uint8Array): Result<VerifiedChunk> {
    if (bytes.length === 0) return fail("BAD_REQUEST", "a chunk must hold at least one byte");
    if (bytes.length > CHUNK_BYTES_MAX) {
      return fail("BAD_REQUEST", `a chunk holds at most ${CHUNK_BYTES_MAX} bytes`);
    }
    const actual = sha256Hex(bytes);
    if (actual !== chunkId) {
      return fail(
        "CHUNK_MISMATCH",
        `bytes sent as chunk ${chunkId.slice(0, 12)} hash to ${actual.slice(0, 12)}`,
      );
    }
    return ok({ id: chunkId, bytes } as VerifiedChunk);
  }

  /**
   * A put of this chunk has started and not finished. Its reference is recorded before the put
   * starts, so a reference to a chunk not (yet) here is damage only when no put is under way.
   */
  putInFlight(chunkId: string): boolean {
    return (this.putsInFlight.get(chunkId) ?? 0) > 0;
  }

  /**
   * Store a verified chunk durably; a chunk already present (or being written) is reused.
   * "deferFolders": the bytes are durable when this resolves, the name only after
   * `syncDeferred` (see the file comment); only a learner's catch-up asks for it.
   */
  async put(
    chunk: VerifiedChunk,
    durability: "durable" | "deferFolders" = "durable",
  ): Promise<Result<PutOutcome>> {
    const count = this.putsInFlight.get(chunk.id) ?? 0;
    this.putsInFlight.set(chunk.id, count + 1);
    try {
      const outcome = await this.putOnce(chunk, durability);
      // A chunk another put left deferred is made durable before this one answers for it.
      if (durability === "durable" && outcome.ok) await this.syncDeferredChunk(chunk.id);
      return outcome;
    } finally {
      const left = (this.putsInFlight.get(chunk.id) ?? 1) - 1;
      if (left === 0) this.putsInFlight.delete(chunk.id);
      else this.putsInFlight.set(chunk.id, left);
    }
  }

  /** Chunks whose names a deferred put has not made durable yet. */
  get deferredCount(): number {
    return this.deferred.size;
  }

  /**
   * Make every name deferred so far durable: each folder fsync'd once (shared with any running),
   * and the new fan-out folders' own names. Throws if one fails (the names stay deferred).
   */
  async syncDeferred(): Promise<void> {
    const entries = [...this.deferred];
    const leaves = new Map(entries.map(([, entry]) => [entry.leaf, entry.made]));
    await allSettledOrThrow(
      [...leaves].flatMap(([leaf, made]) => [this.fsync.folder(leaf), made.durable]),
    );
    for (const [chunkId, entry] of entries) {
      if (this.deferred.get(chunkId) === entry) this.deferred.delete(chunkId);
    }
  }

  private async syncDeferredChunk(chunkId: string): Promise<void> {
    const entry = this.deferred.get(chunkId);
    if (entry === undefined) return;
    await allSettledOrThrow([this.fsync.folder(entry.leaf), entry.made.durable]);
    if (this.deferred.get(chunkId) === entry) this.deferred.delete(chunkId);
  }

  private async putOnce(
    chunk: VerifiedChunk,
    durability: "durable" | "deferFolders",
  ): Promise<Result<PutOutcome>> {
    this.notePut(chunk.id);
    const removal = this.removing.get(chunk.id);
    if (removal !== undefined) await removal;
    if (this.has(chunk.id)) return ok({ written: false });
    const inProgress = this.writing.get(chunk.id);
    if (inProgress !== undefined) {
      const first = await inProgress;
      return first.ok ? ok({ written: false }) : first;
    }
    const attempt = this.write(chunk, durability).finally(() => this.writing.delete(chunk.id));
    this.writing.set(chunk.id, attempt);
    return attempt;
  }

  /**
   * Read a chunk as stored. Not hashed here: every reader verifies what it gets (see the file
   * comment), and `scrub` is what checks chunks at rest.
   */
  async get(chunkId: string): Promise<Result<Uint8Array>> {
    if (this.segments.book.has(chunkId)) return this.readRecord(chunkId, false);
    const size = this.index.get(chunkId);
    if (size === undefined) {
      if (!this.removing.has(chunkId)) this.report(chunkId, "absent");
      return notFound(chunkId);
    }
    const read = await this.readStored(chunkId, readFile);
    if (!read.ok) return read;
    // A file cut short (or grown) is rot a reader would only find by hashing; the size is free.
    if (read.value.length !== size) return this.quarantineRot(chunkId);
    return read;
  }

  /**
   * Re-hash a stored chunk, reading it from the disk rather than the page cache when it can;
   * rot is quarantined and answered INTEGRITY (the scrubber's check). Answers the bytes read.
   */
  async scrub(chunkId: string): Promise<Result<number>> {
    if (this.segments.book.has(chunkId)) {
      const read = await this.readRecord(chunkId, true);
      if (!read.ok) return read;
      if (sha256Hex(read.value) === chunkId) return ok(read.value.length);
      return this.quarantineRot(chunkId);
    }
    const size = this.index.get(chunkId);
    if (size === undefined) return notFound(chunkId);
    const read = await this.readStored(chunkId, readUncached);
    if (!read.ok) return read;
    if (read.value.length === size && sha256Hex(read.value) === chunkId) {
      return ok(read.value.length);
    }
    return this.quarantineRot(chunkId);
  }

  /**
   * Delete a chunk (garbage collection); resolves with the bytes freed (0: not stored). The
   * index forgets it before this returns, so a decision taken in the same tick holds.
   */
  remove(chunkId: string): Promise<number> {
    const record = this.segments.book.locate(chunkId);
    if (record !== undefined) {
      const removal = this.tombstone(chunkId).then(() => record.payloadBytes);
      this.trackRemoval(chunkId, removal.then(settledQuietly, settledQuietly));
      return removal;
    }
    const bytes = this.index.get(chunkId);
    if (bytes === undefined) return Promise.resolve(0);
    this.forget(chunkId);
    const removal = this.unlinkDurably(chunkId, bytes).then(() => bytes);
    // The caller hears the outcome; a waiting put only needs to know the removal settled.
    this.trackRemoval(chunkId, removal.then(settledQuietly, settledQuietly));
    return removal;
  }

  /**
   * Read a chunk's segment record; compaction may move it meanwhile (then it is looked up
   * again). A record that is not what the index says is rot: quarantined, answered INTEGRITY.
   */
  private async readRecord(chunkId: string, uncached: boolean): Promise<Result<Uint8Array>> {
    for (;;) {
      const location = this.segments.book.locate(chunkId);
      if (location === undefined) return notFound(chunkId);
      const read = await this.segments.read(chunkId, location, uncached);
      if (read === RECORD_MOVED) {
        if (this.segments.book.locate(chunkId) !== location) continue;
        this.logger.error("indexed chunk is missing from disk", { chunkId });
        await this.segments.segmentMissing(location.segment);
        await this.tombstone(chunkId);
        this.report(chunkId, "missing");
        return notFound(chunkId);
      }
      if (read === RECORD_DAMAGED) {
        if (this.segments.book.locate(chunkId) !== location) continue;
        return this.quarantineRot(chunkId);
      }
      return ok(read);
    }
  }

  /**
   * Take a segment chunk out of the index now, and make that durable: resolves once its
   * tombstone is on disk. A tombstone that fails to be written leaves the chunk gone from the
   * index but on disk: the next start finds it again, and garbage collection deletes it anew.
   */
  private async tombstone(chunkId: string): Promise<void> {
    const seq = this.takeOutRecord(chunkId);
    if (seq !== null) await this.appendTombstone(chunkId, seq);
  }

  /** Synchronously out of the index: answers its tombstone's sequence (null: not a record). */
  private takeOutRecord(chunkId: string): number | null {
    const bytes = this.segments.book.locate(chunkId)?.payloadBytes ?? 0;
    const seq = this.segments.book.remove(chunkId);
    if (seq !== null) this.used -= bytes;
    return seq;
  }

  private async appendTombstone(chunkId: string, seq: number): Promise<void> {
    try {
      await this.segments.appendTombstone(chunkId, seq, this.nowMs());
    } catch (error) {
      throw new ChunkDeleteError(chunkId, error);
    }
  }

  /** Read an indexed chunk; a file gone from the disk is forgotten and reported missing. */
  private async readStored(
    chunkId: string,
    read: (path: string) => Promise<Uint8Array>,
  ): Promise<Result<Uint8Array>> {
    try {
      return ok(await read(join(this.dataDir, chunkPath(chunkId))));
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw error;
      // Removed or quarantined while we read: that is not damage.
      if (!this.index.has(chunkId) || this.removing.has(chunkId)) return notFound(chunkId);
      this.forget(chunkId);
      this.logger.error("indexed chunk is missing from disk", { chunkId });
      this.report(chunkId, "missing");
      return notFound(chunkId);
    }
  }

  private async quarantineRot(chunkId: string): Promise<Result<never>> {
    await this.quarantine(chunkId);
    this.report(chunkId, "rot");
    return fail(
      "INTEGRITY",
      `chunk ${chunkId.slice(0, 12)} on this node is corrupt; read another replica`,
    );
  }

  private async unlinkDurably(chunkId: string, bytes: number): Promise<void> {
    try {
      await unlink(join(this.dataDir, chunkPath(chunkId)));
    } catch (error) {
      if (errorCode(error) === "ENOENT") return;
      // Still on disk, so still ours: back into the index, and the caller hears why.
      this.remember(chunkId, bytes);
      throw new ChunkDeleteError(chunkId, error);
    }
    try {
      await this.fsync.folder(join(this.dataDir, chunkDirs(chunkId)[2]));
    } catch (error) {
      // The name is gone (a crash could bring it back, and a later pass deletes it again).
      throw new ChunkDeleteError(chunkId, error);
    }
  }

  private trackRemoval(chunkId: string, settled: Promise<void>): void {
    this.removing.set(chunkId, settled);
    void settled.then(() => {
      if (this.removing.get(chunkId) === settled) this.removing.delete(chunkId);
    });
  }

  private report(chunkId: string, kind: DamageKind): void {
    this.onDamage?.(chunkId, kind);
  }

  /** Remember a put; the map stays in time order (a repeated put moves to the end). */
  private notePut(chunkId: string): void {
    this.recentPuts.delete(chunkId);
    this.recentPuts.set(chunkId, this.nowMs());
    if (this.recentPuts.size <= RECENT_PUTS_MAX) return;
    const oldest = this.recentPuts.keys().next();
    if (!oldest.done) this.recentPuts.delete(oldest.value);
  }

  private async write(
    chunk: VerifiedChunk,
    durability: "durable" | "deferFolders",
  ): Promise<Result<PutOutcome>> {
    const size = chunk.bytes.length;
    if (this.used + this.reservedBytes + size > this.capacityBytes) {
      return fail(
        "DISK_FULL",
        `storage node is full (${this.used} of ${this.capacityBytes} bytes used)`,
      );
    }
    this.reservedBytes += size;
    if (size <= this.segmentChunkBytesMax) return this.writeRecord(chunk);
    const temp = join(this.dataDir, tempPath(chunk.id, this.nextSerial()));
    try {
      // The file and its folders are made side by side; the rename needs both.
      const leaf = this.ensureDirs(chunk.id);
      await allSettledOrThrow([writeDurably(temp, chunk.bytes, this.fsync), leaf.made]);
      await rename(temp, join(this.dataDir, chunkPath(chunk.id)));
      const leafPath = join(this.dataDir, chunkDirs(chunk.id)[2]);
      if (durability === "deferFolders") {
        this.deferred.set(chunk.id, { leaf: leafPath, made: leaf });
      } else {
        // The rename's fsync and a new folder's own (in its parent) run side by side too: the
        // chunk is durable once both are, whichever ends first.
        await allSettledOrThrow([this.fsync.folder(leafPath), leaf.durable]);
      }
    } catch (error) {
      await rm(temp, { force: true });
      if (isNoSpace(error)) {
        this.logger.warn("disk full; chunk not stored", { chunkId: chunk.id, bytes: size });
        return fail("DISK_FULL", "storage node's disk is full");
      }
      throw error;
    } finally {
      this.reservedBytes -= size;
    }
    this.remember(chunk.id, size);
    return ok({ written: true });
  }

  /** Append a small chunk to the active segment; answered once it is durable there. */
  private async writeRecord(chunk: VerifiedChunk): Promise<Result<PutOutcome>> {
    const size = chunk.bytes.length;
    try {
      const location = await this.segments.appendPut(chunk.id, chunk.bytes, this.nowMs());
      if (this.segments.book.putLanded(chunk.id, location)) this.used += size;
    } catch (error) {
      if (isNoSpace(error)) {
        this.logger.warn("disk full; chunk not stored", { chunkId: chunk.id, bytes: size });
        return fail("DISK_FULL", "storage node's disk is full");
      }
      throw error;
    } finally {
      this.reservedBytes -= size;
    }
    return ok({ written: true });
  }

  /**
   * Create a chunk's fan-out folders, durably, once. Writers of other chunks in the same new
   * folder share the same promises: none may acknowledge before the folder itself is on disk.
   */
  private ensureDirs(chunkId: string): LeafDir {
    const dirs = chunkDirs(chunkId);
    const known = this.leafDirs.get(dirs[2]);
    if (known !== undefined) return known;
    const made = mkdir(join(this.dataDir, dirs[2]), { recursive: true });
    const durable = made.then((created) => this.syncNewDirs(dirs, created));
    const leaf = { made: made.then(() => undefined), durable };
    this.leafDirs.set(dirs[2], leaf);
    // A failed attempt (say, ENOSPC) is forgotten so that a later put tries again.
    durable.catch(() => {
      if (this.leafDirs.get(dirs[2]) === leaf) this.leafDirs.delete(dirs[2]);
    });
    return leaf;
  }

  /** fsync the parents of the folders mkdir made (`created`: the first it made, if any). */
  private async syncNewDirs(
    dirs: readonly [string, string, string],
    created: string | undefined,
  ): Promise<void> {
    if (created === undefined) return;
    const leaf = join(this.dataDir, dirs[2]);
    // The new leaf is named in its parent; the parent is new in chunks/ only if mkdir made it
    // too (then `created` is the parent): on a store past its first chunks, one fsync, not two.
    const syncs = [this.fsync.folder(join(this.dataDir, dirs[1]))];
    if (resolve(created) !== resolve(leaf)) {
      syncs.push(this.fsync.folder(join(this.dataDir, dirs[0])));
    }
    await allSettledOrThrow(syncs);
  }

  /**
   * Remove quarantined copies of chunks that are whole again (repaired) and were quarantined
   * at least `keepMs` ago: they only served a post-mortem. A quarantined chunk never repaired
   * is kept: its rotted bytes may be all that is left of it. Answers the files and bytes freed.
   */
  async sweepQuarantine(keepMs: number, nowMs: number): Promise<{ files: number; bytes: number }> {
    const root = join(this.dataDir, QUARANTINE_DIR);
    const freed = { files: 0, bytes: 0 };
    for (const name of await readdir(root).catch(() => [])) {
      const chunkId = quarantinedChunkId(name);
      if (chunkId === null || !this.index.has(chunkId)) continue;
      const info = await stat(join(root, name)).catch(() => null);
      if (info === null || nowMs - info.mtimeMs < keepMs) continue;
      await unlink(join(root, name));
      freed.files += 1;
      freed.bytes += info.size;
    }
    if (freed.files > 0) await this.fsync.folder(root);
    return freed;
  }

  /** Move a rotted chunk aside; concurrent finders of the same rot share one move. */
  private quarantine(chunkId: string): Promise<void> {
    const inProgress = this.removing.get(chunkId);
    if (inProgress !== undefined) return inProgress;
    const record = this.segments.book.locate(chunkId);
    const seq = this.takeOutRecord(chunkId);
    this.forget(chunkId);
    const moved =
      record === undefined || seq === null
        ? this.moveToQuarantine(chunkId)
        : this.copyToQuarantine(chunkId, record, seq);
    this.trackRemoval(
      chunkId,
      moved.catch(() => undefined),
    );
    return moved;
  }

  /**
   * A rotted segment record: its bytes, as they are, go to a quarantine file (for a post-mortem)
   * and a tombstone takes it out; the segment's space is reclaimed by compaction.
   */
  private async copyToQuarantine(
    chunkId: string,
    record: SegmentLocation,
    seq: number,
  ): Promise<void> {
    const target = join(this.dataDir, quarantinePath(chunkId, this.nextSerial()));
    const handle = await open(
      join(this.dataDir, SEGMENTS_DIR, segmentFileName(record.segment)),
      "r",
    );
    const bytes = Buffer.alloc(record.payloadBytes);
    try {
      await handle.read(bytes, 0, bytes.length, record.offset + RECORD_HEADER_BYTES);
    } finally {
      await handle.close();
    }
    await writeDurably(target, bytes, this.fsync);
    await this.fsync.folder(join(this.dataDir, QUARANTINE_DIR));
    await this.appendTombstone(chunkId, seq);
    this.logger.error("chunk failed its hash check; quarantined", { chunkId, movedTo: target });
  }

  private async moveToQuarantine(chunkId: string): Promise<void> {
    const target = join(this.dataDir, quarantinePath(chunkId, this.nextSerial()));
    try {
      await rename(join(this.dataDir, chunkPath(chunkId)), target);
      await this.fsync.folder(join(this.dataDir, chunkDirs(chunkId)[2]));
    } catch (error) {
      // Another reader quarantined it first; the chunk is out of the index either way.
      if (errorCode(error) !== "ENOENT") throw error;
    }
    this.logger.error("chunk failed its hash check; quarantined", {
      chunkId,
      movedTo: target,
    });
  }

  private remember(chunkId: string, bytes: number): void {
    if (this.index.has(chunkId)) return;
    this.index.set(chunkId, bytes);
    this.used += bytes;
  }

  private forget(chunkId: string): void {
    const bytes = this.index.get(chunkId);
    if (bytes === undefined) return;
    this.index.delete(chunkId);
    this.deferred.delete(chunkId);
    this.used -= bytes;
  }

  private nextSerial(): number {
    this.serial += 1;
    return this.serial;
  }

  /** Index every chunk file; a file that is not a chunk of ours is logged and left alone. */
  private async scan(): Promise<void> {
    const root = join(this.dataDir, CHUNKS_DIR);
    let strays = 0;
    for (const first of await readdir(root)) {
      if (!isFanoutName(first)) {
        strays += 1;
        continue;
      }
      for (const second of await readdir(join(root, first))) {
        if (!isFanoutName(second)) {
          strays += 1;
          continue;
        }
        this.leafDirs.set(`${CHUNKS_DIR}/${first}/${second}`, KNOWN_LEAF);
        strays += await this.scanLeaf(first, second);
      }
    }
    if (strays > 0) {
      this.logger.warn("ignored files under chunks/ that are not chunks", { files: strays });
    }
    this.logger.info("chunk store opened", { chunks: this.index.size, usedBytes: this.used });
  }

  private async scanLeaf(first: string, second: string): Promise<number> {
    const leaf = join(this.dataDir, CHUNKS_DIR, first, second);
    let strays = 0;
    for (const name of await readdir(leaf)) {
      const chunkId = chunkIdAt(first, second, name);
      const info = chunkId === null ? null : await stat(join(leaf, name));
      if (chunkId === null || info === null || !info.isFile()) {
        strays += 1;
        continue;
      }
      this.remember(chunkId, info.size);
    }
    return strays;
  }
}

/**
 * Every chunk a store in `dataDir` holds, read from the disk alone (chunk files, and segment
 * records as a start would find them), with where each one's bytes are: for tools and tests
 * that check a node's disk against what it acknowledged. Read-only.
 */
export async function chunksOnDisk(
  dataDir: string,
  logger: Logger,
): Promise<Map<string, ChunkOnDisk>> {
  const found = await segmentChunksOnDisk(dataDir, logger);
  const root = join(dataDir, CHUNKS_DIR);
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(
    (error: unknown) => {
      if (errorCode(error) === "ENOENT") return [];
      throw error;
    },
  );
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const [first, second] = relativeParts(root, entry.parentPath);
    const chunkId =
      first === undefined || second === undefined ? null : chunkIdAt(first, second, entry.name);
    if (chunkId === null) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path).catch(() => null);
    if (info !== null)
      found.set(chunkId, { path, offset: 0, bytes: info.size, atMs: info.mtimeMs });
  }
  return found;
}

function relativeParts(root: string, folder: string): string[] {
  return folder
    .slice(root.length)
    .split("/")
    .filter((part) => part !== "");
}

/**
 * Write a new file and fsync it before closing: once this returns, the bytes are on disk. Its
 * now-clean pages are then dropped from the page cache (see page-cache.ts for why).
 */
async function writeDurably(path: string, bytes: Uint8Array, fsync: Fsync): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(bytes);
    await fsync.file(handle);
    dropCachedPages(handle.fd);
  } finally {
    await handle.close();
  }
}

/**
 * Read a whole chunk file, then drop its pages from the cache: a scrub reads every chunk once
 * per pass, and keeping them cached would only push out what clients read.
 */
async function readUncached(path: string): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const bytes = await handle.readFile();
    dropCachedPages(handle.fd);
    return bytes;
  } finally {
    await handle.close();
  }
}

function settledQuietly(): void {}

/**
 * Wait for every one of `work`, then throw the first failure: nothing is left running behind
 * a failure (the caller cleans up after it), unlike Promise.all.
 */
async function allSettledOrThrow(work: readonly Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(work);
  for (const outcome of settled) if (outcome.status === "rejected") throw outcome.reason;
}

function notFound(chunkId: string): Result<never> {
  return fail("CHUNK_NOT_FOUND", `no chunk ${chunkId.slice(0, 12)} on this node`);
}
