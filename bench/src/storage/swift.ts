/**
 * The Swift side of `bench:storage`: OpenStack Swift (4 nodes, 3 replicas) through the peer
 * scripts in shared/peers/swift, run in the same session as FTFS. The matrix calls its
 * loadgen.ts directly, in bench.sh matrix's order (fresh cluster, then PUT and GET per size and
 * client count) but with this bench's phase length; the kill test is bench.sh kill itself with
 * this bench's timing. Also the figures recorded in that folder's README, for when Swift cannot
 * run here. This file never edits the peer scripts; it stops the servers it started.
 */

import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { median } from "../machine/limits.ts";
import type { Cell } from "./ftfs.ts";

/** This checkout's root (bench/src/storage is three folders down). */
const REPO_ROOT = resolve(import.meta.dir, "../../..");
/** The peer scripts sit in shared/ beside the checkout, wherever it is. */
const PEER_DIR = resolve(REPO_ROOT, "../shared/peers/swift");
const SETUP_SH = join(PEER_DIR, "setup.sh");
const BENCH_SH = join(PEER_DIR, "bench.sh");
const CPU_SH = join(PEER_DIR, "cpu.sh");
const LOADGEN_TS = join(PEER_DIR, "loadgen.ts");
/** setup.sh start waits up to 30 s for health; init and stop are quick. */
const SETUP_TIMEOUT_MS = 120_000;
/** A loadgen phase stops itself; past this it is stuck and killed. */
const LOADGEN_SLACK_MS = 180_000;
/** bench.sh kill: its phase, a verify pass over every acknowledged PUT, a replica count. */
const KILL_SCRIPT_SLACK_MS = 900_000;
const CLOCK_TICKS_PER_SECOND = 100;
const MIB = 1024 * 1024;
/** Enough of Swift's own error messages to name a cause without flooding the table. */
const ERROR_SAMPLES_MAX = 5;

export interface SwiftCell {
  readonly putOpsPerS: number;
  readonly getOpsPerS: number;
  readonly putMiBps: number;
  readonly getMiBps: number;
  readonly putP50Ms: number;
  readonly putP99Ms: number;
  readonly getP50Ms: number;
  readonly getP99Ms: number;
  readonly putErrors: number;
  readonly getErrors: number;
  /** Swift servers' CPU (proxy, object, container, account, memcached) per operation. */
  readonly putCpuMsPerOp: number;
  readonly getCpuMsPerOp: number;
  readonly putClientCpuMsPerOp: number;
  readonly getClientCpuMsPerOp: number;
}

export interface SwiftKill {
  readonly errors: number;
  readonly longestGapMs: number;
  readonly longestGapAtMs: number;
  readonly opsPerSBefore: number;
  readonly opsPerSDuring: number;
  readonly opsPerSAfter: number;
  readonly acked: number;
  readonly verifiedOk: number;
  readonly verifyFailed: number;
  readonly replicasLine: string;
  /** loadgen's first error messages and verify's first failures, to name a cause. */
  readonly errorSamples: readonly string[];
}

export interface SwiftFigures {
  readonly source: "measured" | "recorded";
  readonly cells: ReadonlyMap<string, SwiftCell>;
  readonly kill: SwiftKill | null;
  /** The matrix's first error messages and status codes, when a phase had errors. */
  readonly errorSamples: readonly string[];
}

