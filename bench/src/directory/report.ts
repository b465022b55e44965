/**
 * The directory bench's printed report: one table or block per part and a summary of the
 * headline figures, on stdout. Formats only; measures nothing and judges only against the
 * issue's stated aim.
 */

import type { CatchupFigures } from "./catchup.ts";
import type { CommitFigures, CommitOptions, CommitWindow } from "./commits.ts";
import {
  FAILOVER_CHUNK_BYTES,
  FAILOVER_FILE_BYTES,
  FAILOVER_STORAGE_REPLICAS,
  type FailoverOptions,
  type FailoverTrial,
} from "./failover.ts";
import { formatLatency, formatMs, type LatencySummary } from "./probe.ts";
import { BIG_USER, MID_USER, type ScaleFigures } from "./scale.ts";
import { median } from "../machine/limits.ts";

const KIB = 1024;
const MIB = KIB * KIB;
/** The aim for kill -9 → first acknowledgement by the new primary (median). */
export const FAILOVER_AIM_MS = 1_500;
const COLUMN_GAP = "  ";

export interface Results {
  failover: FailoverTrial[] | null;
  commits: CommitFigures | null;
  scale: ScaleFigures | null;
  catchup: CatchupFigures | null;
}

const mib = (bytes: number | null): string =>
  bytes === null ? "?" : `${(bytes / MIB).toFixed(1)} MiB`;
const count = (value: number): string => value.toLocaleString("en-US");
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const short = (s: LatencySummary): string => `p50 ${formatMs(s.p50Ms)}, p99 ${formatMs(s.p99Ms)}`;
const maxOf = (values: readonly number[]): number => Math.max(...values);
const optionalMs = (ms: number | null): string => (ms === null ? "?" : formatMs(ms));

/** Left-aligned columns as wide as their widest cell. */
function table(rows: ReadonlyArray<readonly string[]>): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [at, cell] of row.entries()) widths[at] = Math.max(widths[at] ?? 0, cell.length);
  }
  const line = (row: readonly string[]): string =>
    row
      .map((cell, at) => cell.padEnd(widths[at] ?? 0))
      .join(COLUMN_GAP)
      .trimEnd();
  return rows.map(line);
}

export function printFailover(trials: readonly FailoverTrial[], options: FailoverOptions): void {
  console.log("");
  console.log(
    `== 1. failover: 3 directory nodes (Raft) + 1 storage group of ` +
      `${FAILOVER_STORAGE_REPLICAS}, ${FAILOVER_CHUNK_BYTES / KIB} KiB chunks; ` +
      "kill -9 of the primary ==",
  );
  console.log(
    `${options.loops} upload loops of ${FAILOVER_FILE_BYTES / KIB} KiB files ` +
      "(uploadBytes), one FtfsClient each (own connections, own view of the primary); " +
      `${options.trials} trials`,
  );
  const rows: string[][] = [
    [
      "trial",
      "killed",
      "new",
      "kill→1st ack",
      "longest gap",
      "errors",
      "retries",
      "acks",
      "restart→caught up",
    ],
  ];
  for (const [at, trial] of trials.entries()) {
    rows.push([
      String(at + 1),
      trial.victim,
      trial.successor,
      formatMs(trial.killToFirstAckMs),
      formatMs(trial.longestGapMs),
      String(trial.errors),
      String(trial.retries),
      String(trial.acks),
      formatMs(trial.restartToCaughtUpMs),
    ]);
  }
  for (const [label, reduce] of [
    ["median", median],
    ["max", maxOf],
  ] as const) {
    const of = (pick: (trial: FailoverTrial) => number): number => reduce(trials.map(pick));
    rows.push([
      label,
      "",
      "",
      formatMs(of((t) => t.killToFirstAckMs)),
      formatMs(of((t) => t.longestGapMs)),
      String(of((t) => t.errors)),
      String(of((t) => t.retries)),
      String(of((t) => t.acks)),
      formatMs(of((t) => t.restartToCaughtUpMs)),
    ]);
  }
  for (const line of table(rows)) console.log(line);
  for (const trial of trials) {
    for (const error of trial.firstErrors) console.log(`error (${trial.victim} killed): ${error}`);
  }
  console.log("kill→1st ack: SIGKILL to the first upload whose commit a new primary answered;");
  console.log("longest gap: between consecutive acks, from the last one before the kill to the");
  console.log("end of the trial (takeover, restart and catch-up included); retries: the clients'");
  console.log("own retries; restart→caught up: the killed node's own state (listFiles stale)");
  console.log("lists every upload acknowledged before its restart.");
  console.log(
    `aim (issue): median kill→1st ack < ${seconds(FAILOVER_AIM_MS)}, 0 errors. ` +
      "Context, not measured here: SeaweedFS master election waits ~10 s, HDFS's failover " +
      "controller ~5 s.",
  );
}

