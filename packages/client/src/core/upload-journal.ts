/**
 * An upload's journal, as text: what a later run needs to resume an interrupted upload of the
 * same local file. One JSON line for the start (the placement: upload id, chunk size, groups,
 * tickets, and which file it was), then one line per chunk every in-sync replica of its group
 * acknowledged (index, id, size, group, receipt). Pure: the file itself is io/upload-journal.ts.
 *
 * The journal is a hint, never the authority: a resumed upload skips a chunk only after the
 * group answers that it holds it for this very upload (io/resume.ts; README, interrupted
 * uploads). So a torn last line, a line of another run, or a damaged file only costs bytes
 * sent again.
 */

import {
  arr,
  int,
  MANIFEST_CHUNKS_MAX,
  FILE_BYTES_MAX,
  CHUNK_BYTES_MAX,
  GROUPS_MAX,
  groupField,
  fileNameField,
  obj,
  opt,
  receiptField,
  requestIdField,
  sha256Field,
  str,
  ticketSchema,
  tryDecode,
  uidField,
  uploadDeadlineMs,
  type Schema,
  type Ticket,
} from "@ftfs/protocol/core";

/** Bumped when a line's shape changes; a journal of another format is not resumed. */
export const UPLOAD_JOURNAL_FORMAT = 1;
/** Local paths longer than this are not journaled (PATH_MAX on Linux is 4096 bytes). */
const JOURNAL_PATH_BYTES_MAX = 4096;
/** Microsecond timestamps and inode numbers: non-negative, below 2^53. */
const NUMBER_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Which local file an upload read: a different size, modification time or inode is another
 * file. The time is in whole microseconds (file systems report fractions of a millisecond).
 */
export interface SourceIdentity {
  readonly path: string;
  readonly bytes: number;
  readonly mtimeUs: number;
  readonly inode: number;
}

export interface JournalStart {
  readonly uid: string;
  readonly name: string;
  readonly source: SourceIdentity;
  readonly uploadId: string;
  readonly chunkBytes: number;
  /** The groups the placement offered (tickets are for these). */
  readonly groups: readonly string[];
  readonly tickets: readonly Ticket[];
}

/** A chunk every in-sync replica of `group` acknowledged, as the manifest will name it. */
export interface JournalChunk {
  readonly index: number;
  readonly id: string;
  readonly bytes: number;
  readonly group: string;
  readonly receipt?: string | undefined;
}

export interface JournalState {
  readonly start: JournalStart;
  /** By chunk index; a chunk acknowledged twice (a hedged put) keeps its first line. */
  readonly chunks: ReadonlyMap<number, JournalChunk>;
}

const startSchema = obj({
  format: int({ min: UPLOAD_JOURNAL_FORMAT, max: UPLOAD_JOURNAL_FORMAT }),
  uid: uidField,
  name: fileNameField,
  path: str({ bytesMin: 1, bytesMax: JOURNAL_PATH_BYTES_MAX }),
  bytes: int({ min: 0, max: FILE_BYTES_MAX }),
  mtimeUs: int({ min: 0, max: NUMBER_MAX }),
  inode: int({ min: 0, max: NUMBER_MAX }),
  uploadId: requestIdField,
  chunkBytes: int({ min: 1, max: CHUNK_BYTES_MAX }),
  groups: arr(groupField, { itemsMax: GROUPS_MAX }),
  tickets: arr(ticketSchema, { itemsMax: GROUPS_MAX }),
});

const chunkSchema = obj({
  uploadId: requestIdField,
  index: int({ min: 0, max: MANIFEST_CHUNKS_MAX - 1 }),
  id: sha256Field,
  bytes: int({ min: 1, max: CHUNK_BYTES_MAX }),
  group: groupField,
  receipt: opt(receiptField),
});

export function startLine(start: JournalStart): string {
  const { source, ...rest } = start;
  const fields = { format: UPLOAD_JOURNAL_FORMAT, ...rest, ...source };
  return `${JSON.stringify(fields)}\n`;
}

/** Each line names its upload: a line another run appended is told apart and ignored. */
export function chunkLine(uploadId: string, chunk: JournalChunk): string {
  return `${JSON.stringify({ uploadId, ...chunk })}\n`;
}

/** The journal's state, or null if its start line is missing or damaged. */
export function parseJournal(text: string): JournalState | null {
  const lines = text.split("\n");
  const start = decodeLine(lines[0] ?? "", startSchema);
  if (start === null) return null;
  const { format: _, path, bytes, mtimeUs, inode, ...rest } = start;
  const parsed: JournalStart = { ...rest, source: { path, bytes, mtimeUs, inode } };
  const chunks = new Map<number, JournalChunk>();
  for (const line of lines.slice(1)) {
    const chunk = decodeLine(line, chunkSchema);
    // A torn last line (a crash mid-append) or another run's line: skipped, sent again.
    if (chunk === null || chunk.uploadId !== parsed.uploadId || chunks.has(chunk.index)) continue;
    const { uploadId: __, receipt, ...fields } = chunk;
    chunks.set(chunk.index, receipt === undefined ? fields : { ...fields, receipt });
  }
  return { start: parsed, chunks };
}

function decodeLine<T>(line: string, schema: Schema<T>): T | null {
  if (line.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  const decoded = tryDecode(schema, value);
  return decoded.ok ? decoded.value : null;
}

export type ResumeVerdict =
  | { readonly resume: true }
  | { readonly resume: false; readonly why: "other-file" | "expired" | "nothing-stored" };

/**
 * Whether an upload of `source` as (uid, name) may continue the journal's: the same user,
 * name and file (size, mtime, inode), an upload whose deadline is at least `marginMs` away
 * (later, its commit would be refused and every chunk sent again anyway), and at least one
 * chunk stored.
 */
export function judgeResume(
  state: JournalState,
  wanted: { readonly uid: string; readonly name: string; readonly source: SourceIdentity },
  nowMs: number,
  marginMs: number,
): ResumeVerdict {
  const { start } = state;
  const same =
    start.uid === wanted.uid &&
    start.name === wanted.name &&
    start.source.path === wanted.source.path &&
    start.source.bytes === wanted.source.bytes &&
    start.source.mtimeUs === wanted.source.mtimeUs &&
    start.source.inode === wanted.source.inode;
  if (!same) return { resume: false, why: "other-file" };
  const deadlineMs = uploadDeadlineMs(start.uploadId);
  if (deadlineMs === null || deadlineMs - nowMs < marginMs)
    return { resume: false, why: "expired" };
  if (state.chunks.size === 0) return { resume: false, why: "nothing-stored" };
  return { resume: true };
}
