/**
 * Asks the cluster's status, as `ftfs status` does, every WHOLE_POLL_INTERVAL_MS through the
 * run and records which groups were whole (recovery.ts turns that into times to whole). Owns
 * its own client, with short deadlines so that one status stuck in a failover does not hide
 * the next seconds; owns no cluster.
 */

import { FtfsClient } from "@ftfs/client";
import { isGroupWhole } from "@ftfs/client/core";
import { statusWithin } from "../common/cluster-status.ts";
import type { WholeObservation } from "./recovery.ts";

/**
 * Catch-up after a restart takes seconds; a quarter second resolves it to ~10% and costs the
 * directory four small status calls a second beside hundreds of client operations.
 */
export const WHOLE_POLL_INTERVAL_MS = 250;
/** One status call gives up after this long, retries included, so polls stay regular. */
const STATUS_RETRY_DEADLINE_MS = 1_500;
const STATUS_DIRECTORY_TIMEOUT_MS = 1_000;
/** The run is at most minutes: ~400 observations a 100 s run; the cap only bounds a bug. */
const OBSERVATIONS_MAX = 100_000;

export class RecoveryWatch {
  readonly observations: WholeObservation[] = [];
  private readonly client: FtfsClient;
  private stopped = false;
  private polling: Promise<void> | null = null;

  constructor(
    directories: readonly string[],
    private readonly nowMs: () => number,
  ) {
    this.client = new FtfsClient({
      directories,
      retryDeadlineMs: STATUS_RETRY_DEADLINE_MS,
      firstContactDeadlineMs: STATUS_RETRY_DEADLINE_MS,
      directoryTimeoutMs: STATUS_DIRECTORY_TIMEOUT_MS,
    });
  }

  start(): void {
    this.polling = this.poll();
  }

  private async poll(): Promise<void> {
    while (!this.stopped && this.observations.length < OBSERVATIONS_MAX) {
      const sentAtMs = this.nowMs();
      const status = await statusWithin(this.client);
      const answeredAtMs = this.nowMs();
      if (status !== null && !this.stopped) {
        const whole: Record<string, boolean> = {};
        for (const group of status.groups) whole[group.group] = isGroupWhole(group);
        this.observations.push({ sentAtMs, answeredAtMs, whole });
      }
      const waitMs = WHOLE_POLL_INTERVAL_MS - (answeredAtMs - sentAtMs);
      if (waitMs > 0 && !this.stopped) await Bun.sleep(waitMs);
    }
  }

  /** Stops at the end of the load: what was not whole by then is reported so. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.polling;
    this.client.close();
  }
}