/** shared/peers/README.md, measured 2026-11-24 (median of 3); only what it states. */
export function recordedSwift(): SwiftFigures {
  const cell = (
    put: number,
    get: number,
    sizeBytes: number,
    p99: [number, number] | null,
    putCpu: number,
  ): SwiftCell => ({
    putOpsPerS: put,
    getOpsPerS: get,
    putMiBps: (put * sizeBytes) / MIB,
    getMiBps: (get * sizeBytes) / MIB,
    putP50Ms: Number.NaN,
    getP50Ms: Number.NaN,
    putP99Ms: p99?.[0] ?? Number.NaN,
    getP99Ms: p99?.[1] ?? Number.NaN,
    putErrors: Number.NaN,
    getErrors: Number.NaN,
    putCpuMsPerOp: putCpu,
    getCpuMsPerOp: Number.NaN,
    putClientCpuMsPerOp: Number.NaN,
    getClientCpuMsPerOp: Number.NaN,
  });
  const large = 4 * MIB;
  const cells = new Map<string, SwiftCell>([
    [`${64 * 1024}x100`, cell(158, 727, 64 * 1024, [1_300, 310], 17)],
    // The README gives MiB/s for 4 MiB objects: operations per second are MiB/s ÷ 4.
    [`${large}x100`, cell(167 / 4, 464 / 4, large, null, Number.NaN)],
    [`${large}x1`, cell(128 / 4, 396 / 4, large, null, Number.NaN)],
  ]);
  return {
    source: "recorded",
    errorSamples: [],
    cells,
    kill: {
      errors: 0,
      longestGapMs: 150,
      longestGapAtMs: Number.NaN,
      opsPerSBefore: Number.NaN,
      opsPerSDuring: Number.NaN,
      opsPerSAfter: Number.NaN,
      acked: Number.NaN,
      verifiedOk: Number.NaN,
      verifyFailed: 0,
      replicasLine:
        "a few acknowledged with 2 of 3 copies; one replicator pass restored 3 in 30-37 s",
      errorSamples: [],
    },
  };
}

/** Why Swift cannot run here, or null when its packages and scripts are in place. */
export function swiftUnavailableReason(): string | null {
  for (const path of [SETUP_SH, BENCH_SH, CPU_SH, LOADGEN_TS]) {
    if (!existsSync(path)) return `${path} is missing`;
  }
  for (const program of ["swift-proxy-server", "swift-object-server", "memcached", "jq", "curl"]) {
    if (Bun.which(program) === null) {
      return `${program} is not installed (run: bash ${SETUP_SH} install, as root)`;
    }
  }
  return null;
}

