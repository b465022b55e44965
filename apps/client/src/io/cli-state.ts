/**
 * What one CLI process (or one interactive shell) carries between commands: where its output
 * goes, the saved session, and one FtfsClient per cluster so a shell reuses its connections.
 * Resolves the two things a command may leave out: the cluster (--cluster, else FTFS_CLUSTER,
 * else the session's, else the local dev cluster) and the user (--user, else the session's).
 */

import { readFileSync } from "node:fs";
import { assertNever, DEV_DIRECTORY_ADDRESSES, FtfsError } from "@ftfs/protocol/core";
import { Keyring, UsageError, type ClientCredentials, type ClientTls } from "@ftfs/protocol/io";
import { parseClusterList, type GlobalOptions } from "../core/args.ts";
import { CLI_GC_INTERVAL_BYTES } from "@ftfs/client";
import { FtfsClient } from "@ftfs/client";
import type { RetryObserver } from "@ftfs/client";
import type { ActingAs, ClusterSource, FailureContext } from "../core/explain.ts";
import { loadSession, sessionPath, type Env, type Session } from "./session.ts";

/** The process's terminals and environment, behind an interface so tests can capture them. */
export interface CliIo {
  readonly env: Env;
  readonly stdinIsTty: boolean;
  readonly stdoutIsTty: boolean;
  readonly stderrIsTty: boolean;
  /** Write to stdout, waiting while the reader is slow (backpressure). */
  out(data: string | Uint8Array): Promise<void>;
  err(text: string): void;
  /** Ask for a secret on the terminal without echoing it; absent where there is none. */
  readonly readSecret?: (prompt: string) => Promise<string>;
  /** Standard input as bytes (`put -`); absent where there is none. */
  readonly stdin?: () => AsyncIterable<Uint8Array>;
}

/**
 * Whom a command acts as: a user (its session on a secure cluster), an administrator (the
 * cluster key, else the session's user), or nobody yet (a login in progress).
 */
export type Actor =
  | { readonly kind: "user"; readonly uid: string }
  | { readonly kind: "admin" }
  | { readonly kind: "anonymous" };

/** The node name the CLI claims when it holds the cluster key (admin commands). */
const ADMIN_NODE_NAME = "ftfs-admin";

/** stdout's reader went away (a closed pipe): nothing more can be said, so say nothing. */
export class OutputClosedError extends Error {
  override readonly name = "OutputClosedError";
  constructor() {
    super("standard output was closed");
  }
}

export class CliState {
  readonly io: CliIo;
  session: Session | null;
  /** The command being run, in the user's words (for error lines); set by the runner. */
  command = "";
  /** Who the last client was made for and where its cluster came from: errors explain it. */
  failureContext: FailureContext | null = null;
  private readonly clients = new Map<string, FtfsClient>();

  private constructor(io: CliIo, session: Session | null) {
    this.io = io;
    this.session = session;
  }

  static async load(io: CliIo): Promise<CliState> {
    return new CliState(io, await loadSession(io.env));
  }

  /** The directory addresses to use, most specific source first. */
  clusterFor(options: GlobalOptions, actor?: Actor): string[] {
    return this.cluster(options, actor).addresses;
  }

  /**
   * The addresses and where they came from: --cluster, FTFS_CLUSTER, else the cluster the
   * acting user logged in to, else the session's, else the local dev cluster. A user's login
   * is good only on its own cluster, so acting as that user goes there unless told otherwise.
   */
  cluster(options: GlobalOptions, actor?: Actor): { addresses: string[]; source: ClusterSource } {
    if (options.cluster !== null)
      return { addresses: [...options.cluster], source: { kind: "flag" } };
    const fromEnv = this.io.env.FTFS_CLUSTER;
    if (fromEnv !== undefined && fromEnv.trim() !== "") {
      const parsed = parseClusterList(fromEnv);
      if (!parsed.ok) throw new UsageError(`FTFS_CLUSTER: ${parsed.message}`);
      return { addresses: parsed.value, source: { kind: "env" } };
    }
    const session = this.session;
    if (session === null) {
      return { addresses: [...DEV_DIRECTORY_ADDRESSES], source: { kind: "default" } };
    }
    const file = sessionPath(this.io.env);
    const uid = actor?.kind === "user" ? actor.uid : session.uid;
    const login = uid === null ? undefined : session.logins?.[uid];
    if (
      uid !== null &&
      login?.cluster !== undefined &&
      !sameAddresses(login.cluster, session.cluster)
    ) {
      return { addresses: [...login.cluster], source: { kind: "session", uid, file } };
    }
    // The last primary first: it most likely still is, which saves a redirect.
    const primary = session.primary === null ? [] : [session.primary];
    const addresses = [...new Set([...primary, ...session.cluster])];
    const madeBy = session.uid ?? Object.keys(session.logins ?? {})[0] ?? "?";
    return { addresses, source: { kind: "session", uid: madeBy, file } };
  }

  /** How the user runs the CLI, so the commands it suggests work as typed. */
  get invokedAs(): string {
    return invokedAs(this.io.env);
  }

