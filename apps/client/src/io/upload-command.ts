/**
 * `ftfs <uid> a` and `ftfs put`: upload local files, each journaled in the config folder so
 * an interrupted upload (Ctrl-C, a kill, a network gone for longer than the retries last)
 * resumes when the same command runs again. Ctrl-C stops at once and says what was kept and
 * how to resume; a failure says the same beside its reason.
 */

import { basename, join, resolve } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { UsageError } from "@ftfs/protocol/io";
import { localFileSha256, pruneJournals } from "@ftfs/client";
import type { FileEntry } from "@ftfs/protocol/core";
import type {
  FtfsClient,
  JournalState,
  ProgressListener,
  TransferProgress,
  UploadResult,
} from "@ftfs/client";
import type { Command, GlobalOptions } from "../core/args.ts";
import {
  actingNote,
  formatInterrupted,
  formatStreamInterrupted,
  formatUnchanged,
  formatUploaded,
  resumeHint,
} from "../core/format.ts";
import { JOURNALS_PRUNED_MAX, PUT_TREE_PROBLEMS_SHOWN_MAX } from "../core/limits.ts";
import { describeProblems, planTree } from "../core/tree-plan.ts";
import type { CliState } from "./cli-state.ts";
import { formatLocalTime } from "./local-time.ts";
import { progressBar } from "./progress.ts";
import { describeFailure, ReportedError } from "./report.ts";
import { configDir, type Env } from "./session.ts";
import { walkTree } from "./tree.ts";

/** 128 + SIGINT: the status a shell expects of a command stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;
const UPLOAD_JOURNAL_FOLDER = "uploads";
const CLEAR_LINE = "\r\u001b[2K";

type UploadCommand = Extract<Command, { kind: "upload" }>;

/** Where upload journals live: beside the session, private to the user. */
export function uploadJournalDir(env: Env): string {
  return join(configDir(env), UPLOAD_JOURNAL_FOLDER);
}

/**
 * Each file in turn; one failing file is reported and the rest still go (exit status 1). With
 * --json the answer is one array: each file's result, or `{file, error: {code, message}}`.
 * `-` uploads standard input; `-r` each folder's files, under one progress bar.
 */
export async function upload(
  state: CliState,
  options: GlobalOptions,
  command: UploadCommand,
): Promise<void> {
  const uid = state.uidFor(command.uid);
  const client = state.client(options, { kind: "user", uid });
  if (command.files[0] === "-") return uploadStdin(state, options, command, client);
  // Journals nobody can resume any more (past their deadline) go; a cheap look, bounded.
  await pruneJournals(uploadJournalDir(state.io.env), Date.now(), JOURNALS_PRUNED_MAX);
  const { jobs, overall } = command.recursive
    ? await treeJobs(state, command)
    : { jobs: command.files.map((file) => ({ file, name: command.as })), overall: null };
  // A folder sent again: what the cluster already holds with the same bytes is not sent.
  const unchanged = command.recursive ? await unchangedFiles(client, uid, jobs) : new Map();
  for (const entry of unchanged.values()) overall?.skip(entry.bytes);
  const results: unknown[] = [];
  let firstError: FtfsError | null = null;
  const note = actingNote(command.uid, uid);
  for (const job of jobs) {
    const stored = unchanged.get(job);
    if (stored !== undefined) {
      results.push({ ...stored, resumedBytes: 0, unchanged: true });
      if (!options.json) await overall?.print(state, `${formatUnchanged(stored)}${note}\n`);
      continue;
    }
    try {
      const result = await uploadOne(state, client, { ...job, uid }, overall);
      overall?.fileDone(result);
      results.push(command.recursive ? { ...result, unchanged: false } : result);
      const line = `${formatUploaded(result)}${note}\n`;
      if (options.json) continue;
      if (overall === null) await state.io.out(line);
      else await overall.print(state, line);
    } catch (error) {
      if (!(error instanceof FtfsError) || jobs.length === 1) throw error;
      firstError ??= error;
      const failure = describeFailure(error, state.io.env, state.failureContext);
      const message = failure.message ?? error.message;
      if (options.json) results.push({ file: job.file, error: { code: error.code, message } });
      else state.io.err(`${state.io.stderrIsTty ? CLEAR_LINE : ""}ftfs: ${message}\n`);
    }
  }
  overall?.finish();
  if (options.json) await state.io.out(`${JSON.stringify(results, null, 2)}\n`);
  if (firstError !== null) throw new ReportedError(firstError);
}

/**
 * The planned files the cluster already holds, by job: asked, not guessed. One listing gives
 * each name's newest version with its size and SHA-256; a local file of that size is hashed and
 * left unsent when the hashes match. A name the listing lacks (new, or past what one listing
 * shows) is uploaded, which is always safe.
 */
