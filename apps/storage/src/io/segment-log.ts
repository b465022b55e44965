/**
 * Segment files on disk: small chunks appended as records to one active file, so concurrent
 * writes share one fdatasync (core/segment-book.ts holds the rules and the format's fields).
 *
 *   segments/<n>.seg   a segment: a 64-byte file header, then records (header + payload)
 *   segments/<n>.idx   a sealed segment's record headers and offsets, with a SHA-256 trailer,
 *                      so a restart reads a few bytes per record instead of every payload
 *   segments/<n>.idx.tmp  that file being written; removed at start
 *
 * A record is acknowledged only after an fdatasync that began after its write ended. Every
 * start begins a new active segment; the one active before is read in full (each record's
 * keyed check and each put's SHA-256), a torn tail or a damaged stretch is skipped, and its
 * index file is written. Reads open the file, read the record and check its header (an index
 * that points at the wrong bytes is damage, not data); readers hash what they get, and scrub
 * re-hashes at rest. Compaction rewrites a sealed segment's live records into the active one,
 * fsyncs them, then deletes the old file and fsyncs the folder.
 */

import { close as closeFd, open as openFd, writev } from "node:fs";
import {
  mkdir,
  type FileHandle,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
} from "node:fs/promises";
import { join } from "node:path";
import { type Logger, sha256Hex } from "@ftfs/protocol/io";
import {
  decodeRecordHeader,
  decodeSegmentHeader,
  encodeRecordHeader,
  encodeSegmentHeader,
  RECORD_CHECKED_BYTES,
  RECORD_HEADER_BYTES,
  type RecordAt,
  type RecordHeader,
  recordBytes,
  SEGMENT_BYTES_TARGET,
  SEGMENT_CHUNK_BYTES_MAX,
  SEGMENT_FILE_HEADER_BYTES,
  SegmentBook,
  segmentFileName,
  segmentIndexFileName,
  type SegmentLocation,
  segmentNumberOf,
  SEGMENTS_DIR,
} from "../core/index.ts";
import { errorCode, isNoSpace } from "./fs-errors.ts";
import type { Fsync } from "./fsync.ts";
import { dropCachedPages } from "./page-cache.ts";

const SALT_BYTES = 16;
const CHECK_BYTES = 4;
const INDEX_MAGIC = "FTFSIDX1";
const INDEX_HEADER_BYTES = 16;
/** Each index entry: the record's header as written, then its offset (float64). */
const INDEX_ENTRY_BYTES = RECORD_HEADER_BYTES + 8;
const INDEX_TRAILER_BYTES = 32;
const INDEX_TEMP_SUFFIX = ".tmp";
/**
 * Live records compaction copies at once: enough to share fdatasyncs among them, few enough
 * that the copies do not crowd clients' writes out of the active segment's fsyncs.
 */
export const COMPACTION_COPIES_IN_FLIGHT = 16;

/**
 * Bytes set aside in a ballast file (as CockroachDB's emergency ballast): when the disk fills,
 * it is deleted so that tombstones and compaction, which give space back, can still be written.
 * Two of the largest records, room for many tombstones and for compacting mostly dead segments.
 */
export const BALLAST_BYTES = 2 * recordBytes(SEGMENT_CHUNK_BYTES_MAX);
const BALLAST_FILE = "ballast";

/** A read found the record's file gone: compaction moved it; look it up again. */
export const RECORD_MOVED = Symbol("record moved");

/** The record at a location is not what the book says (damage, or a bug): never served. */
export const RECORD_DAMAGED = Symbol("record damaged");

interface ActiveSegment {
  readonly segment: number;
  /**
   * The file, open for appends. A plain descriptor, not a FileHandle: a store a test (or a
   * crash) leaves unclosed must not be closed under a write by the garbage collector.
   */
  readonly fd: number;
  readonly salt: Uint8Array;
  /** Where the next record goes (reserved space included). */
  size: number;
  /** Appends under way; the segment is sealed once none are left after it stopped taking more. */
  writing: number;
  /** Takes no more records: it is full, or a write or fsync to it failed. */
  closing: boolean;
  /** Its index is being (or was) written and its file closed. */
  sealed: boolean;
  /** Records appended, for its index file. */
  readonly records: RecordAt[];
}

export interface CompactionOutcome {
  readonly segment: number;
  readonly copiedBytes: number;
  readonly freedBytes: number;
}

