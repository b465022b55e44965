/**
 * Command-line flags for the server apps: their specs, `--help`, the usage error, and the
 * parsers of each kind of value (sizes, rates, durations, booleans, address lists), each
 * refusing with one clear line naming the flag. Where a value comes from (flag, environment
 * twin, config file, default) is flag-values.ts's. A usage error exits with status 2.
 */

import { parseAddress } from "../core/names.ts";
import { parseByteSize } from "../core/sizes.ts";
import { parseDurationMs } from "../core/durations.ts";

export interface FlagSpec {
  readonly name: string;
  readonly description: string;
  /** Absent means required. */
  readonly default?: string;
  /** A flag that takes no value. */
  readonly boolean?: boolean;
  /** A value never printed back (`--print-config` says only that it is set). */
  readonly secret?: boolean;
}

/**
 * The user's mistake in flags, environment twins or a config file: each problem is one line the
 * program prints as it is (with its name before it) before it exits with status 2.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === "string" ? [problems] : [...problems];
    super(list.join("\n"));
    this.problems = list;
  }
}

/**
 * Collects every UsageError of a config's values, so one start names every wrong value at
 * once instead of one per attempt. `explain` adds where a value came from (a config file, an
 * environment variable) to a problem that names its flag.
 */
export class UsageProblems {
  private readonly found: string[] = [];
  private readonly explain: (problem: string) => string;

  constructor(explain: (problem: string) => string = (problem) => problem) {
    this.explain = explain;
  }

  /** What `parse` gives, or `fallback` (only so the others can be checked) if it refused. */
  take<T>(parse: () => T, fallback: T): T {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      this.found.push(...error.problems.map(this.explain));
      return fallback;
    }
  }

  throwIfAny(): void {
    if (this.found.length > 0) throw new UsageError(this.found);
  }
}

export function envName(flag: string): string {
  return `FTFS_${flag.toUpperCase().replace(/-/g, "_")}`;
}

export function usage(program: string, summary: string, specs: readonly FlagSpec[]): string {
  const lines = [
    `usage: ${program} [flags]`,
    "",
    summary,
    "",
    "flags (each also read from its environment variable):",
  ];
  for (const spec of specs) {
    const value = spec.boolean ? "" : " VALUE";
    const fallback =
      spec.default === undefined
        ? spec.boolean
          ? ""
          : " (required)"
        : ` (default ${spec.default || '""'})`;
    lines.push(
      `  --${spec.name}${value}`.padEnd(28) +
        `${envName(spec.name)}`.padEnd(22) +
        spec.description +
        fallback,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Parse a positive integer flag value or throw a UsageError naming the flag. */
export function parseIntegerFlag(name: string, value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`flag --${name} must be an integer in ${min}..${max}, got '${value}'`);
  }
  return parsed;
}

/** Parse sizes like 4MiB, 64KiB, 1048576 (core/sizes.ts). */
export function parseBytesFlag(name: string, value: string, min: number, max: number): number {
  const parsed = parseByteSize(value);
  if (!parsed.ok) {
    throw new UsageError(`flag --${name} must be a size such as 4MiB, got '${value}'`);
  }
  return parseIntegerFlag(name, String(parsed.value), min, max);
}

/** The unit a rate may be written with (`32MiB/s`); the number is bytes per second either way. */
const PER_SECOND_SUFFIX = "/s";

/** Parse bytes per second, written `32MiB` or `32MiB/s`. */
export function parseRateFlag(name: string, value: string, min: number, max: number): number {
  const rate = value.trim();
  const bare = rate.endsWith(PER_SECOND_SUFFIX) ? rate.slice(0, -PER_SECOND_SUFFIX.length) : rate;
  return parseBytesFlag(name, bare, min, max);
}

/** The words a boolean flag's environment twin may hold (the flag itself takes no value). */
const TRUE_WORDS: ReadonlySet<string> = new Set(["true", "1", "yes"]);
const FALSE_WORDS: ReadonlySet<string> = new Set(["false", "0", "no", ""]);

/** A flag that takes no value: set, or its environment twin true/false. */
export function parseBooleanFlag(name: string, value: string | undefined): boolean {
  const word = (value ?? "").trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new UsageError(`flag --${name} takes no value (its environment twin: true or false)`);
}

/** A duration (`1h`, `90s`, `250ms`; core/durations.ts) of at least `minMs`. */
export function parseDurationFlag(name: string, value: string | undefined, minMs: number): number {
  const parsed = parseDurationMs(value ?? "");
  if (!parsed.ok) throw new UsageError(`flag --${name}: ${parsed.error.message}`);
  if (parsed.value < minMs) {
    throw new UsageError(
      `flag --${name} must be at least ${formatDurationMs(minMs)}, got '${value}'`,
    );
  }
  return parsed.value;
}

/** A duration as a flag takes it: whole hours, minutes or seconds when it is one (help defaults). */
export function formatDurationMs(durationMs: number): string {
  for (const [unit, scaleMs] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ] as const) {
    if (durationMs > 0 && durationMs % scaleMs === 0) return `${durationMs / scaleMs}${unit}`;
  }
  return `${durationMs}ms`;
}

/** A comma list of host:port addresses, at least `min` of them. */
export function parseAddressListFlag(
  name: string,
  value: string | undefined,
  min: number,
): string[] {
  const addresses = (value ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (addresses.length < min) {
    throw new UsageError(`flag --${name} needs at least ${min} address${min === 1 ? "" : "es"}`);
  }
  for (const address of addresses) {
    if (!parseAddress(address).ok) {
      throw new UsageError(`flag --${name}: '${address}' is not host:port`);
    }
  }
  return addresses;
}
