/**
 * The directory node as a program (`bun run apps/directory`, and `ftfs server directory` in the
 * one binary, both through `run`): resolve flags, environment twins and config file, open the
 * data folder's database, start the node, tell systemd it serves, and stop cleanly on SIGTERM
 * or SIGINT. Every bad flag or key is one line on stderr, exit status 2; a failure to start
 * is logged, status 1.
 */

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  CHUNK_BYTES_DEFAULT,
  CHUNK_BYTES_MAX,
  CHUNK_BYTES_MIN,
  NODE_ID_BYTES_MAX,
  nodeIdField,
  parseAddress,
  raft,
  tryDecode,
} from "@ftfs/protocol/core";
import {
  CONFIG_FLAGS,
  CONNECTION_LIMITS_DEFAULT,
  createLogger,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  exitWithParent,
  formatDurationMs,
  Keyring,
  notifySystemd,
  parseAddressListFlag,
  parseBooleanFlag,
  parseBytesFlag,
  parseDurationFlag,
  parseIntegerFlag,
  parseRateFlag,
  parseWithProblems,
  prepareServer,
  HTTP_LISTEN_FLAG,
  httpListenOf,
  parseSecurityFlags,
  readFlags,
  SECURITY_FLAGS,
  securityOptions,
  stopSignal,
  UsageError,
  type Env,
  type FlagSpec,
  type FlagValues,
  type Logger,
  type SecuritySettings,
  type ServerProgram,
  type UsageProblems,
} from "@ftfs/protocol/io";
import {
  DIRECTORY_GROUP_SIZES,
  QUOTA_BYTES_DEFAULT,
  QUOTA_FILES_DEFAULT,
  REBALANCE_BYTES_PER_SECOND_DEFAULT,
  REBALANCE_BYTES_PER_SECOND_MIN,
  REREPLICATION_GRACE_MS_DEFAULT,
  AUTOPILOT_MIN_VOTERS_DEFAULT,
  type AutopilotSettings,
  UPLOAD_DEADLINE_MS_DEFAULT,
  UPLOAD_DEADLINE_MS_MIN,
  KEEP_VERSIONS_DEFAULT,
  KEEP_VERSIONS_MAX,
} from "./core/index.ts";
import { DirectoryNode } from "./io/directory-node.ts";
import { SqliteMetadataStore } from "./io/sqlite-store.ts";

const PROGRAM = "ftfs-directory";
const DATABASE_FILE = "directory.sqlite";
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

const FLAGS: readonly FlagSpec[] = [
  { name: "node", description: "this node's id (d1, d2, …)" },
  { name: "listen", description: "host:port for requests (TCP) and gossip (UDP)" },
  { name: "data", description: "folder for this node's database" },
  {
    name: "join",
    description: "comma-separated members to join (peer directories); gossip seeds",
    default: "",
  },
  { name: "expect", description: "directory nodes in the group: 1, 3 or 5", default: "1" },
  {
    name: "new-member",
    description:
      "join a directory group that already exists, with an empty folder, once added by " +
      "`ftfs admin directory add <node> <address>`: never forms a group, never votes until the " +
      "group's log adds it",
    boolean: true,
    default: "false",
  },
  HTTP_LISTEN_FLAG,
  {
    name: "chunk-bytes",
    description: "chunk size for uploads (e.g. 4MiB)",
    default: String(CHUNK_BYTES_DEFAULT),
  },
  {
    name: "autopilot-dead-after",
    description:
      "remove a directory voter that has not answered the primary for this long, e.g. 30m " +
      "(0: never, the default); never below --autopilot-min-voters",
    default: "0",
  },
  {
    name: "autopilot-min-voters",
    description: "the fewest directory voters the autopilot leaves",
    default: String(AUTOPILOT_MIN_VOTERS_DEFAULT),
  },
  {
    name: "rereplication-grace",
    description:
      "how long a storage group stays under its replication factor before it gets " +
      "a spare node, e.g. 5m, 30s",
    default: formatDurationMs(REREPLICATION_GRACE_MS_DEFAULT),
  },
  {
    name: "rebalance-rate",
    description: "bytes per second `ftfs rebalance` copies between storage groups, e.g. 64MiB",
    default: `${REBALANCE_BYTES_PER_SECOND_DEFAULT / MIB}MiB`,
  },
  {
    name: "upload-deadline",
    description:
      "how long an upload may take from placement to commit; past it the upload " +
      "must start again and its chunks are collected, e.g. 24h, 30m",
    default: formatDurationMs(UPLOAD_DEADLINE_MS_DEFAULT),
  },
  {
    name: "keep-versions",
    description:
      "versions each file keeps, the newest included; older ones are freed " +
      "(quotas count every kept version)",
    default: String(KEEP_VERSIONS_DEFAULT),
  },
  {
    name: "quota-bytes-default",
    description: "bytes a user's files may take, unless `ftfs admin user add --quota-bytes` says",
    default: `${QUOTA_BYTES_DEFAULT / GIB}GiB`,
  },
  {
    name: "quota-files-default",
    description: "files a user may have, unless `ftfs admin user add --quota-files` says",
    default: String(QUOTA_FILES_DEFAULT),
  },
  ...SECURITY_FLAGS,
  ...CONFIG_FLAGS,
];
/** Only a fallback so the other values can still be checked after a bad security flag. */
const OPEN_SECURITY: SecuritySettings = {
  keyring: Keyring.open(),
  insecure: true,
  limits: CONNECTION_LIMITS_DEFAULT,
};