export class SegmentLog {
  readonly book: SegmentBook;
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly fsync: Fsync;
  private readonly salts = new Map<number, Uint8Array>();
  private readonly ballast: Ballast;
  /** The segment appends go to; null: none yet, or the last begin failed (the next append retries). */
  private active: Promise<ActiveSegment> | null;
  private sealing: Promise<void> = Promise.resolve();
  /** Segments a newer active segment has replaced (each is replaced once). */
  private readonly replaced = new Set<number>();
  private closed = false;

  private constructor(dir: string, book: SegmentBook, logger: Logger, fsync: Fsync) {
    this.dir = dir;
    this.book = book;
    this.logger = logger;
    this.fsync = fsync;
    this.ballast = new Ballast(join(dir, BALLAST_FILE), logger, fsync);
    this.active = this.begin();
  }

  /** Open (creating) the segments of `dataDir`: read what is there, then begin a new segment. */
  static async open(dataDir: string, logger: Logger, fsync: Fsync): Promise<SegmentLog> {
    const dir = join(dataDir, SEGMENTS_DIR);
    await mkdir(dir, { recursive: true });
    const segments: Array<{ segment: number; totalBytes: number }> = [];
    const records: RecordAt[] = [];
    const salts = new Map<number, Uint8Array>();
    let strays = 0;
    let highestSegment = 0;
    for (const name of (await readdir(dir)).sort()) {
      if (name.endsWith(INDEX_TEMP_SUFFIX)) {
        await rm(join(dir, name), { force: true });
        continue;
      }
      const segment = segmentNumberOf(name);
      if (segment === null) {
        if (!/^\d{16}\.idx$/.test(name) && name !== BALLAST_FILE) strays += 1;
        continue;
      }
      highestSegment = Math.max(highestSegment, segment);
      const found = await readSegment(dir, segment, logger, fsync);
      if (found === null) {
        const bytes = (await stat(join(dir, name))).size;
        if (bytes <= SEGMENT_FILE_HEADER_BYTES) {
          // Begun by a crash-cut start of a segment: its header never made it, so no record did.
          await rm(join(dir, name), { force: true });
        } else {
          logger.error("a segment file's header is damaged; its chunks are not served", {
            segment,
          });
          strays += 1;
        }
        continue;
      }
      salts.set(segment, found.salt);
      segments.push({ segment, totalBytes: found.totalBytes });
      records.push(...found.records);
    }
    if (strays > 0)
      logger.warn("ignored files under segments/ that are not segments", { files: strays });
    const book = SegmentBook.replay(segments, records);
    book.skipSegmentsThrough(highestSegment); // a damaged segment's number is never reused
    const log = new SegmentLog(dir, book, logger, fsync);
    for (const [segment, salt] of salts) log.salts.set(segment, salt);
    await log.ballast.ensure();
    // A full disk must not keep the node from starting (it still serves reads, and deletes
    // free space): the first append tries again to begin a segment.
    await log.active?.catch((error: unknown) => {
      if (!isNoSpace(error)) throw error;
      logger.warn("disk full: no new segment could be begun; writes wait for space", {});
    });
    return log;
  }

  /**
   * Append a put of `bytes` as `chunkId`; resolves once it is durable, with where it is. While
   * the ballast is spent (the disk filled) puts are refused with ENOSPC: what room there is
   * belongs to removals and compaction, which give space back.
   */
  async appendPut(chunkId: string, bytes: Uint8Array, atMs: number): Promise<SegmentLocation> {
    if (!(await this.ballast.ensure())) throw noSpaceError();
    return this.append(
      { kind: "put", seq: this.book.allocateSeq(), atMs, chunkId, payloadBytes: bytes.length },
      bytes,
    );
  }

  /** Append the tombstone `seq` of `chunkId` (from book.remove); resolves once durable. */
  async appendTombstone(chunkId: string, seq: number, atMs: number): Promise<void> {
    await this.appendFreeing({ kind: "tombstone", seq, atMs, chunkId, payloadBytes: 0 }, null);
  }

  /**
   * Append a record of work that gives space back (a tombstone, a compaction's copy): on a full
   * disk the ballast goes, so it still gets written.
   */
  private async appendFreeing(
    header: RecordHeader,
    payload: Uint8Array | null,
  ): Promise<SegmentLocation> {
    try {
      return await this.append(header, payload);
    } catch (error) {
      if (!isNoSpace(error) || !(await this.ballast.release())) throw error;
      return this.append(header, payload);
    }
  }

