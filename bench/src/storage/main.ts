/**
 * `bun run bench:storage [--quick] [--with-swift] [--repeats N] [--layouts 1,2] [--only kill]`:
 * FTFS storage groups on real processes, side by side with OpenStack Swift measured in the same run
 * (`--with-swift`; else the figures recorded in shared/peers/README.md, labeled so).
 * (1) 64 KiB and 4 MiB objects, 1 and 100 clients, a PUT phase then a GET phase: rates,
 * latency percentiles, errors, server CPU per operation; the machine's disk-write limit from
 * machine-limits.ts in the same run. (2) kill -9 of a storage group primary under a mixed load,
 * restarted later: errors, the longest silence, rates per window, the node's return to the
 * in-sync set, and every acknowledged PUT read back. Medians over repeats, each on a fresh
 * cluster. `--secure`: clusters with a cluster key, the load's clients logged in as a user;
 * `--secure-pair`: each layout both ways, repeats taking turns, and secure ÷ insecure printed
 * per cell. Every process it starts is stopped and its temporary folder removed, on success,
 * on failure and on Ctrl-C. It waits for a running `bench:directory` first: both need the cores.
 */

import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags, parseIntegerFlag, UsageError } from "@ftfs/protocol/io";
import { CATCH_UP_BYTES_PER_SECOND_DEFAULT } from "@ftfs/storage/core";
import { measureMachineLimitsMedian, type MachineLimits } from "../machine/limits.ts";
import {
  FTFS_CLIENT_INSTANCES,
  runFtfsCatchUp,
  runFtfsKill,
  runFtfsMatrix,
  type CatchUpResult,
  type CatchUpTiming,
  type Cell,
  type CellResult,
  type KillTiming,
  type Layout,
} from "./ftfs.ts";
import { printReport, type FtfsColumn } from "./report.ts";
import {
  cleanSwift,
  cleanSwiftSync,
  recordedSwift,
  runSwiftKill,
  runSwiftMatrix,
  swiftUnavailableReason,
  type SwiftFigures,
  type SwiftKill,
} from "./swift.ts";

const KIB = 1024;
const MIB = 1024 * 1024;
const SMALL_BYTES = 64 * KIB;
const LARGE_BYTES = 4 * MIB;
const CLIENTS_MANY = 100;
const REPLICAS = 3;
const REPEATS_MAX = 20;
const GROUPS_MAX = 4;
const EXIT_SIGINT = 130;
const EXIT_SIGTERM = 143;
/** Another benchmark sharing the 2 cores would halve both: wait for it, checking this often. */
const OTHER_BENCH_PATTERN = "bench/src/directory";
const OTHER_BENCH_POLL_MS = 30_000;
/** Give up waiting for the other benchmark after this long rather than hang a session. */
const OTHER_BENCH_WAIT_MS_MAX = 3 * 60 * 60 * 1000;

const FLAGS = [
  {
    name: "quick",
    description: "1 repeat, 8 s phases, 1 group only",
    boolean: true,
    default: "false",
  },
  {
    name: "with-swift",
    description: "measure Swift in the same run",
    boolean: true,
    default: "false",
  },
  {
    name: "secure",
    description: "clusters with a cluster key: every frame MACed, clients logged in as a user",
    boolean: true,
    default: "false",
  },
  {
    name: "secure-pair",
    description: "every layout without and with a cluster key, back to back: secure ÷ insecure",
    boolean: true,
    default: "false",
  },
  { name: "repeats", description: "repeats per measurement (default 3, quick 1)", default: "" },
  { name: "layouts", description: "storage groups of 3 per cluster, comma-separated", default: "" },
  {
    name: "only",
    description: "which parts to run, comma-separated: matrix, kill, catch-up (default all)",
    default: "matrix,kill,catch-up",
  },
] as const;

/** Which clusters run: insecure, secure (the kill trial's too), or both for each layout. */
type Security = "insecure" | "secure" | "pair";

