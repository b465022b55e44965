/**
 * What only the directory primary runs, created when it starts serving and stopped when it
 * stops: the storage-group manager (with its periodic check and the TCP watch on each group's
 * primary), the outbox drainer that delivers notices to storage, the rebalancer, and the
 * reseal of access keys after a cluster-key rotation (access-keys.ts), and the abort of
 * multipart uploads past their lifetime (multipart.ts). A new
 * primary's outbox starts only once the previous term's drainers have finished, so a group
 * never sees this term's notices overtaken by older ones.
 */

import {
  describeError,
  type ConnectOptions,
  type Keyring,
  type Logger,
  type RpcPool,
} from "@ftfs/protocol/io";
import {
  ACCESS_KEY_RESEAL_INTERVAL_MS,
  GROUP_CHECK_INTERVAL_MS,
  MULTIPART_EXPIRY_INTERVAL_MS,
  REBALANCE_BYTES_PER_SECOND_DEFAULT,
  REBALANCE_RUN_BYTES_MAX,
  REREPLICATION_GRACE_MS_DEFAULT,
  SHUTDOWN_FLUSH_TIMEOUT_MS,
  STORAGE_NODES_MAX,
} from "../core/index.ts";
import { resealAccessKeys } from "./access-keys.ts";
import { GroupManager } from "./group-manager.ts";
import { expireMultiparts } from "./multipart.ts";
import type { PrimaryServices } from "./handlers.ts";
import { OutboxDrainer } from "./outbox.ts";
import { PrimaryWatch } from "./primary-watch.ts";
import { Rebalancer, type RebalanceTotals } from "./rebalancer.ts";
import type { Proposer } from "./replicator.ts";
import type { SqliteMetadataStore } from "./sqlite-store.ts";

export interface PrimaryDutiesOptions {
  readonly store: SqliteMetadataStore;
  readonly proposer: Proposer;
  readonly pool: RpcPool;
  readonly connect: ConnectOptions;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly newId: () => string;
  /** Silence after which a storage node is judged dead. */
  readonly deadAfterMs: number;
  /** The operator's settings; undefined: the default. */
  readonly rereplicationGraceMs: number | undefined;
  readonly groupCheckIntervalMs: number | undefined;
  readonly multipartExpiryIntervalMs: number | undefined;
  readonly rebalanceBytesPerSecond: number | undefined;
  /** The node's rebalance totals, added to by every term's rebalancer. */
  readonly rebalanceTotals: RebalanceTotals;
  /** The previous terms' duties, still finishing: the outbox waits for them. */
  readonly after: Promise<unknown>;
  /** The cluster keyring, to reseal access keys after a rotation; null in insecure mode. */
  readonly keyring: Keyring | null;
}

export class PrimaryDuties implements PrimaryServices {
  readonly groups: GroupManager;
  readonly outbox: OutboxDrainer;
  readonly rebalancer: Rebalancer;
  private readonly primaryWatch: PrimaryWatch;
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly resealTicker: ReturnType<typeof setInterval>;
  private readonly expiryTicker: ReturnType<typeof setInterval>;
  private resealing: Promise<unknown> = Promise.resolve();
  private expiring: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(options: PrimaryDutiesOptions) {
    const { store, proposer, pool, logger, nowMs } = options;
    // A new registry starts every known node at "seen now": a new primary gives storage nodes
    // a full timeout to find it before judging any of them dead.
    const groups = new GroupManager({
      store,
      proposer,
      logger,
      nowMs,
      nodesMax: STORAGE_NODES_MAX,
      deadAfterMs: options.deadAfterMs,
      rereplicationGraceMs: options.rereplicationGraceMs ?? REREPLICATION_GRACE_MS_DEFAULT,
    });
    this.groups = groups;
    this.outbox = new OutboxDrainer({ store, proposer, pool, logger, nowMs, random: Math.random });
    void options.after.then(() => {
      if (!this.stopped) this.outbox.start();
    });
    this.primaryWatch = new PrimaryWatch({
      logger,
      connect: options.connect,
      onDown: (node, evidence) => void groups.onMemberDown(node, evidence),
    });
    this.ticker = setInterval(() => {
      void groups.tick();
      this.primaryWatch.follow(store.listGroups());
    }, options.groupCheckIntervalMs ?? GROUP_CHECK_INTERVAL_MS);
    const keys = { store, proposer, nowMs, logger, keyring: options.keyring };
    let passRunning = false;
    const reseal = () => {
      if (passRunning || this.stopped) return;
      passRunning = true;
      this.resealing = resealAccessKeys(keys)
        .catch((error: unknown) =>
          logger.error("access key reseal failed; the next pass retries", {
            error: describeError(error),
          }),
        )
        .finally(() => {
          passRunning = false;
        });
    };
    // At once (a new primary may be the first with the rotated key first), then now and then.
    void options.after.then(() => {
      if (!this.stopped) reseal();
    });
    this.resealTicker = setInterval(reseal, ACCESS_KEY_RESEAL_INTERVAL_MS);
    let expiryRunning = false;
    this.expiryTicker = setInterval(() => {
      if (expiryRunning || this.stopped) return;
      expiryRunning = true;
      this.expiring = expireMultiparts({ store, proposer, nowMs, logger })
        .catch((error: unknown) =>
          logger.error("multipart upload expiry failed; the next pass retries", {
            error: describeError(error),
          }),
        )
        .finally(() => {
          expiryRunning = false;
        });
    }, options.multipartExpiryIntervalMs ?? MULTIPART_EXPIRY_INTERVAL_MS);
    this.rebalancer = new Rebalancer({
      store,
      proposer,
      pool,
      logger,
      nowMs,
      monotonicMs: () => performance.now(),
      usages: () => groups.usages(),
      newId: options.newId,
      bytesPerSecond: options.rebalanceBytesPerSecond ?? REBALANCE_BYTES_PER_SECOND_DEFAULT,
      budgetBytes: REBALANCE_RUN_BYTES_MAX,
      totals: options.rebalanceTotals,
    });
  }

  /** Stops the checks at once; resolves when the group work, notices and moves have wound down. */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    clearInterval(this.resealTicker);
    clearInterval(this.expiryTicker);
    this.primaryWatch.stop();
    return Promise.all([
      this.resealing,
      this.expiring,
      this.groups.idle().then(() => this.outbox.stop(SHUTDOWN_FLUSH_TIMEOUT_MS)),
      this.rebalancer.stop(SHUTDOWN_FLUSH_TIMEOUT_MS),
    ]).then(() => undefined);
  }
}