  /**
   * Read a record's payload. RECORD_MOVED: the file is gone (compaction moved the record);
   * RECORD_DAMAGED: the bytes there are not that record. `uncached` leaves the pages out of
   * the page cache (the scrubber's reads).
   */
  async read(
    chunkId: string,
    location: SegmentLocation,
    uncached = false,
  ): Promise<Uint8Array | typeof RECORD_MOVED | typeof RECORD_DAMAGED> {
    let handle: FileHandle;
    try {
      handle = await open(join(this.dir, segmentFileName(location.segment)), "r");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return RECORD_MOVED;
      throw error;
    }
    try {
      const total = recordBytes(location.payloadBytes);
      const buffer = Buffer.allocUnsafe(total);
      const { bytesRead } = await handle.read(buffer, 0, total, location.offset);
      if (uncached) dropCachedPages(handle.fd, location.offset, total);
      if (bytesRead !== total) return RECORD_DAMAGED;
      const header = this.checkedHeader(location.segment, buffer);
      if (
        header === null ||
        header.kind !== "put" ||
        header.chunkId !== chunkId ||
        header.seq !== location.seq ||
        header.payloadBytes !== location.payloadBytes
      ) {
        return RECORD_DAMAGED;
      }
      return buffer.subarray(RECORD_HEADER_BYTES);
    } finally {
      await handle.close();
    }
  }

  /**
   * Rewrite the segment most worth it (core/segment-book.ts decides), if any: copy its live
   * records, then delete it. A put whose bytes fail their hash is not copied; `onRot` hears of
   * it (the chunk store quarantines it) before the segment goes.
   */
  async compactOnce(onRot: (chunkId: string) => Promise<void>): Promise<CompactionOutcome | null> {
    const segment = this.book.compactionCandidate();
    if (segment === null) return null;
    const found = await readSegment(this.dir, segment, this.logger, this.fsync);
    if (found === null) throw new Error(`segment ${segment} vanished while sealed`);
    let copiedBytes = 0;
    const copies: Promise<void>[] = [];
    const copy = async (record: RecordAt): Promise<void> => {
      if (this.book.fateOf(record) === "drop") return;
      let payload: Uint8Array | null = null;
      if (record.kind === "put") {
        const read = await this.read(record.chunkId, locationOf(record));
        if (typeof read === "symbol" || sha256Hex(read) !== record.chunkId) {
          await onRot(record.chunkId);
          return;
        }
        payload = read;
      }
      const { segment: _from, offset: _at, ...header } = record;
      const landed = await this.appendFreeing(header, payload);
      this.book.copyLanded(record, landed);
      copiedBytes += recordBytes(record.payloadBytes);
    };
    for (const record of found.records) {
      copies.push(copy(record));
      if (copies.length >= COMPACTION_COPIES_IN_FLIGHT) await Promise.all(copies.splice(0));
    }
    await Promise.all(copies);
    // Still guarded: a put read as live above may only now have been moved by a late copy.
    for (const record of found.records) {
      if (record.kind === "put" && this.book.fateOf(record) === "copy") {
        throw new Error(`segment ${segment} still holds a live chunk after compaction`);
      }
    }
    await rm(join(this.dir, segmentIndexFileName(segment)), { force: true });
    await unlink(join(this.dir, segmentFileName(segment)));
    await this.fsync.folder(this.dir);
    this.book.retired(segment, found.records);
    this.salts.delete(segment);
    await this.ballast.ensure(); // the space freed refills the ballast first
    return { segment, copiedBytes, freedBytes: found.totalBytes - copiedBytes };
  }

  /**
   * A segment's file was found gone (deleted behind the node's back): if it is the active one,
   * appends move to a new file at once, or they would land in a file no start will find.
   */
  async segmentMissing(segment: number): Promise<void> {
    const active = await this.active?.catch(() => null);
    if (active?.segment !== segment) return;
    this.logger.error("the active segment file was deleted from the disk; writing to a new one", {
      segment,
    });
    this.retire(active);
  }

  /** Finish the active segment's appends and index it; the log takes no more writes. */
  async close(): Promise<void> {
    this.closed = true;
    // None could be begun: nothing to seal.
    const active = await this.active?.catch(() => null);
    if (active !== undefined && active !== null) {
      active.closing = true;
      await this.sealWhenIdle(active);
    }
    await this.sealing;
  }