const PARTS = ["matrix", "kill", "catch-up"] as const;
type Part = (typeof PARTS)[number];

interface Preset {
  readonly security: Security;
  readonly repeats: number;
  readonly phaseS: number;
  readonly layouts: readonly number[];
  readonly limitsProbeBytes: number;
  readonly limitsProbeRuns: number;
  readonly kill: KillTiming;
  readonly catchUp: CatchUpTiming;
  readonly parts: ReadonlySet<Part>;
}

const FULL: Preset = {
  security: "insecure",
  repeats: 3,
  phaseS: 30,
  layouts: [1, 2],
  limitsProbeBytes: 512 * MIB,
  limitsProbeRuns: 3,
  kill: {
    durationMs: 30_000,
    killAtMs: 10_000,
    restartAtMs: 20_000,
    loops: CLIENTS_MANY,
    sizeBytes: SMALL_BYTES,
    prefill: 2_000,
  },
  catchUp: { objects: 3_000, sizeBytes: SMALL_BYTES },
  parts: new Set(PARTS),
};

const QUICK: Preset = {
  security: "insecure",
  repeats: 1,
  phaseS: 8,
  layouts: [1],
  limitsProbeBytes: 256 * MIB,
  limitsProbeRuns: 1,
  kill: {
    durationMs: 15_000,
    killAtMs: 5_000,
    restartAtMs: 10_000,
    loops: CLIENTS_MANY,
    sizeBytes: SMALL_BYTES,
    prefill: 500,
  },
  catchUp: { objects: 1_000, sizeBytes: SMALL_BYTES },
  parts: new Set(PARTS),
};

/** bench.sh matrix's cells, in its order; a layout beyond the first runs the 100-client ones. */
const CELLS: readonly Cell[] = [
  { sizeBytes: SMALL_BYTES, loops: 1 },
  { sizeBytes: SMALL_BYTES, loops: CLIENTS_MANY },
  { sizeBytes: LARGE_BYTES, loops: 1 },
  { sizeBytes: LARGE_BYTES, loops: CLIENTS_MANY },
];

/**
 * Promises the FTFS client library rejected with nobody listening. Bun would print each and
 * end the run with exit code 1 after the table; they are a finding about the library, so the
 * table names them instead (UNHANDLED_SAMPLES_MAX of them, and how many there were).
 */
const unhandledRejections: string[] = [];
let unhandledRejectionCount = 0;
const UNHANDLED_SAMPLES_MAX = 5;

function onUnhandledRejection(reason: unknown): void {
  unhandledRejectionCount += 1;
  const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  const stack = reason instanceof Error ? (reason.stack ?? "").split("\n").slice(1, 4) : [];
  const where = stack.map((line) => line.trim()).join(" < ");
  if (unhandledRejections.length < UNHANDLED_SAMPLES_MAX)
    unhandledRejections.push(`${text} (${where})`);
  log(`unhandled promise rejection: ${text}`);
}

function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function commandLine(argv: readonly string[]): string {
  const viaScript = process.env.npm_lifecycle_event === "bench:storage";
  return [viaScript ? "bun run bench:storage" : "bun bench/src/storage/main.ts", ...argv].join(" ");
}

/**
 * Which code was measured: the git commit, marked when apps/ or packages/ hold uncommitted
 * edits; outside a checkout (a snapshot made with git archive), FTFS_BENCH_REVISION names it.
 */
function revision(): string {
  const head = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { stderr: "ignore" });
  if (head.exitCode !== 0) return process.env.FTFS_BENCH_REVISION ?? "unknown (not a git checkout)";
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "apps", "packages"])
    .stdout.toString()
    .trim();
  const mark = dirty === "" ? "" : " + uncommitted edits in apps/ or packages/";
  return `${head.stdout.toString().trim()}${mark}`;
}

