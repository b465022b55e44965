/**
 * What one CLI process (or one interactive shell) carries between commands: where its output
 * goes, the saved session, and one FtfsClient per cluster so a shell reuses its connections.
 * Resolves the two things a command may leave out: the cluster (--cluster, else FTFS_CLUSTER,
 * else the session's, else the local dev cluster) and the user (--user, else the session's).
 */

import { DEV_DIRECTORY_ADDRESSES } from "@ftfs/protocol/core";
import { UsageError } from "@ftfs/protocol/io";
import { parseClusterList, type GlobalOptions } from "../core/args.ts";
import { CLI_READ_GC_INTERVAL_BYTES } from "../core/limits.ts";
import { FtfsClient } from "./client.ts";
import type { RetryObserver } from "./retry.ts";
import { loadSession, type Env, type Session } from "./session.ts";

/** The process's terminals and environment, behind an interface so tests can capture them. */
export interface CliIo {
  readonly env: Env;
  readonly stdinIsTty: boolean;
  readonly stderrIsTty: boolean;
  /** Write to stdout, waiting while the reader is slow (backpressure). */
  out(data: string | Uint8Array): Promise<void>;
  err(text: string): void;
}

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
  private readonly clients = new Map<string, FtfsClient>();

  private constructor(io: CliIo, session: Session | null) {
    this.io = io;
    this.session = session;
  }

  static async load(io: CliIo): Promise<CliState> {
    return new CliState(io, await loadSession(io.env));
  }

  /** The directory addresses to use, most specific source first. */
  clusterFor(options: GlobalOptions): string[] {
    if (options.cluster !== null) return [...options.cluster];
    const fromEnv = this.io.env.FTFS_CLUSTER;
    if (fromEnv !== undefined && fromEnv.trim() !== "") {
      const parsed = parseClusterList(fromEnv);
      if (!parsed.ok) throw new UsageError(`FTFS_CLUSTER: ${parsed.message}`);
      return parsed.value;
    }
    if (this.session !== null) {
      // The last primary first: it most likely still is, which saves a redirect.
      const primary = this.session.primary === null ? [] : [this.session.primary];
      return [...new Set([...primary, ...this.session.cluster])];
    }
    return [...DEV_DIRECTORY_ADDRESSES];
  }

  client(options: GlobalOptions): FtfsClient {
    const addresses = this.clusterFor(options);
    const key = addresses.join(",");
    let client = this.clients.get(key);
    if (client === undefined) {
      client = new FtfsClient({
        directories: addresses,
        onRetry: this.retryReporter(),
        gcIntervalBytes: CLI_READ_GC_INTERVAL_BYTES,
      });
      this.clients.set(key, client);
    }
    return client;
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
    if (this.session !== null) return this.session.uid;
    throw new UsageError("no user: connect first with `ftfs <uid> c`, or pass --user <uid>");
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
