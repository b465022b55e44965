/**
 * The directory primary's own evidence that a storage group's primary is gone behind a cut link
 * or a dead host (issue 20), as a pure rule fed the time. The driver (io/primary-watch.ts)
 * sends the primary a keepalive every PRIMARY_KEEPALIVE_INTERVAL_MS on its idle connection and
 * reports each answer. After PRIMARY_KEEPALIVE_SILENCE_MS without one, the driver checks the
 * primary's host (gossip's host check: TCP connection attempts, answered by the host's kernel
 * with SYN-ACK or RST even while the process is paused). A silent host with still no keepalive
 * answer is a cut link or a dead machine: the primary is down, and its group is reconfigured
 * by the same rules as a gossip suspicion. A host that answers holds a paused or busy process,
 * which is gossip's to judge (its suspicion spares a 3 s pause): no verdict here, and the next
 * check waits for another silence. Owns no timers, sockets or clock.
 */

/** Keepalives to a watched primary: a few per silence window, so one lost answer is not all. */
export const PRIMARY_KEEPALIVE_INTERVAL_MS = 200;
/**
 * No keepalive answer for this long starts a host check. A loaded primary answers within tens
 * of ms; past this it is stalled, paused or cut off, and only the host check tells which.
 */
export const PRIMARY_KEEPALIVE_SILENCE_MS = 500;
/**
 * A host check that reports nothing (neither silent nor answered) within this long is given up:
 * the next one starts after another silence. The check itself answers within ~300 ms.
 */
export const PRIMARY_HOST_CHECK_WAIT_MS = 1_000;

export type LivenessAction = "keepalive" | "check-host" | "down";

export class PrimaryLiveness {
  /** When the primary last showed life: an answered keepalive, or the watch's start. */
  private lastAnsweredMs: number;
  /** Silence is counted from here: the last answer, or the last host check that was answered. */
  private silentSinceMs: number;
  private nextKeepaliveMs: number;
  /** The host check in flight: when it started and when it is given up; null: none. */
  private check: { startedMs: number; giveUpMs: number } | null = null;
  private declared = false;

  constructor(nowMs: number) {
    this.lastAnsweredMs = nowMs;
    this.silentSinceMs = nowMs;
    this.nextKeepaliveMs = nowMs;
  }

  get isDown(): boolean {
    return this.declared;
  }

  /** What the driver should do now: send a keepalive, start a host check, or neither. */
  tick(nowMs: number): LivenessAction[] {
    if (this.declared) return [];
    const actions: LivenessAction[] = [];
    if (nowMs >= this.nextKeepaliveMs) {
      actions.push("keepalive");
      this.nextKeepaliveMs = nowMs + PRIMARY_KEEPALIVE_INTERVAL_MS;
    }
    if (this.check !== null && nowMs >= this.check.giveUpMs) this.hostAnswered(nowMs);
    if (this.check === null && nowMs - this.silentSinceMs >= PRIMARY_KEEPALIVE_SILENCE_MS) {
      this.check = { startedMs: nowMs, giveUpMs: nowMs + PRIMARY_HOST_CHECK_WAIT_MS };
      actions.push("check-host");
    }
    return actions;
  }

  /** A keepalive was answered: the primary is alive and reachable. */
  answered(nowMs: number): void {
    this.lastAnsweredMs = Math.max(this.lastAnsweredMs, nowMs);
    this.silentSinceMs = Math.max(this.silentSinceMs, nowMs);
  }

  /** The host answered the check: a paused or busy process, not ours to judge. */
  hostAnswered(nowMs: number): void {
    if (this.check === null) return;
    this.check = null;
    this.silentSinceMs = Math.max(this.silentSinceMs, nowMs);
  }

  /**
   * Nothing at the primary's host answered. Down, unless a keepalive answer came since the
   * check began (the link came back meanwhile). Answers "down" once, when it is declared.
   */
  hostSilent(nowMs: number): LivenessAction[] {
    const check = this.check;
    if (check === null || this.declared) return [];
    this.check = null;
    if (this.lastAnsweredMs >= check.startedMs) {
      this.silentSinceMs = Math.max(this.silentSinceMs, nowMs);
      return [];
    }
    this.declared = true;
    return ["down"];
  }
}

/**
 * The latest a cut primary is declared down, after the cut: silence is counted from no later
 * than the cut, or from a host check that began just before it and was answered just after
 * (`hostCheckMs`); then the silence, a tick, and the next check's verdict with its tick.
 */
export function primaryDownBoundMs(tickMs: number, hostCheckMs: number): number {
  return PRIMARY_KEEPALIVE_SILENCE_MS + 2 * tickMs + 2 * hostCheckMs;
}