function parsePreset(flags: Record<string, string>): Preset {
  const base = flags.quick === "true" ? QUICK : FULL;
  if (flags.secure === "true" && flags["secure-pair"] === "true")
    throw new UsageError("give --secure or --secure-pair, not both");
  const security: Security =
    flags["secure-pair"] === "true" ? "pair" : flags.secure === "true" ? "secure" : "insecure";
  const repeats = flags.repeats
    ? parseIntegerFlag("repeats", flags.repeats, 1, REPEATS_MAX)
    : base.repeats;
  const layouts = flags.layouts
    ? flags.layouts
        .split(",")
        .map((value) => parseIntegerFlag("layouts", value.trim(), 1, GROUPS_MAX))
    : base.layouts;
  if (layouts.length === 0) throw new UsageError("--layouts needs at least one group count");
  return { ...base, security, repeats, layouts, parts: parseParts(flags.only ?? "") };
}

function parseParts(text: string): Set<Part> {
  const parts = new Set<Part>();
  for (const raw of text.split(",")) {
    const part = PARTS.find((candidate) => candidate === raw.trim());
    if (part === undefined) throw new UsageError(`--only takes ${PARTS.join(", ")}; not '${raw}'`);
    parts.add(part);
  }
  return parts;
}

async function waitForOtherBench(): Promise<void> {
  const deadline = Date.now() + OTHER_BENCH_WAIT_MS_MAX;
  for (;;) {
    const found = Bun.spawnSync(["pgrep", "-f", OTHER_BENCH_PATTERN]).stdout.toString().trim();
    if (found === "") return;
    if (Date.now() > deadline)
      throw new Error(`${OTHER_BENCH_PATTERN} still running (pids ${found})`);
    log(`waiting for ${OTHER_BENCH_PATTERN} to finish (pids ${found.split("\n").join(" ")})`);
    await Bun.sleep(OTHER_BENCH_POLL_MS);
  }
}

function layoutOf(groups: number, secure: boolean): Layout {
  const label = `FTFS ${groups}×${REPLICAS}${secure ? " secure" : ""}`;
  return { label, groups, secure };
}

/** The layouts of one group count: one, or an insecure/secure pair (--secure-pair). */
function layoutsOf(groups: number, security: Security): Layout[] {
  if (security === "pair") return [layoutOf(groups, false), layoutOf(groups, true)];
  return [layoutOf(groups, security === "secure")];
}

async function measureFtfs(preset: Preset, workDir: string): Promise<FtfsColumn[]> {
  const columns: FtfsColumn[] = [];
  for (const [index, groups] of preset.layouts.entries()) {
    await waitForOtherBench();
    const cells = index === 0 ? CELLS : CELLS.filter((cell) => cell.loops === CLIENTS_MANY);
    const layouts = layoutsOf(groups, preset.security);
    const results = await runFtfsMatrix(
      layouts,
      cells,
      preset.repeats,
      preset.phaseS * 1000,
      workDir,
      log,
    );
    for (const layout of layouts) {
      const cellsOf = results.get(layout.label) ?? new Map<string, CellResult[]>();
      const insecureTwin = layout.secure && preset.security === "pair";
      const pairedWith = insecureTwin ? layoutOf(groups, false).label : null;
      columns.push({ label: layout.label, cells: cellsOf, secure: layout.secure, pairedWith });
    }
  }
  return columns;
}

interface SwiftOutcome {
  readonly figures: SwiftFigures;
  readonly note: string;
}

const RECORDED_NOTE =
  "figures recorded in shared/peers/README.md (2026-11-24, median of 3), NOT measured in this run";
const MEASURED_NOTE =
  "measured in this run: Swift 2.30 (Debian), 4 nodes, 3 replicas, tempauth, 1 proxy; " +
  "shared/peers/swift loadgen.ts (bench.sh matrix order, 1 repeat, fresh cluster) " +
  "and bench.sh kill";

