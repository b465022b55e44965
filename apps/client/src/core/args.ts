/**
 * The command line as a typed value: argv (or one line of the interactive shell) becomes a
 * Command, or a usage error naming what is wrong and which help to show. Pure; nothing here
 * reads the session or the environment: the caller fills the gaps (uid, cluster) afterwards.
 */

import { assertNever, BASIS_POINTS_MAX, parseAddress, parseByteSize } from "@ftfs/protocol/core";

const BASIS_POINTS_PER_PERCENT = 100;

export type ReadTarget =
  | { readonly kind: "stdout" }
  | { readonly kind: "file"; readonly path: string };
export type ListSource = "directory" | "storage";

export const HELP_TOPICS = [
  "main",
  "c",
  "a",
  "r",
  "d",
  "put",
  "get",
  "ls",
  "rm",
  "status",
  "rebalance",
  "admin",
  "key",
  "whoami",
  "logout",
  "shell",
] as const;
export type HelpTopic = (typeof HELP_TOPICS)[number];

/** `uid: null` means "the session's user, or --user"; the runner resolves it. */
export type Command =
  | {
      readonly kind: "connect";
      readonly uid: string;
      /** Where the secret is (else FTFS_SECRET, else a prompt on a terminal). */
      readonly secretFile: string | null;
    }
  | {
      readonly kind: "upload";
      readonly uid: string | null;
      /** Local paths; `-` alone is standard input (then `as` names it). */
      readonly files: readonly string[];
      readonly as: string | null;
      /** `-r`: each path is a folder, uploaded with everything under it. */
      readonly recursive: boolean;
    }
  | {
      readonly kind: "read";
      readonly uid: string | null;
      readonly name: string;
      readonly target: ReadTarget;
      /** An older kept version (`--version N`); null: the newest. */
      readonly version: number | null;
      /** Replace a local file that is already there. */
      readonly force: boolean;
    }
  | {
      readonly kind: "list";
      readonly uid: string | null;
      readonly from: ListSource;
      /** One directory node's applied state, not a linearizable read through the primary. */
      readonly stale: boolean;
    }
  | { readonly kind: "remove"; readonly uid: string | null; readonly name: string }
  | { readonly kind: "status"; readonly watch: boolean }
  | {
      readonly kind: "rebalance";
      /** Null: the directory's default threshold. */
      readonly thresholdBasisPoints: number | null;
    }
  | {
      readonly kind: "userAdd";
      readonly uid: string;
      readonly admin: boolean;
      readonly quotaBytes: number | null;
      readonly quotaFiles: number | null;
    }
  | { readonly kind: "userRemove"; readonly uid: string }
  | { readonly kind: "userList" }
  | { readonly kind: "directoryList" }
  | { readonly kind: "storageList" }
  | {
      readonly kind: "storageDrain";
      readonly node: string;
      readonly cancel: boolean;
      /** Follow the drain until the node has left its group. */
      readonly wait: boolean;
    }
  | {
      readonly kind: "directoryChange";
      readonly change: "add" | "remove";
      readonly node: string;
      readonly address: string | null;
    }
  /** S3 access keys: the acting user's own (uid null), or any user's as an admin. */
  | { readonly kind: "keyCreate"; readonly uid: string | null; readonly asAdmin: boolean }
  | { readonly kind: "keyList"; readonly uid: string | null; readonly asAdmin: boolean }
  | {
      readonly kind: "keyRemove";
      readonly uid: string | null;
      readonly accessKeyId: string;
      readonly asAdmin: boolean;
    }
  /** Who commands act as, on which cluster, and every other login kept here. */
  | { readonly kind: "whoami" }
  /** Forget a user's login here (null: the current user's); `all`: the whole session. */
  | { readonly kind: "logout"; readonly uid: string | null; readonly all: boolean }
  | { readonly kind: "shell" }
  /** `ftfs --version`: this program's version. */
  | { readonly kind: "version" }
  | { readonly kind: "help"; readonly topic: HelpTopic };

