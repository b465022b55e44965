/**
 * Where things live in a storage node's data folder, pure: the chunk fan-out, temporary and
 * quarantine file names, and the owner-reference database. Paths are '/'-joined relative
 * paths; the io layer resolves them against `--data`. Nothing here touches the disk.
 *
 *   chunks/ab/cd/<id>      a stored chunk larger than SEGMENT_CHUNK_BYTES_MAX (or one an older
 *                          build wrote), named by its SHA-256 (two-level fan-out keeps
 *                          directories small: 65 536 leaves before any holds many files)
 *   segments/<n>.seg       smaller chunks, appended as records (io/segment-log.ts), and
 *   segments/<n>.idx       a sealed segment's index
 *   tmp/<id>.<n>.tmp       a chunk being written; removed at start-up (a crash leftover)
 *   quarantine/<id>.<n>    a chunk whose bytes rotted; never served; kept for a post-mortem
 *                          until a grace after the chunk was repaired (io/gc.ts removes it)
 *   refs.sqlite            owner references (plus its -wal and -shm files)
 *   assignment.json        a spare's group, once the directory assigned it one: `{"group":"s1"}`
 *   assignment.json.tmp    that file being written; replaced by a rename
 *   identity.json          the folder's identity, made at its first start (core/identity-rules.ts)
 *   identity.json.tmp      that file being written; replaced by a rename
 */

import { isSha256Hex } from "@ftfs/protocol/core";

export const CHUNKS_DIR = "chunks";
export const SEGMENTS_DIR = "segments";
export const TEMP_DIR = "tmp";
export const QUARANTINE_DIR = "quarantine";
export const REFS_DB_FILE = "refs.sqlite";
export const ASSIGNMENT_FILE = "assignment.json";
export const ASSIGNMENT_TEMP_FILE = `${ASSIGNMENT_FILE}.tmp`;
export const IDENTITY_FILE = "identity.json";
export const IDENTITY_TEMP_FILE = `${IDENTITY_FILE}.tmp`;

const FANOUT_CHARS = 2;
const TEMP_SUFFIX = ".tmp";
const FANOUT_PATTERN = /^[0-9a-f]{2}$/;

/** The folders holding a chunk, outermost first: `chunks`, `chunks/ab`, `chunks/ab/cd`. */
export function chunkDirs(chunkId: string): readonly [string, string, string] {
  const first = chunkId.slice(0, FANOUT_CHARS);
  const second = chunkId.slice(FANOUT_CHARS, 2 * FANOUT_CHARS);
  return [CHUNKS_DIR, `${CHUNKS_DIR}/${first}`, `${CHUNKS_DIR}/${first}/${second}`];
}

export function chunkPath(chunkId: string): string {
  return `${chunkDirs(chunkId)[2]}/${chunkId}`;
}

/** A unique temporary name: the serial tells apart concurrent writers of the same chunk. */
export function tempPath(chunkId: string, serial: number): string {
  return `${TEMP_DIR}/${chunkId}.${serial}${TEMP_SUFFIX}`;
}

export function quarantinePath(chunkId: string, serial: number): string {
  return `${QUARANTINE_DIR}/${chunkId}.${serial}`;
}

/** The chunk id a quarantine/ file name stands for, or null when it is not one of ours. */
export function quarantinedChunkId(name: string): string | null {
  const dot = name.indexOf(".");
  const id = dot < 0 ? name : name.slice(0, dot);
  const serial = dot < 0 ? "" : name.slice(dot + 1);
  return isSha256Hex(id) && /^\d+$/.test(serial) ? id : null;
}

/** Is this a fan-out folder name (`ab`)? Anything else under chunks/ is not ours. */
export function isFanoutName(name: string): boolean {
  return FANOUT_PATTERN.test(name);
}

/**
 * The chunk id a file found at chunks/<first>/<second>/<name> stands for, or null when the
 * file is not a chunk of ours (a stray file, or a chunk filed under the wrong fan-out).
 */
export function chunkIdAt(first: string, second: string, name: string): string | null {
  if (!isSha256Hex(name)) return null;
  const [, , expected] = chunkDirs(name);
  return expected === `${CHUNKS_DIR}/${first}/${second}` ? name : null;
}
