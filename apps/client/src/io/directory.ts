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
import { CONNECTION_FAILURE_CODES, type RpcPool } from "@ftfs/protocol/io";
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
  private readonly addresses: readonly string[];
  private cursor = 0;
  private preferred: string | null = null;
  private everAnswered = false;
  private redirectsInARow = 0;
  private busyInARow = 0;

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
    this.addresses = [...new Set(options.addresses)];
  }

  /** The directory primary as last learned (from `connect` or a NOT_PRIMARY hint). */
  get primary(): string | null {
    return this.preferred;
  }

  set primary(address: string | null) {
    this.preferred = address;
  }

  get clusterAddresses(): readonly string[] {
    return this.addresses;
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
    const address = this.preferred ?? this.nextAddress();
    try {
      const answer = await this.pool.call(address, op, body, { timeoutMs: this.options.timeoutMs });
      this.everAnswered = true;
      this.redirectsInARow = 0;
      this.busyInARow = 0;
      this.preferred = address;
      return answer.body;
    } catch (error) {
      this.onFailure(address, error);
      throw error;
    }
  }

  /**
   * Each known node once, the likely primary first; the first answer wins. For reads that
   * every node may serve from its own applied state (a stale listing), so they work while
   * no primary is elected: NOT_PRIMARY or a busy node only moves on, and hints are not
   * followed because going to the primary is exactly what the caller chose not to wait for.
   */
  async callAnyNode<O extends Op>(op: O, body: RequestBody<O>): Promise<ResponseBody<O>> {
    const first = this.preferred === null ? [] : [this.preferred];
    const order = [...new Set([...first, ...this.addresses])];
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
        if (!(error instanceof FtfsError) || !error.retryable) throw error;
        last = error;
        this.onAnyNodeFailure(address, error);
      }
    }
    assert(last !== null, "callAnyNode tried no address");
    return this.anyNodeGiveUp(last);
  }

  private onAnyNodeFailure(address: string, error: FtfsError): void {
    if (error.code !== "CONNECT_FAILED") this.everAnswered = true;
    if (!CONNECTION_FAILURE_CODES.has(error.code)) return;
    if (this.preferred === address) this.preferred = null;
  }

  private anyNodeGiveUp(last: FtfsError): never {
    if (CONNECTION_FAILURE_CODES.has(last.code)) throw this.giveUpError(last);
    const where = this.addresses.join(",");
    const message = `no directory node at ${where} could serve the request: ${last.message}`;
    throw new FtfsError(last.code, message, { cause: last });
  }

  private nextAddress(): string {
    const address = this.addresses[this.cursor % this.addresses.length] ?? "";
    this.cursor += 1;
    return address;
  }

  private onFailure(address: string, error: unknown): void {
    if (!(error instanceof FtfsError)) return;
    // A node spoke, even if only to refuse: the cluster exists, so use the full deadline.
    if (error.code !== "CONNECT_FAILED") this.everAnswered = true;
    if (error.code === "NOT_PRIMARY") {
      const hinted = error.hint?.primary;
      this.redirectsInARow += 1;
      // A hint pointing back at the node that refused it is stale; ask someone else.
      this.preferred = hinted !== undefined && hinted !== address ? hinted : null;
      return;
    }
    this.redirectsInARow = 0;
    if (CONNECTION_FAILURE_CODES.has(error.code)) {
      this.preferred = null;
      this.busyInARow = 0;
      return;
    }
    // Alive but busy or without quorum (TOO_BUSY, UNAVAILABLE): it is most likely still the
    // primary, so stay with it for a few tries, then look around in case it has been deposed.
    this.busyInARow += 1;
    this.preferred = this.busyInARow <= CLIENT_SAME_NODE_RETRIES_MAX ? address : null;
    if (this.preferred === null) this.busyInARow = 0;
  }

  private giveUpError(error: FtfsError): FtfsError {
    if (!CONNECTION_FAILURE_CODES.has(error.code)) return error;
    const where = this.addresses.join(",");
    const message = this.everAnswered
      ? `lost contact with the cluster at ${where}: ${error.message}`
      : `cannot reach the cluster at ${where}: is it running? (start one with \`bun run dev\`)`;
    return new FtfsError(error.code, message, { cause: error });
  }
}
