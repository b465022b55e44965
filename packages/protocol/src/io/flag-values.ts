/**
 * Where each server flag's value comes from, in one place: the command line, else its
 * environment twin (`--data` ↔ `FTFS_DATA`), else the config file (`--config FILE`, TOML or
 * JSON, keys spelled as the flags are), else the flag's default. The environment overrides
 * only the keys it names. Also the resolved values printed back (`--print-config`) in the
 * file's own format, so the output is itself a config file. Owns reading and checking the
 * file's keys and types; what a value means is each app's to check (cli-flags.ts helpers).
 */

import { readFileSync } from "node:fs";
import { envName, type FlagSpec, parseBooleanFlag, UsageError } from "./cli-flags.ts";

export type FlagSource = "flag" | "environment" | "config" | "default";

/** The flags every server takes besides its own: the config file, and printing it back. */
export const CONFIG_FLAG: FlagSpec = {
  name: "config",
  description: "TOML (or .json) file of these flags' values, keys named as the flags",
  default: "",
};
export const PRINT_CONFIG_FLAG: FlagSpec = {
  name: "print-config",
  description: "print the configuration resolved from flags, environment and file; then exit",
  boolean: true,
  default: "false",
};
export const CONFIG_FLAGS: readonly FlagSpec[] = [CONFIG_FLAG, PRINT_CONFIG_FLAG];
/** Keys that only make sense on a command line: a file naming another file, or itself printed. */
const COMMAND_LINE_ONLY: ReadonlySet<string> = new Set(["config", "print-config", "help"]);
/** A misspelt key within this many edits gets a "did you mean". */
const SUGGESTION_EDITS_MAX = 2;

export interface FlagValues {
  readonly help: boolean;
  /** Every spec's value, as a flag would spell it. */
  readonly values: Readonly<Record<string, string>>;
  readonly sources: Readonly<Record<string, FlagSource>>;
  /** The config file read, or null. */
  readonly configPath: string | null;
}

/**
 * Resolve argv (without the program), the environment and the config file against specs.
 * Throws one UsageError naming every problem found in the keys (unknown, of the wrong type,
 * required and missing); the values' meaning is checked by the caller.
 */
export function readFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  env: Readonly<Record<string, string | undefined>>,
): FlagValues {
  const given = commandLine(argv, specs);
  if (given === "help") return { help: true, values: {}, sources: {}, configPath: null };
  const problems: string[] = [];
  const takesConfig = specs.some((spec) => spec.name === CONFIG_FLAG.name);
  const configPath = takesConfig
    ? (given.get(CONFIG_FLAG.name) ?? env[envName(CONFIG_FLAG.name)] ?? "")
    : "";
  const file =
    configPath === ""
      ? { entries: new Map<string, string>(), problems: [] }
      : loadConfig(configPath, specs);
  problems.push(...file.problems);
  const values: Record<string, string> = {};
  const sources: Record<string, FlagSource> = {};
  for (const spec of specs) {
    const candidates: Array<[FlagSource, string | undefined]> = [
      ["flag", given.get(spec.name)],
      ["environment", env[envName(spec.name)]],
      ["config", file.entries.get(spec.name)],
      ["default", spec.default],
    ];
    const found = candidates.find(([, value]) => value !== undefined);
    if (found === undefined || found[1] === undefined) {
      const inFile = takesConfig ? `, or key '${spec.name}' in the config file` : "";
      problems.push(`flag --${spec.name} (or ${envName(spec.name)}${inFile}) is required`);
      continue;
    }
    values[spec.name] = found[1];
    sources[spec.name] = found[0];
  }
  if (problems.length > 0) throw new UsageError(problems);
  return { help: false, values, sources, configPath: configPath === "" ? null : configPath };
}

/** The values alone, as the bench's and tests' programs want them (`help` when asked). */
export function parseFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> & { help?: "true" } {
  const flags = readFlags(argv, specs, env);
  return flags.help ? { help: "true" } : { ...flags.values };
}

/** The flags given on the command line, or "help"; an unknown or valueless flag throws. */
function commandLine(
  argv: readonly string[],
  specs: readonly FlagSpec[],
): Map<string, string> | "help" {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const given = new Map<string, string>();
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? "";
    if (arg === "--help" || arg === "-h") return "help";
    if (!arg.startsWith("--"))
      throw new UsageError(`unexpected argument '${arg}' (flags start with --)`);
    const [rawName, inlineValue] = splitOnce(arg.slice(2), "=");
    const spec = byName.get(rawName);
    if (spec === undefined) throw new UsageError(`unknown flag --${rawName}; see --help`);
    if (spec.boolean) {
      given.set(rawName, inlineValue ?? "true");
      continue;
    }
    const value = inlineValue ?? argv[index + 1];
    if (value === undefined || (inlineValue === undefined && value.startsWith("--"))) {
      throw new UsageError(`flag --${rawName} needs a value`);
    }
    if (inlineValue === undefined) index += 1;
    given.set(rawName, value);
  }
  return given;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

interface ConfigEntries {
  readonly entries: ReadonlyMap<string, string>;
  readonly problems: readonly string[];
}

