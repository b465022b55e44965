/**
 * The heartbeat loop: every STORAGE_HEARTBEAT_INTERVAL_MS, announce this node to the directory
 * (registerStorage) and keep the group view it answers with, plus the primary lease that the
 * answer grants. Directory addresses from `--join` are tried in turn, starting with the one that
 * answered last; a NOT_PRIMARY answer's hint is followed. Rounds never overlap: the next one is
 * scheduled when the last one ends. Which view to keep is decided by core/view-rules.ts.
 *
 * A spare (`--spare`) heartbeats with no group and holds no view until an answer carries the
 * view of a group that lists it: it records that group on disk (onAssigned) before it adopts
 * the view, so a crash in between leaves it unassigned or assigned, never acting unrecorded.
 * When its group releases it, it drops the view and the group at once (nothing more is
 * accepted for the group), then forgets the group's data and the assignment (onReleased); a
 * crash before that ends leaves the assignment, so the next start is released again.
 */

import {
  assert,
  assertNever,
  FtfsError,
  ok,
  STORAGE_HEARTBEAT_INTERVAL_MS,
  type GroupView,
  type Op,
  type RequestBody,
  type ResponseBody,
  type Result,
} from "@ftfs/protocol/core";
import {
  describeError,
  PrimaryFinder,
  RpcPool,
  type ConnectOptions,
  type Logger,
} from "@ftfs/protocol/io";
import {
  decideView,
  HEARTBEAT_CALL_TIMEOUT_MS,
  HEARTBEAT_CONNECT_TIMEOUT_MS,
  HEARTBEAT_BUSY_RETRIES_MAX,
  HEARTBEAT_HINT_FOLLOWS_MAX,
  HEARTBEAT_REFRESH_GAP_MS_MIN,
  leaseExpiry,
} from "../core/index.ts";

export interface HeartbeatOptions {
  readonly node: string;
  /** Null: a spare not assigned to a group yet. */
  readonly group: string | null;
  /** Started with `--spare` (said in every heartbeat, assigned or not). */
  readonly spare: boolean;
  /**
   * The data folder's identity, said in every heartbeat: the directory takes a node back on
   * another folder as a new member. The node always gives it; absent, the heartbeat says what
   * an older build said.
   */
  readonly folderId?: string;
  /** Record a spare's assignment durably; the view is adopted only once this resolves. */
  readonly onAssigned: (group: string) => Promise<void>;
  /** Forget a released spare's group data, then its assignment; resolves once both are gone. */
  readonly onReleased: (group: string) => Promise<void>;
  /** The address other nodes reach us on (read at each beat: known once the server listens). */
  readonly address: () => string;
  readonly join: readonly string[];
  readonly logger: Logger;
  /** Monotonic time: the lease is measured on it. */
  readonly monotonicMs: () => number;
  /** What the node holds and offers, and the file bytes it moved since it started. */
  readonly usage: () => {
    readonly capacityBytes: number;
    readonly usedBytes: number;
    readonly bytesInTotal?: number;
    readonly bytesOutTotal?: number;
  };
  /** The epoch at which this node, a learner, finished catching up (absent: not yet). */
  readonly syncedEpoch?: () => number | undefined;
  readonly intervalMs?: number;
  /** How this node proves itself to the directory (the cluster key). */
  readonly connect?: ConnectOptions;
}

export class Heartbeat {
  private readonly options: HeartbeatOptions;
  private readonly pool: RpcPool;
  private readonly intervalMs: number;
  private currentView: GroupView | null = null;
  private currentGroup: string | null;
  private leaseExpiresAt = 0;
  private readonly finder: PrimaryFinder;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerDueMs = 0;
  private lastRoundStartMs = Number.NEGATIVE_INFINITY;
  private round: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private lastProblem: string | null = null;

  constructor(options: HeartbeatOptions) {
    assert(options.join.length > 0, "heartbeat needs at least one directory address");
    this.options = options;
    this.pool = new RpcPool(HEARTBEAT_CONNECT_TIMEOUT_MS, options.connect);
    this.intervalMs = options.intervalMs ?? STORAGE_HEARTBEAT_INTERVAL_MS;
    this.finder = new PrimaryFinder({
      addresses: options.join,
      busyRetriesMax: HEARTBEAT_BUSY_RETRIES_MAX,
    });
    this.currentGroup = options.group;
  }