export function printCommits(figures: CommitFigures, options: CommitOptions): void {
  const fsync = figures.fdatasyncsPerSecond;
  console.log("");
  console.log("== 2. commit rate: placeUpload + commitUpload of a 0-byte file (metadata only) ==");
  console.log(
    "raw RpcClient calls to the primary of 3 directory nodes (+1 storage group of 3), " +
      "one connection and one user per client",
  );
  const runs = figures.fdatasyncRuns.map((run) => run.toFixed(0)).join(", ");
  console.log(
    `machine: 4 KiB append + fdatasync ${fsync.toFixed(0)}/s on the cluster's ` +
      `filesystem (median of ${options.fsyncRuns} × ${seconds(options.fsyncWindowMs)}: ${runs})`,
  );
  const rows: string[][] = [
    [
      "clients",
      "commits/s",
      "÷ fdatasync/s",
      "place+commit",
      "commitUpload",
      "errors",
      "redirects",
    ],
  ];
  for (const window of [figures.concurrent, figures.sequential]) {
    rows.push([
      String(window.clients),
      window.commitsPerSecond.toFixed(0),
      (window.commitsPerSecond / fsync).toFixed(2),
      short(window.pair),
      short(window.commitOnly),
      String(window.errors),
      String(window.redirects),
    ]);
  }
  for (const line of table(rows)) console.log(line);
  for (const window of [figures.concurrent, figures.sequential]) printWindowNotes(window);
  console.log(
    `windows: ${seconds(options.windowMs)} with ${options.clients} clients, ` +
      `${seconds(options.sequentialWindowMs)} with 1, each after 1 s of warm-up. A commit is ` +
      "fsynced by the primary and at least one backup, all on this one disk.",
  );
  console.log("÷ fdatasync/s > 1: commits share fsyncs (group commit).");
}

function printWindowNotes(window: CommitWindow): void {
  const cpu = window.cpuCores.map((entry) => `${entry.id} ${entry.cores.toFixed(2)}`).join(", ");
  console.log(
    `CPU during the ${window.clients}-client window, in cores of ` +
      `${navigator.hardwareConcurrency}: ${cpu}`,
  );
  for (const error of window.firstErrors) {
    console.log(`error (${window.clients} clients): ${error}`);
  }
}

