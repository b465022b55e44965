/**
 * Running one parsed command: call the client library, print the result for people (or as
 * JSON with --json), remember the session after `c`. Errors are thrown (FtfsError for remote
 * and local failures, UsageError for misuse); the caller turns them into one stderr line.
 */

import { rmSync } from "node:fs";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { assertNever, FtfsError } from "@ftfs/protocol/core";
import { UsageError } from "@ftfs/protocol/io";
import type { Command, GlobalOptions, Invocation } from "../core/args.ts";
import {
  formatAccessKeyTable,
  formatFileTable,
  formatSaved,
  formatStatus,
  formatStoredTable,
  formatUploaded,
  formatUserTable,
  formatDirectoryMembers,
} from "../core/format.ts";
import { helpText } from "../core/help.ts";
import { formatRebalance, formatRebalanceProgress } from "../core/rebalance-report.ts";
import { newestCommitted } from "@ftfs/client";
import {
  ClusterTimeline,
  healthVerdict,
  type ClusterStatus,
  type TimelineEvent,
} from "@ftfs/client/core";
import { fileErrorReason } from "@ftfs/client";
import type { CliState } from "./cli-state.ts";
import type { FtfsClient } from "@ftfs/client";
import type { ReadResult } from "@ftfs/client";
import { progressBar } from "./progress.ts";
import { saveSession } from "./session.ts";
import type { LoginSession } from "@ftfs/client";

export async function execute(invocation: Invocation, state: CliState): Promise<void> {
  const { command, options } = invocation;
  switch (command.kind) {
    case "help":
      return print(state, helpText(command.topic));
    case "shell":
      throw new UsageError("already in the shell");
    case "connect":
      return connect(state, options, command.uid, command.secretFile);
    case "upload":
      return upload(state, options, command);
    case "read":
      return read(state, options, state.uidFor(command.uid), command);
    case "list":
      return list(state, options, state.uidFor(command.uid), command);
    case "remove":
      return remove(state, options, state.uidFor(command.uid), command.name);
    case "status":
      return command.watch ? watchStatus(state, options) : status(state, options);
    case "rebalance":
      return rebalance(state, options, command.thresholdBasisPoints);
    case "userAdd":
    case "userRemove":
    case "userList":
      return adminUsers(state, options, command);
    case "directoryList":
    case "directoryChange":
      return adminDirectory(state, options, command);
    case "keyCreate":
    case "keyList":
    case "keyRemove":
      return accessKeys(state, options, command);
    default:
      return assertNever(command);
  }
}

async function print(state: CliState, text: string): Promise<void> {
  await state.io.out(`${text}\n`);
}

async function printJson(state: CliState, value: unknown): Promise<void> {
  await print(state, JSON.stringify(value, null, 2));
}

/**
 * On a secure cluster: log in (SCRAM; the secret stays here), then connect over a channel the
 * new session authenticates. On an insecure one (no logins served): connect, as the seed did.
 * Other users' sessions in the file are kept: one `c` per user.
 */
async function connect(
  state: CliState,
  options: GlobalOptions,
  uid: string,
  secretFile: string | null,
): Promise<void> {
  const cluster = state.clusterFor(options);
  const anonymous = state.client(options, { kind: "anonymous" });
  const challenge = await anonymous.loginStart(uid);
  const { [uid]: previous, ...others } = state.session?.logins ?? {};
  let logins: Record<string, LoginSession> = others;
  if (challenge !== null) {
    const secret = await readSecret(state, uid, secretFile);
    logins = { ...others, [uid]: await anonymous.loginFinish(challenge, secret) };
  }
  const primary = state.session?.primary ?? null;
  state.session = { uid, cluster, primary, logins };
  const answer = await state.client(options, { kind: "user", uid }).connect(uid);
  state.session = { uid, cluster, primary: answer.primary, logins };
  await saveSession(state.io.env, state.session);
  if (options.json) return printJson(state, { ...answer, cluster });
  const greeting = answer.created ? `connected as ${uid} (new user)` : `connected as ${uid}`;
  return print(
    state,
    `${greeting}; primary directory node ${answer.node} at ${answer.primary} (term ${answer.term})`,
  );
}

type UploadCommand = Extract<Command, { kind: "upload" }>;