export interface GlobalOptions {
  readonly json: boolean;
  /** From --cluster; null means "FTFS_CLUSTER, else the session's, else the local cluster". */
  readonly cluster: readonly string[] | null;
  /** From --cluster-key-file: act as an admin node (else FTFS_CLUSTER_KEY, else the session). */
  readonly clusterKeyFile: string | null;
  /** From --tls-ca: connect with TLS, trusting this CA file (else FTFS_TLS_CA; else plain TCP). */
  readonly tlsCa: string | null;
}

export interface Invocation {
  readonly command: Command;
  readonly options: GlobalOptions;
}

export type ParseResult =
  | { readonly ok: true; readonly value: Invocation }
  | { readonly ok: false; readonly message: string; readonly topic: HelpTopic };

type ValueFlag =
  | "cluster"
  | "user"
  | "from"
  | "as"
  | "output"
  | "threshold"
  | "secretFile"
  | "quotaBytes"
  | "quotaFiles"
  | "clusterKeyFile"
  | "tlsCa"
  | "version";
type BoolFlag =
  | "json"
  | "help"
  | "stale"
  | "admin"
  | "watch"
  | "all"
  | "recursive"
  | "force"
  | "cancel"
  | "wait";
/** The flags a command may refuse: --cluster, --json and --help apply everywhere. */
type CommandFlag = ValueFlag | Exclude<BoolFlag, "json" | "help">;

const VALUE_FLAGS: Readonly<Record<string, ValueFlag>> = {
  "--cluster": "cluster",
  "--user": "user",
  "-u": "user",
  "--from": "from",
  "--as": "as",
  "--output": "output",
  "-o": "output",
  "--threshold": "threshold",
  "--secret-file": "secretFile",
  "--quota-bytes": "quotaBytes",
  "--quota-files": "quotaFiles",
  "--cluster-key-file": "clusterKeyFile",
  "--tls-ca": "tlsCa",
  "--version": "version",
};
const BOOL_FLAGS: Readonly<Record<string, BoolFlag>> = {
  "--json": "json",
  "--help": "help",
  "-h": "help",
  "--stale": "stale",
  "--admin": "admin",
  "--watch": "watch",
  "--all": "all",
  "-r": "recursive",
  "--recursive": "recursive",
  "--force": "force",
  "-f": "force",
  "--cancel": "cancel",
  "--wait": "wait",
};

const SEED_ACTIONS = new Set(["c", "a", "r", "d"]);
const VERBS = new Set([
  "put",
  "get",
  "ls",
  "rm",
  "status",
  "rebalance",
  "admin",
  "key",
  "whoami",
  "logout",
  "shell",
  "help",
]);

interface Tokens {
  readonly positionals: string[];
  readonly values: Partial<Record<ValueFlag, string>>;
  readonly flags: Set<BoolFlag>;
}

class UsageProblem extends Error {
  readonly topic: HelpTopic;
  constructor(message: string, topic: HelpTopic = "main") {
    super(message);
    this.topic = topic;
  }
}

/** Split argv into positionals and flags; flags may come anywhere, `--` ends them. */
function tokenize(argv: readonly string[]): Tokens {
  const tokens: Tokens = { positionals: [], values: {}, flags: new Set() };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? "";
    if (arg === "--") {
      tokens.positionals.push(...argv.slice(index + 1));
      break;
    }
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = equals > 0 ? arg.slice(0, equals) : arg;
    const valueFlag = VALUE_FLAGS[name];
    const boolFlag = BOOL_FLAGS[name];
    if (valueFlag !== undefined) {
      const value = equals > 0 ? arg.slice(equals + 1) : argv[index + 1];
      if (value === undefined) throw new UsageProblem(`${name} needs a value`);
      if (equals <= 0) index += 1;
      tokens.values[valueFlag] = value;
    } else if (boolFlag !== undefined && equals <= 0) {
      tokens.flags.add(boolFlag);
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new UsageProblem(`unknown flag ${name}`);
    } else {
      tokens.positionals.push(arg);
    }
  }
  return tokens;
}

/** `host:port[,host:port…]` → addresses, each checked. */
export function parseClusterList(
  text: string,
): { ok: true; value: string[] } | { ok: false; message: string } {
  const addresses = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (addresses.length === 0) return { ok: false, message: "the cluster address list is empty" };
  for (const address of addresses) {
    const parsed = parseAddress(address);
    if (!parsed.ok) return { ok: false, message: `cluster address '${address}' is not host:port` };
  }
  return { ok: true, value: addresses };
}

