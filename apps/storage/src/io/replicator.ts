/**
 * The primary's half of a replicated write: send the same request, marked `forwarded` and
 * stamped with the group epoch, to every other replica in parallel, and succeed only when all
 * of them stored it. Any failure makes the whole write UNAVAILABLE (retryable): until the
 * directory drops a suspected backup from the in-sync set, a write without it is not safe
 * to acknowledge. Which replicas to forward to is decided by core/request-rules.ts.
 */

import { fail, FtfsError, ok, type RequestBody, type Result } from "@ftfs/protocol/core";
import { RpcPool, type Logger, type ConnectOptions } from "@ftfs/protocol/io";
import { FORWARD_CONNECT_TIMEOUT_MS, FORWARD_TIMEOUT_MS, type Replica } from "../core/index.ts";

/** The writes a primary replicates. */
export type ReplicatedOp = "putChunk" | "commitRefs" | "dropRefs" | "dropUploadRefs";

export interface ForwardOptions {
  readonly epoch: number;
  readonly payload?: Uint8Array;
}

export class Replicator {
  private readonly pool: RpcPool;
  private readonly logger: Logger;
  /** Called when a backup says our epoch is stale: our view is behind; refresh it. */
  private readonly onStale: () => void;

  /** `connect`: how this node proves itself to its backups (the cluster key). */
  constructor(logger: Logger, onStale: () => void, connect: ConnectOptions = {}) {
    this.pool = new RpcPool(FORWARD_CONNECT_TIMEOUT_MS, connect);
    this.logger = logger;
    this.onStale = onStale;
  }

  /** Resolves with how many replicas stored the write, or UNAVAILABLE naming who did not. */
  async forward<O extends ReplicatedOp>(
    targets: readonly Replica[],
    op: O,
    body: RequestBody<O>,
    options: ForwardOptions,
  ): Promise<Result<number>> {
    if (targets.length === 0) return ok(0);
    const callOptions = {
      epoch: options.epoch,
      timeoutMs: FORWARD_TIMEOUT_MS,
      ...(options.payload === undefined ? {} : { payload: options.payload }),
    };
    const outcomes = await Promise.allSettled(
      targets.map((target) => this.pool.call(target.address, op, body, callOptions)),
    );
    const failures: string[] = [];
    outcomes.forEach((outcome, at) => {
      const target = targets[at];
      if (outcome.status === "fulfilled" || target === undefined) return;
      failures.push(`${target.node} (${target.address}): ${this.noteFailure(outcome.reason)}`);
    });
    if (failures.length === 0) return ok(targets.length);
    this.logger.warn("replicated write not stored by every replica", {
      op,
      epoch: options.epoch,
      failures: failures.join("; "),
    });
    return fail(
      "UNAVAILABLE",
      `${op} not stored by every replica of the group (${failures.join("; ")}); retry`,
    );
  }

  close(): void {
    this.pool.close();
  }

  private noteFailure(reason: unknown): string {
    if (!(reason instanceof FtfsError)) {
      return reason instanceof Error ? reason.message : String(reason);
    }
    if (reason.code === "STALE_EPOCH") this.onStale();
    return `${reason.code} ${reason.message}`;
  }
}
