/**
 * The one loop every Raft driver runs, the directory's real node and every simulator alike: for
 * each Ready, first make it durable (entries, hard state, snapshot, and the committed entries
 * applied in that same durable step), then send its messages, then advance. Sending before the
 * disk has the entries would let a peer count a vote or an append this node could forget in a
 * crash; advancing before sending would let the next Ready overtake this one's messages.
 */

import type { RaftNode } from "./node.ts";
import type { RaftMessage, Ready } from "./types.ts";

export interface ReadySteps<T> {
  /** Persists the Ready and applies its committed entries; answers what applying them said. */
  persist(ready: Ready): T;
  send(messages: readonly RaftMessage[]): void;
  /** After advance(): the driver's bookkeeping (who was answered, what changed). */
  advanced(ready: Ready, applied: T): void;
}

/** Drives `node` until it has nothing more to hand out; answers how many Readies it took. */
export function driveReadies<T>(node: RaftNode, steps: ReadySteps<T>): number {
  let count = 0;
  while (node.hasReady()) {
    const ready = node.ready();
    const applied = steps.persist(ready);
    steps.send(ready.messages);
    node.advance(ready);
    steps.advanced(ready, applied);
    count += 1;
  }
  return count;
}