export function printScale(figures: ScaleFigures): void {
  const { options } = figures;
  console.log("");
  console.log(
    `== 3. scale: ${count(options.files)} files, ${count(options.users)} users ` +
      `('${BIG_USER}' ${count(options.bigUserFiles)} files, '${MID_USER}' ` +
      `${count(options.midUserFiles)}); one directory node ==`,
  );
  const repeats = options.listRepeats;
  const perSecond = Math.round(figures.commandsApplied / (figures.buildMs / 1000));
  const lines: Array<[string, string]> = [
    [
      "build (applyCommand in-process, 10,000 per transaction)",
      `${count(figures.commandsApplied)} entries in ${seconds(figures.buildMs)} ` +
        `(${count(perSecond)}/s)`,
    ],
    [
      "snapshot (an image: VACUUM INTO on a worker, hashed)",
      `${mib(figures.snapshotBytes)} in ${seconds(figures.snapshotExportMs)}; stored in ` +
        `${seconds(figures.snapshotWriteMs)}`,
    ],
    ["bench process peak RSS (build + export)", mib(figures.benchPeakRssBytes)],
    ["database file built (snapshot included)", mib(figures.databaseBytesBuilt)],
    ["database file after the run (with WAL)", mib(figures.databaseBytesAfter)],
    ["directory process start → serving as primary", formatMs(figures.startToPrimaryMs)],
    [
      `listFiles '${BIG_USER}' (${count(options.bigUserFiles)} files), ${repeats}× in turn`,
      formatLatency(figures.listBig),
    ],
    [
      `listFiles '${MID_USER}' (${count(options.midUserFiles)} files), ${repeats}× in turn`,
      formatLatency(figures.listMid),
    ],
    [
      `place+commit of 0-byte files, ${options.commits}× in turn`,
      formatLatency(figures.commitPair),
    ],
    ["  of which commitUpload", formatLatency(figures.commitOnly)],
    [
      "directory RSS after: now / peak",
      `${mib(figures.directoryRssBytes)} / ${mib(figures.directoryPeakRssBytes)}`,
    ],
  ];
  for (const line of table(lines)) console.log(line);
  console.log("listings are linearizable (read index); each file has one 4 KiB chunk ref.");
}

/** The aim for every directory process's memory during a catch-up. */
export const CATCHUP_RSS_AIM_BYTES = 512 * MIB;

export function printCatchup(figures: CatchupFigures): void {
  const { options } = figures;
  console.log("");
  console.log(
    `== 4. catch-up: a new member of a ${count(options.files)}-file directory, ` +
      `${options.clients} clients committing to the primary ==`,
  );
  const lines: Array<[string, string]> = [
    ["build (bulk, by SQL)", seconds(figures.buildMs)],
    [
      "snapshot image (VACUUM INTO on a worker, hashed)",
      `${mib(figures.imageBytes)} in ${seconds(figures.imageExportMs)}`,
    ],
    ["add → image fetched, checked and swapped in", seconds(figures.addToInstalledMs)],
    ["  of which parts over the link (new member's log)", optionalMs(figures.fetchMs)],
    ["  of which whole-file hash, copy and check (worker)", optionalMs(figures.checkMs)],
    ["  of which the swap on the main thread", optionalMs(figures.swapMainThreadMs)],
    ["add → promoted to voter", seconds(figures.addToVoterMs)],
    ["commits/s before the add", figures.commitsPerSecondBefore.toFixed(0)],
    ["commits/s from the add to the promotion", figures.commitsPerSecondDuring.toFixed(0)],
    ["commit errors from the add to the promotion", count(figures.commitErrorsDuring)],
    [
      "gossip suspicions: raised by the primary / refuted by the new member",
      `${optionalCount(figures.suspicionsRaisedByPrimary)} / ${optionalCount(figures.suspicionsRefutedByNewMember)}`,
    ],
    ["primary peak RSS (VmHWM)", mib(figures.primaryPeakRssBytes)],
    ["new member peak RSS (VmHWM)", mib(figures.newMemberPeakRssBytes)],
    ["bench process peak RSS (build + export)", mib(figures.benchPeakRssBytes)],
  ];
  for (const line of table(lines)) console.log(line);
  for (const error of figures.firstErrors) console.log(`  error: ${error}`);
}

function optionalCount(value: number | null): string {
  return value === null ? "unknown (no /metrics answer)" : count(value);
}

