/**
 * `bun run bench:directory [--quick] [--only failover,commits,scale,catchup]
 * [--catchup-files N]`: the Raft-replicated
 * directory group on real processes. (1) kill -9 of the directory primary under upload load:
 * time to the new primary's first acknowledgement, longest silence, client errors, the killed
 * node's catch-up; (2) metadata-only commit rate with many clients and with one, as a ratio of
 * the machine's fdatasync rate measured in the same run on the same filesystem; (3) a directory
 * holding a million files: listings, commits, memory, file and snapshot sizes; (4, only when
 * asked) a new member catching up from the snapshot image of a large directory while clients
 * commit: time, each process's peak RSS, the commit rate before and during. Prints the
 * command first, one table per part, and a summary. Every process it starts is stopped, and its
 * temporary folder removed, on success, on failure and on Ctrl-C.
 */

import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags, UsageError } from "@ftfs/protocol/io";
import { runCatchup, type CatchupOptions } from "./catchup.ts";
import { runCommits, type CommitOptions } from "./commits.ts";
import { runFailover, type FailoverOptions } from "./failover.ts";
import { log } from "./probe.ts";
import {
  printCatchup,
  printCommits,
  printFailover,
  printScale,
  printSummary,
  type Results,
} from "./report.ts";
import { runScale, type ScaleOptions } from "./scale.ts";

const PARTS = ["failover", "commits", "scale", "catchup"] as const;
/** What runs without --only: the catch-up of a large directory takes long, so it is asked for. */
const DEFAULT_PARTS = ["failover", "commits", "scale"] as const;
type Part = (typeof PARTS)[number];
const EXIT_SIGINT = 130;
const EXIT_SIGTERM = 143;

const FLAGS = [
  {
    name: "quick",
    description: "few trials, short phases (< 2 min)",
    boolean: true,
    default: "false",
  },
  {
    name: "only",
    description: `parts to run, comma-separated, of ${PARTS.join(", ")}`,
    default: DEFAULT_PARTS.join(","),
  },
  {
    name: "catchup-files",
    description: "files in the directory the new member catches up on (default: the preset's)",
    default: "",
  },
] as const;

interface Preset {
  readonly failover: FailoverOptions;
  readonly commits: CommitOptions;
  readonly scale: ScaleOptions;
  readonly catchup: CatchupOptions;
}

const FULL: Preset = {
  failover: {
    trials: 7,
    loops: 10,
    steadyAcks: 50,
    steadyMs: 2_000,
    acksAfterTakeover: 50,
    tailMs: 1_000,
  },
  commits: {
    clients: 100,
    windowMs: 10_000,
    sequentialWindowMs: 5_000,
    fsyncWindowMs: 3_000,
    fsyncRuns: 3,
  },
  scale: {
    files: 1_000_000,
    users: 1_000,
    bigUserFiles: 10_000,
    midUserFiles: 1_000,
    listRepeats: 200,
    commits: 500,
  },
  // The aim: a new member of a 10,000,000-file directory, 100 clients committing.
  catchup: { files: 10_000_000, users: 1_000, clients: 100 },
};

const QUICK: Preset = {
  failover: {
    trials: 2,
    loops: 10,
    steadyAcks: 20,
    steadyMs: 1_000,
    acksAfterTakeover: 20,
    tailMs: 300,
  },
  commits: {
    clients: 100,
    windowMs: 3_000,
    sequentialWindowMs: 2_000,
    fsyncWindowMs: 1_000,
    fsyncRuns: 3,
  },
  scale: {
    files: 100_000,
    users: 100,
    bigUserFiles: 10_000,
    midUserFiles: 1_000,
    listRepeats: 50,
    commits: 100,
  },
  catchup: { files: 200_000, users: 100, clients: 100 },
};

/** The command as typed: through the package script when `bun run` started us. */
function commandLine(argv: readonly string[]): string {
  const viaScript = process.env.npm_lifecycle_event === "bench:directory";
  const program = viaScript ? "bun run bench:directory" : "bun bench/src/directory/main.ts";
  return [program, ...argv].join(" ");
}

function parseParts(value: string): Set<Part> {
  const parts = new Set<Part>();
  for (const raw of value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")) {
    const part = PARTS.find((candidate) => candidate === raw);
    if (part === undefined) throw new UsageError(`--only takes ${PARTS.join(", ")}; got '${raw}'`);
    parts.add(part);
  }
  return parts;
}

async function runParts(
  parts: ReadonlySet<Part>,
  preset: Preset,
  workDir: string,
): Promise<Results> {
  const results: Results = { failover: null, commits: null, scale: null, catchup: null };
  if (parts.has("failover")) {
    results.failover = await runFailover(preset.failover, workDir);
    printFailover(results.failover, preset.failover);
  }
  if (parts.has("commits")) {
    results.commits = await runCommits(preset.commits, workDir);
    printCommits(results.commits, preset.commits);
  }
  if (parts.has("scale")) {
    results.scale = await runScale(preset.scale, workDir);
    printScale(results.scale);
  }
  if (parts.has("catchup")) {
    results.catchup = await runCatchup(preset.catchup, workDir);
    printCatchup(results.catchup);
  }
  return results;
}

async function main(): Promise<void> {
  const argv = Bun.argv.slice(2);
  const flags = parseFlags(argv, FLAGS);
  if (flags.help === "true") {
    console.log(
      "usage: bun run bench:directory [--quick] [--only failover,commits,scale,catchup] " +
        "[--catchup-files N]",
    );
    return;
  }
  const base = flags.quick === "true" ? QUICK : FULL;
  const catchupFiles = flags["catchup-files"] ?? "";
  if (catchupFiles !== "" && !/^[1-9]\d*$/.test(catchupFiles)) {
    throw new UsageError(`--catchup-files takes a positive count of files; got '${catchupFiles}'`);
  }
  const preset: Preset =
    catchupFiles === ""
      ? base
      : { ...base, catchup: { ...base.catchup, files: Number(catchupFiles) } };
  const parts = parseParts(flags.only ?? "");
  console.log(`$ ${commandLine(argv)}`);
  const cores = navigator.hardwareConcurrency;
  console.log(`${cores} cores, bun ${Bun.version}, ${new Date().toISOString()}`);
  const workDir = await mkdtemp(join(tmpdir(), "ftfs-bench-directory-"));
  // Nodes watch FTFS_PARENT_PID and stop themselves once we are gone; the folder is ours.
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: removing ${workDir}`);
    rmSync(workDir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? EXIT_SIGINT : EXIT_SIGTERM);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const startMs = performance.now();
  try {
    const results = await runParts(parts, preset, workDir);
    printSummary(results, performance.now() - startMs);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

await main();
