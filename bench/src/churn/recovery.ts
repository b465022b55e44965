/**
 * Time to full replication after each return of a storage node (restart, join, resume): from
 * the moment the node came back until the cluster's status, as `ftfs status` reads it, first
 * showed its group whole (a primary, every replica in sync, no learner: isGroupWhole). Pure:
 * churn records and status observations in, one recovery per return out; the polling is
 * recovery-watch.ts's.
 */

import type { ChurnRecord } from "./churn.ts";
import { isUndo, type ChurnAction } from "./schedule.ts";

const MS_PER_S = 1000;

/** One answer of the cluster's status, timed from the load's start. */
export interface WholeObservation {
  readonly sentAtMs: number;
  readonly answeredAtMs: number;
  /** Group → whole, for every group the status named. */
  readonly whole: Readonly<Record<string, boolean>>;
}

/** A storage node coming back, and when the fault it undoes was played. */
export interface StorageReturn {
  readonly node: string;
  readonly group: string;
  readonly action: ChurnAction;
  readonly atMs: number;
  /** Null when the schedule had no fault on that target before (a bare restart). */
  readonly faultAtMs: number | null;
}

export interface Recovery {
  readonly group: string;
  readonly node: string;
  readonly action: ChurnAction;
  /** Seconds after the load's start the node came back. */
  readonly atS: number;
  /** Seconds from the return to the first status showing the group whole; null: not by the end. */
  readonly wholeAfterS: number | null;
  /**
   * Whether any status from the fault on showed the group not whole. False with a time means
   * the directory never saw the group short (a pause shorter than its detection): the time is
   * then only how soon the first status answered, not a catch-up.
   */
  readonly degradedSeen: boolean;
}

/** Each undo of the schedule that hit a storage node, paired with the fault it undoes. */
export function storageReturns(records: readonly ChurnRecord[]): StorageReturn[] {
  const faultAtMs = new Map<string, number>();
  const returns: StorageReturn[] = [];
  for (const record of records) {
    if (record.node === null) continue;
    if (!isUndo(record.action)) {
      faultAtMs.set(record.target, record.atMs);
      continue;
    }
    if (record.group === null) continue;
    returns.push({
      node: record.node,
      group: record.group,
      action: record.action,
      atMs: record.atMs,
      faultAtMs: faultAtMs.get(record.target) ?? null,
    });
    faultAtMs.delete(record.target);
  }
  return returns;
}

/**
 * Only statuses asked after the return count: one sent before it may describe the group as it
 * was before the node came back. The time runs to when the whole answer arrived, which is
 * when an operator polling `ftfs status` would have seen it.
 */
export function measureRecoveries(
  returns: readonly StorageReturn[],
  observations: readonly WholeObservation[],
): Recovery[] {
  const ordered = [...observations].sort((a, b) => a.sentAtMs - b.sentAtMs);
  return returns.map((back) => {
    const whole = ordered.find(
      (seen) => seen.sentAtMs >= back.atMs && seen.whole[back.group] === true,
    );
    const fromMs = back.faultAtMs ?? back.atMs;
    const untilMs = whole?.answeredAtMs ?? Number.POSITIVE_INFINITY;
    const degradedSeen = ordered.some(
      (seen) =>
        seen.sentAtMs >= fromMs && seen.answeredAtMs <= untilMs && seen.whole[back.group] === false,
    );
    return {
      group: back.group,
      node: back.node,
      action: back.action,
      atS: back.atMs / MS_PER_S,
      wholeAfterS: whole === undefined ? null : (whole.answeredAtMs - back.atMs) / MS_PER_S,
      degradedSeen,
    };
  });
}

/** "s1  s1a  restart at 7.0 s  whole after 2.4 s", one line per return. */
export function formatRecoveries(list: readonly Recovery[]): string[] {
  if (list.length === 0) return [];
  const rows = list.map((recovery) => {
    const when = `${recovery.action} at ${recovery.atS.toFixed(1)} s`;
    const outcome =
      recovery.wholeAfterS === null
        ? "not whole by end of run"
        : `whole after ${recovery.wholeAfterS.toFixed(1)} s` +
          (recovery.degradedSeen ? "" : " (never seen degraded)");
    return [recovery.group, recovery.node, when, outcome] as const;
  });
  const width = (column: 0 | 1 | 2): number => Math.max(...rows.map((row) => row[column].length));
  return [
    "time to whole after a storage node came back (ftfs status: a primary, every replica " +
      "in sync, no learner):",
    ...rows.map(
      (row) =>
        `  ${row[0].padEnd(width(0))}  ${row[1].padEnd(width(1))}  ` +
        `${row[2].padEnd(width(2))}  ${row[3]}`,
    ),
  ];
}