export function parseArgs(argv: readonly string[]): ParseResult {
  // `--version` alone is the program's; after a command it takes a file's version number.
  if (argv.length > 0 && argv.every((arg) => arg === "--version" || arg === "--json")) {
    if (argv.filter((arg) => arg === "--version").length === 1) {
      const options = {
        json: argv.includes("--json"),
        cluster: null,
        clusterKeyFile: null,
        tlsCa: null,
      };
      return { ok: true, value: { command: { kind: "version" }, options } };
    }
  }
  try {
    const tokens = tokenize(argv);
    const command = parseCommand(tokens);
    let cluster: string[] | null = null;
    if (tokens.values.cluster !== undefined) {
      const parsed = parseClusterList(tokens.values.cluster);
      if (!parsed.ok) throw new UsageProblem(parsed.message);
      cluster = parsed.value;
    }
    const clusterKeyFile = tokens.values.clusterKeyFile ?? null;
    const tlsCa = tokens.values.tlsCa ?? null;
    const options = { json: tokens.flags.has("json"), cluster, clusterKeyFile, tlsCa };
    return { ok: true, value: { command, options } };
  } catch (error) {
    if (error instanceof UsageProblem)
      return { ok: false, message: error.message, topic: error.topic };
    throw error;
  }
}

function parseCommand(tokens: Tokens): Command {
  const [first, second] = tokens.positionals;
  const wantsHelp = tokens.flags.has("help");
  if (first === undefined) {
    if (wantsHelp) return { kind: "help", topic: "main" };
    allowOnly(tokens, [], "shell");
    return { kind: "shell" };
  }
  if (VERBS.has(first)) {
    const topic = helpTopicOf(first);
    if (wantsHelp) return { kind: "help", topic };
    return parseVerb(first, tokens.positionals.slice(1), tokens, topic);
  }
  if (second === undefined) {
    if (wantsHelp) return { kind: "help", topic: "main" };
    throw new UsageProblem(
      `unknown command '${first}' ` +
        "(use put, get, ls, rm, status, whoami, logout, rebalance, admin, key, shell, " +
        "or <uid> c|a|r|d)",
    );
  }
  if (!SEED_ACTIONS.has(second)) {
    throw new UsageProblem(`unknown action '${second}' for user '${first}' (actions: c, a, r, d)`);
  }
  const topic = helpTopicOf(second);
  if (wantsHelp) return { kind: "help", topic };
  if (tokens.values.user !== undefined)
    throw new UsageProblem("--user is for put/get/ls/rm; here the user comes first", topic);
  return parseSeed(first, second, tokens.positionals.slice(2), tokens, topic);
}

function helpTopicOf(word: string): HelpTopic {
  return HELP_TOPICS.find((topic) => topic === word) ?? "main";
}

function parseSeed(
  uid: string,
  action: string,
  rest: readonly string[],
  tokens: Tokens,
  topic: HelpTopic,
): Command {
  switch (action) {
    case "c":
      allowOnly(tokens, ["secretFile"], topic);
      expectCount(rest, 0, 0, "c takes no arguments", topic);
      return { kind: "connect", uid, secretFile: tokens.values.secretFile ?? null };
    case "a":
      allowOnly(tokens, ["as", "recursive"], topic);
      return uploadCommand(uid, rest, tokens, topic);
    case "r":
      allowOnly(tokens, ["output", "version", "force"], topic);
      expectCount(rest, 1, 1, "r takes exactly one file name", topic);
      return {
        kind: "read",
        uid,
        name: rest[0] ?? "",
        target: readTarget(tokens.values.output, null),
        version: versionOf(tokens.values.version, topic),
        force: tokens.flags.has("force"),
      };
    case "d":
      allowOnly(tokens, ["from", "stale"], topic);
      expectCount(rest, 0, 0, "d takes no arguments (did you mean --from storage?)", topic);
      return listCommand(uid, tokens, topic);
    default:
      throw new UsageProblem(`unknown action '${action}'`, topic);
  }
}

