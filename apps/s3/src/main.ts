/**
 * `bun run apps/s3`: the S3 gateway. Parse flags (each with its FTFS_* environment twin), hold
 * the cluster key (it acts for users as a node does, and opens access keys' sealed secrets),
 * serve S3 over HTTP, and stop cleanly on SIGTERM or SIGINT. Stateless: run several.
 * A bad flag is one line on stderr and exit status 2.
 */

import { MetricsRegistry, parseAddress } from "@ftfs/protocol/core";
import {
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
  parseFlags,
  parseKeyFlags,
  usage,
  UsageError,
  type FlagSpec,
  type Keyring,
} from "@ftfs/protocol/io";
import { FtfsClient } from "@ftfs/client";
import { GATEWAY_CHUNKS_IN_FLIGHT, GATEWAY_GC_INTERVAL_BYTES, S3Gateway } from "./io/gateway.ts";

const PROGRAM = "ftfs-s3";
const EXIT_USAGE = 2;
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

export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): GatewayConfig | "help" {
  const flags = parseFlags(argv, FLAGS, env);
  if (flags.help === "true") return "help";
  const listen = parseAddress(flags.listen ?? "");
  if (!listen.ok) throw new UsageError(`flag --listen must be host:port, got '${flags.listen}'`);
  const cluster = parseAddressListFlag("cluster", flags.cluster, 1);
  const keyring = parseKeyFlags(flags);
  if (keyring.isOpen) {
    throw new UsageError(
      "the gateway needs the cluster key (--cluster-key-file FILE): it checks access keys " +
        "sealed under it, and a cluster without one has no access keys",
    );
  }
  const region = flags.region ?? REGION_DEFAULT;
  if (!/^[a-z0-9-]{1,32}$/.test(region)) {
    throw new UsageError(`flag --region must be a region name such as us-east-1, got '${region}'`);
  }
  const domain = flags.domain === "" || flags.domain === undefined ? null : flags.domain;
  return {
    hostname: listen.value.host,
    port: listen.value.port,
    cluster,
    keyring,
    region,
    domain,
    tls: parseTlsFlags(flags),
    httpListen: httpListenOf(flags),
  };
}

async function main(): Promise<void> {
  let config: GatewayConfig | "help";
  try {
    config = parseConfig(Bun.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${PROGRAM}: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  if (config === "help") {
    process.stdout.write(
      usage(PROGRAM, "The FTFS S3 gateway: S3 clients' requests to the cluster.", FLAGS),
    );
    return;
  }
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
  const stop = (signal: string): void => {
    logger.info("stopping", { signal });
    void Promise.all([gateway.stop(), status?.stop()]).then(() => {
      client.close();
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  exitWithParent();
}

if (import.meta.main) await main();
