/**
 * Upload journals on disk: one file per (user, name, local file) under the caller's folder
 * (the CLI's config folder, `uploads/`), so a re-run of an interrupted `ftfs a` finds what the
 * last run stored. Written with mode 0600 in a 0700 folder: it holds the upload's tickets and
 * receipts, which let their holder finish that upload. Each acknowledged chunk is appended at
 * once (a kill -9 loses at most the lines not yet written: those chunks are sent again).
 * What the lines mean, and when a journal may be resumed, is core/upload-journal.ts.
 */

import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { uploadDeadlineMs } from "@ftfs/protocol/core";
import { sha256Hex } from "@ftfs/protocol/io";
import {
  chunkLine,
  parseJournal,
  startLine,
  type JournalChunk,
  type JournalStart,
  type JournalState,
} from "../core/upload-journal.ts";

const JOURNAL_FOLDER_MODE = 0o700;
const JOURNAL_FILE_MODE = 0o600;
/** Hex digits of the key's hash in a journal's file name: collisions are out of reach. */
const JOURNAL_NAME_HEX_DIGITS = 32;
const JOURNAL_SUFFIX = ".upload.jsonl";

/** What an upload tells its journal, and what a later run reads back. */
export interface UploadJournal {
  /** What an earlier run left, or null (none, or damaged). */
  load(): Promise<JournalState | null>;
  /** The same, read at once: for a signal handler, which must say it before it exits. */
  loadNow(): JournalState | null;
  /** A new placement: the journal starts over with it. */
  begin(start: JournalStart): void;
  /** A chunk every in-sync replica of its group acknowledged. */
  stored(uploadId: string, chunk: JournalChunk): void;
  /** The upload committed, or can never be resumed: forget it. */
  forget(): Promise<void>;
}

/** The journal of uploading `localPath` as (uid, name), kept in `folder`. */
export function fileJournal(
  folder: string,
  owner: { readonly uid: string; readonly name: string },
  localPath: string,
): UploadJournal {
  const key = JSON.stringify([owner.uid, owner.name, resolve(localPath)]);
  const path = join(folder, `${sha256Hex(key).slice(0, JOURNAL_NAME_HEX_DIGITS)}${JOURNAL_SUFFIX}`);
  let writable = true;
  // A journal that cannot be written costs only the resume; the upload itself goes on.
  const write = (change: () => void): void => {
    if (!writable) return;
    try {
      change();
    } catch {
      writable = false;
    }
  };
  return {
    load: async () => {
      const text = await readFile(path, "utf8").catch(() => null); // none yet
      return text === null ? null : parseJournal(text);
    },
    loadNow: () => {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return null; // none yet
      }
      return parseJournal(text);
    },
    begin: (start) =>
      write(() => {
        mkdirSync(folder, { recursive: true, mode: JOURNAL_FOLDER_MODE });
        writeFileSync(path, startLine(start), { mode: JOURNAL_FILE_MODE });
      }),
    stored: (uploadId, chunk) =>
      write(() => appendFileSync(path, chunkLine(uploadId, chunk), { mode: JOURNAL_FILE_MODE })),
    // A journal left behind (a read-only folder) is harmless: resuming a committed upload
    // commits it again, which the directory answers from its log with the same version.
    forget: () => rm(path, { force: true }).catch(() => undefined),
  };
}

/**
 * Journals of uploads that can no longer be resumed (past their deadline, or unreadable) are
 * removed, at most `examineMax` of them per call, so the folder does not grow with every
 * upload that was given up for good. Answers how many went.
 */
export async function pruneJournals(
  folder: string,
  nowMs: number,
  examineMax: number,
): Promise<number> {
  const names = await readdir(folder).catch(() => []); // no folder yet: nothing to prune
  let removed = 0;
  for (const name of names.filter((entry) => entry.endsWith(JOURNAL_SUFFIX)).slice(0, examineMax)) {
    const path = join(folder, name);
    const text = await readFile(path, "utf8").catch(() => null); // gone meanwhile
    if (text === null) continue;
    const state = parseJournal(text);
    const deadlineMs = state === null ? null : uploadDeadlineMs(state.start.uploadId);
    if (deadlineMs !== null && deadlineMs > nowMs) continue;
    await rm(path, { force: true }).catch(() => undefined); // another run's: it may remove it
    removed += 1;
  }
  return removed;
}
