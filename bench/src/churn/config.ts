/**
 * The churn bench's options: command-line flags, the file-size distribution and the operation
 * mix, with their defaults. Pure parsing; starts nothing and reads no file.
 */

import { parseByteSize } from "@ftfs/protocol/core";

/** 100 clients: the seed's picture and Swift's kill test both use this many. */
export const CLIENTS_DEFAULT = 100;
export const QUICK_CLIENTS = 20;
/** Long enough for five churn events, each with time to recover before the next. */
export const DURATION_S_DEFAULT = 100;
/** CI runs the quick mode; ~20 s of load keeps the whole test under a minute on 2 cores. */
export const QUICK_DURATION_S = 20;
/**
 * Many small files and a few large ones, as real file stores see; weights are relative. The
 * 4 MiB tail crosses the default chunk size, so multi-chunk uploads happen during churn.
 */
export const SIZES_DEFAULT = "4KiB:40,64KiB:35,256KiB:15,1MiB:8,4MiB:2";
export const MIX_DEFAULT = "upload:25,update:25,read:40,list:10";

export type OpKind = "upload" | "update" | "read" | "list";
export const OP_KINDS: readonly OpKind[] = ["upload", "update", "read", "list"];

export interface Weighted<T> {
  readonly value: T;
  readonly weight: number;
}

export interface BenchOptions {
  readonly clients: number;
  readonly durationS: number;
  readonly quick: boolean;
  /** "default", "none" or a path to a schedule file. */
  readonly churn: string;
  readonly sizes: readonly Weighted<number>[];
  readonly mix: readonly Weighted<OpKind>[];
  readonly outDir: string;
  readonly keep: boolean;
  /** Skip the machine-limits probe (the CI test: it costs seconds and asserts nothing). */
  readonly skipLimits: boolean;
  readonly seed: number;
}

export function parseSize(text: string): number {
  const parsed = parseByteSize(text);
  if (!parsed.ok) throw new Error(`bad size: ${parsed.error.message}`);
  return parsed.value;
}

function parseWeighted<T>(text: string, parseValue: (raw: string) => T): Weighted<T>[] {
  const entries = text.split(",").map((part) => {
    const [raw, weightText] = part.split(":");
    const weight = Number(weightText ?? "1");
    if (raw === undefined || !(weight >= 0)) throw new Error(`bad weighted entry '${part}'`);
    return { value: parseValue(raw), weight };
  });
  if (!entries.some((entry) => entry.weight > 0))
    throw new Error(`no positive weight in '${text}'`);
  return entries;
}

export function parseSizes(text: string): Weighted<number>[] {
  return parseWeighted(text, parseSize);
}

export function parseMix(text: string): Weighted<OpKind>[] {
  return parseWeighted(text, (raw) => {
    const kind = OP_KINDS.find((candidate) => candidate === raw.trim());
    if (kind === undefined) throw new Error(`bad op '${raw}' (one of ${OP_KINDS.join(", ")})`);
    return kind;
  });
}

/** Draw from a weighted list with a uniform number in [0, 1). */
export function pickWeighted<T>(entries: readonly Weighted<T>[], uniform: number): T {
  const total = entries.reduce((sum, entry) => sum + entry.weight, 0);
  let left = uniform * total;
  for (const entry of entries) {
    left -= entry.weight;
    if (left < 0) return entry.value;
  }
  const last = entries.at(-1);
  if (last === undefined) throw new Error("empty weighted list");
  return last.value;
}

export const USAGE = `bun run bench [flags]
  --clients N        concurrent clients (default ${CLIENTS_DEFAULT}; --quick: ${QUICK_CLIENTS})
  --duration-s S     seconds of load (default ${DURATION_S_DEFAULT}; --quick: ${QUICK_DURATION_S})
  --quick            short run for CI: ${QUICK_CLIENTS} clients, ~${QUICK_DURATION_S} s, short churn
  --churn X          default | none | <file> (lines "<at-s> <action> <target>" or JSON)
  --sizes LIST       size:weight,... (default ${SIZES_DEFAULT})
  --mix LIST         op:weight,... (default ${MIX_DEFAULT})
  --out DIR          output folder (default bench-results/<timestamp>/)
  --keep             keep the cluster's data folder
  --skip-limits      do not measure the machine's disk and loopback limits
  --seed N           seed for sizes, ops and names`;

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-");
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  const SWITCHES = new Set(["--quick", "--keep", "--skip-limits", "--help"]);
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index] ?? "";
    if (SWITCHES.has(flag)) {
      switches.add(flag);
      continue;
    }
    const value = argv[index + 1];
    if (!flag.startsWith("--") || value === undefined)
      throw new Error(`bad argument '${flag}'\n${USAGE}`);
    flags.set(flag, value);
    index += 1;
  }
  if (switches.has("--help")) throw new Error(USAGE);
  const quick = switches.has("--quick");
  const number = (flag: string, fallback: number): number => {
    const value = Number(flags.get(flag) ?? fallback);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} wants a positive number`);
    return value;
  };
  return {
    clients: Math.floor(number("--clients", quick ? QUICK_CLIENTS : CLIENTS_DEFAULT)),
    durationS: number("--duration-s", quick ? QUICK_DURATION_S : DURATION_S_DEFAULT),
    quick,
    churn: flags.get("--churn") ?? "default",
    sizes: parseSizes(flags.get("--sizes") ?? SIZES_DEFAULT),
    mix: parseMix(flags.get("--mix") ?? MIX_DEFAULT),
    outDir: flags.get("--out") ?? `bench-results/${timestamp()}`,
    keep: switches.has("--keep"),
    skipLimits: switches.has("--skip-limits"),
    seed: Math.floor(number("--seed", Date.now() % 1_000_000_007)),
  };
}