function parseVerb(
  verb: string,
  rest: readonly string[],
  tokens: Tokens,
  topic: HelpTopic,
): Command {
  const uid = tokens.values.user ?? null;
  switch (verb) {
    case "put":
      allowOnly(tokens, ["as", "user", "recursive"], topic);
      return uploadCommand(uid, rest, tokens, topic);
    case "get":
      allowOnly(tokens, ["output", "user", "version", "force"], topic);
      expectCount(rest, 1, 1, "get takes exactly one file name", topic);
      return {
        kind: "read",
        uid,
        name: rest[0] ?? "",
        target: readTarget(tokens.values.output, lastPart(rest[0] ?? "")),
        version: versionOf(tokens.values.version, topic),
        force: tokens.flags.has("force"),
      };
    case "ls":
      allowOnly(tokens, ["from", "user", "stale"], topic);
      expectCount(rest, 0, 0, "ls takes no arguments", topic);
      return listCommand(uid, tokens, topic);
    case "rm":
      allowOnly(tokens, ["user"], topic);
      expectCount(rest, 1, 1, "rm takes exactly one file name", topic);
      return { kind: "remove", uid, name: rest[0] ?? "" };
    case "status":
      allowOnly(tokens, ["watch"], topic);
      expectCount(rest, 0, 0, "status takes no arguments", topic);
      return { kind: "status", watch: tokens.flags.has("watch") };
    case "rebalance":
      allowOnly(tokens, ["threshold"], topic);
      expectCount(rest, 0, 0, "rebalance takes no arguments", topic);
      return { kind: "rebalance", thresholdBasisPoints: thresholdOf(tokens.values.threshold) };
    case "admin":
      return adminCommand(rest, tokens, topic);
    case "key":
      allowOnly(tokens, ["user"], topic);
      return keyCommand(uid, rest, false, topic);
    case "whoami":
      allowOnly(tokens, [], topic);
      expectCount(rest, 0, 0, "whoami takes no arguments", topic);
      return { kind: "whoami" };
    case "logout": {
      allowOnly(tokens, ["all"], topic);
      expectCount(rest, 0, 1, "logout takes at most one uid", topic);
      const all = tokens.flags.has("all");
      if (all && rest.length > 0) throw new UsageProblem("logout --all takes no uid", topic);
      return { kind: "logout", uid: rest[0] ?? null, all };
    }
    case "shell":
      allowOnly(tokens, [], topic);
      expectCount(rest, 0, 0, "shell takes no arguments", topic);
      return { kind: "shell" };
    case "help":
      refuseStale(tokens, topic);
      expectCount(rest, 0, 1, "help takes at most one topic", topic);
      return { kind: "help", topic: rest[0] === undefined ? "main" : knownTopic(rest[0]) };
    default:
      throw new UsageProblem(`unknown command '${verb}'`);
  }
}

/**
 * `key create|ls|rm <id>` (the acting user's S3 access keys) and, as an admin, `admin key
 * create|ls <uid>` and `admin key rm <uid> <id>`.
 */
function keyCommand(
  uid: string | null,
  rest: readonly string[],
  asAdmin: boolean,
  topic: HelpTopic,
): Command {
  const [action, ...operands] = rest;
  const prefix = asAdmin ? "admin key" : "key";
  const ownerArgs = asAdmin ? 1 : 0;
  const owner = asAdmin ? (operands[0] ?? null) : uid;
  switch (action) {
    case "create":
    case "ls":
      expectCount(
        operands,
        ownerArgs,
        ownerArgs,
        `${prefix} ${action} takes ${asAdmin ? "one uid" : "no arguments"}`,
        topic,
      );
      return { kind: action === "create" ? "keyCreate" : "keyList", uid: owner, asAdmin };
    case "rm":
      expectCount(
        operands,
        ownerArgs + 1,
        ownerArgs + 1,
        `${prefix} rm takes ${asAdmin ? "a uid and " : ""}an access key id`,
        topic,
      );
      return { kind: "keyRemove", uid: owner, accessKeyId: operands[ownerArgs] ?? "", asAdmin };
    default:
      throw new UsageProblem(
        `${prefix} takes: create${asAdmin ? " <uid>" : ""}, ls${asAdmin ? " <uid>" : ""}, rm ${asAdmin ? "<uid> " : ""}<access key id>`,
        topic,
      );
  }
}

