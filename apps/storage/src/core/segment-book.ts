/**
 * Small chunks live in append-only segment files (as Haystack's volumes and Bitcask's files do),
 * so that concurrent small writes share one fdatasync instead of paying a file, a rename and a
 * folder fsync each. This is the pure part: the record format's fields, which record of a chunk
 * wins, where every live chunk is, and which records compaction copies, keeps or drops.
 *
 * Records, each written once and never changed in place:
 *   put        a chunk's bytes, under its id
 *   tombstone  the chunk is gone (garbage collection, quarantine): it kills every put of that
 *              id with a lower sequence number
 * Every record carries a sequence number, unique in the store and rising. After a restart the
 * record of highest sequence for an id decides: a put means present, a tombstone gone. A put
 * that garbage collection removed comes back only if its tombstone is lost, so a tombstone is
 * dropped by compaction only once no dead put of its id is left in another segment, and
 * compaction copies records with their sequence numbers unchanged (a copied put is the same put;
 * a later put of the same id outranks a copied tombstone).
 *
 * Compaction rewrites a sealed segment's live records into the active segment, then deletes it.
 * A crash in between leaves two copies of some puts under one sequence number: the same bytes
 * (a chunk's id is its hash), so either serves; the book points at one and counts the other
 * dead until its segment goes.
 *
 * This file touches no disk; io/segment-log.ts does the reading, writing and fsyncing.
 */

import { assert } from "@ftfs/protocol/core";

const KIB = 1024;
const MIB = 1024 * KIB;

/** Chunks up to this size go to segments; larger ones are files of their own (chunks/ab/cd). */
export const SEGMENT_CHUNK_BYTES_MAX = 1 * MIB;
/**
 * The active segment is sealed and a new one begun once it holds this much. Small enough that
 * compacting one is a short job and a restart re-reads little (the active segment has no
 * index file yet), large enough that a node of a few TiB keeps a few ten thousand files.
 */
export const SEGMENT_BYTES_TARGET = 64 * MIB;
/** A sealed segment is compacted once at least this share of its bytes is dead. */
export const SEGMENT_DEAD_SHARE_TO_COMPACT = 0.5;
/**
 * A sealed segment smaller than this share of the target (a restart seals the active segment
 * early) is compacted into the active one, so restarts do not leave many small files.
 */
export const SEGMENT_SMALL_SHARE = 0.25;

/** A segment file's own header: magic, segment number, the salt of its record checks. */
export const SEGMENT_FILE_HEADER_BYTES = 64;
/** Each record's header: magic, kind, sequence, time, chunk id, payload length, check. */
export const RECORD_HEADER_BYTES = 64;
/** The bytes of a header its check covers (all but the check itself). */
export const RECORD_CHECKED_BYTES = 60;
/** A tombstone carries no payload. */
export const TOMBSTONE_PAYLOAD_BYTES = 0;

const SEGMENT_MAGIC = [0x46, 0x54, 0x46, 0x53, 0x53, 0x45, 0x47, 0x31]; // "FTFSSEG1"
const RECORD_MAGIC = 0x52_43_54_46; // "FTCR" little-endian
const KIND_CODES = { put: 1, tombstone: 2 } as const;
const CHUNK_ID_BYTES = 32;
const SEGMENT_SALT_BYTES = 16;

export type RecordKind = keyof typeof KIND_CODES;

export interface RecordHeader {
  readonly kind: RecordKind;
  /** Unique in the store and rising; the highest record of an id decides. */
  readonly seq: number;
  /** Wall-clock time of the put (garbage collection's grace counts from it). */
  readonly atMs: number;
  readonly chunkId: string;
  readonly payloadBytes: number;
}

/** A record and where it is: `offset` is where its header starts in the segment file. */
export interface RecordAt extends RecordHeader {
  readonly segment: number;
  readonly offset: number;
}

/** Where a live chunk's bytes are. */
export interface SegmentLocation {
  readonly segment: number;
  readonly offset: number;
  readonly payloadBytes: number;
  readonly seq: number;
  readonly atMs: number;
}

/** What compaction does with one record of the segment it rewrites. */
export type CompactionFate = "copy" | "drop";

