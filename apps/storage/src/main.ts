/**
 * `bun run apps/storage`: a chunk storage node. Parses flags (each with its FTFS_* environment
 * twin), starts the node, logs JSON lines on stderr, and on SIGTERM or SIGINT stops cleanly and
 * exits 0. A bad flag is one line on stderr and exit status 2. All behaviour lives in io/.
 */

import { groupField, nodeIdField, parseAddress, tryDecode } from "@ftfs/protocol/core";
import {
  createLogger,
  describeError,
  exitWithParent,
  formatDurationMs,
  parseAddressListFlag,
  parseBooleanFlag,
  parseBytesFlag,
  parseDurationFlag,
  parseFlags,
  parseRateFlag,
  HTTP_LISTEN_FLAG,
  httpListenOf,
  parseSecurityFlags,
  SECURITY_FLAGS,
  securityOptions,
  usage,
  UsageError,
  type FlagSpec,
} from "@ftfs/protocol/io";
import {
  CATCH_UP_BYTES_PER_SECOND_DEFAULT,
  CATCH_UP_BYTES_PER_SECOND_MIN,
  GC_GRACE_MS_DEFAULT,
  GC_GRACE_MS_MIN,
  SCRUB_BYTES_PER_SECOND_DEFAULT,
  SCRUB_PASS_PAUSE_MS_DEFAULT,
} from "./core/index.ts";
import { ForeignFolderError, IdentityFileError } from "./io/identity.ts";
import type { MaintenanceSettings } from "./io/maintenance.ts";
import { StorageNode, type StorageNodeOptions } from "./io/storage-node.ts";

const PROGRAM = "bun run apps/storage";
const SUMMARY =
  "A storage node: keeps immutable, content-addressed chunks and their owner references, " +
  "and replicates writes to the other nodes of its --group. A --spare node holds nothing " +
  "until the directory assigns it to a group that lost a node.";
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
const MIB = 1024 * 1024;
/** A capacity of 0 would refuse every write; a node that should take none is not started. */
const CAPACITY_BYTES_MIN = 1;
/** How a boolean flag's environment twin may be written. */
const FLAGS: readonly FlagSpec[] = [
  { name: "node", description: "this node's id, unique in the cluster (e.g. s1a)" },
  {
    name: "group",
    description: "storage group this node replicates (e.g. s1); required unless --spare",
    default: "",
  },
  {
    name: "spare",
    description: "start as a spare: no group until the directory assigns one (excludes --group)",
    boolean: true,
    default: "false",
  },
  { name: "listen", description: "host:port for requests (TCP) and gossip (UDP)" },
  HTTP_LISTEN_FLAG,
  { name: "data", description: "folder for chunks and owner references" },
  { name: "join", description: "directory addresses, comma-separated (TCP, and gossip seeds)" },
  {
    name: "capacity",
    description: "bytes offered, e.g. 10GiB; empty: the disk's free space",
    default: "",
  },
  {
    name: "scrub-rate",
    description: "bytes per second the scrubber re-hashes, e.g. 32MiB; 0 turns it off",
    default: `${SCRUB_BYTES_PER_SECOND_DEFAULT / MIB}MiB`,
  },
  {
    name: "scrub-pause",
    description: "pause between two scrub passes, e.g. 10m, 30s, 500ms",
    default: formatDurationMs(SCRUB_PASS_PAUSE_MS_DEFAULT),
  },
  {
    name: "gc-grace",
    description: "how long unreferenced chunks and unfinished uploads are kept, e.g. 1h, 90s",
    default: formatDurationMs(GC_GRACE_MS_DEFAULT),
  },
  {
    name: "catch-up-rate",
    description: "bytes per second a catching-up node copies from its primary, e.g. 64MiB",
    default: `${CATCH_UP_BYTES_PER_SECOND_DEFAULT / MIB}MiB`,
  },
  ...SECURITY_FLAGS,
];

type ParsedOptions = Omit<StorageNodeOptions, "logger"> & { readonly insecure: boolean };

