/**
 * Sleeps for the background loops (scrubber, garbage collection) that a stop cuts short, so a
 * node shutting down never waits out a pause between passes.
 */

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
