/**
 * The directory primary keeps one idle TCP connection to each storage group's primary. When a
 * primary's process dies its kernel closes the connection at once; if a new connection is then
 * refused, the node is down for certain, and its group is reconfigured within milliseconds,
 * instead of after gossip's suspicion (about a second, longer under load). A paused node keeps
 * its connection open: gossip remains the path for that.
 */

import { FtfsError } from "@ftfs/protocol/core";
import { RpcClient, type ConnectOptions, type Logger } from "@ftfs/protocol/io";
import type { GroupConfig } from "../core/index.ts";

/** A refused reconnect is certain; one that hangs is left to gossip. */
const PRIMARY_WATCH_CONNECT_TIMEOUT_MS = 500;

export interface PrimaryWatchOptions {
  readonly logger: Logger;
  readonly onDown: (node: string) => void;
  /** How this node proves itself to storage nodes. */
  readonly connect?: ConnectOptions;
}

interface Watched {
  readonly node: string;
  readonly address: string;
  client: RpcClient | null;
}

export class PrimaryWatch {
  private readonly options: PrimaryWatchOptions;
  /** group → the primary watched for it. */
  private readonly watched = new Map<string, Watched>();
  private stopped = false;

  constructor(options: PrimaryWatchOptions) {
    this.options = options;
  }

  /** Watch exactly the primaries of `configs` (call after every configuration change). */
  follow(configs: readonly GroupConfig[]): void {
    if (this.stopped) return;
    const wanted = new Map<string, { node: string; address: string }>();
    for (const config of configs) {
      if (config.primaryNode !== null && config.primary !== null) {
        wanted.set(config.group, { node: config.primaryNode, address: config.primary });
      }
    }
    for (const [group, current] of this.watched) {
      const next = wanted.get(group);
      if (next?.node === current.node && next.address === current.address) continue;
      this.watched.delete(group);
      current.client?.close();
    }
    for (const [group, primary] of wanted) {
      if (this.watched.has(group)) continue;
      const entry: Watched = { ...primary, client: null };
      this.watched.set(group, entry);
      void this.connect(group, entry, false);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.watched.values()) entry.client?.close();
    this.watched.clear();
  }

  private async connect(group: string, entry: Watched, afterClose: boolean): Promise<void> {
    let client: RpcClient;
    try {
      client = await RpcClient.connect(
        entry.address,
        PRIMARY_WATCH_CONNECT_TIMEOUT_MS,
        this.options.connect,
      );
    } catch (error) {
      if (this.watched.get(group) !== entry || this.stopped) return;
      // Refused right after its connection closed: the process is gone. A refused handshake
      // (a key being rotated, a connection limit) says the process is there.
      const refused = error instanceof FtfsError && error.code === "CONNECT_FAILED";
      if (afterClose && refused) {
        this.options.logger.info("storage primary's port refuses connections", {
          group,
          node: entry.node,
          error: error instanceof Error ? error.message : String(error),
        });
        this.options.onDown(entry.node);
      }
      return;
    }
    if (this.watched.get(group) !== entry || this.stopped) {
      client.close();
      return;
    }
    entry.client = client;
    client.onClosed = () => {
      if (this.watched.get(group) !== entry || this.stopped || entry.client !== client) return;
      entry.client = null;
      void this.connect(group, entry, true);
    };
  }
}