/** The file's values as flags spell them, and every problem with its keys (none thrown). */
function loadConfig(path: string, specs: readonly FlagSpec[]): ConfigEntries {
  let document: unknown;
  try {
    document = parseConfigText(path, readFileSync(path, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "not readable by this user"
          : error instanceof Error
            ? error.message
            : String(error);
    return { entries: new Map(), problems: [`config ${path}: ${reason}`] };
  }
  const checked = configEntries(document, specs);
  return {
    entries: checked.entries,
    problems: checked.problems.map((problem) => `config ${path}: ${problem}`),
  };
}

/** JSON for a `.json` file, TOML for any other; a syntax error says which and where. */
export function parseConfigText(path: string, text: string): unknown {
  if (path.endsWith(".json")) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(`not valid JSON: ${(error as Error).message}`);
    }
  }
  try {
    return Bun.TOML.parse(text);
  } catch (error) {
    throw new Error(`not valid TOML: ${(error as Error).message}`);
  }
}

/**
 * A parsed config document's keys checked against the specs and turned into flag values:
 * strings as they are, numbers written out, lists of them comma-joined (as `--join a,b` takes
 * them), booleans for the flags that take no value. One problem per wrong key or value.
 */
export function configEntries(
  document: unknown,
  specs: readonly FlagSpec[],
): { entries: Map<string, string>; problems: string[] } {
  const entries = new Map<string, string>();
  const problems: string[] = [];
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    return {
      entries,
      problems: ["the file must hold keys and values (a TOML table, a JSON object)"],
    };
  }
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  for (const [key, value] of Object.entries(document)) {
    const spec = byName.get(key);
    if (COMMAND_LINE_ONLY.has(key)) {
      problems.push(`key '${key}' belongs on the command line, not in a config file`);
    } else if (spec === undefined) {
      problems.push(`unknown key '${key}'${suggestion(key, [...byName.keys()])}`);
    } else {
      const text = configValueText(spec, value);
      if (text.ok) entries.set(key, text.value);
      else problems.push(`key '${key}' ${text.problem}`);
    }
  }
  return { entries, problems };
}

type ValueText = { ok: true; value: string } | { ok: false; problem: string };

function configValueText(spec: FlagSpec, value: unknown): ValueText {
  if (spec.boolean) {
    return typeof value === "boolean"
      ? { ok: true, value: String(value) }
      : { ok: false, problem: `must be true or false, not ${describeValue(value)}` };
  }
  if (typeof value === "string") return { ok: true, value };
  if (typeof value === "number" && Number.isFinite(value))
    return { ok: true, value: String(value) };
  const scalar = (item: unknown): boolean =>
    typeof item === "string" || (typeof item === "number" && Number.isFinite(item));
  if (Array.isArray(value) && value.every(scalar)) return { ok: true, value: value.join(",") };
  return {
    ok: false,
    problem: `must be a string, a number or a list of them, not ${describeValue(value)}`,
  };
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return "a list of other things";
  if (value === null) return "null";
  if (typeof value === "object") return "a table";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function suggestion(key: string, known: readonly string[]): string {
  let best: { name: string; edits: number } | null = null;
  for (const name of known) {
    if (COMMAND_LINE_ONLY.has(name)) continue;
    const edits = editDistance(key, name);
    if (edits <= SUGGESTION_EDITS_MAX && (best === null || edits < best.edits)) {
      best = { name, edits };
    }
  }
  return best === null
    ? " (keys are the flags' names: see --help)"
    : ` (did you mean '${best.name}'?)`;
}

/** Levenshtein distance; keys are short, so the quadratic table is nothing. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** A problem naming a flag, told where the flag's value came from (unless the command line). */
export function explainSource(flags: FlagValues): (problem: string) => string {
  return (problem) => {
    const name = /--([a-z0-9-]+)/.exec(problem)?.[1];
    if (name === undefined) return problem;
    const source = flags.sources[name];
    if (source === "environment") return `${problem} (from ${envName(name)})`;
    if (source === "config") return `${problem} (from ${flags.configPath})`;
    return problem;
  };
}

/**
 * The resolved values as a TOML config file (`--print-config`): every key in the specs' order
 * with the source of its value beside it. Secret values are never printed, only whether set.
 */
export function formatResolvedConfig(
  program: string,
  specs: readonly FlagSpec[],
  flags: FlagValues,
): string {
  const lines = [
    `# The configuration of \`${program}\`, resolved: flag > environment > config file > default.`,
    `# Config file: ${flags.configPath ?? "none"}. Use this output as one with --config FILE.`,
  ];
  for (const spec of specs) {
    if (COMMAND_LINE_ONLY.has(spec.name)) continue;
    const value = flags.values[spec.name] ?? "";
    const source = flags.sources[spec.name] ?? "default";
    const from = source === "environment" ? `environment ${envName(spec.name)}` : source;
    if (spec.secret === true && value !== "") {
      lines.push(`# ${spec.name} = (set by ${from}; not shown)`);
      continue;
    }
    const written = spec.boolean
      ? String(parseBooleanFlag(spec.name, value))
      : JSON.stringify(value);
    lines.push(`${spec.name} = ${written}  # ${from}`);
  }
  return `${lines.join("\n")}\n`;
}
