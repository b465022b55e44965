/**
 * One upload through the real `ftfs` CLI, in a child process the nemesis can SIGSTOP mid-upload
 * and SIGCONT later (pause-client): logged in with `ftfs <uid> c` (its own config folder, the
 * user's secret in FTFS_SECRET), then `ftfs <uid> a <file> --as <name> --json`. The upload is
 * recorded in the workload's history like any other write: invoked when the child starts, ok
 * with the version the CLI printed, or unknown when it failed or was killed. Storage's own
 * listing (`listFromStorage`) shows when its chunks are stored and when they are collected.
 * The CLI runs under FTFS_DEBUG, so its retries (and an upload started over after the directory
 * refused it, UPLOAD_EXPIRED) are on its stderr, summed up in the workload's notes.
 */

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { FTFS_MAIN, runFtfs } from "@ftfs/protocol/testing";
import { sha256Hex } from "@ftfs/protocol/io";
import type { FtfsClient } from "@ftfs/client";
import type { ChaosUsers } from "./client.ts";
import { CHAOS_CHUNK_BYTES } from "./cluster.ts";
import type { Op } from "@ftfs/protocol/testing/history";
import { errorText, OP_TIMEOUT_MS, stampedBytes, type Workload } from "./workload.ts";

/**
 * The paused upload's size: 96 chunks, so it is surely still sending when storage first lists
 * some of them (a workload file has at most 4), yet sent whole again within the upload deadline
 * after it wakes (about a second here; the deadline is 8 s).
 */
export const PAUSED_UPLOAD_BYTES = 96 * CHAOS_CHUNK_BYTES;
/** Chunks storage must list for the upload before the client is stopped: it is mid-upload. */
const MID_UPLOAD_CHUNKS_MIN = 5;
/** `ftfs c` retries a lost directory itself; this bounds the whole login. */
const LOGIN_TIMEOUT_MS = 30_000;
const POLL_MS = 25;

export interface CliUploadOptions {
  readonly users: ChaosUsers;
  readonly workload: Workload;
  readonly directories: readonly string[];
  readonly uid: string;
  readonly name: string;
  /** A folder of its own: the CLI's config (session) and the file it uploads. */
  readonly folder: string;
}

interface Outcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class CliUpload {
  readonly op: Op;
  private readonly child: Subprocess<"ignore", "pipe", "pipe">;
  private readonly workload: Workload;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves once the outcome is in the history. */
  readonly done: Promise<void>;

  private constructor(
    options: CliUploadOptions,
    env: Record<string, string>,
    file: string,
    bytes: Uint8Array,
  ) {
    const { workload, uid, name } = options;
    this.workload = workload;
    const kind = workload.isLive(uid, name) ? "update" : "upload";
    const write = { sha256: sha256Hex(bytes), bytes: bytes.length };
    this.op = workload.history.invoke(workload.externalClient, kind, uid, name, write);
    const argv = [process.execPath, FTFS_MAIN, uid, "a", file, "--as", name, "--json"];
    this.child = Bun.spawn(argv, {
      env: { ...process.env, ...env },
      cwd: options.folder,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.armTimer();
    this.done = this.finish();
    workload.track(this.done);
  }

  /** Logs in through the CLI, writes the file, and starts the upload (recorded as invoked). */
  static async start(options: CliUploadOptions): Promise<CliUpload> {
    await mkdir(options.folder, { recursive: true });
    const secret = await options.users.secret(options.uid);
    const env: Record<string, string> = {
      FTFS_CONFIG_DIR: join(options.folder, "config"),
      FTFS_DEBUG: "1",
      FTFS_CLUSTER: options.directories.join(","),
      ...(secret === null ? {} : { FTFS_SECRET: secret }),
    };
    const login = await runFtfs([options.uid, "c"], { env, timeoutMs: LOGIN_TIMEOUT_MS });
    if (login.exitCode !== 0) {
      throw new Error(`ftfs ${options.uid} c failed: ${login.stderr.trim()}`);
    }
    const { workload } = options;
    const stampId = workload.history.ops.length + 1;
    const bytes = stampedBytes(workload.baseBytes, PAUSED_UPLOAD_BYTES, stampId);
    const file = join(options.folder, "upload.bin");
    await writeFile(file, bytes);
    return new CliUpload(options, env, file, bytes);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGSTOP: the client sleeps wherever it is; its own deadlines do not run meanwhile. */
  pause(): void {
    clearTimeout(this.timer);
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    this.child.kill("SIGCONT");
    this.armTimer();
  }

  /** A client that does not finish within the harness's op limit while awake is killed: unknown. */
  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.child.kill("SIGCONT");
      this.child.kill("SIGKILL");
    }, OP_TIMEOUT_MS);
  }

