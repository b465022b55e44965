/**
 * A spare node's group assignment on its disk (`assignment.json` in `--data`). The directory
 * records the assignment in its replicated configuration; the spare writes it here before it
 * acts on it (takes the group's view, copies its chunks), so a restart keeps the group and the
 * node never joins a second one. Written to a temporary file, fsync'd, renamed into place, and
 * the folder fsync'd: a crash leaves the old state or the new, never half a file. This file
 * does not decide anything; heartbeat.ts and view-rules.ts do.
 */

import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { groupField, obj, tryDecode } from "@ftfs/protocol/core";
import { ASSIGNMENT_FILE, ASSIGNMENT_TEMP_FILE } from "../core/index.ts";
import { type Fsync, UNTIMED_FSYNC } from "./fsync.ts";
import { isMissing } from "./fs-errors.ts";

const assignmentSchema = obj({ group: groupField });

/** The assignment file exists but is not one we wrote: refuse to guess a group. */
export class AssignmentFileError extends Error {
  override readonly name = "AssignmentFileError";
  readonly path: string;

  constructor(path: string, message: string, cause?: unknown) {
    super(`${path}: ${message}`, { cause });
    this.path = path;
  }
}

/** The group this data folder was assigned, or null if it never was. */
export async function readAssignment(dataDir: string): Promise<string | null> {
  const path = join(dataDir, ASSIGNMENT_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (isMissing(error)) return null;
    throw new AssignmentFileError(path, "cannot be read", error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AssignmentFileError(path, "is not JSON", error);
  }
  const decoded = tryDecode(assignmentSchema, parsed);
  if (!decoded.ok) throw new AssignmentFileError(path, decoded.message);
  return decoded.value.group;
}

/** Record the assignment durably; resolves once it survives a crash. */
export async function writeAssignment(
  dataDir: string,
  group: string,
  fsync: Fsync = UNTIMED_FSYNC,
): Promise<void> {
  const text = `${JSON.stringify({ group })}\n`;
  await fsync.replaceFile(dataDir, ASSIGNMENT_TEMP_FILE, ASSIGNMENT_FILE, text);
}

/** Forget the assignment durably (a released spare, once its group data is gone). */
export async function removeAssignment(
  dataDir: string,
  fsync: Fsync = UNTIMED_FSYNC,
): Promise<void> {
  await rm(join(dataDir, ASSIGNMENT_FILE), { force: true });
  await fsync.folder(dataDir);
}
