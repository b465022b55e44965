/**
 * Issue 20's chaos figure: while a storage group's primary is isolated from its peers, how long
 * did that group's clients go without a completed operation? An op is on a group when one of
 * its chunks ranks that group first (rendezvous over the cluster's groups: where the chunk goes
 * when every group answers), reads and writes alike; it completes when it is acknowledged. A
 * write that hedged its chunk onto another group still counts: that is how a client gets past
 * a silent primary. The gap runs from the isolation to the first completion, between
 * completions, and from the last one to the heal. Owns the figure's rule and its bound; the
 * workload says which ops touched which group, the run says when faults began and ended.
 */

import { pickGroup } from "@ftfs/client";
import { sha256Hex } from "@ftfs/protocol/io";
import { isWrite, type Op } from "@ftfs/protocol/testing/history";

/** Issue 20's aim: an isolated storage primary's group never waits longer than this. */
export const ISOLATED_PRIMARY_GAP_MS_MAX = 1_500;

/** One isolated storage primary, as the run saw it (times on the history's clock). */
export interface IsolatedPrimary {
  readonly label: string;
  readonly group: string;
  readonly fromMs: number;
  readonly toMs: number;
}

export interface GroupGap extends IsolatedPrimary {
  /** The longest time without a completed op on the group, within [fromMs, toMs]. */
  readonly gapMs: number;
  /** Ops on the group completed within the window. */
  readonly completed: number;
  /** The same for writes (uploads, updates) alone: reads can go to a backup, writes cannot. */
  readonly writeGapMs: number;
  readonly writesCompleted: number;
}

/** The groups whose chunks `bytes` holds, split as the client splits them. */
export function groupsOfBytes(
  bytes: Uint8Array,
  chunkBytes: number,
  groups: readonly string[],
): string[] {
  const found = new Set<string>();
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    const group = pickGroup(sha256Hex(bytes.subarray(offset, offset + chunkBytes)), groups);
    if (group !== null) found.add(group);
  }
  return [...found];
}

/** The longest stretch of [fromMs, toMs] with none of `completionsMs` inside it. */
export function longestGapMs(
  completionsMs: readonly number[],
  fromMs: number,
  toMs: number,
): number {
  const inside = completionsMs.filter((t) => t >= fromMs && t <= toMs).sort((a, b) => a - b);
  let longest = 0;
  let previous = fromMs;
  for (const t of [...inside, toMs]) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return longest;
}

/** Each isolation's gap, from the history and the groups each op touched. */
export function groupGaps(
  isolations: readonly IsolatedPrimary[],
  ops: readonly Op[],
  groupsOf: (opId: number) => readonly string[],
): GroupGap[] {
  return isolations.map((isolation) => {
    const { fromMs, toMs } = isolation;
    const completionsMs = (pick: (op: Op) => boolean): number[] =>
      ops.flatMap((op) =>
        op.status === "ok" &&
        op.endMs !== null &&
        pick(op) &&
        groupsOf(op.id).includes(isolation.group)
          ? [op.endMs]
          : [],
      );
    const all = completionsMs(() => true);
    const writes = completionsMs(isWrite);
    const inWindow = (times: number[]): number =>
      times.filter((t) => t >= fromMs && t <= toMs).length;
    return {
      ...isolation,
      gapMs: longestGapMs(all, fromMs, toMs),
      completed: inWindow(all),
      writeGapMs: longestGapMs(writes, fromMs, toMs),
      writesCompleted: inWindow(writes),
    };
  });
}

export function describeGap(gap: GroupGap): string {
  const verdict = gap.gapMs <= ISOLATED_PRIMARY_GAP_MS_MAX ? "within" : "OVER";
  return (
    `${gap.label} (primary of ${gap.group}, ${((gap.toMs - gap.fromMs) / 1000).toFixed(1)} s): ` +
    `longest gap between completed ops on ${gap.group} ${(gap.gapMs / 1000).toFixed(2)} s ` +
    `(${gap.completed} completed; ${verdict} the ${ISOLATED_PRIMARY_GAP_MS_MAX / 1000} s aim); ` +
    `writes alone ${(gap.writeGapMs / 1000).toFixed(2)} s (${gap.writesCompleted} completed)`
  );
}