  private async append(header: RecordHeader, payload: Uint8Array | null): Promise<SegmentLocation> {
    const bytes = recordBytes(header.payloadBytes);
    const active = await this.reserve(bytes);
    const offset = active.size;
    active.size += bytes;
    active.writing += 1;
    this.book.grew(active.segment, bytes);
    const encoded = this.withCheck(active.salt, encodeRecordHeader(header));
    try {
      const parts = payload === null ? [encoded] : [encoded, payload];
      await writeWhole(active.fd, parts, offset);
      await this.fsync.segment(active.fd);
      // Clean now, the record's pages are dropped (page-cache.ts says why).
      dropCachedPages(active.fd, offset, bytes);
      active.records.push({ ...header, segment: active.segment, offset });
      return {
        segment: active.segment,
        offset,
        payloadBytes: header.payloadBytes,
        seq: header.seq,
        atMs: header.atMs,
      };
    } catch (error) {
      // After a failed write or fsync nothing more goes to this file (an fsync error may have
      // dropped pages of records written before it): the next append begins a new one.
      this.retire(active);
      throw error;
    } finally {
      active.writing -= 1;
      if (active.closing) void this.sealWhenIdle(active);
    }
  }

  /** The active segment with room for `bytes`, beginning a new one when it is full. */
  private async reserve(bytes: number): Promise<ActiveSegment> {
    for (;;) {
      if (this.closed) throw new Error("the segment log is closed");
      this.active ??= this.begin();
      const current = this.active;
      let active: ActiveSegment;
      try {
        active = await current;
      } catch (error) {
        // The segment could not be made (a full disk, say): the next append tries anew.
        // The next append begins one anew (after space was freed, say).
        if (this.active === current) this.active = null;
        throw error;
      }
      const empty = active.size === SEGMENT_FILE_HEADER_BYTES;
      if (!active.closing && (empty || active.size + bytes <= SEGMENT_BYTES_TARGET)) return active;
      this.retire(active);
    }
  }

  /** Stop appending to `active`; a new segment takes the next records. */
  private retire(active: ActiveSegment): void {
    active.closing = true;
    void this.sealWhenIdle(active);
    if (this.closed || this.replaced.has(active.segment)) return;
    this.replaced.add(active.segment);
    // The next append begins the new one (a failed begin is then its error, and is retried).
    if (this.active !== null) this.active = null;
  }

  /** Begin a new active segment; a failure is answered to the next append (see reserve). */
  private begin(): Promise<ActiveSegment> {
    const begun = this.beginNow();
    begun.catch(() => undefined); // not unhandled: reserve() awaits it and answers the error
    return begun;
  }

  private async beginNow(): Promise<ActiveSegment> {
    const segment = this.book.beginSegment();
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const path = join(this.dir, segmentFileName(segment));
    let fd: number | null = null;
    try {
      fd = await new Promise<number>((resolve, reject) =>
        openFd(path, "wx", (error, opened) => (error === null ? resolve(opened) : reject(error))),
      );
      await writeWhole(fd, [encodeSegmentHeader(segment, salt)], 0);
      await this.fsync.segment(fd);
      await this.fsync.folder(this.dir);
    } catch (error) {
      // No record can be in it: the file goes, and the book forgets the number's segment.
      if (fd !== null) await closeDescriptor(fd);
      await rm(path, { force: true });
      this.book.retired(segment, []);
      throw error;
    }
    this.book.grew(segment, SEGMENT_FILE_HEADER_BYTES);
    this.salts.set(segment, salt);
    return {
      segment,
      fd,
      salt,
      size: SEGMENT_FILE_HEADER_BYTES,
      writing: 0,
      closing: false,
      sealed: false,
      records: [],
    };
  }

  /** Once a closing segment's last append settles: write its index, close it, let compaction have it. */
  private sealWhenIdle(active: ActiveSegment): Promise<void> {
    if (active.writing > 0 || !active.closing || active.sealed) return Promise.resolve();
    active.sealed = true;
    const sealed = (async () => {
      await closeDescriptor(active.fd);
      try {
        await writeIndex(this.dir, active.segment, active.records, this.fsync);
      } finally {
        // Without an index, compaction (and the next start) reads the segment whole.
        this.book.seal(active.segment);
      }
    })();
    this.sealing = this.sealing
      .then(() => sealed)
      .catch((error: unknown) => {
        this.logger.warn(
          "a segment's index could not be written; the next start reads the segment whole",
          {
            segment: active.segment,
            error: String(error),
          },
        );
      });
    return sealed.catch(() => undefined);
  }