async function unchangedFiles(
  client: FtfsClient,
  uid: string,
  jobs: readonly TreeJob[],
): Promise<Map<TreeJob, FileEntry>> {
  const listed = new Map((await client.list(uid)).map((entry) => [entry.name, entry]));
  const unchanged = new Map<TreeJob, FileEntry>();
  for (const job of jobs) {
    const entry = job.name === null ? undefined : listed.get(job.name);
    if (entry === undefined || entry.bytes !== job.bytes) continue;
    // A file that cannot be read now is left to its upload, which reports why, per file.
    const sha256 = await localFileSha256(job.file).catch(() => null);
    if (sha256 === entry.sha256) unchanged.set(job, entry);
  }
  return unchanged;
}

interface UploadJob {
  readonly uid: string;
  readonly file: string;
  readonly name: string | null;
}

/** A file to upload, as planned: with its size when a folder's walk measured it. */
interface TreeJob {
  readonly file: string;
  readonly name: string | null;
  readonly bytes?: number;
}

/**
 * `put -r`: every folder walked and planned before anything is sent; what cannot be stored
 * refuses the whole run in one line. Each file is named from its folder's name (or --as).
 */
async function treeJobs(
  state: CliState,
  command: UploadCommand,
): Promise<{ jobs: TreeJob[]; overall: OverallProgress | null }> {
  const jobs: TreeJob[] = [];
  let bytes = 0;
  for (const folder of command.files) {
    const prefix = command.as ?? basename(resolve(folder));
    const plan = planTree(prefix, await walkTree(folder));
    if (plan.problems.length > 0) {
      const line = describeProblems(folder, plan.problems, PUT_TREE_PROBLEMS_SHOWN_MAX);
      throw new FtfsError("INVALID_NAME", line);
    }
    for (const file of plan.files)
      jobs.push({ file: join(folder, ...file.parts), name: file.name, bytes: file.bytes });
    bytes += plan.bytes;
  }
  const folders = command.files.map((folder) => basename(resolve(folder))).join(", ");
  const label = `${folders} (${jobs.length} files)`;
  const bar = progressBar(label, {
    isTty: state.io.stderrIsTty,
    write: (text) => state.io.err(text),
  });
  const terminal = state.io.stderrIsTty;
  return { jobs, overall: new OverallProgress(bar ?? null, bytes, terminal) };
}

/**
 * One bar over many files: each file's progress shifted by the bytes of the files before.
 * Files left unsent (unchanged) and what a resumed file had stored count as done from the
 * start, and not toward the rate, so the bar starts where the last run stopped.
 */
class OverallProgress {
  private doneBytes = 0;
  private resumedBytes = 0;

  constructor(
    private readonly bar: ProgressListener | null,
    private readonly totalBytes: number,
    private readonly terminal: boolean,
  ) {}

  /** The listener for the file now uploading. */
  forFile(): ProgressListener | undefined {
    const bar = this.bar;
    if (bar === null) return undefined;
    return (now) => {
      const resumed = this.resumedBytes + (now.resumedBytes ?? 0);
      // Never at 100% before the last file is done: the bar stays up between files.
      const doneBytes = Math.min(this.doneBytes + now.doneBytes, this.totalBytes - 1);
      bar({ doneBytes, totalBytes: this.totalBytes, chunks: 2, resumedBytes: resumed });
    };
  }

  /** A file not sent: the cluster holds it already. */
  skip(bytes: number): void {
    this.doneBytes += bytes;
    this.resumedBytes += bytes;
  }

  fileDone(result: UploadResult): void {
    this.doneBytes += result.bytes;
    this.resumedBytes += result.resumedBytes;
  }

  /** A result line, on a line of its own: the bar (on the same terminal) is erased first. */
  async print(state: CliState, line: string): Promise<void> {
    if (this.terminal) state.io.err(CLEAR_LINE);
    await state.io.out(line);
  }

  finish(): void {
    this.bar?.({ doneBytes: this.totalBytes, totalBytes: this.totalBytes, chunks: 2 });
  }
}