  private async finish(): Promise<void> {
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(this.child.stdout).text(),
      new Response(this.child.stderr).text(),
      this.child.exited,
    ]);
    clearTimeout(this.timer);
    this.record({ exitCode, stdout, stderr });
    this.note(stderr);
  }

  private record(outcome: Outcome): void {
    const { op, workload } = this;
    const log = workload.history;
    if (outcome.exitCode !== 0) {
      const lastLine = outcome.stderr.trim().split("\n").at(-1) ?? "";
      log.failed(op, `ftfs exited ${outcome.exitCode}: ${lastLine}`);
      return;
    }
    let printed: { version: number; sha256: string } | undefined;
    try {
      printed = (JSON.parse(outcome.stdout) as Array<{ version: number; sha256: string }>)[0];
    } catch {
      // "Uploaded" in a shape we cannot read: we cannot tell which version it claims.
      log.failed(op, `ftfs exited 0 but printed no JSON: ${outcome.stdout.slice(0, 200)}`);
      return;
    }
    if (printed === undefined || printed.sha256 !== op.sha256) {
      // The CLI said "uploaded" for other bytes than the file's: record what it claimed.
      log.ok(op, { version: printed?.version ?? 0, sha256: printed?.sha256 ?? "none printed" });
      return;
    }
    log.ok(op, { version: printed.version });
    if (op.name !== null) workload.noteLive(op.uid, op.name, true);
  }

  /** One line on what the client went through: its outcome, restarts and retries. */
  private note(stderr: string): void {
    const retryLines = stderr.split("\n").filter((line) => line.startsWith("ftfs: retry"));
    const restarts = retryLines.filter((line) => line.includes("UPLOAD_EXPIRED")).length;
    const retries = retryLines.length - restarts;
    const { op } = this;
    const how = op.status === "ok" ? `ok v${op.version}` : `${op.status} (${op.error ?? ""})`;
    this.workload.notes.push(
      `cli upload #${op.id} ${op.uid}/${op.name}: ${how}; ` +
        `started over ${restarts} time(s) after UPLOAD_EXPIRED, ${retries} other retries`,
    );
  }
}

/** The paused upload as storage listed it when the client was stopped. */
export interface PausedUpload {
  readonly uploadId: string;
  /** Chunks stored so far (of PAUSED_UPLOAD_CHUNKS): all of them means its commit may be sent. */
  readonly chunks: number;
}

/** What stepping the client saw: the upload stopped mid-way, or why not. */
export interface StepOutcome {
  readonly paused: PausedUpload | null;
  /** Listings asked, and how many of them failed (the last failure's text). */
  readonly looks: number;
  readonly failures: number;
  readonly lastError: string | null;
}

export const PAUSED_UPLOAD_CHUNKS = PAUSED_UPLOAD_BYTES / CHAOS_CHUNK_BYTES;

/**
 * Steps the client until storage lists this upload (not committed, more chunks than any
 * workload file has): stopped while storage is asked (and while storage cannot be asked),
 * continued for POLL_MS only after a listing without it, so it cannot get far between two
 * looks. Answers the upload with the client left stopped, or null (client running) if it
 * finished first or `timeoutMs` passed.
 */
export async function pauseMidUpload(
  lister: FtfsClient,
  upload: CliUpload,
  timeoutMs: number,
): Promise<StepOutcome> {
  const { uid, name } = upload.op;
  const deadline = performance.now() + timeoutMs;
  let looks = 0;
  let failures = 0;
  let lastError: string | null = null;
  while (performance.now() < deadline && upload.running) {
    upload.pause();
    looks += 1;
    const stored = await lister.listFromStorage(uid).catch((error: unknown) => {
      failures += 1;
      lastError = errorText(error);
      return null;
    });
    if (stored === null) {
      await Bun.sleep(POLL_MS); // not asked: it stays stopped until storage answers
      continue;
    }
    const found = stored.find(
      (file) => file.name === name && file.version === null && file.chunks >= MID_UPLOAD_CHUNKS_MIN,
    );
    if (found !== undefined) {
      const paused = { uploadId: found.uploadId, chunks: found.chunks };
      return { paused, looks, failures, lastError };
    }
    upload.resume();
    await Bun.sleep(POLL_MS);
  }
  if (upload.running) upload.resume();
  return { paused: null, looks, failures, lastError };
}

/** Polls until storage lists no chunk of the upload (swept, collected); false on timeout. */
export async function waitCollected(
  lister: FtfsClient,
  uid: string,
  uploadId: string,
  timeoutMs: number,
): Promise<boolean> {
  for (const deadline = performance.now() + timeoutMs; performance.now() < deadline; ) {
    const stored = await lister.listFromStorage(uid).catch(() => null);
    if (stored !== null && !stored.some((file) => file.uploadId === uploadId)) return true;
    await Bun.sleep(POLL_MS * 10);
  }
  return false;
}
