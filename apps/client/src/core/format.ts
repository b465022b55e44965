/**
 * How the CLI shows things to people: sizes, short hashes, one-line results and aligned
 * tables. Pure strings in, strings out; the clock reaches here only as an injected formatter,
 * so listings test without a time zone.
 */

import type { AccessKeySummary, FileEntry, UserSummary } from "@ftfs/protocol/core";
import { formatBytes, uploadDeadlineMs, type ResponseBody } from "@ftfs/protocol/core";
import { displayWidth, fitWidth, padWidth } from "./text-width.ts";

type DirectoryMembersView = ResponseBody<"directoryMembers">;
import type { StoredFile } from "@ftfs/client/core";

/** Hex digits of a hash shown to people: enough to tell files apart, short enough to read. */
export const SHORT_HASH_HEX_DIGITS = 8;
/** Space between table columns. */
const COLUMN_GAP = "  ";
/**
 * A listing's name column is at most this wide: with size (at most 10), version (7) and time
 * (19) and the gaps, a row fits an 80-column terminal. Longer names end in an ellipsis;
 * --json has them whole.
 */
export const NAME_COLUMNS_MAX = 38;
// Control characters would let a name rewrite the terminal; names are validated, but a table
// must not trust that its input was.
// biome-ignore lint: the control range is the point of this pattern.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

export function shortHash(sha256: string): string {
  return `sha256:${sha256.slice(0, SHORT_HASH_HEX_DIGITS)}…`;
}

export interface UploadedFile {
  readonly name: string;
  readonly version: number;
  readonly bytes: number;
  readonly sha256: string;
  /** Bytes an interrupted earlier run had stored and this one did not send again. */
  readonly resumedBytes?: number;
}

/**
 * `uploaded notes.txt  v2  12.3 KiB  sha256:abcd1234…`, and for a resumed upload
 * `  (resumed: 48.0 MiB were already stored)`.
 */
export function formatUploaded(file: UploadedFile): string {
  const resumed = file.resumedBytes ?? 0;
  const note =
    resumed > 0 ? `${COLUMN_GAP}(resumed: ${formatBytes(resumed)} were already stored)` : "";
  return `uploaded ${fileSummary(file)}${note}`;
}

/** `put -r` left a file unsent: the cluster's newest version of its name has the same bytes. */
export function formatUnchanged(file: UploadedFile): string {
  return `unchanged ${fileSummary(file)}${COLUMN_GAP}(already stored, not sent)`;
}

/** Ctrl-C of `put -`: a stream is read once, so there is nothing to resume. */
export function formatStreamInterrupted(name: string): string {
  return (
    `stopped reading standard input for ${displayText(name)}: nothing was stored, and a ` +
    "stream cannot resume (it is read only once); run the command again with the whole input"
  );
}

/** What an interrupted upload left: its stored bytes, and its id (which carries its deadline). */
export interface KeptUpload {
  readonly bytes: number;
  readonly uploadId: string;
}

/**
 * How to go on after an upload stopped partway: what is kept, until when, and that the same
 * command resumes it. `formatTime` shows the deadline (local time in the CLI).
 */
export function resumeHint(
  kept: KeptUpload,
  totalBytes: number,
  formatTime: (timeMs: number) => string,
): string {
  const deadlineMs = uploadDeadlineMs(kept.uploadId);
  const until = deadlineMs === null ? "" : ` and kept until ${formatTime(deadlineMs)}`;
  return (
    `${formatBytes(kept.bytes)} of ${formatBytes(totalBytes)} are stored${until}; ` +
    "run the same command again to resume"
  );
}

/** The line for Ctrl-C during an upload of `file`. */
export function formatInterrupted(
  file: string,
  kept: KeptUpload | null,
  totalBytes: number | null,
  formatTime: (timeMs: number) => string,
): string {
  const shown = displayText(file);
  if (kept === null || kept.bytes === 0 || totalBytes === null) {
    return `stopped uploading ${shown}; nothing of it was stored yet`;
  }
  return `stopped uploading ${shown}: ${resumeHint(kept, totalBytes, formatTime)}`;
}

/** `saved notes.txt  v2  12.3 KiB  sha256:abcd1234…  to ./notes.txt` */
export function formatSaved(file: UploadedFile, path: string): string {
  return `saved ${fileSummary(file)}${COLUMN_GAP}to ${displayText(path)}`;
}

/** `notes.txt  v2  12.3 KiB  sha256:abcd1234…` */
export function fileSummary(file: UploadedFile): string {
  return [
    displayText(file.name),
    `v${file.version}`,
    formatBytes(file.bytes),
    shortHash(file.sha256),
  ].join(COLUMN_GAP);
}

/**
 * `  (as bob)` when a friendly command's user came from the session rather than the command
 * line: whose files were touched is never left for the user to guess.
 */
export function actingNote(given: string | null, uid: string): string {
  return given === null ? `  (as ${uid})` : "";
}

export function displayText(text: string): string {
  return text.replace(CONTROL_CHARACTERS, "?");
}

export type Align = "left" | "right";

export interface Column {
  readonly title: string;
  readonly align: Align;
  /** Cells wider than this many terminal columns are cut with an ellipsis (--json has them whole). */
  readonly widthMax?: number;
}

