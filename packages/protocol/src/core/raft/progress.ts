/**
 * What a leader knows about one follower's log (Raft's nextIndex/matchIndex) and how it may
 * send to it: probing one append at a time after a rejection, streaming up to a bounded window
 * once an append matched, or waiting on a snapshot. Pure bookkeeping, no messages.
 */

import { assert } from "../assert.ts";
import { RAFT_INFLIGHT_APPENDS_MAX } from "./types.ts";

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** In probe state, an append is out and we wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Leader ticks since this follower last answered anything (it answers every heartbeat). */
  ticksSinceHeard = Number.POSITIVE_INFINITY;
  /** The newest read-index round this follower confirmed. */
  readSeqAcked = 0;
  /** Last indexes of appends in flight, oldest first; at most RAFT_INFLIGHT_APPENDS_MAX. */
  private readonly inflight: number[] = [];

  constructor(next: number) {
    this.next = next;
  }

  /** May the leader send another append now? */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflight.length >= RAFT_INFLIGHT_APPENDS_MAX;
      case "snapshot":
        return true;
    }
  }

  /** Records an append carrying entries up to `lastIndex` as sent. */
  sent(lastIndex: number, entryCount: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
      return;
    }
    this.probeSent = true;
  }

  /** An append up to `index` matched: true if that told us something new. */
  matched(index: number): boolean {
    this.probeSent = false;
    while (this.inflight.length > 0 && (this.inflight[0] ?? 0) <= index) this.inflight.shift();
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    return true;
  }

  /**
   * An append after `rejectedIndex` did not match; retry from the follower's hint. Stale
   * rejections (of appends sent before an earlier success or retry) are ignored: false.
   */
  rejected(rejectedIndex: number, hintIndex: number): boolean {
    if (hintIndex < this.match && rejectedIndex > hintIndex && rejectedIndex >= this.match) {
      // Its log now ends before what it acknowledged: the follower lost its disk (a wiped
      // folder under the same id). Start over from what it holds, or the leader would retry
      // the same append forever. Its vote is the admission rule's business, not this one's.
      this.match = hintIndex;
      this.next = hintIndex + 1;
      this.becomeProbe();
      return true;
    }
    if (this.state === "replicate") {
      if (rejectedIndex <= this.match) return false;
    } else if (rejectedIndex !== this.next - 1) {
      return false;
    }
    this.next = Math.max(this.match + 1, Math.min(rejectedIndex, hintIndex + 1));
    this.becomeProbe();
    return true;
  }

  becomeProbe(): void {
    this.state = "probe";
    this.probeSent = false;
    this.inflight.length = 0;
    this.next = Math.max(this.next, this.match + 1);
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.probeSent = false;
    this.inflight.length = 0;
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    assert(snapshotIndex >= this.match, "a snapshot never moves a follower back");
    this.state = "snapshot";
    this.inflight.length = 0;
    this.next = snapshotIndex + 1;
  }
}
