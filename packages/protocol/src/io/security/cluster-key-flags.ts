/**
 * The security flags both server apps take, and what they turn into: the cluster keyring
 * (`--cluster-key` or `--cluster-key-file`, or an explicit `--insecure`), the connection bounds,
 * and TLS for the listener. A node with no key refuses to start unless told `--insecure`, so
 * nobody runs an open cluster by forgetting a flag. Owns parsing; nothing here opens a socket.
 */

import { readFileSync } from "node:fs";
import type { ClientCredentials } from "./channel-auth.ts";
import {
  parseBooleanFlag,
  parseDurationFlag,
  parseIntegerFlag,
  UsageError,
  type FlagSpec,
} from "../cli-flags.ts";
import { CONNECTION_LIMITS_DEFAULT, type ConnectionLimits } from "../connection-guard.ts";
import { CLUSTER_KEY_FLAG, parseClusterKeyFlag } from "../gossip/cluster-gossip.ts";
import { Keyring } from "./keyring.ts";
import type { ConnectOptions, ClientTls } from "../rpc-client.ts";
import type { ServerTls } from "../rpc-server.ts";

/** The cluster key, inline or from a file: every program that holds the key takes these. */
export const CLUSTER_KEY_FLAGS: readonly FlagSpec[] = [
  CLUSTER_KEY_FLAG,
  {
    name: "cluster-key-file",
    description: "file with the cluster keys, as --cluster-key (keeps them out of ps)",
    default: "",
  },
];

/** TLS for a listener, and the CA trusted when connecting to TLS nodes. */
export const TLS_FLAGS: readonly FlagSpec[] = [
  {
    name: "tls-cert",
    description: "PEM certificate chain: serve TLS instead of plain TCP (needs --tls-key)",
    default: "",
  },
  { name: "tls-key", description: "PEM private key of --tls-cert", default: "" },
  {
    name: "tls-ca",
    description:
      "PEM CA this node trusts when it connects to other TLS nodes (default: --tls-cert)",
    default: "",
  },
];

export const SECURITY_FLAGS: readonly FlagSpec[] = [
  ...CLUSTER_KEY_FLAGS,
  {
    name: "insecure",
    description: "run without a cluster key: no node or user is authenticated (dev only)",
    boolean: true,
    default: "false",
  },
  {
    name: "connections-max",
    description: "connections this node serves at once; more are refused",
    default: String(CONNECTION_LIMITS_DEFAULT.connectionsMax),
  },
  {
    name: "connections-per-address-max",
    description: "connections from one remote address; more are refused",
    default: String(CONNECTION_LIMITS_DEFAULT.connectionsPerAddressMax),
  },
  {
    name: "handshake-timeout",
    description: "a connection that has not said hello by then is closed, e.g. 5s",
    default: `${CONNECTION_LIMITS_DEFAULT.handshakeTimeoutMs}ms`,
  },
  {
    name: "idle-timeout",
    description: "a client connection idle this long is closed, e.g. 5m",
    default: `${CONNECTION_LIMITS_DEFAULT.idleTimeoutMs}ms`,
  },
  ...TLS_FLAGS,
];

export interface SecuritySettings {
  /** Open in insecure mode. */
  readonly keyring: Keyring;
  readonly insecure: boolean;
  readonly limits: ConnectionLimits;
  readonly tls?: ServerTls;
  /** How this node connects to other nodes: TLS if the cluster serves TLS. */
  readonly clientTls?: ClientTls;
}

/** Parsed security flags; throws UsageError naming the flag at fault. */
export function parseSecurityFlags(flags: Readonly<Record<string, string>>): SecuritySettings {
  const keyring = parseKeyFlags(flags);
  const insecure = parseBooleanFlag("insecure", flags.insecure);
  if (keyring.isOpen && !insecure) {
    throw new UsageError(
      "no cluster key: give --cluster-key-file FILE (or --cluster-key, or their FTFS_ twins) " +
        "so nodes and users are authenticated, or --insecure to run without (dev only)",
    );
  }
  if (!keyring.isOpen && insecure) {
    throw new UsageError("--insecure and a cluster key exclude each other: give one of them");
  }
  const tls = parseTlsFlags(flags);
  const base = { keyring, insecure, limits: parseLimits(flags) };
  if (tls === null) return base;
  return { ...base, tls: tls.server, clientTls: tls.client };
}

