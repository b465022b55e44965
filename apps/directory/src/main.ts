/**
 * `bun run apps/directory`: parse flags (each with its FTFS_* environment twin), open the data
 * folder's database, start the directory node, and stop it cleanly on SIGTERM or SIGINT.
 * A bad flag is one line on stderr and exit status 2; a failure to start is logged, status 1.
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
  tryDecode,
} from "@ftfs/protocol/core";
import {
  createLogger,
  describeError,
  exitWithParent,
  formatDurationMs,
  parseAddressListFlag,
  parseBytesFlag,
  parseDurationFlag,
  parseFlags,
  parseIntegerFlag,
  parseRateFlag,
  HTTP_LISTEN_FLAG,
  httpListenOf,
  parseSecurityFlags,
  SECURITY_FLAGS,
  securityOptions,
  usage,
  UsageError,
  type FlagSpec,
  type Logger,
  type SecuritySettings,
} from "@ftfs/protocol/io";
import {
  DIRECTORY_GROUP_SIZES,
  QUOTA_BYTES_DEFAULT,
  QUOTA_FILES_DEFAULT,
  REBALANCE_BYTES_PER_SECOND_DEFAULT,
  REBALANCE_BYTES_PER_SECOND_MIN,
  REREPLICATION_GRACE_MS_DEFAULT,
  UPLOAD_DEADLINE_MS_DEFAULT,
  UPLOAD_DEADLINE_MS_MIN,
  KEEP_VERSIONS_DEFAULT,
  KEEP_VERSIONS_MAX,
} from "./core/index.ts";
import { DirectoryNode } from "./io/directory-node.ts";
import { SqliteMetadataStore } from "./io/sqlite-store.ts";

const PROGRAM = "ftfs-directory";
const DATABASE_FILE = "directory.sqlite";
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
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
  HTTP_LISTEN_FLAG,
  {
    name: "chunk-bytes",
    description: "chunk size for uploads (e.g. 4MiB)",
    default: String(CHUNK_BYTES_DEFAULT),
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
];

export interface DirectoryConfig {
  readonly node: string;
  readonly listen: string;
  /** Where /metrics, /healthz and /readyz are served; null: nowhere. */
  readonly httpListen: string | null;
  readonly data: string;
  readonly join: readonly string[];
  readonly expect: number;
  readonly chunkBytes: number;
  readonly rereplicationGraceMs: number;
  readonly rebalanceBytesPerSecond: number;
  readonly quotaBytesDefault: number;
  readonly quotaFilesDefault: number;
  readonly uploadDeadlineMs: number;
  readonly keepVersions: number;
  /** Cluster key (open: `--insecure`), connection bounds, TLS. */
  readonly security: SecuritySettings;
}

/** Flags (with environment twins) to a config; throws UsageError naming the bad flag. */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): DirectoryConfig | "help" {
  const flags = parseFlags(argv, FLAGS, env);
  if (flags.help === "true") return "help";
  const node = flags.node ?? "";
  if (!tryDecode(nodeIdField, node).ok) {
    throw new UsageError(
      `flag --node must be 1..${NODE_ID_BYTES_MAX} of letters, digits, '.', '_', '-'; got '${node}'`,
    );
  }
  const listen = flags.listen ?? "";
  if (!parseAddress(listen).ok) {
    throw new UsageError(`flag --listen must be host:port, got '${listen}'`);
  }
  const data = flags.data ?? "";
  if (data.length === 0) throw new UsageError("flag --data must name a folder");
  const join = parseAddressListFlag("join", flags.join, 0);
  const expect = Number(flags.expect);
  if (!DIRECTORY_GROUP_SIZES.some((size) => size === expect)) {
    throw new UsageError(
      `flag --expect must be one of ${DIRECTORY_GROUP_SIZES.join(", ")}, got '${flags.expect}'`,
    );
  }
  const chunkBytes = parseBytesFlag(
    "chunk-bytes",
    flags["chunk-bytes"] ?? "",
    CHUNK_BYTES_MIN,
    CHUNK_BYTES_MAX,
  );
  const rereplicationGraceMs = parseDurationFlag(
    "rereplication-grace",
    flags["rereplication-grace"],
    0,
  );
  const uploadDeadlineMs = parseDurationFlag(
    "upload-deadline",
    flags["upload-deadline"],
    UPLOAD_DEADLINE_MS_MIN,
  );
  const rebalanceBytesPerSecond = parseRateFlag(
    "rebalance-rate",
    flags["rebalance-rate"] ?? "",
    REBALANCE_BYTES_PER_SECOND_MIN,
    Number.MAX_SAFE_INTEGER,
  );
  return {
    node,
    listen,
    httpListen: httpListenOf(flags),
    data,
    join,
    expect,
    chunkBytes,
    rereplicationGraceMs,
    rebalanceBytesPerSecond,
    quotaBytesDefault: parseBytesFlag(
      "quota-bytes-default",
      flags["quota-bytes-default"] ?? "",
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    quotaFilesDefault: parseIntegerFlag(
      "quota-files-default",
      flags["quota-files-default"] ?? "",
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    uploadDeadlineMs,
    keepVersions: parseIntegerFlag(
      "keep-versions",
      flags["keep-versions"] ?? "",
      1,
      KEEP_VERSIONS_MAX,
    ),
    security: parseSecurityFlags(flags),
  };
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
      rereplicationGraceMs: config.rereplicationGraceMs,
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

function main(): void {
  let config: DirectoryConfig | "help";
  try {
    config = parseConfig(Bun.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${PROGRAM}: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  if (config === "help") {
    process.stdout.write(
      usage(PROGRAM, "The FTFS directory node: users, files, versions, storage groups.", FLAGS),
    );
    return;
  }
  const logger = createLogger(config.node);
  if (config.security.insecure) {
    logger.warn("insecure mode: no cluster key, so no node or user is authenticated");
  }
  let node: DirectoryNode;
  try {
    node = startNode(config, logger);
  } catch (error) {
    logger.error("cannot start", { error: describeError(error) });
    process.exit(EXIT_FAILURE);
  }
  const stop = (signal: string): void => {
    logger.info("stopping", { signal });
    void node.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  exitWithParent();
}

if (import.meta.main) main();