  private withCheck(salt: Uint8Array, header: Uint8Array): Uint8Array {
    header.set(keyedCheck(salt, header), RECORD_CHECKED_BYTES);
    return header;
  }

  private checkedHeader(segment: number, bytes: Uint8Array): RecordHeader | null {
    const salt = this.salts.get(segment);
    if (salt === undefined) return null;
    return checkHeader(salt, bytes);
  }
}

/** The header at the start of `bytes` if its keyed check holds, else null. */
function checkHeader(salt: Uint8Array, bytes: Uint8Array): RecordHeader | null {
  const header = decodeRecordHeader(bytes, SEGMENT_CHUNK_BYTES_MAX);
  if (header === null) return null;
  const expected = keyedCheck(salt, bytes.subarray(0, RECORD_CHECKED_BYTES));
  for (let i = 0; i < CHECK_BYTES; i += 1) {
    if (bytes[RECORD_CHECKED_BYTES + i] !== expected[i]) return null;
  }
  return header;
}

function keyedCheck(salt: Uint8Array, header: Uint8Array): Uint8Array {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(salt);
  hasher.update(header.subarray(0, RECORD_CHECKED_BYTES));
  return hasher.digest().subarray(0, CHECK_BYTES);
}

interface FoundSegment {
  readonly salt: Uint8Array;
  readonly totalBytes: number;
  readonly records: RecordAt[];
}

/** A segment's records: from its index file if that is whole, else read from the segment itself. */
async function readSegment(
  dir: string,
  segment: number,
  logger: Logger,
  fsync: Fsync,
): Promise<FoundSegment | null> {
  const path = join(dir, segmentFileName(segment));
  const handle = await open(path, "r");
  let head: ReturnType<typeof decodeSegmentHeader>;
  let totalBytes: number;
  let writtenAtMs: number;
  try {
    const first = Buffer.alloc(SEGMENT_FILE_HEADER_BYTES);
    await handle.read(first, 0, SEGMENT_FILE_HEADER_BYTES, 0);
    head = decodeSegmentHeader(first);
    const info = await handle.stat();
    totalBytes = info.size;
    writtenAtMs = info.mtimeMs;
  } finally {
    await handle.close();
  }
  if (head === null || head.segment !== segment) return null;
  const indexed = await readIndex(dir, segment);
  if (indexed !== null) {
    return { salt: head.salt, totalBytes, records: notAfter(indexed, writtenAtMs) };
  }
  const bytes = await readFile(path);
  const records = notAfter(scanRecords(segment, head.salt, bytes, logger), writtenAtMs);
  // Without its index the segment is simply read whole again next time (a full disk, say).
  await writeIndex(dir, segment, records, fsync).catch((error: unknown) => {
    if (!isNoSpace(error)) throw error;
    logger.warn("disk full: a segment's index was not written; the next start reads it whole", {
      segment,
    });
  });
  return { salt: head.salt, totalBytes: bytes.length, records };
}

/**
 * A record's time is the node's clock at the put, which may have run ahead of the kernel's
 * (a stepped clock, libfaketime): no record is taken as written after its file last was, or a
 * restart would keep garbage for as long as the clock had been ahead.
 */
function notAfter(records: readonly RecordAt[], writtenAtMs: number): RecordAt[] {
  return records.map((record) =>
    record.atMs > writtenAtMs ? { ...record, atMs: writtenAtMs } : record,
  );
}

/**
 * Every whole record of a segment file. A stretch that is not a record (a torn tail after a
 * crash, a write that failed, rot) is skipped to the next header whose keyed check holds; a
 * put whose bytes do not hash to its id is skipped too.
 */