async function uploadOne(
  state: CliState,
  client: FtfsClient,
  job: UploadJob,
  overall: OverallProgress | null,
): Promise<UploadResult> {
  const journalDir = uploadJournalDir(state.io.env);
  const bar =
    overall !== null
      ? overall.forFile()
      : progressBar(job.name ?? basename(job.file), {
          isTty: state.io.stderrIsTty,
          write: (text) => state.io.err(text),
        });
  let last: TransferProgress | null = null;
  const progress = (now: TransferProgress): void => {
    last = now;
    bar?.(now);
  };
  const name = job.name ?? undefined;
  // Ctrl-C: the chunks stored so far stay stored (the upload's deadline keeps them); say so.
  // `on`, not `once`: under `bunx ftfs` the launcher passes the terminal's Ctrl-C on, so two
  // arrive, and the second must not kill the process before it has said anything.
  const onInterrupt = (): void => {
    interrupted(state, client, job, last);
    process.exit(EXIT_INTERRUPTED);
  };
  process.on("SIGINT", onInterrupt);
  try {
    return await client.upload(job.uid, job.file, { name, progress, journalDir });
  } catch (error) {
    throw await withResumeHint(client, job, journalDir, error);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

/**
 * `put - --as NAME`: standard input, of a length known only at its end, read once with bounded
 * memory. Not journaled: a stream cannot be read again, so Ctrl-C says that nothing was stored
 * and that the command must run again with the whole input.
 */
async function uploadStdin(
  state: CliState,
  options: GlobalOptions,
  command: UploadCommand,
  client: FtfsClient,
): Promise<void> {
  const uid = state.uidFor(command.uid);
  const name = command.as ?? "";
  const stdin = state.io.stdin;
  if (stdin === undefined) throw new UsageError("there is no standard input to read");
  if (state.io.stdinIsTty)
    state.io.err("ftfs: reading standard input until end of input (Ctrl-D)\n");
  const bar = progressBar(name, {
    isTty: state.io.stderrIsTty,
    write: (text) => state.io.err(text),
  });
  // Ctrl-C: nothing was committed, and a re-run cannot read the same input again; say so.
  // The chunks already sent stay pending until the upload's deadline, then garbage collection
  // frees them, as for any upload never committed.
  const onInterrupt = (): void => {
    const clear = state.io.stderrIsTty ? CLEAR_LINE : "";
    state.io.err(`${clear}ftfs: ${formatStreamInterrupted(name)}\n`);
    process.exit(EXIT_INTERRUPTED);
  };
  process.on("SIGINT", onInterrupt);
  let result: UploadResult;
  try {
    result = await client.uploadStream(uid, name, stdin(), bar);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
  if (options.json) return state.io.out(`${JSON.stringify([result], null, 2)}\n`);
  await state.io.out(`${formatUploaded(result)}${actingNote(command.uid, uid)}\n`);
}

/**
 * Said at once, before exiting: under `bunx ftfs` the launcher dies of the same Ctrl-C and may
 * take this process with it, so nothing here may wait.
 */
function interrupted(
  state: CliState,
  client: FtfsClient,
  job: UploadJob,
  last: TransferProgress | null,
): void {
  const journalDir = uploadJournalDir(state.io.env);
  const name = job.name ?? undefined;
  let pending: JournalState | null = null;
  try {
    pending = client.pendingUploadNow(job.uid, job.file, {
      journalDir,
      ...(name === undefined ? {} : { name }),
    });
  } catch {
    pending = null; // an unreadable journal: say what the progress knew
  }
  const kept = pending === null ? null : storedOf(pending);
  const total = last === null ? (pending?.start.source.bytes ?? null) : last.totalBytes;
  const line = formatInterrupted(job.file, kept, total, formatLocalTime);
  state.io.err(`${state.io.stderrIsTty ? CLEAR_LINE : ""}ftfs: ${line}\n`);
}

/** Bytes and deadline of what a journal says is stored. */
function storedOf(pending: JournalState): {
  readonly bytes: number;
  readonly uploadId: string;
} {
  let bytes = 0;
  for (const chunk of pending.chunks.values()) bytes += chunk.bytes;
  return { bytes, uploadId: pending.start.uploadId };
}

/** Problems of the local file itself: nothing was kept that a re-run could use. */
const NOT_RESUMABLE_CODES: ReadonlySet<string> = new Set([
  "LOCAL_FILE",
  "INVALID_NAME",
  "INVALID_UID",
  "QUOTA_EXCEEDED",
]);

/** A failed upload whose chunks are partly stored: the error, and how to go on from there. */
async function withResumeHint(
  client: FtfsClient,
  job: UploadJob,
  journalDir: string,
  error: unknown,
): Promise<unknown> {
  if (!(error instanceof FtfsError) || NOT_RESUMABLE_CODES.has(error.code)) return error;
  const name = job.name ?? undefined;
  const pending = await client
    .pendingUpload(job.uid, job.file, { journalDir, ...(name === undefined ? {} : { name }) })
    .catch(() => null);
  if (pending === null || pending.chunks.size === 0) return error;
  const hint = resumeHint(storedOf(pending), pending.start.source.bytes, formatLocalTime);
  return new FtfsError(error.code, `${error.message}; ${hint}`, { cause: error });
}