export interface DirectoryConfig {
  readonly node: string;
  readonly listen: string;
  /** Where /metrics, /healthz and /readyz are served; null: nowhere. */
  readonly httpListen: string | null;
  readonly data: string;
  readonly join: readonly string[];
  readonly expect: number;
  /** Joins an existing group as a new member (`--new-member`) rather than forming one. */
  readonly newMember: boolean;
  readonly chunkBytes: number;
  readonly rereplicationGraceMs: number;
  /** Remove voters silent this long; null: never (the default). */
  readonly autopilot: AutopilotSettings | null;
  readonly rebalanceBytesPerSecond: number;
  readonly quotaBytesDefault: number;
  readonly quotaFilesDefault: number;
  readonly uploadDeadlineMs: number;
  readonly keepVersions: number;
  /** Cluster key (open: `--insecure`), connection bounds, TLS. */
  readonly security: SecuritySettings;
}

/** Flags (with environment twins and the config file) to a config; throws every UsageError. */
export function parseConfig(argv: readonly string[], env: Env): DirectoryConfig | "help" {
  const flags = readFlags(argv, FLAGS, env);
  return flags.help ? "help" : parseWithProblems(DIRECTORY_PROGRAM, flags);
}

function parseValues(flags: FlagValues, problems: UsageProblems): DirectoryConfig {
  const values = flags.values;
  const take = <T>(parse: () => T, fallback: T): T => problems.take(parse, fallback);
  const { node, listen, data } = values;
  take(() => checkIdentity(node ?? "", listen ?? "", data ?? ""), undefined);
  const expect = take(() => parseExpect(values.expect ?? ""), 1);
  return {
    node: node ?? "",
    listen: listen ?? "",
    httpListen: take(() => httpListenOf(values), null),
    data: data ?? "",
    join: take(() => parseAddressListFlag("join", values.join, 0), []),
    expect,
    newMember: take(() => parseBooleanFlag("new-member", values["new-member"]), false),
    chunkBytes: take(
      () =>
        parseBytesFlag(
          "chunk-bytes",
          values["chunk-bytes"] ?? "",
          CHUNK_BYTES_MIN,
          CHUNK_BYTES_MAX,
        ),
      CHUNK_BYTES_DEFAULT,
    ),
    rereplicationGraceMs: take(
      () => parseDurationFlag("rereplication-grace", values["rereplication-grace"], 0),
      0,
    ),
    autopilot: take(() => autopilotOf(values), null),
    rebalanceBytesPerSecond: take(
      () =>
        parseRateFlag(
          "rebalance-rate",
          values["rebalance-rate"] ?? "",
          REBALANCE_BYTES_PER_SECOND_MIN,
          Number.MAX_SAFE_INTEGER,
        ),
      REBALANCE_BYTES_PER_SECOND_MIN,
    ),
    quotaBytesDefault: take(
      () =>
        parseBytesFlag(
          "quota-bytes-default",
          values["quota-bytes-default"] ?? "",
          0,
          Number.MAX_SAFE_INTEGER,
        ),
      0,
    ),
    quotaFilesDefault: take(
      () =>
        parseIntegerFlag(
          "quota-files-default",
          values["quota-files-default"] ?? "",
          0,
          Number.MAX_SAFE_INTEGER,
        ),
      0,
    ),
    uploadDeadlineMs: take(
      () => parseDurationFlag("upload-deadline", values["upload-deadline"], UPLOAD_DEADLINE_MS_MIN),
      UPLOAD_DEADLINE_MS_MIN,
    ),
    keepVersions: take(
      () => parseIntegerFlag("keep-versions", values["keep-versions"] ?? "", 1, KEEP_VERSIONS_MAX),
      1,
    ),
    security: take(() => parseSecurityFlags(values), OPEN_SECURITY),
  };
}