async function run(
  command: readonly string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<string> {
  const child = Bun.spawn([...command], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(
      `${command.join(" ")} exited ${code}: ${(stderr || stdout).trim().slice(-400)}`,
    );
  }
  return stdout;
}

/** Stop and wipe, then start 4 fresh nodes (bench.sh's `fresh`). */
export async function freshSwift(): Promise<void> {
  await run(["bash", SETUP_SH, "stop"], SETUP_TIMEOUT_MS);
  await run(["bash", SETUP_SH, "init"], SETUP_TIMEOUT_MS);
  await run(["bash", SETUP_SH, "start"], SETUP_TIMEOUT_MS);
}

/** Stop the servers this bench started and restore Debian's swift.conf; keeps the packages. */
export async function cleanSwift(): Promise<void> {
  await run(["bash", SETUP_SH, "clean"], SETUP_TIMEOUT_MS).catch(() => "");
}

/** For a signal handler: the same, synchronously. */
export function cleanSwiftSync(): void {
  Bun.spawnSync(["bash", SETUP_SH, "clean"], { stdout: "ignore", stderr: "ignore" });
}

async function swiftCpuSeconds(): Promise<number> {
  const text = await run(["bash", CPU_SH], SETUP_TIMEOUT_MS);
  let ticks = 0;
  for (const line of text.split("\n")) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === undefined || name === "" || name === "total_cpu") continue;
    ticks += Number(value) || 0;
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

interface LoadgenSide {
  readonly ok: number;
  readonly errors: number;
  readonly ops_per_s: number;
  readonly MiB_per_s: number;
  readonly lat_ms_p50: number | null;
  readonly lat_ms_p99: number | null;
  readonly codes?: Readonly<Record<string, number>>;
}

interface LoadgenSummary {
  readonly loadgen_cpu_s: number;
  readonly all: LoadgenSide;
  readonly put: LoadgenSide;
  readonly get: LoadgenSide;
  readonly longest_gap_s?: number;
  readonly longest_gap_at_s?: number;
  readonly errSamples?: readonly string[];
}

async function loadgen(
  args: readonly string[],
  out: string,
  durationS: number,
): Promise<{ summary: LoadgenSummary; serverS: number }> {
  const before = await swiftCpuSeconds();
  await run(
    [process.execPath, LOADGEN_TS, ...args, "--out", out],
    durationS * 1000 + LOADGEN_SLACK_MS,
  );
  const serverS = (await swiftCpuSeconds()) - before;
  const summary = JSON.parse(await readFile(`${out}.json`, "utf8")) as LoadgenSummary;
  return { summary, serverS };
}

async function swiftCell(
  cell: Cell,
  durationS: number,
  resultsDir: string,
  repeat: number,
  samples: string[],
): Promise<SwiftCell> {
  const base = join(resultsDir, `m-r${repeat}-s${cell.sizeBytes}-c${cell.loops}`);
  const container = `m${cell.sizeBytes}-c${cell.loops}`;
  const common = [
    "--size",
    String(cell.sizeBytes),
    "--conc",
    String(cell.loops),
    "--duration",
    String(durationS),
    "--container",
    container,
  ];
  const put = await loadgen(
    ["--mode", "put", ...common, "--acklog", `${base}.acks`],
    `${base}-put`,
    durationS,
  );
  const get = await loadgen(
    ["--mode", "get", ...common, "--known-from", `${base}.acks`, "--verify-get", "0"],
    `${base}-get`,
    durationS,
  );
  const perOp = (seconds: number, ops: number) => (ops > 0 ? (1000 * seconds) / ops : Number.NaN);
  const p = put.summary.put;
  const g = get.summary.get;
  const what = `${cell.sizeBytes / 1024} KiB × ${cell.loops}`;
  for (const [name, side, summary] of [
    ["PUT", p, put.summary],
    ["GET", g, get.summary],
  ] as const) {
    if (side.errors === 0) continue;
    samples.push(
      `${what} ${name}: ${side.errors} errors, status codes ${JSON.stringify(side.codes)}`,
    );
    for (const line of (summary.errSamples ?? []).slice(0, ERROR_SAMPLES_MAX)) {
      samples.push(`${what} ${name}: ${line}`);
    }
  }
  return {
    putOpsPerS: p.ops_per_s,
    getOpsPerS: g.ops_per_s,
    putMiBps: p.MiB_per_s,
    getMiBps: g.MiB_per_s,
    putP50Ms: p.lat_ms_p50 ?? Number.NaN,
    putP99Ms: p.lat_ms_p99 ?? Number.NaN,
    getP50Ms: g.lat_ms_p50 ?? Number.NaN,
    getP99Ms: g.lat_ms_p99 ?? Number.NaN,
    putErrors: p.errors,
    getErrors: g.errors,
    putCpuMsPerOp: perOp(put.serverS, p.ok),
    getCpuMsPerOp: perOp(get.serverS, g.ok),
    putClientCpuMsPerOp: perOp(put.summary.loadgen_cpu_s, p.ok),
    getClientCpuMsPerOp: perOp(get.summary.loadgen_cpu_s, g.ok),
  };
}

function medianCell(cells: readonly SwiftCell[]): SwiftCell {
  const keys = Object.keys(cells[0] ?? {}) as Array<keyof SwiftCell>;
  const entries = keys.map((key) => [key, median(cells.map((cell) => cell[key]))] as const);
  return Object.fromEntries(entries) as unknown as SwiftCell;
}

export async function runSwiftMatrix(
  cells: readonly Cell[],
  repeats: number,
  durationS: number,
  resultsDir: string,
  log: (message: string) => void,
): Promise<{ cells: Map<string, SwiftCell>; errorSamples: string[] }> {
  await mkdir(resultsDir, { recursive: true });
  const perCell = new Map<string, SwiftCell[]>();
  const errorSamples: string[] = [];
  for (let repeat = 1; repeat <= repeats; repeat += 1) {
    await freshSwift();
    for (const cell of cells) {
      const result = await swiftCell(cell, durationS, resultsDir, repeat, errorSamples);
      const key = `${cell.sizeBytes}x${cell.loops}`;
      perCell.set(key, [...(perCell.get(key) ?? []), result]);
      log(
        `Swift r${repeat} ${cell.sizeBytes / 1024} KiB × ${cell.loops}: ` +
          `PUT ${result.putOpsPerS}/s p99 ${result.putP99Ms} ms err ${result.putErrors}, ` +
          `GET ${result.getOpsPerS}/s p99 ${result.getP99Ms} ms err ${result.getErrors}`,
      );
    }
  }
  await rm(resultsDir, { recursive: true, force: true });
  const medians = new Map([...perCell].map(([key, list]) => [key, medianCell(list)]));
  return { cells: medians, errorSamples };
}

export interface SwiftKillTiming {
  readonly durationS: number;
  readonly killAtS: number;
  readonly restartAtS: number;
  readonly loops: number;
  readonly sizeBytes: number;
  readonly prefill: number;
}

function windowRate(csv: string, fromS: number, toS: number): number {
  let count = 0;
  for (const line of csv.trim().split("\n").slice(1)) {
    const [sec, putOk, getOk] = line.split(",").map(Number);
    if (sec === undefined || sec < fromS || sec >= toS) continue;
    count += (putOk ?? 0) + (getOk ?? 0);
  }
  return count / (toS - fromS);
}

/** bench.sh kill: kill -9 of object-2 under a mixed load, then verify every acknowledged PUT. */
export async function runSwiftKill(
  timing: SwiftKillTiming,
  resultsDir: string,
): Promise<SwiftKill> {
  await mkdir(resultsDir, { recursive: true });
  const tag = "storage";
  await run(
    ["bash", BENCH_SH, "kill", String(timing.sizeBytes), tag],
    timing.durationS * 1000 + KILL_SCRIPT_SLACK_MS,
    {
      BUN: process.execPath,
      RES: resultsDir,
      KCONC: String(timing.loops),
      KDUR: String(timing.durationS),
      KTKILL: String(timing.killAtS),
      KTUP: String(timing.restartAtS),
      KPREFILL: String(timing.prefill),
    },
  );
  const base = join(resultsDir, `kill-${tag}-s${timing.sizeBytes}`);
  const summary = JSON.parse(await readFile(`${base}.json`, "utf8")) as LoadgenSummary;
  const verify = JSON.parse(await readFile(`${base}-verify.json`, "utf8")) as {
    acked: number;
    readable_md5_ok: number;
    failed: number;
    failures?: readonly string[];
    errSamples?: readonly string[];
  };
  const csv = await readFile(`${base}.sec.csv`, "utf8");
  const summaryText = await readFile(join(resultsDir, "summary.txt"), "utf8");
  const replicasLine =
    /replicas right after the run[^:]*: (.*)/.exec(summaryText)?.[1]?.trim() ?? "?";
  await rm(resultsDir, { recursive: true, force: true });
  return {
    errors: summary.all.errors,
    longestGapMs: (summary.longest_gap_s ?? Number.NaN) * 1000,
    longestGapAtMs: (summary.longest_gap_at_s ?? Number.NaN) * 1000,
    opsPerSBefore: windowRate(csv, 0, timing.killAtS),
    opsPerSDuring: windowRate(csv, timing.killAtS, timing.restartAtS),
    opsPerSAfter: windowRate(csv, timing.restartAtS, timing.durationS),
    acked: verify.acked,
    verifiedOk: verify.readable_md5_ok,
    verifyFailed: verify.failed,
    replicasLine,
    errorSamples: [
      ...(summary.errSamples ?? []).slice(0, ERROR_SAMPLES_MAX),
      ...(verify.failures ?? []).slice(0, ERROR_SAMPLES_MAX).map((line) => `verify: ${line}`),
      ...(verify.errSamples ?? []).slice(0, ERROR_SAMPLES_MAX).map((line) => `verify: ${line}`),
    ],
  };
}