/**
 * `admin user add|rm|ls`: the users of a secure cluster; `admin key …`: anyone's keys;
 * `admin directory ls|add|remove`: the directory group's members.
 */
function adminCommand(rest: readonly string[], tokens: Tokens, topic: HelpTopic): Command {
  const [noun, action, uid] = rest;
  if (noun === "key") {
    allowOnly(tokens, [], topic);
    return keyCommand(null, rest.slice(1), true, topic);
  }
  if (noun === "directory") {
    allowOnly(tokens, [], topic);
    return directoryCommand(rest, topic);
  }
  if (noun === "storage") return storageCommand(rest, tokens, topic);
  if (noun !== "user") {
    throw new UsageProblem(
      "admin takes: user add|rm|ls, key create|ls|rm, directory ls|add|remove, storage ls|drain",
      topic,
    );
  }
  switch (action) {
    case "add":
      allowOnly(tokens, ["admin", "quotaBytes", "quotaFiles"], topic);
      expectCount(rest, 3, 3, "admin user add takes one uid", topic);
      return {
        kind: "userAdd",
        uid: uid ?? "",
        admin: tokens.flags.has("admin"),
        quotaBytes: quotaBytesOf(tokens.values.quotaBytes),
        quotaFiles: quotaFilesOf(tokens.values.quotaFiles),
      };
    case "rm":
      allowOnly(tokens, [], topic);
      expectCount(rest, 3, 3, "admin user rm takes one uid", topic);
      return { kind: "userRemove", uid: uid ?? "" };
    case "ls":
      allowOnly(tokens, [], topic);
      expectCount(rest, 2, 2, "admin user ls takes no arguments", topic);
      return { kind: "userList" };
    default:
      throw new UsageProblem("admin user takes: add <uid>, rm <uid>, ls", topic);
  }
}

/** `admin storage ls`, `admin storage drain <node> [--wait]`, `admin storage drain --cancel <node>`. */
function storageCommand(rest: readonly string[], tokens: Tokens, topic: HelpTopic): Command {
  const [, action, node] = rest;
  if (action === "ls") {
    allowOnly(tokens, [], topic);
    expectCount(rest, 2, 2, "admin storage ls takes no arguments", topic);
    return { kind: "storageList" };
  }
  if (action !== "drain") {
    throw new UsageProblem("admin storage takes: ls, drain [--cancel] [--wait] <node>", topic);
  }
  allowOnly(tokens, ["cancel", "wait"], topic);
  expectCount(rest, 3, 3, "admin storage drain takes one storage node id", topic);
  const cancel = tokens.flags.has("cancel");
  if (cancel && tokens.flags.has("wait")) {
    throw new UsageProblem("--wait follows a drain; a cancel takes effect at once", topic);
  }
  return { kind: "storageDrain", node: node ?? "", cancel, wait: tokens.flags.has("wait") };
}

/** `admin directory ls`, `admin directory add <node> <host:port>`, `admin directory remove <node>`. */
function directoryCommand(rest: readonly string[], topic: HelpTopic): Command {
  const [, action, node, address] = rest;
  switch (action) {
    case "ls":
      expectCount(rest, 2, 2, "admin directory ls takes no arguments", topic);
      return { kind: "directoryList" };
    case "add":
      expectCount(rest, 4, 4, "admin directory add takes a node id and its host:port", topic);
      return { kind: "directoryChange", change: "add", node: node ?? "", address: address ?? "" };
    case "remove":
    case "rm":
      expectCount(rest, 3, 3, "admin directory remove takes one node id", topic);
      return { kind: "directoryChange", change: "remove", node: node ?? "", address: null };
    default:
      throw new UsageProblem(
        "admin directory takes: ls, add <node> <host:port>, remove <node>",
        topic,
      );
  }
}