function parseOptions(argv: readonly string[]): ParsedOptions | "help" {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help === "true") return "help";
  const node = requireFlag(flags, "node");
  const membership = parseMembership(flags);
  const listen = requireFlag(flags, "listen");
  const dataDir = requireFlag(flags, "data");
  if (!tryDecode(nodeIdField, node).ok) {
    throw new UsageError(`flag --node: '${node}' is not a node id`);
  }
  if (!parseAddress(listen).ok) throw new UsageError(`flag --listen: '${listen}' is not host:port`);
  if (dataDir === "") throw new UsageError("flag --data must name a folder");
  const join = parseAddressListFlag("join", requireFlag(flags, "join"), 1);
  const capacity = flags.capacity ?? "";
  const maintenance = parseMaintenance(flags);
  const catchUpBytesPerSecond = rateFlag(flags, "catch-up-rate", CATCH_UP_BYTES_PER_SECOND_MIN);
  const security = parseSecurityFlags(flags);
  const httpListen = httpListenOf(flags);
  const base = {
    node,
    ...membership,
    listen,
    ...(httpListen === null ? {} : { httpListen }),
    dataDir,
    join,
    maintenance,
    catchUpBytesPerSecond,
    insecure: security.insecure,
    ...securityOptions(security),
  };
  if (capacity === "") return base;
  return {
    ...base,
    capacityBytes: parseBytesFlag(
      "capacity",
      capacity,
      CAPACITY_BYTES_MIN,
      Number.MAX_SAFE_INTEGER,
    ),
  };
}

/** `--group NAME` or `--spare`, exactly one of them. */
function parseMembership(
  flags: Readonly<Record<string, string>>,
): { readonly group: string } | { readonly spare: true } {
  const group = flags.group ?? "";
  const spare = parseBooleanFlag("spare", flags.spare);
  if (spare && group !== "") {
    throw new UsageError(
      "flags --group and --spare exclude each other: a spare gets its group from the directory",
    );
  }
  if (spare) return { spare: true };
  if (group === "") throw new UsageError("flag --group is required (or --spare)");
  if (!tryDecode(groupField, group).ok) {
    throw new UsageError(`flag --group: '${group}' may use only letters, digits, '.', '_' and '-'`);
  }
  return { group };
}

function parseMaintenance(flags: Readonly<Record<string, string>>): MaintenanceSettings {
  return {
    scrubBytesPerSecond: rateFlag(flags, "scrub-rate", 0),
    scrubPassPauseMs: parseDurationFlag("scrub-pause", flags["scrub-pause"], 0),
    gcGraceMs: parseDurationFlag("gc-grace", flags["gc-grace"], GC_GRACE_MS_MIN),
  };
}

/** Bytes per second, written `32MiB` or `32MiB/s`. */
function rateFlag(flags: Readonly<Record<string, string>>, name: string, min: number): number {
  return parseRateFlag(name, flags[name] ?? "", min, Number.MAX_SAFE_INTEGER);
}

function requireFlag(flags: Readonly<Record<string, string>>, name: string): string {
  const value = flags[name];
  if (value === undefined) throw new UsageError(`flag --${name} is required`);
  return value;
}

async function main(): Promise<number> {
  let options: ParsedOptions | "help";
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${PROGRAM}: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (options === "help") {
    process.stdout.write(usage(PROGRAM, SUMMARY, FLAGS));
    return 0;
  }
  const logger = createLogger(options.node);
  if (options.insecure) {
    logger.warn("insecure mode: no cluster key, so no node or user is authenticated");
  }
  // Listen for signals before starting, so a stop during start-up is still a clean stop.
  const stopped = stopSignal();
  let node: StorageNode;
  try {
    node = await StorageNode.start({ ...options, logger });
  } catch (error) {
    // A data folder that is not this node's is the operator's to fix: one line, no stack.
    const folderFault = error instanceof ForeignFolderError || error instanceof IdentityFileError;
    logger.error("could not start", {
      error: folderFault ? error.message : describeError(error),
    });
    return EXIT_FAILURE;
  }
  exitWithParent();
  const signal = await stopped;
  logger.info("stopping", { signal });
  await node.stop();
  logger.info("stopped");
  return 0;
}

function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => resolve(signal));
    }
  });
}

process.exit(await main());