/** The settings as the node options of both apps spell them (absent keys stay absent). */
export function securityOptions(settings: SecuritySettings): {
  clusterKey?: Keyring;
  limits: ConnectionLimits;
  tls?: ServerTls;
  clientTls?: ClientTls;
} {
  return {
    limits: settings.limits,
    ...(settings.keyring.isOpen ? {} : { clusterKey: settings.keyring }),
    ...(settings.tls === undefined ? {} : { tls: settings.tls }),
    ...(settings.clientTls === undefined ? {} : { clientTls: settings.clientTls }),
  };
}

/**
 * How a node's own clients reach other nodes: proving themselves with the cluster key (open:
 * an insecure claim), over TLS when the cluster serves TLS.
 */
export function nodeConnectOptions(
  node: string,
  keyring: Keyring | undefined,
  clientTls: ClientTls | undefined,
): ConnectOptions {
  const credentials: ClientCredentials = { kind: "node", node, keyring: keyring ?? Keyring.open() };
  return clientTls === undefined ? { credentials } : { credentials, tls: clientTls };
}

/** The keyring the cluster-key flags name (open when neither is given). */
export function parseKeyFlags(flags: Readonly<Record<string, string>>): Keyring {
  const inline = flags["cluster-key"] ?? "";
  const file = flags["cluster-key-file"] ?? "";
  if (inline !== "" && file !== "") {
    throw new UsageError("--cluster-key and --cluster-key-file exclude each other: give one");
  }
  if (file === "") return parseClusterKeyFlag(inline);
  const text = readFlagFile("cluster-key-file", file).trim();
  if (text === "") throw new UsageError(`flag --cluster-key-file: ${file} holds no key`);
  try {
    return parseClusterKeyFlag(text);
  } catch (error) {
    if (error instanceof UsageError) {
      throw new UsageError(
        error.message.replace("--cluster-key:", `--cluster-key-file (${file}):`),
      );
    }
    throw error;
  }
}

function parseLimits(flags: Readonly<Record<string, string>>): ConnectionLimits {
  return {
    ...CONNECTION_LIMITS_DEFAULT,
    connectionsMax: parseIntegerFlag(
      "connections-max",
      flags["connections-max"] ?? "",
      1,
      1_000_000,
    ),
    connectionsPerAddressMax: parseIntegerFlag(
      "connections-per-address-max",
      flags["connections-per-address-max"] ?? "",
      1,
      1_000_000,
    ),
    handshakeTimeoutMs: parseDurationFlag("handshake-timeout", flags["handshake-timeout"], 1),
    idleTimeoutMs: parseDurationFlag("idle-timeout", flags["idle-timeout"], 1),
  };
}

/** The TLS flags: what to serve, and what to trust connecting to nodes; null for plain TCP. */
export function parseTlsFlags(
  flags: Readonly<Record<string, string>>,
): { server: ServerTls; client: ClientTls } | null {
  const certFile = flags["tls-cert"] ?? "";
  const keyFile = flags["tls-key"] ?? "";
  const caFile = flags["tls-ca"] ?? "";
  if (certFile === "" && keyFile === "") {
    if (caFile !== "") throw new UsageError("flag --tls-ca needs --tls-cert and --tls-key");
    return null;
  }
  if (certFile === "" || keyFile === "") {
    throw new UsageError("flags --tls-cert and --tls-key go together: give both");
  }
  const cert = readFlagFile("tls-cert", certFile);
  const key = readFlagFile("tls-key", keyFile);
  const ca = caFile === "" ? cert : readFlagFile("tls-ca", caFile);
  return { server: { cert, key }, client: { ca } };
}

function readFlagFile(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`flag --${flag}: cannot read ${path}: ${reason}`);
  }
}

/** A fresh random cluster key in the `--cluster-key` format (tests, `bun run dev`). */
export function generateClusterKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(CLUSTER_KEY_BYTES_GENERATED))).toString(
    "base64",
  );
}

/** Generated keys: 256 bits, the HMAC-SHA256 output size. */
export const CLUSTER_KEY_BYTES_GENERATED = 32;
