/**
 * Rate bounds for background work, pure: a Pacer is told how much work was done and how long
 * it took, and answers how long to rest so the work never runs faster than its rate. It holds
 * no clock; the io loop measures time and sleeps.
 *
 * No credit is banked: work slower than its rate (a busy disk) does not earn a later burst, so
 * the bound holds over every window, which is what protects client traffic.
 */

import { assert } from "./assert.ts";
import { PACE_SLEEP_MS_MIN } from "./limits.ts";

const MS_PER_SECOND = 1_000;

export class Pacer {
  private readonly unitsPerSecond: number;
  private readonly sleepMsMin: number;
  private owedMs = 0;

  constructor(unitsPerSecond: number, sleepMsMin = PACE_SLEEP_MS_MIN) {
    assert(unitsPerSecond > 0, "a pacer needs a positive rate");
    assert(sleepMsMin >= 0, "a pacer's least sleep is not negative");
    this.unitsPerSecond = unitsPerSecond;
    this.sleepMsMin = sleepMsMin;
  }

  /**
   * `units` of work took `elapsedMs`: the rest to take now, or 0 to carry on. Rests shorter
   * than the least sleep are owed and added to a later one, so tiny work items do not each
   * arm a timer, yet the average rate stays bounded.
   */
  after(units: number, elapsedMs: number): number {
    assert(units >= 0 && elapsedMs >= 0, "pacer work and time are not negative");
    const dueMs = (units * MS_PER_SECOND) / this.unitsPerSecond;
    this.owedMs = Math.max(0, this.owedMs + dueMs - elapsedMs);
    if (this.owedMs < this.sleepMsMin) return 0;
    const restMs = this.owedMs;
    this.owedMs = 0;
    return restMs;
  }
}

/**
 * A Pacer for items that several workers run at once (a learner copies a few chunks in
 * flight): each finished item is reported with the time it finished, and the answer is the
 * time before which no worker may start another. Time spent resting is never counted as work
 * time, so two reports during one rest cannot both claim it; over any run the units done by
 * `resumeAtMs` stay within the rate, plus what was already in flight.
 */
export class SharedPacer {
  private readonly pacer: Pacer;
  /** Work time before this is accounted for. */
  private markMs: number;
  private resumeAt: number;

  constructor(unitsPerSecond: number, startMs: number, sleepMsMin = PACE_SLEEP_MS_MIN) {
    this.pacer = new Pacer(unitsPerSecond, sleepMsMin);
    this.markMs = startMs;
    this.resumeAt = startMs;
  }

  /** No item may start before this time. */
  get resumeAtMs(): number {
    return this.resumeAt;
  }

  /** An item of `units` finished at `nowMs`: the time the next one may start. */
  done(units: number, nowMs: number): number {
    const elapsedMs = Math.max(0, nowMs - this.markMs);
    this.markMs = Math.max(this.markMs, nowMs);
    const restMs = this.pacer.after(units, elapsedMs);
    if (restMs > 0) {
      this.resumeAt = Math.max(this.resumeAt, nowMs) + restMs;
      this.markMs = this.resumeAt;
    }
    return this.resumeAt;
  }
}