export function scanRecords(
  segment: number,
  salt: Uint8Array,
  bytes: Uint8Array,
  logger: Logger,
): RecordAt[] {
  const records: RecordAt[] = [];
  let offset = SEGMENT_FILE_HEADER_BYTES;
  let skipped = 0;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    const header = checkHeader(salt, bytes.subarray(offset, offset + RECORD_HEADER_BYTES));
    const end = header === null ? -1 : offset + recordBytes(header.payloadBytes);
    const whole =
      header !== null &&
      end <= bytes.length &&
      (header.kind !== "put" ||
        sha256Hex(bytes.subarray(offset + RECORD_HEADER_BYTES, end)) === header.chunkId);
    if (header === null || !whole) {
      offset += 1;
      skipped += 1;
      continue;
    }
    records.push({ ...header, segment, offset });
    offset = end;
  }
  if (offset < bytes.length) skipped += bytes.length - offset;
  if (skipped > 0) {
    logger.warn(
      "a segment holds bytes that are not whole records (a write cut short by a crash, or damage); skipped",
      {
        segment,
        bytes: skipped,
      },
    );
  }
  return records;
}

async function readIndex(dir: string, segment: number): Promise<RecordAt[] | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(join(dir, segmentIndexFileName(segment)));
  } catch (error) {
    if (errorCode(error) === "ENOENT") return null;
    throw error;
  }
  const body = bytes.length - INDEX_TRAILER_BYTES;
  if (body < INDEX_HEADER_BYTES || (body - INDEX_HEADER_BYTES) % INDEX_ENTRY_BYTES !== 0)
    return null;
  if (sha256Hex(bytes.subarray(0, body)) !== Buffer.from(bytes.subarray(body)).toString("hex"))
    return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (Buffer.from(bytes.subarray(0, 8)).toString("latin1") !== INDEX_MAGIC) return null;
  if (view.getFloat64(8, true) !== segment) return null;
  const records: RecordAt[] = [];
  for (let at = INDEX_HEADER_BYTES; at < body; at += INDEX_ENTRY_BYTES) {
    const header = decodeRecordHeader(
      bytes.subarray(at, at + RECORD_HEADER_BYTES),
      SEGMENT_CHUNK_BYTES_MAX,
    );
    if (header === null) return null;
    records.push({ ...header, segment, offset: view.getFloat64(at + RECORD_HEADER_BYTES, true) });
  }
  return records;
}

/** Write a segment's index durably (a temporary file, fsynced, renamed, the folder fsynced). */
async function writeIndex(
  dir: string,
  segment: number,
  records: readonly RecordAt[],
  fsync: Fsync,
): Promise<void> {
  const body = Buffer.alloc(INDEX_HEADER_BYTES + records.length * INDEX_ENTRY_BYTES);
  body.write(INDEX_MAGIC, 0, "latin1");
  body.writeDoubleLE(segment, 8);
  let at = INDEX_HEADER_BYTES;
  for (const record of [...records].sort((x, y) => x.offset - y.offset)) {
    body.set(encodeRecordHeader(record), at);
    body.writeDoubleLE(record.offset, at + RECORD_HEADER_BYTES);
    at += INDEX_ENTRY_BYTES;
  }
  const trailer = Buffer.from(sha256Hex(body), "hex");
  const name = segmentIndexFileName(segment);
  const temp = join(dir, `${name}${INDEX_TEMP_SUFFIX}`);
  const handle = await open(temp, "w");
  try {
    await handle.writev([body, trailer]);
    await fsync.file(handle);
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, name));
  await fsync.folder(dir);
}

/**
 * Write all of `parts` at `position`: a write that stops short (the disk filled mid-record) is
 * continued, so it either completes or fails with the file system's own error (ENOSPC).
 */
async function writeWhole(
  fd: number,
  parts: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let left = [...parts];
  let at = position;
  while (left.length > 0) {
    let written = await writeAt(fd, left, at);
    if (written === 0) throw new Error("a segment write made no progress");
    at += written;
    const rest: Uint8Array[] = [];
    for (const part of left) {
      if (written >= part.length) {
        written -= part.length;
        continue;
      }
      rest.push(written > 0 ? part.subarray(written) : part);
      written = 0;
    }
    left = rest;
  }
}

/** Write `parts` at `position` of the file open as `fd`; answers the bytes written. */
function writeAt(fd: number, parts: readonly Uint8Array[], position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    writev(fd, parts as Uint8Array[], position, (error, written) =>
      error === null ? resolve(written) : reject(error),
    ),
  );
}

function closeDescriptor(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    closeFd(fd, (error) => (error === null ? resolve() : reject(error))),
  );
}

function locationOf(record: RecordAt): SegmentLocation {
  return {
    segment: record.segment,
    offset: record.offset,
    payloadBytes: record.payloadBytes,
    seq: record.seq,
    atMs: record.atMs,
  };
}