function summarizeCatchup(figures: CatchupFigures): void {
  const peaks = [figures.primaryPeakRssBytes, figures.newMemberPeakRssBytes];
  const peak = Math.max(...peaks.map((bytes) => bytes ?? Number.POSITIVE_INFINITY));
  const verdict = peak < CATCHUP_RSS_AIM_BYTES ? "meets" : "misses";
  console.log(
    `catch-up of ${count(figures.options.files)} files (${mib(figures.imageBytes)} image): ` +
      `promoted ${seconds(figures.addToVoterMs)} after the add; peak RSS primary ` +
      `${mib(figures.primaryPeakRssBytes)}, new member ${mib(figures.newMemberPeakRssBytes)} ` +
      `(${verdict} the aim: < ${mib(CATCHUP_RSS_AIM_BYTES)}); commits/s ` +
      `${figures.commitsPerSecondBefore.toFixed(0)} before, ` +
      `${figures.commitsPerSecondDuring.toFixed(0)} during, ${figures.commitErrorsDuring} errors; ` +
      `gossip suspicions ${optionalCount(figures.suspicionsRaisedByPrimary)} raised, ` +
      `${optionalCount(figures.suspicionsRefutedByNewMember)} refuted`,
  );
}

export function printSummary(results: Results, totalMs: number): void {
  console.log("");
  console.log("== summary ==");
  const { failover, commits, scale, catchup } = results;
  if (failover !== null && failover.length > 0) summarizeFailover(failover);
  if (commits !== null) summarizeCommits(commits);
  if (scale !== null) summarizeScale(scale);
  if (catchup !== null) summarizeCatchup(catchup);
  console.log(`total time ${seconds(totalMs)}`);
}

function summarizeFailover(trials: readonly FailoverTrial[]): void {
  const first = trials.map((trial) => trial.killToFirstAckMs);
  const errors = trials.reduce((sum, trial) => sum + trial.errors, 0);
  const gap = median(trials.map((trial) => trial.longestGapMs));
  const catchUp = median(trials.map((trial) => trial.restartToCaughtUpMs));
  const verdict = median(first) < FAILOVER_AIM_MS && errors === 0 ? "meets" : "misses";
  console.log(
    `failover (${trials.length} trials): kill -9 → first ack by the new primary median ` +
      `${formatMs(median(first))}, max ${formatMs(maxOf(first))}; longest ack gap median ` +
      `${formatMs(gap)}; client errors ${errors}; restart → caught up median ${formatMs(catchUp)} ` +
      `(${verdict} the aim: < ${formatMs(FAILOVER_AIM_MS)}, 0 errors)`,
  );
}

function summarizeCommits(commits: CommitFigures): void {
  const fsync = commits.fdatasyncsPerSecond;
  const { concurrent: many, sequential: one } = commits;
  console.log(
    `commits: ${many.clients} clients ${many.commitsPerSecond.toFixed(0)}/s = ` +
      `${(many.commitsPerSecond / fsync).toFixed(2)} × fdatasync/s (${fsync.toFixed(0)}/s), ` +
      `place+commit ${short(many.pair)}; 1 client ${one.commitsPerSecond.toFixed(0)}/s ` +
      `(${(one.commitsPerSecond / fsync).toFixed(2)} ×, ${short(one.pair)}); errors ` +
      `${many.errors + one.errors}`,
  );
}

function summarizeScale(scale: ScaleFigures): void {
  const { options } = scale;
  console.log(
    `scale (${count(options.files)} files): listFiles of ` +
      `${count(options.bigUserFiles)} ` +
      `${short(scale.listBig)}, of ${count(options.midUserFiles)} ${short(scale.listMid)}; commit ` +
      `${short(scale.commitPair)}; directory RSS ${mib(scale.directoryRssBytes)}; database ` +
      `${mib(scale.databaseBytesAfter)}; snapshot ${mib(scale.snapshotBytes)} exported in ` +
      `${seconds(scale.snapshotExportMs)}; build ${seconds(scale.buildMs)}; start → primary ` +
      `${formatMs(scale.startToPrimaryMs)}`,
  );
}