/** Each file in turn; one failing file is reported and the rest still go (exit status 1). */
async function upload(
  state: CliState,
  options: GlobalOptions,
  command: UploadCommand,
): Promise<void> {
  const uid = state.uidFor(command.uid);
  const client = state.client(options, { kind: "user", uid });
  const results: ReadResult[] = [];
  let firstError: FtfsError | null = null;
  for (const file of command.files) {
    try {
      const progress = progressBar(basename(file), {
        isTty: state.io.stderrIsTty,
        write: (text) => state.io.err(text),
      });
      const result = await client.upload(uid, file, command.as ?? undefined, progress);
      results.push(result);
      if (!options.json) await print(state, formatUploaded(result));
    } catch (error) {
      if (!(error instanceof FtfsError) || command.files.length === 1) throw error;
      firstError ??= error;
      state.io.err(`ftfs: ${error.message}\n`);
    }
  }
  if (options.json) await printJson(state, results);
  if (firstError !== null) throw new ReportedError(firstError);
}

/** An error already printed; it only sets the exit status. */
export class ReportedError extends Error {
  override readonly name = "ReportedError";
  readonly original: FtfsError;
  constructor(original: FtfsError) {
    super(original.message);
    this.original = original;
  }
}

async function read(
  state: CliState,
  options: GlobalOptions,
  uid: string,
  command: Extract<Command, { kind: "read" }>,
): Promise<void> {
  const { name, target } = command;
  const version = command.version ?? undefined;
  const client = state.client(options, { kind: "user", uid });
  const progress = progressBar(name, {
    isTty: state.io.stderrIsTty,
    write: (text) => state.io.err(text),
  });
  switch (target.kind) {
    case "stdout":
      await client.read(uid, name, (chunk) => state.io.out(chunk), version, progress);
      return;
    case "file": {
      const path = await intoFolder(target.path, name);
      const result = await readToFile(client, { uid, name, version }, path, progress);
      if (options.json) return printJson(state, { ...result, path });
      return print(state, formatSaved(result, path));
    }
    default:
      return assertNever(target);
  }
}

/** 128 + SIGINT: the status a shell expects of a command stopped by Ctrl-C. */
const EXIT_INTERRUPTED = 130;

/** `-o some/folder` saves as some/folder/<name>, as `cp` does. */
async function intoFolder(path: string, name: string): Promise<string> {
  const info = await stat(path).catch(() => null); // absent: a new file of that name
  return info?.isDirectory() ? join(path, name) : path;
}