/** The node's id, address and folder: each wrong one its own problem. */
function checkIdentity(node: string, listen: string, data: string): void {
  const problems: string[] = [];
  if (!tryDecode(nodeIdField, node).ok) {
    problems.push(
      `flag --node must be 1..${NODE_ID_BYTES_MAX} of letters, digits, '.', '_', '-'; ` +
        `got '${node}'`,
    );
  }
  if (!parseAddress(listen).ok) problems.push(`flag --listen must be host:port, got '${listen}'`);
  if (data.length === 0) problems.push("flag --data must name a folder");
  if (problems.length > 0) throw new UsageError(problems);
}

function parseExpect(text: string): number {
  const expect = Number(text);
  if (!DIRECTORY_GROUP_SIZES.some((size) => size === expect)) {
    throw new UsageError(
      `flag --expect must be one of ${DIRECTORY_GROUP_SIZES.join(", ")}, got '${text}'`,
    );
  }
  return expect;
}

const DIRECTORY_PROGRAM: ServerProgram<DirectoryConfig> = {
  program: PROGRAM,
  summary: "The FTFS directory node: users, files, versions, storage groups.",
  specs: FLAGS,
  parse: parseValues,
};

/** The autopilot's flags; off unless --autopilot-dead-after names a time. */
function autopilotOf(values: FlagValues["values"]): AutopilotSettings | null {
  const deadAfterMs = parseDurationFlag("autopilot-dead-after", values["autopilot-dead-after"], 0);
  const minVoters = parseIntegerFlag(
    "autopilot-min-voters",
    values["autopilot-min-voters"] ?? "",
    1,
    raft.RAFT_MEMBERS_MAX,
  );
  return deadAfterMs === 0 ? null : { deadAfterMs, minVoters };
}

function startNode(config: DirectoryConfig, logger: Logger): DirectoryNode {
  mkdirSync(config.data, { recursive: true });
  const store = SqliteMetadataStore.open(join(config.data, DATABASE_FILE));
  try {
    return DirectoryNode.start({
      node: config.node,
      listen: config.listen,
      ...(config.httpListen === null ? {} : { httpListen: config.httpListen }),
      store,
      chunkBytes: config.chunkBytes,
      logger,
      join: config.join,
      expect: config.expect,
      newMember: config.newMember,
      rereplicationGraceMs: config.rereplicationGraceMs,
      autopilot: config.autopilot,
      rebalanceBytesPerSecond: config.rebalanceBytesPerSecond,
      quotaBytesDefault: config.quotaBytesDefault,
      quotaFilesDefault: config.quotaFilesDefault,
      uploadDeadlineMs: config.uploadDeadlineMs,
      keepVersions: config.keepVersions,
      ...securityOptions(config.security),
    });
  } catch (error) {
    store.close();
    throw error;
  }
}

/**
 * The directory node as a program: `bun run apps/directory` and `ftfs server directory` both
 * come here. Resolves with the exit status once the node has stopped (SIGTERM, SIGINT).
 */
export async function run(argv: readonly string[], env: Env, program = PROGRAM): Promise<number> {
  const prepared = prepareServer({ ...DIRECTORY_PROGRAM, program }, argv, env);
  if (!prepared.start) return prepared.status;
  const config = prepared.config;
  const logger = createLogger(config.node);
  if (config.security.insecure) {
    logger.warn("insecure mode: no cluster key, so no node or user is authenticated");
  }
  const stopped = stopSignal();
  let node: DirectoryNode;
  try {
    node = startNode(config, logger);
  } catch (error) {
    logger.error("cannot start", { error: describeError(error) });
    return EXIT_FAILURE;
  }
  notifySystemd("ready", `directory node ${config.node} serves at ${config.listen}`, logger, env);
  exitWithParent();
  const signal = await stopped;
  logger.info("stopping", { signal });
  notifySystemd("stopping", "leaving the cluster", logger, env);
  await node.stop();
  return EXIT_OK;
}

if (import.meta.main) process.exit(await run(Bun.argv.slice(2), process.env));
