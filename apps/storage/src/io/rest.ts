/**
 * Sleeps for the background loops (scrubber, garbage collection) that a stop cuts short, so a
 * node shutting down never waits out a pause between passes; and the loop they share.
 */

import { describeError, type Logger } from "@ftfs/protocol/io";

export class Rest {
  private wake: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private halted = false;

  get stopped(): boolean {
    return this.halted;
  }

  /** Resolves after `delayMs`, or at once when stopped (before or during the sleep). */
  sleep(delayMs: number): Promise<void> {
    if (this.halted) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(() => this.end(), delayMs);
    });
  }

  stop(): void {
    this.halted = true;
    this.end();
  }

  private end(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/**
 * Until `rest` is stopped: wait `pauseMs`, run one pass. A failed pass is logged and the loop
 * goes on: a background loop that died quietly would leave rot or garbage unnoticed for good.
 */
export async function passesUntilStopped(
  rest: Rest,
  pauseMs: number,
  pass: () => Promise<void>,
  logger: Logger,
  failure: string,
): Promise<void> {
  while (!rest.stopped) {
    await rest.sleep(pauseMs);
    if (rest.stopped) return;
    try {
      await pass();
    } catch (error) {
      logger.error(failure, { error: describeError(error) });
    }
  }
}
