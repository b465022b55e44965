/**
 * Lifeguard's local health (memberlist's awareness.go): a score that rises when our own probes
 * go unanswered in ways that point at us (missing nacks, being suspected, stalls) and falls with
 * each clean probe. A sick node slows its probing and widens its timeouts by (score + 1), so it
 * stops accusing healthy members of its own slowness.
 */

export class Awareness {
  private current = 0;
  private readonly max: number;

  /** The score stays within 0..max−1. */
  constructor(max: number) {
    this.max = max;
  }

  get score(): number {
    return this.current;
  }

  applyDelta(delta: number): void {
    this.current = Math.min(this.max - 1, Math.max(0, this.current + delta));
  }

  scale(durationMs: number): number {
    return durationMs * (this.current + 1);
  }
}
