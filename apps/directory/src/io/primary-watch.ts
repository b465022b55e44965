/**
 * The directory primary keeps one idle TCP connection to each storage group's primary. When a
 * primary's process dies its kernel closes the connection at once; if a new connection is then
 * refused, the node is down for certain, and its group is reconfigured within milliseconds,
 * instead of after gossip's suspicion (about a second, longer under load). A cut link or a dead
 * host closes nothing: for those the watch sends a keepalive on the connection every 200 ms,
 * and when none is answered for a while it checks the primary's host as gossip does (core/
 * primary-liveness.ts has the rule): nothing answering at all means down. A paused or busy
 * process's host still answers, so gossip remains the path for those.
 */

import { FtfsError, swim } from "@ftfs/protocol/core";
import {
  CONNECTION_FAILURE_CODES,
  HostChecker,
  RpcClient,
  type ConnectOptions,
  type Logger,
} from "@ftfs/protocol/io";
import { PrimaryLiveness, type GroupConfig, type LivenessAction } from "../core/index.ts";

/** A refused reconnect is certain; one that hangs is left to the keepalives. */
const PRIMARY_WATCH_CONNECT_TIMEOUT_MS = 500;
/** How often the liveness rule is consulted: its timings are multiples of this. */
const PRIMARY_WATCH_TICK_MS = 50;
/** A keepalive's answer counts whenever it comes; past this the call is dropped. */
const PRIMARY_KEEPALIVE_CALL_TIMEOUT_MS = 5_000;
/** Gossip's host check timing: a live host's kernel answers well within it. */
const PRIMARY_HOST_CHECK_TIMEOUT_MS = swim.SWIM_LAN_CONFIG.hostCheckTimeoutMs;

export interface PrimaryWatchOptions {
  readonly logger: Logger;
  /** The primary `node` is down; `evidence` says how the watch knows. */
  readonly onDown: (node: string, evidence: string) => void;
  /** How this node proves itself to storage nodes. */
  readonly connect?: ConnectOptions;
  /** The clock (ms); default performance.now. */
  readonly nowMs?: () => number;
}

interface Watched {
  readonly node: string;
  readonly address: string;
  readonly liveness: PrimaryLiveness;
  client: RpcClient | null;
  keepaliveInFlight: boolean;
}

export class PrimaryWatch {
  private readonly options: PrimaryWatchOptions;
  /** group → the primary watched for it. */
  private readonly watched = new Map<string, Watched>();
  private readonly hostChecker: HostChecker;
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly nowMs: () => number;
  private stopped = false;

  constructor(options: PrimaryWatchOptions) {
    this.options = options;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.hostChecker = new HostChecker({
      attempts: swim.HOST_CHECK_ATTEMPTS,
      timeoutMs: PRIMARY_HOST_CHECK_TIMEOUT_MS,
      onSilent: (address) => this.onHost(address, false),
      onAnswered: (address) => this.onHost(address, true),
    });
    this.ticker = setInterval(() => this.tick(), PRIMARY_WATCH_TICK_MS);
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
      const liveness = new PrimaryLiveness(this.nowMs());
      const entry: Watched = { ...primary, liveness, client: null, keepaliveInFlight: false };
      this.watched.set(group, entry);
      void this.connect(group, entry, false);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    this.hostChecker.close();
    for (const entry of this.watched.values()) entry.client?.close();
    this.watched.clear();
  }

  private tick(): void {
    const nowMs = this.nowMs();
    for (const entry of this.watched.values()) this.act(entry, entry.liveness.tick(nowMs));
  }

  private act(entry: Watched, actions: readonly LivenessAction[]): void {
    for (const action of actions) {
      if (action === "keepalive") this.sendKeepalive(entry);
      else if (action === "check-host") this.hostChecker.check(entry.address);
      else this.declareDown(entry);
    }
  }

  /** One keepalive at a time: a slow primary is not sent a pile of them. */
  private sendKeepalive(entry: Watched): void {
    const client = entry.client;
    if (client === null || entry.keepaliveInFlight) return;
    entry.keepaliveInFlight = true;
    // An empty hasChunks: the cheapest call a storage node answers.
    client
      .call("hasChunks", { chunkIds: [] }, { timeoutMs: PRIMARY_KEEPALIVE_CALL_TIMEOUT_MS })
      .then(
        () => entry.liveness.answered(this.nowMs()),
        (error: unknown) => {
          // A refusal is still an answer from the process; only silence and closure are not.
          const silent = error instanceof FtfsError && CONNECTION_FAILURE_CODES.has(error.code);
          if (!silent) entry.liveness.answered(this.nowMs());
        },
      )
      .finally(() => {
        entry.keepaliveInFlight = false;
      });
  }

  private onHost(address: string, answered: boolean): void {
    if (this.stopped) return;
    const nowMs = this.nowMs();
    for (const entry of this.watched.values()) {
      if (entry.address !== address) continue;
      if (answered) entry.liveness.hostAnswered(nowMs);
      else this.act(entry, entry.liveness.hostSilent(nowMs));
    }
  }

  private declareDown(entry: Watched): void {
    this.options.logger.info("storage primary silent: no keepalive answer, its host silent", {
      node: entry.node,
      address: entry.address,
    });
    this.options.onDown(entry.node, "its keepalives went unanswered and its host was silent");
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
        this.options.onDown(entry.node, "its port refused a connection");
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