/** Via a temporary file beside the target, renamed at the end: it appears whole or not at all. */
async function readToFile(
  client: FtfsClient,
  source: { readonly uid: string; readonly name: string; readonly version: number | undefined },
  path: string,
  progress: Parameters<FtfsClient["read"]>[4],
): Promise<ReadResult> {
  const { uid, name, version } = source;
  const temporary = join(dirname(path), `.${basename(path)}.ftfs-${process.pid}.part`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(temporary, "w");
  } catch (error) {
    throw cannotWrite(path, error);
  }
  // Ctrl-C mid-download: remove the partial file rather than leave a hidden .part behind.
  const onInterrupt = (): void => {
    rmSync(temporary, { force: true });
    process.exit(EXIT_INTERRUPTED);
  };
  process.once("SIGINT", onInterrupt);
  try {
    const result = await client.read(
      uid,
      name,
      async (chunk) => void (await handle.write(chunk)),
      version,
      progress,
    );
    await handle.close();
    await rename(temporary, path);
    return result;
  } catch (error) {
    await handle.close().catch(() => undefined); // already closed on the success path
    await rm(temporary, { force: true });
    throw error instanceof FtfsError ? error : cannotWrite(path, error);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

/** A local write failed (full disk, no such folder, a folder in the way): one clear line. */
function cannotWrite(path: string, error: unknown): FtfsError {
  const reason = fileErrorReason(error, "its folder does not exist");
  return new FtfsError("LOCAL_FILE", `cannot write ${path}: ${reason}`, { cause: error });
}

type ListCommand = Extract<Command, { kind: "list" }>;

async function list(
  state: CliState,
  options: GlobalOptions,
  uid: string,
  command: ListCommand,
): Promise<void> {
  const client = state.client(options, { kind: "user", uid });
  if (command.from === "storage") {
    const files = newestCommitted(await client.listFromStorage(uid));
    return options.json ? printJson(state, files) : print(state, formatStoredTable(files));
  }
  const files = await client.list(uid, { stale: command.stale });
  return options.json
    ? printJson(state, files)
    : print(state, formatFileTable(files, formatLocalTime));
}

async function remove(
  state: CliState,
  options: GlobalOptions,
  uid: string,
  name: string,
): Promise<void> {
  const answer = await state.client(options, { kind: "user", uid }).remove(uid, name);
  if (options.json) return printJson(state, { name, ...answer });
  return print(state, `removed ${name} (newest was v${answer.deletedVersion})`);
}

async function status(state: CliState, options: GlobalOptions): Promise<void> {
  const answer = await state.client(options, { kind: "admin" }).status();
  return options.json ? printJson(state, answer) : print(state, formatStatus(answer));
}

/** How often `ftfs status --watch` asks again. */
const STATUS_WATCH_INTERVAL_MS = 2_000;
/** The recent events a terminal's watch shows under the tables. */
const STATUS_WATCH_EVENTS_SHOWN = 8;
/** Clear the terminal and go home: each refresh replaces the last. */
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/**
 * `ftfs status --watch`, until Ctrl-C: on a terminal the status redrawn in place with the
 * latest events under it; otherwise (a log, a pipe) one line per change, so the output reads
 * as a history: the verdict first, then each event as it is seen; with --json one status
 * object per line. A round the cluster does not answer is said and the watch goes on.
 */
async function watchStatus(state: CliState, options: GlobalOptions): Promise<void> {
  const client = state.client(options, { kind: "admin" });
  const timeline = new ClusterTimeline();
  const redraw = state.io.stdoutIsTty && !options.json;
  let eventsShown = 0;
  for (;;) {
    const atMs = Date.now();
    let answer: ClusterStatus | null = null;
    try {
      answer = await client.status();
    } catch (error) {
      if (!(error instanceof FtfsError)) throw error;
      const line = `${new Date(atMs).toISOString()} no answer from the cluster: ${error.message}`;
      const problem = { code: error.code, message: error.message };
      if (options.json) await print(state, JSON.stringify({ atMs, error: problem }));
      else await print(state, redraw ? `${CLEAR_SCREEN}${line}` : line);
    }
    if (answer !== null) {
      timeline.observe(atMs, answer);
      if (options.json) {
        await print(state, JSON.stringify({ atMs, verdict: healthVerdict(answer), ...answer }));
      } else if (redraw) {
        const recent = timeline.events().slice(-STATUS_WATCH_EVENTS_SHOWN).map(formatEvent);
        const footer = `every ${STATUS_WATCH_INTERVAL_MS / 1000} s; Ctrl-C stops`;
        await print(
          state,
          [CLEAR_SCREEN + formatStatus(answer), "", "recent events:", ...recent, "", footer].join(
            "\n",
          ),
        );
      } else {
        for (const event of timeline.eventsAfter(eventsShown))
          await print(state, formatEvent(event));
      }
      eventsShown = timeline.eventsTotal;
    }
    await Bun.sleep(STATUS_WATCH_INTERVAL_MS);
  }
}

function formatEvent(event: TimelineEvent): string {
  return `${new Date(event.atMs).toISOString()} ${event.text}`;
}

/**
 * Waits for the run to end (progress on a terminal's stderr), prints it, and exits non-zero
 * if it failed: a script must not take a failed run for a balanced cluster.
 */
async function rebalance(
  state: CliState,
  options: GlobalOptions,
  thresholdBasisPoints: number | null,
): Promise<void> {
  const showProgress = state.io.stderrIsTty && !options.json;
  const run = await state.client(options, { kind: "admin" }).rebalance({
    ...(thresholdBasisPoints === null ? {} : { thresholdBasisPoints }),
    onProgress: (progress) => {
      if (showProgress) state.io.err(`\r\x1b[2K${formatRebalanceProgress(progress)}`);
    },
  });
  if (showProgress) state.io.err("\r\x1b[2K");
  if (options.json) await printJson(state, run);
  else await print(state, formatRebalance(run));
  if (run.state === "failed") {
    throw new FtfsError("UNAVAILABLE", `rebalance failed: ${run.message}`);
  }
}

/** `2025-11-24 07:28:01` in the local time zone: what `ls -l` users read at a glance. */
export function formatLocalTime(timeMs: number): string {
  const date = new Date(timeMs);
  const two = (value: number): string => String(value).padStart(2, "0");
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  return `${day} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/**
 * The secret for a login: $FTFS_SECRET, else --secret-file, else a prompt on a terminal. A
 * trailing newline of a file or a paste is not part of it.
 */
async function readSecret(
  state: CliState,
  uid: string,
  secretFile: string | null,
): Promise<string> {
  const fromEnv = state.io.env.FTFS_SECRET;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv.trim();
  if (secretFile !== null) {
    try {
      return (await readFile(secretFile, "utf8")).trim();
    } catch (error) {
      const reason = fileErrorReason(error, "no such file");
      throw new FtfsError("LOCAL_FILE", `cannot read the secret file ${secretFile}: ${reason}`);
    }
  }
  if (state.io.stdinIsTty && state.io.readSecret !== undefined) {
    return (await state.io.readSecret(`secret for ${uid}: `)).trim();
  }
  throw new UsageError(
    `logging in as ${uid} needs its secret: set FTFS_SECRET, pass --secret-file PATH, ` +
      "or run on a terminal",
  );
}

type AccessKeysCommand = Extract<Command, { kind: "keyCreate" | "keyList" | "keyRemove" }>;

/** S3 access keys: the acting user's own, or (admin) anyone's. */
async function accessKeys(
  state: CliState,
  options: GlobalOptions,
  command: AccessKeysCommand,
): Promise<void> {
  const uid = command.asAdmin ? (command.uid ?? "") : state.uidFor(command.uid);
  const client = state.client(options, command.asAdmin ? { kind: "admin" } : { kind: "user", uid });
  switch (command.kind) {
    case "keyCreate": {
      const key = await client.keyCreate(uid);
      if (options.json) return printJson(state, key);
      return print(
        state,
        [
          `created access key ${key.accessKeyId} for user ${uid}; its secret (shown only this once):`,
          key.secret,
        ].join("\n"),
      );
    }
    case "keyList": {
      const keys = await client.keyList(uid);
      if (options.json) return printJson(state, keys);
      return print(state, formatAccessKeyTable(keys, formatLocalTime));
    }
    case "keyRemove":
      await client.keyRemove(uid, command.accessKeyId);
      if (options.json)
        return printJson(state, { accessKeyId: command.accessKeyId, removed: true });
      return print(
        state,
        `removed access key ${command.accessKeyId} of user ${uid}; requests signed with it are refused`,
      );
    default:
      return assertNever(command);
  }
}

type AdminUsersCommand = Extract<Command, { kind: "userAdd" | "userRemove" | "userList" }>;
type AdminDirectoryCommand = Extract<Command, { kind: "directoryList" | "directoryChange" }>;

/** `ftfs admin directory ls|add|remove`: the directory group's members. */
async function adminDirectory(
  state: CliState,
  options: GlobalOptions,
  command: AdminDirectoryCommand,
): Promise<void> {
  const client = state.client(options, { kind: "admin" });
  const view =
    command.kind === "directoryList"
      ? await client.directoryMembers()
      : await client.directoryChange(command.change, command.node, command.address ?? undefined);
  if (options.json) return printJson(state, view);
  const done =
    command.kind === "directoryList"
      ? ""
      : command.change === "add"
        ? `added ${command.node} as a learner: start it with --new-member; it votes once caught up\n`
        : `removed ${command.node} from the directory group\n`;
  return print(state, `${done}${formatDirectoryMembers(view)}`);
}

async function adminUsers(
  state: CliState,
  options: GlobalOptions,
  command: AdminUsersCommand,
): Promise<void> {
  const client = state.client(options, { kind: "admin" });
  switch (command.kind) {
    case "userAdd": {
      const { uid, admin } = command;
      const added = await client.userAdd(uid, {
        admin,
        ...(command.quotaBytes === null ? {} : { quotaBytes: command.quotaBytes }),
        ...(command.quotaFiles === null ? {} : { quotaFiles: command.quotaFiles }),
      });
      if (options.json) return printJson(state, { uid, admin, ...added });
      return print(
        state,
        [
          `added user ${uid}${admin ? " (admin)" : ""}; its secret (shown only this once):`,
          added.secret,
          `log in with: FTFS_SECRET=${added.secret} ftfs ${uid} c`,
        ].join("\n"),
      );
    }
    case "userRemove":
      await client.userRemove(command.uid);
      if (options.json) return printJson(state, { uid: command.uid, removed: true });
      return print(state, `removed user ${command.uid}; its sessions are ended, its files kept`);
    case "userList": {
      const users = await client.userList();
      return options.json ? printJson(state, users) : print(state, formatUserTable(users));
    }
    default:
      return assertNever(command);
  }
}
