/**
 * How the CLI shows things to people: sizes, short hashes, one-line results and aligned
 * tables. Pure strings in, strings out; the clock reaches here only as an injected formatter,
 * so listings test without a time zone.
 */

import type {
  AccessKeySummary,
  FileEntry,
  GroupView,
  MemberView,
  UserSummary,
} from "@ftfs/protocol/core";
import { assertNever, formatBytes, type ResponseBody } from "@ftfs/protocol/core";

type DirectoryMembersView = ResponseBody<"directoryMembers">;
import { healthVerdict, type ClusterStatus } from "@ftfs/client/core";
import type { StoredFile } from "@ftfs/client/core";

/** Hex digits of a hash shown to people: enough to tell files apart, short enough to read. */
export const SHORT_HASH_HEX_DIGITS = 8;
/** Space between table columns. */
const COLUMN_GAP = "  ";
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
}

/** `uploaded notes.txt  v2  12.3 KiB  sha256:abcd1234…` */
export function formatUploaded(file: UploadedFile): string {
  return `uploaded ${fileSummary(file)}`;
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

export function displayText(text: string): string {
  return text.replace(CONTROL_CHARACTERS, "?");
}

export type Align = "left" | "right";

export interface Column {
  readonly title: string;
  readonly align: Align;
}

/** Columns padded to their widest cell; the last column is not padded (no trailing spaces). */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const cells = rows.map((row) => columns.map((_, index) => displayText(row[index] ?? "")));
  const widths = columns.map((column, index) =>
    Math.max(column.title.length, ...cells.map((row) => (row[index] ?? "").length)),
  );
  const render = (row: readonly string[]): string =>
    row
      .map((cell, index) => {
        const column = columns[index];
        const width = widths[index] ?? 0;
        if (column === undefined) return cell;
        if (column.align === "right") return cell.padStart(width);
        return index === row.length - 1 ? cell : cell.padEnd(width);
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
    { title: "name", align: "left" },
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
    { title: "name", align: "left" },
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
    file.groups.join(","),
  ]);
  return formatTable(columns, rows);
}

export function formatStatus(status: ClusterStatus): string {
  const memberColumns: Column[] = [
    { title: "node", align: "left" },
    { title: "role", align: "left" },
    { title: "group", align: "left" },
    { title: "address", align: "left" },
    { title: "state", align: "left" },
    { title: "incarnation", align: "right" },
    { title: "primary/backup", align: "left" },
    { title: "epoch", align: "right" },
  ];
  const members = [...status.members].sort((a, b) => compareMembers(a, b));
  const memberRows = members.map((member) => [
    member.node,
    member.role,
    memberGroup(member),
    member.address,
    member.state,
    String(member.incarnation),
    member.primary ? "primary" : "backup",
    String(member.epoch),
  ]);
  const groupColumns: Column[] = [
    { title: "group", align: "left" },
    { title: "epoch", align: "right" },
    { title: "primary", align: "left" },
    { title: "in-sync replicas", align: "left" },
    { title: "catching up", align: "left" },
  ];
  const groupRows = [...status.groups]
    .sort((a, b) => compareText(a.group, b.group))
    .map((group) => [
      group.group,
      String(group.epoch),
      primaryLabel(group),
      group.replicas.map((replica) => replica.node).join(",") || "-",
      (group.learners ?? []).map((learner) => learner.node).join(",") || "-",
    ]);
  const unreachable =
    status.unreachable.length === 0 ? [] : ["", `no answer from ${status.unreachable.join(", ")}`];
  const verdict = healthVerdict(status);
  const why = verdict.reasons.length === 0 ? "" : `: ${verdict.reasons.join("; ")}`;
  return [
    `${verdict.level}${why} (answered by ${status.node})`,
    "",
    formatTable(memberColumns, memberRows),
    ...unreachable,
    "",
    groupRows.length === 0 ? "no storage groups" : formatTable(groupColumns, groupRows),
  ].join("\n");
}

/** A storage node with no group is a spare the directory has not assigned yet. */
function memberGroup(member: MemberView): string {
  if (member.group !== null) return member.group;
  return member.role === "storage" ? "spare" : "-";
}

function primaryLabel(group: GroupView): string {
  // Every in-sync node came back on an empty disk: say so, not just "no primary".
  if (group.dataLost === true) return "(none: data lost, every in-sync disk was replaced)";
  if (group.primary === null) return "(none)";
  return group.primaryNode === null ? group.primary : `${group.primaryNode} ${group.primary}`;
}

function compareMembers(a: MemberView, b: MemberView): number {
  const rank = (member: MemberView): number => {
    switch (member.role) {
      case "directory":
        return 0;
      case "storage":
        return member.group === null ? 2 : 1; // spares after the groups
      default:
        return assertNever(member.role);
    }
  };
  return (
    rank(a) - rank(b) || compareText(a.group ?? "", b.group ?? "") || compareText(a.node, b.node)
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `ftfs admin user ls`: each user's role, whether it can log in, quotas and usage. */
export function formatUserTable(users: readonly UserSummary[]): string {
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
  return formatTable(
    columns,
    users.map((user) => [
      user.uid,
      user.admin ? "admin" : "user",
      user.credentials ? "yes" : "no",
      formatBytes(user.usedBytes),
      user.quotaBytes === null ? "default" : formatBytes(user.quotaBytes),
      String(user.usedFiles),
      user.quotaFiles === null ? "default" : String(user.quotaFiles),
    ]),
  );
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
