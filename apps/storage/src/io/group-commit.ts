/**
 * Group commit of owner references (issue 17): the reference changes of requests that arrive
 * together share one SQLite transaction and one fsync, instead of one of each per change. A
 * synchronous commit that fsyncs holds the event loop for the fsync; at one such commit per
 * chunk write and one per directory notice, a storage node under a hundred concurrent small
 * writes spent most of its time blocked in COMMIT, and the disk did one fsync per reference.
 *
 * A change is queued; its round runs once the event loop has taken in what arrived with it
 * (the next check phase, `setImmediate`): the changes queued by then, at most
 * REFS_ROUND_CHANGES_MAX, run in the order they came, in one transaction, each in a savepoint
 * of its own, so a change that throws is rolled back and answered alone. The commit does not
 * fsync: `durable` (the store's log fsync, off the event loop, shared with the rounds that
 * commit while one runs) does. Right after the commit, in the same synchronous step, each
 * change's `afterCommit` runs with its value: a chunk write starts storing its chunk there, so
 * garbage collection, which decides in one synchronous step too, never sees a new reference
 * without its write under way (see handlers.ts), and the chunk's own fsyncs run beside the
 * log's.
 *
 * Nothing is answered before its round is durable; a commit or log fsync that fails fails
 * every change of its round. Requests that arrive while a round commits wait for the next
 * one: under load the rounds grow, idle a round holds one change.
 */

import { REFS_ROUND_CHANGES_MAX } from "../core/index.ts";

/** One change's outcome inside a round's transaction. */
export type ChangeOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/**
 * Runs `changes` in order inside one transaction and commits it (durably) before it returns;
 * a change that throws is rolled back alone and its error is its outcome. Throws when the
 * commit itself fails: then none of the changes holds.
 */
export type CommitEach = (changes: readonly (() => unknown)[]) => ChangeOutcome[];

interface Pending {
  readonly change: () => unknown;
  readonly afterCommit: (value: unknown) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface GroupCommitStats {
  /** Rounds committed (or failed). */
  rounds: number;
  /** Changes submitted to those rounds. */
  changes: number;
  /** The most changes one round held. */
  largestRound: number;
}

/** Makes every commit made before the call durable. */
export type MakeDurable = () => Promise<void>;

export class GroupCommit {
  readonly stats: GroupCommitStats = { rounds: 0, changes: 0, largestRound: 0 };
  private readonly commitEach: CommitEach;
  private readonly durable: MakeDurable;
  private readonly schedule: (run: () => void) => void;
  private queue: Pending[] = [];
  private scheduled = false;

  /** `schedule` runs a round later (default: once the event loop has taken in its input). */
  constructor(
    commitEach: CommitEach,
    durable: MakeDurable,
    schedule: (run: () => void) => void = (run) => setImmediate(run),
  ) {
    this.commitEach = commitEach;
    this.durable = durable;
    this.schedule = schedule;
  }

  /** Changes waiting for their round. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Queue `change` for the next round. Resolves, once the round is durable, with what
   * `afterCommit` answered (run right after the commit, in the same step); rejects with the
   * change's own error, `afterCommit`'s, or the commit's or the log fsync's.
   */
  submit<T>(change: () => T): Promise<T>;
  submit<T, R>(change: () => T, afterCommit: (value: T) => R): Promise<Awaited<R>>;
  submit<T, R>(change: () => T, afterCommit?: (value: T) => R): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        change,
        afterCommit:
          afterCommit === undefined ? (value) => value : (value) => afterCommit(value as T),
        resolve,
        reject,
      });
      this.scheduleRound();
    });
  }

  private scheduleRound(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.round();
    });
  }

  private round(): void {
    const taken = this.queue.slice(0, REFS_ROUND_CHANGES_MAX);
    this.queue = this.queue.slice(taken.length);
    if (this.queue.length > 0) this.scheduleRound();
    if (taken.length === 0) return;
    this.stats.rounds += 1;
    this.stats.changes += taken.length;
    this.stats.largestRound = Math.max(this.stats.largestRound, taken.length);
    let outcomes: ChangeOutcome[];
    try {
      outcomes = this.commitEach(taken.map((pending) => pending.change));
    } catch (error) {
      for (const pending of taken) pending.reject(error);
      return;
    }
    // Started now, so it covers this commit; the chunk stores below run beside it.
    const durable = this.durable();
    const answers: ChangeOutcome[] = taken.map((pending, at) => {
      const outcome = outcomes[at];
      if (outcome === undefined) {
        return { ok: false, error: new Error("the commit answered fewer outcomes than changes") };
      }
      if (!outcome.ok) return outcome;
      try {
        return { ok: true, value: pending.afterCommit(outcome.value) };
      } catch (error) {
        return { ok: false, error };
      }
    });
    durable.then(
      () => {
        for (const [at, pending] of taken.entries()) {
          const answer = answers[at];
          if (answer?.ok === true) pending.resolve(answer.value);
          else pending.reject(answer?.error);
        }
      },
      (error: unknown) => {
        for (const pending of taken) pending.reject(error);
      },
    );
  }
}
