/**
 * Talking to the directory group: every address works, the primary is found by following
 * NOT_PRIMARY hints, dead or silent nodes are skipped in turn, and retryable answers are
 * retried until the deadline. Remembers the last primary so later calls go straight there.
 * Never retries a non-retryable answer (bad name, unknown user, not found): those are the
 * user's to see.
 */

import {
  assert,
  FtfsError,
  parseAddress,
  type Op,
  type RequestBody,
  type ResponseBody,
} from "@ftfs/protocol/core";
import {
  CONNECTION_FAILURE_CODES,
  ConnectError,
  connectFailureOf,
  PrimaryFinder,
  type RpcPool,
} from "@ftfs/protocol/io";
import { CLIENT_PRIMARY_REDIRECTS_MAX, CLIENT_SAME_NODE_RETRIES_MAX } from "../core/limits.ts";
import { withRetry, type RetryObserver } from "./retry.ts";

export interface DirectoryOptions {
  readonly addresses: readonly string[];
  readonly timeoutMs: number;
  readonly retryDeadlineMs: number;
  readonly firstContactDeadlineMs: number;
  readonly observer?: RetryObserver | undefined;
}

export class DirectoryClient {
  private readonly pool: RpcPool;
  private readonly options: DirectoryOptions;
  private readonly finder: PrimaryFinder;
  private everAnswered = false;
  private redirectsInARow = 0;

  constructor(pool: RpcPool, options: DirectoryOptions) {
    if (options.addresses.length === 0) {
      throw new FtfsError("BAD_REQUEST", "no directory addresses given");
    }
    for (const address of options.addresses) {
      const parsed = parseAddress(address);
      if (!parsed.ok) throw parsed.error;
    }
    this.pool = pool;
    this.options = options;
    this.finder = new PrimaryFinder({
      addresses: options.addresses,
      busyRetriesMax: CLIENT_SAME_NODE_RETRIES_MAX,
    });
  }

  /** The directory primary as last learned (from `connect` or a NOT_PRIMARY hint). */
  get primary(): string | null {
    return this.finder.primary;
  }

  set primary(address: string | null) {
    this.finder.primary = address;
  }

  get clusterAddresses(): readonly string[] {
    return this.finder.addresses;
  }

  /** Call with retries until the deadline: what every client operation uses. */
  async call<O extends Op>(op: O, body: RequestBody<O>): Promise<ResponseBody<O>> {
    return withRetry(() => this.callOnce(op, body), {
      what: op,
      observer: this.options.observer,
      deadlineMs: () =>
        this.everAnswered ? this.options.retryDeadlineMs : this.options.firstContactDeadlineMs,
      skipSleep: (error) =>
        error.code === "NOT_PRIMARY" &&
        error.hint?.primary !== undefined &&
        this.redirectsInARow <= CLIENT_PRIMARY_REDIRECTS_MAX,
      onGiveUp: (error) => this.giveUpError(error),
    });
  }

  /**
   * One attempt, at the likely primary: for callers already inside a retry loop of their own
   * (a view refresh between chunk retries), which must not stall it for a whole deadline.
   */
  async callOnce<O extends Op>(op: O, body: RequestBody<O>): Promise<ResponseBody<O>> {
    const address = this.finder.next();
    try {
      const answer = await this.pool.call(address, op, body, { timeoutMs: this.options.timeoutMs });
      this.everAnswered = true;
      this.redirectsInARow = 0;
      this.finder.answered(address);
      return answer.body;
    } catch (error) {
      this.onFailure(address, error);
      throw notADirectory(address, error);
    }
  }

  /**
   * Each known node once, the likely primary first; the first answer wins. For reads that
   * every node may serve from its own applied state (a stale listing), so they work while
   * no primary is elected: NOT_PRIMARY or a busy node only moves on, and hints are not
   * followed because going to the primary is exactly what the caller chose not to wait for.
   */
  async callAnyNode<O extends Op>(op: O, body: RequestBody<O>): Promise<ResponseBody<O>> {
    const first = this.finder.primary === null ? [] : [this.finder.primary];
    const order = [...new Set([...first, ...this.finder.addresses])];
    let last: FtfsError | null = null;
    for (const address of order) {
      try {
        const answer = await this.pool.call(address, op, body, {
          timeoutMs: this.options.timeoutMs,
        });
        this.everAnswered = true;
        return answer.body;
      } catch (error) {
        // A refusal that is the node's verdict on the request (unknown user) is the answer.
        if (!(error instanceof FtfsError) || !error.retryable) throw notADirectory(address, error);
        last = error;
        this.onAnyNodeFailure(address, error);
      }
    }
    assert(last !== null, "callAnyNode tried no address");
    return this.anyNodeGiveUp(last);
  }

  private onAnyNodeFailure(address: string, error: FtfsError): void {
    if (error.code !== "CONNECT_FAILED") this.everAnswered = true;
    // Only a dead node is news here: hints and busy answers are what this call chose to skip.
    if (CONNECTION_FAILURE_CODES.has(error.code)) this.finder.failed(address, error);
  }

  private anyNodeGiveUp(last: FtfsError): never {
    if (CONNECTION_FAILURE_CODES.has(last.code)) throw this.giveUpError(last);
    const where = this.finder.addresses.join(",");
    const message = `no directory node at ${where} could serve the request: ${last.message}`;
    throw new FtfsError(last.code, message, { cause: last });
  }

  private onFailure(address: string, error: unknown): void {
    if (!(error instanceof FtfsError)) return;
    // A node spoke, even if only to refuse: the cluster exists, so use the full deadline.
    if (error.code !== "CONNECT_FAILED") this.everAnswered = true;
    const kind = this.finder.failed(address, error);
    this.redirectsInARow = kind === "redirected" ? this.redirectsInARow + 1 : 0;
  }

  /**
   * The deadline passed with no node answering: which addresses, why the last one failed, and
   * (unless the address itself is wrong: no such host, not an FTFS node) whether it runs.
   */
  private giveUpError(error: FtfsError): FtfsError {
    if (!CONNECTION_FAILURE_CODES.has(error.code)) return error;
    const where = this.finder.addresses.join(",");
    const reason = connectFailureOf(error) ?? "other";
    if (this.everAnswered) {
      const message = `lost contact with the cluster at ${where}: ${error.message}`;
      return new ConnectError(error.code, reason, message, error);
    }
    const addressWrong = reason === "dns" || reason === "foreign";
    const question = addressWrong ? "" : "; is it running?";
    const message = `cannot reach the cluster at ${where}: ${error.message}${question}`;
    return new ConnectError(error.code, reason, message, error);
  }
}

/**
 * A node that says it is a storage node, not a directory: the address is wrong, and the user
 * needs to hear exactly that rather than which request it refused.
 */
function notADirectory(address: string, error: unknown): unknown {
  if (!(error instanceof FtfsError) || error.code !== "UNKNOWN_OP") return error;
  if (error.hint?.role !== "storage") return error;
  return new FtfsError(
    "UNKNOWN_OP",
    `${address} is a storage node, not a directory node; give a directory node's address`,
    { cause: error, hint: error.hint },
  );
}
