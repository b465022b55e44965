/**
 * The one way to find the directory primary, for every caller (the client library, a storage
 * node's heartbeat and garbage-collection questions): ask the likely primary, else the next
 * address in turn; follow a NOT_PRIMARY hint (unless it names the node that refused); drop a
 * node whose connection failed; stay a few tries with one that is alive but busy (it is most
 * likely still the primary), then look around in case it was deposed. It keeps no clock and
 * opens no socket: callers make the calls and report each outcome here.
 */

import { FtfsError, type Result } from "../core/index.ts";
import { CONNECTION_FAILURE_CODES } from "./rpc-client.ts";

export interface PrimaryFinderOptions {
  readonly addresses: readonly string[];
  /** Busy answers in a row from the likely primary before another address is tried. */
  readonly busyRetriesMax: number;
}

/** What a failed attempt told about the node asked. */
export type FailureKind = "redirected" | "down" | "busy" | "refused";

export class PrimaryFinder {
  readonly addresses: readonly string[];
  private readonly busyRetriesMax: number;
  private cursor = 0;
  private likely: string | null = null;
  private busyInARow = 0;

  constructor(options: PrimaryFinderOptions) {
    if (options.addresses.length === 0) {
      throw new FtfsError("BAD_REQUEST", "no directory addresses given");
    }
    this.addresses = [...new Set(options.addresses)];
    this.busyRetriesMax = options.busyRetriesMax;
  }

  /** The directory primary as last learned (an answer, or a NOT_PRIMARY hint); null: unknown. */
  get primary(): string | null {
    return this.likely;
  }

  set primary(address: string | null) {
    this.likely = address;
  }

  /** Where the next attempt goes: the likely primary, else the next address in turn. */
  next(): string {
    if (this.likely !== null) return this.likely;
    const address = this.addresses[this.cursor % this.addresses.length] ?? "";
    this.cursor += 1;
    return address;
  }

  /** `address` answered: it is the one to ask next time. */
  answered(address: string): void {
    this.likely = address;
    this.busyInARow = 0;
  }

  /** `address` failed with `error`: learn what that says about where the primary is. */
  failed(address: string, error: FtfsError): FailureKind {
    if (error.code === "NOT_PRIMARY") {
      const hinted = error.hint?.primary;
      // A hint pointing back at the node that refused it is stale; ask someone else.
      this.likely = hinted !== undefined && hinted !== address ? hinted : null;
      return "redirected";
    }
    if (CONNECTION_FAILURE_CODES.has(error.code)) {
      if (this.likely === address) this.likely = null;
      this.busyInARow = 0;
      return "down";
    }
    if (!error.retryable) return "refused";
    this.busyInARow += 1;
    this.likely = this.busyInARow <= this.busyRetriesMax ? address : null;
    if (this.likely === null) this.busyInARow = 0;
    return "busy";
  }

  /**
   * One pass: the likely primary first, then every other address, each at most once, following
   * up to `hintsMax` NOT_PRIMARY hints; the first answer wins. A non-retryable refusal ends the
   * pass (it is the cluster's answer to the request, not to where it was sent). Otherwise the
   * last failure, once every address was tried.
   */
  async sweep<T>(
    attempt: (address: string) => Promise<Result<T>>,
    hintsMax: number,
  ): Promise<Result<T>> {
    const queue = [
      ...(this.likely === null ? [] : [this.likely]),
      ...this.addresses.filter((address) => address !== this.likely),
    ];
    const tried = new Set<string>();
    let hintsFollowed = 0;
    let last: Result<T> = {
      ok: false,
      error: new FtfsError("UNAVAILABLE", "no directory node to ask"),
    };
    for (let address = queue.shift(); address !== undefined; address = queue.shift()) {
      if (tried.has(address)) continue;
      tried.add(address);
      const outcome = await attempt(address);
      if (outcome.ok) {
        this.answered(address);
        return outcome;
      }
      last = outcome;
      const kind = this.failed(address, outcome.error);
      if (kind === "refused") return outcome;
      const hint = outcome.error.hint?.primary;
      if (kind === "redirected" && hint !== undefined && hintsFollowed < hintsMax) {
        hintsFollowed += 1;
        queue.unshift(hint);
      }
    }
    return last;
  }
}