  client(options: GlobalOptions, actor: Actor): FtfsClient {
    const { addresses, source } = this.cluster(options, actor);
    this.failureContext = {
      command: this.command,
      acting: this.actingAs(options, actor),
      source,
      invokedAs: this.invokedAs,
    };
    const { credentials, identity } = this.credentialsFor(options, actor);
    const key = `${addresses.join(",")}|${identity}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      client = new FtfsClient({
        directories: addresses,
        onRetry: this.retryReporter(),
        gcIntervalBytes: CLI_GC_INTERVAL_BYTES,
        credentials,
        tls: this.tlsFor(options),
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * A user's saved session (anonymous without one: an insecure cluster needs none, and a
   * secure one refuses with a hint to log in); for admin commands the cluster key first.
   */
  private credentialsFor(
    options: GlobalOptions,
    actor: Actor,
  ): { credentials: ClientCredentials; identity: string } {
    if (actor.kind === "admin") {
      const keyring = this.clusterKey(options);
      if (keyring !== null) {
        return { credentials: { kind: "node", node: ADMIN_NODE_NAME, keyring }, identity: "node" };
      }
    }
    const uid =
      actor.kind === "user" ? actor.uid : actor.kind === "admin" ? this.session?.uid : undefined;
    const login = uid === undefined || uid === null ? undefined : this.session?.logins?.[uid];
    if (login === undefined) return { credentials: { kind: "anonymous" }, identity: "anonymous" };
    if (Date.now() >= login.expiresAtMs) {
      throw new FtfsError("SESSION_EXPIRED", `${login.uid}'s session has expired`);
    }
    return {
      credentials: { kind: "user", token: login.token, sessionKey: login.sessionKey },
      identity: `user:${login.token}`,
    };
  }

  /** --tls-ca, else $FTFS_TLS_CA: a CA file means TLS to every node; none, plain TCP. */
  private tlsFor(options: GlobalOptions): ClientTls | undefined {
    const file = options.tlsCa ?? nonEmpty(this.io.env.FTFS_TLS_CA);
    if (file === null) return undefined;
    try {
      return { ca: readFileSync(file, "utf8") };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new FtfsError("LOCAL_FILE", `cannot read the TLS CA file ${file}: ${reason}`);
    }
  }

  /** --cluster-key-file, else $FTFS_CLUSTER_KEY, else $FTFS_CLUSTER_KEY_FILE; null: none. */
  private clusterKey(options: GlobalOptions): Keyring | null {
    const file = options.clusterKeyFile ?? nonEmpty(this.io.env.FTFS_CLUSTER_KEY_FILE);
    let text = file === null ? nonEmpty(this.io.env.FTFS_CLUSTER_KEY) : null;
    if (file !== null) {
      try {
        text = readFileSync(file, "utf8");
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new FtfsError("LOCAL_FILE", `cannot read the cluster key file ${file}: ${reason}`);
      }
    }
    if (text === null) return null;
    try {
      return Keyring.parse(text.trim());
    } catch (error) {
      throw new UsageError(
        `cluster key: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private actingAs(options: GlobalOptions, actor: Actor): ActingAs {
    switch (actor.kind) {
      case "user":
        return {
          kind: "user",
          uid: actor.uid,
          loggedIn: this.session?.logins?.[actor.uid] !== undefined,
        };
      case "admin": {
        const keyGiven =
          options.clusterKeyFile !== null ||
          nonEmpty(this.io.env.FTFS_CLUSTER_KEY_FILE) !== null ||
          nonEmpty(this.io.env.FTFS_CLUSTER_KEY) !== null;
        const sessionUid = this.session?.uid ?? null;
        const loggedIn = sessionUid !== null && this.session?.logins?.[sessionUid] !== undefined;
        return { kind: "admin", keyGiven, sessionUid: loggedIn ? sessionUid : null };
      }
      case "anonymous":
        return { kind: "anonymous" };
      default:
        return assertNever(actor);
    }
  }

  /** Under FTFS_DEBUG, each retry is one stderr line; otherwise retries are silent pauses. */
  private retryReporter(): RetryObserver | undefined {
    const debug = this.io.env.FTFS_DEBUG;
    if (debug === undefined || debug === "" || debug === "0") return undefined;
    return (event) =>
      this.io.err(
        `ftfs: retry ${event.attempt + 1} of ${event.what} in ${event.delayMs} ms ` +
          `after ${event.error.code}: ${event.error.message}\n`,
      );
  }

  /** The user a friendly command acts as. */
  uidFor(given: string | null): string {
    if (given !== null) return given;
    const uid = this.session?.uid ?? null;
    if (uid !== null) return uid;
    throw new UsageError(
      `no user: connect first with \`${this.invokedAs} <uid> c\`, or pass --user <uid>`,
    );
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

function nonEmpty(value: string | undefined): string | null {
  return value === undefined || value.trim() === "" ? null : value;
}

/**
 * `bunx ftfs` or `npx ftfs` when run that way (they say so in npm_lifecycle_event), else
 * `ftfs`: an installed or compiled binary.
 */
export function invokedAs(env: Env): string {
  const runner = env.npm_lifecycle_event;
  return runner === "bunx" || runner === "npx" ? `${runner} ftfs` : "ftfs";
}

function sameAddresses(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && left.every((address) => right.includes(address));
}
