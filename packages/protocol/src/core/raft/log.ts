/**
 * One node's view of the replicated log: the snapshot it starts after, the entries after it,
 * how far they are durable (`stableIndex`), committed and applied. Owns the log rules (the
 * consistency check, conflict truncation, never truncating a committed entry) and nothing about
 * roles or messages.
 */

import { assert } from "../assert.ts";
import type { Entry, Membership, Snapshot } from "./types.ts";

export class RaftLog {
  /** Index and term of the last entry folded into the snapshot (0, 0 for none). */
  snapshotIndex = 0;
  snapshotTerm = 0;
  /** The newest snapshot, kept to send to a follower the log no longer reaches. */
  snapshot: Snapshot | null = null;
  /** The snapshot not yet handed to the driver to persist. */
  pendingSnapshot: Snapshot | null = null;
  /** entries[i] has index snapshotIndex + 1 + i. */
  private entries: Entry[] = [];
  /** Entries up to here are on disk; later ones go out in the next Ready. */
  stableIndex = 0;
  committed = 0;
  applied = 0;

  /** Rebuilds the view from what the durable store survived with. */
  static restore(snapshot: Snapshot | null, entries: readonly Entry[], commit: number): RaftLog {
    const log = new RaftLog();
    if (snapshot !== null) {
      log.snapshotIndex = snapshot.index;
      log.snapshotTerm = snapshot.term;
      log.snapshot = snapshot;
    }
    entries.forEach((entry, offset) => {
      assert(entry.index === log.snapshotIndex + 1 + offset, "stored entries are contiguous");
    });
    log.entries = [...entries];
    log.stableIndex = log.lastIndex();
    // The state machine is rebuilt from the snapshot, then replays committed entries.
    log.applied = log.snapshotIndex;
    log.committed = Math.max(commit, log.snapshotIndex);
    assert(log.committed <= log.lastIndex(), "a stored commit index never passes the stored log");
    return log;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.termAt(this.lastIndex()) ?? this.snapshotTerm;
  }

  /** The term at `index`, or null when it is compacted away or beyond the end. */
  termAt(index: number): number | null {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entryAt(index)?.term ?? null;
  }

  entryAt(index: number): Entry | null {
    if (index <= this.snapshotIndex) return null;
    return this.entries[index - this.snapshotIndex - 1] ?? null;
  }

  /** Entries in [from, to], both inclusive; `from` must not be compacted. */
  slice(from: number, to: number): Entry[] {
    assert(from > this.snapshotIndex, `slice from ${from} reaches into the snapshot`);
    if (to < from) return [];
    return this.entries.slice(from - this.snapshotIndex - 1, to - this.snapshotIndex);
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Raft §5.4.1: is (lastTerm, lastIndex) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, "a leader appends at the end");
    this.entries.push(entry);
  }

  /**
   * The AppendEntries consistency check and merge (Figure 2, receiver steps 2–4): if the log
   * holds (prevIndex, prevTerm), drop any conflicting suffix, add what is new, and return the
   * last index now known to match the leader; otherwise null.
   */
  tryAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    for (const entry of entries) {
      if (entry.index <= this.snapshotIndex) continue;
      const existing = this.termAt(entry.index);
      if (existing === entry.term) continue;
      if (existing !== null) this.truncateFrom(entry.index);
      this.entries.push(entry);
    }
    return prevIndex + entries.length;
  }

  private truncateFrom(index: number): void {
    // A committed entry is on a majority and in every future leader's log: a leader asking to
    // overwrite it means our own bug, not the peer's.
    assert(index > this.committed, `a conflict at ${index} would drop committed entries`);
    this.entries.length = index - this.snapshotIndex - 1;
    this.stableIndex = Math.min(this.stableIndex, index - 1);
  }

  /**
   * Where a leader should retry after `prevIndex` failed to match: our last index if we are
   * shorter, else just before the first entry of the conflicting term (thesis §5.3's
   * optimization), never below the commit index, which is known to match.
   */
  conflictHint(prevIndex: number): number {
    if (prevIndex > this.lastIndex()) return this.lastIndex();
    const conflictTerm = this.termAt(prevIndex);
    let index = prevIndex;
    while (index - 1 > this.committed && this.termAt(index - 1) === conflictTerm) index -= 1;
    return Math.max(this.committed, index - 1);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} is beyond the last index`);
    this.committed = index;
  }

  /** Entries still to persist, and those committed but not applied. */
  unstableEntries(): Entry[] {
    return this.slice(this.stableIndex + 1, this.lastIndex());
  }

  entriesToApply(): Entry[] {
    return this.slice(this.applied + 1, this.committed);
  }

  /** Replaces the whole log with a snapshot from the leader (it is ahead of everything here). */
  restoreSnapshot(snapshot: Snapshot): void {
    this.snapshotIndex = snapshot.index;
    this.snapshotTerm = snapshot.term;
    this.entries = [];
    this.stableIndex = snapshot.index;
    this.committed = snapshot.index;
    this.applied = snapshot.index;
    this.snapshot = snapshot;
    this.pendingSnapshot = snapshot;
  }

  /** Folds entries up to `index` (applied here) into `data`, keeping the tail. */
  compact(index: number, data: Uint8Array, membership: Membership): void {
    assert(index <= this.applied, `compact ${index} beyond applied ${this.applied}`);
    if (index <= this.snapshotIndex) return;
    const term = this.termAt(index);
    assert(term !== null, "an applied index has a term");
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.stableIndex = Math.max(this.stableIndex, index);
    this.snapshot = { index, term, data, membership };
    this.pendingSnapshot = this.snapshot;
  }
}
