/**
 * Running one parsed command: call the client library, print the result for people (or as
 * JSON with --json), remember the session after `c`. Errors are thrown (FtfsError for remote
 * and local failures, UsageError for misuse); the caller turns them into one stderr line.
 */

import { rmSync } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { assertNever, FtfsError, PROTOCOL_VERSION } from "@ftfs/protocol/core";
import { UsageError } from "@ftfs/protocol/io";
import type { Command, GlobalOptions, Invocation } from "../core/args.ts";
import {
  formatAccessKeyTable,
  formatFileTable,
  actingNote,
  compareText,
  formatSaved,
  formatStoredTable,
  formatUserTable,
  formatDirectoryMembers,
} from "../core/format.ts";
import { describeDrain, drainProgress, formatStorageNodes } from "../core/storage-table.ts";
import { helpText } from "../core/help.ts";
import { buildInfo, versionLine } from "./build-info.ts";
import { formatStatus } from "../core/status-table.ts";
import { formatRebalance, formatRebalanceProgress } from "../core/rebalance-report.ts";
import { newestCommitted, type StoredFile } from "@ftfs/client";
import {
  ClusterTimeline,
  healthVerdict,
  type CatchUpProgress,
  type ClusterStatus,
  type TimelineEvent,
} from "@ftfs/client/core";
import { fileErrorReason } from "@ftfs/client";
import type { CliState } from "./cli-state.ts";
import type { FtfsClient } from "@ftfs/client";
import type { ReadResult } from "@ftfs/client";
import { formatLocalTime } from "./local-time.ts";
import { progressBar } from "./progress.ts";
import { EXIT_INTERRUPTED, upload } from "./upload-command.ts";
import { connect, logout, whoami } from "./session-commands.ts";

export async function execute(invocation: Invocation, state: CliState): Promise<void> {
  const { command, options } = invocation;
  switch (command.kind) {
    case "help":
      return print(state, helpText(command.topic));
    case "shell":
      throw new UsageError("already in the shell");
    case "version": {
      const { version, commit } = buildInfo();
      if (options.json) return printJson(state, { version, commit, protocol: PROTOCOL_VERSION });
      return print(state, versionLine(PROTOCOL_VERSION));
    }
    case "connect":
      return connect(state, options, command.uid, command.secretFile);
    case "whoami":
      return whoami(state, options);
    case "logout":
      return logout(state, options, command);
    case "upload":
      return upload(state, options, command);
    case "read":
      return read(state, options, state.uidFor(command.uid), command);
    case "list":
      return list(state, options, state.uidFor(command.uid), command);
    case "remove":
      return remove(state, options, state.uidFor(command.uid), command);
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
    case "storageList":
      return storageList(state, options);
    case "storageDrain":
      return storageDrain(state, options, command);
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
      const path = await intoFolder(target.path, name.slice(name.lastIndexOf("/") + 1));
      // Another file's bytes are not ours to lose: replacing one takes --force.
      const existing = await stat(path).catch(() => null); // absent: nothing to replace
      if (existing !== null && !command.force) {
        throw new FtfsError(
          "LOCAL_FILE",
          `${path} already exists; add --force to replace it, or -o another path`,
        );
      }
      const result = await readToFile(client, { uid, name, version }, path, progress);
      if (options.json) return printJson(state, { ...result, path });
      return print(state, `${formatSaved(result, path)}${actingNote(command.uid, uid)}`);
    }
    default:
      return assertNever(target);
  }
}

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
  process.on("SIGINT", onInterrupt);
  try {
    // Each chunk is in the file once its write resolves: its buffer can take a later chunk.
    const result = await client.read(
      uid,
      name,
      async (chunk) => void (await handle.write(chunk)),
      version,
      progress,
      { reuseChunkBuffers: true },
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
    const files = await storageListing(client, uid);
    return options.json ? printJson(state, files) : print(state, formatStoredTable(files));
  }
  const files = await client.list(uid, { stale: command.stale });
  if (options.json) return printJson(state, files);
  // The user came from the session: say whose files these are.
  const caption = command.uid === null ? `files of ${uid}\n` : "";
  return print(state, `${caption}${formatFileTable(files, formatLocalTime)}`);
}

/**
 * What the storage nodes hold, newest committed version per name, with the empty files the
 * directory lists: an empty file has no chunks, so no storage node holds anything of it, and
 * leaving it out would make the two listings disagree about which files exist.
 */
async function storageListing(client: FtfsClient, uid: string): Promise<StoredFile[]> {
  const [stored, listed] = await Promise.all([client.listFromStorage(uid), client.list(uid)]);
  const files = newestCommitted(stored);
  const known = new Set(files.map((file) => file.name));
  for (const file of listed) {
    if (file.bytes !== 0 || known.has(file.name)) continue;
    const { name, version } = file;
    files.push({ name, version, uploadId: "", bytes: 0, chunks: 0, groups: [], nodes: [] });
  }
  return files.sort((a, b) => compareText(a.name, b.name));
}