async function measureSwift(
  preset: Preset,
  workDir: string,
  state: { swiftStarted: boolean },
): Promise<SwiftOutcome> {
  const reason = swiftUnavailableReason();
  const recorded = recordedSwift();
  if (reason !== null) {
    return { figures: recorded, note: `${RECORDED_NOTE}; Swift could not run: ${reason}` };
  }
  try {
    await waitForOtherBench();
    state.swiftStarted = true;
    const matrixDir = join(workDir, "swift-matrix");
    const matrix = await runSwiftMatrix(CELLS, 1, preset.phaseS, matrixDir, log);
    await waitForOtherBench();
    const k = preset.kill;
    const killTiming = {
      durationS: k.durationMs / 1000,
      killAtS: k.killAtMs / 1000,
      restartAtS: k.restartAtMs / 1000,
      loops: k.loops,
      sizeBytes: k.sizeBytes,
      prefill: k.prefill,
    };
    const kill: SwiftKill = await runSwiftKill(killTiming, join(workDir, "swift-kill"));
    const gapS = (kill.longestGapMs / 1000).toFixed(2);
    log(
      `Swift kill: errors ${kill.errors}, gap ${gapS} s, verified ${kill.verifiedOk}/${kill.acked}`,
    );
    const figures: SwiftFigures = {
      source: "measured",
      cells: matrix.cells,
      kill,
      errorSamples: matrix.errorSamples,
    };
    return { figures, note: MEASURED_NOTE };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`Swift failed: ${message}`);
    return { figures: recorded, note: `${RECORDED_NOTE}; the Swift run failed: ${message}` };
  } finally {
    if (state.swiftStarted) await cleanSwift();
    state.swiftStarted = false;
  }
}

const SECURITY_NOTES: Record<Security, string> = {
  insecure: "no cluster key (anonymous clients, no MACs)",
  secure:
    "cluster key: clients logged in as a user, every frame MACed (a chunk's bytes are " +
    "covered by its SHA-256, checked by the receiver), placement tickets and receipts",
  pair:
    "each layout without and with a cluster key (secure: clients logged in as a user, every " +
    "frame MACed), repeats taking turns; the kill trial runs without",
};

function header(preset: Preset): string[] {
  const when = new Date().toISOString();
  return [
    `code ${revision()}; ${navigator.hardwareConcurrency} cores, bun ${Bun.version}, ${when}`,
    `FTFS medians of ${preset.repeats} repeat(s), each on a fresh cluster; ` +
      `phases ${preset.phaseS} s (PUT, then GET of what was written)`,
    `FTFS: 1 directory node, storage groups of ${REPLICAS} replicas (N×3 = N groups), one disk; ` +
      `load from this process, whose loops share ${FTFS_CLIENT_INSTANCES} FtfsClient instances ` +
      "(one connection per server each, each its own user); GETs stream through a sink that " +
      "keeps nothing (as a download to a file), checked by the client's chunk SHA-256 and length",
    "server CPU = user+sys of every server process (/proc/<pid>/stat) ÷ successful operations; " +
      "load-generator CPU likewise for the process issuing the requests",
    `security: ${SECURITY_NOTES[preset.security]}`,
  ];
}

function killShapes(preset: Preset): { ftfs: string; swift: string } {
  const k = preset.kill;
  const shape =
    `${k.loops} clients, 50% PUT / 50% GET of ${k.sizeBytes / KIB} KiB, ` +
    `${k.durationMs / 1000} s, ` +
    `kill at ${k.killAtMs / 1000} s, restart at ${k.restartAtMs / 1000} s, ` +
    `${k.prefill} objects written before`;
  return {
    ftfs: `primary of the one group (1×3); ${shape}; every acknowledged PUT compared bytewise`,
    swift: "bench.sh kill: object-2 of 4 killed; same shape; every acknowledged PUT md5-checked",
  };
}

