/**
 * Delivers the outbox: the commitRefs/dropRefs/dropUploadRefs notices the state machine wrote,
 * in the same transaction as their command, for each storage group. A background loop, never on a client's
 * path, run by the directory primary only: per group, notices go in order to the group's current
 * primary; once a batch is acknowledged an ackNotices command makes every directory replica
 * forget it (so a new primary resends only what may not have arrived); a group that fails waits with exponential backoff (capped) while the other
 * groups go on. Storage applies notices idempotently, so a resend after a crash is harmless.
 */

import { assertNever, backoffDelayMs, FtfsError, type ErrorCode } from "@ftfs/protocol/core";
import { describeError, type Logger, type RpcPool } from "@ftfs/protocol/io";
import {
  OUTBOX_BATCH_NOTICES_MAX,
  OUTBOX_CALL_TIMEOUT_MS,
  OUTBOX_GROUPS_PER_ROUND_MAX,
  OUTBOX_POLL_INTERVAL_MS,
  OUTBOX_RETRY_DELAY_MS_MAX,
  OUTBOX_RETRY_DELAY_MS_MIN,
  type MetadataStore,
  type Notice,
  type OutboxNotice,
} from "../core/index.ts";
import type { Proposer } from "./replicator.ts";

/**
 * Answers after which sending the same notice again cannot succeed: the storage node does not
 * understand it. Such a notice is logged and dropped so it does not block its group forever.
 */
const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "BAD_REQUEST",
  "UNKNOWN_OP",
  "INVALID_NAME",
  "INVALID_UID",
  "UNSUPPORTED_VERSION",
]);

interface Backoff {
  readonly failures: number;
  readonly retryAtMs: number;
}

export interface OutboxOptions {
  readonly store: MetadataStore;
  /** Replicates the acknowledgements; its term stamps every notice (storage fences by it). */
  readonly proposer: Pick<Proposer, "propose" | "term">;
  readonly pool: RpcPool;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /** In [0, 1): spreads retries so groups that failed together do not retry together. */
  readonly random: () => number;
}

export interface OutboxStats {
  delivered: number;
  failures: number;
  dropped: number;
}

export class OutboxDrainer {
  readonly stats: OutboxStats = { delivered: 0, failures: 0, dropped: 0 };
  private readonly options: OutboxOptions;
  private readonly backoff = new Map<string, Backoff>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private round: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(options: OutboxOptions) {
    this.options = options;
  }

  start(): void {
    this.schedule(0);
  }

  /** New notices were written: deliver them now rather than at the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.round !== null) this.again = true;
    else this.schedule(0);
  }

  /** Stop the loop; wait (bounded) for notices already on the wire. */
  async stop(flushTimeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.round === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, flushTimeoutMs)));
    await Promise.race([this.round, deadline]);
    clearTimeout(timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runRound();
    }, delayMs);
  }

  private async runRound(): Promise<void> {
    if (this.stopped || this.round !== null) return;
    this.again = false;
    this.round = this.drainOnce().catch((error: unknown) => {
      this.options.logger.error("outbox round failed", { error: describeError(error) });
    });
    await this.round;
    this.round = null;
    this.schedule(this.again ? 0 : this.nextDelayMs());
  }

  private async drainOnce(): Promise<void> {
    const nowMs = this.options.nowMs();
    const groups = this.options.store
      .noticeGroups(OUTBOX_GROUPS_PER_ROUND_MAX)
      .filter((group) => (this.backoff.get(group)?.retryAtMs ?? 0) <= nowMs);
    await Promise.all(groups.map((group) => this.drainGroup(group)));
  }

  private async drainGroup(group: string): Promise<void> {
    let delivered: OutboxNotice | null = null;
    let failed = false;
    for (const notice of this.options.store.pendingNotices(group, OUTBOX_BATCH_NOTICES_MAX)) {
      if (this.stopped) break;
      if (!(await this.deliver(notice))) {
        failed = true;
        break;
      }
      delivered = notice;
    }
    if (delivered !== null) await this.acknowledge(group, delivered);
    if (failed) this.recordFailure(group);
    else this.backoff.delete(group);
  }

  /** One command forgets the delivered prefix of a group's notices on every replica. */
  private async acknowledge(group: string, through: OutboxNotice): Promise<void> {
    const acked = await this.options.proposer.propose({
      type: "ackNotices",
      group,
      throughIndex: through.index,
      throughSeq: through.seq,
      atMs: this.options.nowMs(),
    });
    // Not acknowledged (leadership lost): the next primary resends; storage ignores repeats.
    if (!acked.ok) {
      this.options.logger.debug("notice acknowledgement not committed", {
        group,
        code: acked.error.code,
      });
    }
  }

  /** True when the notice is done with (acknowledged, or refused for good). */
  private async deliver(item: OutboxNotice): Promise<boolean> {
    const { logger, pool, store } = this.options;
    const config = store.getGroup(item.group);
    if (config === undefined || config.primary === null) return false;
    const address = config.primary;
    const fields = {
      group: item.group,
      op: item.notice.op,
      uid: item.notice.body.uid,
      name: item.notice.body.name,
    };
    try {
      await send(pool, address, item.notice, this.options.proposer.term, {
        epoch: config.epoch,
        timeoutMs: OUTBOX_CALL_TIMEOUT_MS,
      });
      this.stats.delivered += 1;
      return true;
    } catch (error) {
      if (error instanceof FtfsError && PERMANENT_CODES.has(error.code)) {
        this.stats.dropped += 1;
        logger.warn("storage refused a notice for good; dropped", {
          ...fields,
          code: error.code,
          reason: error.message,
        });
        return true;
      }
      this.stats.failures += 1;
      logger.debug("notice not delivered; will retry", {
        ...fields,
        address,
        error: describeError(error),
      });
      return false;
    }
  }

  private recordFailure(group: string): void {
    const failures = (this.backoff.get(group)?.failures ?? 0) + 1;
    const delayMs = backoffDelayMs(
      failures - 1,
      this.options.random(),
      OUTBOX_RETRY_DELAY_MS_MIN,
      OUTBOX_RETRY_DELAY_MS_MAX,
    );
    this.backoff.set(group, { failures, retryAtMs: this.options.nowMs() + delayMs });
  }

  private nextDelayMs(): number {
    const nowMs = this.options.nowMs();
    let delayMs = OUTBOX_POLL_INTERVAL_MS;
    for (const { retryAtMs } of this.backoff.values())
      delayMs = Math.min(delayMs, Math.max(0, retryAtMs - nowMs));
    return delayMs;
  }
}

/**
 * One notice as its storage request, stamped with the sender's term: once a group has heard
 * from a newer primary, a deposed one's stale batch is refused there (NOT_PRIMARY).
 */
async function send(
  pool: RpcPool,
  address: string,
  notice: Notice,
  term: number,
  options: { readonly epoch: number; readonly timeoutMs: number },
): Promise<void> {
  switch (notice.op) {
    case "commitRefs":
      await pool.call(address, "commitRefs", { ...notice.body, term }, options);
      return;
    case "dropRefs":
      await pool.call(address, "dropRefs", { ...notice.body, term }, options);
      return;
    case "dropUploadRefs":
      await pool.call(address, "dropUploadRefs", { ...notice.body, term }, options);
      return;
    default:
      assertNever(notice, "outbox notice");
  }
}
