/**
 * Lifeguard's dynamic suspicion (memberlist's suspicion.go, as data): a suspicion starts at its
 * maximum length and shrinks on a log curve as independent members confirm it. No timers here:
 * the node compares `deadlineMs` with the time it is given.
 */

/**
 * The suspicion length after `confirmations` of the `wanted` independent confirmations:
 * max − (max − min) · log(c+1) / log(k+1), never below min; min outright when k is 0.
 */
export function suspicionTimeoutMs(
  confirmations: number,
  wanted: number,
  minMs: number,
  maxMs: number,
): number {
  if (wanted < 1) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(wanted + 1);
  const raw = Math.floor(maxMs - fraction * (maxMs - minMs));
  return Math.max(minMs, raw);
}

/** One open suspicion of one member at one incarnation. */
export class Suspicion {
  readonly incarnation: number;
  readonly startMs: number;
  private readonly wanted: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  /** Who has told us; the first reporter (maybe us) is not counted as a confirmation. */
  private readonly confirmers = new Set<string>();
  private capMs = Number.POSITIVE_INFINITY;
  private confirmationCount = 0;
  /** Time we spent stalled does not count against the suspect (SwimConfig.stallThresholdMs). */
  private shiftMs = 0;

  constructor(options: {
    incarnation: number;
    startMs: number;
    from: string;
    wanted: number;
    minMs: number;
    maxMs: number;
  }) {
    this.incarnation = options.incarnation;
    this.startMs = options.startMs;
    this.wanted = options.wanted;
    this.minMs = options.minMs;
    this.maxMs = options.maxMs;
    this.confirmers.add(options.from);
  }

  get confirmations(): number {
    return this.confirmationCount;
  }

  /**
   * Records `from` as an independent confirmation. True if it was new and still shortens the
   * timer (then the suspect message is worth re-gossiping, so others count it too).
   */
  confirm(from: string): boolean {
    if (this.confirmationCount >= this.wanted) return false;
    if (this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    this.confirmationCount += 1;
    return true;
  }

  /** Strong evidence (the transport saw the port closed): end no later than `deadlineMs`. */
  capDeadline(deadlineMs: number): void {
    this.capMs = Math.min(this.capMs, deadlineMs);
  }

  get deadlineMs(): number {
    const length = suspicionTimeoutMs(this.confirmationCount, this.wanted, this.minMs, this.maxMs);
    return Math.min(this.startMs + length + this.shiftMs, this.capMs + this.shiftMs);
  }

  shift(ms: number): void {
    this.shiftMs += ms;
  }
}
