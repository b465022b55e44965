/**
 * The S3 gateway as a program (`bun run apps/s3`, and `ftfs server s3` in the one binary, both
 * through `run`): resolve flags, environment twins and config file, hold the cluster key (it
 * acts for users as a node does, and opens access keys' sealed secrets), serve S3 over HTTP,
 * and stop cleanly on SIGTERM or SIGINT. Stateless: run several. Every bad flag or key is one
 * line on stderr, exit status 2.
 */

import { MetricsRegistry, parseAddress } from "@ftfs/protocol/core";
import {
  CONFIG_FLAGS,
  EXIT_OK,
  Keyring,
  notifySystemd,
  parseWithProblems,
  prepareServer,
  readFlags,
  stopSignal,
  type Env,
  type FlagValues,
  type ServerProgram,
  type UsageProblems,
  CLUSTER_KEY_FLAGS,
  createLogger,
  HTTP_LISTEN_FLAG,
  httpListenOf,
  startStatusEndpoint,
  parseTlsFlags,
  TLS_FLAGS,
  type ClientTls,
  type ServerTls,
  exitWithParent,
  parseAddressListFlag,
  parseKeyFlags,
  UsageError,
  type FlagSpec,
} from "@ftfs/protocol/io";
import { FtfsClient } from "@ftfs/client";
import { GATEWAY_CHUNKS_IN_FLIGHT, GATEWAY_GC_INTERVAL_BYTES, S3Gateway } from "./io/gateway.ts";

const PROGRAM = "ftfs-s3";
/** The region S3 clients default to; a request signed for another is refused. */
const REGION_DEFAULT = "us-east-1";

const FLAGS: readonly FlagSpec[] = [
  { name: "listen", description: "host:port to serve S3 (HTTP) on", default: "127.0.0.1:7180" },
  HTTP_LISTEN_FLAG,
  { name: "cluster", description: "comma-separated directory node addresses" },
  ...CLUSTER_KEY_FLAGS,
  ...TLS_FLAGS,
  { name: "region", description: "the region clients sign for", default: REGION_DEFAULT },
  {
    name: "domain",
    description: "serve virtual-host addressing (bucket.DOMAIN) as well as path style",
    default: "",
  },
  ...CONFIG_FLAGS,
];

export interface GatewayConfig {
  readonly hostname: string;
  readonly port: number;
  readonly cluster: readonly string[];
  readonly keyring: Keyring;
  readonly region: string;
  readonly domain: string | null;
  /** HTTPS for S3 clients, and TLS to the cluster's nodes (as a node's TLS flags mean). */
  readonly tls: { readonly server: ServerTls; readonly client: ClientTls } | null;
  /** Where /metrics, /healthz and /readyz are served; null: nowhere. */
  readonly httpListen: string | null;
}

export function parseConfig(argv: readonly string[], env: Env): GatewayConfig | "help" {
  const flags = readFlags(argv, FLAGS, env);
  return flags.help ? "help" : parseWithProblems(GATEWAY_PROGRAM, flags);
}

function parseValues(flags: FlagValues, problems: UsageProblems): GatewayConfig {
  const values = flags.values;
  const listen = problems.take(() => {
    const parsed = parseAddress(values.listen ?? "");
    if (!parsed.ok) throw new UsageError(`flag --listen must be host:port, got '${values.listen}'`);
    return parsed.value;
  }, null);
  const cluster = problems.take(() => parseAddressListFlag("cluster", values.cluster, 1), []);
  const keyring = problems.take(() => parseKeyFlags(values), Keyring.open());
  problems.take(() => {
    if (keyring.isOpen) {
      throw new UsageError(
        "the gateway needs the cluster key (--cluster-key-file FILE): it checks access keys " +
          "sealed under it, and a cluster without one has no access keys",
      );
    }
  }, undefined);
  const region = values.region ?? REGION_DEFAULT;
  problems.take(() => {
    if (!/^[a-z0-9-]{1,32}$/.test(region)) {
      throw new UsageError(
        `flag --region must be a region name such as us-east-1, got '${region}'`,
      );
    }
  }, undefined);
  const domain = values.domain === "" || values.domain === undefined ? null : values.domain;
  return {
    hostname: listen?.host ?? "",
    port: listen?.port ?? 0,
    cluster,
    keyring,
    region,
    domain,
    tls: problems.take(() => parseTlsFlags(values), null),
    httpListen: problems.take(() => httpListenOf(values), null),
  };
}

const GATEWAY_PROGRAM: ServerProgram<GatewayConfig> = {
  program: PROGRAM,
  summary: "The FTFS S3 gateway: S3 clients' requests to the cluster.",
  specs: FLAGS,
  parse: parseValues,
};

/**
 * The gateway as a program: `bun run apps/s3` and `ftfs server s3` both come here. Resolves
 * with the exit status once it has stopped (SIGTERM, SIGINT).
 */
export async function run(argv: readonly string[], env: Env, program = PROGRAM): Promise<number> {
  const prepared = prepareServer({ ...GATEWAY_PROGRAM, program }, argv, env);
  if (!prepared.start) return prepared.status;
  const config = prepared.config;
  const stopped = stopSignal();
  const logger = createLogger("s3");
  const client = new FtfsClient({
    directories: config.cluster,
    credentials: { kind: "node", node: `s3-${config.port}`, keyring: config.keyring },
    ...(config.tls === null ? {} : { tls: config.tls.client }),
    chunksInFlight: GATEWAY_CHUNKS_IN_FLIGHT,
    gcIntervalBytes: GATEWAY_GC_INTERVAL_BYTES,
  });
  const metrics = new MetricsRegistry();
  const gateway = await S3Gateway.start({
    hostname: config.hostname,
    port: config.port,
    client,
    keyring: config.keyring,
    region: config.region,
    domain: config.domain,
    tls: config.tls?.server ?? null,
    logger,
    nowMs: () => Date.now(),
    metrics,
  });
  // Stateless: serving is being ready.
  const status =
    config.httpListen === null
      ? null
      : startStatusEndpoint({
          listen: config.httpListen,
          registry: metrics,
          ready: () => true,
          logger,
        });
  logger.info("listening", {
    address: `${config.hostname}:${gateway.port}`,
    region: config.region,
  });
  notifySystemd("ready", `S3 gateway serves at ${config.hostname}:${gateway.port}`, logger, env);
  exitWithParent();
  const signal = await stopped;
  logger.info("stopping", { signal });
  notifySystemd("stopping", "draining requests", logger, env);
  await Promise.all([gateway.stop(), status?.stop()]);
  client.close();
  return EXIT_OK;
}

if (import.meta.main) process.exit(await run(Bun.argv.slice(2), process.env));