  get view(): GroupView | null {
    return this.currentView;
  }

  /** This node's group; null for a spare not assigned one yet. */
  get group(): string | null {
    return this.currentGroup;
  }

  get leaseExpiresAtMs(): number {
    return this.leaseExpiresAt;
  }

  start(): void {
    this.schedule(0);
  }

  /**
   * A request showed a newer epoch than ours (or we have no view): beat now rather than at the
   * next tick, but never more often than HEARTBEAT_REFRESH_GAP_MS_MIN, so a stream of such
   * requests while the directory is down does not become a stream of heartbeats.
   */
  refreshSoon(): void {
    if (this.stopped) return;
    if (this.round !== null) {
      this.again = true;
      return;
    }
    this.schedule(this.refreshDelayMs());
  }

  /** One round now; resolves when it ended (for tests and start-up). */
  async beatNow(): Promise<void> {
    if (this.round !== null) await this.round;
    await this.runRound();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pool.close();
  }

  private refreshDelayMs(): number {
    const earliestMs = this.lastRoundStartMs + HEARTBEAT_REFRESH_GAP_MS_MIN;
    return Math.max(0, earliestMs - this.options.monotonicMs());
  }

  /** Arm the timer for `delayMs` from now, unless it is already due sooner. */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const dueMs = this.options.monotonicMs() + delayMs;
    if (this.timer !== null) {
      if (this.timerDueMs <= dueMs) return;
      clearTimeout(this.timer);
    }
    this.timerDueMs = dueMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runRound();
    }, delayMs);
  }

  private async runRound(): Promise<void> {
    if (this.stopped || this.round !== null) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.again = false;
    this.lastRoundStartMs = this.options.monotonicMs();
    this.round = this.beat().catch((error: unknown) => {
      this.options.logger.error("heartbeat round failed", { error: describeError(error) });
    });
    await this.round;
    this.round = null;
    this.schedule(this.again ? this.refreshDelayMs() : this.intervalMs);
  }

  /** One heartbeat: the directory addresses in turn until one takes it. */
  private async beat(): Promise<void> {
    const problems: string[] = [];
    const taken = await this.finder.sweep(async (address) => {
      if (this.stopped) return { ok: false, error: new FtfsError("UNAVAILABLE", "stopping") };
      const outcome = await this.register(address);
      if (!outcome.ok) problems.push(`${address}: ${outcome.error.message}`);
      return outcome;
    }, HEARTBEAT_HINT_FOLLOWS_MAX);
    if (!taken.ok) {
      this.reportProblem(`no directory node took the heartbeat (${problems.join("; ")})`);
    }
  }

  /**
   * One request to the directory primary, for this node's other duties (garbage collection
   * asks it what may go), found the way the heartbeat finds it. Answers the first answer, or
   * the last failure.
   */
  async callDirectory<O extends Op>(
    op: O,
    body: RequestBody<O>,
    timeoutMs: number,
  ): Promise<Result<ResponseBody<O>>> {
    return this.finder.sweep(async (address) => {
      try {
        return ok((await this.pool.call(address, op, body, { timeoutMs })).body);
      } catch (error) {
        if (!(error instanceof FtfsError)) throw error;
        return { ok: false, error };
      }
    }, HEARTBEAT_HINT_FOLLOWS_MAX);
  }

  private async register(address: string): Promise<Result<true>> {
    const { node, logger } = this.options;
    const group = this.currentGroup;
    const sentAtMs = this.options.monotonicMs();
    const syncedEpoch = this.options.syncedEpoch?.();
    try {
      const answer = await this.pool.call(
        address,
        "registerStorage",
        {
          node,
          ...(group === null ? {} : { group }),
          ...(this.options.spare ? { spare: true } : {}),
          address: this.options.address(),
          ...this.options.usage(),
          ...(syncedEpoch === undefined ? {} : { syncedEpoch }),
          ...(this.options.folderId === undefined ? {} : { folderId: this.options.folderId }),
        },
        { timeoutMs: HEARTBEAT_CALL_TIMEOUT_MS },
      );
      const released = answer.body.released === true;
      await this.adopt(answer.body.group, sentAtMs, answer.body.directoryNode, released);
      return ok(true);
    } catch (error) {
      if (!(error instanceof FtfsError)) throw error;
      if (!error.retryable) {
        logger.warn("directory refused the heartbeat", {
          address,
          code: error.code,
          reason: error.message,
        });
      }
      return { ok: false, error };
    }
  }

  private async adopt(
    incoming: GroupView | undefined,
    sentAtMs: number,
    directoryNode: string,
    released: boolean,
  ): Promise<void> {
    const { logger, node } = this.options;
    if (incoming === undefined) {
      // The answer for a spare no group has been assigned: nothing to hold yet.
      this.answered(directoryNode);
      if (this.currentGroup !== null) {
        logger.error("directory answered without our group's view; ignored", { directoryNode });
      }
      return;
    }
    const { spare } = this.options;
    const decision = decideView(
      this.currentView,
      this.currentGroup,
      incoming,
      node,
      spare,
      released,
    );
    switch (decision.kind) {
      case "wrongGroup":
        logger.error("directory answered with another group's view; ignored", {
          directoryNode,
          group: incoming.group,
        });
        return;
      case "notListed":
        logger.error("directory answered a spare with a view that does not list it; ignored", {
          directoryNode,
          group: incoming.group,
        });
        return;
      case "assign":
        await this.options.onAssigned(decision.view.group);
        if (this.stopped) return;
        this.currentGroup = decision.view.group;
        logger.info("spare assigned to a group", {
          group: decision.view.group,
          epoch: decision.view.epoch,
          directoryNode,
        });
        this.accept(decision.view, sentAtMs, directoryNode, true);
        return;
      case "release":
        await this.release(decision.group, directoryNode);
        return;
      case "older":
        logger.debug("directory answered with an older view; kept ours", {
          directoryNode,
          epoch: incoming.epoch,
        });
        return;
      case "adopt":
        this.accept(decision.view, sentAtMs, directoryNode, decision.changed);
        return;
      default:
        assertNever(decision, "view decision");
    }
  }

  private async release(group: string, directoryNode: string): Promise<void> {
    const { logger } = this.options;
    this.currentGroup = null;
    this.currentView = null;
    this.leaseExpiresAt = 0;
    logger.info("the group released this spare; forgetting its data", { group, directoryNode });
    try {
      await this.options.onReleased(group);
    } catch (error) {
      // Still assigned on disk: name the group again, so the next answer releases it again.
      this.currentGroup = group;
      throw error;
    }
    this.answered(directoryNode);
    logger.info("spare back in the pool", { group });
  }

  private accept(view: GroupView, sentAtMs: number, directoryNode: string, changed: boolean): void {
    this.currentView = view;
    this.leaseExpiresAt = Math.max(this.leaseExpiresAt, leaseExpiry(sentAtMs));
    this.answered(directoryNode);
    if (changed) logView(this.options.logger, view, this.options.node);
  }

  private answered(directoryNode: string): void {
    if (this.lastProblem !== null) {
      this.options.logger.info("heartbeat answered again", { directoryNode });
    }
    this.lastProblem = null;
  }

  /** Log a failed round once per distinct problem, not every half second. */
  private reportProblem(problem: string): void {
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    this.options.logger.warn("heartbeat not answered", { problem });
  }
}

function logView(logger: Logger, view: GroupView, node: string): void {
  logger.info("group view", {
    group: view.group,
    epoch: view.epoch,
    primary: view.primaryNode,
    role: roleIn(view, node),
    replicas: view.replicas.map((replica) => replica.node).join(","),
    learners: (view.learners ?? []).map((learner) => learner.node).join(","),
  });
}

function roleIn(view: GroupView, node: string): "primary" | "backup" | "learner" {
  if (view.primaryNode === node) return "primary";
  return (view.learners ?? []).some((learner) => learner.node === node) ? "learner" : "backup";
}
