/**
 * Hedged attempts: start the first; start the next when the last one failed or has been quiet
 * for `hedgeMs`; answer with the first success. A paused node (SIGSTOP, a stalled disk) keeps
 * its TCP connection open and answers nothing, so without a hedge a client would wait out its
 * whole request timeout on it while another replica or group could serve at once. With
 * `hedgeMs` Infinity the attempts run one at a time, each after the last one failed.
 *
 * "Quiet" is the attempt's, or, when the caller can tell (`heardAgoMs`), its peer's: an attempt
 * queued behind other answers on a busy connection is slow, not stuck, and a hedge would only
 * add a second copy of the work to a machine that is already at its limit (under 100 readers,
 * hedging on the attempt's own time made every read fetch its chunk two or three times).
 */

export class AllAttemptsFailed extends Error {
  override readonly name = "AllAttemptsFailed";
  readonly failures: readonly unknown[];

  constructor(failures: readonly unknown[]) {
    super(`all ${failures.length} attempts failed`);
    this.failures = failures;
  }
}

export interface HedgeOptions {
  /**
   * How long ago attempt `index`'s peer last sent us anything (Infinity: never, or unknown).
   * A peer heard from within `hedgeMs` is working: the hedge waits until it falls silent.
   */
  readonly heardAgoMs?: (index: number) => number;
}

export function hedgedFirst<T>(
  attempts: ReadonlyArray<() => Promise<T>>,
  hedgeMs: number,
  options: HedgeOptions = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const failures: unknown[] = [];
    let started = 0;
    let settled = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const armHedge = (delayMs: number): void => {
      timer = setTimeout(onQuiet, delayMs);
    };
    const onQuiet = (): void => {
      timer = null;
      const heardMs = options.heardAgoMs?.(started - 1) ?? Number.POSITIVE_INFINITY;
      if (heardMs < hedgeMs) armHedge(hedgeMs - heardMs);
      else startNext();
    };
    const startNext = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (done || started >= attempts.length) return;
      const attempt = attempts[started];
      started += 1;
      if (attempt === undefined) return;
      attempt().then(
        (value) => {
          if (done) return;
          done = true;
          if (timer !== null) clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          settled += 1;
          failures.push(error);
          if (done) return;
          if (settled === attempts.length) {
            done = true;
            reject(new AllAttemptsFailed(failures));
          } else if (settled === started) {
            startNext();
          }
        },
      );
      // Infinity: one at a time (a timer that long would fire at once: timers cap at 2^31 ms).
      if (started < attempts.length && Number.isFinite(hedgeMs)) armHedge(hedgeMs);
    };
    if (attempts.length === 0) reject(new AllAttemptsFailed([]));
    else startNext();
  });
}