async function remove(
  state: CliState,
  options: GlobalOptions,
  uid: string,
  command: Extract<Command, { kind: "remove" }>,
): Promise<void> {
  const { name } = command;
  const answer = await state.client(options, { kind: "user", uid }).remove(uid, name);
  if (options.json) return printJson(state, { name, ...answer });
  const note = actingNote(command.uid, uid);
  return print(state, `removed ${name} (newest was v${answer.deletedVersion})${note}`);
}

/**
 * A node catching up has a time left only at a measured rate: when one is, the status is asked
 * once more a moment later, and the table says how long the catch-up has to go.
 */
async function status(state: CliState, options: GlobalOptions): Promise<void> {
  const client = state.client(options, { kind: "admin" });
  if (options.json) return printJson(state, await client.status());
  const measured = await statusWithCatchUps(client);
  return print(state, formatStatus(measured.status, measured.catchUps));
}

/** The status, asked twice a moment apart while a node is catching up, for its rate. */
async function statusWithCatchUps(
  client: FtfsClient,
): Promise<{ status: ClusterStatus; catchUps: CatchUpProgress[] }> {
  const first = await client.status();
  const learning = first.groups.some((group) => (group.learners ?? []).length > 0);
  if (!learning) return { status: first, catchUps: [] };
  const timeline = new ClusterTimeline();
  timeline.observe(Date.now(), first);
  await Bun.sleep(STATUS_CATCH_UP_SAMPLE_MS);
  const second = await client.status().catch(() => null); // the first answer still stands
  if (second === null) return { status: first, catchUps: [] };
  timeline.observe(Date.now(), second);
  return { status: second, catchUps: timeline.catchUps() };
}

async function storageList(state: CliState, options: GlobalOptions): Promise<void> {
  const client = state.client(options, { kind: "admin" });
  if (options.json) {
    const answer = await client.status();
    return printJson(state, {
      nodes: answer.members.filter((member) => member.role === "storage"),
      groups: answer.groups,
    });
  }
  const measured = await statusWithCatchUps(client);
  return print(state, formatStorageNodes(measured.status, measured.catchUps));
}

/** How often `ftfs admin storage drain --wait` asks how the drain is going. */
const DRAIN_WAIT_INTERVAL_MS = 1_000;

/**
 * `ftfs admin storage drain [--cancel] [--wait] <node>`: the directory records the drain and
 * answers at once; with --wait, one line per change of its progress until the node is out of
 * its group (a terminal or a pipe alike: the lines read as a history).
 */
async function storageDrain(
  state: CliState,
  options: GlobalOptions,
  command: Extract<Command, { kind: "storageDrain" }>,
): Promise<void> {
  const client = state.client(options, { kind: "admin" });
  const { node, cancel } = command;
  const answer = await client.storageDrain(node, cancel);
  const group = answer.group.group;
  if (options.json && !command.wait) return printJson(state, answer);
  if (cancel) {
    const listed = [...answer.group.replicas, ...(answer.group.learners ?? [])].some(
      (member) => member.node === node,
    );
    const next = listed ? "it stays in the group" : "it rejoins the group and catches up";
    return print(state, `drain of ${node} cancelled: ${next} (group ${group})`);
  }
  if (!options.json) {
    await print(state, `draining ${node} out of ${group}; \`ftfs admin storage ls\` shows it`);
  }
  if (!command.wait) return;
  const timeline = new ClusterTimeline();
  let lastLine = "";
  for (;;) {
    const status = await client.status();
    timeline.observe(Date.now(), status);
    const progress = drainProgress(status, node, timeline.catchUps());
    if (progress === null) {
      throw new FtfsError("NOT_FOUND", `the drain of ${node} was cancelled meanwhile`);
    }
    if (options.json) await print(state, JSON.stringify({ atMs: Date.now(), node, ...progress }));
    if (progress.kind === "drained") {
      const factor = answer.group.replicationFactor ?? answer.group.replicas.length;
      if (!options.json) {
        await print(
          state,
          `${node} drained out of ${group}: the group holds ${factor} copies without it; ` +
            "safe to stop",
        );
      }
      return;
    }
    // The rate's digits change every second: a line per phase and per whole percent.
    const line = describeDrain({
      ...progress,
      ...(progress.kind === "copying" ? { etaS: null } : {}),
    });
    if (!options.json && line !== lastLine)
      await print(state, `${node}: ${describeDrain(progress)}`);
    lastLine = line;
    await Bun.sleep(DRAIN_WAIT_INTERVAL_MS);
  }
}

/** How long `ftfs status` waits to measure a catch-up's rate (only while one is running). */
const STATUS_CATCH_UP_SAMPLE_MS = 1_000;

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
          [
            CLEAR_SCREEN + formatStatus(answer, timeline.catchUps()),
            "",
            "recent events:",
            ...recent,
            "",
            footer,
          ].join("\n"),
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
          `log in with: FTFS_SECRET=${added.secret} ${state.invokedAs} ${uid} c`,
        ].join("\n"),
      );
    }
    case "userRemove":
      await client.userRemove(command.uid);
      if (options.json) return printJson(state, { uid: command.uid, removed: true });
      return print(state, `removed user ${command.uid}; its sessions are ended, its files kept`);
    case "userList": {
      const listed = await client.userList();
      if (options.json) return printJson(state, listed.users);
      return print(state, formatUserTable(listed.users, listed));
    }
    default:
      return assertNever(command);
  }
}