export function recordBytes(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

// ---- the format ----

/** A segment file's header for segment `segment`, with the salt its record checks use. */
export function encodeSegmentHeader(segment: number, salt: Uint8Array): Uint8Array {
  assert(salt.length === SEGMENT_SALT_BYTES, "a segment salt is 16 bytes");
  const bytes = new Uint8Array(SEGMENT_FILE_HEADER_BYTES);
  bytes.set(SEGMENT_MAGIC, 0);
  new DataView(bytes.buffer).setFloat64(8, segment, true);
  bytes.set(salt, 16);
  return bytes;
}

/** The segment number and salt of a segment file's header, or null if it is not one. */
export function decodeSegmentHeader(
  bytes: Uint8Array,
): { readonly segment: number; readonly salt: Uint8Array } | null {
  if (bytes.length < SEGMENT_FILE_HEADER_BYTES) return null;
  for (let i = 0; i < SEGMENT_MAGIC.length; i += 1) if (bytes[i] !== SEGMENT_MAGIC[i]) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segment = view.getFloat64(8, true);
  if (!Number.isSafeInteger(segment) || segment < 1) return null;
  return { segment, salt: bytes.slice(16, 16 + SEGMENT_SALT_BYTES) };
}

/**
 * A record header without its check (the last 4 bytes, left zero): io fills them with a keyed
 * hash of the first RECORD_CHECKED_BYTES, so a chunk's payload crafted to look like a record
 * cannot pass for one when a scan resynchronises after damage.
 */
export function encodeRecordHeader(header: RecordHeader): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, RECORD_MAGIC, true);
  bytes[4] = KIND_CODES[header.kind];
  view.setFloat64(8, header.seq, true);
  view.setFloat64(16, header.atMs, true);
  bytes.set(hexToBytes(header.chunkId), 24);
  view.setUint32(56, header.payloadBytes, true);
  return bytes;
}

/**
 * The fields of a record header, or null when the bytes cannot be one (the check is io's to
 * verify). `payloadBytesMax` bounds the length a damaged header could claim.
 */
export function decodeRecordHeader(
  bytes: Uint8Array,
  payloadBytesMax: number,
): RecordHeader | null {
  if (bytes.length < RECORD_HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, RECORD_HEADER_BYTES);
  if (view.getUint32(0, true) !== RECORD_MAGIC) return null;
  const kind =
    bytes[4] === KIND_CODES.put ? "put" : bytes[4] === KIND_CODES.tombstone ? "tombstone" : null;
  if (kind === null || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) return null;
  const seq = view.getFloat64(8, true);
  const atMs = view.getFloat64(16, true);
  const payloadBytes = view.getUint32(56, true);
  if (!Number.isSafeInteger(seq) || seq < 1 || !Number.isFinite(atMs)) return null;
  if (kind === "put" ? payloadBytes < 1 || payloadBytes > payloadBytesMax : payloadBytes !== 0) {
    return null;
  }
  return {
    kind,
    seq,
    atMs,
    chunkId: bytesToHex(bytes.subarray(24, 24 + CHUNK_ID_BYTES)),
    payloadBytes,
  };
}

/** Is the segment file's name one of ours? Answers its number, or null. */
export function segmentNumberOf(name: string): number | null {
  const match = /^(\d{16})\.seg$/.exec(name);
  if (match === null || match[1] === undefined) return null;
  const segment = Number(match[1]);
  return segment >= 1 ? segment : null;
}