async function run(
  argv: readonly string[],
  preset: Preset,
  withSwift: boolean,
  workDir: string,
  state: { swiftStarted: boolean },
): Promise<void> {
  await waitForOtherBench();
  const probes = `${preset.limitsProbeRuns} × ${preset.limitsProbeBytes / MIB} MiB`;
  log(`measuring machine limits (${probes})`);
  const limitsDir = join(workDir, "limits");
  const limits: MachineLimits = (
    await measureMachineLimitsMedian(limitsDir, preset.limitsProbeBytes, preset.limitsProbeRuns)
  ).median;
  const ftfs = preset.parts.has("matrix") ? await measureFtfs(preset, workDir) : [];
  await waitForOtherBench();
  const kill = preset.parts.has("kill")
    ? await runFtfsKill(preset.security === "secure", preset.kill, preset.repeats, workDir, log)
    : [];
  if (preset.parts.has("catch-up")) {
    await waitForOtherBench();
    summarizeCatchUps(await runFtfsCatchUp(preset.catchUp, preset.repeats, workDir, log), preset);
  }
  const swift: SwiftOutcome = withSwift
    ? await measureSwift(preset, workDir, state)
    : { figures: recordedSwift(), note: `${RECORDED_NOTE} (no --with-swift)` };
  const shapes = killShapes(preset);
  printReport({
    command: commandLine(argv),
    header: header(preset),
    cells: CELLS,
    ftfs,
    swift: swift.figures,
    swiftNote: swift.note,
    limits,
    replicas: REPLICAS,
    kill,
    killShape: shapes.ftfs,
    swiftKillShape: shapes.swift,
    unhandledRejections: { count: unhandledRejectionCount, samples: unhandledRejections },
  });
}

/** The catch-up trial's medians, and the copy rate as a share of the node's default limit. */
function summarizeCatchUps(results: readonly CatchUpResult[], preset: Preset): void {
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const rates = results.flatMap((r) =>
    r.catchUp === null || r.catchUp.tookMs <= 0
      ? []
      : [r.catchUp.bytesCopied / MIB / (r.catchUp.tookMs / 1000)],
  );
  const inSync = results.flatMap((r) => (r.inSyncAfterMs === null ? [] : [r.inSyncAfterMs / 1000]));
  const limitMiBps = CATCH_UP_BYTES_PER_SECOND_DEFAULT / MIB;
  const rate = median(rates) ?? Number.NaN;
  log(
    `FTFS catch-up (${preset.catchUp.objects} × ${preset.catchUp.sizeBytes / KIB} KiB missed by a ` +
      `backup, no client load; medians of ${results.length}): in sync ` +
      `${(median(inSync) ?? Number.NaN).toFixed(2)} s after its restart, copy ` +
      `${rate.toFixed(1)} MiB/s = ${((100 * rate) / limitMiBps).toFixed(0)}% of the ` +
      `${limitMiBps} MiB/s default --catch-up-rate`,
  );
}

async function main(): Promise<void> {
  const argv = Bun.argv.slice(2);
  const flags = parseFlags(argv, FLAGS);
  if (flags.help === "true") {
    console.log(
      "usage: bun run bench:storage [--quick] [--with-swift] [--secure | --secure-pair] " +
        "[--repeats N] [--layouts 1,2] [--only matrix,kill,catch-up]",
    );
    return;
  }
  const preset = parsePreset(flags);
  const withSwift = flags["with-swift"] === "true";
  log(`$ ${commandLine(argv)}`);
  const workDir = await mkdtemp(join(tmpdir(), "ftfs-bench-storage-"));
  const state = { swiftStarted: false };
  // Nodes watch FTFS_PARENT_PID and stop themselves once we are gone; Swift's servers do not.
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping Swift if started, removing ${workDir}`);
    if (state.swiftStarted) cleanSwiftSync();
    rmSync(workDir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? EXIT_SIGINT : EXIT_SIGTERM);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("unhandledRejection", onUnhandledRejection);
  try {
    await run(argv, preset, withSwift, workDir, state);
  } finally {
    if (state.swiftStarted) await cleanSwift();
    rmSync(workDir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("unhandledRejection", onUnhandledRejection);
  }
}

await main();