/** `--version N`: a version number as `d` shows it (v3 or 3). */
function versionOf(text: string | undefined, topic: HelpTopic): number | null {
  if (text === undefined) return null;
  const match = /^v?(\d+)$/.exec(text.trim());
  const value = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UsageProblem(
      `--version takes a version number such as 3 or v3, not '${text}'`,
      topic,
    );
  }
  return value;
}

/** `--quota-bytes 10GiB` (core sizes); null when the flag is absent. */
function quotaBytesOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  const parsed = parseByteSize(text);
  if (!parsed.ok) {
    throw new UsageProblem(`--quota-bytes takes a size such as 10GiB, not '${text}'`, "admin");
  }
  return parsed.value;
}

/** `--quota-files 1000`; null when the flag is absent. */
function quotaFilesOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageProblem(
      `--quota-files takes a whole number such as 1000, not '${text}'`,
      "admin",
    );
  }
  return value;
}

function uploadCommand(
  uid: string | null,
  files: readonly string[],
  tokens: Tokens,
  topic: HelpTopic,
): Command {
  expectCount(files, 1, Number.POSITIVE_INFINITY, "name at least one local file to upload", topic);
  const as = tokens.values.as ?? null;
  const recursive = tokens.flags.has("recursive");
  if (as !== null && files.length !== 1)
    throw new UsageProblem("--as names one file; upload one file at a time with it", topic);
  if (files.includes("-")) {
    if (files.length !== 1 || recursive)
      throw new UsageProblem("- (standard input) is uploaded alone, without -r", topic);
    if (as === null)
      throw new UsageProblem("standard input has no name: give one with --as NAME", topic);
  }
  return { kind: "upload", uid, files, as, recursive };
}

/** A remote name's last part: `get photos/a.jpg` saves ./a.jpg, as `cp` would. */
function lastPart(name: string): string {
  return name.slice(name.lastIndexOf("/") + 1);
}

/** `get name` saves to ./name; `-o -` (and the seed's `r`) writes to stdout. */
function readTarget(output: string | undefined, defaultPath: string | null): ReadTarget {
  const path = output ?? defaultPath;
  if (path === null || path === "-") return { kind: "stdout" };
  return { kind: "file", path };
}

function listCommand(uid: string | null, tokens: Tokens, topic: HelpTopic): Command {
  const from = listSource(tokens.values.from, topic);
  const stale = tokens.flags.has("stale");
  if (stale && from === "storage") {
    const message = "--stale reads the directory; it does not combine with --from storage";
    throw new UsageProblem(message, topic);
  }
  return { kind: "list", uid, from, stale };
}

function listSource(from: string | undefined, topic: HelpTopic): ListSource {
  if (from === undefined || from === "directory") return "directory";
  if (from === "storage") return "storage";
  throw new UsageProblem(`--from takes 'directory' or 'storage', not '${from}'`, topic);
}

/** A rebalance threshold in percent (`5`, `0.5`), to basis points: 0.01% to 100%. */
function thresholdOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  const percent = /^\d+(\.\d{1,2})?$/.test(text.trim()) ? Number(text) : Number.NaN;
  const basisPoints = Math.round(percent * BASIS_POINTS_PER_PERCENT);
  if (!Number.isFinite(percent) || basisPoints < 1 || basisPoints > BASIS_POINTS_MAX) {
    throw new UsageProblem(
      `--threshold takes a percentage from 0.01 to 100, not '${text}'`,
      "rebalance",
    );
  }
  return basisPoints;
}

function knownTopic(word: string): HelpTopic {
  const topic = HELP_TOPICS.find((candidate) => candidate === word);
  if (topic === undefined)
    throw new UsageProblem(`no help on '${word}' (topics: ${HELP_TOPICS.join(", ")})`);
  return topic;
}

const FLAG_SPELLING: Readonly<Record<ValueFlag, string>> = {
  cluster: "--cluster",
  user: "--user",
  from: "--from",
  as: "--as",
  output: "--output",
  threshold: "--threshold",
  secretFile: "--secret-file",
  quotaBytes: "--quota-bytes",
  quotaFiles: "--quota-files",
  clusterKeyFile: "--cluster-key-file",
  tlsCa: "--tls-ca",
  version: "--version",
};