export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(16, "0")}.seg`;
}

/** The index file written beside a sealed segment (see io/segment-log.ts). */
export function segmentIndexFileName(segment: number): string {
  return `${String(segment).padStart(16, "0")}.idx`;
}

// ---- the book ----

interface SegmentUsage {
  /** Bytes in the file, headers included (dead records and holes left by failed writes too). */
  totalBytes: number;
  /** Bytes of the live puts in it. */
  liveBytes: number;
  sealed: boolean;
}

/** Where every live chunk is, the dead puts compaction must see gone, and each segment's use. */
export class SegmentBook {
  private readonly live = new Map<string, SegmentLocation>();
  /** chunk id → segment → dead puts of it there: what a tombstone of that id still guards. */
  private readonly deadPuts = new Map<string, Map<number, number>>();
  private readonly usage = new Map<number, SegmentUsage>();
  private lastSeq = 0;
  private lastSegment = 0;

  /**
   * The book of a store found on disk: every record of every segment, in any order, and each
   * segment's file size. Every segment found is sealed (a restart begins a new one).
   */
  static replay(
    segments: ReadonlyArray<{ readonly segment: number; readonly totalBytes: number }>,
    records: Iterable<RecordAt>,
  ): SegmentBook {
    const book = new SegmentBook();
    for (const { segment, totalBytes } of segments) {
      book.usage.set(segment, { totalBytes, liveBytes: 0, sealed: true });
      book.lastSegment = Math.max(book.lastSegment, segment);
    }
    const winners = new Map<string, RecordAt>();
    const puts: RecordAt[] = [];
    for (const record of records) {
      assert(book.usage.has(record.segment), "a replayed record's segment must be listed");
      book.lastSeq = Math.max(book.lastSeq, record.seq);
      if (record.kind === "put") puts.push(record);
      const best = winners.get(record.chunkId);
      if (best === undefined || record.seq > best.seq) winners.set(record.chunkId, record);
    }
    for (const put of puts) {
      const winner = winners.get(put.chunkId);
      // A copy compaction left behind shares its put's sequence: the first found serves.
      if (winner?.kind === "put" && winner.seq === put.seq && !book.live.has(put.chunkId)) {
        book.setLive(put.chunkId, locationOf(put));
      } else {
        book.addDeadPut(put.chunkId, put.segment);
      }
    }
    return book;
  }

  get size(): number {
    return this.live.size;
  }

  /** The newest sequence number handed out or found on disk. */
  get highestSeq(): number {
    return this.lastSeq;
  }

  has(chunkId: string): boolean {
    return this.live.has(chunkId);
  }

  locate(chunkId: string): SegmentLocation | undefined {
    return this.live.get(chunkId);
  }

  ids(): IterableIterator<string> {
    return this.live.keys();
  }

  /** The next record's sequence number; each is used once. */
  allocateSeq(): number {
    this.lastSeq += 1;
    return this.lastSeq;
  }

  /** A new active segment's number: above every segment that ever was in this book. */
  beginSegment(): number {
    this.lastSegment += 1;
    this.usage.set(this.lastSegment, { totalBytes: 0, liveBytes: 0, sealed: false });
    return this.lastSegment;
  }

  /** New segments are numbered above `segment` (a file of that number exists, unread). */
  skipSegmentsThrough(segment: number): void {
    this.lastSegment = Math.max(this.lastSegment, segment);
  }

  /** Bytes now in a segment file (its header, a record, or a failed write's hole). */
  grew(segment: number, bytes: number): void {
    const usage = this.usage.get(segment);
    assert(usage !== undefined, "bytes written to a segment the book does not know");
    usage.totalBytes += bytes;
  }

  /** No more records go to this segment; compaction may now take it. */
  seal(segment: number): void {
    const usage = this.usage.get(segment);
    if (usage !== undefined) usage.sealed = true;
  }

  /**
   * A put's record is durable at `location`. Answers whether it is now where the chunk is read
   * from (false: another put of the same id got there first; this record is a dead copy).
   */
  putLanded(chunkId: string, location: SegmentLocation): boolean {
    if (this.live.has(chunkId)) {
      this.addDeadPut(chunkId, location.segment);
      return false;
    }
    this.setLive(chunkId, location);
    return true;
  }

  /**
   * The chunk is gone from here on: answers the sequence number its tombstone must carry, or
   * null when it is not live. The tombstone must then be appended and made durable.
   */
  remove(chunkId: string): number | null {
    const location = this.live.get(chunkId);
    if (location === undefined) return null;
    this.clearLive(chunkId);
    this.addDeadPut(chunkId, location.segment);
    return this.allocateSeq();
  }

  /** A sealed segment compaction should rewrite next, or null. */
  compactionCandidate(): number | null {
    let best: number | null = null;
    let bestDead = -1;
    for (const [segment, usage] of this.usage) {
      if (!usage.sealed) continue;
      const dead = usage.totalBytes - usage.liveBytes;
      const worth =
        dead >= usage.totalBytes * SEGMENT_DEAD_SHARE_TO_COMPACT ||
        usage.totalBytes < SEGMENT_BYTES_TARGET * SEGMENT_SMALL_SHARE;
      if (worth && dead > bestDead) {
        best = segment;
        bestDead = dead;
      }
    }
    return best;
  }

  /**
   * Compaction of `record.segment`: copy a put that is live there; copy a tombstone while a
   * dead put of its id lies in another segment (dropped, the put could come back); drop the rest.
   */
  fateOf(record: RecordAt): CompactionFate {
    if (record.kind === "put") {
      const location = this.live.get(record.chunkId);
      const isLive = location?.segment === record.segment && location.offset === record.offset;
      return isLive ? "copy" : "drop";
    }
    const dead = this.deadPuts.get(record.chunkId);
    if (dead === undefined) return "drop";
    for (const segment of dead.keys()) if (segment !== record.segment) return "copy";
    return "drop";
  }

  /**
   * A copy of `record` (same sequence) is durable at `location`. A put's copy becomes where the
   * chunk is read from if the original still was; otherwise (removed or moved meanwhile) it is
   * one more dead put, which its tombstone guards like the original.
   */
  copyLanded(record: RecordAt, location: SegmentLocation): void {
    if (record.kind === "tombstone") return;
    const current = this.live.get(record.chunkId);
    if (current?.segment === record.segment && current.offset === record.offset) {
      this.clearLive(record.chunkId);
      this.addDeadPut(record.chunkId, record.segment);
      this.setLive(record.chunkId, location);
    } else {
      this.addDeadPut(record.chunkId, location.segment);
    }
  }

  /**
   * A compacted segment's file is gone for good (unlinked, the folder fsynced): its dead puts
   * no longer need their tombstones. `records` are the records it held.
   */
  retired(segment: number, records: Iterable<RecordAt>): void {
    for (const record of records) {
      if (record.kind !== "put") continue;
      const live = this.live.get(record.chunkId);
      assert(live?.segment !== segment, "a segment holding a live put must not be retired");
      this.dropDeadPut(record.chunkId, segment);
    }
    this.usage.delete(segment);
  }

  /** Segments and their use, for metrics and the operator (bytes in files, bytes live). */
  usageOf(): { segments: number; totalBytes: number; liveBytes: number } {
    let totalBytes = 0;
    let liveBytes = 0;
    for (const usage of this.usage.values()) {
      totalBytes += usage.totalBytes;
      liveBytes += usage.liveBytes;
    }
    return { segments: this.usage.size, totalBytes, liveBytes };
  }

  private setLive(chunkId: string, location: SegmentLocation): void {
    this.live.set(chunkId, location);
    const usage = this.usage.get(location.segment);
    if (usage !== undefined) usage.liveBytes += recordBytes(location.payloadBytes);
  }

  private clearLive(chunkId: string): void {
    const location = this.live.get(chunkId);
    if (location === undefined) return;
    this.live.delete(chunkId);
    const usage = this.usage.get(location.segment);
    if (usage !== undefined) usage.liveBytes -= recordBytes(location.payloadBytes);
  }

  private addDeadPut(chunkId: string, segment: number): void {
    let bySegment = this.deadPuts.get(chunkId);
    if (bySegment === undefined) {
      bySegment = new Map();
      this.deadPuts.set(chunkId, bySegment);
    }
    bySegment.set(segment, (bySegment.get(segment) ?? 0) + 1);
  }

  private dropDeadPut(chunkId: string, segment: number): void {
    const bySegment = this.deadPuts.get(chunkId);
    const count = bySegment?.get(segment);
    if (bySegment === undefined || count === undefined) return;
    if (count > 1) bySegment.set(segment, count - 1);
    else bySegment.delete(segment);
    if (bySegment.size === 0) this.deadPuts.delete(chunkId);
  }
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

const HEX_DIGITS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function hexToBytes(hex: string): Uint8Array {
  assert(hex.length === 2 * CHUNK_ID_BYTES, "a chunk id is 64 lowercase hex digits");
  const bytes = new Uint8Array(CHUNK_ID_BYTES);
  for (let i = 0; i < CHUNK_ID_BYTES; i += 1) {
    const high = hexDigit(hex.charCodeAt(2 * i));
    const low = hexDigit(hex.charCodeAt(2 * i + 1));
    bytes[i] = (high << 4) | low;
  }
  return bytes;
}

const DIGIT_0 = 48;
const DIGIT_9 = 57;
const LETTER_A = 97;
const LETTER_F = 102;
const LETTER_VALUE_OFFSET = 10;

function hexDigit(code: number): number {
  if (code >= DIGIT_0 && code <= DIGIT_9) return code - DIGIT_0;
  assert(code >= LETTER_A && code <= LETTER_F, "a chunk id is 64 lowercase hex digits");
  return code - LETTER_A + LETTER_VALUE_OFFSET;
}

function bytesToHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += HEX_DIGITS[byte] ?? "";
  return hex;
}
