/**
 * A chunk storage node as a program (`bun run apps/storage`, and `ftfs server storage` in the
 * one binary, both through `run`): resolves flags, environment twins and config file, starts
 * the node, tells systemd it serves, logs JSON lines on stderr, and on SIGTERM or SIGINT stops
 * cleanly and exits 0. Every bad flag or key is one line on stderr, exit status 2. All
 * behaviour lives in io/.
 */

import { groupField, nodeIdField, parseAddress, tryDecode } from "@ftfs/protocol/core";
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
  parseRateFlag,
  prepareServer,
  HTTP_LISTEN_FLAG,
  httpListenOf,
  parseSecurityFlags,
  SECURITY_FLAGS,
  securityOptions,
  stopSignal,
  UsageError,
  type Env,
  type FlagSpec,
  type FlagValues,
  type SecuritySettings,
  type ServerProgram,
  type UsageProblems,
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
const MIB = 1024 * 1024;
/** A capacity of 0 would refuse every write; a node that should take none is not started. */
const CAPACITY_BYTES_MIN = 1;
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
  ...CONFIG_FLAGS,
];
/** Only a fallback so the other values can still be checked after a bad security flag. */
const OPEN_SECURITY: SecuritySettings = {
  keyring: Keyring.open(),
  insecure: true,
  limits: CONNECTION_LIMITS_DEFAULT,
};

type ParsedOptions = Omit<StorageNodeOptions, "logger"> & { readonly insecure: boolean };

function parseValues(flags: FlagValues, problems: UsageProblems): ParsedOptions {
  const values = flags.values;
  const take = <T>(parse: () => T, fallback: T): T => problems.take(parse, fallback);
  const node = values.node ?? "";
  take(() => {
    if (!tryDecode(nodeIdField, node).ok)
      throw new UsageError(`flag --node: '${node}' is not a node id`);
  }, undefined);
  const membership = take(() => parseMembership(values), { spare: true } as const);
  const listen = values.listen ?? "";
  take(() => {
    if (!parseAddress(listen).ok)
      throw new UsageError(`flag --listen: '${listen}' is not host:port`);
  }, undefined);
  const dataDir = values.data ?? "";
  take(() => {
    if (dataDir === "") throw new UsageError("flag --data must name a folder");
  }, undefined);
  const security = take(() => parseSecurityFlags(values), OPEN_SECURITY);
  const httpListen = take(() => httpListenOf(values), null);
  const capacity = values.capacity ?? "";
  const capacityBytes =
    capacity === ""
      ? null
      : take(
          () => parseBytesFlag("capacity", capacity, CAPACITY_BYTES_MIN, Number.MAX_SAFE_INTEGER),
          null,
        );
  return {
    node,
    ...membership,
    listen,
    ...(httpListen === null ? {} : { httpListen }),
    dataDir,
    join: take(() => parseAddressListFlag("join", values.join, 1), []),
    maintenance: parseMaintenance(values, problems),
    catchUpBytesPerSecond: take(
      () => rateFlag(values, "catch-up-rate", CATCH_UP_BYTES_PER_SECOND_MIN),
      CATCH_UP_BYTES_PER_SECOND_MIN,
    ),
    insecure: security.insecure,
    ...securityOptions(security),
    ...(capacityBytes === null ? {} : { capacityBytes }),
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

function parseMaintenance(
  flags: Readonly<Record<string, string>>,
  problems: UsageProblems,
): MaintenanceSettings {
  return {
    scrubBytesPerSecond: problems.take(() => rateFlag(flags, "scrub-rate", 0), 0),
    scrubPassPauseMs: problems.take(
      () => parseDurationFlag("scrub-pause", flags["scrub-pause"], 0),
      0,
    ),
    gcGraceMs: problems.take(
      () => parseDurationFlag("gc-grace", flags["gc-grace"], GC_GRACE_MS_MIN),
      GC_GRACE_MS_MIN,
    ),
  };
}

/** Bytes per second, written `32MiB` or `32MiB/s`. */
function rateFlag(flags: Readonly<Record<string, string>>, name: string, min: number): number {
  return parseRateFlag(name, flags[name] ?? "", min, Number.MAX_SAFE_INTEGER);
}

const STORAGE_PROGRAM: ServerProgram<ParsedOptions> = {
  program: PROGRAM,
  summary: SUMMARY,
  specs: FLAGS,
  parse: parseValues,
};

/**
 * The storage node as a program: `bun run apps/storage` and `ftfs server storage` both come
 * here. Resolves with the exit status once the node has stopped (SIGTERM, SIGINT).
 */
export async function run(argv: readonly string[], env: Env, program = PROGRAM): Promise<number> {
  const prepared = prepareServer({ ...STORAGE_PROGRAM, program }, argv, env);
  if (!prepared.start) return prepared.status;
  const options = prepared.config;
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
  notifySystemd("ready", `storage node ${options.node} serves at ${options.listen}`, logger, env);
  exitWithParent();
  const signal = await stopped;
  logger.info("stopping", { signal });
  notifySystemd("stopping", "leaving the cluster", logger, env);
  await node.stop();
  logger.info("stopped");
  return EXIT_OK;
}

if (import.meta.main) process.exit(await run(process.argv.slice(2), process.env));