/** --cluster, --cluster-key-file, --tls-ca and --json apply everywhere; the rest where listed. */
function allowOnly(tokens: Tokens, allowed: readonly CommandFlag[], topic: HelpTopic): void {
  for (const flag of Object.keys(tokens.values) as ValueFlag[]) {
    const everywhere = flag === "cluster" || flag === "clusterKeyFile" || flag === "tlsCa";
    if (!everywhere && !allowed.includes(flag)) {
      throw new UsageProblem(`${FLAG_SPELLING[flag]} does not apply to this command`, topic);
    }
  }
  if (!allowed.includes("stale")) refuseStale(tokens, topic);
  if (!allowed.includes("admin") && tokens.flags.has("admin")) {
    throw new UsageProblem("--admin applies only to `ftfs admin user add`", topic);
  }
  if (!allowed.includes("watch") && tokens.flags.has("watch")) {
    throw new UsageProblem("--watch applies only to `ftfs status`", topic);
  }
  if (!allowed.includes("all") && tokens.flags.has("all")) {
    throw new UsageProblem("--all applies only to `ftfs logout`", topic);
  }
  if (!allowed.includes("recursive") && tokens.flags.has("recursive")) {
    throw new UsageProblem("-r applies only to uploads (put, a)", topic);
  }
  if (!allowed.includes("force") && tokens.flags.has("force")) {
    throw new UsageProblem("--force applies only to downloads (get, r -o)", topic);
  }
  for (const flag of ["cancel", "wait"] as const) {
    if (!allowed.includes(flag) && tokens.flags.has(flag)) {
      throw new UsageProblem(`--${flag} applies only to \`ftfs admin storage drain\``, topic);
    }
  }
}

/** Only the directory listing has a weaker read to offer; elsewhere the flag would be a lie. */
function refuseStale(tokens: Tokens, topic: HelpTopic): void {
  if (tokens.flags.has("stale"))
    throw new UsageProblem("--stale applies only to listings (`ls`, `<uid> d`)", topic);
}

function expectCount(
  items: readonly string[],
  min: number,
  max: number,
  message: string,
  topic: HelpTopic,
): void {
  if (items.length < min || items.length > max) throw new UsageProblem(message, topic);
}

/**
 * Split one shell line into words: spaces separate, '…' and "…" quote, a backslash escapes
 * the next character (outside single quotes), as a POSIX shell does for plain words.
 */
export function splitLine(
  line: string,
): { ok: true; value: string[] } | { ok: false; message: string } {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index] ?? "";
    if (quote !== null) {
      if (char === quote) quote = null;
      else if (char === "\\" && quote === '"' && index + 1 < line.length)
        word += line[++index] ?? "";
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === "\\" && index + 1 < line.length) {
      word += line[++index] ?? "";
      inWord = true;
    } else if (char === " " || char === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== null) return { ok: false, message: `unterminated ${quote} quote` };
  if (inWord) words.push(word);
  return { ok: true, value: words };
}

/** The command in the words a user would type after `ftfs` (friendly forms), for messages. */
export function commandLabel(command: Command): string {
  switch (command.kind) {
    case "connect":
      return `${command.uid} c`;
    case "upload":
      return "put";
    case "read":
      return "get";
    case "list":
      return "ls";
    case "remove":
      return "rm";
    case "status":
      return "status";
    case "rebalance":
      return "rebalance";
    case "userAdd":
      return "admin user add";
    case "userRemove":
      return "admin user rm";
    case "userList":
      return "admin user ls";
    case "directoryList":
      return "admin directory ls";
    case "storageList":
      return "admin storage ls";
    case "storageDrain":
      return "admin storage drain";
    case "directoryChange":
      return `admin directory ${command.change}`;
    case "keyCreate":
      return command.asAdmin ? "admin key create" : "key create";
    case "keyList":
      return command.asAdmin ? "admin key ls" : "key ls";
    case "keyRemove":
      return command.asAdmin ? "admin key rm" : "key rm";
    case "whoami":
      return "whoami";
    case "version":
      return "--version";
    case "logout":
      return "logout";
    case "shell":
      return "shell";
    case "help":
      return "help";
    default:
      return assertNever(command);
  }
}