/**
 * The ballast file: made (zero-filled, fsynced) when there is room, deleted when the disk is
 * full and space must be freed. `ensure` answers whether it is in place.
 */
class Ballast {
  private readonly path: string;
  private readonly logger: Logger;
  private readonly fsync: Fsync;
  private present: boolean | null = null;
  private making: Promise<boolean> | null = null;

  constructor(path: string, logger: Logger, fsync: Fsync) {
    this.path = path;
    this.logger = logger;
    this.fsync = fsync;
  }

  ensure(): Promise<boolean> {
    if (this.present === true) return Promise.resolve(true);
    this.making ??= this.make().finally(() => {
      this.making = null;
    });
    return this.making;
  }

  /** Delete it (once): answers whether there was space to give back. */
  async release(): Promise<boolean> {
    await this.making;
    if (this.present !== true) return false;
    this.present = false;
    await rm(this.path, { force: true });
    this.logger.warn("disk full: the ballast was released so removals and compaction can run", {
      bytes: BALLAST_BYTES,
    });
    return true;
  }

  private async make(): Promise<boolean> {
    const existing = await stat(this.path).catch(() => null);
    if (existing?.size === BALLAST_BYTES) {
      this.present = true;
      return true;
    }
    try {
      const handle = await open(this.path, "w");
      try {
        await handle.write(new Uint8Array(BALLAST_BYTES), 0, BALLAST_BYTES, 0);
        await this.fsync.file(handle);
      } finally {
        await handle.close();
      }
      await this.fsync.folder(join(this.path, ".."));
    } catch (error) {
      await rm(this.path, { force: true });
      if (!isNoSpace(error)) throw error;
      if (this.present !== false) {
        this.logger.warn("disk full: no ballast could be set aside; puts wait for space", {});
      }
      this.present = false;
      return false;
    }
    if (this.present === false) this.logger.info("disk has room again: ballast set aside", {});
    this.present = true;
    return true;
  }
}

function noSpaceError(): Error {
  return Object.assign(new Error("no space left for chunks (the disk is full)"), {
    code: "ENOSPC",
  });
}

/** A chunk as found on disk by a reader other than the node (tools, tests): where its bytes are. */
export interface ChunkOnDisk {
  /** The file holding its bytes: a chunk file, or a segment. */
  readonly path: string;
  /** Where its bytes start in that file. */
  readonly offset: number;
  readonly bytes: number;
  /** When it was written (wall clock): the record's time, or the chunk file's. */
  readonly atMs: number;
}

/**
 * Every chunk the segments of `dataDir` hold, read from the files alone (each segment scanned
 * whole: a record whose bytes do not hash to its id is not a chunk), with the rules a start
 * applies (the record of highest sequence decides). Read-only; safe beside a running node.
 */
export async function segmentChunksOnDisk(
  dataDir: string,
  logger: Logger,
): Promise<Map<string, ChunkOnDisk>> {
  const dir = join(dataDir, SEGMENTS_DIR);
  const names = await readdir(dir).catch((error: unknown) => {
    if (errorCode(error) === "ENOENT") return [];
    throw error;
  });
  const segments: Array<{ segment: number; totalBytes: number }> = [];
  const records: RecordAt[] = [];
  for (const name of names) {
    const segment = segmentNumberOf(name);
    if (segment === null) continue;
    const bytes = await readFile(join(dir, name)).catch((error: unknown) => {
      if (errorCode(error) === "ENOENT") return null; // compacted meanwhile
      throw error;
    });
    const header = bytes === null ? null : decodeSegmentHeader(bytes);
    const info = await stat(join(dir, name)).catch(() => null);
    if (bytes === null || header === null || info === null) continue;
    segments.push({ segment, totalBytes: bytes.length });
    records.push(...notAfter(scanRecords(segment, header.salt, bytes, logger), info.mtimeMs));
  }
  const book = SegmentBook.replay(segments, records);
  const found = new Map<string, ChunkOnDisk>();
  for (const chunkId of book.ids()) {
    const location = book.locate(chunkId);
    if (location === undefined) continue;
    found.set(chunkId, {
      path: join(dir, segmentFileName(location.segment)),
      offset: location.offset + RECORD_HEADER_BYTES,
      bytes: location.payloadBytes,
      atMs: location.atMs,
    });
  }
  return found;
}