/**
 * Columns padded to their widest cell, measured in terminal columns (wide characters and
 * emoji take two); the last column is not padded (no trailing spaces).
 */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const cells = rows.map((row) =>
    columns.map((column, index) => {
      const text = displayText(row[index] ?? "");
      return column.widthMax === undefined ? text : fitWidth(text, column.widthMax);
    }),
  );
  const widths = columns.map((column, index) =>
    Math.max(displayWidth(column.title), ...cells.map((row) => displayWidth(row[index] ?? ""))),
  );
  const render = (row: readonly string[]): string =>
    row
      .map((cell, index) => {
        const column = columns[index];
        const width = widths[index] ?? 0;
        if (column === undefined) return cell;
        if (column.align === "left" && index === row.length - 1) return cell;
        return padWidth(cell, width, column.align);
      })
      .join(COLUMN_GAP);
  return [render(columns.map((column) => column.title)), ...cells.map(render)].join("\n");
}

/** The listing of `ftfs <uid> d`: name, size, version, time; newest names last is not promised. */
export function formatFileTable(
  files: readonly FileEntry[],
  formatTime: (timeMs: number) => string,
): string {
  if (files.length === 0) return "no files";
  const columns: Column[] = [
    { title: "name", align: "left", widthMax: NAME_COLUMNS_MAX },
    { title: "size", align: "right" },
    { title: "version", align: "right" },
    { title: "time", align: "left" },
  ];
  const sorted = [...files].sort((a, b) => compareText(a.name, b.name));
  return formatTable(
    columns,
    sorted.map((file) => [
      file.name,
      formatBytes(file.bytes),
      `v${file.version}`,
      formatTime(file.createdAtMs),
    ]),
  );
}

export function formatStoredTable(files: readonly StoredFile[]): string {
  if (files.length === 0) return "no files on the storage nodes";
  const columns: Column[] = [
    { title: "name", align: "left", widthMax: NAME_COLUMNS_MAX },
    { title: "size", align: "right" },
    { title: "version", align: "right" },
    { title: "chunks", align: "right" },
    { title: "groups", align: "left" },
  ];
  const rows = files.map((file) => [
    file.name,
    formatBytes(file.bytes),
    file.version === null ? "uncommitted" : `v${file.version}`,
    String(file.chunks),
    file.groups.join(",") || "-",
  ]);
  return formatTable(columns, rows);
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `ftfs admin user ls`: each user's role, whether it can log in, quotas and usage. A quota
 * is a number: a user's own, or the directory's default (said so with a `*` and a note).
 */
export function formatUserTable(
  users: readonly UserSummary[],
  defaults: {
    readonly quotaBytesDefault: number | null;
    readonly quotaFilesDefault: number | null;
  },
): string {
  if (users.length === 0) return "no users";
  const columns: Column[] = [
    { title: "uid", align: "left" },
    { title: "role", align: "left" },
    { title: "login", align: "left" },
    { title: "used", align: "right" },
    { title: "quota", align: "right" },
    { title: "files", align: "right" },
    { title: "file quota", align: "right" },
  ];
  const table = formatTable(
    columns,
    users.map((user) => [
      user.uid,
      user.admin ? "admin" : "user",
      user.credentials ? "yes" : "no",
      formatBytes(user.usedBytes),
      quotaCell(user.quotaBytes, defaults.quotaBytesDefault, formatBytes),
      String(user.usedFiles),
      quotaCell(user.quotaFiles, defaults.quotaFilesDefault, String),
    ]),
  );
  const defaulted = users.some((user) => user.quotaBytes === null || user.quotaFiles === null);
  return defaulted ? `${table}\n* the directory's default` : table;
}

/** A user's own quota, or the default marked `*` ("default" only if the directory is silent). */
function quotaCell(
  own: number | null,
  fallback: number | null,
  show: (n: number) => string,
): string {
  if (own !== null) return show(own);
  return fallback === null ? "default" : `${show(fallback)}*`;
}

/** `ftfs admin directory ls`: each member, its role, and how far behind the primary it is. */
export function formatDirectoryMembers(view: DirectoryMembersView): string {
  const columns: Column[] = [
    { title: "node", align: "left" },
    { title: "address", align: "left" },
    { title: "role", align: "left" },
    { title: "behind", align: "right" },
  ];
  const rows = view.members.map((member) => [
    member.node,
    member.address,
    member.node === view.primary ? "primary" : member.voter ? "voter" : "learner (catching up)",
    member.node === view.primary ? "-" : `${Math.max(0, view.commitIndex - member.matchIndex)}`,
  ]);
  const voters = view.members.filter((member) => member.voter).length;
  const note = view.committed ? "" : " (the last change is still being committed)";
  return `${formatTable(columns, rows)}
${voters} voters; a majority is ${Math.floor(voters / 2) + 1}${note}`;
}

export function formatAccessKeyTable(
  keys: readonly AccessKeySummary[],
  formatTime: (timeMs: number) => string,
): string {
  if (keys.length === 0) return "no access keys";
  const columns: Column[] = [
    { title: "access key id", align: "left" },
    { title: "user", align: "left" },
    { title: "created", align: "left" },
  ];
  return formatTable(
    columns,
    keys.map((key) => [key.accessKeyId, key.uid, formatTime(key.createdAtMs)]),
  );
}
